/* The primary's sending side: for each follower, send what it lacks within its window of
 * unacknowledged bytes, from the in-memory cache, from the log through the read I/O, or as
 * a snapshot when it needs entries from before the log's start. One APPEND at a time while
 * probing for the follower's position; a pipeline once it is known. Heartbeat rounds carry
 * a sequence number that the followers echo, for leases and read barriers; a follower that
 * makes no progress for resend_ms is resent from its acknowledged index. */
#include "repl/internal.h"

#include <string.h>

void repl_inflight_clear(struct repl_peer *p)
{
	p->inflight_head = 0;
	p->inflight_count = 0;
	p->inflight_bytes = 0;
}

static void inflight_push(struct repl_peer *p, uint64_t last_index, uint32_t bytes)
{
	ASSERT(p->inflight_count < REPL_INFLIGHT_MSGS_MAX);
	unsigned slot = (p->inflight_head + p->inflight_count) % REPL_INFLIGHT_MSGS_MAX;
	p->inflight[slot].last_index = last_index;
	p->inflight[slot].bytes = bytes;
	p->inflight_count++;
	p->inflight_bytes += bytes;
}

static bool window_open(const struct repl *r, const struct repl_peer *p)
{
	if (p->probing)
		return p->inflight_count == 0;
	return p->inflight_count < REPL_INFLIGHT_MSGS_MAX && p->inflight_bytes < r->o.window_bytes;
}

/* Sends one APPEND of entries e[0..n) (n may be 0: a heartbeat after prev_index). */
static void send_append(struct repl *r, unsigned node, uint64_t prev_index,
			const struct repl_entry *e, unsigned n)
{
	struct repl_peer *p = r->peers[node];
	uint64_t prev_epoch = 0;
	bool known = repl_epoch_at(r, prev_index, &prev_epoch);
	ASSERT(known);
	struct repl_msg m = { .type = REPL_MSG_APPEND, .epoch = r->meta.epoch };
	m.append.prev_index = prev_index;
	m.append.prev_epoch = prev_epoch;
	m.append.commit_index = r->commit_index;
	m.append.seq = r->hb_seq;
	m.append.n_entries = n;
	m.append.entries = e;
	uint64_t now = repl_now(r);
	if (n > 0) {
		uint32_t bytes = 0;
		for (unsigned i = 0; i < n; i++)
			bytes += e[i].len;
		if (p->inflight_count == 0)
			p->progress_ms = now;
		inflight_push(p, e[n - 1].index, bytes);
		p->next = e[n - 1].index + 1;
	}
	if (p->probing)
		p->probe_prev = prev_index;
	p->last_send_ms = now;
	repl_send(r, node, &m);
}

/* How many of e[0..n) go into one APPEND: up to the entry and byte limits, at least one. */
static unsigned batch_size(const struct repl *r, const struct repl_entry *e, unsigned n)
{
	unsigned k = 0;
	uint64_t bytes = 0;
	while (k < n && k < REPL_MSG_ENTRIES_MAX) {
		if (k > 0 && bytes + e[k].len > r->o.msg_bytes_max)
			break;
		bytes += e[k].len;
		k++;
	}
	return k;
}

static void snapshot_start(struct repl *r, unsigned node)
{
	struct repl_peer *p = r->peers[node];
	p->snap = true;
	p->snap_acked = 0;
	p->snap_sent_ms = 0;
	memset(&p->snap_meta, 0, sizeof(p->snap_meta));
	repl_inflight_clear(p);
}

static void snapshot_continue(struct repl *r, unsigned node)
{
	struct repl_peer *p = r->peers[node];
	if (p->snap_read_pending)
		return;
	if (p->snap_sent_ms != 0 && repl_now(r) - p->snap_sent_ms < r->o.resend_ms)
		return; /* a chunk is on its way: wait for its acknowledgement */
	p->snap_read_pending = true;
	r->io.snapshot_read(r->io.ctx, node, p->snap_acked, r->o.snapshot_chunk_bytes);
}

/* Sends from the cache while the window allows; starts a read or a snapshot when the
 * follower needs entries the cache no longer has. */
