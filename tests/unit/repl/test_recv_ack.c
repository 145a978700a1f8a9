/* The primary receiving ACK: match and commit advance (majority of voters, current epoch
 * only), the pipeline continues, rejections jump back to the hint, stale and impossible
 * ACKs are ignored, and an ACK of a newer epoch deposes the primary. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"

static struct fx_node node;

/* Node 0, primary of epoch 2 over voters {0,1,2}, its NOOP (index 1) durable locally. */
static int setup(void **state)
{
	(void)state;
	fx_node_init(&node, 0, REPL_MODE_EXTERNAL);
	fx_node_start(&node, NULL);
	fx_config(&node, 2, 0, 0x7, 0);
	fx_complete_all(&node);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_node_free(&node);
	return 0;
}

static void ack(unsigned src, uint64_t epoch, uint8_t status, uint64_t match, uint64_t hint,
		uint64_t reject, uint64_t seq)
{
	struct repl_msg m = { .type = REPL_MSG_ACK, .src = (uint8_t)src, .dst = 0, .epoch = epoch };
	m.ack = (struct repl_msg_ack){ .status = status, .match_index = match, .last_index = match,
				       .hint_index = hint, .reject_index = reject, .seq = seq };
	repl_recv(node.r, &m);
}

static struct repl_state state_now(void)
{
	struct repl_state s;
	repl_state_get(node.r, &s);
	return s;
}

static void test_became_primary_and_sent_noop(void **state)
{
	(void)state;
	struct repl_state s = state_now();
	assert_int_equal(s.role, REPL_ROLE_PRIMARY);
	assert_int_equal(s.epoch, 2);
	assert_int_equal(s.last_index, 1);
	assert_int_equal(s.epoch_start_index, 1);
	assert_int_equal(node.log[1].type, REPL_ENTRY_NOOP);
	assert_int_equal(node.meta_saved.primary_epoch, 2);
	for (unsigned dst = 1; dst <= 2; dst++) {
		struct fx_decoded d;
		assert_int_equal(fx_msgs_count(&node, REPL_MSG_APPEND, dst), 1);
		assert_true(fx_msg_last(&node, REPL_MSG_APPEND, dst, &d));
		assert_int_equal(d.m.epoch, 2);
		assert_int_equal(d.m.append.prev_index, 0);
		assert_int_equal(d.m.append.n_entries, 1);
		assert_int_equal(d.m.append.seq, 1);
		assert_int_equal(d.entries[0].type, REPL_ENTRY_NOOP);
	}
}

static void test_majority_commits(void **state)
{
	(void)state;
	assert_int_equal(state_now().commit_index, 0); /* only itself so far */
	ack(1, 2, REPL_ACK_OK, 1, 0, 0, 1);
	struct repl_state s = state_now();
	assert_int_equal(s.commit_index, 1);
	assert_int_equal(node.applied_last, 1);
	struct repl_peer_info p;
	assert_int_equal(repl_peer_get(node.r, 1, &p), 0);
	assert_int_equal(p.match_index, 1);
	assert_int_equal(p.next_index, 2);
	assert_int_equal(repl_peer_get(node.r, 2, &p), 0);
	assert_int_equal(p.match_index, 0);
	assert_int_equal(repl_peer_get(node.r, 7, &p), -ENOENT);
}

static void test_pipeline_after_probe(void **state)
{
	(void)state;
	ack(1, 2, REPL_ACK_OK, 1, 0, 0, 1);
	fx_msgs_clear(&node);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(repl_propose(node.r, REPL_ENTRY_DATA, "w", 1), 2 + i);
	/* Follower 1 is pipelining: three APPENDs back to back. Follower 2 still probes: its
	 * first APPEND is unanswered, so it gets nothing more. */
	assert_int_equal(fx_msgs_count(&node, REPL_MSG_APPEND, 1), 3);
	assert_int_equal(fx_msgs_count(&node, REPL_MSG_APPEND, 2), 0);
	struct fx_decoded d;
	assert_true(fx_msg_last(&node, REPL_MSG_APPEND, 1, &d));
	assert_int_equal(d.m.append.prev_index, 3);
	assert_int_equal(d.m.append.prev_epoch, 2);
	assert_int_equal(d.m.append.commit_index, 1);
	fx_complete_all(&node);
	ack(2, 2, REPL_ACK_OK, 4, 0, 0, 1); /* not asked for, but true: counts */
	assert_int_equal(state_now().commit_index, 4);
}

