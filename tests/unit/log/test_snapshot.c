/* Snapshots: written incrementally from a (fake) state stream in bounded steps, read back
 * chunk by chunk, found again at open; segments wholly before a snapshot deleted; a
 * follower's install from chunks, with Raft's rule for the log after it; crashes at every
 * step of taking and installing; damage, ENOSPC, and a failing source. */
#include "fixture.h"

#include "base/log.h"

/* A fake state stream: `total` bytes, byte i = f(i), handed out in irregular pieces. */
struct src {
	uint64_t total, pos;
	uint64_t pulled_since_mark;
	uint64_t calls;
	int fail_at_call; /* 0: never */
};

static uint8_t stream_byte(uint64_t i)
{
	return (uint8_t)(i * 2654435761u >> 13);
}

static ssize_t src_next(void *arg, uint8_t *buf, size_t cap)
{
	struct src *s = arg;
	s->calls++;
	if (s->fail_at_call && s->calls == (uint64_t)s->fail_at_call)
		return -EIO;
	size_t piece = 1 + (size_t)((s->pos * 7919 + s->calls) % 9000);
	size_t n = (size_t)MIN((uint64_t)MIN(cap, piece), s->total - s->pos);
	for (size_t i = 0; i < n; i++)
		buf[i] = stream_byte(s->pos + i);
	s->pos += n;
	s->pulled_since_mark += n;
	return (ssize_t)n;
}

struct done {
	bool called;
	int err;
	struct log_snapshot_info info;
};

static void done_cb(void *arg, int err, const struct log_snapshot_info *info)
{
	struct done *d = arg;
	d->called = true;
	d->err = err;
	d->info = *info;
}

static void setup(struct fx *f, uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	fx_disk_new(f, seed);
	assert_int_equal(fx_open(f), 0);
}

static void teardown(struct fx *f)
{
	if (f->log)
		fx_close(f);
	sim_disk_destroy(f->disk);
}

static void fill(struct fx *f, uint64_t epoch, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i <= to; i += 10) {
		fx_append_range(f, epoch, i, MIN(i + 9, to));
		fx_flush_all(f);
	}
}

struct sread {
	struct log_snap_read rd;
	bool done;
	int res;
	uint8_t buf[LOG_SNAP_READ_BUF_BYTES];
};

static void sread_cb(struct log_snap_read *rd, int res)
{
	struct sread *s = (struct sread *)rd;
	s->done = true;
	s->res = res;
}

/* Reads the whole current snapshot and checks every byte. */
static void check_snapshot_stream(struct fx *f, uint64_t index, uint64_t total)
{
	struct sread *s = calloc(1, sizeof(*s));
	uint64_t off = 0;
	for (; off < total; off += LOG_SNAP_CHUNK_BYTES) {
		s->rd = (struct log_snap_read){ .index = index, .offset = off, .buf = s->buf,
						.cb = sread_cb };
		s->done = false;
		assert_int_equal(log_snapshot_read(f->log, &s->rd), 0);
		sim_disk_run(f->disk);
		assert_true(s->done);
		uint64_t want = MIN((uint64_t)LOG_SNAP_CHUNK_BYTES, total - off);
		assert_int_equal(s->res, (int)want);
		for (uint64_t i = 0; i < want; i++)
			if (s->buf[i] != stream_byte(off + i))
				fail_msg("snapshot byte %llu differs", (unsigned long long)(off + i));
	}
	s->rd.offset = off;
	assert_int_equal(log_snapshot_read(f->log, &s->rd), -ENODATA);
	s->rd.index = index + 1;
	assert_int_equal(log_snapshot_read(f->log, &s->rd), -ESTALE);
	free(s);
}

static void take(struct fx *f, uint64_t index, struct src *s, struct done *d)
{
	assert_int_equal(log_snapshot_take(f->log, index, src_next, s, done_cb, d), 0);
	/* Bounded steps: the start and each completion pull at most one chunk. */
	assert_true(s->pulled_since_mark <= LOG_SNAP_CHUNK_BYTES);
	while (!d->called) {
		s->pulled_since_mark = 0;
		assert_true(sim_disk_step(f->disk));
		assert_true(s->pulled_since_mark <= LOG_SNAP_CHUNK_BYTES);
	}
}

