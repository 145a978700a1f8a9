/* A durable lane's storage faults (store.c): a full disk refuses writes with MISCONF while
 * reads go on, and writes resume once there is room, losing nothing acknowledged; a failed
 * flush, log write or metadata write stops the lane through the fatal callback with a reason,
 * and nothing is acknowledged after it; corruption in the middle of the log stops recovery
 * with the file and the offset. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lane/lane_priv.h"
#include "log/log.h"
#include "log/record.h"
#include "model.h"

#define FULL_VALUE_BYTES (64u * 1024)
#define FULL_WRITES_MAX 400
#define FULL_RESUME_TRIES 50

static void boot_ok(struct lf *f)
{
	int rc = lf_boot(f);
	if (rc != 0)
		fail_msg("%s: boot failed (%d): %s", f->label, rc, f->fatal_why);
}

static struct lf_op *write_value(struct lf *f, struct lm *m, uint32_t i)
{
	static char val[FULL_VALUE_BYTES];
	char key[32];
	memset(val, 'a' + (int)(i % 26), sizeof(val));
	snprintf(key, sizeof(key), "k%u", i % 37);
	struct resp_arg argv[3] = { { "SET", 3 }, { key, strlen(key) }, { val, sizeof(val) } };
	struct lf_op *op = lf_submitv(f, 0, UINT32_MAX, 3, argv);
	if (m != NULL) {
		char reply[LM_REPLY_BYTES_MAX];
		assert_int_equal(lm_apply(m, 3, argv, LF_NOW_MS, reply, sizeof(reply)), 0);
	}
	return op;
}

static void check_model(struct lf *f, struct lm *m, const char *when)
{
	char why[LF_WHY_BYTES];
	if (!lm_matches_db(m, lf_db(f, 0), LF_NOW_MS, why, sizeof(why)))
		fail_msg("%s: %s", when, why);
}

/* ---- A full disk ---- */

/* Writes until one is taken again (refused with MISCONF until then); m follows. */
static void resume_writes(struct lf *f, struct lm *m, uint32_t from)
{
	struct lm tried;
	lm_init(&tried);
	bool resumed = false;
	for (uint32_t t = 0; t < FULL_RESUME_TRIES && !resumed; t++) {
		lf_settle(f);
		lm_copy(&tried, m);
		struct lf_op *w = write_value(f, &tried, from + t);
		lf_wait_one(f, w);
		resumed = lf_reply_is(w, "+OK\r\n");
		if (resumed)
			lm_copy(m, &tried);
		else
			assert_true(lf_reply_starts(w, "-MISCONF "));
	}
	assert_true(resumed);
	lm_free(&tried);
}

static void full_disk(uint64_t snapshot_every_bytes)
{
	struct lf f;
	/* Room for two segments and the metadata: the third segment cannot be prepared. */
	struct lf_config cfg = { .loops = 1, .lanes = 1, .seed = 31,
				 .capacity_bytes = 2 * LF_SEGMENT_BYTES + (256u << 10),
				 .snapshot_every_bytes = snapshot_every_bytes };
	lf_init(&f, &cfg);
	snprintf(f.label, sizeof(f.label), "full disk, snapshots every %" PRIu64 " bytes",
		 snapshot_every_bytes);
	boot_ok(&f);
	struct lm m, tried;
	lm_init(&m);
	lm_init(&tried);
	uint32_t i = 0, refused = 0;
	for (; i < FULL_WRITES_MAX && refused == 0; i++) {
		struct lf_op *op = write_value(&f, &tried, i);
		lf_wait_one(&f, op);
		if (lf_reply_starts(op, "-MISCONF "))
			refused++;
		else
			assert_true(lf_reply_is(op, "+OK\r\n"));
		if (refused == 0)
			lm_copy(&m, &tried);
	}
	assert_int_equal(refused, 1);
	assert_int_equal(f.fatal_calls, 0);
	/* Reads go on, and writes stay refused while the disk is full. */
	check_model(&f, &m, "disk full");
	struct lf_op *r = lf_submit(&f, 0, "GET k0");
	lf_wait_one(&f, r);
	assert_true(lf_reply_starts(r, "$65536\r\n"));
	lf_settle(&f);
	struct lf_op *w = write_value(&f, NULL, i);
	lf_wait_one(&f, w);
	assert_true(lf_reply_starts(w, "-MISCONF "));
	/* Room again: writes resume once the log has prepared its next segment. */
	sim_disk_capacity_set(f.disks[0].sim, 0);
	resume_writes(&f, &m, i + 1);
	for (uint32_t k = 0; k < 40; k++) {
		w = write_value(&f, &m, 1000 + k);
		lf_wait_one(&f, w);
		assert_true(lf_reply_is(w, "+OK\r\n"));
	}
	/* A snapshot that failed for lack of room is taken once there is room. */
	struct log_stats st = { 0 };
	for (int t = 0; t < 5000 && snapshot_every_bytes > 0 && st.snapshot_index == 0; t++) {
		lf_turn(&f);
		log_stats_get(f.set->lanes[0].log, &st);
	}
	assert_true(snapshot_every_bytes == 0 || st.snapshot_index > 0);
	/* Nothing acknowledged was lost. */
	lf_crash(&f);
	boot_ok(&f);
	check_model(&f, &m, "after the crash");
	assert_int_equal(f.early_acks, 0);
	lm_free(&m);
	lm_free(&tried);
	lf_fini(&f);
}

