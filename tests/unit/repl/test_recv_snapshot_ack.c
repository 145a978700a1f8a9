/* The primary's side of a snapshot transfer: a follower that needs entries from before the
 * primary's log start gets the snapshot chunk by chunk (each read through the snapshot I/O,
 * the next sent when the previous is acknowledged, resent after a timeout), then the log. */
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
	cl.down = 1u << 2;
	for (unsigned i = 0; i < 30; i++) {
		assert_true(repl_propose(cl.node[0].r, REPL_ENTRY_DATA, "abc", 3) > 0);
		fx_cluster_settle(&cl);
	}
	fx_cluster_run(&cl, 15);
	fx_node_compact(&cl.node[0]); /* snapshot at 31, log starts at 32 */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_cluster_free(&cl);
	return 0;
}

static void test_transfer_then_log(void **state)
{
	(void)state;
	assert_int_equal(cl.node[0].snap.index, 31);
	cl.down = 0;
	fx_cluster_run(&cl, 100);
	struct repl_state s;
	repl_state_get(cl.node[2].r, &s);
	assert_int_equal(s.snapshot_index, 31);
	assert_int_equal(s.counters[REPL_CNT_SNAPSHOTS_INSTALLED], 1);
	assert_int_equal(s.counters[REPL_CNT_RX_SNAPSHOT], 3); /* 250 bytes in chunks of 100 */
	assert_memory_equal(cl.node[2].snap_data, cl.node[0].snap_data, 250);
	repl_state_get(cl.node[0].r, &s);
	assert_int_equal(s.counters[REPL_CNT_SNAPSHOTS_SENT], 1);
	struct repl_peer_info p;
	assert_int_equal(repl_peer_get(cl.node[0].r, 2, &p), 0);
	assert_false(p.snapshot);
	assert_int_equal(p.match_index, 31);
	assert_true(repl_propose(cl.node[0].r, REPL_ENTRY_DATA, "d", 1) > 0);
	fx_cluster_run(&cl, 20);
	assert_int_equal(cl.node[2].applied_last, 32);
}

static void test_lost_chunk_resent(void **state)
{
	(void)state;
	cl.down = 0;
	struct fx_node *p0 = &cl.node[0];
	/* Tick the primary alone and drop what it sends: the first chunk is lost. Node 2's
	 * pipeline times out (resend_ms 50 after its last progress at 1000) and, its next
	 * index being before the log start, the snapshot begins. */
	p0->now_ms = 1050;
	repl_tick(p0->r);
	fx_complete_all(p0);
	assert_int_equal(fx_msgs_count(p0, REPL_MSG_SNAPSHOT, 2), 1);
	fx_msgs_clear(p0);
	p0->now_ms += 10;
	repl_tick(p0->r);
	fx_complete_all(p0);
	assert_int_equal(fx_msgs_count(p0, REPL_MSG_SNAPSHOT, 2), 0); /* waits resend_ms */
	p0->now_ms += 50;
	repl_tick(p0->r);
	fx_complete_all(p0);
	struct fx_decoded d;
	assert_true(fx_msg_last(p0, REPL_MSG_SNAPSHOT, 2, &d));
	assert_int_equal(d.m.snapshot.offset, 0);
	assert_int_equal(d.m.snapshot.len, 100);
	assert_int_equal(d.m.snapshot.meta.index, 31);
	assert_false(d.m.snapshot.last);
	/* A SNAPSHOT_ACK for another snapshot is ignored; one asking for 100 moves on. */
	fx_msgs_clear(p0);
	struct repl_msg a = { .type = REPL_MSG_SNAPSHOT_ACK, .src = 2, .dst = 0, .epoch = 1 };
	a.snapshot_ack = (struct repl_msg_snapshot_ack){ .snap_index = 7, .snap_epoch = 1,
							 .next_offset = 100 };
	repl_recv(p0->r, &a);
	assert_int_equal(fx_ops_count(p0, FX_OP_SNAP_READ), 0);
	a.snapshot_ack.snap_index = 31;
	repl_recv(p0->r, &a);
	assert_int_equal(fx_ops_count(p0, FX_OP_SNAP_READ), 1);
	assert_int_equal(p0->ops[0].offset, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transfer_then_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_chunk_resent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
