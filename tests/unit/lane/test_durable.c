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
#define SCRIPT_CRASH_STRIDE 1          /* every step (LANE_CRASH_STRIDE=k: every k-th) */

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
	uint64_t first = 1, stride = SCRIPT_CRASH_STRIDE;
	const char *only = getenv("LANE_CRASH_AT"); /* replays one crash point */
	if (only != NULL)
		first = total = strtoull(only, NULL, 10);
	if (getenv("LANE_CRASH_STRIDE") != NULL)
		stride = strtoull(getenv("LANE_CRASH_STRIDE"), NULL, 10);
	for (uint64_t at = first; at <= total + 1; at += stride)
		in_snapshot += crash_once(at, 1 + at % SCRIPT_RECOVERY_CRASH_SPAN);
	/* The crashes did fall while snapshots were being written. */
	assert_true(in_snapshot > 0);
	print_message("crashed at every %" PRIu64 " of %" PRIu64 " disk steps (%u inside a "
		      "snapshot)\n", stride, total + 1, in_snapshot);
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

/* ---- A randomized workload against the model ---- */

#define RND_LOOPS 2
#define RND_LANES 4
#define RND_STRINGS 28
#define RND_COUNTERS 8
#define RND_KEYS (RND_STRINGS + RND_COUNTERS)
#define RND_STEPS 300
#if defined(__SANITIZE_ADDRESS__)
#define RND_SEEDS_DEFAULT 2            /* the sanitizer build is about ten times slower */
#else
#define RND_SEEDS_DEFAULT 8
#endif
#define RND_BIG_BYTES 3000

/* Fails with the seed, so that a failure can be replayed with LANE_SEED. */
#define RND_CHECK(r, cond)                                                                 \
	do {                                                                               \
		if (!(cond))                                                               \
			fail_msg("seed %" PRIu64 ": %s (%s:%d)", (r)->seed, #cond, __FILE__,     \
				 __LINE__);                                                        \
	} while (0)

struct rnd_write {
	struct lf_op *op;
	struct lm_state after;         /* the key's state once this write has run */
	char want[LM_REPLY_BYTES_MAX];
};

/* One key: the state it had when the lanes last started, then each write sent to it since,
 * in order (a key's writes come from one loop, so this is their order at the lane). */
struct rnd_key {
	char name[16];
	struct lm_state start;
	struct rnd_write *w;
	uint32_t n, cap;
};

struct rnd_read {
	struct lf_op *op;
	char *want;
	size_t want_len;
};

struct rnd {
	uint64_t seed, x;
	struct lf f;
	struct lm model;               /* every key's state after all writes sent */
	struct rnd_key keys[RND_KEYS];
	struct rnd_read *reads;
	uint32_t nreads, capreads;
	uint32_t crashes, restarts, checked_writes, checked_reads;
};

static uint64_t rnd_next(struct rnd *r)
{
	r->x ^= r->x >> 12;
	r->x ^= r->x << 25;
	r->x ^= r->x >> 27;
	return r->x * 0x2545F4914F6CDD1Dull;
}

static uint32_t rnd_below(struct rnd *r, uint32_t n)
{
	return (uint32_t)(rnd_next(r) % n);
}

static uint32_t rnd_pending(const struct rnd_key *k)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < k->n; i++)
		n += !k->w[i].op->done;
	return n;
}

