/* Mode B: a vote or pre-vote request. Granted only to a candidate whose log is at least as
 * up to date as ours (last epoch, then last index), never while we heard from a leader
 * within the election timeout (a leader's lease depends on it), never by a node whose log
 * is damaged. A real vote is saved before the grant is sent. */
#include "repl/internal.h"

static bool log_ok(const struct repl *r, const struct repl_msg_vote *v)
{
#ifdef SPINDLE_PLANTED_BUG_VOTE_WITHOUT_LOG_CHECK
	(void)r;
	(void)v;
	return true; /* planted bug (simulator only) */
#else
	uint64_t last_epoch = repl_last_epoch(r);
	return v->last_epoch > last_epoch ||
	       (v->last_epoch == last_epoch && v->last_index >= r->last_index);
#endif
}

static void reply(struct repl *r, unsigned dst, uint64_t epoch, bool pre_vote, bool granted)
{
	struct repl_msg m = { .type = REPL_MSG_VOTE_REPLY, .epoch = epoch };
	m.vote_reply.pre_vote = pre_vote;
	m.vote_reply.granted = granted;
	repl_send(r, dst, &m);
}

void repl_recv_vote(struct repl *r, const struct repl_msg *m)
{
	if (r->o.mode != REPL_MODE_ELECTION) {
		r->counters[REPL_CNT_RX_DROPPED]++;
		return;
	}
	const struct repl_msg_vote *v = &m->vote;
	uint64_t now = repl_now(r);
	bool leader_alive = r->role == REPL_ROLE_PRIMARY ||
			    (r->heard_ms != 0 && now - r->heard_ms < r->o.election_ms);
	bool can_grant = !leader_alive && r->meta.repair_index <= r->durable_index &&
			 repl_is_voter(r, r->o.node_id);
	if (v->pre_vote) {
		bool granted = can_grant && m->epoch > r->meta.epoch && log_ok(r, v);
		reply(r, m->src, granted ? m->epoch : r->meta.epoch, true, granted);
		return;
	}
	if (m->epoch < r->meta.epoch || (leader_alive && m->epoch > r->meta.epoch)) {
		reply(r, m->src, r->meta.epoch, false, false);
		return;
	}
	if (m->epoch > r->meta.epoch)
		repl_epoch_adopt(r, m->epoch, REPL_NODE_NONE);
	if (!can_grant || !log_ok(r, v) ||
	    (r->meta.vote != REPL_NODE_NONE && r->meta.vote != m->src)) {
		reply(r, m->src, r->meta.epoch, false, false);
		return;
	}
	if (r->meta.vote != m->src) {
		r->meta.vote = m->src;
		repl_meta_save(r);
	}
	repl_election_reset(r);
	r->vote_reply_pending = true;
	r->vote_reply_to = m->src;
	repl_vote_reply_flush(r);
}