static void test_mismatch_jumps_to_hint(void **state)
{
	(void)state;
	/* Pretend the primary has a longer log so there is somewhere to go back to. */
	for (unsigned i = 0; i < 5; i++)
		repl_propose(node.r, REPL_ENTRY_DATA, "w", 1);
	fx_complete_all(&node);
	fx_msgs_clear(&node);
	/* Follower 2 answers the probe (prev 0 always matches) and gets the pipeline; then it
	 * rejects the latest APPEND with a hint of 3. */
	ack(2, 2, REPL_ACK_OK, 0, 0, 0, 1);
	fx_msgs_clear(&node);
	struct repl_peer_info p;
	assert_int_equal(repl_peer_get(node.r, 2, &p), 0);
	uint64_t next = p.next_index;
	ack(2, 2, REPL_ACK_MISMATCH, 0, 3, next - 1, 1);
	struct fx_decoded d;
	assert_true(fx_msg_last(&node, REPL_MSG_APPEND, 2, &d));
	assert_int_equal(d.m.append.prev_index, 2);
	assert_int_equal(d.m.append.n_entries, 4);
	assert_int_equal(d.entries[0].index, 3);
	/* A rejection about something no longer in flight changes nothing: only the probe
	 * (prev 2) is. */
	fx_msgs_clear(&node);
	ack(2, 2, REPL_ACK_MISMATCH, 0, 1, 6, 1);
	assert_int_equal(fx_msgs(&node), 0);
	assert_int_equal(repl_peer_get(node.r, 2, &p), 0);
	assert_int_equal(p.next_index, 7);
}

static void test_stale_and_impossible_ignored(void **state)
{
	(void)state;
	ack(1, 1, REPL_ACK_OK, 1, 0, 0, 1); /* older epoch */
	assert_int_equal(state_now().commit_index, 0);
	ack(1, 2, REPL_ACK_OK, 9, 0, 0, 1); /* match beyond our log */
	assert_int_equal(state_now().commit_index, 0);
	assert_int_equal(state_now().counters[REPL_CNT_RX_DROPPED], 1);
	ack(5, 2, REPL_ACK_OK, 1, 0, 0, 1); /* not a member */
	assert_int_equal(state_now().commit_index, 0);
	ack(1, 2, REPL_ACK_STALE, 1, 0, 0, 1); /* "stale" in our own epoch: nonsense */
	assert_int_equal(state_now().role, REPL_ROLE_PRIMARY);
}

static void test_newer_epoch_deposes(void **state)
{
	(void)state;
	ack(1, 2, REPL_ACK_OK, 1, 0, 0, 1);
	repl_propose(node.r, REPL_ENTRY_DATA, "w", 1);
	ack(2, 3, REPL_ACK_STALE, 0, 0, 0, 0);
	struct repl_state s = state_now();
	assert_int_equal(s.role, REPL_ROLE_FOLLOWER);
	assert_int_equal(s.epoch, 3);
	assert_int_equal(s.primary, REPL_NODE_NONE);
	assert_int_equal(node.n_abandon, 1);
	assert_int_equal(node.abandoned_from, 2); /* 1 is committed; 2 will not be acked here */
	assert_int_equal(node.role, REPL_ROLE_FOLLOWER);
	assert_int_equal(repl_propose(node.r, REPL_ENTRY_DATA, "w", 1), -ENOTCONN);
	uint64_t ri, seq;
	assert_int_equal(repl_read_begin(node.r, &ri, &seq), -ENOTCONN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_became_primary_and_sent_noop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_majority_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_after_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mismatch_jumps_to_hint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_and_impossible_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_epoch_deposes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
