/* Mode B: a node receiving a vote or pre-vote request. A vote is saved before it is granted;
 * it goes only to a candidate whose log is at least as up to date, once per term; a
 * pre-vote changes nothing; no vote while a leader was heard recently or while damaged. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"

static struct fx_node node;

/* Node 1 of {0,1,2}, with entries 1..2 of term 2 and current term 2. */
static int setup(void **state)
{
	(void)state;
	fx_node_init(&node, 1, REPL_MODE_ELECTION);
	node.log[1] = (struct fx_entry){ .epoch = 1, .type = REPL_ENTRY_NOOP };
	node.log[2] = (struct fx_entry){ .epoch = 2, .type = REPL_ENTRY_NOOP };
	node.last = node.durable = 2;
	node.meta_saved = (struct repl_meta){ .epoch = 2, .vote = REPL_NODE_NONE };
	struct repl_epoch_run runs[2] = { { 1, 1 }, { 2, 2 } };
	struct repl_boot boot = { .meta = node.meta_saved, .last_index = 2, .runs = runs,
				  .n_runs = 2, .members = { .voters = 0x7 } };
	fx_node_start(&node, &boot);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_node_free(&node);
	return 0;
}

static void vote(unsigned src, uint64_t epoch, bool pre, uint64_t last_index, uint64_t last_epoch)
{
	struct repl_msg m = { .type = REPL_MSG_VOTE, .src = (uint8_t)src, .dst = 1, .epoch = epoch };
	m.vote = (struct repl_msg_vote){ .pre_vote = pre, .last_index = last_index,
					 .last_epoch = last_epoch };
	repl_recv(node.r, &m);
}

static bool last_reply(struct repl_msg *out)
{
	struct fx_decoded d;
	if (!fx_msg_last(&node, REPL_MSG_VOTE_REPLY, REPL_NODE_NONE, &d))
		return false;
	*out = d.m;
	return true;
}

static void test_vote_saved_before_granted(void **state)
{
	(void)state;
	vote(0, 3, false, 2, 2);
	assert_int_equal(fx_msgs(&node), 0); /* not before the vote is durable */
	/* The new term goes out first; the vote, made meanwhile, follows it. */
	assert_int_equal(fx_ops_count(&node, FX_OP_META), 1);
	assert_int_equal(node.ops[0].meta.epoch, 3);
	assert_true(fx_op_complete(&node, FX_OP_META));
	assert_int_equal(fx_msgs(&node), 0);
	assert_int_equal(fx_ops_count(&node, FX_OP_META), 1);
	assert_int_equal(node.ops[0].meta.vote, 0);
	fx_complete_all(&node);
	struct repl_msg r = { 0 };
	assert_true(last_reply(&r));
	assert_true(r.vote_reply.granted);
	assert_false(r.vote_reply.pre_vote);
	assert_int_equal(r.epoch, 3);
	assert_int_equal(node.meta_saved.vote, 0);
	/* Another candidate in the same term: refused. The same one again: granted again. */
	fx_msgs_clear(&node);
	vote(2, 3, false, 9, 3);
	assert_true(last_reply(&r));
	assert_false(r.vote_reply.granted);
	fx_msgs_clear(&node);
	vote(0, 3, false, 2, 2);
	assert_true(last_reply(&r));
	assert_true(r.vote_reply.granted);
}

static void test_log_check(void **state)
{
	(void)state;
	struct repl_msg r = { 0 };
	vote(0, 3, false, 5, 1); /* longer, but an older last term */
	fx_complete_all(&node);
	assert_true(last_reply(&r));
	assert_false(r.vote_reply.granted);
	assert_int_equal(r.epoch, 3); /* the term was adopted all the same */
	fx_msgs_clear(&node);
	vote(2, 4, false, 1, 2); /* same last term, shorter */
	fx_complete_all(&node);
	assert_true(last_reply(&r));
	assert_false(r.vote_reply.granted);
	fx_msgs_clear(&node);
	vote(2, 5, false, 1, 3); /* newer last term, however short */
	fx_complete_all(&node);
	assert_true(last_reply(&r));
	assert_true(r.vote_reply.granted);
}

static void test_prevote_changes_nothing(void **state)
{
	(void)state;
	vote(0, 3, true, 2, 2);
	struct repl_msg r = { 0 };
	assert_true(last_reply(&r));
	assert_true(r.vote_reply.granted);
	assert_true(r.vote_reply.pre_vote);
	assert_int_equal(r.epoch, 3);
	assert_int_equal(node.n_ops, 0);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.epoch, 2);
	fx_msgs_clear(&node);
	vote(0, 3, true, 1, 2); /* behind: refused, with our term */
	assert_true(last_reply(&r));
	assert_false(r.vote_reply.granted);
	assert_int_equal(r.epoch, 2);
}

static void test_stale_and_sticky(void **state)
{
	(void)state;
	struct repl_msg r = { 0 };
	vote(0, 1, false, 9, 9); /* an older term */
	assert_true(last_reply(&r));
	assert_false(r.vote_reply.granted);
	assert_int_equal(r.epoch, 2);
	/* A leader of term 2 is heard: no vote for anyone else for election_ms. */
	struct repl_msg hb = { .type = REPL_MSG_APPEND, .src = 2, .dst = 1, .epoch = 2 };
	hb.append = (struct repl_msg_append){ .prev_index = 2, .prev_epoch = 2 };
	repl_recv(node.r, &hb);
	fx_msgs_clear(&node);
	vote(0, 3, false, 9, 3);
	assert_true(last_reply(&r));
	assert_false(r.vote_reply.granted);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_int_equal(s.epoch, 2); /* not disrupted */
	node.now_ms += 100;
	fx_msgs_clear(&node);
	vote(0, 3, false, 9, 3);
	fx_complete_all(&node);
	assert_true(last_reply(&r));
	assert_true(r.vote_reply.granted);
}

static void test_damaged_does_not_vote(void **state)
{
	(void)state;
	node.meta_saved.repair_index = 7; /* lost entries up to 7 */
	node.boot_members.voters = 0x7;
	fx_node_restart(&node);
	vote(0, 3, true, 9, 3);
	struct repl_msg r = { 0 };
	assert_true(last_reply(&r));
	assert_false(r.vote_reply.granted);
	/* nor campaigns, though it is a voter */
	node.now_ms += 1000;
	repl_tick(node.r);
	assert_int_equal(fx_msgs_count(&node, REPL_MSG_VOTE, REPL_NODE_NONE), 0);
	struct repl_state s;
	repl_state_get(node.r, &s);
	assert_true(s.damaged);
	assert_int_equal(s.members.voters, 0x7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vote_saved_before_granted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prevote_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_and_sticky, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_does_not_vote, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
