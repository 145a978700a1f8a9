/* Mode B: an answer to our vote or pre-vote request. A newer epoch in a refusal makes us a
 * follower of it; grants for the epoch we asked about count toward a majority. */
#include "repl/internal.h"

void repl_recv_vote_reply(struct repl *r, const struct repl_msg *m)
{
	if (r->o.mode != REPL_MODE_ELECTION || !r->peers[m->src]) {
		r->counters[REPL_CNT_RX_DROPPED]++;
		return;
	}
	const struct repl_msg_vote_reply *v = &m->vote_reply;
	if (!v->granted) {
		if (m->epoch > r->meta.epoch)
			repl_epoch_adopt(r, m->epoch, REPL_NODE_NONE);
		return;
	}
	bool counts = v->pre_vote ? r->role == REPL_ROLE_PRECANDIDATE && m->epoch == r->meta.epoch + 1
				  : r->role == REPL_ROLE_CANDIDATE && m->epoch == r->meta.epoch;
	if (!counts)
		return;
	r->peers[m->src]->vote_granted = true;
	repl_votes_check(r);
}
