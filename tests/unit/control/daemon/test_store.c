/* The control store on a real loop, io_uring and files: a one-member control group runs on
 * it (the replication core in election mode), commits cluster commands and a membership
 * change, takes a snapshot once the log has grown, closes; reopened, the store hands the
 * core the snapshot's state, the log's epoch runs and membership entries, and the replayed
 * state is the one before the restart. A torn metadata slot falls back to the other. A
 * second daemon that joins after the leader compacted its log is sent the snapshot, installs
 * it through its store, and recovers from it after a restart. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/clock.h"
#include "daemon/store.h"
#include "loop/loop.h"
#include "uring/disk.h"

#define T_NODES 2
#define T_QUEUE 4096

/* One control daemon's store and core. */
struct tnode {
	unsigned id;
	char dir[256];
	struct ctld_store *s;
	struct repl *r;
	struct ctl_state *state;
	bool opened, closed, leader;
	int open_err;
	uint64_t boot_snap_index, boot_last_index;
	unsigned boot_configs;
	struct repl_members boot_members;
	uint64_t applied;
	unsigned installs;
};

struct tmsg {
	unsigned dst;
	size_t len;
	uint8_t *bytes;
};

static struct loop *t_loop;
static struct uring_disk *t_ud;
static struct tnode t_node[T_NODES + 1];
static struct tmsg t_queue[T_QUEUE];
static unsigned t_queued;

static void deliver(void)
{
	static struct repl_entry entries[REPL_MSG_ENTRIES_MAX];
	static struct tmsg batch[T_QUEUE];
	unsigned n = t_queued;
	memcpy(batch, t_queue, n * sizeof(*batch)); /* answers queue up while these go */
	t_queued = 0;
	for (unsigned i = 0; i < n; i++) {
		struct tmsg *q = &batch[i];
		struct repl_msg m;
		struct tnode *to = &t_node[q->dst];
		if (to->r != NULL &&
		    repl_msg_decode(q->bytes, q->len, &m, entries, REPL_MSG_ENTRIES_MAX) == 0)
			repl_recv(to->r, &m);
		free(q->bytes);
	}
}

static void turn(void)
{
	for (unsigned i = 1; i <= T_NODES; i++) {
		struct tnode *n = &t_node[i];
		if (n->s != NULL)
			ctld_store_work(n->s);
		if (n->r != NULL)
			repl_tick(n->r);
	}
	loop_run_once(t_loop);
	deliver();
	for (unsigned i = 1; i <= T_NODES; i++) {
		struct tnode *n = &t_node[i];
		if (n->r != NULL)
			repl_flush(n->r);
		if (n->s != NULL)
			ctld_store_flush(n->s);
	}
}

static void run_until(const bool *flag)
{
	uint64_t deadline = time_mono_ns() + 10 * NS_PER_SEC;
	while (!*flag) {
		assert_true(time_mono_ns() < deadline);
		turn();
		usleep(200);
	}
}

/* ---- The host's half of the core's table ---- */

static struct tnode *host(void *ctx)
{
	return ctld_store_host(ctx);
}

static void io_send(void *ctx, unsigned dst, const struct repl_msg *m)
{
	(void)ctx;
	if (dst > T_NODES || t_queued == T_QUEUE)
		return;
	size_t len = repl_msg_encoded_bytes(m);
	uint8_t *b = malloc(len);
	assert_non_null(b);
	assert_int_equal(repl_msg_encode(m, b, len), (ssize_t)len);
	t_queue[t_queued++] = (struct tmsg){ .dst = dst, .len = len, .bytes = b };
}

static uint64_t io_now(void *ctx)
{
	(void)ctx;
	return time_mono_ns() / NS_PER_MS;
}

static uint64_t io_random(void *ctx)
{
	(void)ctx;
	return (uint64_t)random();
}

static void io_apply(void *ctx, const struct repl_entry *en)
{
	struct tnode *n = host(ctx);
	n->applied = en->index;
	if (en->type == REPL_ENTRY_CONFIG) {
		struct repl_members m;
		assert_true(ctld_members_decode(en->payload, en->len, &m));
		ctld_store_members_applied(n->s, &m);
	} else if (en->type == REPL_ENTRY_DATA) {
		struct ctl_cmd c;
		assert_int_equal(ctl_cmd_decode(en->payload, en->len, &c), 0);
		assert_int_equal(ctl_state_apply(n->state, en->index, &c), 0);
	}
}

