/* Mode B: a node counting vote replies. Pre-votes from a majority start a campaign (a new
 * term and a durable vote for itself, then requests); votes from a majority make a leader
 * (with its NOOP); a refusal with a newer term makes it a follower of that term; replies for
 * another term count for nothing. */
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
	fx_node_init(&node, 0, REPL_MODE_ELECTION);
	struct repl_boot boot = { .meta = { .vote = REPL_NODE_NONE },
				  .members = { .voters = 0x1f } }; /* five voters */
	fx_node_start(&node, &boot);
	node.now_ms += 1000; /* past any election timeout */
	repl_tick(node.r);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_node_free(&node);
	return 0;
}

static void reply(unsigned src, uint64_t epoch, bool pre, bool granted)
{
	struct repl_msg m = { .type = REPL_MSG_VOTE_REPLY, .src = (uint8_t)src, .dst = 0,
			      .epoch = epoch };
	m.vote_reply = (struct repl_msg_vote_reply){ .pre_vote = pre, .granted = granted };
	repl_recv(node.r, &m);
}

static struct repl_state state_now(void)
{
	struct repl_state s;
	repl_state_get(node.r, &s);
	return s;
}

static void test_prevote_then_vote_then_lead(void **state)
{
	(void)state;
	assert_int_equal(state_now().role, REPL_ROLE_PRECANDIDATE);
	assert_int_equal(fx_msgs_count(&node, REPL_MSG_VOTE, REPL_NODE_NONE), 4);
	struct fx_decoded d;
	assert_true(fx_msg_last(&node, REPL_MSG_VOTE, 3, &d));
	assert_true(d.m.vote.pre_vote);
	assert_int_equal(d.m.epoch, 1);
	fx_msgs_clear(&node);
	reply(1, 1, true, true);
	reply(1, 1, true, true); /* a duplicate counts once */
	assert_int_equal(state_now().role, REPL_ROLE_PRECANDIDATE);
	reply(2, 1, true, true); /* three of five */
	struct repl_state s = state_now();
	assert_int_equal(s.role, REPL_ROLE_CANDIDATE);
	assert_int_equal(s.epoch, 1);
	assert_int_equal(fx_msgs(&node), 0); /* requests wait for the durable self-vote */
	fx_complete_all(&node);
	assert_int_equal(node.meta_saved.vote, 0);
	assert_int_equal(fx_msgs_count(&node, REPL_MSG_VOTE, REPL_NODE_NONE), 4);
	assert_true(fx_msg_last(&node, REPL_MSG_VOTE, 4, &d));
	assert_false(d.m.vote.pre_vote);
	reply(3, 0, false, true); /* another term: ignored */
	reply(3, 1, true, true);  /* a pre-vote now: ignored */
	assert_int_equal(state_now().role, REPL_ROLE_CANDIDATE);
	reply(3, 1, false, true);
	reply(4, 1, false, true);
	s = state_now();
	assert_int_equal(s.role, REPL_ROLE_PRIMARY);
	assert_int_equal(s.last_index, 1);
	assert_int_equal(node.log[1].type, REPL_ENTRY_NOOP);
	assert_int_equal(node.role, REPL_ROLE_PRIMARY);
}

static void test_refusal_with_newer_term(void **state)
{
	(void)state;
	reply(2, 9, false, false);
	struct repl_state s = state_now();
	assert_int_equal(s.role, REPL_ROLE_FOLLOWER);
	assert_int_equal(s.epoch, 9);
	/* A refusal in our own term changes nothing. */
	reply(3, 9, false, false);
	assert_int_equal(state_now().epoch, 9);
}

static void test_non_member_reply_dropped(void **state)
{
	(void)state;
	reply(7, 1, true, true);
	assert_int_equal(state_now().counters[REPL_CNT_RX_DROPPED], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prevote_then_vote_then_lead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusal_with_newer_term, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_member_reply_dropped, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
