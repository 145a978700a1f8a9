/* Recovery at open: a torn tail is cut and reported (a record cut at every offset, with
 * zeros or garbage after the cut); damage before the tail stops the open with -EBADMSG,
 * the file and the offset (every byte of a header and of a body, a lost sector, a missing
 * segment); files of another lane or format are refused; leftovers are cleaned; and, the
 * heart of it, a scripted workload crashed after every single disk step (and again during
 * the recovery that follows) comes back with every acknowledged entry, exactly, and
 * nothing that was never appended. */
#include "fixture.h"

#include "base/log.h"
#include "log/record.h"

#define SEG1 FX_DIR "/seg-0000000000000001"

static void setup(struct fx *f, uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	fx_disk_new(f, seed);
}

static void teardown(struct fx *f)
{
	if (f->log)
		fx_close(f);
	sim_disk_destroy(f->disk);
}

/* Finds entry index in a segment file: its offset and on-disk size. */
static bool find_record(struct fx *f, const char *path, uint64_t index, uint64_t *off,
			uint32_t *bytes)
{
	static uint8_t buf[1 << 20];
	uint64_t size = 0;
	if (sim_disk_file_size(f->disk, path, &size) != 0)
		return false;
	size = MIN(size, (uint64_t)sizeof(buf));
	assert_int_equal(sim_disk_file_read(f->disk, path, 0, buf, size), (int)size);
	uint64_t pos = LOG_BLOCK_BYTES;
	while (pos < size) {
		struct log_record r;
		uint32_t used;
		if (log_record_decode(buf + pos, size - pos, &r, &used) != LOG_RECORD_OK)
			return false;
		if (r.kind == LOG_RECORD_ENTRY && r.index == index) {
			*off = pos;
			*bytes = used;
			return true;
		}
		pos += used;
	}
	return false;
}

/* One entry per flush, so that every record's durable_pos covers the ones before. */
static void build(struct fx *f, uint64_t seed, uint64_t n)
{
	setup(f, seed);
	assert_int_equal(fx_open(f), 0);
	for (uint64_t i = 1; i <= n; i++) {
		fx_append_range(f, 1, i, i);
		fx_flush_all(f);
	}
	fx_close(f);
}

static void test_clean_reopen_reports(void **state)
{
	(void)state;
	struct fx f;
	build(&f, 1, 20);
	assert_int_equal(fx_open(&f), 0);
	assert_false(f.rec.tail_cut);
	assert_int_equal(f.rec.first_index, 1);
	assert_int_equal(f.rec.last_index, 20);
	assert_int_equal(f.rec.last_epoch, 1);
	assert_int_equal(f.rec.snapshot_index, 0);
	assert_true(f.rec.direct_io);
	assert_true(f.rec.log_bytes > 20 * LOG_RECORD_HEADER_BYTES);
	teardown(&f);
}

/* The last record torn at every offset: the rest never landed (zeros) or is garbage. */
static void test_torn_last_record_every_offset(void **state)
{
	(void)state;
	for (int garbage = 0; garbage < 2; garbage++) {
		struct fx f;
		build(&f, 2, 12);
		uint64_t off;
		uint32_t bytes;
		assert_true(find_record(&f, SEG1, 12, &off, &bytes));
		sim_disk_destroy(f.disk);
		uint32_t used = LOG_RECORD_HEADER_BYTES + fx_len(1, 12);
		for (uint32_t k = 0; k < used; k++) {
			build(&f, 2, 12);
			uint8_t fill[8192];
			memset(fill, garbage ? 0xA7 : 0, sizeof(fill));
			assert_int_equal(sim_disk_file_write(f.disk, SEG1, off + k, fill, bytes - k),
					 (int)(bytes - k));
			assert_int_equal(fx_open(&f), 0);
			assert_int_equal(log_last_index(f.log), 11);
			bool junk = garbage || k > 0;
			if (junk != f.rec.tail_cut)
				fail_msg("garbage=%d cut at %u of %u: tail_cut=%d", garbage, k, bytes,
					 f.rec.tail_cut);
			if (junk) {
				assert_int_equal(f.rec.cut.offset, off);
				assert_string_equal(f.rec.cut.path, SEG1);
			}
			assert_int_equal(fx_read_check(&f, 1, 11), 11);
			/* The log goes on from the cut, and the cut stays cut. */
			fx_append_range(&f, 2, 12, 13);
			fx_flush_all(&f);
			fx_close(&f);
			assert_int_equal(fx_open(&f), 0);
			assert_int_equal(log_last_index(f.log), 13);
			assert_false(f.rec.tail_cut);
			assert_int_equal(fx_read_check(&f, 1, 13), 13);
			teardown(&f);
		}
	}
}

