/* A follower receives a chunk of a snapshot: the primary sends one when this follower needs
 * entries from before the start of the primary's log. Chunks are written in order, one at
 * a time, through the snapshot_write I/O; the last one makes the host install the snapshot
 * (state replaced, log emptied), after which the log continues at the snapshot's index. A
 * chunk the host cannot write for now (a full disk) drops the transfer, which starts over. */
#include "repl/internal.h"

#include <errno.h>
#include <string.h>

static bool meta_equal(const struct repl_snapshot_meta *a, const struct repl_snapshot_meta *b)
{
	return a->index == b->index && a->epoch == b->epoch && a->total_bytes == b->total_bytes;
}

static void snapshot_ack_send(struct repl *r, unsigned dst, const struct repl_snapshot_meta *m,
			      uint64_t next_offset)
{
	struct repl_msg msg = { .type = REPL_MSG_SNAPSHOT_ACK, .epoch = r->meta.epoch };
	msg.snapshot_ack.snap_index = m->index;
	msg.snapshot_ack.snap_epoch = m->epoch;
	msg.snapshot_ack.next_offset = next_offset;
	repl_send(r, dst, &msg);
}

/* Our log already holds what the snapshot covers: no need to install it. */
static bool snapshot_covered(const struct repl *r, const struct repl_snapshot_meta *m)
{
	uint64_t epoch;
	if (m->index <= r->commit_index)
		return true;
	return repl_epoch_at(r, m->index, &epoch) && epoch == m->epoch;
}

void repl_recv_snapshot(struct repl *r, const struct repl_msg *m)
{
	const struct repl_msg_snapshot *s = &m->snapshot;
	if (s->offset > s->meta.total_bytes || s->len > s->meta.total_bytes - s->offset ||
	    s->last != (s->offset + s->len == s->meta.total_bytes) || s->meta.epoch > m->epoch) {
		r->counters[REPL_CNT_RX_DROPPED]++;
		return;
	}
	if (!repl_accept_primary_frame(r, m))
		return;
	if (snapshot_covered(r, &s->meta)) {
		if (s->meta.index <= r->last_index && s->meta.index > r->match_known)
			r->match_known = s->meta.index;
		r->inst_active = false;
		repl_ack_send(r, m->src, REPL_ACK_OK, 0, 0);
		return;
	}
	if (!r->inst_active || !meta_equal(&r->inst_meta, &s->meta)) {
		if (s->offset != 0) {
			snapshot_ack_send(r, m->src, &s->meta, 0);
			return;
		}
		if (r->inst_writing)
			return; /* the previous transfer's write is still out: the primary resends */
		r->inst_active = true;
		r->inst_meta = s->meta;
		r->inst_next = 0;
	}
	r->inst_ms = repl_now(r);
	if (r->inst_writing)
		return;
	if (s->offset != r->inst_next) {
		snapshot_ack_send(r, m->src, &s->meta, r->inst_next);
		return;
	}
	r->inst_writing = true;
	r->io.snapshot_write(r->io.ctx, &s->meta, s->offset, s->data, s->len, s->last);
}

/* The last chunk is written and the host has installed the snapshot. */
static void snapshot_installed(struct repl *r, const struct repl_snapshot_meta *m)
{
	r->snap = *m;
	r->log_start = m->index + 1;
	r->last_index = m->index;
	r->runs.n = 0;
	repl_cache_reset(&r->cache, m->index + 1);
	r->durable_index = m->index;
	r->commit_index = MAX(r->commit_index, m->index);
	r->applied_index = m->index;
	r->match_known = m->index;
	if (r->o.mode == REPL_MODE_ELECTION) {
		r->n_configs = 0;
		r->snap_members = m->members;
		r->members = m->members;
		repl_peers_sync(r);
	}
	r->counters[REPL_CNT_SNAPSHOTS_INSTALLED]++;
	if (r->meta.repair_index > 0 && r->meta.repair_index <= m->index) {
		r->meta.repair_index = 0;
		repl_meta_save(r);
	}
}

void repl_snapshot_write_done(struct repl *r, const struct repl_snapshot_meta *m,
			      uint64_t offset, size_t len, int status)
{
	if (r->failed)
		return;
	r->inst_writing = false;
	if (status == -ENOSPC || status == -EBUSY) {
		/* Not now: the disk is full, or the host is busy with another snapshot. The host
		 * dropped the partial snapshot and nothing durable changed, so the transfer starts
		 * over (at offset 0) when the primary sends again, as a full disk's writes do. */
		r->inst_active = false;
		return;
	}
	if (status < 0) {
		repl_fail(r, status, m->index);
		return;
	}
	if (offset + len < m->total_bytes) {
		if (!r->inst_active || !meta_equal(&r->inst_meta, m) || offset != r->inst_next)
			return; /* a transfer we gave up */
		r->inst_next = offset + len;
		if (r->primary != REPL_NODE_NONE)
			snapshot_ack_send(r, r->primary, m, r->inst_next);
		return;
	}
	/* The last chunk: the host has replaced its state and log, so this node follows suit
	 * even if it gave up on the transfer meanwhile (nothing was appended since: entries
	 * wait while a chunk is being written). */
	r->inst_active = false;
	snapshot_installed(r, m);
	if (r->primary != REPL_NODE_NONE)
		repl_ack_send(r, r->primary, REPL_ACK_OK, 0, 0);
}
