/* The write path: appends, group commit, the durable index (reported only after the flush
 * completes, in order), overlap of a write with the previous flush, DSYNC writes, segment
 * roll-over, backpressure, truncation and re-append, fail-stop on failed writes and
 * flushes, and running out of room (ENOSPC) and back. */
#include "fixture.h"

#include "base/log.h"

static void fx_setup(struct fx *f, uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	fx_disk_new(f, seed);
}

static void fx_teardown(struct fx *f)
{
	if (f->log)
		fx_close(f);
	sim_disk_destroy(f->disk);
}

static void test_append_flush_reopen(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 1);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 0);
	assert_int_equal(log_first_index(f.log), 1);
	fx_append_range(&f, 1, 1, 10);
	assert_int_equal(f.durable, 0);
	fx_flush_all(&f);
	assert_int_equal(f.durable, 10);
	assert_int_equal(log_durable_index(f.log), 10);
	fx_close(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 10);
	assert_int_equal(log_last_epoch(f.log), 1);
	assert_int_equal(log_durable_index(f.log), 10);
	assert_false(f.rec.tail_cut);
	assert_int_equal(fx_read_check(&f, 1, 10), 10);
	fx_teardown(&f);
}

/* Steps the disk until no write or sync of a segment is in flight. */
static void test_durable_only_after_flush(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 2);
	assert_int_equal(fx_open(&f), 0);
	fx_append_range(&f, 1, 1, 3);
	assert_int_equal(log_flush(f.log), 0);
	struct sim_disk_stats before, after;
	sim_disk_stats_get(f.disk, &before);
	/* The write completes first; the entries are not durable until the flush does. */
	while (true) {
		sim_disk_stats_get(f.disk, &after);
		if (after.ops[SIM_DISK_WRITE] > before.ops[SIM_DISK_WRITE])
			break;
		assert_true(sim_disk_step(f.disk));
	}
	assert_int_equal(f.durable, 0);
	sim_disk_run(f.disk);
	sim_disk_stats_get(f.disk, &after);
	assert_int_equal(after.ops[SIM_DISK_SYNC], before.ops[SIM_DISK_SYNC] + 1);
	assert_int_equal(f.durable, 3);
	fx_teardown(&f);
}

/* Appends made while a write is in flight go out together in the next one. */
static void test_group_commit_and_overlap(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 3);
	assert_int_equal(fx_open(&f), 0);
	struct log_stats st0, st;
	log_stats_get(f.log, &st0);
	fx_append_range(&f, 1, 1, 5);
	assert_int_equal(log_flush(f.log), 0); /* write 1 starts */
	for (uint64_t i = 6; i <= 40; i++) {   /* several "turns" while it is in flight */
		assert_int_equal(fx_append(&f, 1, i), 0);
		assert_int_equal(log_flush(f.log), 0);
	}
	log_stats_get(f.log, &st);
	assert_int_equal(st.writes - st0.writes, 1);
	/* Write 1 completes: its sync and write 2 (all of 6..40) are in flight together. */
	struct sim_disk_stats before, after;
	sim_disk_stats_get(f.disk, &before);
	while (true) {
		sim_disk_stats_get(f.disk, &after);
		if (after.ops[SIM_DISK_WRITE] > before.ops[SIM_DISK_WRITE])
			break;
		assert_true(sim_disk_step(f.disk));
	}
	assert_int_equal(sim_disk_inflight(f.disk), 2);
	sim_disk_run(f.disk);
	log_stats_get(f.log, &st);
	assert_int_equal(st.writes - st0.writes, 2);
	assert_int_equal(f.durable, 40);
	assert_int_equal(st.flushes - st0.flushes, 2);
	fx_teardown(&f);
}