static void io_abandon(void *ctx, uint64_t from)
{
	(void)ctx;
	(void)from;
}

static void io_role(void *ctx, enum repl_role role, uint64_t epoch, unsigned primary)
{
	(void)epoch;
	(void)primary;
	host(ctx)->leader = role == REPL_ROLE_PRIMARY;
}

static void io_read_confirmed(void *ctx, uint64_t seq)
{
	(void)ctx;
	(void)seq;
}

static void io_promised(void *ctx, const struct repl_promise *p)
{
	(void)ctx;
	(void)p;
}

static void io_fatal(void *ctx, int err, uint64_t index)
{
	fail_msg("node %u: core fatal %d at %llu", host(ctx)->id, err, (unsigned long long)index);
}

/* ---- The store's callbacks ---- */

static void cb_opened(void *ctx, int err, const char *why, const struct repl_boot *boot)
{
	struct tnode *n = ctx;
	n->opened = true;
	n->open_err = err;
	if (err != 0) {
		print_message("open failed: %s\n", why);
		return;
	}
	n->boot_snap_index = boot->snapshot.index;
	n->boot_last_index = boot->last_index;
	n->boot_configs = boot->n_configs;
	n->boot_members = boot->members;
	struct repl_options o;
	repl_options_default(&o, n->id, REPL_MODE_ELECTION);
	o.heartbeat_ms = 10;
	o.election_ms = 40;
	o.lease_ms = 20;
	o.lease_drift_ms = 2;
	o.snapshot_chunk_bytes = 1024; /* several chunks for a small state */
	struct repl_io io;
	memset(&io, 0, sizeof(io));
	ctld_store_io(n->s, &io);
	io.send = io_send;
	io.now_ms = io_now;
	io.random = io_random;
	io.apply = io_apply;
	io.abandon = io_abandon;
	io.role = io_role;
	io.read_confirmed = io_read_confirmed;
	io.promised = io_promised;
	io.fatal = io_fatal;
	n->applied = boot->snapshot.index;
	n->r = repl_create(&o, &io, boot);
	assert_non_null(n->r);
	ctld_store_repl_set(n->s, n->r);
}

static int cb_installed(void *ctx, const struct repl_snapshot_meta *m, const uint8_t *b, size_t len)
{
	struct tnode *n = ctx;
	int rc = ctl_state_decode(b, len, n->state);
	if (rc == 0) {
		n->applied = m->index;
		n->installs++;
	}
	return rc;
}

static void cb_fatal(void *ctx, int err, const char *why)
{
	fail_msg("node %u: store fatal %d: %s", ((struct tnode *)ctx)->id, err, why);
}

static void open_store(struct tnode *n)
{
	struct ctld_store_config cfg = { .dir = n->dir, .segment_bytes = 1u << 20,
					 .snapshot_every_bytes = 16u << 10,
					 .members = { .voters = 1u << 1 } };
	struct ctld_store_callbacks cbs = { .ctx = n, .opened = cb_opened,
					    .installed = cb_installed, .fatal = cb_fatal };
	n->opened = n->leader = false;
	n->s = ctld_store_open(&cfg, uring_disk_io(t_ud), &cbs, n->state);
	assert_non_null(n->s);
	run_until(&n->opened);
	assert_int_equal(n->open_err, 0);
}

static void closed_cb(void *arg)
{
	((struct tnode *)arg)->closed = true;
}

static void close_store(struct tnode *n)
{
	n->closed = false;
	ctld_store_close(n->s, closed_cb, n);
	run_until(&n->closed);
	repl_destroy(n->r);
	n->r = NULL;
	ctld_store_destroy(n->s);
	n->s = NULL;
}

static void propose(struct tnode *n, const struct ctl_cmd *c)
{
	uint8_t buf[256];
	ssize_t len = ctl_cmd_encode(c, buf, sizeof(buf));
	assert_true(len > 0);
	assert_true(repl_propose(n->r, REPL_ENTRY_DATA, buf, (uint32_t)len) > 0);
}

