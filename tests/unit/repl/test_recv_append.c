/* A follower receiving APPEND: exact ACKs (status, match, hint, seq), exact log I/O
 * (appends, truncations), fencing of older epochs, adopting a newer one, learning the commit
 * index, refusing nonsense, and partial acceptance when the cache is full. */
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

static void append(uint64_t epoch, uint64_t prev, uint64_t prev_epoch, uint64_t commit,
		   uint64_t seq, const struct repl_entry *e, unsigned n)
{
	struct repl_msg m = { .type = REPL_MSG_APPEND, .src = 0, .dst = 1, .epoch = epoch };
	m.append = (struct repl_msg_append){ .prev_index = prev, .prev_epoch = prev_epoch,
					     .commit_index = commit, .seq = seq, .n_entries = n,
					     .entries = e };
	repl_recv(node.r, &m);
}

static struct repl_msg_ack last_ack(void)
{
	struct fx_decoded d;
	assert_true(fx_msg_last(&node, REPL_MSG_ACK, 0, &d));
	return d.m.ack;
}

/* Entries 1..3 of epoch 1, durable. */
static void fill3(void)
{
	struct repl_entry e[3] = { fx_entry(1, 1, "a"), fx_entry(1, 2, "b"), fx_entry(1, 3, "c") };
	append(1, 0, 0, 0, 1, e, 3);
	fx_complete_all(&node);
	fx_msgs_clear(&node);
}

static void test_heartbeat_empty_log(void **state)
{
	(void)state;
	append(1, 0, 0, 0, 5, NULL, 0);
	assert_int_equal(fx_msgs(&node), 1);
	struct fx_decoded d;
	fx_msg_get(&node, 0, &d);
	assert_int_equal(d.m.type, REPL_MSG_ACK);
	assert_int_equal(d.m.epoch, 1);
	assert_int_equal(d.m.ack.status, REPL_ACK_OK);
	assert_int_equal(d.m.ack.match_index, 0);
	assert_int_equal(d.m.ack.last_index, 0);
	assert_int_equal(d.m.ack.seq, 5);
	assert_int_equal(node.n_ops, 0);
}

static void test_entries_acked_when_durable(void **state)
{
	(void)state;
	struct repl_entry e[3] = { fx_entry(1, 1, "a"), fx_entry(1, 2, "bb"), fx_entry(1, 3, "c") };
	append(1, 0, 0, 0, 2, e, 3);
	assert_int_equal(fx_msgs(&node), 0); /* nothing durable yet: no ACK */
	assert_int_equal(fx_ops_count(&node, FX_OP_APPEND), 1);
	assert_int_equal(node.ops[0].a, 1);
	assert_int_equal(node.ops[0].b, 3);
	assert_int_equal(node.log[2].len, 2);
	assert_true(fx_op_complete(&node, FX_OP_APPEND));
	assert_int_equal(fx_msgs(&node), 1);
	struct repl_msg_ack a = last_ack();
	assert_int_equal(a.status, REPL_ACK_OK);
	assert_int_equal(a.match_index, 3);
	assert_int_equal(a.last_index, 3);
	assert_int_equal(a.seq, 2);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.durable_index, 3);
	assert_int_equal(s.commit_index, 0);
}

static void test_commit_learned_and_applied(void **state)
{
	(void)state;
	fill3();
	append(1, 3, 1, 2, 3, NULL, 0);
	assert_int_equal(node.applied_last, 2);
	assert_int_equal(node.applied[1], 1);
	/* A heartbeat after 1 with commit 3: 3 is known to match (the earlier APPEND of this
	 * epoch), so it commits. */
	append(1, 1, 1, 3, 4, NULL, 0);
	assert_int_equal(node.applied_last, 3);
}

static void test_commit_capped_by_matching_prefix(void **state)
{
	(void)state;
	/* A fresh epoch: nothing known to match the new primary beyond what it sends. */
	fill3();
	append(2, 1, 1, 9, 1, NULL, 0); /* epoch 2 primary says commit 9, matches at 1 */
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.epoch, 2);
	assert_int_equal(s.commit_index, 1);
	assert_int_equal(last_ack().match_index, 1);
}

