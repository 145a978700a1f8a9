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

#define BIG_VALUE_BYTES (200u * 1024)
#define BIG_WRITES 120           /* 24 MB: more than the core keeps while the disk stalls */

static struct lf_op *submit_big(struct lf *f, uint32_t loop, const char *key, char fill)
{
	static char val[BIG_VALUE_BYTES];
	memset(val, fill, sizeof(val));
	struct resp_arg argv[3] = { { "SET", 3 }, { key, strlen(key) }, { val, sizeof(val) } };
	return lf_submitv(f, loop, UINT32_MAX, 3, argv);
}

/* The disk stalls (syncs held) while large writes keep coming: the core's window fills up.
 * The lane must push back (hold the writes, or refuse them with an error), never lose or
 * break anything; once the disk moves again every write that was not refused is answered,
 * in order, and the state is the last of them. */
static void test_stalled_disk_backpressure(void **state)
{
	(void)state;
	struct lf f;
	boot_one(&f, 1, 1);
	f.disks[0].hold_syncs = true;
	struct lf_op *w[BIG_WRITES];
	for (int i = 0; i < BIG_WRITES; i++) {
		w[i] = submit_big(&f, 0, "big", (char)('a' + i % 26));
		if (i % 4 == 3)
			lf_turn(&f);
	}
	lf_settle(&f);
	for (int i = 0; i < BIG_WRITES; i++)
		assert_true(!w[i]->done || w[i]->reply[0] == '-');
	lf_release_syncs(&f);
	lf_wait(&f, w, BIG_WRITES);
	int last_ok = -1, refused = 0;
	for (int i = 0; i < BIG_WRITES; i++) {
		assert_true(w[i]->done);
		if (w[i]->reply[0] == '-') {
			assert_true(lf_reply_starts(w[i], "-TRYAGAIN "));
			refused++;
			continue;
		}
		assert_true(lf_reply_is(w[i], "+OK\r\n"));
		if (last_ok >= 0)
			assert_true(w[i]->done_seq > w[last_ok]->done_seq);
		last_ok = i;
	}
	assert_true(last_ok >= 0);
	assert_true(refused > 0); /* the window did fill up */
	const char *val;
	size_t len;
	assert_true(kv_db_get(lf_db(&f, 0), "big", 3, 0, &val, &len));
	assert_int_equal(len, BIG_VALUE_BYTES);
	assert_int_equal(val[0], 'a' + last_ok % 26);
	assert_int_equal(f.early_acks, 0);
	assert_int_equal(f.fatal_calls, 0);
	lf_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_then_read),
		cmocka_unit_test(test_reply_only_after_durable),
		cmocka_unit_test(test_stalled_disk_backpressure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