static void bootstrap(struct tnode *n, uint32_t lanes)
{
	struct ctl_cmd boot = { .type = CTL_CMD_BOOTSTRAP, .n_lanes = lanes,
				.members = { .voters = 1u << 1 } };
	propose(n, &boot);
	while (n->state->n_lanes == 0)
		turn();
}

/* Commits `rounds` failovers of lane 0 (two commands each). */
static void failovers(struct tnode *n, unsigned rounds)
{
	for (unsigned i = 0; i < rounds; i++) {
		uint64_t epoch = n->state->lanes[0].epoch + 1;
		struct ctl_cmd prep = { .type = CTL_CMD_LANE_PREPARE, .lane = 0, .epoch = epoch,
					.node = REPL_NODE_NONE };
		struct ctl_cmd prim = { .type = CTL_CMD_LANE_PRIMARY, .lane = 0, .epoch = epoch,
					.node = 1 };
		propose(n, &prep);
		propose(n, &prim);
		uint64_t want = n->applied + 2;
		while (n->applied < want)
			turn();
		assert_int_equal(n->state->lanes[0].epoch, epoch);
	}
}

/* Grows the log until a snapshot is durable. */
static void snapshot(struct tnode *n)
{
	struct ctld_store_stats st;
	/* Bounded by time, not turns: on a loaded host the snapshot's writes may take longer
	 * than a fixed number of turns. */
	uint64_t deadline = time_mono_ns() + 20 * NS_PER_SEC;
	for (int i = 0; time_mono_ns() < deadline; i++) {
		ctld_store_snapshot_maybe(n->s, n->state, n->applied);
		turn();
		ctld_store_stats_get(n->s, &st);
		if (st.snapshots_taken > 0)
			return;
		if (i % 50 == 49 && i < 4000)
			failovers(n, 10);
	}
	fail_msg("no snapshot");
}

static void state_same(const struct ctl_state *a, const struct ctl_state *b)
{
	size_t len = ctl_state_encoded_bytes(a);
	assert_int_equal(len, ctl_state_encoded_bytes(b));
	uint8_t *x = malloc(len), *y = malloc(len);
	assert_int_equal(ctl_state_encode(a, x, len), (ssize_t)len);
	assert_int_equal(ctl_state_encode(b, y, len), (ssize_t)len);
	assert_memory_equal(x, y, len);
	free(x);
	free(y);
}

static int setup(void **state)
{
	(void)state;
	memset(t_node, 0, sizeof(t_node));
	for (unsigned i = 1; i <= T_NODES; i++) {
		struct tnode *n = &t_node[i];
		n->id = i;
		snprintf(n->dir, sizeof(n->dir), "%s/spindle-ctld-store-XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		assert_non_null(mkdtemp(n->dir));
		n->state = malloc(sizeof(*n->state));
		assert_non_null(n->state);
	}
	struct loop_config lc = { .id = 0, .idle_sleep_us_max = 1000 };
	t_loop = loop_create(&lc);
	t_ud = uring_disk_create(t_loop);
	assert_non_null(t_loop);
	assert_non_null(t_ud);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	bool open = false;
	for (unsigned i = 1; i <= T_NODES; i++)
		open |= t_node[i].s != NULL;
	/* After a failed test a store is still open: its I/O is abandoned with the ring. */
	for (int i = 0; !open && i < 50; i++)
		loop_run_once(t_loop);
	uring_disk_destroy(t_ud);
	loop_destroy(t_loop);
	deliver();
	int rc = 0;
	for (unsigned i = 1; i <= T_NODES; i++) {
		free(t_node[i].state);
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_node[i].dir);
		rc |= system(cmd);
	}
	return rc;
}

