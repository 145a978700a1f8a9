/* Mode B elections: Raft with terms as epochs. A follower that hears no leader for a
 * randomized election timeout first asks for pre-votes (which change no one's state), and
 * only with a majority of them starts a real campaign: a new term, a durable vote for
 * itself, then vote requests. A leader that has not heard from a majority within an
 * election timeout steps down (check-quorum). Followers that heard a leader within the
 * election timeout refuse votes, which is what makes the leader's read lease safe. */
#include "repl/internal.h"

static void votes_clear(struct repl *r)
{
	REPL_FOR_EACH_PEER(r, n)
		r->peers[n]->vote_granted = false;
}

static unsigned votes_count(const struct repl *r)
{
	unsigned votes = repl_is_voter(r, r->o.node_id) ? 1 : 0;
	REPL_FOR_EACH_PEER(r, n)
		if (r->peers[n]->voter && r->peers[n]->vote_granted)
			votes++;
	return votes;
}

void repl_election_reset(struct repl *r)
{
	uint64_t spread = r->io.random(r->io.ctx) % r->o.election_ms;
	r->election_due_ms = repl_now(r) + r->o.election_ms + spread;
}

static void vote_request_send(struct repl *r, bool pre_vote)
{
	struct repl_msg m = { .type = REPL_MSG_VOTE };
	m.epoch = pre_vote ? r->meta.epoch + 1 : r->meta.epoch;
	m.vote.pre_vote = pre_vote;
	m.vote.last_index = r->last_index;
	m.vote.last_epoch = repl_last_epoch(r);
	REPL_FOR_EACH_PEER(r, n)
		if (r->peers[n]->voter)
			repl_send(r, n, &m);
}

static void campaign_start(struct repl *r)
{
	r->meta.epoch++;
	r->meta.vote = (uint8_t)r->o.node_id;
	repl_meta_save(r);
	r->role = REPL_ROLE_CANDIDATE;
	r->primary = REPL_NODE_NONE;
	r->heard_ms = 0;
	votes_clear(r);
	repl_election_reset(r);
	repl_role_notify(r);
	repl_campaign_continue(r);
}

/* Pre-votes or votes may have reached a majority. */
void repl_votes_check(struct repl *r)
{
	if (votes_count(r) < repl_majority(r))
		return;
	if (r->role == REPL_ROLE_PRECANDIDATE)
		campaign_start(r);
	else if (r->role == REPL_ROLE_CANDIDATE && r->meta_durable.epoch == r->meta.epoch)
		repl_become_primary(r);
}

/* A candidate asks for votes once its own vote is durable. */
void repl_campaign_continue(struct repl *r)
{
	if (r->role != REPL_ROLE_CANDIDATE || r->meta_durable.epoch != r->meta.epoch ||
	    r->meta_durable.vote != r->o.node_id)
		return;
	vote_request_send(r, false);
	repl_votes_check(r);
}

static bool may_campaign(const struct repl *r)
{
	return repl_is_voter(r, r->o.node_id) && r->meta.repair_index <= r->durable_index;
}

void repl_election_tick(struct repl *r, uint64_t now)
{
	if (now < r->election_due_ms)
		return;
	repl_election_reset(r);
	if (!may_campaign(r))
		return;
	r->counters[REPL_CNT_ELECTIONS]++;
	enum repl_role was = r->role;
	r->role = REPL_ROLE_PRECANDIDATE;
	r->primary = REPL_NODE_NONE;
	votes_clear(r);
	if (was != REPL_ROLE_PRECANDIDATE)
		repl_role_notify(r);
	vote_request_send(r, true);
	repl_votes_check(r);
}

void repl_quorum_check(struct repl *r, uint64_t now)
{
	if (now < r->quorum_check_ms + r->o.election_ms)
		return;
	r->quorum_check_ms = now;
	unsigned heard = repl_is_voter(r, r->o.node_id) ? 1 : 0;
	REPL_FOR_EACH_PEER(r, n)
		if (r->peers[n]->voter && now - r->peers[n]->last_ack_ms < r->o.election_ms)
			heard++;
	if (heard < repl_majority(r)) {
		repl_become_follower(r, REPL_NODE_NONE);
		repl_election_reset(r);
	}
}

void repl_vote_reply_flush(struct repl *r)
{
	if (!r->vote_reply_pending || r->meta_durable.epoch != r->meta.epoch ||
	    r->meta_durable.vote != r->vote_reply_to)
		return;
	r->vote_reply_pending = false;
	struct repl_msg m = { .type = REPL_MSG_VOTE_REPLY, .epoch = r->meta.epoch };
	m.vote_reply.granted = true;
	repl_send(r, r->vote_reply_to, &m);
}
