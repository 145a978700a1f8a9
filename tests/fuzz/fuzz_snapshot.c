/* Fuzz target for a lane's snapshot loading: the bytes of a snapshot, from the disk or from
 * the primary, to the key-value state, the way dataplane/lane/snap.c drives the log and the
 * loader (chunk by chunk, the loader fed as the chunks come).
 *
 * The first byte picks what the rest is:
 *   bit 0 clear  a snapshot FILE, snap-<index>.snap in an otherwise empty lane directory on a
 *                simulated disk; with bit 1 set its header, chunk and trailer checksums are
 *                resealed first, so that the fields behind them get explored. A log is opened
 *                there: it succeeds, or fails with -EBADMSG (naming the file and a reason) or
 *                -EPROTO, and nothing else. With a snapshot, its chunks are read in order and
 *                fed to the loader as the lane does at start: a chunk fails its checksum
 *                (-EBADMSG), or the loader refuses the stream (-EBADMSG), or the db loads.
 *   bit 0 set    a key-value snapshot STREAM, installed as a follower installs one from the
 *                primary: in pieces whose sizes come from the first byte, written to the log
 *                and fed to the loader alongside; a piece the loader refuses aborts the
 *                install. A stream the loader accepts is installed durably, and a restart (a
 *                second open of the log) must find it and load it, from the disk, to a db of
 *                the same size.
 * Every db that loads snapshots and reloads to the same size. ASan/LSan watch for reads out
 * of bounds and for anything the log or the loader leaks on any path. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc.h"
#include "base/log.h"
#include "kv/kv.h"
#include "log/log.h"
#include "sim/disk.h"
#include "fuzz.h"

#define FUZZ_DIR "/d/lane-001"
#define FUZZ_SNAP_PATH FUZZ_DIR "/snap-0000000000000064.snap" /* index 100 */
#define FUZZ_INSTALL_INDEX 100u
#define FUZZ_INSTALL_EPOCH 3u
#define FUZZ_SEGMENT_BYTES (20u * 1024) /* about the smallest the log takes: quick opens */
/* The snapshot file's layout (dataplane/log/snapshot.c): a header, chunks of a length and a
 * checksum then the data, a trailer. Only the reseal step needs it. */
#define FUZZ_SNAP_HEADER_BYTES 64u
#define FUZZ_SNAP_TRAILER_BYTES 32u
#define FUZZ_SNAP_CHUNK_HEADER_BYTES 8u
#define FUZZ_MODE_STREAM 0x01
#define FUZZ_MODE_RESEAL 0x02

#define FUZZ_CHECK(cond)                                                               \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "fuzz_snapshot: invariant failed: %s (line %d)\n", \
				#cond, __LINE__);                                      \
			abort();                                                       \
		}                                                                      \
	} while (0)

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Rewrites the checksums of a snapshot file so that they match whatever the fields say. */
static void fuzz_reseal(uint8_t *f, size_t size)
{
	if (size < FUZZ_SNAP_HEADER_BYTES + FUZZ_SNAP_TRAILER_BYTES)
		return;
	put_le32(f + 60, crc32c(f, 60));
	uint8_t *tr = f + size - FUZZ_SNAP_TRAILER_BYTES;
	put_le32(tr + 28, crc32c(tr, 28));
	size_t end = size - FUZZ_SNAP_TRAILER_BYTES;
	uint64_t chunk_no = 0;
	for (size_t off = FUZZ_SNAP_HEADER_BYTES; off + FUZZ_SNAP_CHUNK_HEADER_BYTES <= end;
	     off += FUZZ_SNAP_CHUNK_HEADER_BYTES + LOG_SNAP_CHUNK_BYTES, chunk_no++) {
		size_t room = end - off - FUZZ_SNAP_CHUNK_HEADER_BYTES;
		uint32_t len = get_le32(f + off);
		if (len > room)
			len = (uint32_t)room;
		uint8_t no[8];
		for (int i = 0; i < 8; i++)
			no[i] = (uint8_t)(chunk_no >> (8 * i));
		put_le32(f + off + 4, crc32c_extend(crc32c(no, 8), f + off + 8, len));
	}
}

struct fuzz_open {
	bool done;
	int err;
	struct log_recovery rec;
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
	(void)ctx;
	(void)index;
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
	sim_disk_run(d);
	FUZZ_CHECK(o->done);
	return log;
}

static void fuzz_closed(void *arg)
{
	*(bool *)arg = true;
}

static void fuzz_log_close(struct log *log, struct sim_disk *d)
{
	bool closed = false;
	log_close(log, fuzz_closed, &closed);
	sim_disk_run(d);
	FUZZ_CHECK(closed);
	log_destroy(log);
}

