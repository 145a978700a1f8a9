/* Snapshots of a durable lane (snap.c) on the simulated disk: taken while writes go on when
 * the log has grown past snapshot_every_bytes, loaded at start (a stream of several chunks,
 * and one of a single chunk), after which the log before them is gone; the state after a
 * restart, clean or not, equals the model's. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lane/lane_priv.h"
#include "model.h"

#define SNAP_KEYS 40
#define SNAP_VALUE_BYTES (64u * 1024)
#define SNAP_WRITES 320               /* about 20 MB of log: three segments */
#define SNAP_EVERY_BYTES (2u << 20)

static void value_fill(char *val, size_t len, uint32_t i)
{
	memset(val, 'a' + (int)(i % 26), len);
	int n = snprintf(val, len, "w%u:", i);
	val[n] = '.';
}

/* Writes SNAP_WRITES values over SNAP_KEYS keys, some with expiry times, into lane 0,
 * applying them to the model too; waits for every reply. */
static void write_load(struct lf *f, struct lm *m, uint32_t from, uint32_t count)
{
	static char val[SNAP_VALUE_BYTES];
	struct lf_op **ops = calloc(count, sizeof(*ops));
	char key[32], reply[LM_REPLY_BYTES_MAX], when[32];
	for (uint32_t i = 0; i < count; i++) {
		uint32_t w = from + i;
		value_fill(val, sizeof(val), w);
		snprintf(key, sizeof(key), "k%u", (w * 7) % SNAP_KEYS);
		snprintf(when, sizeof(when), "%lld", LF_FUTURE_MS + w);
		struct resp_arg argv[5] = { { "SET", 3 }, { key, strlen(key) }, { val, sizeof(val) },
					    { "PXAT", 4 }, { when, strlen(when) } };
		uint32_t argc = w % 3 == 0 ? 5 : 3;
		ops[i] = lf_submitv(f, 0, 0, argc, argv);
		assert_int_equal(lm_apply(m, argc, argv, LF_NOW_MS, reply, sizeof(reply)), 0);
		if (w % 8 == 7) {
			snprintf(key, sizeof(key), "k%u", (w * 3) % SNAP_KEYS);
			struct resp_arg del[2] = { { "DEL", 3 }, { key, strlen(key) } };
			lf_submitv(f, 0, 0, 2, del);
			assert_int_equal(lm_apply(m, 2, del, LF_NOW_MS, reply, sizeof(reply)), 0);
		}
		if (i % 4 == 3)
			lf_turn(f);
	}
	lf_wait(f, ops, count);
	for (uint32_t i = 0; i < count; i++)
		assert_true(lf_reply_is(ops[i], "+OK\r\n"));
	free(ops);
	lf_settle(f);
}

static void boot_ok(struct lf *f)
{
	int rc = lf_boot(f);
	if (rc != 0)
		fail_msg("recovery failed (%d): %s", rc, f->fatal_why);
}

static void check_model(struct lf *f, struct lm *m)
{
	char why[LF_WHY_BYTES];
	if (!lm_matches_db(m, lf_db(f, 0), LF_NOW_MS, why, sizeof(why)))
		fail_msg("after restart: %s", why);
}

