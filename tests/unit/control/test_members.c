/* Membership and balance by the leader: a joining node becomes a learner in every lane, a
 * voter once caught up (one voter change per lane at a time, settled before the next), then
 * ACTIVE; a leaving node hands over its primaries, leaves every lane, then is gone; the
 * busiest node hands a primary to the idlest. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"

static int setup(void **state)
{
	(void)state;
	h_init(3, 2);
	h.now += h.o.node_timeout_ms + 1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_free();
	return 0;
}

static void step(uint64_t alive)
{
	h.now += h.o.propose_retry_ms;
	h_report_all(alive, 4);
	ctl_leader_tick(h.l, h.now);
	h_commit();
}

static void test_join(void **state)
{
	(void)state;
	struct ctl_cmd add = { .type = CTL_CMD_NODE_ADD, .node = 3 };
	assert_int_equal(ctl_state_apply(h.st, ++h.idx, &add), 0);
	step(0xf);
	for (uint32_t k = 0; k < 2; k++) {
		assert_int_equal(h.st->lanes[k].members.learners, 0x8);
		assert_int_equal(h.st->lanes[k].members.voters, 0x7);
	}
	step(0xf); /* reports say 3 is caught up: promoted, joint until settled */
	assert_int_equal(h.st->lanes[0].members.voters, 0xf);
	assert_int_equal(h.st->lanes[0].prev_voters, 0x7);
	step(0xf); /* the primaries report the new voters: settled */
	assert_int_equal(h.st->lanes[0].prev_voters, 0);
	assert_int_equal(h.st->lanes[1].prev_voters, 0);
	step(0xf);
	assert_int_equal(h.st->nodes[3].state, CTL_NODE_ACTIVE);
}

static void test_leave(void **state)
{
	(void)state;
	struct ctl_cmd rm = { .type = CTL_CMD_NODE_REMOVE, .node = 0 };
	assert_int_equal(ctl_state_apply(h.st, ++h.idx, &rm), 0);
	step(0x7);
	/* Lane 0's primary is node 0: it is switched over first; lane 1 drops it at once. */
	assert_int_not_equal(h.st->lanes[0].switch_target, REPL_NODE_NONE);
	assert_int_equal(h.st->lanes[1].members.voters, 0x6);
	assert_int_equal(h.st->lanes[1].prev_voters, 0x7);
	/* Simulate the switchover's outcome. */
	struct ctl_cmd prep = { .type = CTL_CMD_LANE_PREPARE, .lane = 0, .epoch = 2 };
	struct ctl_cmd prim = { .type = CTL_CMD_LANE_PRIMARY, .lane = 0, .epoch = 2, .node = 1 };
	assert_int_equal(ctl_state_apply(h.st, ++h.idx, &prep), 0);
	assert_int_equal(ctl_state_apply(h.st, ++h.idx, &prim), 0);
	for (unsigned i = 0; i < 4; i++)
		step(0x7);
	assert_int_equal(h.st->lanes[0].members.voters, 0x6);
	assert_int_equal(h.st->nodes[0].state, CTL_NODE_NONE);
}

static void test_balance(void **state)
{
	(void)state;
	h_free();
	h_init(3, 6);
	h.o.balance_every_ms = 100;
	ctl_leader_destroy(h.l);
	struct ctl_leader_io io = { .propose = h_propose, .send = h_send };
	h.l = ctl_leader_create(&h.o, &io, h.st);
	ctl_leader_reset(h.l, h.now);
	/* Move every primary to node 0 by hand. */
	for (uint32_t k = 0; k < 6; k++) {
		struct ctl_cmd prep = { .type = CTL_CMD_LANE_PREPARE, .lane = k, .epoch = 2 };
		struct ctl_cmd prim = { .type = CTL_CMD_LANE_PRIMARY, .lane = k, .epoch = 2, .node = 0 };
		ctl_state_apply(h.st, ++h.idx, &prep);
		ctl_state_apply(h.st, ++h.idx, &prim);
	}
	h.now += 200;
	h_report_all(0x7, 3);
	ctl_leader_tick(h.l, h.now);
	assert_int_equal(h.n_props, 1);
	assert_int_equal(h.props[0].type, CTL_CMD_SWITCHOVER);
	assert_int_equal(h.props[0].lane, 0);
	assert_int_not_equal(h.props[0].node, 0);
	/* Balanced enough: nothing. */
	h_commit();
	struct ctl_cmd cancel = { .type = CTL_CMD_SWITCHOVER, .lane = 0, .node = REPL_NODE_NONE };
	ctl_state_apply(h.st, ++h.idx, &cancel);
	for (uint32_t k = 0; k < 6; k++) {
		struct ctl_cmd prep = { .type = CTL_CMD_LANE_PREPARE, .lane = k, .epoch = 3 };
		struct ctl_cmd prim = { .type = CTL_CMD_LANE_PRIMARY, .lane = k, .epoch = 3,
					.node = (uint8_t)(k % 3) };
		ctl_state_apply(h.st, ++h.idx, &prep);
		ctl_state_apply(h.st, ++h.idx, &prim);
	}
	h.now += 200;
	h_report_all(0x7, 3);
	ctl_leader_tick(h.l, h.now);
	assert_int_equal(h.n_props, 0);
}