static void test_take_read_reopen(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 1);
	fill(&f, 1, 1, 400);
	struct log_stats st;
	log_stats_get(f.log, &st);
	uint32_t segs_before = st.segments;
	assert_true(segs_before >= 3);
	struct src s = { .total = 3 * LOG_SNAP_CHUNK_BYTES + 12345 };
	struct done d = { 0 };
	take(&f, 300, &s, &d);
	assert_int_equal(d.err, 0);
	assert_int_equal(d.info.index, 300);
	assert_int_equal(d.info.epoch, 1);
	assert_int_equal(d.info.bytes, s.total);
	sim_disk_run(f.disk);
	log_stats_get(f.log, &st);
	assert_int_equal(st.snapshot_index, 300);
	assert_int_equal(st.snapshot_bytes, s.total);
	assert_true(st.segments < segs_before);
	assert_true(log_first_index(f.log) > 1 && log_first_index(f.log) <= 301);
	assert_true(sim_disk_exists(f.disk, FX_DIR "/snap-000000000000012c.snap"));
	check_snapshot_stream(&f, 300, s.total);
	assert_int_equal(fx_read_check(&f, log_first_index(f.log), 400),
			 400 - log_first_index(f.log) + 1);
	struct fx_read r = { .rd = { .from_index = 1, .budget_bytes = 100, .cb = fx_read_cb } };
	assert_int_equal(log_read(f.log, &r.rd), -ENOENT);
	fx_close(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(f.rec.snapshot_index, 300);
	assert_int_equal(f.rec.snapshot_epoch, 1);
	assert_int_equal(f.rec.snapshot_bytes, s.total);
	assert_int_equal(f.rec.last_index, 400);
	check_snapshot_stream(&f, 300, s.total);
	/* A second snapshot replaces the first, which is deleted. */
	struct src s2 = { .total = 1000 };
	struct done d2 = { 0 };
	take(&f, 390, &s2, &d2);
	assert_int_equal(d2.err, 0);
	sim_disk_run(f.disk);
	assert_false(sim_disk_exists(f.disk, FX_DIR "/snap-000000000000012c.snap"));
	check_snapshot_stream(&f, 390, 1000);
	teardown(&f);
}

static void test_take_refusals(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 2);
	fill(&f, 1, 1, 50);
	struct src s = { .total = 100 };
	struct done d = { 0 };
	assert_int_equal(log_snapshot_take(f.log, 51, src_next, &s, done_cb, &d), -EINVAL);
	assert_int_equal(log_snapshot_take(f.log, 20, src_next, &s, done_cb, &d), 0);
	assert_int_equal(log_snapshot_take(f.log, 30, src_next, &s, done_cb, &d), -EBUSY);
	assert_int_equal(log_snapshot_install_begin(f.log, 1, 40), -EBUSY);
	sim_disk_run(f.disk);
	assert_true(d.called);
	assert_int_equal(d.err, 0);
	assert_int_equal(log_snapshot_take(f.log, 20, src_next, &s, done_cb, &d), -EINVAL);
	teardown(&f);
}

static void test_source_error_and_nospace(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 3);
	fill(&f, 1, 1, 50);
	struct src s = { .total = 5 * LOG_SNAP_CHUNK_BYTES, .fail_at_call = 30 };
	struct done d = { 0 };
	assert_int_equal(log_snapshot_take(f.log, 40, src_next, &s, done_cb, &d), 0);
	sim_disk_run(f.disk);
	assert_true(d.called);
	assert_int_equal(d.err, -EIO);
	assert_int_equal(f.fatal_calls, 0);
	assert_false(sim_disk_exists(f.disk, FX_DIR "/snap-0000000000000028.tmp"));
	/* The disk fills up halfway through: abandoned cleanly, the log goes on. */
	sim_disk_capacity_set(f.disk, sim_disk_used_bytes(f.disk) + 100000);
	struct src s2 = { .total = 5 * LOG_SNAP_CHUNK_BYTES };
	struct done d2 = { 0 };
	assert_int_equal(log_snapshot_take(f.log, 40, src_next, &s2, done_cb, &d2), 0);
	sim_disk_run(f.disk);
	assert_int_equal(d2.err, -ENOSPC);
	assert_int_equal(f.fatal_calls, 0);
	assert_false(sim_disk_exists(f.disk, FX_DIR "/snap-0000000000000028.tmp"));
	fx_append_range(&f, 1, 51, 52);
	fx_flush_all(&f);
	assert_int_equal(f.durable, 52);
	/* Other write errors on a snapshot are fatal, like any other. */
	sim_disk_capacity_set(f.disk, 0);
	sim_disk_fail(f.disk, SIM_DISK_SYNC, "snap-", -EIO, 1);
	struct src s3 = { .total = 1000 };
	struct done d3 = { 0 };
	assert_int_equal(log_snapshot_take(f.log, 45, src_next, &s3, done_cb, &d3), 0);
	sim_disk_run(f.disk);
	assert_true(d3.called);
	assert_int_equal(d3.err, -EIO);
	assert_int_equal(f.fatal_calls, 1);
	teardown(&f);
}