static void test_full_disk_refuses_then_resumes(void **state)
{
	(void)state;
	full_disk(0);
}

/* Snapshots are due while the disk is full: they fail for lack of room, and must neither
 * spin nor get in the way of the writes resuming. */
static void test_full_disk_with_snapshots_due(void **state)
{
	(void)state;
	full_disk(512u << 10);
}

/* ---- Failed writes and flushes: fail-stop ---- */

struct fault {
	enum sim_disk_op op;
	const char *path;
	const char *why;             /* expected in the fatal reason */
};

/* Injects the fault while writes flow; checks the fatal callback, that nothing is
 * acknowledged after it, and that a restart keeps what was acknowledged before it. */
static void fail_stop_with(const struct fault *fault, uint64_t seed)
{
	struct lf f;
	struct lf_config cfg = { .loops = 1, .lanes = 1, .seed = seed };
	lf_init(&f, &cfg);
	snprintf(f.label, sizeof(f.label), "%s fault", fault->why);
	boot_ok(&f);
	uint32_t boot = f.boots;
	for (int i = 0; i < 10; i++)
		assert_string_equal(lf_call(&f, 0, "SET before%d v%d", i, i), "+OK\r\n");
	lf_settle(&f);
	sim_disk_fail(f.disks[0].sim, fault->op, fault->path, -EIO, 1);
	uint32_t first_after = f.nops;
	for (int i = 0; i < 30 && f.fatal_calls == 0; i++) {
		lf_submit(&f, 0, "SET after%d v%d", i, i);
		lf_submit(&f, 0, "INCRBY counter %d", i);
		lf_turn(&f);
	}
	lf_settle(&f);
	if (f.fatal_calls == 0)
		fail_msg("%s: no fatal callback", f.label);
	assert_int_equal(f.fatal_err, -EIO);
	if (strstr(f.fatal_why, fault->why) == NULL)
		fail_msg("%s: the reason '%s' does not say '%s'", f.label, f.fatal_why, fault->why);
	for (uint32_t i = first_after; i < f.nops; i++)
		if (lf_op_acked(f.ops[i]))
			fail_msg("%s: write %u acknowledged after the fault", f.label, i);
	/* Stopped: new writes are refused at once, never acknowledged. */
	struct lf_op *late = lf_submit(&f, 0, "SET late x");
	assert_true(lf_reply_starts(late, "-ERR "));
	lf_crash(&f);
	boot_ok(&f);
	struct lm empty;
	lm_init(&empty);
	lf_check_lane(&f, &empty, boot, 0, NULL);
	for (int i = 0; i < 10; i++) {
		char want[32];
		snprintf(want, sizeof(want), "$2\r\nv%d\r\n", i);
		assert_string_equal(lf_call(&f, 0, "GET before%d", i), want);
	}
	lf_fini(&f);
}

static void test_flush_error_stops_the_lane(void **state)
{
	(void)state;
	struct fault fault = { SIM_DISK_SYNC, "seg-", "flush of /data/lane-000/seg-" };
	fail_stop_with(&fault, 41);
}

static void test_write_error_stops_the_lane(void **state)
{
	(void)state;
	struct fault fault = { SIM_DISK_WRITE, "seg-", "write of " };
	fail_stop_with(&fault, 42);
}

/* A metadata save that fails at start: the lane stops before it serves. */
static void test_meta_write_error_stops_the_lane(void **state)
{
	(void)state;
	struct lf f;
	struct lf_config cfg = { .loops = 1, .lanes = 1, .seed = 43 };
	lf_init(&f, &cfg);
	sim_disk_fail(f.disks[0].sim, SIM_DISK_WRITE, "meta.", -EIO, 1);
	assert_int_equal(lf_boot(&f), -EIO);
	assert_int_equal(f.fatal_err, -EIO);
	if (strstr(f.fatal_why, "meta") == NULL)
		fail_msg("the reason '%s' does not name the metadata", f.fatal_why);
	lf_fini(&f);
}

/* ---- Corruption in the middle of the log ---- */

/* The offset of entry index in a segment file of lane 0, or 0. */
static uint64_t find_record(struct lf *f, const char *path, uint64_t index)
{
	uint64_t size = 0;
	if (sim_disk_file_size(f->disks[0].sim, path, &size) != 0)
		return 0;
	uint8_t *buf = malloc(size);
	assert_non_null(buf);
	assert_int_equal(sim_disk_file_read(f->disks[0].sim, path, 0, buf, size), (int)size);
	uint64_t pos = LOG_BLOCK_BYTES, found = 0;
	while (pos < size && found == 0) {
		struct log_record r;
		uint32_t used;
		if (log_record_decode(buf + pos, size - pos, &r, &used) != LOG_RECORD_OK)
			break;
		if (r.kind == LOG_RECORD_ENTRY && r.index == index)
			found = pos;
		pos += used;
	}
	free(buf);
	return found;
}

