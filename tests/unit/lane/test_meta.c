/* A durable lane's metadata (meta.c): two slot files, the newer valid record wins. A torn
 * save of one slot leaves the other; both slots damaged is an error that stops the lane with
 * a reason; and the record an epoch's first entry depends on is on the disk (names
 * included) before any write of that epoch is acknowledged. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "log/log.h"

#define META_SEEDS 100

static void boot_ok(struct lf *f)
{
	int rc = lf_boot(f);
	if (rc != 0)
		fail_msg("%s: boot failed (%d): %s", f->label, rc, f->fatal_why);
}

/* A fresh lane acknowledges a write, then the power fails: its metadata must have survived
 * (with disks that complete operations in any order). */
static void test_meta_durable_before_first_ack(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= META_SEEDS; seed++) {
		struct lf f;
		struct lf_config cfg = { .loops = 1, .lanes = 1, .seed = seed, .reorder = true };
		lf_init(&f, &cfg);
		snprintf(f.label, sizeof(f.label), "seed %" PRIu64, seed);
		boot_ok(&f);
		uint64_t epoch = lf_start_epoch(&f, 0);
		assert_string_equal(lf_call(&f, 0, "SET k v"), "+OK\r\n");
		lf_crash(&f);
		uint64_t pe = 0;
		int64_t seq = lf_meta_newest(&f, 0, &pe);
		if (seq <= 0 || pe < epoch)
			fail_msg("seed %" PRIu64 ": a write of epoch %" PRIu64 " was acknowledged, but "
				 "after the crash the metadata says %" PRIu64 " (record %" PRId64
				 ", meta.0 %s, meta.1 %s)", seed, epoch, pe, seq,
				 lf_meta_read(&f, 0, 0, &(uint64_t){ 0 }, &(uint64_t){ 0 }) == -ENOENT ?
				 "missing" : "present",
				 lf_meta_read(&f, 0, 1, &(uint64_t){ 0 }, &(uint64_t){ 0 }) == -ENOENT ?
				 "missing" : "present");
		boot_ok(&f);
		assert_true(lf_start_epoch(&f, 0) > epoch);
		assert_string_equal(lf_call(&f, 0, "GET k"), "$1\r\nv\r\n");
		lf_fini(&f);
	}
}

#define META_SLOW_DIR_TURNS 400

/* As above, with the lane directory slow to sync once the metadata files are being made: the
 * files' names are durable only after a sync of their directory, so a write must not be
 * acknowledged before one has completed. */
static void test_meta_names_durable_before_first_ack(void **state)
{
	(void)state;
	uint32_t seeds = 40;
	for (uint64_t seed = 1; seed <= seeds; seed++) {
		struct lf f;
		struct lf_config cfg = { .loops = 1, .lanes = 1, .seed = seed };
		lf_init(&f, &cfg);
		snprintf(f.label, sizeof(f.label), "seed %" PRIu64, seed);
		f.disks[0].hold_dir_syncs_after = "meta.";
		int rc = lf_boot_turns(&f, META_SLOW_DIR_TURNS);
		if (rc == -EAGAIN) {
			lf_release_syncs(&f);
			rc = lf_boot_wait(&f, LF_TURNS_MAX);
		}
		assert_int_equal(rc, 0);
		uint64_t epoch = lf_start_epoch(&f, 0);
		struct lf_op *w = lf_submit(&f, 0, "SET k v");
		if (!lf_wait_turns(&f, w, META_SLOW_DIR_TURNS)) {
			lf_release_syncs(&f);
			lf_wait_one(&f, w);
		}
		assert_true(lf_reply_is(w, "+OK\r\n"));
		lf_crash(&f);
		uint64_t pe = 0;
		int64_t seq = lf_meta_newest(&f, 0, &pe);
		if (seq <= 0 || pe < epoch)
			fail_msg("seed %" PRIu64 ": a write of epoch %" PRIu64 " was acknowledged, but "
				 "after the crash the metadata says %" PRIu64 " (record %" PRId64 ")",
				 seed, epoch, pe, seq);
		lf_fini(&f);
	}
}

/* ---- Torn and damaged slots ---- */

