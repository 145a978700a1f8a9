/* Mode A configuration: promises (durable before reported, refused below the promised
 * epoch, stepping a primary down), configurations (older refused, one voter at a time within
 * an epoch, never primary twice in one epoch across a restart), and the planned handoff. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"

static struct fx_cluster cl;

static int setup(void **state)
{
	(void)state;
	fx_cluster_init(&cl, 3, REPL_MODE_EXTERNAL);
	fx_cluster_config(&cl, 1, 0);
	fx_cluster_settle(&cl);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_cluster_free(&cl);
	return 0;
}

static void test_promise_durable_then_reported(void **state)
{
	(void)state;
	struct fx_node *f = &cl.node[1];
	assert_true(repl_propose(cl.node[0].r, REPL_ENTRY_DATA, "x", 1) > 0);
	fx_cluster_settle(&cl);
	struct repl_promise p;
	assert_int_equal(repl_promise(f->r, 2, &p), -EINPROGRESS);
	assert_int_equal(f->n_promised, 0);
	assert_int_equal(fx_ops_count(f, FX_OP_META), 1);
	assert_true(fx_op_complete(f, FX_OP_META));
	assert_int_equal(f->n_promised, 1);
	assert_int_equal(f->promised.epoch, 2);
	assert_int_equal(f->promised.last_index, 2);
	assert_int_equal(f->promised.last_epoch, 1);
	assert_false(f->promised.damaged);
	assert_false(f->promised.was_primary);
	/* Again: already durable, answered at once. Lower: refused with the promised epoch. */
	assert_int_equal(repl_promise(f->r, 2, &p), 0);
	assert_int_equal(p.last_index, 2);
	assert_int_equal(repl_promise(f->r, 1, &p), -ESTALE);
	assert_int_equal(p.epoch, 2);
}

static void test_promise_reports_durable_tail_only(void **state)
{
	(void)state;
	struct fx_node *f = &cl.node[1];
	/* Entry 2 reaches the follower but is not durable there when it promises. */
	assert_true(repl_propose(cl.node[0].r, REPL_ENTRY_DATA, "x", 1) > 0);
	fx_complete_all(&cl.node[0]);
	struct fx_decoded d;
	assert_true(fx_msg_last(&cl.node[0], REPL_MSG_APPEND, 1, &d));
	repl_recv(f->r, &d.m);
	struct repl_promise p;
	assert_int_equal(repl_promise(f->r, 2, &p), -EINPROGRESS);
	assert_true(fx_op_complete(f, FX_OP_META));
	assert_int_equal(f->promised.last_index, 1);
}

static void test_promise_steps_primary_down(void **state)
{
	(void)state;
	struct fx_node *p0 = &cl.node[0];
	assert_true(repl_propose(p0->r, REPL_ENTRY_DATA, "x", 1) > 0);
	struct repl_promise p;
	assert_int_equal(repl_promise(p0->r, 2, &p), -EINPROGRESS);
	struct repl_state s;
	repl_state_get(p0->r, &s);
	assert_int_equal(s.role, REPL_ROLE_FOLLOWER);
	assert_false(s.lease_valid);
	assert_int_equal(p0->n_abandon, 1);
	assert_int_equal(p0->abandoned_from, 2);
	fx_complete_all(p0);
	assert_true(p0->promised.was_primary);
	/* After promising epoch 2 it refuses epoch-1 frames: fencing. */
	fx_msgs_clear(p0);
	struct repl_msg m = { .type = REPL_MSG_APPEND, .src = 1, .dst = 0, .epoch = 1 };
	repl_recv(p0->r, &m);
	struct fx_decoded d;
	assert_true(fx_msg_last(p0, REPL_MSG_ACK, 1, &d));
	assert_int_equal(d.m.ack.status, REPL_ACK_STALE);
	assert_int_equal(d.m.epoch, 2);
}

static void test_failover_to_new_primary(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 5; i++)
		assert_true(repl_propose(cl.node[0].r, REPL_ENTRY_DATA, "x", 1) > 0);
	fx_cluster_settle(&cl);
	/* Node 0 goes dark; nodes 1 and 2 promise epoch 2; node 1 is appointed. */
	cl.down = 1;
	struct repl_promise p;
	for (unsigned i = 1; i <= 2; i++) {
		assert_int_equal(repl_promise(cl.node[i].r, 2, &p), -EINPROGRESS);
		fx_complete_all(&cl.node[i]);
	}
	fx_config(&cl.node[1], 2, 1, 0x7, 0);
	fx_config(&cl.node[2], 2, 1, 0x7, 0);
	fx_cluster_settle(&cl);
	assert_int_equal(fx_cluster_primary(&cl), 1);
	assert_true(repl_propose(cl.node[1].r, REPL_ENTRY_DATA, "y", 1) > 0);
	fx_cluster_run(&cl, 30);
	assert_int_equal(cl.node[2].applied_last, 8); /* 1 NOOP + 5 + NOOP(2) + 1 */
	assert_int_equal(cl.node[2].applied[7], 2);
	/* The old primary comes back: its epoch-1 heartbeats are refused; it steps down. */
	cl.down = 0;
	fx_cluster_run(&cl, 30);
	struct repl_state s;
	repl_state_get(cl.node[0].r, &s);
	assert_int_equal(s.role, REPL_ROLE_FOLLOWER);
	assert_int_equal(s.epoch, 2);
	assert_int_equal(cl.node[0].applied_last, 8);
	fx_cluster_check_applied(&cl);
}

