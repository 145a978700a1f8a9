/* The control group's state machine: bootstrap, node life cycle, lane epochs issued once,
 * one voter change at a time (joint until settled), switchover requests, every invalid
 * command refused the same way, and the wire forms of commands and of the whole state. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "control/core/ctl.h"

static struct ctl_state st;
static uint64_t idx;

static int apply(struct ctl_cmd c)
{
	return ctl_state_apply(&st, ++idx, &c);
}

static int setup(void **state)
{
	(void)state;
	ctl_state_init(&st);
	idx = 0;
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_BOOTSTRAP, .n_lanes = 4,
						 .members = { .voters = 0x7 } }), 0);
	return 0;
}

static void test_bootstrap(void **state)
{
	(void)state;
	assert_int_equal(st.n_lanes, 4);
	assert_int_equal(st.nodes[2].state, CTL_NODE_ACTIVE);
	assert_int_equal(st.nodes[3].state, CTL_NODE_NONE);
	for (unsigned k = 0; k < 4; k++) {
		assert_int_equal(st.lanes[k].epoch, 1);
		assert_int_equal(st.lanes[k].primary, k % 3); /* spread over the nodes */
		assert_int_equal(st.lanes[k].members.voters, 0x7);
	}
	struct repl_config cfg;
	assert_true(ctl_state_lane_config(&st, 3, &cfg));
	assert_int_equal(cfg.primary, 0);
	assert_false(ctl_state_lane_config(&st, 4, &cfg));
	/* Once only. */
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_BOOTSTRAP, .n_lanes = 2,
						 .members = { .voters = 0x3 } }), -EINVAL);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.applied_index, 2);
}

static void test_failover_epochs(void **state)
{
	(void)state;
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_LANE_PRIMARY, .lane = 1, .epoch = 2,
						 .node = 2 }), -ESTALE); /* not prepared */
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_LANE_PREPARE, .lane = 1, .epoch = 1 }),
			 -ESTALE);
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_LANE_PREPARE, .lane = 1, .epoch = 2,
						 .node = REPL_NODE_NONE }), 0);
	assert_int_equal(st.lanes[1].prep_epoch, 2);
	/* Membership is frozen during a failover. */
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_LANE_MEMBERS, .lane = 1,
						 .members = { .voters = 0x7, .learners = 0x8 } }),
			 -EBUSY);
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_LANE_PRIMARY, .lane = 1, .epoch = 2,
						 .node = 5 }), -ESTALE); /* not a voter */
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_LANE_PRIMARY, .lane = 1, .epoch = 2,
						 .node = 2 }), 0);
	assert_int_equal(st.lanes[1].epoch, 2);
	assert_int_equal(st.lanes[1].primary, 2);
	assert_int_equal(st.lanes[1].prep_epoch, 0);
	/* A prepare that never finished is superseded by a higher one, never reused. */
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_LANE_PREPARE, .lane = 1, .epoch = 3 }), 0);
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_LANE_PREPARE, .lane = 1, .epoch = 3 }),
			 -ESTALE);
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_LANE_PREPARE, .lane = 1, .epoch = 5 }), 0);
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_LANE_PRIMARY, .lane = 1, .epoch = 3,
						 .node = 0 }), -ESTALE);
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_LANE_PREPARE, .lane = 9, .epoch = 9 }),
			 -EINVAL);
}

static void test_members_one_at_a_time(void **state)
{
	(void)state;
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_NODE_ADD, .node = 3,
						 .mgmt_addr = "10.0.0.4:17100",
						 .repl_addr = "10.1.0.4:17200" }), 0);
	assert_int_equal(st.nodes[3].state, CTL_NODE_JOINING);
	assert_string_equal(st.nodes[3].mgmt_addr, "10.0.0.4:17100");
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_NODE_ADD, .node = 3 }), -EEXIST);
	struct ctl_cmd m = { .type = CTL_CMD_LANE_MEMBERS, .lane = 0,
			     .members = { .voters = 0x7, .learners = 0x8 } };
	assert_int_equal(apply(m), 0); /* a learner: no voter change */
	assert_int_equal(st.lanes[0].prev_voters, 0);
	m.members = (struct repl_members){ .voters = 0xf };
	assert_int_equal(apply(m), 0);
	assert_int_equal(st.lanes[0].prev_voters, 0x7);
	m.members = (struct repl_members){ .voters = 0xe };
	assert_int_equal(apply(m), -EBUSY); /* unsettled: no second voter change */
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_LANE_SETTLED, .lane = 0, .epoch = 1,
						 .members = { .voters = 0x7 } }), -ESTALE);
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_LANE_SETTLED, .lane = 0, .epoch = 1,
						 .members = { .voters = 0xf } }), 0);
	assert_int_equal(st.lanes[0].prev_voters, 0);
	m.members = (struct repl_members){ .voters = 0x3c }; /* two at once */
	assert_int_equal(apply(m), -EINVAL);
	m.members = (struct repl_members){ .voters = 0xe }; /* without the primary (0) */
	assert_int_equal(apply(m), -EBUSY);
	m.members = (struct repl_members){ .voters = 0xb, .learners = 0x1 }; /* overlap */
	assert_int_equal(apply(m), -EINVAL);
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_NODE_STATE, .node = 3,
						 .node_state = CTL_NODE_ACTIVE }), 0);
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_NODE_REMOVE, .node = 3 }), 0);
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_NODE_STATE, .node = 3,
						 .node_state = CTL_NODE_ACTIVE }), -EINVAL);
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_NODE_STATE, .node = 3,
						 .node_state = CTL_NODE_NONE }), 0);
	assert_int_equal(st.nodes[3].state, CTL_NODE_NONE);
	assert_int_equal(st.nodes[3].mgmt_addr[0], 0);
}