static void expect_corrupt(struct fx *f, const char *path, uint64_t off)
{
	assert_int_equal(fx_open(f), -EBADMSG);
	print_message("corruption: %s@%llu: %s\n", f->rec.corruption.path,
		      (unsigned long long)f->rec.corruption.offset, f->rec.corruption.reason);
	assert_string_equal(f->rec.corruption.path, path);
	if (off != UINT64_MAX && f->rec.corruption.offset != off)
		fail_msg("corruption reported at %llu, expected %llu (%s)",
			 (unsigned long long)f->rec.corruption.offset, (unsigned long long)off,
			 f->rec.corruption.reason);
	assert_true(strlen(f->rec.corruption.reason) > 0);
}

static void test_corrupt_middle_record_every_byte(void **state)
{
	(void)state;
	struct fx f;
	build(&f, 3, 10);
	uint64_t off;
	uint32_t bytes;
	assert_true(find_record(&f, SEG1, 5, &off, &bytes));
	uint32_t len = fx_len(1, 5);
	for (uint32_t k = 0; k < LOG_RECORD_HEADER_BYTES + len; k++) {
		assert_int_equal(sim_disk_corrupt(f.disk, SEG1, off + k, 1, 0x10), 0);
		expect_corrupt(&f, SEG1, off);
		assert_int_equal(f.rec.corruption.index, 5);
		assert_int_equal(sim_disk_corrupt(f.disk, SEG1, off + k, 1, 0x10), 0);
	}
	/* Undamaged again: it opens, and nothing was lost while it refused. */
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(fx_read_check(&f, 1, 10), 10);
	teardown(&f);
}

/* A sound record where another index belongs: refused (and the half-scanned segment is
 * freed once: this crashed before, found by fuzz_log_record). */
static void test_sound_record_out_of_place(void **state)
{
	(void)state;
	struct fx f;
	build(&f, 10, 10);
	uint64_t off;
	uint32_t bytes;
	assert_true(find_record(&f, SEG1, 4, &off, &bytes));
	uint8_t rec[1024];
	assert_int_equal(sim_disk_file_read(f.disk, SEG1, off, rec, bytes), (int)bytes);
	struct log_record r;
	uint32_t used;
	assert_int_equal(log_record_decode(rec, bytes, &r, &used), LOG_RECORD_OK);
	r.index = 40;
	uint8_t body[1024];
	memcpy(body, r.body, r.len);
	r.body = body;
	assert_int_equal(log_record_encode(rec, &r), bytes);
	assert_int_equal(sim_disk_file_write(f.disk, SEG1, off, rec, bytes), (int)bytes);
	expect_corrupt(&f, SEG1, off);
	assert_int_equal(f.rec.corruption.index, 4);
	assert_non_null(strstr(f.rec.corruption.reason, "out of place"));
	teardown(&f);
}

static void test_lost_sector_in_the_middle(void **state)
{
	(void)state;
	struct fx f;
	build(&f, 4, 40);
	uint64_t off;
	uint32_t bytes;
	assert_true(find_record(&f, SEG1, 20, &off, &bytes));
	uint8_t zeros[512] = { 0 };
	uint64_t sector = off & ~511ull;
	assert_int_equal(sim_disk_file_write(f.disk, SEG1, sector, zeros, 512), 512);
	assert_int_equal(fx_open(&f), -EBADMSG);
	assert_string_equal(f.rec.corruption.path, SEG1);
	/* The first damaged record is the one reaching into the sector. */
	assert_true(f.rec.corruption.offset <= off && f.rec.corruption.offset + 4096 > sector);
	teardown(&f);
}

