/* Segments: the header block each starts with; preparing the next one ahead of need, with
 * fallocate, with zeros written over it, or with zeros when fallocate is not supported; a
 * stale temporary file in the way; a failure while preparing is fatal, ENOSPC is not. */
#include "fixture.h"

#include "base/crc.h"
#include "base/log.h"

#define SEG(n) FX_DIR "/seg-000000000000000" #n

static void test_header_block(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof(f));
	fx_disk_new(&f, 1);
	assert_int_equal(fx_open(&f), 0);
	/* Open made segment 1 current and prepared segment 2, both whole. */
	uint64_t size = 0;
	assert_int_equal(sim_disk_file_size(f.disk, SEG(1), &size), 0);
	assert_int_equal(size, f.cfg.segment_bytes);
	assert_int_equal(sim_disk_file_size(f.disk, SEG(2), &size), 0);
	assert_int_equal(size, f.cfg.segment_bytes);
	uint8_t hdr[64];
	assert_int_equal(sim_disk_file_read(f.disk, SEG(2), 0, hdr, 64), 64);
	assert_memory_equal(hdr, "SPNDLSEG", 8);
	assert_int_equal(hdr[8], LOG_FORMAT_VERSION);
	assert_int_equal(hdr[12], 7);      /* lane */
	assert_int_equal(hdr[16], 2);      /* sequence */
	uint32_t crc = hdr[60] | hdr[61] << 8 | hdr[62] << 16 | (uint32_t)hdr[63] << 24;
	assert_int_equal(crc, crc32c(hdr, 60));
	fx_close(&f);
	sim_disk_destroy(f.disk);
}

static void test_zero_fill_and_fallback(void **state)
{
	(void)state;
	for (int mode = 0; mode < 2; mode++) {
		struct fx f;
		memset(&f, 0, sizeof(f));
		fx_disk_new(&f, 2);
		if (mode == 0)
			f.cfg.zero_fill = true;
		else
			sim_disk_fail(f.disk, SIM_DISK_FALLOCATE, NULL, -EOPNOTSUPP, 100);
		assert_int_equal(fx_open(&f), 0);
		struct sim_disk_stats st;
		sim_disk_stats_get(f.disk, &st);
		/* Two segments, each all but its header written with zeros. */
		assert_true(st.bytes_written >= 2 * (f.cfg.segment_bytes - LOG_BLOCK_BYTES));
		fx_append_range(&f, 1, 1, 400);
		fx_flush_all(&f);
		fx_close(&f);
		assert_int_equal(fx_open(&f), 0);
		assert_int_equal(fx_read_check(&f, 1, 400), 400);
		fx_close(&f);
		sim_disk_destroy(f.disk);
	}
}

static void test_stale_temporary_in_the_way(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof(f));
	fx_disk_new(&f, 3);
	assert_int_equal(fx_open(&f), 0);
	/* Segment 3 is prepared at the first roll-over: put a stale file in its way. */
	assert_int_equal(sim_disk_file_write(f.disk, SEG(3) ".tmp", 0, "stale", 5), 5);
	fx_append_range(&f, 1, 1, 400);
	fx_flush_all(&f);
	assert_int_equal(f.durable, 400);
	assert_int_equal(f.fatal_calls, 0);
	assert_true(sim_disk_exists(f.disk, SEG(3)));
	fx_close(&f);
	sim_disk_destroy(f.disk);
}

static void test_prepare_failure_is_fatal(void **state)
{
	(void)state;
	struct fx f;
	memset(&f, 0, sizeof(f));
	fx_disk_new(&f, 4);
	assert_int_equal(fx_open(&f), 0);
	sim_disk_fail(f.disk, SIM_DISK_RENAME, "seg-", -EIO, 1);
	fx_append_range(&f, 1, 1, 200); /* rolls over: the next segment is being prepared */
	fx_flush_all(&f);
	assert_int_equal(f.fatal_calls, 1);
	assert_int_equal(f.fatal_err, -EIO);
	assert_non_null(strstr(f.fatal_msg, "prepare"));
	fx_close(&f);
	sim_disk_destroy(f.disk);
}

int main(void)
{
	log_level_min = LOG_LEVEL_ERROR + 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_block),
		cmocka_unit_test(test_zero_fill_and_fallback),
		cmocka_unit_test(test_stale_temporary_in_the_way),
		cmocka_unit_test(test_prepare_failure_is_fatal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
