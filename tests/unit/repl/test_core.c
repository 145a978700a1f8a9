/* Creation and the host's requests: option and boot-state validation, defaults, the state
 * for INFO, proposal errors, counters, and messages that make no sense. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"

static struct fx_node node;

static void test_options_validated(void **state)
{
	(void)state;
	struct repl_options o;
	repl_options_default(&o, 3, REPL_MODE_EXTERNAL);
	assert_int_equal(o.heartbeat_ms, REPL_HEARTBEAT_MS_DEFAULT);
	assert_int_equal(o.lease_ms, REPL_LEASE_MS_DEFAULT);
	struct repl_io io = { 0 };
	struct repl_boot boot = { 0 };
	struct repl_options bad[6];
	for (unsigned i = 0; i < 6; i++)
		bad[i] = o;
	bad[0].node_id = 64;
	bad[1].mode = 0;
	bad[2].heartbeat_ms = 0;
	bad[3].lease_drift_ms = bad[3].lease_ms;
	bad[4].mode = REPL_MODE_ELECTION;
	bad[4].election_ms = 2 * bad[4].heartbeat_ms;
	bad[5].snapshot_chunk_bytes = REPL_SNAPSHOT_CHUNK_BYTES_MAX + 1;
	for (unsigned i = 0; i < 6; i++)
		assert_null(repl_create(&bad[i], &io, &boot));
}

static void test_boot_validated(void **state)
{
	(void)state;
	struct repl_options o;
	repl_options_default(&o, 0, REPL_MODE_EXTERNAL);
	struct repl_io io = { 0 };
	struct repl_epoch_run runs[2] = { { 1, 2 }, { 5, 1 } }; /* epochs going back */
	struct repl_boot b = { .last_index = 8, .runs = runs, .n_runs = 2 };
	assert_null(repl_create(&o, &io, &b));
	b.n_runs = 0; /* a log without runs */
	assert_null(repl_create(&o, &io, &b));
	b.snapshot.index = 9; /* a log ending before its snapshot */
	assert_null(repl_create(&o, &io, &b));
	struct repl_epoch_run gap[1] = { { 5, 1 } };
	struct repl_boot g = { .snapshot = { .index = 2, .epoch = 1 }, .last_index = 8,
			       .runs = gap, .n_runs = 1 };
	assert_null(repl_create(&o, &io, &g));
}

static void test_state_and_requests(void **state)
{
	(void)state;
	fx_node_init(&node, 0, REPL_MODE_EXTERNAL);
	fx_node_start(&node, NULL);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.role, REPL_ROLE_FOLLOWER);
	assert_int_equal(s.primary, REPL_NODE_NONE);
	assert_int_equal(s.last_index, 0);
	assert_int_equal(s.log_start, 1);
	assert_int_equal(repl_propose(node.r, REPL_ENTRY_DATA, "x", 1), -ENOTCONN);
	struct repl_peer_info p;
	assert_int_equal(repl_peer_get(node.r, 1, &p), -ENOTCONN);
	assert_int_equal(repl_handoff(node.r, 1), -ENOTCONN);
	assert_int_equal(repl_members_change(node.r, &(struct repl_members){ .voters = 1 }), -ENOTCONN);
	fx_config(&node, 1, 0, 0x3, 0);
	fx_complete_all(&node);
	static uint8_t big[REPL_ENTRY_BYTES_MAX + 1];
	assert_int_equal(repl_propose(node.r, REPL_ENTRY_DATA, big, sizeof(big)), -EMSGSIZE);
	assert_int_equal(repl_propose(node.r, REPL_ENTRY_DATA, big, 5000), -EMSGSIZE);
	assert_int_equal(repl_propose(node.r, 9, "x", 1), -EINVAL);
	/* The cache (64 entries) fills with unacknowledged entries: backpressure. */
	int64_t rc = 0;
	unsigned accepted = 0;
	while ((rc = repl_propose(node.r, REPL_ENTRY_DATA, "x", 1)) > 0)
		accepted++;
	assert_int_equal(rc, -EAGAIN);
	assert_int_equal(accepted, 63); /* plus the NOOP */
	repl_state_get(node.r, &s);
	assert_int_equal(s.role, REPL_ROLE_PRIMARY);
	assert_int_equal(s.last_index, 64);
	assert_true(s.counters[REPL_CNT_TX_APPEND] > 0);
	assert_string_equal(repl_counter_name(REPL_CNT_RESENDS), "resends");
	assert_string_equal(repl_counter_name(REPL_CNT_REPAIRS), "repairs");
	assert_string_equal(repl_counter_name(REPL_CNT_MAX), "?");
	fx_node_free(&node);
}

static void test_nonsense_messages(void **state)
{
	(void)state;
	fx_node_init(&node, 1, REPL_MODE_EXTERNAL);
	fx_node_start(&node, NULL);
	struct repl_msg m = { .type = REPL_MSG_VOTE, .src = 0, .dst = 1, .epoch = 9 };
	repl_recv(node.r, &m); /* votes mean nothing in mode A */
	m.type = REPL_MSG_VOTE_REPLY;
	repl_recv(node.r, &m);
	m.type = 0;
	repl_recv(node.r, &m);
	m.type = REPL_MSG_APPEND;
	m.src = 64;
	repl_recv(node.r, &m);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.counters[REPL_CNT_RX_DROPPED], 4);
	assert_int_equal(s.epoch, 0);
	fx_node_free(&node);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options_validated),
		cmocka_unit_test(test_boot_validated),
		cmocka_unit_test(test_state_and_requests),
		cmocka_unit_test(test_nonsense_messages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