/* Many segments, one of them gone or damaged: the next one does not continue the log. */
static void test_missing_or_damaged_segment(void **state)
{
	(void)state;
	for (int mode = 0; mode < 3; mode++) {
		struct fx f;
		setup(&f, 5);
		assert_int_equal(fx_open(&f), 0);
		for (uint64_t i = 1; i <= 800; i += 10) {
			fx_append_range(&f, 1, i, i + 9);
			fx_flush_all(&f);
		}
		fx_close(&f);
		const char *victim = FX_DIR "/seg-0000000000000003";
		assert_true(sim_disk_exists(f.disk, victim));
		if (mode == 0) {
			assert_int_equal(sim_disk_remove(f.disk, victim), 0);
			expect_corrupt(&f, FX_DIR "/seg-0000000000000002", UINT64_MAX);
		} else if (mode == 1) {
			assert_int_equal(sim_disk_corrupt(f.disk, victim, 10, 1, 1), 0);
			expect_corrupt(&f, victim, 0);
		} else {
			/* Its BASE record damaged: the entries in it follow evidence. */
			assert_int_equal(sim_disk_corrupt(f.disk, victim, LOG_BLOCK_BYTES + 9, 1, 1),
					 0);
			expect_corrupt(&f, victim, LOG_BLOCK_BYTES);
		}
		teardown(&f);
	}
}

static void test_foreign_files(void **state)
{
	(void)state;
	struct fx f;
	build(&f, 6, 5);
	f.cfg.lane = 8;
	assert_int_equal(fx_open(&f), -EPROTO);
	f.cfg.lane = 7;
	/* A segment header claiming another format version (with a sound checksum). */
	uint8_t hdr[64];
	assert_int_equal(sim_disk_file_read(f.disk, SEG1, 0, hdr, 64), 64);
	hdr[8] = 99;
	assert_int_equal(sim_disk_file_write(f.disk, SEG1, 0, hdr, 64), 64);
	assert_int_equal(fx_open(&f), -EBADMSG); /* the checksum no longer matches */
	teardown(&f);
}

static void test_leftovers_cleaned(void **state)
{
	(void)state;
	struct fx f;
	build(&f, 7, 5);
	assert_int_equal(sim_disk_file_write(f.disk, FX_DIR "/seg-00000000000000ff.tmp", 0, "x",
					     1), 1);
	assert_int_equal(sim_disk_file_write(f.disk, FX_DIR "/snap-0000000000000003.tmp", 0, "y",
					     1), 1);
	assert_int_equal(sim_disk_file_write(f.disk, FX_DIR "/notes.txt", 0, "z", 1), 1);
	assert_int_equal(fx_open(&f), 0);
	assert_false(sim_disk_exists(f.disk, FX_DIR "/seg-00000000000000ff.tmp"));
	assert_false(sim_disk_exists(f.disk, FX_DIR "/snap-0000000000000003.tmp"));
	assert_true(sim_disk_exists(f.disk, FX_DIR "/notes.txt"));
	/* Sequence numbers continue after the highest seen, even in a leftover. */
	assert_true(sim_disk_exists(f.disk, FX_DIR "/seg-0000000000000100"));
	assert_int_equal(fx_read_check(&f, 1, 5), 5);
	teardown(&f);
}

static void test_direct_io_fallback(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof(f));
	struct sim_disk_config dc = { .seed = 8, .no_direct = true };
	f.disk = sim_disk_create(&dc);
	assert_int_equal(sim_disk_mkdir(f.disk, "/data"), 0);
	fx_config_default(&f.cfg);
	assert_int_equal(fx_open(&f), 0);
	assert_false(f.rec.direct_io);
	fx_append_range(&f, 1, 1, 30);
	fx_flush_all(&f);
	fx_close(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_false(f.rec.direct_io);
	assert_int_equal(fx_read_check(&f, 1, 30), 30);
	teardown(&f);
}

/* Entries written under a larger entry_bytes_max than the log is opened with. */
static void test_entries_larger_than_config(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 9);
	f.cfg.segment_bytes = 8 << 20;
	f.cfg.entry_bytes_max = 2 << 20;
	f.cfg.write_buf_bytes = 3 << 20;
	f.cfg.read_bytes_max = 64 << 10;
	assert_int_equal(fx_open(&f), 0);
	uint8_t *big = malloc(2 << 20);
	for (uint32_t i = 0; i < (2u << 20); i++)
		big[i] = (uint8_t)(i * 13);
	for (uint64_t i = 1; i <= 3; i++) {
		struct log_entry e = { .epoch = 1, .index = i, .data = big, .len = 2 << 20 };
		assert_int_equal(log_append(f.log, &e), 0);
		fx_flush_all(&f);
	}
	fx_close(&f);
	f.cfg.entry_bytes_max = 4096;
	f.cfg.write_buf_bytes = 16 * 1024;
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 3);
	assert_false(f.rec.tail_cut);
	free(big);
	teardown(&f);
}