static void test_mismatch_beyond_last(void **state)
{
	(void)state;
	fill3();
	struct repl_entry e = fx_entry(1, 8, "x");
	append(1, 7, 1, 0, 1, &e, 1);
	struct repl_msg_ack a = last_ack();
	assert_int_equal(a.status, REPL_ACK_MISMATCH);
	assert_int_equal(a.hint_index, 4);
	assert_int_equal(a.reject_index, 7);
	assert_int_equal(a.last_index, 3);
	assert_int_equal(node.n_ops, 0);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.counters[REPL_CNT_REJECT_MISMATCH], 1);
}

static void test_conflict_truncates_and_hints(void **state)
{
	(void)state;
	fill3();
	/* Epoch 3 primary: its log has epoch 2 at index 3. Prev (3, 2) mismatches ours (3, 1):
	 * the hint is the start of our epoch-1 run, but never at or below the commit index. */
	append(3, 3, 2, 0, 1, NULL, 0);
	struct repl_msg_ack a = last_ack();
	assert_int_equal(a.status, REPL_ACK_MISMATCH);
	assert_int_equal(a.hint_index, 1);
	assert_int_equal(a.reject_index, 3);
	fx_complete_all(&node);
	fx_msgs_clear(&node);
	/* It resends from 2: entry 2 matches, 3 conflicts and is cut, 3' and 4 appended. */
	struct repl_entry e[3] = { fx_entry(1, 2, "b"), fx_entry(2, 3, "C"), fx_entry(3, 4, "D") };
	append(3, 1, 1, 0, 2, e, 3);
	assert_int_equal(fx_ops_count(&node, FX_OP_TRUNCATE), 1);
	assert_int_equal(node.ops[0].kind, FX_OP_TRUNCATE);
	assert_int_equal(node.ops[0].a, 3);
	assert_int_equal(node.ops[1].kind, FX_OP_APPEND);
	assert_int_equal(node.ops[1].a, 3);
	assert_int_equal(node.ops[1].b, 4);
	assert_int_equal(node.log[3].epoch, 2);
	assert_int_equal(node.log[3].payload[0], 'C');
	fx_complete_all(&node);
	a = last_ack();
	assert_int_equal(a.status, REPL_ACK_OK);
	assert_int_equal(a.match_index, 4);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.last_epoch, 3);
	assert_int_equal(s.counters[REPL_CNT_TRUNCATIONS], 1);
}

static void test_duplicate_acked_at_once(void **state)
{
	(void)state;
	fill3();
	struct repl_entry e[2] = { fx_entry(1, 2, "b"), fx_entry(1, 3, "c") };
	append(1, 1, 1, 0, 9, e, 2);
	assert_int_equal(node.n_ops, 0);
	struct repl_msg_ack a = last_ack();
	assert_int_equal(a.status, REPL_ACK_OK);
	assert_int_equal(a.match_index, 3);
	assert_int_equal(a.seq, 9);
}

static void test_stale_epoch_fenced(void **state)
{
	(void)state;
	struct repl_promise p;
	assert_int_equal(repl_promise(node.r, 4, &p), -EINPROGRESS);
	fx_complete_all(&node);
	fx_msgs_clear(&node);
	struct repl_entry e = fx_entry(1, 1, "a");
	append(1, 0, 0, 0, 1, &e, 1);
	struct fx_decoded d;
	assert_true(fx_msg_last(&node, REPL_MSG_ACK, 0, &d));
	assert_int_equal(d.m.ack.status, REPL_ACK_STALE);
	assert_int_equal(d.m.epoch, 4);
	assert_int_equal(node.n_ops, 0);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.counters[REPL_CNT_REJECT_STALE], 1);
	assert_int_equal(s.last_index, 0);
}

