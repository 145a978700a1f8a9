/* The primary's sending side: the window of unacknowledged bytes, resending after a timeout,
 * heartbeat rounds, catch-up through the read I/O when the cache no longer has the entries,
 * and whole clusters converging. */
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

static void propose_n(unsigned count, uint32_t len)
{
	static uint8_t payload[FX_PAYLOAD_MAX];
	memset(payload, 'p', sizeof(payload));
	for (unsigned i = 0; i < count; i++)
		assert_true(repl_propose(cl.node[0].r, REPL_ENTRY_DATA, payload, len) > 0);
}

static void test_cluster_replicates_and_applies(void **state)
{
	(void)state;
	assert_int_equal(fx_cluster_primary(&cl), 0);
	for (unsigned i = 0; i < 40; i++) {
		propose_n(1, 10);
		fx_cluster_settle(&cl);
	}
	fx_cluster_run(&cl, 20); /* heartbeats carry the final commit index */
	assert_int_equal(fx_cluster_check_applied(&cl), 41);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(cl.node[i].applied_last, 41);
}

static void test_window_limits_unacked_bytes(void **state)
{
	(void)state;
	struct fx_node *p = &cl.node[0];
	repl_destroy(p->r);
	fx_node_init(p, 0, REPL_MODE_EXTERNAL);
	p->opts.window_bytes = 250;
	p->opts.msg_bytes_max = 100;
	fx_node_start(p, NULL);
	fx_config(p, 5, 0, 0x7, 0);
	fx_complete_all(p);
	/* Both followers answer the probe so that they are pipelining. */
	for (unsigned f = 1; f <= 2; f++) {
		struct repl_msg m = { .type = REPL_MSG_ACK, .src = (uint8_t)f, .dst = 0, .epoch = 5 };
		m.ack.match_index = 1;
		m.ack.seq = 1;
		repl_recv(p->r, &m);
	}
	fx_msgs_clear(p);
	/* 100-byte entries, window 250: three APPENDs go (100, 200, 300 >= 250 stops). */
	propose_n(6, 100);
	assert_int_equal(fx_msgs_count(p, REPL_MSG_APPEND, 1), 3);
	struct repl_peer_info info;
	assert_int_equal(repl_peer_get(p->r, 1, &info), 0);
	assert_int_equal(info.next_index, 5);
	/* An ACK for the first two opens the window for two more. */
	fx_msgs_clear(p);
	struct repl_msg m = { .type = REPL_MSG_ACK, .src = 1, .dst = 0, .epoch = 5 };
	m.ack.match_index = 3;
	m.ack.seq = 1;
	repl_recv(p->r, &m);
	assert_int_equal(fx_msgs_count(p, REPL_MSG_APPEND, 1), 2);
	assert_int_equal(repl_peer_get(p->r, 1, &info), 0);
	assert_int_equal(info.next_index, 7);
}

static void test_resend_after_timeout(void **state)
{
	(void)state;
	cl.down = 1u << 2; /* node 2 hears nothing */
	propose_n(3, 10);
	fx_cluster_settle(&cl);
	struct repl_state s;
	repl_state_get(cl.node[0].r, &s);
	uint64_t resends = s.counters[REPL_CNT_RESENDS];
	cl.down = 0;
	fx_cluster_run(&cl, 60); /* resend_ms is 50 */
	repl_state_get(cl.node[0].r, &s);
	assert_true(s.counters[REPL_CNT_RESENDS] > resends);
	assert_int_equal(cl.node[2].applied_last, 4);
}

static void test_catch_up_through_read(void **state)
{
	(void)state;
	cl.down = 1u << 2;
	/* 150 entries: more than the 64-entry cache, so node 2 must be served from the log. */
	for (unsigned i = 0; i < 150; i++) {
		propose_n(1, 20);
		fx_cluster_settle(&cl);
	}
	fx_cluster_run(&cl, 20);
	assert_int_equal(cl.node[1].applied_last, 151);
	assert_true(cl.node[0].r != NULL);
	cl.down = 0;
	unsigned reads = cl.node[0].n_reads;
	fx_cluster_run(&cl, 200);
	assert_int_equal(cl.node[2].applied_last, 151);
	assert_true(cl.node[0].n_reads > reads);
	fx_cluster_check_applied(&cl);
	assert_true(cl.node[2].log[100].len == 20);
}

static void test_heartbeat_rounds(void **state)
{
	(void)state;
	struct fx_node *p = &cl.node[0];
	fx_msgs_clear(p);
	struct repl_state s;
	repl_state_get(p->r, &s);
	uint64_t before = s.counters[REPL_CNT_TX_APPEND];
	for (unsigned t = 0; t < 10; t++) {
		p->now_ms++;
		repl_tick(p->r);
	}
	repl_state_get(p->r, &s);
	/* heartbeat_ms is 10: one round to each of the two followers. */
	assert_int_equal(s.counters[REPL_CNT_TX_APPEND] - before, 2);
	struct fx_decoded d;
	assert_true(fx_msg_last(p, REPL_MSG_APPEND, 1, &d));
	assert_int_equal(d.m.append.n_entries, 0);
	assert_int_equal(d.m.append.prev_index, 1); /* after what node 1 is known to match */
	assert_int_equal(d.m.append.commit_index, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cluster_replicates_and_applies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_window_limits_unacked_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resend_after_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catch_up_through_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_rounds, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