struct fuzz_read {
	struct log_snap_read rd;
	bool done;
	int res;
	uint8_t buf[LOG_SNAP_READ_BUF_BYTES];
};

static void fuzz_read_cb(struct log_snap_read *rd, int res)
{
	struct fuzz_read *r = (struct fuzz_read *)rd;
	r->done = true;
	r->res = res;
}

/* Loads the log's snapshot as a lane does at start: the db, or NULL with *err set. */
static struct kv_db *fuzz_load(struct log *log, struct sim_disk *d,
			       const struct log_recovery *rec, int *err)
{
	struct kv_snapshot_loader *ld = kv_snapshot_load_begin(0);
	FUZZ_CHECK(ld != NULL);
	struct fuzz_read *r = calloc(1, sizeof(*r));
	FUZZ_CHECK(r != NULL);
	uint64_t offset = 0;
	*err = 0;
	for (;;) {
		r->rd = (struct log_snap_read){ .index = rec->snapshot_index, .offset = offset,
						.buf = r->buf, .cb = fuzz_read_cb };
		r->done = false;
		int rc = log_snapshot_read(log, &r->rd);
		if (rc != 0) { /* only an empty stream has no first chunk */
			FUZZ_CHECK(rc == -ENODATA && offset == 0 && rec->snapshot_bytes == 0);
			*err = rc;
			break;
		}
		sim_disk_run(d);
		FUZZ_CHECK(r->done);
		if (r->res < 0) {
			FUZZ_CHECK(r->res == -EBADMSG);
			*err = r->res;
			break;
		}
		FUZZ_CHECK(r->res > 0 && (uint32_t)r->res <= LOG_SNAP_CHUNK_BYTES);
		FUZZ_CHECK(offset + (uint64_t)r->res <= rec->snapshot_bytes);
		rc = kv_snapshot_load_feed(ld, r->buf, (size_t)r->res);
		if (rc != 0) {
			FUZZ_CHECK(rc == -EBADMSG);
			*err = rc;
			break;
		}
		offset += (uint64_t)r->res;
		if ((uint32_t)r->res < LOG_SNAP_CHUNK_BYTES || offset >= rec->snapshot_bytes)
			break;
	}
	free(r);
	if (*err != 0) {
		kv_snapshot_load_abort(ld);
		return NULL;
	}
	FUZZ_CHECK(offset == rec->snapshot_bytes);
	struct kv_db *db = kv_snapshot_load_end(ld, err);
	FUZZ_CHECK((db == NULL) == (*err != 0));
	FUZZ_CHECK(db != NULL || *err == -EBADMSG);
	return db;
}

/* A db snapshotted and loaded back: its size. */
static uint64_t fuzz_reload_size(struct kv_db *db)
{
	struct kv_snapshot *snap = kv_snapshot_begin(db);
	struct kv_snapshot_loader *ld = kv_snapshot_load_begin(0);
	FUZZ_CHECK(snap != NULL && ld != NULL);
	uint8_t buf[4096];
	while (!kv_snapshot_done(snap)) {
		size_t n = kv_snapshot_next(snap, buf, sizeof(buf));
		FUZZ_CHECK(kv_snapshot_load_feed(ld, buf, n) == 0);
	}
	FUZZ_CHECK(kv_snapshot_error(snap) == 0);
	kv_snapshot_end(snap);
	int err;
	struct kv_db *copy = kv_snapshot_load_end(ld, &err);
	FUZZ_CHECK(copy != NULL && err == 0);
	uint64_t size = kv_db_size(copy);
	kv_db_destroy(copy);
	return size;
}

static struct sim_disk *fuzz_disk(size_t seed)
{
	struct sim_disk_config dc = { .seed = seed };
	struct sim_disk *d = sim_disk_create(&dc);
	FUZZ_CHECK(d != NULL);
	FUZZ_CHECK(sim_disk_mkdir(d, "/d") == 0 && sim_disk_mkdir(d, FUZZ_DIR) == 0);
	return d;
}

static void fuzz_file(const uint8_t *data, size_t size, bool reseal)
{
	struct sim_disk *d = fuzz_disk(size);
	uint8_t *f = malloc(size ? size : 1);
	FUZZ_CHECK(f != NULL);
	memcpy(f, data, size);
	if (reseal)
		fuzz_reseal(f, size);
	FUZZ_CHECK(sim_disk_file_write(d, FUZZ_SNAP_PATH, 0, f, size) == (int)size);
	free(f);
	struct fuzz_open o;
	struct log *log = fuzz_log_open(d, &o);
	FUZZ_CHECK(o.err == 0 || o.err == -EBADMSG || o.err == -EPROTO);
	if (o.err == -EBADMSG)
		FUZZ_CHECK(o.rec.corruption.path[0] && o.rec.corruption.reason[0]);
	if (o.err != 0) {
		log_destroy(log);
		sim_disk_destroy(d);
		return;
	}
	if (o.rec.snapshot_index != 0 || o.rec.snapshot_bytes != 0) {
		int err;
		struct kv_db *db = fuzz_load(log, d, &o.rec, &err);
		if (db != NULL) {
			FUZZ_CHECK(fuzz_reload_size(db) == kv_db_size(db));
			kv_db_destroy(db);
		}
	}
	fuzz_log_close(log, d);
	sim_disk_destroy(d);
}

