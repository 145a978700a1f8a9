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

#define META_SEEDS 200

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_durable_before_first_ack),
		cmocka_unit_test(test_meta_names_durable_before_first_ack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