/* Out of room, a snapshot deletes old segments, and appends resume at once. */
static void test_snapshot_frees_room(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 4);
	fill(&f, 1, 1, 300);
	sim_disk_capacity_set(f.disk, sim_disk_used_bytes(f.disk) + 70000);
	uint64_t i = 301;
	int err;
	while (true) {
		while ((err = fx_append(&f, 1, i)) == -EAGAIN)
			fx_flush_all(&f);
		if (err)
			break;
		fx_flush_all(&f);
		i++;
	}
	assert_int_equal(err, -ENOSPC);
	struct src s = { .total = 100 };
	struct done d = { 0 };
	take(&f, i - 1, &s, &d);
	assert_int_equal(d.err, 0);
	sim_disk_run(f.disk);
	fx_append_range(&f, 1, i, i + 20);
	fx_flush_all(&f);
	assert_int_equal(f.durable, i + 20);
	teardown(&f);
}

static uint32_t install(struct fx *f, uint64_t epoch, uint64_t index, uint64_t total,
			struct done *d)
{
	assert_int_equal(log_snapshot_install_begin(f->log, epoch, index), 0);
	uint8_t *chunk = malloc(LOG_SNAP_CHUNK_BYTES);
	uint64_t off = 0;
	uint32_t again = 0;
	while (off < total) {
		uint32_t n = (uint32_t)MIN((uint64_t)LOG_SNAP_CHUNK_BYTES, total - off);
		for (uint32_t k = 0; k < n; k++)
			chunk[k] = stream_byte(off + k);
		int err = log_snapshot_install_write(f->log, off, chunk, n);
		if (err == -EAGAIN) {
			again++;
			assert_true(sim_disk_step(f->disk));
			continue;
		}
		assert_int_equal(err, 0);
		off += n;
	}
	assert_int_equal(log_snapshot_install_write(f->log, off + 1, chunk, 1), -EINVAL);
	free(chunk);
	assert_int_equal(log_snapshot_install_finish(f->log, done_cb, d), 0);
	sim_disk_run(f->disk);
	assert_true(d->called);
	return again;
}

static void test_install_replaces_log(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 5);
	fill(&f, 1, 1, 150);
	struct done d = { 0 };
	uint64_t total = 4 * LOG_SNAP_CHUNK_BYTES + 7;
	assert_true(install(&f, 3, 100, total, &d) > 0); /* the chunk buffers pushed back */
	assert_int_equal(d.err, 0);
	/* Entry 100 of this log is of epoch 1, not 3: the log restarts after the snapshot. */
	assert_int_equal(log_last_index(f.log), 100);
	assert_int_equal(log_first_index(f.log), 101);
	assert_int_equal(log_last_epoch(f.log), 3);
	assert_int_equal(f.durable, 100);
	check_snapshot_stream(&f, 100, total);
	fx_append_range(&f, 3, 101, 120);
	fx_flush_all(&f);
	assert_int_equal(f.durable, 120);
	fx_close(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(f.rec.snapshot_index, 100);
	assert_int_equal(f.rec.snapshot_epoch, 3);
	assert_int_equal(log_first_index(f.log), 101);
	assert_int_equal(log_last_index(f.log), 120);
	assert_int_equal(fx_read_check(&f, 101, 120), 20);
	check_snapshot_stream(&f, 100, total);
	teardown(&f);
}