static void rnd_write(struct rnd *r, uint32_t ki)
{
	struct rnd_key *k = &r->keys[ki];
	static char val[RND_BIG_BYTES + 1];
	char when[32];
	uint32_t len = rnd_below(r, 8) == 0 ? RND_BIG_BYTES : 1 + rnd_below(r, 60);
	for (uint32_t i = 0; i < len; i++)
		val[i] = (char)('a' + rnd_below(r, 26));
	struct resp_arg a[5] = { { NULL, 0 }, { k->name, strlen(k->name) } };
	uint32_t argc = 2, kind = rnd_below(r, 10);
	bool counter = ki >= RND_STRINGS;
	if (counter && kind < 6) {
		snprintf(val, sizeof(val), "%d", (int)rnd_below(r, 2000) - 1000);
		a[0] = (struct resp_arg){ "INCRBY", 6 };
		a[argc++] = (struct resp_arg){ val, strlen(val) };
	} else if (kind < 4) {
		a[0] = (struct resp_arg){ "SET", 3 };
		a[argc++] = (struct resp_arg){ val, len };
		if (rnd_below(r, 3) == 0) {
			snprintf(when, sizeof(when), "%lld", LF_FUTURE_MS + rnd_below(r, 100000));
			a[argc++] = (struct resp_arg){ "PXAT", 4 };
			a[argc++] = (struct resp_arg){ when, strlen(when) };
		}
	} else if (kind < 6) {
		a[0] = (struct resp_arg){ "APPEND", 6 };
		a[argc++] = (struct resp_arg){ val, len };
	} else if (kind < 8) {
		a[0] = (struct resp_arg){ "PEXPIREAT", 9 };
		snprintf(when, sizeof(when), "%lld", rnd_below(r, 2) ? 1000ll : LF_FUTURE_MS + kind);
		a[argc++] = (struct resp_arg){ when, strlen(when) };
	} else if (kind < 9) {
		a[0] = (struct resp_arg){ "PERSIST", 7 };
	} else {
		a[0] = (struct resp_arg){ "DEL", 3 };
	}
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 16;
		k->w = realloc(k->w, k->cap * sizeof(*k->w));
		RND_CHECK(r, k->w != NULL);
	}
	struct rnd_write *w = &k->w[k->n++];
	w->op = lf_submitv(&r->f, ki % RND_LOOPS, UINT32_MAX, argc, a);
	RND_CHECK(r, lm_apply(&r->model, argc, a, LF_NOW_MS, w->want, sizeof(w->want)) == 0);
	lm_state_get(&r->model, k->name, &w->after);
}

/* A read of a key whose writes have all been answered, from either loop: it must see them. */
static void rnd_read(struct rnd *r, uint32_t ki)
{
	struct rnd_key *k = &r->keys[ki];
	if (rnd_pending(k) > 0)
		return;
	struct resp_arg a[2] = { { rnd_below(r, 4) ? "GET" : "EXISTS", 0 },
				 { k->name, strlen(k->name) } };
	a[0].len = strlen(a[0].ptr);
	if (r->nreads == r->capreads) {
		r->capreads = r->capreads ? r->capreads * 2 : 64;
		r->reads = realloc(r->reads, r->capreads * sizeof(*r->reads));
		RND_CHECK(r, r->reads != NULL);
	}
	struct rnd_read *rd = &r->reads[r->nreads++];
	rd->op = lf_submitv(&r->f, rnd_below(r, RND_LOOPS), UINT32_MAX, 2, a);
	rd->want = lm_read(&r->model, 2, a, LF_NOW_MS, &rd->want_len);
}

/* Replies that came back (before any crash) must be the model's. */
static void rnd_check_replies(struct rnd *r)
{
	for (uint32_t ki = 0; ki < RND_KEYS; ki++) {
		struct rnd_key *k = &r->keys[ki];
		for (uint32_t i = 0; i < k->n; i++) {
			struct lf_op *op = k->w[i].op;
			if (!op->done || op->after_crash || op->reply[0] == '-')
				continue;
			if (strcmp(op->reply, k->w[i].want) != 0)
				fail_msg("seed %" PRIu64 ": %s on %s answered %s, the model says %s",
					 r->seed, op->argv[0].ptr, k->name, op->reply, k->w[i].want);
		}
	}
	uint32_t kept = 0;
	for (uint32_t i = 0; i < r->nreads; i++) {
		struct rnd_read *rd = &r->reads[i];
		if (!rd->op->done) {
			r->reads[kept++] = *rd;
			continue;
		}
		if (!rd->op->after_crash && rd->op->reply[0] != '-') {
			if (rd->op->reply_len != rd->want_len ||
			    memcmp(rd->op->reply, rd->want, rd->want_len) != 0)
				fail_msg("seed %" PRIu64 ": %.*s of key %.*s answered %s, the model says %s",
					 r->seed, (int)rd->op->argv[0].len, rd->op->argv[0].ptr,
					 (int)rd->op->argv[1].len, rd->op->argv[1].ptr, rd->op->reply, rd->want);
			r->checked_reads++;
		}
		free(rd->want);
	}
	r->nreads = kept;
}

