/* The simulated storage: appends durable only once their sync completes (in order, taking
 * earlier truncations with them), a crash that loses the rest (or lands a prefix, the last
 * torn), recovery that cuts a torn tail silently and treats corruption as damage, compaction,
 * failing syncs (sticky, nothing lands after them), metadata, and snapshot installation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sim/store.h"

static struct sim_sched sched;
static struct sim_rng rng;
static struct sim_store st;
static struct repl_io io;
static const struct sim_store_latency lat = { 100, 100, 10, 10, 50, 50, 20, 20 };

static int setup(void **state)
{
	(void)state;
	sim_sched_init(&sched);
	sim_rng_seed(&rng, 3);
	sim_store_init(&st, &sched, &rng, &lat);
	memset(&io, 0, sizeof(io));
	sim_store_io(&st, &io);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sim_store_crash(&st); /* drops pending requests' memory with the events below */
	sim_sched_run_until(&sched, UINT64_MAX);
	sim_store_free(&st);
	sim_sched_free(&sched);
	return 0;
}

static void append(uint64_t index, uint64_t epoch, const char *payload)
{
	struct repl_entry e = { .epoch = epoch, .index = index, .type = REPL_ENTRY_DATA,
				.payload = (const uint8_t *)payload, .len = (uint32_t)strlen(payload) };
	io.append(io.ctx, &e, 1);
}

static uint64_t recover_last(void)
{
	struct repl_boot boot;
	sim_store_recover(&st, &boot, NULL);
	return boot.last_index;
}

static void test_durable_after_sync(void **state)
{
	(void)state;
	append(1, 1, "a");
	append(2, 1, "b");
	assert_int_equal(sim_store_last(&st), 2);
	assert_int_equal(st.dur.n, 0);
	assert_int_equal(sim_store_pending(&st), 2);
	sim_sched_run_until(&sched, 150);
	assert_int_equal(st.dur.n, 2);
	assert_int_equal(sim_store_pending(&st), 0);
	assert_memory_equal(sim_store_get(&st, 2)->payload, "b", 1);
	assert_int_equal(st.stats.syncs, 2);
	/* Truncation reaches the disk with the next sync, and only then. */
	io.truncate(io.ctx, 2);
	append(2, 2, "B");
	assert_int_equal(st.dur.v[1].epoch, 1);
	sim_sched_run_until(&sched, 400);
	assert_int_equal(st.dur.v[1].epoch, 2);
	assert_int_equal(recover_last(), 2);
}

static void test_crash_loses_unsynced(void **state)
{
	(void)state;
	append(1, 1, "a");
	sim_sched_run_until(&sched, 150);
	for (uint64_t i = 2; i <= 6; i++)
		append(i, 1, "x");
	sim_store_crash(&st);
	sim_sched_run_until(&sched, 10000); /* completions of the old generation do nothing */
	/* Some prefix of 2..6 may have landed, the last of it torn: recovery cuts the torn one
	 * and reports no damage. */
	uint64_t last = recover_last();
	assert_true(last >= 1 && last <= 6);
	for (uint64_t i = 1; i <= last; i++)
		assert_int_equal(sim_store_get(&st, i)->flags, 0);
	assert_int_equal(st.meta.repair_index, 0);
	assert_int_equal(st.stats.damaged, 0);
}

static void test_torn_tail_and_corruption(void **state)
{
	(void)state;
	for (uint64_t i = 1; i <= 5; i++)
		append(i, 1, "x");
	sim_sched_run_until(&sched, 1000);
	st.dur.v[4].flags = SIM_REC_TORN; /* a torn last record */
	st.cur.v[4].flags = SIM_REC_TORN;
	assert_int_equal(recover_last(), 4);
	assert_int_equal(st.stats.torn_cut, 1);
	assert_int_equal(st.meta.repair_index, 0);
	assert_false(sim_store_corrupt(&st, 9));
	assert_true(sim_store_corrupt(&st, 2));
	assert_true(sim_store_has_corrupt(&st));
	assert_false(sim_store_corrupt(&st, 2)); /* already */
	sim_store_crash(&st);
	assert_int_equal(recover_last(), 1);
	assert_int_equal(st.meta.repair_index, 4);
	assert_int_equal(st.stats.damaged, 1);
	assert_false(sim_store_has_corrupt(&st));
}

static void test_failed_sync_is_sticky(void **state)
{
	(void)state;
	append(1, 1, "a");
	sim_sched_run_until(&sched, 150);
	st.fail_next_sync = true;
	append(2, 1, "b");
	append(3, 1, "c");
	sim_sched_run_until(&sched, 1000);
	assert_true(st.sync_failed);
	assert_int_equal(st.stats.sync_failures, 2);
	assert_int_equal(st.dur.n, 1);
	sim_store_crash(&st);
	assert_int_equal(recover_last(), 1);
	assert_false(st.sync_failed);
}

static void install(void *ctx, const struct repl_snapshot_meta *m, const uint8_t *bytes,
		    size_t len)
{
	uint64_t *installed = ctx;
	assert_int_equal(len, m->total_bytes);
	assert_memory_equal(bytes, "snapshot", 8);
	*installed = m->index;
}

static void test_compaction_and_snapshots(void **state)
{
	(void)state;
	for (uint64_t i = 1; i <= 10; i++)
		append(i, 1, "x");
	sim_sched_run_until(&sched, 2000);
	struct repl_snapshot_meta m = { .index = 8, .epoch = 1, .total_bytes = 8 };
	assert_int_equal(sim_store_compact(&st, &m, (const uint8_t *)"snapshot", 3), 6);
	assert_null(sim_store_get(&st, 5));
	assert_non_null(sim_store_get(&st, 6));
	sim_store_crash(&st);
	struct repl_boot boot;
	sim_store_recover(&st, &boot, NULL);
	assert_int_equal(boot.snapshot.index, 8);
	assert_int_equal(boot.last_index, 10);
	assert_int_equal(boot.n_runs, 1);
	assert_int_equal(boot.runs[0].start_index, 6);
	/* Installing a received snapshot replaces the log. */
	uint64_t installed = 0;
	st.install = install;
	st.install_ctx = &installed;
	struct repl_snapshot_meta big = { .index = 30, .epoch = 2, .total_bytes = 8 };
	io.snapshot_write(io.ctx, &big, 0, (const uint8_t *)"snap", 4, false);
	io.snapshot_write(io.ctx, &big, 4, (const uint8_t *)"shot", 4, true);
	sim_sched_run_until(&sched, 10000);
	assert_int_equal(installed, 30);
	assert_int_equal(st.snap.index, 30);
	assert_int_equal(sim_store_last(&st), 30);
	append(31, 2, "y");
	sim_sched_run_until(&sched, 20000);
	assert_int_equal(recover_last(), 31);
}

static void test_meta(void **state)
{
	(void)state;
	struct repl_meta m = { .epoch = 4, .vote = 2 };
	io.meta_save(io.ctx, &m);
	sim_store_crash(&st); /* lost */
	sim_sched_run_until(&sched, 1000);
	assert_int_equal(st.meta.epoch, 0);
	io.meta_save(io.ctx, &m);
	sim_sched_run_until(&sched, 2000);
	assert_int_equal(st.meta.epoch, 4);
	assert_int_equal(st.meta.vote, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_durable_after_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_loses_unsynced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail_and_corruption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_sync_is_sticky, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compaction_and_snapshots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
