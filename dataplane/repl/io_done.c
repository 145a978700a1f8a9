/* Completions of the I/O the core started: appends becoming durable, reads for catch-up and
 * apply, metadata saves, snapshot chunks read; and the host's news that it compacted the
 * log. A corrupt entry found by a read is dropped and fetched again from the primary (a
 * follower) or stops the node (the primary, whose log is the reference). */
#include "repl/internal.h"

#include <errno.h>

void repl_append_done(struct repl *r, uint64_t index, uint64_t epoch, int status)
{
	if (r->failed)
		return;
	if (status < 0) {
		repl_fail(r, status, index); /* fail-stop: a retried sync can lie */
		return;
	}
	uint64_t have;
	if (index <= r->durable_index || !repl_epoch_at(r, index, &have) || have != epoch)
		return; /* entries since cut from the log */
	r->durable_index = index;
	if (r->meta.repair_index > 0 && r->durable_index >= r->meta.repair_index) {
		r->meta.repair_index = 0; /* the lost range is back */
		repl_meta_save(r);
	}
	if (r->role == REPL_ROLE_PRIMARY) {
		repl_commit_advance(r);
		if (r->handoff && r->peers[r->handoff_target] &&
		    r->peers[r->handoff_target]->match == r->last_index &&
		    r->durable_index == r->last_index)
			r->handoff_ready = true;
	} else {
		repl_ack_durable(r);
	}
	repl_apply(r);
}

/* Drops the log from index on because the entry there is corrupt; the primary sends it
 * again. Until the log is back to where it was, this node is "damaged": its promises do not
 * count and (mode B) it neither votes nor campaigns. */
void repl_repair(struct repl *r, uint64_t index)
{
	r->counters[REPL_CNT_REPAIRS]++;
	if (r->role == REPL_ROLE_PRIMARY || index <= r->snap.index || index < r->log_start) {
		repl_fail(r, -EBADMSG, index);
		return;
	}
	if (index > r->last_index)
		return;
	r->meta.repair_index = MAX(r->meta.repair_index, r->last_index);
	repl_meta_save(r);
	repl_log_truncate(r, index);
	r->commit_index = MIN(r->commit_index, r->last_index);
}

static void read_done_apply(struct repl *r, const struct repl_entry *e, unsigned n, int status)
{
	r->apply_read_pending = false;
	uint64_t before = r->applied_index;
	repl_apply_entries(r, e, n);
	if (status == -EBADMSG && r->applied_index == before + n)
		repl_repair(r, r->applied_index + 1);
	if (!r->failed)
		repl_apply(r);
}

void repl_read_done(struct repl *r, unsigned tag, const struct repl_entry *e, unsigned n,
		    int status)
{
	if (r->failed)
		return;
	if (tag == REPL_READ_TAG_APPLY) {
		read_done_apply(r, e, n, status);
		return;
	}
	ASSERT(tag < REPL_NODES_MAX);
	struct repl_peer *p = r->peers[tag];
	if (!p)
		return;
	p->read_pending = false;
	if (r->role != REPL_ROLE_PRIMARY)
		return;
	if (status == -EBADMSG) {
		repl_fail(r, -EBADMSG, n > 0 ? e[n - 1].index + 1 : p->next);
		return;
	}
	if (status == 0 && n > 0)
		repl_replicate_entries(r, tag, e, n);
	repl_replicate_peer(r, tag);
}

void repl_meta_done(struct repl *r, const struct repl_meta *meta, int status)
{
	if (r->failed)
		return;
	if (status < 0) {
		repl_fail(r, status, 0);
		return;
	}
	r->meta_durable = *meta;
	r->meta_saving = false;
	if (r->meta_dirty)
		repl_meta_save(r);
	if (r->o.mode == REPL_MODE_EXTERNAL) {
		repl_promise_flush(r);
		repl_primary_wanted_flush(r);
	} else {
		repl_vote_reply_flush(r);
		repl_campaign_continue(r);
	}
}

void repl_snapshot_read_done(struct repl *r, unsigned tag, const struct repl_snapshot_meta *m,
			     uint64_t offset, const uint8_t *data, size_t len, int status)
{
	if (r->failed || tag >= REPL_NODES_MAX || !r->peers[tag])
		return;
	struct repl_peer *p = r->peers[tag];
	p->snap_read_pending = false;
	if (r->role != REPL_ROLE_PRIMARY || !p->snap || status < 0)
		return; /* a failed read is retried after resend_ms */
	if (offset != p->snap_acked)
		return;
	if (offset == 0) {
		p->snap_meta = *m;
	} else if (m->index != p->snap_meta.index || m->epoch != p->snap_meta.epoch ||
		   m->total_bytes != p->snap_meta.total_bytes) {
		p->snap_acked = 0; /* a newer snapshot replaced it: start over */
		p->snap_sent_ms = 0;
		repl_replicate_peer(r, tag);
		return;
	}
	repl_snapshot_send_chunk(r, tag, m, offset, data, len);
}

void repl_log_compacted(struct repl *r, uint64_t snap_index, uint64_t log_start,
			const struct repl_members *members)
{
	uint64_t epoch;
	ASSERT(snap_index <= r->applied_index && log_start <= snap_index + 1);
	if (snap_index < r->snap.index)
		return;
	/* The host's log may begin before the group's: after a restart the group starts at the
	 * snapshot it booted from, while the segment holding it stays until a later snapshot
	 * covers all of it. The group never serves entries before its own start. */
	log_start = MAX(log_start, r->log_start);
	bool known = repl_epoch_at(r, snap_index, &epoch);
	ASSERT(known);
	r->snap.index = snap_index;
	r->snap.epoch = epoch;
	/* The snapshot is durable, so everything it covers is, even entries whose own writes
	 * have not completed yet. */
	r->durable_index = MAX(r->durable_index, snap_index);
	if (members)
		r->snap.members = *members;
	r->log_start = log_start;
	if (r->log_start > r->last_index)
		r->runs.n = 0;
	else
		repl_runs_drop_before(&r->runs, r->log_start);
	while (r->cache.count > 0 && r->cache.first < r->log_start)
		repl_cache_pop_front(&r->cache);
	if (r->cache.count == 0)
		repl_cache_reset(&r->cache, r->last_index + 1);
	if (r->o.mode == REPL_MODE_ELECTION && members)
		r->snap_members = *members;
}