static void test_serial_flush(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 4);
	f.cfg.serial_flush = true;
	assert_int_equal(fx_open(&f), 0);
	fx_append_range(&f, 1, 1, 5);
	assert_int_equal(log_flush(f.log), 0);
	assert_int_equal(fx_append(&f, 1, 6), 0);
	assert_int_equal(log_flush(f.log), 0);
	struct sim_disk_stats before, after;
	sim_disk_stats_get(f.disk, &before);
	while (true) {
		sim_disk_stats_get(f.disk, &after);
		if (after.ops[SIM_DISK_WRITE] > before.ops[SIM_DISK_WRITE])
			break;
		assert_true(sim_disk_step(f.disk));
	}
	assert_int_equal(sim_disk_inflight(f.disk), 1); /* only the sync */
	sim_disk_run(f.disk);
	assert_int_equal(f.durable, 6);
	fx_teardown(&f);
}

static void test_dsync_mode(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 5);
	f.cfg.sync_mode = LOG_SYNC_DSYNC;
	assert_int_equal(fx_open(&f), 0);
	struct sim_disk_stats before, after;
	sim_disk_stats_get(f.disk, &before);
	fx_append_range(&f, 1, 1, 20);
	fx_flush_all(&f);
	sim_disk_stats_get(f.disk, &after);
	assert_int_equal(after.ops[SIM_DISK_SYNC], before.ops[SIM_DISK_SYNC]);
	assert_int_equal(f.durable, 20);
	/* DSYNC writes survive a crash with no sync at all. */
	fx_crash(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 20);
	assert_int_equal(fx_read_check(&f, 1, 20), 20);
	fx_teardown(&f);
}

static void test_rollover_many_segments(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 6);
	assert_int_equal(fx_open(&f), 0);
	for (uint64_t i = 1; i <= 600; i += 20) {
		fx_append_range(&f, 1 + (i - 1) / 200, i, i + 19);
		fx_flush_all(&f);
	}
	assert_int_equal(f.durable, 600);
	struct log_stats st;
	log_stats_get(f.log, &st);
	assert_true(st.segments >= 4);
	assert_int_equal(fx_read_check(&f, 1, 600), 600);
	fx_close(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 600);
	assert_int_equal(log_last_epoch(f.log), 3);
	uint64_t e;
	assert_int_equal(log_epoch_at(f.log, 199, &e), 0);
	assert_int_equal(e, 1);
	assert_int_equal(log_epoch_at(f.log, 201, &e), 0);
	assert_int_equal(e, 2);
	assert_int_equal(fx_read_check(&f, 1, 600), 600);
	fx_teardown(&f);
}

static void test_backpressure_and_sizes(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 7);
	assert_int_equal(fx_open(&f), 0);
	uint8_t big[4097] = { 0 };
	struct log_entry e = { .epoch = 1, .index = 1, .data = big, .len = 4097 };
	assert_int_equal(log_append(f.log, &e), -EMSGSIZE);
	e.len = 4096;
	/* Two 16 KiB buffers: with one being written and one full, appends are refused. */
	int err = 0;
	uint64_t i = 1;
	assert_int_equal(log_flush(f.log), 0);
	for (; i < 100 && err == 0; i++) {
		e.index = i;
		err = log_append(f.log, &e);
		if (i == 2)
			assert_int_equal(log_flush(f.log), 0);
	}
	assert_int_equal(err, -EAGAIN);
	uint64_t refused = i - 1;
	sim_disk_run(f.disk);
	e.index = refused;
	assert_int_equal(log_append(f.log, &e), 0);
	fx_flush_all(&f);
	assert_int_equal(f.durable, refused);
	fx_teardown(&f);
}

static void test_truncate_and_reappend(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 8);
	assert_int_equal(fx_open(&f), 0);
	fx_append_range(&f, 1, 1, 50);
	fx_flush_all(&f);
	assert_int_equal(log_truncate(f.log, 30), 0);
	assert_int_equal(f.durable, 30);
	assert_int_equal(log_last_index(f.log), 30);
	fx_append_range(&f, 2, 31, 45);
	fx_flush_all(&f);
	assert_int_equal(f.durable, 45);
	assert_int_equal(fx_read_check(&f, 1, 45), 45);
	uint64_t e;
	assert_int_equal(log_epoch_at(f.log, 30, &e), 0);
	assert_int_equal(e, 1);
	assert_int_equal(log_epoch_at(f.log, 31, &e), 0);
	assert_int_equal(e, 2);
	/* A second cut, into the middle of the first segment again, and another epoch. */
	assert_int_equal(log_truncate(f.log, 10), 0);
	fx_append_range(&f, 3, 11, 12);
	fx_flush_all(&f);
	fx_close(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 12);
	assert_int_equal(log_last_epoch(f.log), 3);
	assert_int_equal(fx_read_check(&f, 1, 12), 12);
	assert_int_equal(log_epoch_at(f.log, 10, &e), 0);
	assert_int_equal(e, 1);
	/* The cut holds after another restart with nothing appended. */
	fx_close(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 12);
	fx_teardown(&f);
}

