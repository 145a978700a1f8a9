/* The replication core's life cycle and the pieces every other file uses: creation from the
 * recovered state, the log's bookkeeping (append, truncate, the epoch of an index), roles
 * and epochs, the metadata save, message dispatch, ticks, and the state for INFO. */
#include "repl/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_COMPONENT "repl"
#include "base/log.h"

void repl_options_default(struct repl_options *o, unsigned node_id, enum repl_mode mode)
{
	memset(o, 0, sizeof(*o));
	o->node_id = node_id;
	o->mode = mode;
	o->heartbeat_ms = REPL_HEARTBEAT_MS_DEFAULT;
	o->resend_ms = REPL_RESEND_MS_DEFAULT;
	o->lease_ms = REPL_LEASE_MS_DEFAULT;
	o->lease_drift_ms = REPL_LEASE_DRIFT_MS_DEFAULT;
	o->election_ms = REPL_ELECTION_MS_DEFAULT;
	o->handoff_ms = REPL_HANDOFF_MS_DEFAULT;
	o->window_bytes = REPL_WINDOW_BYTES_DEFAULT;
	o->msg_bytes_max = REPL_MSG_BYTES_DEFAULT;
	o->cache_bytes = REPL_CACHE_BYTES_DEFAULT;
	o->cache_entries = REPL_CACHE_ENTRIES_DEFAULT;
	o->read_bytes = REPL_READ_BYTES_DEFAULT;
	o->snapshot_chunk_bytes = REPL_SNAPSHOT_CHUNK_BYTES_DEFAULT;
}

static const char *options_check(const struct repl_options *o)
{
	if (o->node_id >= REPL_NODES_MAX)
		return "node id out of range";
	if (o->mode != REPL_MODE_EXTERNAL && o->mode != REPL_MODE_ELECTION)
		return "unknown mode";
	if (o->heartbeat_ms == 0 || o->resend_ms == 0)
		return "heartbeat_ms and resend_ms must be positive";
	if (o->lease_ms && o->lease_drift_ms >= o->lease_ms)
		return "lease_drift_ms must be below lease_ms";
	if (o->mode == REPL_MODE_ELECTION && o->election_ms <= 2 * o->heartbeat_ms)
		return "election_ms must exceed two heartbeats";
	if (o->mode == REPL_MODE_ELECTION && o->lease_ms > o->election_ms)
		return "lease_ms must not exceed election_ms";
	if (o->window_bytes == 0 || o->msg_bytes_max == 0 || o->read_bytes == 0)
		return "window, message and read sizes must be positive";
	if (o->cache_entries < 2 || o->cache_bytes == 0)
		return "the cache needs room";
	if (o->snapshot_chunk_bytes == 0 || o->snapshot_chunk_bytes > REPL_SNAPSHOT_CHUNK_BYTES_MAX)
		return "snapshot_chunk_bytes out of range";
	return NULL;
}

static const char *boot_check(const struct repl_boot *b)
{
	if (b->last_index < b->snapshot.index)
		return "log ends before the snapshot";
	if (b->last_index > b->snapshot.index && b->n_runs == 0)
		return "log without epoch runs";
	for (unsigned i = 0; i < b->n_runs; i++) {
		const struct repl_epoch_run *run = &b->runs[i];
		if (run->start_index == 0 || run->start_index > b->last_index)
			return "epoch run outside the log";
		if (i == 0 && run->start_index > b->snapshot.index + 1)
			return "gap between snapshot and log";
		if (i > 0 && (run->start_index <= b->runs[i - 1].start_index ||
			      run->epoch <= b->runs[i - 1].epoch))
			return "epoch runs out of order";
	}
	if (b->n_runs > 0 && b->runs[b->n_runs - 1].epoch < b->snapshot.epoch)
		return "log older than the snapshot";
	return NULL;
}