/* Segments longer than the log is opened with (written under a larger segment_bytes) are
 * read in chunks of its segment size: records that cross a chunk's end come back too. */
static void test_segments_larger_than_config(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 10);
	assert_int_equal(fx_open(&f), 0); /* 64 KiB segments */
	fx_append_range(&f, 1, 1, 500);
	fx_flush_all(&f);
	fx_close(&f);
	uint64_t size = 0;
	assert_int_equal(sim_disk_file_size(f.disk, SEG1, &size), 0);
	assert_int_equal(size, 64 * 1024);
	f.cfg.segment_bytes = 20 * 1024;
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 500);
	assert_false(f.rec.tail_cut);
	assert_true(f.rec.segments >= 3);
	assert_int_equal(fx_read_check(&f, 1, 500), 500);
	teardown(&f);
}

/* ---- Crash after every disk step of a scripted workload ---- */

#define WL_TURNS 70
#define WL_GENS_MAX 64
#define WL_ENTRIES_MAX 4096

/* The model: the log's contents as epochs by index, and for every generation (a run of
 * appends after a truncation, with its own epoch) the contents it started from. */
struct model {
	uint64_t epochs[WL_ENTRIES_MAX];
	uint64_t last;
	uint64_t epoch;
	struct {
		uint64_t epoch, base;
		uint64_t start[WL_ENTRIES_MAX];
		uint64_t appended;
	} gen[WL_GENS_MAX];
	uint32_t gens;
};

struct run {
	struct fx f;
	struct model m;
	uint64_t steps;
	uint64_t crash_at;  /* crash after this many steps; 0: never */
	bool crashed;
	uint64_t rng;
	bool snapshots;     /* the workload takes snapshots too */
	bool snap_busy;
	uint64_t snap_floor; /* never truncate below a snapshot asked for */
	uint64_t snap_left;
};

static uint64_t run_rand(struct run *r)
{
	r->rng = r->rng * 6364136223846793005ull + 1442695040888963407ull;
	return r->rng >> 33;
}

static ssize_t run_snap_src(void *arg, uint8_t *buf, size_t cap)
{
	struct run *r = arg;
	size_t n = (size_t)MIN((uint64_t)cap, r->snap_left);
	memset(buf, 0x77, n);
	r->snap_left -= n;
	return (ssize_t)n;
}

static void run_snap_done(void *arg, int err, const struct log_snapshot_info *info)
{
	struct run *r = arg;
	(void)err;
	(void)info;
	r->snap_busy = false;
}

/* A snapshot of the state at a durable index (what the host does after applying it). */
static void run_snapshot(struct run *r)
{
	uint64_t durable = r->f.durable;
	if (r->snap_busy || durable <= r->snap_floor)
		return;
	uint64_t index = r->snap_floor + 1 + run_rand(r) % (durable - r->snap_floor);
	r->snap_left = 5000;
	if (log_snapshot_take(r->f.log, index, run_snap_src, r, run_snap_done, r) == 0) {
		r->snap_busy = true;
		r->snap_floor = index;
	}
}

static void model_gen(struct model *m)
{
	assert_true(m->gens < WL_GENS_MAX);
	m->gen[m->gens].epoch = m->epoch;
	m->gen[m->gens].base = m->last;
	memcpy(m->gen[m->gens].start, m->epochs, sizeof(m->epochs));
	m->gen[m->gens].appended = 0;
	m->gens++;
}

/* One disk step, unless it is time to crash. Returns false once crashed. */
static bool run_step(struct run *r)
{
	if (r->crashed)
		return false;
	if (r->crash_at && r->steps == r->crash_at) {
		r->crashed = true;
		return false;
	}
	if (!sim_disk_step(r->f.disk))
		return true;
	r->steps++;
	return true;
}

static void run_append(struct run *r, uint64_t n)
{
	for (uint64_t k = 0; k < n && r->m.last + 1 < WL_ENTRIES_MAX; k++) {
		int err;
		while ((err = fx_append(&r->f, r->m.epoch, r->m.last + 1)) == -EAGAIN) {
			assert_int_equal(log_flush(r->f.log), 0);
			if (!run_step(r))
				return;
		}
		assert_int_equal(err, 0);
		r->m.epochs[++r->m.last] = r->m.epoch;
		r->m.gen[r->m.gens - 1].appended++;
	}
}