/* A cut while the write of the dropped entries is still in flight: the durable index
 * never covers them. */
static void test_truncate_races_write(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 9);
	assert_int_equal(fx_open(&f), 0);
	fx_append_range(&f, 1, 1, 20);
	assert_int_equal(log_flush(f.log), 0);
	assert_int_equal(log_truncate(f.log, 5), 0);
	fx_append_range(&f, 2, 6, 8);
	uint64_t max_seen = 0;
	while (sim_disk_step(f.disk)) {
		max_seen = MAX(max_seen, f.durable);
		assert_true(f.durable <= 5 || log_last_epoch(f.log) == 2);
	}
	assert_true(max_seen <= 5);
	fx_flush_all(&f);
	assert_int_equal(f.durable, 8);
	assert_int_equal(fx_read_check(&f, 1, 8), 8);
	fx_teardown(&f);
}

static void test_truncate_everything(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 10);
	assert_int_equal(fx_open(&f), 0);
	fx_append_range(&f, 1, 1, 10);
	fx_flush_all(&f);
	assert_int_equal(log_truncate(f.log, 0), 0);
	assert_int_equal(log_last_index(f.log), 0);
	fx_append_range(&f, 5, 1, 3);
	fx_flush_all(&f);
	fx_close(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 3);
	assert_int_equal(log_last_epoch(f.log), 5);
	assert_int_equal(fx_read_check(&f, 1, 3), 3);
	fx_teardown(&f);
}

static void test_write_error_is_fatal(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 11);
	assert_int_equal(fx_open(&f), 0);
	fx_append_range(&f, 1, 1, 5);
	fx_flush_all(&f);
	sim_disk_fail(f.disk, SIM_DISK_WRITE, "seg-", -EIO, 1);
	fx_append_range(&f, 1, 6, 8);
	fx_flush_all(&f);
	assert_int_equal(f.fatal_calls, 1);
	assert_int_equal(f.fatal_err, -EIO);
	assert_non_null(strstr(f.fatal_msg, "write"));
	assert_int_equal(f.durable, 5);
	assert_int_equal(fx_append(&f, 1, 9), -EIO);
	assert_int_equal(log_flush(f.log), -EIO);
	assert_int_equal(log_truncate(f.log, 1), -EIO);
	struct log_stats st;
	log_stats_get(f.log, &st);
	assert_true(st.failed);
	fx_teardown(&f);
}

static void test_flush_error_is_fatal(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 12);
	assert_int_equal(fx_open(&f), 0);
	fx_append_range(&f, 1, 1, 5);
	fx_flush_all(&f);
	sim_disk_fail(f.disk, SIM_DISK_SYNC, "seg-", -EIO, 1);
	fx_append_range(&f, 1, 6, 8);
	fx_flush_all(&f);
	assert_int_equal(f.fatal_calls, 1);
	assert_non_null(strstr(f.fatal_msg, "flush"));
	assert_int_equal(f.durable, 5);
	assert_int_equal(fx_append(&f, 1, 9), -EIO);
	/* A retried sync would have lied: the disk forgot those writes. After a crash, the
	 * log comes back with exactly what was acknowledged. */
	fx_crash(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_true(log_last_index(f.log) >= 5);
	assert_int_equal(fx_read_check(&f, 1, 5), 5);
	fx_teardown(&f);
}

/* Finds the sim disk's used bytes after open, and sets the capacity so that exactly the
 * current segment and its prepared successor fit. */
