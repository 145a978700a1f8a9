/* The control store on a real loop, io_uring and files: a one-member control group runs on
 * it (the replication core in election mode), commits cluster commands and a membership
 * change, takes a snapshot once the log has grown, closes; reopened, the store hands the
 * core the snapshot's state, the log's epoch runs and membership entries, and the replayed
 * state is the one before the restart. A torn metadata slot falls back to the other. */
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

struct env {
	char dir[256];
	struct loop *loop;
	struct uring_disk *ud;
	struct ctld_store *s;
	struct repl *r;
	struct ctl_state *state;
	bool opened, closed;
	int open_err;
	struct repl_boot boot;
	uint64_t boot_snap_index, boot_last_index;
	unsigned boot_configs;
	struct repl_members boot_members;
	bool leader;
	uint64_t applied;
	struct repl_members applied_members;
};

static struct env e;

static void turn(void)
{
	ctld_store_work(e.s);
	if (e.r != NULL)
		repl_tick(e.r);
	loop_run_once(e.loop);
	if (e.r != NULL)
		repl_flush(e.r);
	ctld_store_flush(e.s);
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

static void io_send(void *ctx, unsigned dst, const struct repl_msg *m)
{
	(void)ctx;
	(void)dst;
	(void)m; /* one member: nobody to send to */
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
	assert_ptr_equal(ctld_store_host(ctx), &e);
	e.applied = en->index;
	if (en->type == REPL_ENTRY_CONFIG) {
		assert_true(ctld_members_decode(en->payload, en->len, &e.applied_members));
		ctld_store_members_applied(e.s, &e.applied_members);
	} else if (en->type == REPL_ENTRY_DATA) {
		struct ctl_cmd c;
		assert_int_equal(ctl_cmd_decode(en->payload, en->len, &c), 0);
		assert_int_equal(ctl_state_apply(e.state, en->index, &c), 0);
	}
}

static void io_abandon(void *ctx, uint64_t from)
{
	(void)ctx;
	(void)from;
}

static void io_role(void *ctx, enum repl_role role, uint64_t epoch, unsigned primary)
{
	(void)ctx;
	(void)epoch;
	(void)primary;
	e.leader = role == REPL_ROLE_PRIMARY;
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
	(void)ctx;
	fail_msg("core fatal %d at %llu", err, (unsigned long long)index);
}

/* ---- The store's callbacks ---- */

static void cb_opened(void *ctx, int err, const char *why, const struct repl_boot *boot)
{
	(void)ctx;
	e.opened = true;
	e.open_err = err;
	if (err != 0) {
		print_message("open failed: %s\n", why);
		return;
	}
	e.boot_snap_index = boot->snapshot.index;
	e.boot_last_index = boot->last_index;
	e.boot_configs = boot->n_configs;
	e.boot_members = boot->members;
	struct repl_options o;
	repl_options_default(&o, 1, REPL_MODE_ELECTION);
	o.heartbeat_ms = 10;
	o.election_ms = 40;
	o.lease_ms = 20;
	o.lease_drift_ms = 2;
	struct repl_io io;
	memset(&io, 0, sizeof(io));
	ctld_store_io(e.s, &io);
	io.send = io_send;
	io.now_ms = io_now;
	io.random = io_random;
	io.apply = io_apply;
	io.abandon = io_abandon;
	io.role = io_role;
	io.read_confirmed = io_read_confirmed;
	io.promised = io_promised;
	io.fatal = io_fatal;
	e.applied = boot->snapshot.index;
	e.r = repl_create(&o, &io, boot);
	assert_non_null(e.r);
	ctld_store_repl_set(e.s, e.r);
}

static int cb_installed(void *ctx, const struct repl_snapshot_meta *m, const uint8_t *b, size_t n)
{
	(void)ctx;
	(void)m;
	(void)b;
	(void)n;
	fail_msg("a one-member group installs no snapshot");
	return -EINVAL;
}

static void cb_fatal(void *ctx, int err, const char *why)
{
	(void)ctx;
	fail_msg("store fatal %d: %s", err, why);
}

static void open_store(void)
{
	struct ctld_store_config cfg = { .dir = e.dir, .segment_bytes = 1u << 20,
					 .snapshot_every_bytes = 16u << 10,
					 .members = { .voters = 1u << 1 } };
	struct ctld_store_callbacks cbs = { .ctx = &e, .opened = cb_opened,
					    .installed = cb_installed, .fatal = cb_fatal };
	e.opened = e.leader = false;
	e.s = ctld_store_open(&cfg, uring_disk_io(e.ud), &cbs, e.state);
	assert_non_null(e.s);
	run_until(&e.opened);
	assert_int_equal(e.open_err, 0);
}

static void closed_cb(void *arg)
{
	(void)arg;
	e.closed = true;
}

static void close_store(void)
{
	e.closed = false;
	ctld_store_close(e.s, closed_cb, NULL);
	run_until(&e.closed);
	repl_destroy(e.r);
	e.r = NULL;
	ctld_store_destroy(e.s);
	e.s = NULL;
}

static void propose(const struct ctl_cmd *c)
{
	uint8_t buf[256];
	ssize_t n = ctl_cmd_encode(c, buf, sizeof(buf));
	assert_true(n > 0);
	assert_true(repl_propose(e.r, REPL_ENTRY_DATA, buf, (uint32_t)n) > 0);
}

static int setup(void **state)
{
	(void)state;
	memset(&e, 0, sizeof(e));
	snprintf(e.dir, sizeof(e.dir), "%s/spindle-ctld-store-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(e.dir));
	struct loop_config lc = { .id = 0, .idle_sleep_us_max = 1000 };
	e.loop = loop_create(&lc);
	e.ud = uring_disk_create(e.loop);
	e.state = malloc(sizeof(*e.state));
	assert_non_null(e.loop);
	assert_non_null(e.ud);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	/* After a failed test the store is still open: its I/O is abandoned with the ring. */
	for (int i = 0; e.s == NULL && i < 50; i++)
		loop_run_once(e.loop);
	uring_disk_destroy(e.ud);
	loop_destroy(e.loop);
	free(e.state);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e.dir);
	return system(cmd);
}

/* Commits `rounds` failovers of lane 0 (two commands each). */
static void failovers(unsigned rounds)
{
	for (unsigned i = 0; i < rounds; i++) {
		uint64_t epoch = e.state->lanes[0].epoch + 1;
		struct ctl_cmd prep = { .type = CTL_CMD_LANE_PREPARE, .lane = 0, .epoch = epoch,
					.node = REPL_NODE_NONE };
		struct ctl_cmd prim = { .type = CTL_CMD_LANE_PRIMARY, .lane = 0, .epoch = epoch,
					.node = 1 };
		propose(&prep);
		propose(&prim);
		uint64_t want = e.applied + 2;
		while (e.applied < want)
			turn();
		assert_int_equal(e.state->lanes[0].epoch, epoch);
	}
}

static void test_commit_snapshot_recover(void **state)
{
	(void)state;
	open_store();
	assert_int_equal(e.boot_last_index, 0);
	run_until(&e.leader);
	struct ctl_cmd boot = { .type = CTL_CMD_BOOTSTRAP, .n_lanes = 4, .members = { .voters = 2 } };
	propose(&boot);
	while (e.state->n_lanes == 0)
		turn();
	failovers(5);
	/* The group gains a learner (through the log). */
	struct repl_members m = { .voters = 1u << 1, .learners = 1u << 2 };
	assert_int_equal(repl_members_change(e.r, &m), 0);
	failovers(400); /* about 40 KB of log: snapshots are due */
	struct ctld_store_stats st;
	for (int i = 0; i < 2000; i++) {
		ctld_store_snapshot_maybe(e.s, e.state, e.applied);
		turn();
		ctld_store_stats_get(e.s, &st);
		if (st.snapshots_taken > 0 && st.snapshot_index == e.applied)
			break;
		if (i % 50 == 49)
			failovers(1);
	}
	assert_true(st.snapshots_taken > 0);
	failovers(3); /* entries after the snapshot */
	uint64_t last = e.applied, epoch = e.state->lanes[0].epoch;
	size_t len = ctl_state_encoded_bytes(e.state);
	uint8_t *before = malloc(len), *after = malloc(len);
	assert_int_equal(ctl_state_encode(e.state, before, len), (ssize_t)len);
	close_store();

	/* Reopened: the snapshot's state, then the log after it replayed by the core. */
	open_store();
	assert_true(e.boot_snap_index > 0 && e.boot_snap_index <= last);
	assert_int_equal(e.boot_last_index, last);
	assert_int_equal(e.boot_members.learners, 1u << 2); /* from the snapshot's header */
	assert_int_equal(e.state->n_lanes, 4);
	assert_true(e.state->lanes[0].epoch < epoch);
	run_until(&e.leader);
	while (e.applied < last)
		turn();
	assert_int_equal(e.state->lanes[0].epoch, epoch);
	assert_int_equal(ctl_state_encode(e.state, after, len), (ssize_t)len);
	assert_memory_equal(before, after, len);
	free(before);
	free(after);
	close_store();
}

static void test_membership_in_log_and_torn_meta(void **state)
{
	(void)state;
	open_store();
	run_until(&e.leader);
	struct ctl_cmd boot = { .type = CTL_CMD_BOOTSTRAP, .n_lanes = 2, .members = { .voters = 2 } };
	propose(&boot);
	while (e.state->n_lanes == 0)
		turn();
	failovers(2);
	struct repl_members m = { .voters = 1u << 1, .learners = 1u << 3 };
	assert_int_equal(repl_members_change(e.r, &m), 0);
	failovers(2);
	struct repl_state rs;
	repl_state_get(e.r, &rs);
	uint64_t term = rs.epoch;
	close_store();
	/* Tear the slot the last save went to: the other one still holds a record. */
	char path[320];
	for (int slot = 0; slot < 2; slot++) {
		snprintf(path, sizeof(path), "%s/meta.%d", e.dir, slot);
		int fd = open(path, O_WRONLY);
		assert_true(fd >= 0);
		if (slot == 0)
			assert_int_equal(pwrite(fd, "garbage", 7, 20), 7);
		close(fd);
	}
	open_store();
	assert_int_equal(e.boot_snap_index, 0);
	assert_int_equal(e.boot_configs, 1);    /* the learner, from the log */
	repl_state_get(e.r, &rs);
	assert_true(rs.members.learners == 1u << 3);
	assert_true(rs.epoch >= term - 1 && rs.epoch <= term);
	run_until(&e.leader);
	close_store();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_snapshot_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_membership_in_log_and_torn_meta, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