static void test_switchover_request(void **state)
{
	(void)state;
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_SWITCHOVER, .lane = 0, .node = 0 }),
			 -EINVAL); /* already primary */
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_SWITCHOVER, .lane = 0, .node = 6 }),
			 -EINVAL); /* not a voter */
	assert_int_equal(apply((struct ctl_cmd){ .type = CTL_CMD_SWITCHOVER, .lane = 0, .node = 2 }), 0);
	assert_int_equal(st.lanes[0].switch_target, 2);
	apply((struct ctl_cmd){ .type = CTL_CMD_LANE_PREPARE, .lane = 0, .epoch = 2, .node = 2 });
	assert_int_equal(st.lanes[0].prep_target, 2);
	apply((struct ctl_cmd){ .type = CTL_CMD_LANE_PRIMARY, .lane = 0, .epoch = 2, .node = 2 });
	assert_int_equal(st.lanes[0].switch_target, REPL_NODE_NONE);
	assert_int_equal(st.lanes[0].prep_target, REPL_NODE_NONE);
}

static void test_wire_forms(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct ctl_cmd c = { .type = CTL_CMD_NODE_ADD, .node = 9, .lane = 77, .epoch = 5,
			     .members = { .voters = 3, .learners = 4 }, .n_lanes = 8,
			     .mgmt_addr = "m", .repl_addr = "r" }, out;
	ssize_t n = ctl_cmd_encode(&c, buf, sizeof(buf));
	assert_int_equal(n, 40 + 2 * CTL_ADDR_BYTES);
	assert_int_equal(ctl_cmd_decode(buf, (size_t)n, &out), 0);
	assert_int_equal(out.node, 9);
	assert_int_equal(out.lane, 77);
	assert_int_equal(out.members.learners, 4);
	assert_string_equal(out.repl_addr, "r");
	for (ssize_t len = 0; len < n; len++)
		assert_int_not_equal(ctl_cmd_decode(buf, (size_t)len, &out), 0);
	buf[40 + CTL_ADDR_BYTES - 1] = 'x'; /* an address without its terminating NUL */
	assert_int_equal(ctl_cmd_decode(buf, (size_t)n, &out), -EBADMSG);
	buf[0] = 9;
	assert_int_equal(ctl_cmd_decode(buf, (size_t)n, &out), -EPROTONOSUPPORT);
	c.type = 0;
	assert_int_equal(ctl_cmd_encode(&c, buf, sizeof(buf)), -EINVAL);
	/* The whole state round-trips. */
	apply((struct ctl_cmd){ .type = CTL_CMD_LANE_PREPARE, .lane = 2, .epoch = 4, .node = 1 });
	size_t bytes = ctl_state_encoded_bytes(&st);
	uint8_t *sbuf = malloc(bytes);
	assert_int_equal(ctl_state_encode(&st, sbuf, bytes), (ssize_t)bytes);
	struct ctl_state *copy = malloc(sizeof(*copy));
	assert_int_equal(ctl_state_decode(sbuf, bytes, copy), 0);
	assert_int_equal(copy->n_lanes, 4);
	assert_int_equal(copy->applied_index, st.applied_index);
	assert_int_equal(copy->lanes[2].prep_epoch, 4);
	assert_int_equal(copy->lanes[2].prep_target, 1);
	assert_int_equal(copy->nodes[1].state, CTL_NODE_ACTIVE);
	assert_int_equal(ctl_state_decode(sbuf, bytes - 1, copy), -EBADMSG);
	assert_int_equal(ctl_state_encode(&st, sbuf, bytes - 1), -EMSGSIZE);
	free(copy);
	free(sbuf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_bootstrap, setup),
		cmocka_unit_test_setup(test_failover_epochs, setup),
		cmocka_unit_test_setup(test_members_one_at_a_time, setup),
		cmocka_unit_test_setup(test_switchover_request, setup),
		cmocka_unit_test_setup(test_wire_forms, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