/* After a restart: each key holds the state after some prefix of its writes that covers
 * every acknowledged one (all of them after a clean stop). The model continues from it. */
static void rnd_check_keys(struct rnd *r, bool clean)
{
	rnd_check_replies(r);
	for (uint32_t ki = 0; ki < RND_KEYS; ki++) {
		struct rnd_key *k = &r->keys[ki];
		uint32_t acked = 0;
		while (acked < k->n && lf_op_acked(k->w[acked].op))
			acked++;
		for (uint32_t i = acked; i < k->n; i++)
			if (lf_op_acked(k->w[i].op))
				fail_msg("seed %" PRIu64 ": key %s: write %u acknowledged after an "
					 "unacknowledged one", r->seed, k->name, i);
		struct lm_state got;
		lm_state_of_db(lf_db(&r->f, lf_lane_of(&r->f, k->name)), k->name, LF_NOW_MS, &got);
		int64_t match = -1;
		for (uint32_t p = clean ? k->n : acked; p <= k->n && match < 0; p++)
			if (lm_state_equal(p == 0 ? &k->start : &k->w[p - 1].after, &got))
				match = p;
		if (match < 0)
			fail_msg("seed %" PRIu64 ": key %s after %s: %s (%zu bytes) matches no state after "
				 "%u..%u of its %u writes", r->seed, k->name, clean ? "a clean stop" : "a crash",
				 got.present ? "present" : "absent", got.len, clean ? k->n : acked, k->n, k->n);
		r->checked_writes += acked;
		lm_state_set(&r->model, k->name, &got);
		lm_state_free(&k->start);
		k->start = got;
		for (uint32_t i = 0; i < k->n; i++)
			lm_state_free(&k->w[i].after);
		k->n = 0;
	}
	for (uint32_t i = 0; i < r->nreads; i++)
		free(r->reads[i].want);
	r->nreads = 0;
}

static void rnd_boot(struct rnd *r)
{
	/* Sometimes the recovery itself is cut short by another crash. */
	if (rnd_below(r, 3) == 0)
		r->f.crash_at = r->f.steps + 1 + rnd_below(r, 60);
	int rc = lf_boot(&r->f);
	if (rc == -EINTR) {
		lf_crash(&r->f);
		r->f.crash_at = 0;
		rc = lf_boot(&r->f);
	}
	r->f.crash_at = 0;
	if (rc != 0)
		fail_msg("seed %" PRIu64 ": recovery failed: %s", r->seed, r->f.fatal_why);
}

static void rnd_step(struct rnd *r)
{
	uint32_t burst = 1 + rnd_below(r, 24);
	for (uint32_t i = 0; i < burst && !r->f.halted; i++) {
		uint32_t ki = rnd_below(r, RND_KEYS);
		if (rnd_below(r, 3) == 0)
			rnd_read(r, ki);
		else
			rnd_write(r, ki);
	}
	for (uint32_t t = rnd_below(r, 4); t > 0 && !r->f.halted; t--)
		lf_turn(&r->f);
	RND_CHECK(r, r->f.fatal_calls == 0);
}

