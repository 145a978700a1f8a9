/* Fuzz target for the log's record decoder, and for recovery reading a damaged segment.
 *
 * Stage 1 decodes the input at every 8-byte offset (as recovery's tail scan does) from a
 * buffer of exactly the input's size, so that ASan catches any read past it. Invariants: a
 * record decoded as sound fits in the buffer, its body lies inside it, its kind and length
 * are legal, the header-only decoder agrees, and encoding it again gives the same bytes.
 *
 * Stage 2 puts the input, as the records of a segment, behind a valid segment header on a
 * simulated disk (a copy of what a real log's first open left, taken once per process) and
 * opens a log there. Invariants: the open either succeeds or fails with
 * -EBADMSG (damage before the tail, with a file and a reason) and nothing else; after a
 * successful open, every entry reads back with its epoch, the log takes and flushes one
 * more entry, and a second open finds the same entries. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "log/log.h"
#include "log/record.h"
#include "sim/disk.h"
#include "fuzz.h"

#define FUZZ_DIR "/d/lane-001"
/* About the smallest segment the log takes with 4 KiB entries: room behind the header for
 * the largest input (fuzz-ci's -max_len=8192) and one more entry, and a short tail to scan. */
#define FUZZ_SEGMENT_BYTES (20u * 1024)
#define FUZZ_HEADER_BYTES 4096u
#define FUZZ_TEMPLATE_FILES_MAX 8

#define FUZZ_CHECK(cond)                                                             \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "fuzz_log_record: invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                                    \
			abort();                                                     \
		}                                                                    \
	} while (0)

static void fuzz_decode_everywhere(const uint8_t *buf, size_t size)
{
	static uint8_t again[LOG_RECORD_HEADER_BYTES + 70000];
	for (size_t off = 0; off < size; off += LOG_RECORD_ALIGN_BYTES) {
		struct log_record rec, hdr;
		uint32_t used = 0;
		enum log_record_status st = log_record_decode(buf + off, size - off, &rec, &used);
		enum log_record_status hs = log_record_decode_header(buf + off, size - off, &hdr);
		if (st != LOG_RECORD_OK) {
			FUZZ_CHECK(st == LOG_RECORD_ZERO || st == LOG_RECORD_SHORT ||
				   st == LOG_RECORD_BAD_HEADER || st == LOG_RECORD_BAD_BODY);
			FUZZ_CHECK(st != LOG_RECORD_BAD_BODY || hs == LOG_RECORD_OK);
			continue;
		}
		FUZZ_CHECK(hs == LOG_RECORD_OK);
		FUZZ_CHECK(used == log_record_bytes(rec.len) && used <= size - off);
		FUZZ_CHECK(rec.body == buf + off + LOG_RECORD_HEADER_BYTES);
		FUZZ_CHECK(rec.kind >= LOG_RECORD_ENTRY && rec.kind <= LOG_RECORD_RESET);
		FUZZ_CHECK(rec.kind == LOG_RECORD_ENTRY || rec.len == 0);
		if (used > sizeof(again))
			continue;
		FUZZ_CHECK(log_record_encode(again, &rec) == used);
		FUZZ_CHECK(memcmp(again, buf + off, LOG_RECORD_HEADER_BYTES + rec.len) == 0);
	}
}

struct fuzz_open {
	bool done;
	int err;
	struct log_recovery rec;
	uint64_t durable;
};

static void fuzz_open_cb(void *arg, struct log *log, int err, const struct log_recovery *rec)
{
	struct fuzz_open *o = arg;
	(void)log;
	o->done = true;
	o->err = err;
	o->rec = *rec;
}

static void fuzz_durable(void *ctx, uint64_t index)
{
	((struct fuzz_open *)ctx)->durable = index;
}

static struct log *fuzz_log_open(struct sim_disk *d, struct fuzz_open *o)
{
	struct log_config cfg = { .dir = FUZZ_DIR, .lane = 1, .segment_bytes = FUZZ_SEGMENT_BYTES,
				  .entry_bytes_max = 4096, .write_buf_bytes = 16384,
				  .read_bytes_max = 8192 };
	struct log_callbacks cbs = { .durable = fuzz_durable, .ctx = o };
	memset(o, 0, sizeof(*o));
	struct log *log = log_open(&cfg, sim_disk_io(d), &cbs, fuzz_open_cb, o);
	FUZZ_CHECK(log != NULL);
	while (!o->done && sim_disk_step(d))
		;
	FUZZ_CHECK(o->done);
	sim_disk_run(d);
	return log;
}

struct fuzz_read {
	struct log_read rd;
	bool done;
	int err;
	uint64_t next;
};

static void fuzz_read_cb(struct log_read *rd, int err, const struct log_entry *e, uint32_t n)
{
	struct fuzz_read *r = (struct fuzz_read *)rd;
	r->done = true;
	r->err = err;
	for (uint32_t i = 0; i < n; i++) {
		FUZZ_CHECK(e[i].index == r->next);
		r->next++;
	}
}

/* Every entry the open reported reads back, in order. */
static void fuzz_read_all(struct log *log, struct sim_disk *d)
{
	struct fuzz_read r = { .next = log_first_index(log) };
	while (r.next <= log_durable_index(log)) {
		r.rd = (struct log_read){ .from_index = r.next, .budget_bytes = 4096,
					  .cb = fuzz_read_cb };
		r.done = false;
		FUZZ_CHECK(log_read(log, &r.rd) == 0);
		sim_disk_run(d);
		FUZZ_CHECK(r.done && r.err == 0);
	}
}

