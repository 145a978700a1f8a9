/* A follower receiving a snapshot: chunks written in order through the snapshot I/O, out of
 * order chunks answered with the offset wanted, a snapshot its log already covers answered
 * with a plain ACK, malformed chunks dropped, and the state after installation. A chunk the
 * host cannot write for now (full disk, busy) starts the transfer over; other errors stop. */
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
	fx_node_init(&node, 1, REPL_MODE_EXTERNAL);
	fx_node_start(&node, NULL);
	fx_config(&node, 1, 0, 0x7, 0);
	fx_complete_all(&node);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_node_free(&node);
	return 0;
}

static const struct repl_snapshot_meta meta = { .index = 40, .epoch = 1, .total_bytes = 10 };

static void chunk(uint64_t offset, uint32_t len)
{
	static const uint8_t data[10] = "0123456789";
	struct repl_msg m = { .type = REPL_MSG_SNAPSHOT, .src = 0, .dst = 1, .epoch = 1 };
	m.snapshot = (struct repl_msg_snapshot){ .meta = meta, .offset = offset, .len = len,
						 .last = offset + len == meta.total_bytes,
						 .data = data + offset };
	repl_recv(node.r, &m);
}

static void test_install_in_order(void **state)
{
	(void)state;
	chunk(0, 4);
	assert_int_equal(fx_ops_count(&node, FX_OP_SNAP_WRITE), 1);
	assert_int_equal(node.ops[0].offset, 0);
	assert_int_equal(node.ops[0].len, 4);
	assert_false(node.ops[0].last);
	chunk(4, 6); /* the first write is still out: dropped, the primary resends */
	assert_int_equal(fx_ops_count(&node, FX_OP_SNAP_WRITE), 1);
	fx_complete_all(&node);
	struct fx_decoded d;
	assert_true(fx_msg_last(&node, REPL_MSG_SNAPSHOT_ACK, 0, &d));
	assert_int_equal(d.m.snapshot_ack.next_offset, 4);
	assert_int_equal(d.m.snapshot_ack.snap_index, 40);
	chunk(4, 6);
	assert_true(node.ops[0].last);
	fx_complete_all(&node);
	assert_true(fx_msg_last(&node, REPL_MSG_ACK, 0, &d));
	assert_int_equal(d.m.ack.status, REPL_ACK_OK);
	assert_int_equal(d.m.ack.match_index, 40);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.snapshot_index, 40);
	assert_int_equal(s.last_index, 40);
	assert_int_equal(s.commit_index, 40);
	assert_int_equal(s.applied_index, 40);
	assert_int_equal(s.log_start, 41);
	assert_int_equal(s.counters[REPL_CNT_SNAPSHOTS_INSTALLED], 1);
	assert_memory_equal(node.snap_data, "0123456789", 10);
	/* The log continues after it. */
	struct repl_entry e = fx_entry(1, 41, "next");
	struct repl_msg m = { .type = REPL_MSG_APPEND, .src = 0, .dst = 1, .epoch = 1 };
	m.append = (struct repl_msg_append){ .prev_index = 40, .prev_epoch = 1, .commit_index = 41,
					     .n_entries = 1, .entries = &e };
	repl_recv(node.r, &m);
	fx_complete_all(&node);
	assert_int_equal(node.applied_last, 41);
}

static void test_out_of_order_chunk(void **state)
{
	(void)state;
	chunk(4, 6); /* no transfer started: asks for offset 0 */
	struct fx_decoded d;
	assert_true(fx_msg_last(&node, REPL_MSG_SNAPSHOT_ACK, 0, &d));
	assert_int_equal(d.m.snapshot_ack.next_offset, 0);
	assert_int_equal(node.n_ops, 0);
	chunk(0, 4);
	fx_complete_all(&node);
	chunk(0, 4); /* a duplicate: answered with where we are */
	assert_true(fx_msg_last(&node, REPL_MSG_SNAPSHOT_ACK, 0, &d));
	assert_int_equal(d.m.snapshot_ack.next_offset, 4);
	assert_int_equal(node.n_ops, 0);
}