static void run_workload(struct run *r)
{
	r->rng = r->f.cfg.lane * 7919 + 17;
	for (int turn = 0; turn < WL_TURNS && !r->crashed; turn++) {
		uint64_t op = run_rand(r) % 10;
		if (op < 7) {
			run_append(r, 1 + run_rand(r) % 8);
		} else if (op == 7 && r->m.last > 2 && r->m.last - 1 > r->snap_floor) {
			uint64_t keep = r->m.last - 1 - run_rand(r) % MIN(r->m.last - 1, 25);
			keep = MAX(keep, r->snap_floor);
			assert_int_equal(log_truncate(r->f.log, keep), 0);
			r->m.last = keep;
			r->m.epoch++;
			model_gen(&r->m);
		} else if (op >= 8 && r->snapshots) {
			run_snapshot(r);
		}
		if (r->crashed)
			break;
		assert_int_equal(log_flush(r->f.log), 0);
		uint64_t steps = run_rand(r) % 4;
		for (uint64_t s = 0; s < steps; s++)
			if (!run_step(r))
				break;
	}
	while (!r->crashed && sim_disk_inflight(r->f.disk))
		run_step(r);
}

/* The recovered log must be a prefix of what the log held at some moment. */
static void check_prefix_of_history(const struct model *m, const uint64_t *got, uint64_t first,
				    uint64_t n)
{
	if (n < first)
		return;
	const struct model *mm = m;
	for (uint32_t g = 0; g < mm->gens; g++) {
		if (mm->gen[g].epoch != got[n])
			continue;
		uint64_t base = mm->gen[g].base;
		if (n > base + mm->gen[g].appended)
			fail_msg("recovered %llu entries; generation %u has only %llu",
				 (unsigned long long)n, g,
				 (unsigned long long)(base + mm->gen[g].appended));
		for (uint64_t i = first; i <= n; i++) {
			uint64_t want = i <= base ? mm->gen[g].start[i] : mm->gen[g].epoch;
			if (got[i] != want)
				fail_msg("entry %llu has epoch %llu, history says %llu",
					 (unsigned long long)i, (unsigned long long)got[i],
					 (unsigned long long)want);
		}
		return;
	}
	fail_msg("the last recovered entry has epoch %llu, which was never written",
		 (unsigned long long)got[n]);
}

/* After the crash: open (maybe crashing once more during recovery) and check. */
static void run_check(struct run *r, uint64_t durable_at_crash, uint64_t recovery_crash)
{
	struct fx *f = &r->f;
	if (recovery_crash) {
		f->opened = false;
		struct log_callbacks cbs = { .durable = fx_durable_cb, .fatal = fx_fatal_cb,
					     .ctx = f };
		f->log = log_open(&f->cfg, sim_disk_io(f->disk), &cbs, fx_open_cb, f);
		for (uint64_t s = 0; s < recovery_crash && sim_disk_step(f->disk); s++)
			;
		fx_crash(f);
	}
	int err = fx_open(f);
	if (err)
		fail_msg("open after crash at step %llu (recovery crash %llu): %d %s@%llu: %s",
			 (unsigned long long)r->crash_at, (unsigned long long)recovery_crash, err,
			 f->rec.corruption.path, (unsigned long long)f->rec.corruption.offset,
			 f->rec.corruption.reason);
	uint64_t n = log_last_index(f->log), first = log_first_index(f->log);
	static uint64_t got[WL_ENTRIES_MAX];
	for (uint64_t i = first; i <= n; i++)
		assert_int_equal(log_epoch_at(f->log, i, &got[i]), 0);
	/* What the log no longer holds, a snapshot does. */
	assert_true(first <= 1 || f->rec.snapshot_index >= first - 1);
	if (n < durable_at_crash)
		fail_msg("acknowledged entries lost: durable %llu, recovered %llu",
			 (unsigned long long)durable_at_crash, (unsigned long long)n);
	for (uint64_t i = first; i <= durable_at_crash; i++)
		if (got[i] != r->m.epochs[i])
			fail_msg("acknowledged entry %llu came back with epoch %llu, not %llu",
				 (unsigned long long)i, (unsigned long long)got[i],
				 (unsigned long long)r->m.epochs[i]);
	check_prefix_of_history(&r->m, got, first, n);
	if (n >= first) /* every byte of every payload */
		assert_int_equal(fx_read_check(f, first, n), n - first + 1);
	/* And the log goes on. */
	uint64_t e = MAX(log_last_epoch(f->log), 1) + 100;
	fx_append_range(f, e, n + 1, n + 3);
	fx_flush_all(f);
	assert_int_equal(f->durable, n + 3);
	fx_close(f);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_last_index(f->log), n + 3);
	fx_close(f);
}