static void test_install_keeps_matching_log(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 6);
	fill(&f, 2, 1, 150);
	struct done d = { 0 };
	install(&f, 2, 100, 2 * LOG_SNAP_CHUNK_BYTES, &d);
	assert_int_equal(d.err, 0);
	assert_int_equal(log_last_index(f.log), 150);
	assert_int_equal(fx_read_check(&f, 101, 150), 50);
	fx_close(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 150);
	teardown(&f);
}

static void test_install_abort(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 7);
	fill(&f, 1, 1, 20);
	assert_int_equal(log_snapshot_install_begin(f.log, 2, 50), 0);
	uint8_t chunk[1000] = { 1 };
	assert_int_equal(log_snapshot_install_write(f.log, 0, chunk, sizeof(chunk)), 0);
	log_snapshot_install_abort(f.log);
	sim_disk_run(f.disk);
	assert_false(sim_disk_exists(f.disk, FX_DIR "/snap-0000000000000032.tmp"));
	assert_int_equal(log_last_index(f.log), 20);
	struct done d = { 0 };
	install(&f, 2, 50, 3 * LOG_SNAP_CHUNK_BYTES, &d);
	assert_int_equal(d.err, 0);
	teardown(&f);
}

static void test_damaged_snapshot(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 8);
	fill(&f, 1, 1, 60);
	struct src s = { .total = 2 * LOG_SNAP_CHUNK_BYTES };
	struct done d = { 0 };
	take(&f, 50, &s, &d);
	sim_disk_run(f.disk);
	const char *path = FX_DIR "/snap-0000000000000032.snap";
	/* A damaged chunk is found when it is read. */
	assert_int_equal(sim_disk_corrupt(f.disk, path, 64 + 8 + 100, 1, 4), 0);
	struct sread *r = calloc(1, sizeof(*r));
	r->rd = (struct log_snap_read){ .index = 50, .offset = 0, .buf = r->buf, .cb = sread_cb };
	assert_int_equal(log_snapshot_read(f.log, &r->rd), 0);
	sim_disk_run(f.disk);
	assert_int_equal(r->res, -EBADMSG);
	free(r);
	assert_int_equal(sim_disk_corrupt(f.disk, path, 64 + 8 + 100, 1, 4), 0);
	fx_close(&f);
	/* A damaged header or trailer stops the open, naming the file. */
	assert_int_equal(sim_disk_corrupt(f.disk, path, 20, 1, 1), 0);
	assert_int_equal(fx_open(&f), -EBADMSG);
	assert_string_equal(f.rec.corruption.path, path);
	assert_int_equal(sim_disk_corrupt(f.disk, path, 20, 1, 1), 0);
	uint64_t size;
	assert_int_equal(sim_disk_file_size(f.disk, path, &size), 0);
	assert_int_equal(sim_disk_corrupt(f.disk, path, size - 10, 1, 1), 0);
	assert_int_equal(fx_open(&f), -EBADMSG);
	assert_int_equal(sim_disk_corrupt(f.disk, path, size - 10, 1, 1), 0);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(f.rec.snapshot_index, 50);
	teardown(&f);
}

static void test_snapshot_due(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof(f));
	fx_disk_new(&f, 9);
	f.cfg.snapshot_log_bytes = 20000;
	f.cfg.snapshot_interval_ms = 1000;
	assert_int_equal(fx_open(&f), 0);
	assert_false(log_snapshot_due(f.log));
	fx_append_range(&f, 1, 1, 5);
	fx_flush_all(&f);
	assert_false(log_snapshot_due(f.log));
	sim_disk_advance(f.disk, 1001 * 1000000ull);
	assert_true(log_snapshot_due(f.log)); /* the interval, with entries since */
	struct src s = { .total = 10 };
	struct done d = { 0 };
	take(&f, 5, &s, &d);
	assert_false(log_snapshot_due(f.log));
	fill(&f, 1, 6, 200);
	assert_true(log_snapshot_due(f.log)); /* the size */
	teardown(&f);
}

/* Found by the fault suite's soak: nodes restarted every few minutes never took a snapshot
 * (the size counted from zero at every open) and filled their disks with log. */
static void test_snapshot_due_counts_the_log_across_a_restart(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof(f));
	fx_disk_new(&f, 10);
	f.cfg.snapshot_log_bytes = 20000;
	f.cfg.snapshot_interval_ms = 3600 * 1000;
	assert_int_equal(fx_open(&f), 0);
	fill(&f, 1, 1, 200);
	struct log_stats st;
	log_stats_get(f.log, &st);
	assert_true(st.log_bytes >= 20000);
	fx_close(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_true(log_snapshot_due(f.log)); /* before any new entry */
	teardown(&f);
}