static void test_covered_snapshot_not_installed(void **state)
{
	(void)state;
	struct repl_entry e[2] = { fx_entry(1, 1, "a"), fx_entry(1, 2, "b") };
	struct repl_msg m = { .type = REPL_MSG_APPEND, .src = 0, .dst = 1, .epoch = 1 };
	m.append = (struct repl_msg_append){ .n_entries = 2, .entries = e, .commit_index = 2 };
	repl_recv(node.r, &m);
	fx_complete_all(&node);
	fx_msgs_clear(&node);
	struct repl_msg s = { .type = REPL_MSG_SNAPSHOT, .src = 0, .dst = 1, .epoch = 1 };
	s.snapshot = (struct repl_msg_snapshot){ .meta = { .index = 2, .epoch = 1, .total_bytes = 1 },
						 .len = 1, .last = true,
						 .data = (const uint8_t *)"z" };
	repl_recv(node.r, &s);
	assert_int_equal(node.n_ops, 0);
	struct fx_decoded d;
	assert_true(fx_msg_last(&node, REPL_MSG_ACK, 0, &d));
	assert_int_equal(d.m.ack.match_index, 2);
}

static void test_malformed_chunk_dropped(void **state)
{
	(void)state;
	struct repl_msg m = { .type = REPL_MSG_SNAPSHOT, .src = 0, .dst = 1, .epoch = 1 };
	m.snapshot = (struct repl_msg_snapshot){ .meta = meta, .offset = 8, .len = 4,
						 .data = (const uint8_t *)"abcd" };
	repl_recv(node.r, &m);
	m.snapshot.offset = 0;
	m.snapshot.len = 10;
	m.snapshot.last = false; /* the end, not flagged as such */
	repl_recv(node.r, &m);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.counters[REPL_CNT_RX_DROPPED], 2);
	assert_int_equal(node.n_ops, 0);
}

/* The host failed a chunk's write (the pending op is taken off the fixture's list). */
static void fail_write(int err)
{
	assert_int_equal(fx_ops_count(&node, FX_OP_SNAP_WRITE), 1);
	uint64_t offset = node.ops[0].offset;
	uint32_t len = node.ops[0].len;
	node.n_ops = 0;
	repl_snapshot_write_done(node.r, &meta, offset, len, err);
}

/* Found by the fault suite: a follower whose disk filled up while it lagged was sent a
 * snapshot and stopped the node instead of refusing until there is room. */
static void test_full_disk_starts_over(void **state)
{
	(void)state;
	chunk(0, 4);
	fail_write(-ENOSPC);
	assert_int_equal(node.fatal_err, 0);
	fx_msgs_clear(&node);
	chunk(4, 6); /* the transfer was dropped: start over */
	struct fx_decoded d;
	assert_true(fx_msg_last(&node, REPL_MSG_SNAPSHOT_ACK, 0, &d));
	assert_int_equal(d.m.snapshot_ack.next_offset, 0);
	assert_int_equal(node.n_ops, 0);
	chunk(0, 4);
	fail_write(-EBUSY); /* the host is taking its own snapshot */
	assert_int_equal(node.fatal_err, 0);
	chunk(0, 4);
	fx_complete_all(&node);
	chunk(4, 6);
	fx_complete_all(&node);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_false(s.failed);
	assert_int_equal(s.snapshot_index, 40);
	assert_int_equal(s.counters[REPL_CNT_SNAPSHOTS_INSTALLED], 1);
	assert_memory_equal(node.snap_data, "0123456789", 10);
}

static void test_failed_chunk_write_stops(void **state)
{
	(void)state;
	chunk(0, 4);
	fail_write(-EIO);
	assert_int_equal(node.fatal_err, -EIO);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_true(s.failed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_install_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_order_chunk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_covered_snapshot_not_installed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_chunk_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_disk_starts_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_chunk_write_stops, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
