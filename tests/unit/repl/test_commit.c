/* Commit and apply: only entries of the primary's own epoch commit by counting replicas
 * (older ones commit with them), learners do not count, and entries no longer in the cache
 * are applied from the log through the read I/O. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"

static struct fx_node node;

static int teardown(void **state)
{
	(void)state;
	fx_node_free(&node);
	return 0;
}

static void ack(unsigned src, uint64_t epoch, uint64_t match)
{
	struct repl_msg m = { .type = REPL_MSG_ACK, .src = (uint8_t)src, .dst = 0, .epoch = epoch };
	m.ack.match_index = match;
	m.ack.seq = 1;
	repl_recv(node.r, &m);
}

static uint64_t commit_index(void)
{
	struct repl_state s;
	repl_state_get(node.r, &s);
	return s.commit_index;
}

/* A node recovered with entries 1..2 of epoch 1 (uncommitted as far as it knows). */
static void start_with_old_entries(unsigned voters)
{
	fx_node_init(&node, 0, REPL_MODE_EXTERNAL);
	node.log[1] = (struct fx_entry){ .epoch = 1, .type = REPL_ENTRY_DATA, .len = 1 };
	node.log[2] = (struct fx_entry){ .epoch = 1, .type = REPL_ENTRY_DATA, .len = 1 };
	node.last = node.durable = 2;
	node.meta_saved.epoch = 1;
	fx_node_restart(&node);
	fx_config(&node, 3, 0, voters, 0);
	fx_complete_all(&node);
}

static void test_old_epoch_not_counted(void **state)
{
	(void)state;
	start_with_old_entries(0x7);
	/* A follower holds entries 1..2 (epoch 1): a majority has them, but they are not of
	 * epoch 3, so nothing commits until the NOOP (3) does. */
	ack(1, 3, 2);
	assert_int_equal(commit_index(), 0);
	ack(1, 3, 3);
	assert_int_equal(commit_index(), 3);
	assert_int_equal(node.applied_last, 0); /* 1..2 are not cached: read from the log */
	assert_int_equal(fx_ops_count(&node, FX_OP_READ), 1);
	fx_complete_all(&node);
	assert_int_equal(node.applied_last, 3);
	assert_int_equal(node.applied[1], 1);
	assert_int_equal(node.applied[3], 3);
}

static void test_learners_do_not_count(void **state)
{
	(void)state;
	fx_node_init(&node, 0, REPL_MODE_EXTERNAL);
	fx_node_start(&node, NULL);
	fx_config(&node, 1, 0, 0x7, 0x18); /* voters 0,1,2; learners 3,4 */
	fx_complete_all(&node);
	ack(3, 1, 1);
	ack(4, 1, 1);
	assert_int_equal(commit_index(), 0);
	ack(2, 1, 1);
	assert_int_equal(commit_index(), 1);
	struct repl_peer_info p;
	assert_int_equal(repl_peer_get(node.r, 3, &p), 0);
	assert_false(p.voter);
	assert_int_equal(p.match_index, 1);
	assert_int_equal(p.lag, 0);
}

static void test_single_voter_commits_alone(void **state)
{
	(void)state;
	fx_node_init(&node, 0, REPL_MODE_EXTERNAL);
	fx_node_start(&node, NULL);
	fx_config(&node, 1, 0, 0x1, 0);
	fx_complete_all(&node);
	assert_int_equal(commit_index(), 1);
	assert_int_equal(repl_propose(node.r, REPL_ENTRY_DATA, "a", 1), 2);
	assert_int_equal(commit_index(), 1); /* not durable yet */
	fx_complete_all(&node);
	assert_int_equal(commit_index(), 2);
	assert_int_equal(node.applied_last, 2);
}

static void test_apply_reads_log_after_restart(void **state)
{
	(void)state;
	fx_node_init(&node, 1, REPL_MODE_EXTERNAL);
	for (uint64_t i = 1; i <= 5; i++)
		node.log[i] = (struct fx_entry){ .epoch = 1, .type = REPL_ENTRY_DATA, .len = 1 };
	node.last = node.durable = 5;
	node.meta_saved.epoch = 1;
	fx_node_restart(&node);
	fx_config(&node, 1, 0, 0x7, 0);
	fx_complete_all(&node);
	struct repl_msg m = { .type = REPL_MSG_APPEND, .src = 0, .dst = 1, .epoch = 1 };
	m.append = (struct repl_msg_append){ .prev_index = 5, .prev_epoch = 1, .commit_index = 4 };
	repl_recv(node.r, &m);
	assert_int_equal(node.applied_last, 0);
	assert_int_equal(fx_ops_count(&node, FX_OP_READ), 1);
	assert_int_equal(node.ops[0].tag, REPL_READ_TAG_APPLY);
	assert_int_equal(node.ops[0].a, 1);
	assert_int_equal(node.ops[0].b, 4);
	fx_complete_all(&node);
	assert_int_equal(node.applied_last, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_old_epoch_not_counted, teardown),
		cmocka_unit_test_teardown(test_learners_do_not_count, teardown),
		cmocka_unit_test_teardown(test_single_voter_commits_alone, teardown),
		cmocka_unit_test_teardown(test_apply_reads_log_after_restart, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