static void test_commit_snapshot_recover(void **state)
{
	(void)state;
	struct tnode *n = &t_node[1];
	open_store(n);
	assert_int_equal(n->boot_last_index, 0);
	run_until(&n->leader);
	bootstrap(n, 4);
	failovers(n, 5);
	/* The group gains a learner (through the log). */
	struct repl_members m = { .voters = 1u << 1, .learners = 1u << 2 };
	assert_int_equal(repl_members_change(n->r, &m), 0);
	failovers(n, 300); /* about 30 KB of log: a snapshot is due */
	snapshot(n);
	failovers(n, 3);   /* entries after the snapshot */
	uint64_t last = n->applied, epoch = n->state->lanes[0].epoch;
	struct ctl_state *before = malloc(sizeof(*before));
	memcpy(before, n->state, sizeof(*before));
	close_store(n);

	/* Reopened: the snapshot's state, then the log after it replayed by the core. */
	open_store(n);
	assert_true(n->boot_snap_index > 0 && n->boot_snap_index <= last);
	assert_int_equal(n->boot_last_index, last);
	assert_int_equal(n->boot_members.learners, 1u << 2); /* from the snapshot's header */
	assert_int_equal(n->state->n_lanes, 4);
	assert_true(n->state->lanes[0].epoch < epoch);
	run_until(&n->leader);
	while (n->applied < last)
		turn();
	assert_int_equal(n->state->lanes[0].epoch, epoch);
	state_same(before, n->state);
	free(before);
	close_store(n);
}

static void test_membership_in_log_and_torn_meta(void **state)
{
	(void)state;
	struct tnode *n = &t_node[1];
	open_store(n);
	run_until(&n->leader);
	bootstrap(n, 2);
	failovers(n, 2);
	struct repl_members m = { .voters = 1u << 1, .learners = 1u << 3 };
	assert_int_equal(repl_members_change(n->r, &m), 0);
	failovers(n, 2);
	struct repl_state rs;
	repl_state_get(n->r, &rs);
	uint64_t term = rs.epoch;
	close_store(n);
	/* Tear slot 0: whichever was newer, the other slot still holds a record. */
	char path[320];
	snprintf(path, sizeof(path), "%s/meta.0", n->dir);
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "garbage", 7, 20), 7);
	close(fd);
	open_store(n);
	assert_int_equal(n->boot_snap_index, 0);
	assert_int_equal(n->boot_configs, 1);    /* the learner, from the log */
	repl_state_get(n->r, &rs);
	assert_true(rs.members.learners == 1u << 3);
	/* The other slot's term: at most the last one (elections under load may have saved
	 * several since, so not necessarily the one before it). */
	assert_true(rs.epoch >= 1 && rs.epoch <= term);
	run_until(&n->leader);
	close_store(n);
}

static void test_follower_installs_snapshot(void **state)
{
	(void)state;
	struct tnode *a = &t_node[1], *b = &t_node[2];
	open_store(a);
	run_until(&a->leader);
	bootstrap(a, 8);
	failovers(a, 200);
	snapshot(a);
	/* The leader drops its log before the snapshot: a newcomer needs the snapshot. */
	struct ctld_store_stats st;
	ctld_store_stats_get(a->s, &st);
	repl_log_compacted(a->r, st.snapshot_index, st.snapshot_index + 1, NULL);
	failovers(a, 2);
	open_store(b);
	struct repl_members m = { .voters = 1u << 1, .learners = 1u << 2 };
	assert_int_equal(repl_members_change(a->r, &m), 0);
	uint64_t deadline = time_mono_ns() + 10 * NS_PER_SEC;
	while (b->applied < a->applied || b->installs == 0) {
		assert_true(time_mono_ns() < deadline);
		turn();
	}
	assert_int_equal(b->installs, 1);
	ctld_store_stats_get(b->s, &st);
	assert_int_equal(st.snapshots_installed, 1);
	state_same(a->state, b->state);
	/* Restarted, the follower recovers from the installed snapshot and its log after it. */
	uint64_t applied = b->applied;
	close_store(b);
	open_store(b);
	assert_true(b->boot_snap_index > 0);
	assert_int_equal(b->boot_members.voters, 1u << 1);
	assert_int_equal(b->state->n_lanes, 8);
	deadline = time_mono_ns() + 10 * NS_PER_SEC;
	while (b->applied < applied) {
		assert_true(time_mono_ns() < deadline);
		turn();
	}
	state_same(a->state, b->state);
	close_store(b);
	close_store(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_snapshot_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_membership_in_log_and_torn_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follower_installs_snapshot, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