void repl_replicate_peer(struct repl *r, unsigned node)
{
	struct repl_peer *p = r->peers[node];
	ASSERT(r->role == REPL_ROLE_PRIMARY && p);
	if (p->snap) {
		snapshot_continue(r, node);
		return;
	}
	struct repl_entry batch[REPL_MSG_ENTRIES_MAX];
	while (window_open(r, p) && p->next <= r->last_index) {
		uint64_t prev_epoch;
		if (p->next < r->log_start || !repl_epoch_at(r, p->next - 1, &prev_epoch)) {
			snapshot_start(r, node);
			snapshot_continue(r, node);
			return;
		}
		if (p->next < r->cache.first || r->cache.count == 0) {
			if (!p->read_pending) {
				p->read_pending = true;
				r->io.read(r->io.ctx, node, p->next, r->last_index, r->o.read_bytes);
			}
			return;
		}
		unsigned n = 0;
		uint64_t bytes = 0;
		while (n < REPL_MSG_ENTRIES_MAX && p->next + n <= r->last_index) {
			bool hit = repl_cache_get(&r->cache, p->next + n, &batch[n]);
			ASSERT(hit);
			if (n > 0 && bytes + batch[n].len > r->o.msg_bytes_max)
				break;
			bytes += batch[n].len;
			n++;
		}
		send_append(r, node, p->next - 1, batch, n);
	}
}

void repl_replicate_all(struct repl *r)
{
	REPL_FOR_EACH_PEER(r, n)
		repl_replicate_peer(r, n);
}

/* Entries read from the log for a follower that is catching up. */
void repl_replicate_entries(struct repl *r, unsigned node, const struct repl_entry *e,
			    unsigned n)
{
	struct repl_peer *p = r->peers[node];
	unsigned i = 0;
	while (i < n && e[i].index < p->next)
		i++;
	while (i < n && e[i].index == p->next && window_open(r, p) && !p->snap) {
		uint64_t prev_epoch;
		if (p->next < r->log_start || !repl_epoch_at(r, p->next - 1, &prev_epoch))
			return; /* compacted meanwhile: a snapshot is needed now */
		unsigned k = batch_size(r, e + i, n - i);
		for (unsigned j = 0; j < k; j++) {
			uint64_t epoch;
			if (!repl_epoch_at(r, e[i + j].index, &epoch) || epoch != e[i + j].epoch)
				return; /* the log changed under the read: start over */
		}
		send_append(r, node, p->next - 1, e + i, k);
		i += k;
	}
}

/* A heartbeat to a follower: after the entry it is known to match (or, while probing,
 * the one we believe it has, so that a mismatch comes back as a hint). */
static void heartbeat_peer(struct repl *r, unsigned node)
{
	struct repl_peer *p = r->peers[node];
	uint64_t prev = p->match;
	if (p->probing && !p->snap)
		prev = p->inflight_count ? p->probe_prev : p->next - 1;
	uint64_t epoch;
	if (!repl_epoch_at(r, prev, &epoch))
		prev = 0;
	send_append(r, node, prev, NULL, 0);
}

void repl_heartbeat_round(struct repl *r)
{
	ASSERT(r->role == REPL_ROLE_PRIMARY);
	uint64_t now = repl_now(r);
	r->hb_seq++;
	r->seq_sent_ms[r->hb_seq & (REPL_SEQ_RING - 1)] = now;
	r->round_wanted = false;
	r->hb_due_ms = now + r->o.heartbeat_ms;
	REPL_FOR_EACH_PEER(r, n) {
		/* Entries to send carry the new round; otherwise an empty APPEND does. */
		uint64_t sent = r->counters[REPL_CNT_TX_APPEND];
		repl_replicate_peer(r, n);
		if (r->counters[REPL_CNT_TX_APPEND] == sent)
			heartbeat_peer(r, n);
	}
	/* Alone (a single voter), the round confirms itself. */
	repl_lease_update(r);
	repl_reads_confirm(r);
}

void repl_snapshot_send_chunk(struct repl *r, unsigned node, const struct repl_snapshot_meta *m,
			      uint64_t offset, const uint8_t *data, size_t len)
{
	struct repl_peer *p = r->peers[node];
	struct repl_msg msg = { .type = REPL_MSG_SNAPSHOT, .epoch = r->meta.epoch };
	msg.snapshot.meta = *m;
	msg.snapshot.offset = offset;
	msg.snapshot.len = (uint32_t)len;
	msg.snapshot.data = data;
	msg.snapshot.last = offset + len == m->total_bytes;
	p->snap_sent_ms = repl_now(r);
	p->last_send_ms = p->snap_sent_ms;
	repl_send(r, node, &msg);
}

void repl_replicate_tick(struct repl *r, uint64_t now)
{
	REPL_FOR_EACH_PEER(r, n) {
		struct repl_peer *p = r->peers[n];
		if (p->snap) {
			snapshot_continue(r, n);
			continue;
		}
		if (p->inflight_count > 0 && now - p->progress_ms >= r->o.resend_ms) {
			/* No progress: the frames or their acknowledgements were lost. */
			repl_inflight_clear(p);
			p->next = p->match + 1;
			p->probing = true;
			p->progress_ms = now;
			r->counters[REPL_CNT_RESENDS]++;
			repl_replicate_peer(r, n);
		}
	}
	if (now >= r->hb_due_ms)
		repl_heartbeat_round(r);
	repl_lease_update(r);
}
