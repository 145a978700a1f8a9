/* The log object: configurations it refuses, the figures it reports for INFO, the epoch
 * of any index, closing with I/O in flight, and a failure during open reported to the
 * open callback (not as a fatal error of a running log). */
#include "fixture.h"

#include "base/log.h"
#include "log/record.h"

static void test_bad_configurations(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof(f));
	fx_disk_new(&f, 1);
	struct log_callbacks cbs = { .ctx = &f };
	struct log_config bad[6];
	for (int i = 0; i < 6; i++)
		fx_config_default(&bad[i]);
	bad[0].segment_bytes = 64 * 1024 + 100;            /* not block aligned */
	bad[1].segment_bytes = 8192;                        /* no room for two entries */
	bad[2].segment_bytes = 2ull << 30;                  /* positions hold 32-bit offsets */
	bad[3].entry_bytes_max = LOG_RECORD_BODY_BYTES_MAX + 1;
	bad[4].write_buf_bytes = 4096;                      /* smaller than one entry */
	char longdir[LOG_PATH_MAX];
	memset(longdir, 'x', sizeof(longdir) - 1);
	longdir[sizeof(longdir) - 1] = 0;
	bad[5].dir = longdir;
	for (int i = 0; i < 6; i++)
		assert_null(log_open(&bad[i], sim_disk_io(f.disk), &cbs, fx_open_cb, &f));
	assert_false(f.opened);
	sim_disk_destroy(f.disk);
}

static void test_stats_and_epochs(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof(f));
	fx_disk_new(&f, 2);
	assert_int_equal(fx_open(&f), 0);
	uint64_t bytes = 0;
	for (uint64_t i = 1; i <= 200; i++) {
		uint64_t epoch = 1 + i / 50;
		fx_append_range(&f, epoch, i, i);
		bytes += fx_len(epoch, i);
		if (i % 5 == 0)
			fx_flush_all(&f);
	}
	struct log_stats st;
	log_stats_get(f.log, &st);
	assert_int_equal(st.appends, 200);
	assert_int_equal(st.append_bytes, bytes);
	assert_int_equal(st.first_index, 1);
	assert_int_equal(st.last_index, 200);
	assert_int_equal(st.durable_index, 200);
	assert_int_equal(st.flushes, st.writes);
	assert_true(st.writes >= 40);
	assert_true(st.write_bytes >= st.writes * LOG_BLOCK_BYTES);
	assert_true(st.log_bytes >= bytes + 200 * 40);
	assert_true(st.segments >= 2);
	assert_true(st.flush_ns_avg > 0);
	assert_true(st.flush_ns_p50 <= st.flush_ns_p99);
	assert_true(st.flush_ns_p99 <= st.flush_ns_max);
	assert_true(st.direct_io);
	assert_false(st.nospace || st.failed);
	uint64_t e;
	assert_int_equal(log_epoch_at(f.log, 0, &e), 0); /* the base */
	assert_int_equal(e, 0);
	assert_int_equal(log_epoch_at(f.log, 49, &e), 0);
	assert_int_equal(e, 1);
	assert_int_equal(log_epoch_at(f.log, 50, &e), 0);
	assert_int_equal(e, 2);
	assert_int_equal(log_epoch_at(f.log, 200, &e), 0);
	assert_int_equal(e, 5);
	assert_int_equal(log_epoch_at(f.log, 201, &e), -ENOENT);
	fx_close(&f);
	sim_disk_destroy(f.disk);
}

static void test_close_with_io_in_flight(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof(f));
	fx_disk_new(&f, 3);
	assert_int_equal(fx_open(&f), 0);
	fx_append_range(&f, 1, 1, 30);
	assert_int_equal(log_flush(f.log), 0);
	assert_true(sim_disk_inflight(f.disk) > 0);
	bool done = false;
	log_close(f.log, fx_close_done, &done);
	assert_false(done);
	sim_disk_run(f.disk);
	assert_true(done);
	assert_int_equal(f.durable, 30);
	log_destroy(f.log);
	f.log = NULL;
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 30);
	fx_close(&f);
	sim_disk_destroy(f.disk);
}

static void test_failure_during_open(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof(f));
	fx_disk_new(&f, 4);
	assert_int_equal(fx_open(&f), 0);
	fx_append_range(&f, 1, 1, 5);
	fx_flush_all(&f);
	fx_close(&f);
	sim_disk_fail(f.disk, SIM_DISK_READ, "seg-", -EIO, 1);
	assert_int_equal(fx_open(&f), -EIO);
	assert_int_equal(f.fatal_calls, 0);
	sim_disk_fail(f.disk, SIM_DISK_LIST, NULL, -EACCES, 1);
	assert_int_equal(fx_open(&f), -EACCES);
	/* No parent directory. */
	f.cfg.dir = "/nowhere/lane-007";
	assert_int_equal(fx_open(&f), -ENOENT);
	f.cfg.dir = FX_DIR;
	assert_int_equal(fx_open(&f), 0);
	assert_int_equal(log_last_index(f.log), 5);
	fx_close(&f);
	sim_disk_destroy(f.disk);
}

/* Closing at every step of an open (with a snapshot and segments to recover): the close
 * completes, the open is never reported, and no file is left open. */
static void test_close_during_open(void **state)
{
	(void)state;
	for (uint32_t k = 0;; k++) {
		struct fx f;
		memset(&f, 0, sizeof(f));
		fx_disk_new(&f, 5);
		assert_int_equal(fx_open(&f), 0);
		fx_append_range(&f, 1, 1, 300);
		fx_flush_all(&f);
		fx_close(&f);
		f.opened = false;
		struct log_callbacks cbs = { .durable = fx_durable_cb, .ctx = &f };
		struct log *log = log_open(&f.cfg, sim_disk_io(f.disk), &cbs, fx_open_cb, &f);
		uint32_t s = 0;
		while (s < k && !f.opened && sim_disk_step(f.disk))
			s++;
		bool was_open = f.opened;
		bool done = false;
		f.opened = false;
		log_close(log, fx_close_done, &done);
		sim_disk_run(f.disk);
		assert_true(done);
		assert_false(f.opened);
		log_destroy(log);
		assert_int_equal(sim_disk_open_files(f.disk), 0);
		assert_int_equal(fx_open(&f), 0);
		assert_int_equal(log_last_index(f.log), 300);
		fx_close(&f);
		sim_disk_destroy(f.disk);
		if (was_open)
			break;
	}
}

/* A log stopped by a failed write still closes, once its I/O has drained. */
static void test_close_after_fatal(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof(f));
	fx_disk_new(&f, 6);
	assert_int_equal(fx_open(&f), 0);
	sim_disk_fail(f.disk, SIM_DISK_WRITE, "seg-", -EIO, 1);
	fx_append_range(&f, 1, 1, 10);
	assert_int_equal(log_flush(f.log), 0);
	while (f.fatal_calls == 0)
		assert_true(sim_disk_step(f.disk));
	fx_close(&f);
	sim_disk_destroy(f.disk);
}

int main(void)
{
	log_level_min = LOG_LEVEL_ERROR + 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_configurations),
		cmocka_unit_test(test_stats_and_epochs),
		cmocka_unit_test(test_close_with_io_in_flight),
		cmocka_unit_test(test_failure_during_open),
		cmocka_unit_test(test_close_during_open),
		cmocka_unit_test(test_close_after_fatal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