static int boot_load(struct repl *r, const struct repl_boot *b)
{
	r->meta = b->meta;
	r->meta_durable = b->meta;
	r->snap = b->snapshot;
	r->last_index = b->last_index;
	r->durable_index = b->last_index;
	r->commit_index = r->applied_index = b->snapshot.index;
	r->log_start = b->n_runs ? b->runs[0].start_index : b->snapshot.index + 1;
	for (unsigned i = 0; i < b->n_runs; i++)
		if (repl_runs_push(&r->runs, b->runs[i].start_index, b->runs[i].epoch) != 0)
			return -ENOMEM;
	repl_cache_reset(&r->cache, r->last_index + 1);
	r->snap_members = b->members;
	r->members = b->members;
	for (unsigned i = 0; i < b->n_configs; i++) {
		if (b->configs[i].index <= r->snap.index || b->configs[i].index > r->last_index)
			continue;
		repl_configs_push(r, b->configs[i].index, &b->configs[i].members);
	}
	return 0;
}

struct repl *repl_create(const struct repl_options *o, const struct repl_io *io,
			 const struct repl_boot *boot)
{
	const char *why = options_check(o);
	if (!why)
		why = boot_check(boot);
	if (why) {
		LOG_ERROR("cannot create group: %s", why);
		return NULL;
	}
	struct repl *r = calloc(1, sizeof(*r));
	if (!r || repl_cache_init(&r->cache, o->cache_entries, o->cache_bytes) != 0) {
		free(r);
		LOG_ERROR("cannot create group: out of memory");
		return NULL;
	}
	r->o = *o;
	r->io = *io;
	r->role = REPL_ROLE_FOLLOWER;
	r->primary = REPL_NODE_NONE;
	if (boot_load(r, boot) != 0 || repl_peers_sync(r) != 0) {
		repl_destroy(r);
		LOG_ERROR("cannot create group: out of memory");
		return NULL;
	}
	if (o->mode == REPL_MODE_ELECTION)
		repl_election_reset(r);
	return r;
}

void repl_destroy(struct repl *r)
{
	if (!r)
		return;
	for (unsigned i = 0; i < REPL_NODES_MAX; i++)
		free(r->peers[i]);
	repl_cache_free(&r->cache);
	free(r->runs.v);
	free(r->configs);
	free(r);
}

/* ---- Small helpers ---- */

uint64_t repl_now(struct repl *r)
{
	return r->io.now_ms(r->io.ctx);
}

bool repl_is_member(const struct repl *r, unsigned node)
{
	return node < REPL_NODES_MAX &&
	       ((r->members.voters | r->members.learners) & REPL_BIT(node)) != 0;
}

bool repl_is_voter(const struct repl *r, unsigned node)
{
	return node < REPL_NODES_MAX && (r->members.voters & REPL_BIT(node)) != 0;
}

unsigned repl_majority(const struct repl *r)
{
	return (unsigned)__builtin_popcountll(r->members.voters) / 2 + 1;
}

bool repl_epoch_at(const struct repl *r, uint64_t index, uint64_t *epoch)
{
	if (index == 0) {
		*epoch = 0;
		return true;
	}
	if (index > r->last_index)
		return false;
	if (index < r->log_start || r->runs.n == 0) {
		if (index != r->snap.index)
			return false;
		*epoch = r->snap.epoch;
		return true;
	}
	unsigned lo = 0, hi = r->runs.n; /* the last run starting at or before index */
	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;
		if (r->runs.v[mid].start_index <= index)
			lo = mid;
		else
			hi = mid;
	}
	ASSERT(r->runs.v[lo].start_index <= index);
	*epoch = r->runs.v[lo].epoch;
	return true;
}

uint64_t repl_last_epoch(const struct repl *r)
{
	uint64_t e = 0;
	bool known = repl_epoch_at(r, r->last_index, &e);
	ASSERT(known);
	return e;
}

static const enum repl_counter tx_counter[REPL_MSG_TYPE_MAX + 1] = {
	[REPL_MSG_APPEND] = REPL_CNT_TX_APPEND,
	[REPL_MSG_ACK] = REPL_CNT_TX_ACK,
	[REPL_MSG_SNAPSHOT] = REPL_CNT_TX_SNAPSHOT,
	[REPL_MSG_SNAPSHOT_ACK] = REPL_CNT_TX_SNAPSHOT_ACK,
	[REPL_MSG_VOTE] = REPL_CNT_TX_VOTE,
	[REPL_MSG_VOTE_REPLY] = REPL_CNT_TX_VOTE_REPLY,
};

