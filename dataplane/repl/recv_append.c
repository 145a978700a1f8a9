/* A follower receives APPEND: fencing by epoch, the (prev_index, prev_epoch) check, cutting
 * a conflicting suffix, appending, learning the commit index, and the ACK. The ACK's match
 * index is what this follower holds durably and knows to match the primary's log; when
 * entries are still being written the ACK for them goes out from repl_append_done(). */
#include "repl/internal.h"

void repl_ack_send(struct repl *r, unsigned dst, uint8_t status, uint64_t hint,
		   uint64_t reject_index)
{
	struct repl_msg m = { .type = REPL_MSG_ACK, .epoch = r->meta.epoch };
	m.ack.status = status;
	m.ack.match_index = MIN(r->match_known, r->durable_index);
	m.ack.last_index = r->last_index;
	m.ack.hint_index = hint;
	m.ack.reject_index = reject_index;
	m.ack.seq = r->seen_seq;
	if (status == REPL_ACK_OK && m.ack.match_index > r->acked_match)
		r->acked_match = m.ack.match_index;
	if (status == REPL_ACK_MISMATCH)
		r->counters[REPL_CNT_REJECT_MISMATCH]++;
	repl_send(r, dst, &m);
}

/* After the durable index grew: tell the primary what it may now count. */
void repl_ack_durable(struct repl *r)
{
	if (r->role != REPL_ROLE_FOLLOWER || r->primary == REPL_NODE_NONE || r->inst_active)
		return;
	if (MIN(r->match_known, r->durable_index) > r->acked_match)
		repl_ack_send(r, r->primary, REPL_ACK_OK, 0, 0);
}

bool repl_accept_primary_frame(struct repl *r, const struct repl_msg *m)
{
	if (m->epoch < r->meta.epoch) {
		/* Fencing: a deposed primary learns the newer epoch from this answer. */
		r->counters[REPL_CNT_REJECT_STALE]++;
		repl_ack_send(r, m->src, REPL_ACK_STALE, 0, 0);
		return false;
	}
	if (m->epoch > r->meta.epoch) {
		repl_epoch_adopt(r, m->epoch, m->src);
	} else if (r->role == REPL_ROLE_PRIMARY ||
		   (r->primary != REPL_NODE_NONE && r->primary != m->src)) {
		/* Two primaries in one epoch cannot happen: epochs are issued once. */
		r->counters[REPL_CNT_RX_DROPPED]++;
		return false;
	} else if (r->role != REPL_ROLE_FOLLOWER || r->primary != m->src) {
		repl_become_follower(r, m->src);
	}
	r->heard_ms = repl_now(r);
	if (r->o.mode == REPL_MODE_ELECTION)
		repl_election_reset(r);
	return true;
}

/* Entries must be consecutive with non-decreasing epochs no newer than the frame's. */
static bool entries_sane(const struct repl_msg *m)
{
	const struct repl_msg_append *a = &m->append;
	uint64_t epoch = a->prev_epoch;
	if (a->prev_epoch > m->epoch || a->prev_index > UINT64_MAX - a->n_entries)
		return false;
	for (unsigned i = 0; i < a->n_entries; i++) {
		const struct repl_entry *e = &a->entries[i];
		if (e->index != a->prev_index + 1 + i || e->epoch < epoch || e->epoch > m->epoch ||
		    e->len > REPL_ENTRY_BYTES_MAX)
			return false;
		epoch = e->epoch;
	}
	return true;
}

/* Where the primary should resume after a mismatch at prev_index. */
static uint64_t mismatch_hint(const struct repl *r, uint64_t prev_index)
{
	if (prev_index > r->last_index)
		return r->last_index + 1;
	uint64_t epoch, hint = prev_index;
	bool known = repl_epoch_at(r, prev_index, &epoch);
	ASSERT(known);
	/* Skip back over the whole run of the conflicting epoch in one step. */
	for (unsigned i = r->runs.n; i-- > 0;) {
		if (r->runs.v[i].start_index <= prev_index) {
			hint = r->runs.v[i].start_index;
			break;
		}
	}
	return MAX(hint, r->commit_index + 1);
}

/* Returns false when the prev entry does not match (the rejection has been sent). */
static bool prev_matches(struct repl *r, const struct repl_msg *m)
{
	uint64_t prev = m->append.prev_index, epoch;
	if (prev < r->log_start && prev <= r->snap.index)
		return true; /* inside our snapshot: committed, hence equal */
	if (repl_epoch_at(r, prev, &epoch) && epoch == m->append.prev_epoch)
		return true;
	repl_ack_send(r, m->src, REPL_ACK_MISMATCH, mismatch_hint(r, prev), prev);
	return false;
}

void repl_recv_append(struct repl *r, const struct repl_msg *m)
{
	const struct repl_msg_append *a = &m->append;
	if (!entries_sane(m)) {
		r->counters[REPL_CNT_RX_DROPPED]++;
		return;
	}
	if (!repl_accept_primary_frame(r, m))
		return;
	if (a->seq > r->seen_seq)
		r->seen_seq = a->seq;
	if (r->inst_active || r->inst_writing) { /* entries wait until the snapshot is in */
		repl_ack_send(r, m->src, REPL_ACK_OK, 0, 0);
		return;
	}
	if (!prev_matches(r, m))
		return;
	/* Skip what we already have (inside the snapshot, or the same entry); cut at the first
	 * conflict, which can never be a committed entry. */
	unsigned i = 0;
	for (; i < a->n_entries; i++) {
		const struct repl_entry *e = &a->entries[i];
		uint64_t epoch;
		if (e->index < r->log_start && e->index <= r->snap.index)
			continue;
		if (e->index > r->last_index)
			break;
		if (!repl_epoch_at(r, e->index, &epoch) || epoch != e->epoch) {
			if (e->index <= r->commit_index) {
				r->counters[REPL_CNT_RX_DROPPED]++;
				return;
			}
			repl_log_truncate(r, e->index);
			break;
		}
	}
	unsigned took = i < a->n_entries ? repl_log_append(r, a->entries + i, a->n_entries - i) : 0;
	uint64_t matched = a->prev_index + i + took;
	if (matched > r->match_known)
		r->match_known = matched;
	/* Everything up to match_known is the primary's own log, so its commit index
	 * applies to it. */
	repl_commit_follow(r, MIN(a->commit_index, r->match_known));
	/* New entries are acknowledged once durable (repl_ack_durable); everything else (and
	 * a partial acceptance, when memory ran out) is answered now. */
	if (took == 0 || i + took < a->n_entries)
		repl_ack_send(r, m->src, REPL_ACK_OK, 0, 0);
}