struct fuzz_installed {
	bool done;
	int err;
};

static void fuzz_installed_cb(void *arg, int err, const struct log_snapshot_info *info)
{
	(void)info;
	struct fuzz_installed *in = arg;
	in->done = true;
	in->err = err;
}

/* Offers one piece to the log as the lane does, again after the disk moved on if the chunk
 * buffers are busy. */
static void fuzz_install_write(struct log *log, struct sim_disk *d, uint64_t offset,
			       const uint8_t *p, size_t n)
{
	int rc;
	while ((rc = log_snapshot_install_write(log, offset, p, n)) == -EAGAIN)
		FUZZ_CHECK(sim_disk_step(d));
	FUZZ_CHECK(rc == 0);
}

/* Feeds the stream to the log and the loader in pieces; the db, or NULL if refused. */
static struct kv_db *fuzz_install_feed(struct log *log, struct sim_disk *d, uint8_t how,
				       const uint8_t *data, size_t size)
{
	struct kv_snapshot_loader *ld = kv_snapshot_load_begin(0);
	FUZZ_CHECK(ld != NULL);
	FUZZ_CHECK(log_snapshot_install_begin(log, FUZZ_INSTALL_EPOCH, FUZZ_INSTALL_INDEX) == 0);
	size_t step = 1 + (size_t)(how >> 2) * 97, pos = 0;
	int rc = 0;
	while (pos < size && rc == 0) {
		size_t n = size - pos < step ? size - pos : step;
		fuzz_install_write(log, d, pos, data + pos, n);
		rc = kv_snapshot_load_feed(ld, data + pos, n);
		FUZZ_CHECK(rc == 0 || rc == -EBADMSG);
		pos += n;
		step = 1 + (step * 7 + 3) % 4099;
	}
	int err = rc;
	struct kv_db *db = NULL;
	if (rc == 0) {
		struct fuzz_installed in = { 0 };
		FUZZ_CHECK(log_snapshot_install_finish(log, fuzz_installed_cb, &in) == 0);
		sim_disk_run(d);
		FUZZ_CHECK(in.done && in.err == 0);
		db = kv_snapshot_load_end(ld, &err);
		FUZZ_CHECK((db == NULL) == (err != 0));
		FUZZ_CHECK(db != NULL || err == -EBADMSG);
	} else {
		kv_snapshot_load_abort(ld);
		log_snapshot_install_abort(log);
		sim_disk_run(d);
	}
	return db;
}

static void fuzz_stream(uint8_t how, const uint8_t *data, size_t size)
{
	struct sim_disk *d = fuzz_disk(size);
	struct fuzz_open o;
	struct log *log = fuzz_log_open(d, &o);
	FUZZ_CHECK(o.err == 0);
	struct kv_db *db = fuzz_install_feed(log, d, how, data, size);
	fuzz_log_close(log, d);
	if (db != NULL) {
		/* A restart finds the installed snapshot and loads the same state from it. */
		uint64_t size_db = kv_db_size(db);
		FUZZ_CHECK(fuzz_reload_size(db) == size_db);
		kv_db_destroy(db);
		log = fuzz_log_open(d, &o);
		FUZZ_CHECK(o.err == 0);
		FUZZ_CHECK(o.rec.snapshot_index == FUZZ_INSTALL_INDEX &&
			   o.rec.snapshot_epoch == FUZZ_INSTALL_EPOCH && o.rec.snapshot_bytes == size);
		int err;
		db = fuzz_load(log, d, &o.rec, &err);
		FUZZ_CHECK(db != NULL && kv_db_size(db) == size_db);
		kv_db_destroy(db);
		fuzz_log_close(log, d);
	}
	sim_disk_destroy(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_level_min = LOG_LEVEL_ERROR + 1;
	if (size == 0)
		return 0;
	if (data[0] & FUZZ_MODE_STREAM)
		fuzz_stream(data[0], data + 1, size - 1);
	else
		fuzz_file(data + 1, size - 1, data[0] & FUZZ_MODE_RESEAL);
	return 0;
}