void repl_send(struct repl *r, unsigned dst, struct repl_msg *m)
{
	ASSERT(dst < REPL_NODES_MAX && dst != r->o.node_id);
	ASSERT(m->type >= REPL_MSG_APPEND && m->type <= REPL_MSG_TYPE_MAX);
	m->src = (uint8_t)r->o.node_id;
	m->dst = (uint8_t)dst;
	r->counters[tx_counter[m->type]]++;
	r->io.send(r->io.ctx, dst, m);
}

/* One save in flight at a time; changes made meanwhile go out when it completes. */
void repl_meta_save(struct repl *r)
{
	if (r->meta_saving) {
		r->meta_dirty = true;
		return;
	}
	r->meta_saving = true;
	r->meta_dirty = false;
	r->io.meta_save(r->io.ctx, &r->meta);
}

void repl_role_notify(struct repl *r)
{
	r->io.role(r->io.ctx, r->role, r->meta.epoch, r->primary);
}

void repl_fail(struct repl *r, int err, uint64_t index)
{
	if (r->failed)
		return;
	LOG_ERROR("node %u: fatal error %d at index %llu", r->o.node_id, err,
		  (unsigned long long)index);
	r->failed = true;
	r->io.fatal(r->io.ctx, err, index);
}

/* ---- Roles ---- */

static void primary_step_down(struct repl *r)
{
	if (r->role != REPL_ROLE_PRIMARY)
		return;
	r->role = REPL_ROLE_FOLLOWER;
	r->handoff = false;
	r->handoff_ready = false;
	r->lease_until_ms = 0;
	r->round_wanted = false;
	r->io.abandon(r->io.ctx, r->commit_index + 1);
}

void repl_become_follower(struct repl *r, unsigned primary)
{
	bool changed = r->role != REPL_ROLE_FOLLOWER || r->primary != primary;
	primary_step_down(r);
	r->role = REPL_ROLE_FOLLOWER;
	r->primary = primary;
	if (changed)
		repl_role_notify(r);
}

void repl_epoch_adopt(struct repl *r, uint64_t epoch, unsigned primary)
{
	ASSERT(epoch > r->meta.epoch);
	primary_step_down(r);
	r->meta.epoch = epoch;
	r->meta.vote = REPL_NODE_NONE;
	repl_meta_save(r);
	r->match_known = 0;
	r->acked_match = 0;
	r->seen_seq = 0;
	r->heard_ms = 0;
	r->inst_active = false;
	r->primary_wanted_epoch = 0;
	r->role = REPL_ROLE_FOLLOWER;
	r->primary = primary;
	repl_role_notify(r);
}

static void peer_reset(struct repl *r, struct repl_peer *p, uint64_t now)
{
	bool voter = p->voter;
	memset(p, 0, sizeof(*p));
	p->voter = voter;
	p->next = r->last_index + 1;
	p->probing = true;
	p->last_ack_ms = now;
	p->progress_ms = now;
}

int repl_peers_sync(struct repl *r)
{
	uint64_t now = r->role == REPL_ROLE_PRIMARY ? repl_now(r) : 0;
	for (unsigned n = 0; n < REPL_NODES_MAX; n++) {
		bool want = n != r->o.node_id && repl_is_member(r, n);
		if (!want) {
			free(r->peers[n]);
			r->peers[n] = NULL;
			continue;
		}
		if (!r->peers[n]) {
			r->peers[n] = calloc(1, sizeof(struct repl_peer));
			if (!r->peers[n])
				return -ENOMEM;
			peer_reset(r, r->peers[n], now);
		}
		r->peers[n]->voter = repl_is_voter(r, n);
	}
	return 0;
}

void repl_become_primary(struct repl *r)
{
	uint64_t now = repl_now(r);
	r->role = REPL_ROLE_PRIMARY;
	r->primary = r->o.node_id;
	r->inst_active = false;
	REPL_FOR_EACH_PEER(r, n)
		peer_reset(r, r->peers[n], now);
	r->epoch_start_index = r->last_index + 1;
	r->lease_until_ms = 0;
	r->handoff = false;
	r->handoff_ready = false;
	r->hb_due_ms = now;
	repl_role_notify(r);
	struct repl_entry noop = { .epoch = r->meta.epoch, .index = r->last_index + 1,
				   .type = REPL_ENTRY_NOOP };
	unsigned took = repl_log_append(r, &noop, 1);
	ASSERT(took == 1);
	repl_heartbeat_round(r);
	repl_commit_advance(r);
}

