/* Leases and read barriers: a lease from a majority-acknowledged round, its expiry at
 * send time + lease_ms - lease_drift_ms, reads waiting for the primary's first entry, and
 * barrier rounds sent at the end of the turn and confirmed by a majority. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"

static struct fx_node node;

static int setup(void **state)
{
	(void)state;
	fx_node_init(&node, 0, REPL_MODE_EXTERNAL);
	fx_node_start(&node, NULL);
	fx_config(&node, 1, 0, 0x7, 0);
	fx_complete_all(&node); /* primary; round 1 sent at t=1000 */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_node_free(&node);
	return 0;
}

static void ack(unsigned src, uint64_t match, uint64_t seq)
{
	struct repl_msg m = { .type = REPL_MSG_ACK, .src = (uint8_t)src, .dst = 0, .epoch = 1 };
	m.ack.match_index = match;
	m.ack.seq = seq;
	repl_recv(node.r, &m);
}

static void test_lease_from_majority_round(void **state)
{
	(void)state;
	assert_false(repl_lease_valid(node.r));
	node.now_ms = 1005;
	ack(1, 0, 1);
	assert_true(repl_lease_valid(node.r));
	/* Round 1 was sent at 1000: the lease ends at 1000 + 100 - 10. */
	node.now_ms = 1089;
	assert_true(repl_lease_valid(node.r));
	node.now_ms = 1090;
	assert_false(repl_lease_valid(node.r));
	/* An ACK echoing a round never sent is ignored. */
	ack(2, 0, 99);
	assert_false(repl_lease_valid(node.r));
}

static void test_reads_wait_for_first_entry(void **state)
{
	(void)state;
	ack(1, 0, 1); /* lease, but the NOOP (1) is not committed */
	uint64_t ri, seq;
	assert_int_equal(repl_read_begin(node.r, &ri, &seq), -EINPROGRESS);
	assert_int_equal(ri, 1);
	assert_int_equal(seq, 2);
	ack(1, 1, 1);
	assert_int_equal(repl_read_begin(node.r, &ri, &seq), 0);
	assert_int_equal(ri, 1);
	assert_int_equal(seq, 0);
}

static void test_barrier_round(void **state)
{
	(void)state;
	ack(1, 1, 1);
	node.now_ms += 200; /* lease gone */
	fx_msgs_clear(&node);
	uint64_t ri, seq;
	assert_int_equal(repl_read_begin(node.r, &ri, &seq), -EINPROGRESS);
	assert_int_equal(seq, 2);
	assert_int_equal(repl_read_begin(node.r, &ri, &seq), -EINPROGRESS);
	assert_int_equal(seq, 2); /* one round for every read of this turn */
	assert_int_equal(fx_msgs(&node), 0);
	repl_flush(node.r);
	assert_int_equal(fx_msgs_count(&node, REPL_MSG_APPEND, REPL_NODE_NONE), 2);
	struct fx_decoded d;
	assert_true(fx_msg_last(&node, REPL_MSG_APPEND, 2, &d));
	assert_int_equal(d.m.append.seq, 2);
	repl_flush(node.r); /* nothing more wanted */
	assert_int_equal(fx_msgs(&node), 2);
	uint64_t confirmed = node.confirmed_seq;
	ack(2, 0, 2);
	assert_int_equal(node.confirmed_seq, 2);
	assert_true(confirmed < 2);
	assert_true(repl_lease_valid(node.r));
}

static void test_step_down_ends_lease(void **state)
{
	(void)state;
	ack(1, 1, 1);
	assert_true(repl_lease_valid(node.r));
	struct repl_msg m = { .type = REPL_MSG_ACK, .src = 1, .dst = 0, .epoch = 2 };
	m.ack.status = REPL_ACK_STALE;
	repl_recv(node.r, &m);
	assert_false(repl_lease_valid(node.r));
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_false(s.lease_valid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lease_from_majority_round, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_wait_for_first_entry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_barrier_round, setup, teardown),
		cmocka_unit_test_setup_teardown(test_step_down_ends_lease, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
