/* The durable lane's write and read paths (batch.c) on real loops over the simulated disk:
 * a write is answered only once its entry is durable, replies come in command order, reads
 * see only applied writes, pipelines over several lanes and two loops keep per-key order, and
 * a stalled disk pushes back instead of breaking the lane. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "lane/lane_priv.h"
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

/* ---- Pipelines over several lanes and two loops ---- */

#define PIPE_KEYS 24
#define PIPE_OPS 1500
#define PIPE_LANES 4

struct pipe_op {
	struct lf_op *op;
	uint32_t key;
	char *want;                    /* the model's reply */
	size_t want_len;
};

struct pipe {
	struct lf f;
	struct lm model;               /* keys are unique across lanes: one model is enough */
	uint32_t pending[PIPE_KEYS];   /* writes of each key not answered yet */
	struct pipe_op ops[PIPE_OPS];
	uint32_t n;
	uint64_t rng;
};

static uint64_t pipe_rand(struct pipe *p)
{
	p->rng ^= p->rng << 13;
	p->rng ^= p->rng >> 7;
	p->rng ^= p->rng << 17;
	return p->rng;
}

static void pipe_key(uint32_t k, char *buf)
{
	sprintf(buf, "key:%u", k);
}

/* Writes of key k come from loop k % 2 only, so that their order at the lane is the order
 * they were sent in; reads come from either loop, once the key's writes are answered (as the
 * connection layer holds a read behind the connection's writes). */
static void pipe_one(struct pipe *p)
{
	uint32_t k = (uint32_t)(pipe_rand(p) % PIPE_KEYS);
	char key[32], cmd[96];
	pipe_key(k, key);
	uint32_t r = (uint32_t)(pipe_rand(p) % 10);
	struct pipe_op *po = &p->ops[p->n++];
	po->key = k;
	if (r < 3 && p->pending[k] == 0) {
		snprintf(cmd, sizeof(cmd), "%s %s", r == 0 ? "EXISTS" : "GET", key);
		po->op = lf_submit(&p->f, (uint32_t)(pipe_rand(p) % 2), "%s", cmd);
		po->want = lm_read(&p->model, 2, po->op->argv, LF_NOW_MS, &po->want_len);
		return;
	}
	if (r < 5)
		snprintf(cmd, sizeof(cmd), "SET %s v%u", key, p->n);
	else if (r < 7)
		snprintf(cmd, sizeof(cmd), "APPEND %s +%u", key, p->n);
	else if (r < 8)
		snprintf(cmd, sizeof(cmd), "DEL %s", key);
	else
		snprintf(cmd, sizeof(cmd), "PEXPIREAT %s %lld", key, r == 8 ? 1 : LF_FUTURE_MS);
	po->op = lf_submit(&p->f, k % 2, "%s", cmd);
	char reply[LM_REPLY_BYTES_MAX];
	assert_int_equal(lm_apply(&p->model, po->op->argc, po->op->argv, LF_NOW_MS, reply, sizeof(reply)), 0);
	po->want = strdup(reply);
	po->want_len = strlen(reply);
	p->pending[k]++;
}

static void pipe_collect(struct pipe *p)
{
	memset(p->pending, 0, sizeof(p->pending));
	for (uint32_t i = 0; i < p->n; i++)
		if (!p->ops[i].op->done && p->ops[i].op->write)
			p->pending[p->ops[i].key]++;
}

static void test_pipelines_keep_per_key_order(void **state)
{
	(void)state;
	struct pipe *p = calloc(1, sizeof(*p));
	struct lf_config cfg = { .loops = 2, .lanes = PIPE_LANES, .seed = 7 };
	lf_init(&p->f, &cfg);
	assert_int_equal(lf_boot(&p->f), 0);
	lm_init(&p->model);
	p->rng = 0x243F6A8885A308D3ull;
	while (p->n < PIPE_OPS) {
		uint32_t burst = 1 + (uint32_t)(pipe_rand(p) % 40);
		for (uint32_t i = 0; i < burst && p->n < PIPE_OPS; i++)
			pipe_one(p);
		for (uint32_t t = (uint32_t)(pipe_rand(p) % 3); t > 0; t--)
			lf_turn(&p->f);
		pipe_collect(p);
	}
	struct lf_op *all[PIPE_OPS];
	for (uint32_t i = 0; i < p->n; i++)
		all[i] = p->ops[i].op;
	lf_wait(&p->f, all, p->n);
	uint64_t last_done[PIPE_KEYS] = { 0 };
	for (uint32_t i = 0; i < p->n; i++) {
		struct pipe_op *po = &p->ops[i];
		assert_true(po->op->done);
		if (po->op->reply_len != po->want_len || memcmp(po->op->reply, po->want, po->want_len) != 0)
			fail_msg("op %u (%s on key %u): reply %s, model %s", i, po->op->argv[0].ptr,
				 po->key, po->op->reply, po->want);
		if (po->op->write) {
			assert_true(po->op->done_seq > last_done[po->key]);
			last_done[po->key] = po->op->done_seq;
		}
		free(po->want);
	}
	char why[256];
	for (uint32_t lane = 0; lane < PIPE_LANES; lane++) {
		struct lm part;
		lm_init(&part);
		for (uint32_t i = 0; i < p->model.count; i++) {
			struct lm_key *k = &p->model.keys[i];
			if (lf_lane_of(&p->f, k->name) != lane)
				continue;
			struct lm_state st;
			lm_state_get(&p->model, k->name, &st);
			lm_state_set(&part, k->name, &st);
			lm_state_free(&st);
		}
		if (!lm_matches_db(&part, lf_db(&p->f, lane), LF_NOW_MS, why, sizeof(why)))
			fail_msg("lane %u: %s", lane, why);
		lm_free(&part);
	}
	assert_int_equal(p->f.early_acks, 0);
	lm_free(&p->model);
	lf_fini(&p->f);
	free(p);
}