static void rnd_event(struct rnd *r)
{
	uint32_t e = rnd_below(r, 40);
	if (e == 0 || r->f.halted) {
		if (!r->f.halted && rnd_below(r, 2) == 0) {
			r->f.crash_at = r->f.steps + 1 + rnd_below(r, 80); /* mid-I/O */
			for (int t = 0; t < 400 && !r->f.halted; t++)
				lf_turn(&r->f);
		}
		lf_crash(&r->f);
		r->crashes++;
		rnd_boot(r);
		rnd_check_keys(r, false);
	} else if (e == 1) {
		lf_release_syncs(&r->f);
		struct lf_op **ops = calloc(r->f.nops + 1, sizeof(*ops));
		uint32_t n = 0;
		for (uint32_t i = 0; i < r->f.nops; i++)
			if (r->f.ops[i]->boot == r->f.boots)
				ops[n++] = r->f.ops[i];
		lf_wait(&r->f, ops, n);
		free(ops);
		lf_shutdown(&r->f);
		r->restarts++;
		rnd_boot(r);
		rnd_check_keys(r, true);
	} else if (e == 2) {
		r->f.disks[rnd_below(r, RND_LOOPS)].hold_syncs = true;
	} else if (e < 6) {
		lf_release_syncs(&r->f);
	}
}

static void rnd_run(uint64_t seed, struct rnd *r)
{
	memset(r, 0, sizeof(*r));
	r->seed = seed;
	r->x = seed * 0x9E3779B97F4A7C15ull + 1;
	struct lf_config cfg = { .loops = RND_LOOPS, .lanes = RND_LANES, .seed = seed,
				 .snapshot_every_bytes = 24u * 1024 };
	lf_init(&r->f, &cfg);
	snprintf(r->f.label, sizeof(r->f.label), "seed %" PRIu64, seed);
	lm_init(&r->model);
	for (uint32_t ki = 0; ki < RND_KEYS; ki++) {
		struct rnd_key *k = &r->keys[ki];
		snprintf(k->name, sizeof(k->name), ki < RND_STRINGS ? "s%u" : "c%u", ki);
		k->start.expire_ms = -1;
	}
	rnd_boot(r);
	for (uint32_t s = 0; s < RND_STEPS; s++) {
		rnd_step(r);
		rnd_event(r);
	}
	lf_release_syncs(&r->f);
	lf_crash(&r->f);
	rnd_boot(r);
	rnd_check_keys(r, false);
	RND_CHECK(r, r->f.early_acks == 0);
	for (uint32_t ki = 0; ki < RND_KEYS; ki++) {
		lm_state_free(&r->keys[ki].start);
		free(r->keys[ki].w);
	}
	free(r->reads);
	lm_free(&r->model);
	lf_fini(&r->f);
}

static void test_randomized_against_model(void **state)
{
	(void)state;
	uint64_t first = 1, seeds = RND_SEEDS_DEFAULT;
	if (getenv("LANE_SEEDS") != NULL)
		seeds = strtoull(getenv("LANE_SEEDS"), NULL, 10);
	if (getenv("LANE_SEED") != NULL) {
		first = strtoull(getenv("LANE_SEED"), NULL, 10);
		seeds = 1;
	}
	struct rnd *r = malloc(sizeof(*r));
	uint64_t crashes = 0, restarts = 0, writes = 0, reads = 0;
	for (uint64_t seed = first; seed < first + seeds; seed++) {
		rnd_run(seed, r);
		crashes += r->crashes;
		restarts += r->restarts;
		writes += r->checked_writes;
		reads += r->checked_reads;
	}
	free(r);
	print_message("%" PRIu64 " seeds: %" PRIu64 " crashes, %" PRIu64 " clean restarts, %" PRIu64
		      " acknowledged writes and %" PRIu64 " reads checked\n", seeds, crashes, restarts,
		      writes, reads);
	assert_true(crashes > 0 && restarts > 0 && writes > 0 && reads > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ttl_absolute_across_restart),
		cmocka_unit_test(test_crash_at_every_step),
		cmocka_unit_test(test_randomized_against_model),
	};
	lf_test_filter();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