static void corrupt_slot(struct lf *f, int slot)
{
	char path[LOG_PATH_MAX], name[16];
	snprintf(name, sizeof(name), "meta.%d", slot);
	lf_lane_path(0, name, path, sizeof(path));
	assert_int_equal(sim_disk_corrupt(f->disks[0].sim, path, 28, 8, 0x5a), 0);
}

/* Two clean runs, each with a write, so that both slots hold records. Returns the slot with
 * the newer record. */
static int two_runs(struct lf *f, uint64_t seed)
{
	struct lf_config cfg = { .loops = 1, .lanes = 1, .seed = seed };
	lf_init(f, &cfg);
	for (int run = 0; run < 2; run++) {
		boot_ok(f);
		assert_string_equal(lf_call(f, 0, run == 0 ? "SET a 1" : "SET b 2"), "+OK\r\n");
		lf_shutdown(f);
	}
	uint64_t e, pe;
	int64_t s0 = lf_meta_read(f, 0, 0, &e, &pe), s1 = lf_meta_read(f, 0, 1, &e, &pe);
	assert_true(s0 > 0 && s1 > 0 && s0 != s1);
	return s0 > s1 ? 0 : 1;
}

/* A save torn in the newer slot (a crash during its write) leaves the older record: the
 * lane starts from it, in a new epoch, and its next save goes over the torn slot. */
static void test_torn_slot_leaves_the_other(void **state)
{
	(void)state;
	for (int torn_newer = 0; torn_newer < 2; torn_newer++) {
		struct lf f;
		int newer = two_runs(&f, 21 + (uint64_t)torn_newer);
		int torn = torn_newer ? newer : 1 - newer;
		uint64_t e, pe_other;
		int64_t seq_other = lf_meta_read(&f, 0, 1 - torn, &e, &pe_other);
		corrupt_slot(&f, torn);
		assert_int_equal(lf_meta_read(&f, 0, torn, &e, &e), 0);
		boot_ok(&f);
		assert_true(lf_start_epoch(&f, 0) > pe_other);
		assert_string_equal(lf_call(&f, 0, "GET a"), "$1\r\n1\r\n");
		assert_string_equal(lf_call(&f, 0, "GET b"), "$1\r\n2\r\n");
		uint64_t pe;
		int64_t seq = lf_meta_read(&f, 0, torn, &e, &pe);
		assert_int_equal(seq, seq_other + 1); /* the torn slot was the one written next */
		lf_fini(&f);
	}
}

/* Neither slot holds a valid record although both have been written: the lane must not
 * start as if it had never promised anything. */
static void test_both_slots_damaged_is_an_error(void **state)
{
	(void)state;
	struct lf f;
	two_runs(&f, 23);
	corrupt_slot(&f, 0);
	corrupt_slot(&f, 1);
	assert_int_equal(lf_boot(&f), -EIO);
	assert_int_equal(f.fatal_lane, 0);
	assert_int_equal(f.fatal_err, -EBADMSG);
	assert_non_null(strstr(f.fatal_why, "meta.0"));
	assert_non_null(strstr(f.fatal_why, "meta.1"));
	lf_fini(&f);
}

/* A first save torn before any record was complete: slot 1 holds garbage, slot 0 nothing.
 * Nothing was ever promised, so the lane starts. */
static void test_first_save_torn_is_a_fresh_start(void **state)
{
	(void)state;
	struct lf f;
	struct lf_config cfg = { .loops = 1, .lanes = 1, .seed = 24 };
	lf_init(&f, &cfg);
	boot_ok(&f);
	lf_shutdown(&f);
	char p0[LOG_PATH_MAX];
	lf_lane_path(0, "meta.0", p0, sizeof(p0));
	assert_int_equal(sim_disk_remove(f.disks[0].sim, p0), 0);
	assert_int_equal(sim_disk_file_write(f.disks[0].sim, p0, 0, "", 0), 0);
	corrupt_slot(&f, 1);
	boot_ok(&f);
	assert_string_equal(lf_call(&f, 0, "SET c 3"), "+OK\r\n");
	lf_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_durable_before_first_ack),
		cmocka_unit_test(test_meta_names_durable_before_first_ack),
		cmocka_unit_test(test_torn_slot_leaves_the_other),
		cmocka_unit_test(test_both_slots_damaged_is_an_error),
		cmocka_unit_test(test_first_save_torn_is_a_fresh_start),
	};
	lf_test_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