/* ---- Crashes at every step of taking and of installing ---- */

static void test_crash_while_taking(void **state)
{
	(void)state;
	uint64_t total_steps = 0;
	for (uint64_t k = 1;; k++) {
		struct fx f;
		setup(&f, 100 + k);
		fill(&f, 1, 1, 300);
		struct src s = { .total = 3 * LOG_SNAP_CHUNK_BYTES };
		struct done d = { 0 };
		assert_int_equal(log_snapshot_take(f.log, 250, src_next, &s, done_cb, &d), 0);
		uint64_t steps = 0;
		while (steps < k && sim_disk_step(f.disk))
			steps++;
		bool finished = steps < k;
		fx_crash(&f);
		assert_int_equal(fx_open(&f), 0);
		/* Either no snapshot or the whole of it, and the log always from before 251. */
		if (f.rec.snapshot_index) {
			assert_int_equal(f.rec.snapshot_index, 250);
			check_snapshot_stream(&f, 250, s.total);
		}
		assert_true(log_first_index(f.log) <= 251);
		assert_int_equal(log_last_index(f.log), 300);
		assert_int_equal(fx_read_check(&f, log_first_index(f.log), 300),
				 300 - log_first_index(f.log) + 1);
		teardown(&f);
		if (finished) {
			total_steps = k;
			break;
		}
	}
	assert_true(total_steps > 10);
}

static void test_crash_while_installing(void **state)
{
	(void)state;
	for (uint64_t k = 1;; k++) {
		struct fx f;
		setup(&f, 200 + k);
		fill(&f, 1, 1, 150);
		uint64_t total = 2 * LOG_SNAP_CHUNK_BYTES + 99;
		assert_int_equal(log_snapshot_install_begin(f.log, 4, 100), 0);
		uint8_t *chunk = malloc(LOG_SNAP_CHUNK_BYTES);
		uint64_t off = 0, steps = 0;
		bool crashed = false;
		struct done d = { 0 };
		bool finishing = false;
		while (!crashed && !d.called) {
			if (off < total) {
				uint32_t n = (uint32_t)MIN((uint64_t)LOG_SNAP_CHUNK_BYTES, total - off);
				for (uint32_t i = 0; i < n; i++)
					chunk[i] = stream_byte(off + i);
				if (log_snapshot_install_write(f.log, off, chunk, n) == 0)
					off += n;
			} else if (!finishing) {
				assert_int_equal(log_snapshot_install_finish(f.log, done_cb, &d), 0);
				finishing = true;
			}
			if (steps == k) {
				crashed = true;
				break;
			}
			if (sim_disk_step(f.disk))
				steps++;
		}
		free(chunk);
		bool finished = !crashed;
		if (finished)
			sim_disk_run(f.disk);
		fx_crash(&f);
		assert_int_equal(fx_open(&f), 0);
		if (f.rec.snapshot_index == 100) {
			/* Installed: nothing of the old log after it survives. */
			assert_int_equal(log_last_index(f.log), 100);
			assert_int_equal(log_last_epoch(f.log), 4);
			check_snapshot_stream(&f, 100, total);
		} else {
			assert_int_equal(f.rec.snapshot_index, 0);
			assert_int_equal(log_last_index(f.log), 150);
			assert_int_equal(fx_read_check(&f, 1, 150), 150);
		}
		teardown(&f);
		if (finished)
			break;
	}
}

int main(void)
{
	log_level_min = LOG_LEVEL_ERROR + 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_take_read_reopen),
		cmocka_unit_test(test_take_refusals),
		cmocka_unit_test(test_source_error_and_nospace),
		cmocka_unit_test(test_snapshot_frees_room),
		cmocka_unit_test(test_install_replaces_log),
		cmocka_unit_test(test_install_keeps_matching_log),
		cmocka_unit_test(test_install_abort),
		cmocka_unit_test(test_damaged_snapshot),
		cmocka_unit_test(test_snapshot_due),
		cmocka_unit_test(test_snapshot_due_counts_the_log_across_a_restart),
		cmocka_unit_test(test_crash_while_taking),
		cmocka_unit_test(test_crash_while_installing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