static void test_config_rules(void **state)
{
	(void)state;
	struct repl_config cfg = { .epoch = 1, .primary = 0, .members = { .voters = 0x7 } };
	struct repl *r0 = cl.node[0].r;
	cfg.epoch = 0;
	assert_int_equal(repl_config_set(r0, &cfg), -ESTALE);
	cfg.epoch = 1;
	cfg.primary = 1; /* another primary for the same epoch */
	assert_int_equal(repl_config_set(r0, &cfg), -EINVAL);
	cfg.primary = 0;
	cfg.members.voters = 0x1f; /* two voters at once */
	assert_int_equal(repl_config_set(r0, &cfg), -EINVAL);
	cfg.members.voters = 0xf;  /* one: fine */
	assert_int_equal(repl_config_set(r0, &cfg), 0);
	cfg.members.voters = 0x6;  /* primary not a voter */
	assert_int_equal(repl_config_set(r0, &cfg), -EINVAL);
	cfg.members = (struct repl_members){ .voters = 0x7, .learners = 0x4 }; /* both */
	assert_int_equal(repl_config_set(r0, &cfg), -EINVAL);
	cfg.members = (struct repl_members){ .voters = 0x7, .learners = 0x8 };
	assert_int_equal(repl_config_set(r0, &cfg), 0);
	struct repl_peer_info p;
	assert_int_equal(repl_peer_get(r0, 3, &p), 0);
	assert_false(p.voter);
}

static void test_voter_change_appends_noop(void **state)
{
	(void)state;
	struct fx_node *p0 = &cl.node[0];
	struct repl_state s;
	repl_state_get(p0->r, &s);
	assert_true(s.members_committed);
	uint64_t last = s.last_index;
	fx_config(p0, 1, 0, 0xf, 0); /* a fourth voter (node 3, not running) */
	repl_state_get(p0->r, &s);
	assert_int_equal(s.last_index, last + 1);
	assert_int_equal(p0->log[last + 1].type, REPL_ENTRY_NOOP);
	assert_false(s.members_committed); /* not before three of four hold it */
	fx_config(&cl.node[1], 1, 0, 0xf, 0);
	fx_config(&cl.node[2], 1, 0, 0xf, 0);
	fx_cluster_run(&cl, 20);
	repl_state_get(p0->r, &s);
	assert_true(s.members_committed);
	fx_config(p0, 1, 0, 0xf, 0x10); /* learners only: no entry */
	repl_state_get(p0->r, &s);
	assert_int_equal(s.last_index, last + 1);
}

static void test_never_primary_twice_in_an_epoch(void **state)
{
	(void)state;
	struct fx_node *p0 = &cl.node[0];
	fx_node_restart(p0);
	struct repl_config cfg = { .epoch = 1, .primary = 0, .members = { .voters = 0x7 } };
	assert_int_equal(repl_config_set(p0->r, &cfg), -ESTALE);
	struct repl_state s;
	repl_state_get(p0->r, &s);
	assert_int_equal(s.role, REPL_ROLE_FOLLOWER);
	cfg.epoch = 2;
	assert_int_equal(repl_config_set(p0->r, &cfg), 0);
	fx_complete_all(p0);
	repl_state_get(p0->r, &s);
	assert_int_equal(s.role, REPL_ROLE_PRIMARY);
	assert_int_equal(s.epoch, 2);
}

static void test_handoff(void **state)
{
	(void)state;
	struct fx_node *p0 = &cl.node[0];
	assert_int_equal(repl_handoff(p0->r, 0), -EINVAL);
	assert_int_equal(repl_handoff(p0->r, 5), -EINVAL);
	assert_int_equal(repl_handoff(cl.node[1].r, 2), -ENOTCONN);
	cl.down = 1u << 2;
	assert_true(repl_propose(p0->r, REPL_ENTRY_DATA, "x", 1) > 0);
	fx_cluster_settle(&cl);
	assert_int_equal(repl_handoff(p0->r, 2), 0);
	assert_int_equal(repl_propose(p0->r, REPL_ENTRY_DATA, "x", 1), -EAGAIN);
	struct repl_state s;
	repl_state_get(p0->r, &s);
	assert_false(s.handoff_ready);
	cl.down = 0;
	fx_cluster_run(&cl, 60);
	repl_state_get(p0->r, &s);
	assert_true(s.handoff_ready);
	/* Nobody follows up: after handoff_ms writes resume. */
	fx_cluster_run(&cl, 200);
	repl_state_get(p0->r, &s);
	assert_false(s.handoff_ready);
	assert_true(repl_propose(p0->r, REPL_ENTRY_DATA, "x", 1) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_promise_durable_then_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_promise_reports_durable_tail_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_promise_steps_primary_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failover_to_new_primary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_voter_change_appends_noop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_never_primary_twice_in_an_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handoff, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