static void test_nospace_and_back(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 13);
	assert_int_equal(fx_open(&f), 0);
	sim_disk_capacity_set(f.disk, sim_disk_used_bytes(f.disk) + 4096);
	uint64_t i = 1;
	int err = 0;
	for (; i < 2000; i++) {
		while ((err = fx_append(&f, 1, i)) == -EAGAIN)
			fx_flush_all(&f);
		if (err)
			break;
		if (i % 10 == 0)
			fx_flush_all(&f);
	}
	assert_int_equal(err, -ENOSPC);
	fx_flush_all(&f);
	uint64_t durable = f.durable;
	assert_int_equal(durable, i - 1);
	struct log_stats st;
	log_stats_get(f.log, &st);
	assert_true(st.nospace);
	assert_true(st.nospace_refusals >= 1);
	/* Reads go on. */
	assert_int_equal(fx_read_check(&f, 1, durable), durable);
	/* Still no room: refused again, even after the retry interval. */
	sim_disk_advance(f.disk, 20 * 1000000ull);
	assert_int_equal(fx_append(&f, 1, i), -ENOSPC);
	sim_disk_run(f.disk);
	assert_int_equal(fx_append(&f, 1, i), -ENOSPC);
	/* Room again: after the retry interval, appends resume. */
	sim_disk_capacity_set(f.disk, 0);
	sim_disk_advance(f.disk, 20 * 1000000ull);
	err = fx_append(&f, 1, i);
	assert_true(err == -ENOSPC || err == -EAGAIN);
	sim_disk_run(f.disk);
	fx_append_range(&f, 1, i, i + 100);
	fx_flush_all(&f);
	assert_int_equal(f.durable, i + 100);
	fx_close(&f);
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(fx_read_check(&f, 1, i + 100), i + 100);
	fx_teardown(&f);
}

static void test_nospace_at_open(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 14);
	assert_int_equal(fx_open(&f), 0);
	fx_append_range(&f, 1, 1, 30);
	fx_flush_all(&f);
	fx_close(&f);
	sim_disk_capacity_set(f.disk, sim_disk_used_bytes(f.disk));
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 30);
	assert_int_equal(fx_read_check(&f, 1, 30), 30);
	assert_int_equal(fx_append(&f, 1, 31), -ENOSPC);
	sim_disk_capacity_set(f.disk, 0);
	sim_disk_advance(f.disk, 20 * 1000000ull);
	assert_int_equal(fx_append(&f, 1, 31), -ENOSPC);
	sim_disk_run(f.disk);
	fx_append_range(&f, 1, 31, 40);
	fx_flush_all(&f);
	assert_int_equal(f.durable, 40);
	fx_teardown(&f);
}

static void test_durable_callbacks_monotonic(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, 15);
	assert_int_equal(fx_open(&f), 0);
	uint64_t last = 0;
	for (uint64_t i = 1; i <= 300; i++) {
		assert_int_equal(fx_append(&f, 1, i), 0);
		assert_int_equal(log_flush(f.log), 0);
		for (int s = 0; s < 2; s++) {
			sim_disk_step(f.disk);
			assert_true(f.durable >= last);
			last = f.durable;
		}
	}
	fx_flush_all(&f);
	assert_int_equal(f.durable, 300);
	fx_teardown(&f);
}

int main(void)
{
	log_level_min = LOG_LEVEL_ERROR;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_flush_reopen),
		cmocka_unit_test(test_durable_only_after_flush),
		cmocka_unit_test(test_group_commit_and_overlap),
		cmocka_unit_test(test_serial_flush),
		cmocka_unit_test(test_dsync_mode),
		cmocka_unit_test(test_rollover_many_segments),
		cmocka_unit_test(test_backpressure_and_sizes),
		cmocka_unit_test(test_truncate_and_reappend),
		cmocka_unit_test(test_truncate_races_write),
		cmocka_unit_test(test_truncate_everything),
		cmocka_unit_test(test_write_error_is_fatal),
		cmocka_unit_test(test_flush_error_is_fatal),
		cmocka_unit_test(test_nospace_and_back),
		cmocka_unit_test(test_nospace_at_open),
		cmocka_unit_test(test_durable_callbacks_monotonic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