static void run_init(struct run *r, uint64_t seed, bool reorder)
{
	memset(r, 0, sizeof(*r));
	struct sim_disk_config dc = { .seed = seed, .reorder = reorder };
	r->f.disk = sim_disk_create(&dc);
	assert_int_equal(sim_disk_mkdir(r->f.disk, "/data"), 0);
	fx_config_default(&r->f.cfg);
	r->f.cfg.segment_bytes = 20 * 1024;
	r->f.cfg.entry_bytes_max = 1024;
	r->f.cfg.write_buf_bytes = 12 * 1024;
	r->f.cfg.lane = (uint32_t)seed;
	r->m.epoch = 1;
	model_gen(&r->m);
	assert_int_equal(fx_open(&r->f), 0);
}

static void crash_points_ex(uint64_t seed, bool reorder, bool snapshots)
{
	struct run *r = calloc(1, sizeof(*r));
	run_init(r, seed, reorder);
	r->snapshots = snapshots;
	run_workload(r);
	uint64_t total = r->steps;
	struct log_stats st;
	log_stats_get(r->f.log, &st);
	assert_true(!snapshots || (st.snapshot_index > 0 && log_first_index(r->f.log) > 1));
	fx_close(&r->f);
	sim_disk_destroy(r->f.disk);
	assert_true(total > 30); /* the workload did something */
	uint64_t cut_seen = 0;
	for (uint64_t k = 1; k <= total; k++) {
		run_init(r, seed, reorder);
		r->snapshots = snapshots;
		r->crash_at = k;
		run_workload(r);
		r->crashed = true; /* the last point: after everything */
		uint64_t durable = r->f.durable;
		fx_crash(&r->f);
		run_check(r, durable, k % 3 == 0 ? 1 + k % 11 : 0);
		cut_seen += r->f.rec.tail_cut;
		sim_disk_destroy(r->f.disk);
	}
	(void)cut_seen;
	free(r);
}

static void crash_points(uint64_t seed, bool reorder)
{
	crash_points_ex(seed, reorder, false);
}

/* With snapshots taken along the way: segments wholly before them are deleted while dead
 * ones wait for their truncation to be durable, all crashed at every step. */
static void test_crash_points_snapshots(void **state)
{
	(void)state;
	crash_points_ex(21, false, true);
	crash_points_ex(22, true, true);
}

static void test_crash_points_fifo(void **state)
{
	(void)state;
	crash_points(11, false);
}

static void test_crash_points_reordered(void **state)
{
	(void)state;
	crash_points(12, true);
	crash_points(13, true);
}

/* A longer run is one variable: SPINDLE_LOG_SEEDS=N adds N more seeds, half of them with
 * operations completing in random order. */
static void test_crash_points_more_seeds(void **state)
{
	(void)state;
	const char *env = getenv("SPINDLE_LOG_SEEDS");
	uint64_t n = env ? strtoull(env, NULL, 10) : 0;
	for (uint64_t i = 0; i < n; i++) {
		print_message("crash points: seed %llu\n", (unsigned long long)(1000 + i));
		crash_points_ex(1000 + i, i % 2 == 1, i % 4 >= 2);
	}
}

int main(void)
{
	log_level_min = LOG_LEVEL_ERROR + 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_reopen_reports),
		cmocka_unit_test(test_torn_last_record_every_offset),
		cmocka_unit_test(test_corrupt_middle_record_every_byte),
		cmocka_unit_test(test_sound_record_out_of_place),
		cmocka_unit_test(test_lost_sector_in_the_middle),
		cmocka_unit_test(test_missing_or_damaged_segment),
		cmocka_unit_test(test_foreign_files),
		cmocka_unit_test(test_leftovers_cleaned),
		cmocka_unit_test(test_direct_io_fallback),
		cmocka_unit_test(test_entries_larger_than_config),
		cmocka_unit_test(test_segments_larger_than_config),
		cmocka_unit_test(test_crash_points_fifo),
		cmocka_unit_test(test_crash_points_reordered),
		cmocka_unit_test(test_crash_points_snapshots),
		cmocka_unit_test(test_crash_points_more_seeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