/* ---- The log ---- */

bool repl_cache_make_room(struct repl *r, uint32_t len)
{
	struct repl_cache *c = &r->cache;
	while (!repl_cache_fits(c, len)) {
		if (c->count == 0 || c->first > r->durable_index || c->first > r->applied_index)
			return false;
		repl_cache_pop_front(c);
	}
	return true;
}

/* Caches an entry being appended, dropping older entries as needed: first those that are
 * durable and applied, then any (the log has them all: reads return them). An entry larger
 * than the whole cache is not cached; the cache then restarts after it. */
static void cache_append(struct repl *r, const struct repl_entry *e)
{
	struct repl_cache *c = &r->cache;
	if (!repl_cache_make_room(r, e->len)) {
		while (c->count > 0 && !repl_cache_fits(c, e->len))
			repl_cache_pop_front(c);
	}
	if (c->count == 0)
		repl_cache_reset(c, e->index);
	if (!repl_cache_push(c, e))
		repl_cache_reset(c, e->index + 1);
}

unsigned repl_log_append(struct repl *r, const struct repl_entry *e, unsigned n)
{
	unsigned k = 0;
	for (; k < n; k++) {
		ASSERT(e[k].index == r->last_index + 1);
		if (repl_runs_push(&r->runs, e[k].index, e[k].epoch) != 0)
			break;
		cache_append(r, &e[k]);
		r->last_index = e[k].index;
		if (e[k].type == REPL_ENTRY_CONFIG && r->o.mode == REPL_MODE_ELECTION) {
			struct repl_members m;
			if (repl_members_decode(e[k].payload, e[k].len, &m))
				repl_configs_push(r, e[k].index, &m);
		}
	}
	if (k > 0)
		r->io.append(r->io.ctx, e, k);
	return k;
}

void repl_log_truncate(struct repl *r, uint64_t from_index)
{
	ASSERT(from_index > r->snap.index && from_index >= r->log_start);
	ASSERT(from_index <= r->last_index);
	r->io.truncate(r->io.ctx, from_index);
	r->counters[REPL_CNT_TRUNCATIONS]++;
	repl_cache_truncate(&r->cache, from_index);
	if (r->cache.count == 0)
		repl_cache_reset(&r->cache, from_index);
	repl_runs_truncate(&r->runs, from_index);
	r->last_index = from_index - 1;
	r->durable_index = MIN(r->durable_index, r->last_index);
	r->match_known = MIN(r->match_known, r->last_index);
	r->acked_match = MIN(r->acked_match, r->last_index);
	if (r->o.mode == REPL_MODE_ELECTION)
		repl_configs_truncate(r, from_index);
}

/* ---- Driving ---- */

void repl_recv(struct repl *r, const struct repl_msg *m)
{
	if (r->failed)
		return;
	if (m->src >= REPL_NODES_MAX || m->src == r->o.node_id || m->dst != r->o.node_id ||
	    m->type < REPL_MSG_APPEND || m->type > REPL_MSG_TYPE_MAX) {
		r->counters[REPL_CNT_RX_DROPPED]++;
		return;
	}
	switch (m->type) {
	case REPL_MSG_APPEND:
		r->counters[REPL_CNT_RX_APPEND]++;
		repl_recv_append(r, m);
		break;
	case REPL_MSG_ACK:
		r->counters[REPL_CNT_RX_ACK]++;
		repl_recv_ack(r, m);
		break;
	case REPL_MSG_SNAPSHOT:
		r->counters[REPL_CNT_RX_SNAPSHOT]++;
		repl_recv_snapshot(r, m);
		break;
	case REPL_MSG_SNAPSHOT_ACK:
		r->counters[REPL_CNT_RX_SNAPSHOT_ACK]++;
		repl_recv_snapshot_ack(r, m);
		break;
	case REPL_MSG_VOTE:
		r->counters[REPL_CNT_RX_VOTE]++;
		repl_recv_vote(r, m);
		break;
	case REPL_MSG_VOTE_REPLY:
		r->counters[REPL_CNT_RX_VOTE_REPLY]++;
		repl_recv_vote_reply(r, m);
		break;
	}
}