static void fuzz_closed(void *arg)
{
	*(bool *)arg = true;
}

/* What a log's first open leaves in an empty lane directory (its segments, each with a sound
 * header), read from a real open once per process: every input starts from a copy of it
 * instead of opening a log for it. */
struct fuzz_template_file {
	char path[LOG_PATH_MAX];
	uint8_t *bytes;
	uint64_t size;
};

static struct fuzz_template_file fuzz_template[FUZZ_TEMPLATE_FILES_MAX];
static uint32_t fuzz_template_count;

static void fuzz_listed(struct log_disk_io *io, int res)
{
	(void)io;
	FUZZ_CHECK(res == 0);
}

static void fuzz_template_capture(void)
{
	struct sim_disk_config dc = { .seed = 1 };
	struct sim_disk *d = sim_disk_create(&dc);
	FUZZ_CHECK(sim_disk_mkdir(d, "/d") == 0 && sim_disk_mkdir(d, FUZZ_DIR) == 0);
	struct fuzz_open o;
	struct log *log = fuzz_log_open(d, &o);
	FUZZ_CHECK(o.err == 0);
	log_destroy(log); /* the disk keeps what the open wrote */
	sim_disk_crash(d);
	static char names[FUZZ_TEMPLATE_FILES_MAX + 1][LOG_DISK_NAME_MAX];
	struct log_disk_names list = { .names = names, .cap = FUZZ_TEMPLATE_FILES_MAX + 1 };
	struct log_disk_io io = { .cb = fuzz_listed };
	struct log_disk *disk = sim_disk_io(d);
	disk->ops->list(disk, &io, FUZZ_DIR, &list);
	sim_disk_run(d);
	FUZZ_CHECK(!list.truncated && list.count > 0 && list.count <= FUZZ_TEMPLATE_FILES_MAX);
	for (uint32_t i = 0; i < list.count; i++) {
		struct fuzz_template_file *f = &fuzz_template[i];
		FUZZ_CHECK(strlen(names[i]) < sizeof(f->path) - sizeof(FUZZ_DIR));
		snprintf(f->path, sizeof(f->path), FUZZ_DIR "/%.*s", LOG_DISK_NAME_MAX - 1,
			 names[i]);
		FUZZ_CHECK(sim_disk_file_size(d, f->path, &f->size) == 0);
		f->bytes = malloc(f->size ? f->size : 1);
		FUZZ_CHECK(f->bytes != NULL);
		FUZZ_CHECK(sim_disk_file_read(d, f->path, 0, f->bytes, f->size) == (int)f->size);
	}
	fuzz_template_count = list.count;
	sim_disk_destroy(d);
}

/* A disk holding what the first open of a log left, durably. */
static struct sim_disk *fuzz_disk_from_template(size_t seed)
{
	if (fuzz_template_count == 0)
		fuzz_template_capture();
	struct sim_disk_config dc = { .seed = seed };
	struct sim_disk *d = sim_disk_create(&dc);
	FUZZ_CHECK(sim_disk_mkdir(d, "/d") == 0 && sim_disk_mkdir(d, FUZZ_DIR) == 0);
	for (uint32_t i = 0; i < fuzz_template_count; i++) {
		const struct fuzz_template_file *f = &fuzz_template[i];
		FUZZ_CHECK(sim_disk_file_write(d, f->path, 0, f->bytes, f->size) == (int)f->size);
	}
	return d;
}

static void fuzz_recover(const uint8_t *data, size_t size)
{
	/* A sound header from a real log, then the input as the records. */
	struct sim_disk *d = fuzz_disk_from_template(size);
	struct fuzz_open o;
	const char *seg = FUZZ_DIR "/seg-0000000000000001";
	FUZZ_CHECK(sim_disk_exists(d, seg));
	size_t n = size < FUZZ_SEGMENT_BYTES - FUZZ_HEADER_BYTES ? size :
		   FUZZ_SEGMENT_BYTES - FUZZ_HEADER_BYTES;
	FUZZ_CHECK(sim_disk_file_write(d, seg, FUZZ_HEADER_BYTES, data, n) == (int)n);
	struct log *log = fuzz_log_open(d, &o);
	FUZZ_CHECK(o.err == 0 || o.err == -EBADMSG);
	if (o.err) {
		FUZZ_CHECK(o.rec.corruption.path[0] && o.rec.corruption.reason[0]);
		log_destroy(log);
		sim_disk_destroy(d);
		return;
	}
	uint64_t last = log_last_index(log);
	fuzz_read_all(log, d);
	struct log_entry e = { .epoch = log_last_epoch(log), .index = last + 1, .data = "x",
			       .len = 1 };
	FUZZ_CHECK(log_append(log, &e) == 0);
	FUZZ_CHECK(log_flush(log) == 0);
	sim_disk_run(d);
	FUZZ_CHECK(o.durable == last + 1);
	bool closed = false;
	log_close(log, fuzz_closed, &closed);
	sim_disk_run(d);
	FUZZ_CHECK(closed);
	log_destroy(log);
	log = fuzz_log_open(d, &o);
	FUZZ_CHECK(o.err == 0 && log_last_index(log) == last + 1);
	log_destroy(log);
	sim_disk_destroy(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_level_min = LOG_LEVEL_ERROR + 1;
	uint8_t *buf = malloc(size ? size : 1);
	FUZZ_CHECK(buf != NULL);
	memcpy(buf, data, size);
	fuzz_decode_everywhere(buf, size);
	free(buf);
	fuzz_recover(data, size);
	return 0;
}
