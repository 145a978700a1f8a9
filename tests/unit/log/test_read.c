/* Reads for catch-up: every entry comes back byte for byte from any starting index, across
 * segments and after a reopen, within the budget (but always at least one entry), only up
 * to the durable index; and the refusals: compacted, not durable yet, all buffers busy, a
 * truncation racing the read, a record damaged after the open. */
#include "fixture.h"

#include "base/log.h"

/* The epoch setup() gives entry i: batches of 25 from 1, epoch 1 + start / 100. */
static uint64_t epoch_of(uint64_t i)
{
	return 1 + ((i - 1) / 25 * 25 + 1) / 100;
}

static void setup(struct fx *f, uint64_t seed, uint64_t n)
{
	memset(f, 0, sizeof(*f));
	fx_disk_new(f, seed);
	assert_int_equal(fx_open(f), 0);
	for (uint64_t i = 1; i <= n; i += 25) {
		fx_append_range(f, epoch_of(i), i, MIN(i + 24, n));
		fx_flush_all(f);
	}
}

static void teardown(struct fx *f)
{
	if (f->log)
		fx_close(f);
	sim_disk_destroy(f->disk);
}

static struct fx_read do_read(struct fx *f, uint64_t from, uint32_t budget)
{
	struct fx_read r = { .rd = { .from_index = from, .budget_bytes = budget,
				     .cb = fx_read_cb } };
	assert_int_equal(log_read(f->log, &r.rd), 0);
	assert_false(r.done);
	sim_disk_run(f->disk);
	assert_true(r.done);
	return r;
}

static void test_every_start_and_budget(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 1, 500);
	for (uint64_t from = 1; from <= 500; from += 7) {
		struct fx_read r = do_read(&f, from, 0);
		assert_int_equal(r.err, 0);
		assert_int_equal(r.count, 1); /* at least one, even over the budget */
		assert_int_equal(r.first, from);
		assert_false(r.bad_payload);
		r = do_read(&f, from, 3000);
		assert_int_equal(r.err, 0);
		assert_false(r.bad_payload);
		uint64_t sum = 0;
		for (uint64_t i = r.first; i <= r.last; i++)
			sum += fx_len(epoch_of(i), i);
		assert_true(r.count == 1 || sum <= 3000);
	}
	assert_int_equal(fx_read_check(&f, 1, 500), 500);
	fx_close(&f);
	assert_int_equal(fx_open(&f), 0); /* the read checkpoints are rebuilt by recovery */
	assert_int_equal(fx_read_check(&f, 1, 500), 500);
	teardown(&f);
}

static void test_refusals(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 2, 100);
	struct fx_read r = { .rd = { .from_index = 0, .budget_bytes = 10, .cb = fx_read_cb } };
	assert_int_equal(log_read(f.log, &r.rd), -ENOENT);
	r.rd.from_index = 101;
	assert_int_equal(log_read(f.log, &r.rd), -ENODATA);
	assert_int_equal(fx_append(&f, 2, 101), 0);
	assert_int_equal(log_read(f.log, &r.rd), -ENODATA); /* appended, not durable */
	struct fx_read a = { .rd = { .from_index = 1, .budget_bytes = 10, .cb = fx_read_cb } };
	struct fx_read b = a, c = a;
	assert_int_equal(log_read(f.log, &a.rd), 0);
	assert_int_equal(log_read(f.log, &b.rd), 0);
	assert_int_equal(log_read(f.log, &c.rd), -EBUSY);
	sim_disk_run(f.disk);
	assert_true(a.done && b.done && !c.done);
	assert_int_equal(a.err, 0);
	teardown(&f);
}

static void test_truncation_races_read(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 3, 100);
	struct fx_read r = { .rd = { .from_index = 90, .budget_bytes = 10000,
				     .cb = fx_read_cb } };
	assert_int_equal(log_read(f.log, &r.rd), 0);
	assert_int_equal(log_truncate(f.log, 80), 0);
	sim_disk_run(f.disk);
	assert_true(r.done);
	assert_int_equal(r.err, -ESTALE);
	assert_int_equal(r.count, 0);
	/* Reads stop at the cut. */
	struct fx_read s = { .rd = { .from_index = 70, .budget_bytes = 100000,
				     .cb = fx_read_cb } };
	assert_int_equal(log_read(f.log, &s.rd), 0);
	sim_disk_run(f.disk);
	assert_int_equal(s.err, 0);
	assert_int_equal(s.last, 80);
	teardown(&f);
}

static void test_reads_stop_at_durable(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 4, 30);
	fx_append_range(&f, 1, 31, 40);
	assert_int_equal(log_flush(f.log), 0);
	/* The write of 31..40 is in flight: a read from 25 sees 25..30 only. */
	struct fx_read r = { .rd = { .from_index = 25, .budget_bytes = 100000,
				     .cb = fx_read_cb } };
	assert_int_equal(log_read(f.log, &r.rd), 0);
	sim_disk_run(f.disk);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.first, 25);
	assert_int_equal(r.last, 30);
	assert_int_equal(fx_read_check(&f, 25, 40), 16);
	teardown(&f);
}

static void test_damage_found_by_read(void **state)
{
	(void)state;
	struct fx f;
	setup(&f, 5, 30);
	/* Flip a byte in the middle of the first segment's records, after the open. */
	assert_int_equal(sim_disk_corrupt(f.disk, FX_DIR "/seg-0000000000000001", 4096 + 600, 64,
					  0x80), 0);
	struct fx_read r = { .rd = { .from_index = 1, .budget_bytes = 100000,
				     .cb = fx_read_cb } };
	assert_int_equal(log_read(f.log, &r.rd), 0);
	sim_disk_run(f.disk);
	assert_int_equal(r.err, -EBADMSG);
	assert_int_equal(r.count, 0);
	teardown(&f);
}

int main(void)
{
	log_level_min = LOG_LEVEL_ERROR + 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_start_and_budget),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_truncation_races_read),
		cmocka_unit_test(test_reads_stop_at_durable),
		cmocka_unit_test(test_damage_found_by_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