/* A lane set stopped while writes and reads wait (the disk stalled) answers every one of
 * them with an error, so that no submitter waits forever, and frees what they held. */
static void test_shutdown_answers_waiting_requests(void **state)
{
	(void)state;
	struct lf f;
	boot_one(&f, 2, 2);
	assert_string_equal(lf_call(&f, 0, "SET k0 old"), "+OK\r\n");
	lf_settle(&f);
	f.disks[0].hold_syncs = true;
	f.disks[1].hold_syncs = true;
	struct lf_op *ops[8];
	for (int i = 0; i < 8; i++) {
		ops[i] = lf_submit(&f, (uint32_t)i % 2, "SET k%d v%d", i % 4, i);
		if (i % 3 == 2)
			lf_turn(&f);
	}
	lf_settle(&f);
	for (int i = 0; i < 8; i++)
		assert_false(ops[i]->done);
	lf_shutdown(&f);
	for (int i = 0; i < 8; i++) {
		assert_true(ops[i]->done);
		assert_true(lf_reply_starts(ops[i], "-ERR "));
	}
	lf_fini(&f);
}

/* The largest write that fits one entry is logged, recovered and read back whole; one byte
 * past what an entry holds is refused with an error, and nothing else is disturbed. */
static void test_largest_entry(void **state)
{
	(void)state;
	struct lf f;
	boot_one(&f, 1, 1);
	/* The largest batch (white box), less the command's encoding. */
	size_t big = f.set->lanes[0].batch_bytes_max - 64;
	char *val = malloc(big + 4096);
	assert_non_null(val);
	for (size_t i = 0; i < big + 4096; i++)
		val[i] = (char)('a' + i % 23);
	struct resp_arg ok[3] = { { "SET", 3 }, { "big", 3 }, { val, big } };
	struct lf_op *w = lf_submitv(&f, 0, UINT32_MAX, 3, ok);
	struct lf_op *small = lf_submit(&f, 0, "SET small s");
	lf_wait_one(&f, w);
	lf_wait_one(&f, small);
	assert_true(lf_reply_is(w, "+OK\r\n"));
	assert_true(lf_reply_is(small, "+OK\r\n"));
	struct resp_arg too_big[3] = { { "SET", 3 }, { "big2", 4 }, { val, big + 4096 } };
	struct lf_op *r = lf_submitv(&f, 0, UINT32_MAX, 3, too_big);
	lf_wait_one(&f, r);
	assert_true(lf_reply_starts(r, "-ERR "));
	lf_crash(&f);
	assert_int_equal(lf_boot(&f), 0);
	const char *got;
	size_t len;
	assert_true(kv_db_get(lf_db(&f, 0), "big", 3, LF_NOW_MS, &got, &len));
	assert_int_equal(len, big);
	assert_memory_equal(got, val, big);
	assert_false(kv_db_exists(lf_db(&f, 0), "big2", 4, LF_NOW_MS));
	assert_string_equal(lf_call(&f, 0, "GET small"), "$1\r\ns\r\n");
	free(val);
	lf_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_then_read),
		cmocka_unit_test(test_reply_only_after_durable),
		cmocka_unit_test(test_stalled_disk_backpressure),
		cmocka_unit_test(test_pipelines_keep_per_key_order),
		cmocka_unit_test(test_shutdown_answers_waiting_requests),
		cmocka_unit_test(test_largest_entry),
	};
	lf_test_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
