/* The primary receives ACK: progress of a follower (match index, heartbeat round), a
 * rejection with a hint where to resume, or news of a newer epoch that deposes it. Stale
 * and reordered ACKs are harmless: the match index only grows, and a rejection counts only
 * when it concerns what is in flight now. */
#include "repl/internal.h"

static void inflight_pop(struct repl_peer *p, uint64_t match)
{
	while (p->inflight_count > 0 && p->inflight[p->inflight_head].last_index <= match) {
		p->inflight_bytes -= p->inflight[p->inflight_head].bytes;
		p->inflight_head = (p->inflight_head + 1) % REPL_INFLIGHT_MSGS_MAX;
		p->inflight_count--;
	}
}

static void ack_ok(struct repl *r, unsigned node, const struct repl_msg_ack *a, uint64_t now)
{
	struct repl_peer *p = r->peers[node];
	if (a->match_index > r->last_index) {
		r->counters[REPL_CNT_RX_DROPPED]++;
		return;
	}
	p->probing = false;
	if (a->match_index > p->match) {
		p->match = a->match_index;
		p->progress_ms = now;
		inflight_pop(p, p->match);
		if (p->next <= p->match)
			p->next = p->match + 1;
	}
	if (p->snap && p->snap_meta.index > 0 && p->match >= p->snap_meta.index) {
		p->snap = false; /* installed: continue with the log after it */
		r->counters[REPL_CNT_SNAPSHOTS_SENT]++;
		p->next = p->match + 1;
	}
	repl_commit_advance(r);
	if (r->handoff && node == r->handoff_target && p->match == r->last_index &&
	    r->durable_index == r->last_index)
		r->handoff_ready = true;
}

static void ack_mismatch(struct repl *r, unsigned node, const struct repl_msg_ack *a)
{
	struct repl_peer *p = r->peers[node];
	/* A follower that dropped corrupt entries (repair) has less than it once acknowledged.
	 * (A reordered old rejection looks the same and costs only a resend.) */
	if (!p->snap && a->last_index < p->match) {
		p->match = a->last_index;
		p->next = p->match + 1;
		p->probing = true;
		repl_inflight_clear(p);
		return;
	}
	if (p->snap || a->reject_index <= p->match || a->reject_index >= p->next ||
	    (p->probing && a->reject_index != p->probe_prev))
		return; /* about something no longer in flight */
	uint64_t next = MIN(a->reject_index, a->hint_index);
	p->next = MAX(next, p->match + 1);
	p->probing = true;
	repl_inflight_clear(p);
}

void repl_recv_ack(struct repl *r, const struct repl_msg *m)
{
	if (m->epoch > r->meta.epoch) {
		/* Fenced: a replica promised a newer epoch (mode A) or saw a newer term. */
		repl_epoch_adopt(r, m->epoch, REPL_NODE_NONE);
		return;
	}
	if (m->epoch < r->meta.epoch || r->role != REPL_ROLE_PRIMARY || !r->peers[m->src])
		return;
	struct repl_peer *p = r->peers[m->src];
	uint64_t now = repl_now(r);
	p->last_ack_ms = now;
	if (m->ack.seq > p->acked_seq && m->ack.seq <= r->hb_seq) {
		p->acked_seq = m->ack.seq;
		repl_lease_update(r);
		repl_reads_confirm(r);
		if (r->role != REPL_ROLE_PRIMARY)
			return;
	}
	if (m->ack.status == REPL_ACK_OK)
		ack_ok(r, m->src, &m->ack, now);
	else if (m->ack.status == REPL_ACK_MISMATCH)
		ack_mismatch(r, m->src, &m->ack);
	if (r->role == REPL_ROLE_PRIMARY && r->peers[m->src])
		repl_replicate_peer(r, m->src);
}
