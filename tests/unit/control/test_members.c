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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_join, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leave, setup, teardown),
		cmocka_unit_test_setup_teardown(test_balance, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