static void test_newer_epoch_adopted(void **state)
{
	(void)state;
	struct repl_entry e = fx_entry(5, 1, "a");
	append(5, 0, 0, 0, 1, &e, 1);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.epoch, 5);
	assert_int_equal(s.primary, 0);
	assert_int_equal(node.role_epoch, 5);
	assert_int_equal(node.role_primary, 0);
	assert_int_equal(fx_ops_count(&node, FX_OP_META), 1);
	assert_int_equal(node.ops[0].meta.epoch, 5);
}

static void test_conflict_below_commit_refused(void **state)
{
	(void)state;
	fill3();
	append(1, 3, 1, 2, 1, NULL, 0); /* commit 2 */
	fx_msgs_clear(&node);
	/* A (buggy) primary of epoch 2 says entry 2 has epoch 2: never cut a committed entry. */
	struct repl_entry e[2] = { fx_entry(2, 2, "X"), fx_entry(2, 3, "Y") };
	append(2, 1, 1, 0, 1, e, 2);
	assert_int_equal(fx_ops_count(&node, FX_OP_TRUNCATE), 0);
	assert_int_equal(fx_ops_count(&node, FX_OP_APPEND), 0);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.last_index, 3);
	assert_int_equal(s.counters[REPL_CNT_RX_DROPPED], 1);
}

static void test_insane_entries_dropped(void **state)
{
	(void)state;
	/* Decreasing epochs; an entry newer than the frame; a gap in indices. */
	struct repl_entry bad1[2] = { fx_entry(1, 1, "a"), fx_entry(0, 2, "b") };
	append(1, 0, 0, 0, 1, bad1, 2);
	struct repl_entry bad2[1] = { fx_entry(2, 1, "a") };
	append(1, 0, 0, 0, 1, bad2, 1);
	struct repl_entry bad3[2] = { fx_entry(1, 1, "a"), fx_entry(1, 3, "b") };
	append(1, 0, 0, 0, 1, bad3, 2);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.counters[REPL_CNT_RX_DROPPED], 3);
	assert_int_equal(s.last_index, 0);
	assert_int_equal(fx_msgs(&node), 0);
}

static void test_other_node_same_epoch_dropped(void **state)
{
	(void)state;
	struct repl_msg m = { .type = REPL_MSG_APPEND, .src = 2, .dst = 1, .epoch = 1 };
	repl_recv(node.r, &m);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.counters[REPL_CNT_RX_DROPPED], 1);
	assert_int_equal(s.primary, 0);
	/* Messages not for us, or from ourselves, are dropped too. */
	m.src = 0;
	m.dst = 2;
	repl_recv(node.r, &m);
	m.src = 1;
	m.dst = 1;
	repl_recv(node.r, &m);
	repl_state_get(node.r, &s);
	assert_int_equal(s.counters[REPL_CNT_RX_DROPPED], 3);
}

static void test_cache_full_still_accepts(void **state)
{
	(void)state;
	/* The cache holds 4096 bytes; 30 entries of 200 bytes do not fit while none is applied,
	 * but a follower takes them all (the log has them) or commit could never advance. */
	static char big[201];
	memset(big, 'z', 200);
	struct repl_entry e[30];
	for (unsigned i = 0; i < 30; i++)
		e[i] = fx_entry(1, i + 1, big);
	append(1, 0, 0, 0, 1, e, 30);
	assert_int_equal(fx_msgs(&node), 0);
	fx_complete_all(&node);
	assert_int_equal(last_ack().match_index, 30);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.last_index, 30);
	/* Committed entries that fell out of the cache are applied from the log. */
	unsigned reads = node.n_reads;
	append(1, 30, 1, 30, 2, NULL, 0);
	fx_complete_all(&node);
	assert_int_equal(node.applied_last, 30);
	assert_true(node.n_reads > reads);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_heartbeat_empty_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entries_acked_when_durable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_learned_and_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_capped_by_matching_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mismatch_beyond_last, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_truncates_and_hints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_acked_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_epoch_fenced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_epoch_adopted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_below_commit_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insane_entries_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_node_same_epoch_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_full_still_accepts, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