void repl_tick(struct repl *r)
{
	if (r->failed)
		return;
	uint64_t now = repl_now(r);
	if (r->role == REPL_ROLE_PRIMARY) {
		repl_replicate_tick(r, now);
		repl_handoff_tick(r, now);
		if (r->o.mode == REPL_MODE_ELECTION)
			repl_quorum_check(r, now);
	} else if (r->o.mode == REPL_MODE_ELECTION) {
		repl_election_tick(r, now);
	}
	/* A snapshot transfer whose primary went quiet is given up, so entries flow again. */
	if (r->inst_active && !r->inst_writing && now - r->inst_ms > 4ull * r->o.resend_ms)
		r->inst_active = false;
	repl_apply(r);
}

void repl_flush(struct repl *r)
{
	if (r->failed || r->role != REPL_ROLE_PRIMARY || !r->round_wanted)
		return;
	repl_heartbeat_round(r);
}

/* ---- Host requests ---- */

int64_t repl_propose(struct repl *r, enum repl_entry_type type, const void *payload,
		     uint32_t len)
{
	if (r->failed || r->role != REPL_ROLE_PRIMARY)
		return -ENOTCONN;
	if (len > REPL_ENTRY_BYTES_MAX || len > r->cache.bytes_cap)
		return -EMSGSIZE;
	if (type != REPL_ENTRY_DATA && type != REPL_ENTRY_CONFIG && type != REPL_ENTRY_NOOP)
		return -EINVAL;
	if (r->handoff || !repl_cache_make_room(r, len))
		return -EAGAIN;
	struct repl_entry e = { .epoch = r->meta.epoch, .index = r->last_index + 1,
				.payload = payload, .len = len, .type = (uint8_t)type };
	if (repl_log_append(r, &e, 1) != 1)
		return -EAGAIN;
	repl_replicate_all(r);
	repl_commit_advance(r);
	return (int64_t)e.index;
}

/* ---- State ---- */

static const char *const counter_names[REPL_CNT_MAX] = {
	"rx_append", "rx_ack", "rx_snapshot", "rx_snapshot_ack", "rx_vote", "rx_vote_reply",
	"tx_append", "tx_ack", "tx_snapshot", "tx_snapshot_ack", "tx_vote", "tx_vote_reply",
	"reject_stale", "reject_mismatch", "rx_dropped", "resends", "truncations",
	"snapshots_sent", "snapshots_installed", "elections", "repairs",
};

const char *repl_counter_name(enum repl_counter c)
{
	return (unsigned)c < REPL_CNT_MAX ? counter_names[c] : "?";
}

void repl_state_get(const struct repl *r, struct repl_state *out)
{
	memset(out, 0, sizeof(*out));
	out->mode = r->o.mode;
	out->role = r->role;
	out->node_id = r->o.node_id;
	out->epoch = r->meta.epoch;
	out->primary = r->primary;
	out->members = r->members;
	out->commit_index = r->commit_index;
	out->applied_index = r->applied_index;
	out->durable_index = r->durable_index;
	out->last_index = r->last_index;
	out->last_epoch = repl_last_epoch(r);
	out->log_start = r->log_start;
	out->snapshot_index = r->snap.index;
	out->snapshot_epoch = r->snap.epoch;
	out->epoch_start_index = r->role == REPL_ROLE_PRIMARY ? r->epoch_start_index : 0;
	out->lease_valid = r->role == REPL_ROLE_PRIMARY && r->lease_until_ms > 0 &&
			   r->io.now_ms(r->io.ctx) < r->lease_until_ms;
	out->handoff_ready = r->handoff_ready;
	out->damaged = r->meta.repair_index > r->durable_index;
	out->failed = r->failed;
	memcpy(out->counters, r->counters, sizeof(out->counters));
}

int repl_peer_get(const struct repl *r, unsigned node, struct repl_peer_info *out)
{
	if (r->role != REPL_ROLE_PRIMARY)
		return -ENOTCONN;
	if (node >= REPL_NODES_MAX || !r->peers[node])
		return -ENOENT;
	const struct repl_peer *p = r->peers[node];
	out->node = node;
	out->voter = p->voter;
	out->match_index = p->match;
	out->next_index = p->next;
	out->lag = r->last_index - MIN(p->match, r->last_index);
	out->last_ack_ms = p->last_ack_ms;
	out->snapshot = p->snap;
	return 0;
}