/* Nodes 0 and 1 report; node 2 never does (its control daemon is stopped), though the primary
 * reports it caught up (its dataplane runs). */
static void report_without_node2(void)
{
	for (unsigned i = 0; i < 2; i++) {
		struct ctl_lane_status lanes[6];
		for (uint32_t k = 0; k < 6; k++) {
			const struct ctl_lane *cl = &h.st->lanes[k];
			lanes[k] = (struct ctl_lane_status){ .lane = k, .epoch = cl->epoch,
				.role = cl->primary == i ? REPL_ROLE_PRIMARY : REPL_ROLE_FOLLOWER,
				.voters = cl->members.voters, .caught_up = 0x7,
				.config_committed = cl->primary == i };
		}
		h_report(i, true, 0x7, lanes, 6);
	}
}

static void test_balance_skips_unheard_and_gives_up_on_a_down_target(void **state)
{
	(void)state;
	h_free();
	h_init(3, 6);
	h.o.balance_every_ms = 50;
	ctl_leader_destroy(h.l);
	struct ctl_leader_io io = { .propose = h_propose, .send = h_send };
	h.l = ctl_leader_create(&h.o, &io, h.st);
	ctl_leader_reset(h.l, h.now);
	for (uint32_t k = 0; k < 6; k++) { /* node 0 leads five lanes, node 1 one */
		struct ctl_cmd prep = { .type = CTL_CMD_LANE_PREPARE, .lane = k, .epoch = 2 };
		struct ctl_cmd prim = { .type = CTL_CMD_LANE_PRIMARY, .lane = k, .epoch = 2,
					.node = k == 5 ? 1 : 0 };
		ctl_state_apply(h.st, ++h.idx, &prep);
		ctl_state_apply(h.st, ++h.idx, &prim);
	}
	/* Right after the leader's reset node 2 still counts as healthy, and holds no primary:
	 * it would be the idlest; but it has not reported, so node 1 gets the lane. */
	h.now += 60; /* within the grace of node_timeout_ms after the reset */
	assert_true(60 < h.o.node_timeout_ms);
	report_without_node2();
	ctl_leader_tick(h.l, h.now);
	assert_int_equal(h.n_props, 1);
	assert_int_equal(h.props[0].type, CTL_CMD_SWITCHOVER);
	assert_int_equal(h.props[0].node, 1);
	h.n_props = 0;

	/* A switchover to node 2 (asked before it went quiet) is given up once node 2 has been
	 * down for not_acting_ms, so later switchovers are not held behind it. */
	struct ctl_cmd sw = { .type = CTL_CMD_SWITCHOVER, .lane = 1, .epoch = 2, .node = 2 };
	assert_int_equal(ctl_state_apply(h.st, ++h.idx, &sw), 0);
	bool cancelled = false;
	for (unsigned i = 0; i < 40 && !cancelled; i++) {
		h.now += 50;
		report_without_node2();
		ctl_leader_tick(h.l, h.now);
		for (unsigned j = 0; j < h.n_props; j++)
			cancelled |= h.props[j].type == CTL_CMD_SWITCHOVER && h.props[j].lane == 1 &&
				     h.props[j].node == REPL_NODE_NONE;
		h.n_props = 0;
	}
	assert_true(cancelled);
	assert_true(h.now - 1000 >= h.o.not_acting_ms);
	assert_int_equal(h_count_sent(CTL_MSG_HANDOFF), 0); /* never sent to a down target */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_join, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leave, setup, teardown),
		cmocka_unit_test_setup_teardown(test_balance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_balance_skips_unheard_and_gives_up_on_a_down_target,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
