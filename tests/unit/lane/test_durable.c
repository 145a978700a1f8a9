/* The durable lane's central promise, end to end on the simulated disk: no acknowledged
 * write is ever lost, and nothing is invented.
 *
 * A scripted workload over two lanes (writes of every kind, reads, snapshots taken along the
 * way) is crashed before every single disk operation it performs; each time a new lane set
 * recovers on the same disk (and that recovery is itself crashed at a varying step, then
 * recovered again), and every lane's state must be the state after some whole prefix of the
 * entries it was sent, a prefix that holds every acknowledged write. Relative expiry times
 * survive a restart as the absolute times they were made into. A randomized workload over
 * two loops, with crashes and clean restarts, is checked against the model key by key, for
 * many seeds; a failure prints its seed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "model.h"

/* A lane that acknowledged a write in its epoch had saved that epoch durably first (the
 * core saves primary_epoch before the epoch's first entry): after the crash, the newest valid
 * metadata record on the disk holds it. */
static void check_meta_durable(struct lf *f, uint32_t boot, const uint64_t *epochs)
{
	for (uint32_t lane = 0; lane < f->cfg.lanes; lane++) {
		bool acked = false;
		for (uint32_t i = 0; i < f->nops && !acked; i++)
			acked = f->ops[i]->boot == boot && f->ops[i]->req.lane == lane &&
				lf_op_acked(f->ops[i]);
		uint64_t pe = 0;
		int64_t seq = lf_meta_newest(f, lane, &pe);
		if (acked && (seq <= 0 || pe < epochs[lane]))
			fail_msg("%s: lane %u acknowledged writes in epoch %" PRIu64 " but after the "
				 "crash its metadata says %" PRIu64 " (record %" PRId64 ")", f->label,
				 lane, epochs[lane], pe, seq);
	}
}

/* ---- The scripted workload ---- */

#define SCRIPT_LANES 2
#define SCRIPT_ROUNDS 24
#define SCRIPT_VALUE_BYTES 1500
#define SCRIPT_SNAPSHOT_BYTES (12u * 1024)
#define SCRIPT_RECOVERY_CRASH_SPAN 48

static void script_round(struct lf *f, uint32_t r)
{
	static char val[SCRIPT_VALUE_BYTES + 1];
	memset(val, 'a' + (int)(r % 26), SCRIPT_VALUE_BYTES);
	int n = snprintf(val, SCRIPT_VALUE_BYTES, "r%u-", r);
	val[n] = 'x';
	val[SCRIPT_VALUE_BYTES] = '\0';
	lf_submit(f, 0, "SET a%u %s", r % 6, val);
	lf_submit(f, 0, "INCRBY n%u %u", r % 3, r + 1);
	if (r % 4 == 1)
		lf_submit(f, 0, "APPEND s%u -%u", r % 2, r);
	if (r % 5 == 2)
		lf_submit(f, 0, "SET e%u v%u PXAT %lld", r % 4, r, LF_FUTURE_MS + r);
	if (r % 6 == 3)
		lf_submit(f, 0, "PEXPIREAT a%u %lld", (r + 1) % 6, LF_FUTURE_MS + 1000ll * r);
	if (r % 7 == 4)
		lf_submit(f, 0, "PERSIST a%u", (r + 2) % 6);
	if (r % 8 == 5)
		lf_submit(f, 0, "DEL n%u", r % 3);
	if (r % 9 == 6)
		lf_submit(f, 0, "PEXPIREAT s%u 1", r % 2);
	if (r % 3 == 0)
		lf_submit(f, 0, "GET a%u", r % 6);
}

/* Runs the script until it is done or the disks halt; returns whether a snapshot was being
 * taken when they halted. */
static bool script_run(struct lf *f)
{
	for (uint32_t r = 0; r < SCRIPT_ROUNDS && !f->halted; r++) {
		script_round(f, r);
		lf_turn(f);
		if (r % 5 == 4)
			lf_turn(f);
		assert_int_equal(f->fatal_calls, 0);
	}
	if (!f->halted) {
		lf_wait(f, f->ops, f->nops);
		lf_settle(f);
	}
	assert_int_equal(f->fatal_calls, 0);
	assert_int_equal(f->early_acks, 0);
	return f->halted && lf_snapshot_running(f);
}

static void script_init(struct lf *f)
{
	struct lf_config cfg = { .loops = 1, .lanes = SCRIPT_LANES, .seed = 3,
				 .snapshot_every_bytes = SCRIPT_SNAPSHOT_BYTES };
	lf_init(f, &cfg);
}

/* Crashes the workload before its crash_at-th disk operation, crashes the recovery at step
 * rec_at of its own, recovers, and checks both lanes. Returns whether the first crash fell
 * in a snapshot. */