static void test_corrupt_sector_mid_log_refuses(void **state)
{
	(void)state;
	struct lf f;
	struct lf_config cfg = { .loops = 1, .lanes = 1, .seed = 51 };
	lf_init(&f, &cfg);
	boot_ok(&f);
	char val[700];
	memset(val, 'z', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	for (int i = 0; i < 60; i++)
		assert_string_equal(lf_call(&f, 0, "SET k%d %s", i, val), "+OK\r\n");
	lf_shutdown(&f);
	char seg[LOG_PATH_MAX];
	lf_lane_path(0, "seg-0000000000000001", seg, sizeof(seg));
	uint64_t off = find_record(&f, seg, 20);
	assert_true(off > 0);
	/* A whole sector inside the record's body goes bad. */
	uint64_t sector = (off + LOG_RECORD_HEADER_BYTES + 511) / 512 * 512;
	assert_int_equal(sim_disk_corrupt(f.disks[0].sim, seg, sector, 512, 0xff), 0);
	assert_int_equal(lf_boot(&f), -EIO);
	assert_int_equal(f.fatal_err, -EBADMSG);
	char want[64];
	snprintf(want, sizeof(want), "at offset %" PRIu64, off);
	if (strstr(f.fatal_why, seg) == NULL || strstr(f.fatal_why, want) == NULL)
		fail_msg("the reason '%s' does not name %s %s", f.fatal_why, seg, want);
	/* It stays refused: nothing was cut away by the failed attempt. */
	lf_shutdown(&f);
	assert_int_equal(lf_boot(&f), -EIO);
	assert_int_equal(f.fatal_err, -EBADMSG);
	lf_fini(&f);
}

/* ---- Stopping while recovering ---- */

#define STOP_WRITES 120

/* A clean stop (SIGTERM) may come at any point of a recovery: each turn of one in turn. The
 * lanes must close without touching what they closed, and the next start finds everything. */
static void test_stop_at_every_turn_of_recovery(void **state)
{
	(void)state;
	struct lf f;
	struct lf_config cfg = { .loops = 1, .lanes = 2, .seed = 61,
				 .snapshot_every_bytes = 64u << 10 };
	lf_init(&f, &cfg);
	boot_ok(&f);
	static char val[20000];
	for (int i = 0; i < STOP_WRITES; i++) {
		memset(val, 'a' + i % 26, sizeof(val) - 1);
		val[sizeof(val) - 1] = '\0';
		struct lf_op *op = lf_submit(&f, 0, "SET k%d %s", i % 40, val);
		if (i % 8 == 7)
			lf_wait_one(&f, op);
	}
	lf_wait(&f, f.ops, f.nops);
	lf_settle(&f);
	lf_shutdown(&f);
	uint64_t turns = 0;
	assert_int_equal(lf_boot(&f), 0);
	lf_shutdown(&f);
	/* How many turns a recovery takes, then a stop after each of them. */
	uint64_t before = f.turns[0];
	assert_int_equal(lf_boot(&f), 0);
	turns = f.turns[0] - before;
	lf_shutdown(&f);
	assert_true(turns > 5);
	for (uint64_t t = 0; t <= turns; t++) {
		snprintf(f.label, sizeof(f.label), "stopped after %" PRIu64 " turns of recovery", t);
		int rc = lf_boot_turns(&f, t);
		assert_true(rc == 0 || rc == -EAGAIN);
		lf_shutdown(&f);
	}
	print_message("stopped after each of the %" PRIu64 " turns of a recovery\n", turns + 1);
	boot_ok(&f);
	for (int k = 0; k < 40; k++) {
		int last = STOP_WRITES - 40 + k;
		if (last % 40 != k)
			last = k + 40 * ((STOP_WRITES - 1 - k) / 40);
		const char *got;
		size_t len;
		char key[16];
		snprintf(key, sizeof(key), "k%d", k);
		assert_true(kv_db_get(lf_db(&f, lf_lane_of(&f, key)), key, strlen(key), LF_NOW_MS, &got,
				      &len));
		assert_int_equal(len, sizeof(val) - 1);
		assert_int_equal(got[0], 'a' + last % 26);
	}
	lf_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_disk_refuses_then_resumes),
		cmocka_unit_test(test_full_disk_with_snapshots_due),
		cmocka_unit_test(test_flush_error_stops_the_lane),
		cmocka_unit_test(test_write_error_stops_the_lane),
		cmocka_unit_test(test_meta_write_error_stops_the_lane),
		cmocka_unit_test(test_corrupt_sector_mid_log_refuses),
		cmocka_unit_test(test_stop_at_every_turn_of_recovery),
	};
	lf_test_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