static void test_snapshots_then_restart(void **state)
{
	(void)state;
	struct lf f;
	struct lf_config cfg = { .loops = 1, .lanes = 1, .seed = 11,
				 .snapshot_every_bytes = SNAP_EVERY_BYTES };
	lf_init(&f, &cfg);
	assert_int_equal(lf_boot(&f), 0);
	struct lm m;
	lm_init(&m);
	write_load(&f, &m, 0, SNAP_WRITES);
	struct log_stats st;
	log_stats_get(f.set->lanes[0].log, &st);
	assert_true(st.snapshot_index > 0);
	assert_true(st.snapshot_bytes > 2 * LOG_SNAP_CHUNK_BYTES); /* several chunks */
	assert_true(st.first_index > 1);                          /* the log was cut */
	char seg1[LOG_PATH_MAX];
	lf_lane_path(0, "seg-0000000000000001", seg1, sizeof(seg1));
	assert_false(sim_disk_exists(f.disks[0].sim, seg1));
	/* Older snapshots are deleted once a newer one is durable; the live segments are those
	 * after the snapshot, plus the one prepared ahead. */
	assert_int_equal(lf_count_files(&f, 0, "snap-"), 1);
	assert_true(lf_count_files(&f, 0, "seg-") <= st.segments + 1);
	check_model(&f, &m);
	/* A clean restart, then a crash. */
	lf_shutdown(&f);
	boot_ok(&f);
	check_model(&f, &m);
	write_load(&f, &m, SNAP_WRITES, SNAP_WRITES / 4);
	lf_crash(&f);
	boot_ok(&f);
	check_model(&f, &m);
	lm_free(&m);
	lf_fini(&f);
}

/* A small state: its snapshot is one chunk. */
static void test_small_snapshot_restart(void **state)
{
	(void)state;
	struct lf f;
	struct lf_config cfg = { .loops = 1, .lanes = 1, .seed = 12, .snapshot_every_bytes = 4096 };
	lf_init(&f, &cfg);
	assert_int_equal(lf_boot(&f), 0);
	struct lm m;
	lm_init(&m);
	char reply[LM_REPLY_BYTES_MAX];
	for (int i = 0; i < 200; i++) {
		struct lf_op *op = lf_submit(&f, 0, "INCRBY c%d %d", i % 5, i);
		lf_wait_one(&f, op);
		assert_int_equal(lm_apply(&m, op->argc, op->argv, LF_NOW_MS, reply, sizeof(reply)), 0);
		assert_string_equal(op->reply, reply);
	}
	lf_settle(&f);
	struct log_stats st;
	log_stats_get(f.set->lanes[0].log, &st);
	assert_true(st.snapshot_index > 0 && st.snapshot_bytes < LOG_SNAP_CHUNK_BYTES);
	lf_shutdown(&f);
	boot_ok(&f);
	check_model(&f, &m);
	lm_free(&m);
	lf_fini(&f);
}

/* A clean stop while a snapshot is being written: the snapshot is abandoned (the log reports
 * it cancelled after the lane has closed), the old state stays whole. */
static void test_stop_during_snapshot(void **state)
{
	(void)state;
	for (uint64_t seed = 13; seed < 17; seed++) {
		struct lf f;
		struct lf_config cfg = { .loops = 1, .lanes = 1, .seed = seed,
					 .snapshot_every_bytes = SNAP_EVERY_BYTES };
		lf_init(&f, &cfg);
		boot_ok(&f);
		struct lm m;
		lm_init(&m);
		static char val[SNAP_VALUE_BYTES];
		char reply[LM_REPLY_BYTES_MAX], key[32];
		bool running = false;
		for (uint32_t w = 0; w < SNAP_WRITES && !running; w++) {
			value_fill(val, sizeof(val), w);
			snprintf(key, sizeof(key), "k%u", w % SNAP_KEYS);
			struct resp_arg argv[3] = { { "SET", 3 }, { key, strlen(key) }, { val, sizeof(val) } };
			struct lf_op *op = lf_submitv(&f, 0, 0, 3, argv);
			assert_int_equal(lm_apply(&m, 3, argv, LF_NOW_MS, reply, sizeof(reply)), 0);
			for (int t = 0; t < 1000 && !op->done && !running; t++) {
				lf_turn(&f);
				running = lf_snapshot_running(&f);
			}
			lf_wait_one(&f, op);
			assert_true(lf_reply_is(op, "+OK\r\n"));
		}
		assert_true(running);
		lf_shutdown(&f);
		boot_ok(&f);
		check_model(&f, &m);
		lm_free(&m);
		lf_fini(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_snapshot_restart),
		cmocka_unit_test(test_snapshots_then_restart),
		cmocka_unit_test(test_stop_during_snapshot),
	};
	lf_test_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