static bool crash_once(uint64_t crash_at, uint64_t rec_at)
{
	struct lf f;
	script_init(&f);
	snprintf(f.label, sizeof(f.label), "crash at %" PRIu64 ", recovery crash at %" PRIu64,
		 crash_at, rec_at);
	f.crash_at = crash_at;
	int rc = lf_boot(&f);
	if (rc == -EINTR) {
		lf_crash(&f);
		rc = lf_boot(&f);
	}
	assert_int_equal(rc, 0);
	uint32_t boot = f.boots;
	bool in_snapshot = script_run(&f);
	uint64_t epochs[SCRIPT_LANES];
	for (uint32_t lane = 0; lane < SCRIPT_LANES; lane++)
		epochs[lane] = lf_start_epoch(&f, lane);
	lf_crash(&f);
	check_meta_durable(&f, boot, epochs);
	f.crash_at = f.steps + rec_at;
	rc = lf_boot(&f);
	if (rc == -EINTR) {
		lf_crash(&f);
		rc = lf_boot(&f);
	}
	if (rc != 0)
		fail_msg("crash at %" PRIu64 ", recovery crash at %" PRIu64 ": recovery failed: %s",
			 crash_at, rec_at, f.fatal_why);
	struct lm empty;
	lm_init(&empty);
	for (uint32_t lane = 0; lane < SCRIPT_LANES; lane++)
		lf_check_lane(&f, &empty, boot, lane, NULL);
	/* The recovered lanes take writes again. */
	assert_string_equal(lf_call(&f, 0, "SET after crash"), "+OK\r\n");
	assert_string_equal(lf_call(&f, 0, "GET after"), "$5\r\ncrash\r\n");
	lf_fini(&f);
	return in_snapshot;
}

static void test_crash_at_every_step(void **state)
{
	(void)state;
	struct lf f;
	script_init(&f);
	assert_int_equal(lf_boot(&f), 0);
	script_run(&f);
	uint64_t total = lf_steps(&f);
	lf_fini(&f);
	assert_true(total > 100);
	uint32_t in_snapshot = 0;
	uint64_t first = 1;
	const char *only = getenv("LANE_CRASH_AT"); /* replays one crash point */
	if (only != NULL)
		first = total = strtoull(only, NULL, 10);
	for (uint64_t at = first; at <= total + 1; at++)
		in_snapshot += crash_once(at, 1 + at % SCRIPT_RECOVERY_CRASH_SPAN);
	/* The crashes did fall while snapshots were being written. */
	assert_true(in_snapshot > 0);
	print_message("crashed at each of %" PRIu64 " disk steps (%u inside a snapshot)\n",
		      total + 1, in_snapshot);
}

/* ---- Expiry times survive a restart as absolute times ---- */

static void test_ttl_absolute_across_restart(void **state)
{
	(void)state;
	struct lf f;
	struct lf_config cfg = { .loops = 1, .lanes = 1, .seed = 5 };
	lf_init(&f, &cfg);
	assert_int_equal(lf_boot(&f), 0);
	assert_string_equal(lf_call(&f, 0, "SET t1 v EX 100000"), "+OK\r\n");
	assert_string_equal(lf_call(&f, 0, "SET t2 v"), "+OK\r\n");
	assert_string_equal(lf_call(&f, 0, "PEXPIRE t2 5000000"), ":1\r\n");
	int64_t now = LF_NOW_MS;
	int64_t t1 = kv_db_expire_get(lf_db(&f, 0), "t1", 2, now);
	int64_t t2 = kv_db_expire_get(lf_db(&f, 0), "t2", 2, now);
	assert_true(t1 >= now + 100000 * 1000ll - 5000 && t1 <= now + 100000 * 1000ll);
	assert_true(t2 >= now + 5000000 - 5000 && t2 <= now + 5000000);
	lf_settle(&f);
	usleep(20 * 1000); /* a restart later must not move the times */
	lf_crash(&f);
	assert_int_equal(lf_boot(&f), 0);
	now = LF_NOW_MS;
	assert_int_equal(kv_db_expire_get(lf_db(&f, 0), "t1", 2, now), t1);
	assert_int_equal(kv_db_expire_get(lf_db(&f, 0), "t2", 2, now), t2);
	lf_shutdown(&f);
	usleep(20 * 1000);
	assert_int_equal(lf_boot(&f), 0);
	assert_int_equal(kv_db_expire_get(lf_db(&f, 0), "t1", 2, LF_NOW_MS), t1);
	lf_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ttl_absolute_across_restart),
		cmocka_unit_test(test_crash_at_every_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
