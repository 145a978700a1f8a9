/* Mode B elections on whole clusters: one leader per term, re-election after the leader is
 * cut off, pre-vote keeping a partitioned node from disrupting, check-quorum deposing a cut
 * off leader, the leader's lease, and membership changes through the log. */
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
	fx_cluster_init(&cl, 3, REPL_MODE_ELECTION);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_cluster_free(&cl);
	return 0;
}

static struct repl_state state_of(unsigned i)
{
	struct repl_state s;
	repl_state_get(cl.node[i].r, &s);
	return s;
}

/* Runs until some node leads; returns it. */
static int run_until_leader(uint64_t max_ms)
{
	for (uint64_t t = 0; t < max_ms; t += 5) {
		fx_cluster_run(&cl, 5);
		int p = fx_cluster_primary(&cl);
		if (p >= 0)
			return p;
	}
	return -1;
}

static void test_one_leader_elected(void **state)
{
	(void)state;
	int leader = run_until_leader(1000);
	assert_true(leader >= 0);
	struct repl_state s = state_of((unsigned)leader);
	assert_int_equal(s.epoch, 1);
	assert_true(s.counters[REPL_CNT_ELECTIONS] >= 1);
	/* Its vote for itself is durable, and the others follow it. */
	assert_int_equal(cl.node[leader].meta_saved.vote, leader);
	fx_cluster_run(&cl, 50);
	for (unsigned i = 0; i < 3; i++) {
		s = state_of(i);
		assert_int_equal(s.primary, (unsigned)leader);
		assert_int_equal(s.epoch, 1);
		assert_int_equal(s.commit_index, 1); /* the NOOP */
	}
	assert_true(repl_propose(cl.node[leader].r, REPL_ENTRY_DATA, "x", 1) > 0);
	fx_cluster_run(&cl, 30);
	assert_int_equal(fx_cluster_check_applied(&cl), 2);
}

static void test_reelection_after_leader_cut_off(void **state)
{
	(void)state;
	int old = run_until_leader(1000);
	assert_true(old >= 0);
	fx_cluster_run(&cl, 30);
	cl.cut = 1ull << old;
	int leader = -1;
	for (unsigned t = 0; t < 200 && leader < 0; t++) {
		fx_cluster_run(&cl, 5);
		for (unsigned i = 0; i < 3; i++) {
			if ((int)i != old && state_of(i).role == REPL_ROLE_PRIMARY)
				leader = (int)i;
		}
	}
	assert_true(leader >= 0);
	assert_true(state_of((unsigned)leader).epoch >= 2);
	assert_true(repl_propose(cl.node[leader].r, REPL_ENTRY_DATA, "y", 1) > 0);
	/* The old leader, cut off, steps down within two election timeouts (check-quorum);
	 * back, it follows. */
	fx_cluster_run(&cl, 200);
	assert_int_not_equal(state_of((unsigned)old).role, REPL_ROLE_PRIMARY);
	assert_int_equal(state_of((unsigned)old).epoch, 1); /* its pre-votes fail: no new term */
	cl.cut = 0;
	fx_cluster_run(&cl, 100);
	assert_int_equal(state_of((unsigned)old).primary, (unsigned)leader);
	fx_cluster_check_applied(&cl);
	assert_int_equal(cl.node[old].applied_last, cl.node[leader].applied_last);
}

static void test_prevote_keeps_partitioned_node_quiet(void **state)
{
	(void)state;
	int leader = run_until_leader(1000);
	assert_true(leader >= 0);
	unsigned lone = ((unsigned)leader + 1) % 3;
	uint64_t term = state_of((unsigned)leader).epoch;
	cl.cut = 1ull << lone;
	fx_cluster_run(&cl, 1000); /* it times out many times, but pre-votes fail */
	assert_int_equal(state_of(lone).epoch, term);
	assert_true(state_of(lone).counters[REPL_CNT_ELECTIONS] > 2);
	cl.cut = 0;
	fx_cluster_run(&cl, 100);
	assert_int_equal(state_of((unsigned)leader).role, REPL_ROLE_PRIMARY);
	assert_int_equal(state_of((unsigned)leader).epoch, term); /* not disrupted */
}

static void test_leader_lease_and_stickiness(void **state)
{
	(void)state;
	int leader = run_until_leader(1000);
	assert_true(leader >= 0);
	fx_cluster_run(&cl, 30);
	assert_true(repl_lease_valid(cl.node[leader].r));
	uint64_t ri, seq;
	assert_int_equal(repl_read_begin(cl.node[leader].r, &ri, &seq), 0);
	/* A follower that heard the leader recently refuses a vote for a higher term. */
	unsigned f = ((unsigned)leader + 1) % 3;
	struct fx_node *n = &cl.node[f];
	fx_msgs_clear(n);
	struct repl_msg m = { .type = REPL_MSG_VOTE, .src = (uint8_t)((f + 1) % 3), .dst = (uint8_t)f,
			      .epoch = 7 };
	m.vote.last_index = 100;
	m.vote.last_epoch = 6;
	repl_recv(n->r, &m);
	struct fx_decoded d;
	assert_true(fx_msg_last(n, REPL_MSG_VOTE_REPLY, REPL_NODE_NONE, &d));
	assert_false(d.m.vote_reply.granted);
	assert_int_equal(state_of(f).epoch, 1);
}

static void test_membership_change(void **state)
{
	(void)state;
	int leader = run_until_leader(1000);
	assert_true(leader >= 0);
	fx_cluster_run(&cl, 30);
	struct repl *r = cl.node[leader].r;
	/* Two voters at once: refused. Node 3 (not running) as a learner: fine. */
	struct repl_members two = { .voters = 0x1f };
	assert_int_equal(repl_members_change(r, &two), -EINVAL);
	struct repl_members learner = { .voters = 0x7, .learners = 0x8 };
	assert_int_equal(repl_members_change(r, &learner), 0);
	struct repl_members again = { .voters = 0x7 };
	assert_int_equal(repl_members_change(r, &again), -EBUSY); /* one at a time */
	fx_cluster_run(&cl, 30);
	/* Committed: the next change may go; remove a follower as voter. */
	unsigned f = ((unsigned)leader + 1) % 3;
	struct repl_members fewer = { .voters = 0x7 & ~(1ull << f), .learners = 0x8 };
	assert_int_equal(repl_members_change(r, &fewer), 0);
	fx_cluster_run(&cl, 30);
	struct repl_state s = state_of((unsigned)leader);
	assert_int_equal(s.members.voters, fewer.voters);
	assert_int_equal(s.members.learners, 0x8);
	/* (f, no longer a member, is not told: as in Raft, a removed node may not learn it.) */
	/* Removing the leader itself: it steps down once that is committed. */
	struct repl_members no_leader = { .voters = fewer.voters & ~(1ull << leader) };
	assert_int_equal(repl_members_change(r, &no_leader), 0);
	fx_cluster_run(&cl, 50);
	assert_int_equal(state_of((unsigned)leader).role, REPL_ROLE_FOLLOWER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_leader_elected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reelection_after_leader_cut_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prevote_keeps_partitioned_node_quiet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leader_lease_and_stickiness, setup, teardown),
		cmocka_unit_test_setup_teardown(test_membership_change, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
