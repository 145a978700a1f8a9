/* The simulated nodes and their lanes: each lane is a replication core on simulated
 * storage, with a host around it that does what the dataplane's lane module does (batch
 * client writes into one entry per turn, apply committed entries to a register map, answer
 * clients, serve reads under the lease or after a barrier, take snapshots), so that the
 * core is exercised through the same contract as in production. Nodes crash, restart from
 * their durable state, and hang. */
#include "sim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/core/ctl.h"
#include "lincheck.h"

/* ---- The lane's I/O table: the host's half ---- */

/* The table has one context, the store (whose functions fill the storage half); the host's
 * callbacks find their lane around it. */
static struct sim_lane *lane_of(void *store)
{
	return container_of(store, struct sim_lane, store);
}

static void lane_send(void *ctx, unsigned dst, const struct repl_msg *m)
{
	struct sim_lane *l = lane_of(ctx);
	static uint8_t buf[1 + REPL_MSG_BYTES_MAX];
	ssize_t n = repl_msg_encode(m, buf + 1, sizeof(buf) - 1);
	if (n < 0) {
		sim_fail(l->c, "encode failed: %zd", n);
		return;
	}
	buf[0] = (uint8_t)l->lane;
	if (dst < l->c->p.nodes)
		sim_net_send(&l->c->net, SIM_PLANE_REPL, l->node->id, dst, buf, (size_t)n + 1);
}

static uint64_t lane_now_ms(void *ctx)
{
	struct sim_lane *l = lane_of(ctx);
	return sim_clock_ms(&l->node->clock, l->c->sched.now_us);
}

static uint64_t lane_random(void *ctx)
{
	struct sim_lane *l = lane_of(ctx);
	return sim_rng_next(&l->c->rng);
}

static void reads_serve(struct sim_lane *l)
{
	unsigned k = 0;
	for (unsigned i = 0; i < l->n_reads; i++) {
		struct sim_read *rd = &l->reads[i];
		bool confirmed = rd->seq == 0 || l->confirmed_seq >= rd->seq;
		if (confirmed && l->applied >= rd->read_index) {
			const struct sim_op *op = &l->c->ops[rd->op];
			sim_reply(l->c, op->client, rd->op, SIM_REPLY_OK, l->kv[rd->key],
				  REPL_NODE_NONE);
			continue;
		}
		l->reads[k++] = *rd;
	}
	l->n_reads = k;
}

static void compact_event(void *arg, uint64_t incarnation, uint64_t unused);

static void lane_apply(void *ctx, const struct repl_entry *e)
{
	struct sim_lane *l = lane_of(ctx);
	sim_check_apply(l->c, l->lane, l->node->id, e);
	if (e->type == REPL_ENTRY_DATA) {
		for (uint32_t off = 0; off + 9 <= e->len; off += 9) {
			uint8_t key = e->payload[off];
			uint64_t v;
			memcpy(&v, e->payload + off + 1, 8);
			if (key < SIM_KEYS_PER_LANE)
				l->kv[key] = v;
		}
	}
	l->applied = e->index;
	/* Proposals of ours at or before this index are settled. */
	unsigned k = 0;
	for (unsigned i = 0; i < l->n_waiting; i++) {
		struct sim_write *w = &l->waiting[i];
		if (w->index > e->index) {
			l->waiting[k++] = *w;
			continue;
		}
		const struct sim_op *op = &l->c->ops[w->op];
		if (w->index == e->index && w->epoch == e->epoch) {
			sim_check_ack(l->c, l->lane, e->index, e->epoch);
			sim_reply(l->c, op->client, w->op, SIM_REPLY_OK, 0, REPL_NODE_NONE);
		} else {
			sim_reply(l->c, op->client, w->op, SIM_REPLY_UNKNOWN, 0, REPL_NODE_NONE);
		}
	}
	l->n_waiting = k;
	reads_serve(l);
	if (++l->applied_since_snapshot >= l->c->p.snapshot_every && l->c->p.snapshot_every) {
		l->applied_since_snapshot = 0;
		sim_sched_after(&l->c->sched, 0, compact_event, l, l->node->incarnation, 0);
	}
}

static void lane_abandon(void *ctx, uint64_t from)
{
	struct sim_lane *l = lane_of(ctx);
	unsigned k = 0;
	for (unsigned i = 0; i < l->n_waiting; i++) {
		struct sim_write *w = &l->waiting[i];
		if (w->index < from) {
			l->waiting[k++] = *w;
			continue;
		}
		sim_reply(l->c, l->c->ops[w->op].client, w->op, SIM_REPLY_UNKNOWN, 0, REPL_NODE_NONE);
	}
	l->n_waiting = k;
	for (unsigned i = 0; i < l->n_reads; i++) {
		const struct sim_read *rd = &l->reads[i];
		sim_reply(l->c, l->c->ops[rd->op].client, rd->op, SIM_REPLY_FAILED, 0, REPL_NODE_NONE);
	}
	l->n_reads = 0;
}

static void lane_role(void *ctx, enum repl_role role, uint64_t epoch, unsigned primary)
{
	struct sim_lane *l = lane_of(ctx);
	sim_trace(l->c, "node %u lane %u: role %d epoch %llu primary %d", l->node->id, l->lane,
		  role, (unsigned long long)epoch, primary == REPL_NODE_NONE ? -1 : (int)primary);
	if (role == REPL_ROLE_PRIMARY)
		sim_check_primary(l->c, l->lane, epoch, l->node->id);
}

static void lane_read_confirmed(void *ctx, uint64_t seq)
{
	struct sim_lane *l = lane_of(ctx);
	l->confirmed_seq = seq;
	reads_serve(l);
}

static void lane_promised(void *ctx, const struct repl_promise *p)
{
	struct sim_lane *l = lane_of(ctx);
	if (l->c->cp)
		l->c->cp->promised(l->c, l->node->id, l->lane, p);
}

static void lane_fatal(void *ctx, int err, uint64_t index)
{
	struct sim_lane *l = lane_of(ctx);
	sim_trace(l->c, "node %u lane %u: fatal %d at %llu: node stops", l->node->id, l->lane, err,
		  (unsigned long long)index);
	sim_node_fail_stop(l->node);
}

static void lane_install(void *ctx, const struct repl_snapshot_meta *m, const uint8_t *bytes,
			 size_t len)
{
	struct sim_lane *l = lane_of(ctx);
	if (len == sizeof(l->kv))
		memcpy(l->kv, bytes, len);
	l->applied = m->index;
	l->c->stats.installs++;
}

static void compact_event(void *arg, uint64_t incarnation, uint64_t unused)
{
	(void)unused;
	struct sim_lane *l = arg;
	if (!l->node->up || l->node->incarnation != incarnation || !l->r)
		return;
	struct repl_state s;
	repl_state_get(l->r, &s);
	if (s.applied_index != l->applied || l->applied <= s.snapshot_index)
		return;
	const struct sim_record *rec = sim_store_get(&l->store, l->applied);
	if (!rec)
		return; /* not in the written log (already compacted past) */
	struct repl_snapshot_meta meta = { .index = l->applied, .epoch = rec->epoch,
					   .total_bytes = sizeof(l->kv) };
	uint64_t keep = sim_rng_below(&l->c->rng, 8);
	uint64_t start = sim_store_compact(&l->store, &meta, (const uint8_t *)l->kv, keep);
	repl_log_compacted(l->r, l->applied, start, NULL);
	l->c->stats.snapshots++;
}

/* ---- Node life cycle ---- */

static void lane_start(struct sim_lane *l)
{
	struct repl_io full = { 0 };
	sim_store_io(&l->store, &full);
	full.send = lane_send;
	full.now_ms = lane_now_ms;
	full.random = lane_random;
	full.apply = lane_apply;
	full.abandon = lane_abandon;
	full.role = lane_role;
	full.read_confirmed = lane_read_confirmed;
	full.promised = lane_promised;
	full.fatal = lane_fatal;
	struct repl_boot boot;
	sim_store_recover(&l->store, &boot, NULL);
	struct repl_options o = l->c->lane_opts;
	o.node_id = l->node->id;
	l->r = repl_create(&o, &full, &boot);
	ASSERT(l->r);
	l->store.r = l->r;
	memset(l->kv, 0, sizeof(l->kv));
	if (l->store.snap.index > 0 && l->store.snap.total_bytes == sizeof(l->kv))
		memcpy(l->kv, l->store.snap_bytes, sizeof(l->kv));
	l->applied = l->store.snap.index;
	l->applied_since_snapshot = 0;
	l->n_batch = l->n_waiting = l->n_reads = 0;
	l->confirmed_seq = 0;
	l->turn_pending = false;
}

bool sim_node_alive(const struct sim_node *n)
{
	return n->up && !n->hung;
}

void sim_node_crash(struct sim_node *n)
{
	if (!n->up)
		return;
	sim_trace(n->c, "node %u: crash", n->id);
	n->up = false;
	n->hung = false;
	n->c->stats.crashes++;
	for (unsigned i = 0; i < n->c->p.lanes; i++) {
		struct sim_lane *l = &n->lane[i];
		repl_destroy(l->r);
		l->r = NULL;
		sim_store_crash(&l->store);
		l->n_batch = l->n_waiting = l->n_reads = 0;
	}
	if (n->c->cp)
		n->c->cp->node_crashed(n->c, n->id);
}

void sim_node_restart(struct sim_node *n)
{
	if (n->up)
		return;
	n->up = true;
	n->incarnation++;
	sim_trace(n->c, "node %u: restart (incarnation %llu)", n->id,
		  (unsigned long long)n->incarnation);
	for (unsigned i = 0; i < n->c->p.lanes; i++)
		lane_start(&n->lane[i]);
	if (n->c->cp)
		n->c->cp->node_started(n->c, n->id);
}

static void restart_event(void *arg, uint64_t a, uint64_t b)
{
	(void)a;
	(void)b;
	sim_node_restart(arg);
}

/* A node that stopped itself (fail-stop) is restarted, as its supervisor would. */
static void crash_event(void *arg, uint64_t incarnation, uint64_t unused)
{
	(void)unused;
	struct sim_node *n = arg;
	if (!n->up || n->incarnation != incarnation)
		return;
	sim_node_crash(n);
	sim_sched_after(&n->c->sched, sim_rng_range(&n->c->rng, 50000, 300000), restart_event, n,
			0, 0);
}

void sim_node_fail_stop(struct sim_node *n)
{
	/* Not at once: the core that failed may not be destroyed inside its own callback. */
	sim_sched_after(&n->c->sched, 0, crash_event, n, n->incarnation, 0);
}

void sim_lane_config(struct sim_lane *l, const struct repl_config *cfg)
{
	if (!l->r || !sim_node_alive(l->node))
		return;
	int rc = repl_config_set(l->r, cfg);
	if (rc != 0 && rc != -ESTALE)
		sim_fail(l->c, "node %u lane %u: config refused: %d", l->node->id, l->lane, rc);
	repl_flush(l->r);
}

/* ---- Client requests ---- */

static struct sim_lane *lane_for_key(struct sim_node *n, unsigned key)
{
	return &n->lane[key / SIM_KEYS_PER_LANE];
}

static unsigned primary_hint(struct sim_lane *l)
{
	struct repl_state s;
	repl_state_get(l->r, &s);
	return s.primary;
}

static void turn_event(void *arg, uint64_t incarnation, uint64_t unused)
{
	(void)unused;
	struct sim_lane *l = arg;
	if (!l->node->up || l->node->incarnation != incarnation)
		return;
	l->turn_pending = false;
	if (l->n_batch == 0 || l->node->hung)
		return;
	uint8_t payload[SIM_BATCH_MAX * 9];
	for (unsigned i = 0; i < l->n_batch; i++) {
		payload[9 * i] = l->batch[i].key;
		memcpy(payload + 9 * i + 1, &l->batch[i].value, 8);
	}
	int64_t idx = repl_propose(l->r, REPL_ENTRY_DATA, payload, 9 * l->n_batch);
	if (idx == -EAGAIN) {
		l->turn_pending = true;
		sim_sched_after(&l->c->sched, 1000, turn_event, l, incarnation, 0);
		return;
	}
	struct repl_state s;
	repl_state_get(l->r, &s);
	for (unsigned i = 0; i < l->n_batch; i++) {
		struct sim_write w = l->batch[i];
		if (idx < 0) {
			sim_reply(l->c, l->c->ops[w.op].client, w.op, SIM_REPLY_NOT_PRIMARY, 0,
				  s.primary);
			continue;
		}
		if (l->n_waiting == l->cap_waiting) {
			l->cap_waiting = l->cap_waiting ? 2 * l->cap_waiting : 64;
			l->waiting = realloc(l->waiting, l->cap_waiting * sizeof(*l->waiting));
		}
		w.index = (uint64_t)idx;
		w.epoch = s.epoch;
		l->waiting[l->n_waiting++] = w;
	}
	l->n_batch = 0;
	repl_flush(l->r);
}

void sim_node_client_write(struct sim_node *n, unsigned client, uint64_t op, unsigned key,
			   uint64_t value)
{
	if (!sim_node_alive(n))
		return;
	struct sim_lane *l = lane_for_key(n, key);
	struct repl_state s;
	repl_state_get(l->r, &s);
	if (s.role != REPL_ROLE_PRIMARY || l->n_batch == SIM_BATCH_MAX) {
		sim_reply(n->c, client, op, s.role != REPL_ROLE_PRIMARY ? SIM_REPLY_NOT_PRIMARY
								       : SIM_REPLY_FAILED,
			  0, s.primary);
		return;
	}
	l->batch[l->n_batch++] = (struct sim_write){ .op = op, .key = key % SIM_KEYS_PER_LANE,
						     .value = value };
	if (!l->turn_pending) {
		l->turn_pending = true;
		sim_sched_after(&n->c->sched, sim_rng_below(&n->c->rng, 300), turn_event, l,
				n->incarnation, 0);
	}
}

void sim_node_client_read(struct sim_node *n, unsigned client, uint64_t op, unsigned key)
{
	if (!sim_node_alive(n))
		return;
	struct sim_lane *l = lane_for_key(n, key);
	uint64_t ri, seq;
	int rc = repl_read_begin(l->r, &ri, &seq);
	if (rc == -ENOTCONN) {
		sim_reply(n->c, client, op, SIM_REPLY_NOT_PRIMARY, 0, primary_hint(l));
		return;
	}
	if (l->n_reads == l->cap_reads) {
		l->cap_reads = l->cap_reads ? 2 * l->cap_reads : 32;
		l->reads = realloc(l->reads, l->cap_reads * sizeof(*l->reads));
	}
	l->reads[l->n_reads++] = (struct sim_read){ .op = op, .key = key % SIM_KEYS_PER_LANE,
						    .read_index = ri, .seq = rc == 0 ? 0 : seq };
	reads_serve(l);
	repl_flush(l->r);
}

/* ---- Network delivery and ticks ---- */

static void deliver(void *ctx, enum sim_plane plane, unsigned src, unsigned dst,
		    const uint8_t *bytes, size_t len)
{
	struct sim_cluster *c = ctx;
	struct sim_node *n = &c->node[dst];
	if (plane == SIM_PLANE_MGMT) {
		if (n->up && c->cp)
			c->cp->deliver(c, src, dst, bytes, len);
		return;
	}
	if (!sim_node_alive(n) || len < 1)
		return;
	n->heard_us[src] = c->sched.now_us;
	if (bytes[0] >= c->p.lanes)
		return; /* a keepalive */
	struct sim_lane *l = &n->lane[bytes[0]];
	static struct repl_entry entries[REPL_MSG_ENTRIES_MAX];
	struct repl_msg m;
	if (repl_msg_decode(bytes + 1, len - 1, &m, entries, REPL_MSG_ENTRIES_MAX) != 0) {
		sim_fail(c, "node %u: undecodable message from %u", dst, src);
		return;
	}
	repl_recv(l->r, &m);
	if (l->r)
		repl_flush(l->r);
}

/* The dataplane's keepalive on the replication network, which followers of different lanes
 * would otherwise never exchange, so that every node knows whom it hears. */
static void pings(struct sim_cluster *c, struct sim_node *n)
{
	uint8_t ping = SIM_PING_LANE;
	for (unsigned o = 0; o < c->p.nodes; o++)
		if (o != n->id)
			sim_net_send(&c->net, SIM_PLANE_REPL, n->id, o, &ping, 1);
}

static void tick_event(void *arg, uint64_t a, uint64_t b)
{
	(void)a;
	(void)b;
	struct sim_cluster *c = arg;
	bool ping = c->sched.now_us % SIM_PING_US < SIM_TICK_US;
	for (unsigned i = 0; i < c->p.nodes; i++) {
		struct sim_node *n = &c->node[i];
		if (!sim_node_alive(n))
			continue;
		n->progress++;
		if (ping)
			pings(c, n);
		for (unsigned k = 0; k < c->p.lanes && n->up; k++) {
			if (!n->lane[k].r)
				continue;
			repl_tick(n->lane[k].r);
			repl_flush(n->lane[k].r);
		}
	}
	if (c->sched.now_us < c->p.end_us)
		sim_sched_after(&c->sched, SIM_TICK_US, tick_event, c, 0, 0);
}

void sim_lane_status(struct sim_lane *l, struct ctl_lane_status *out)
{
	struct repl_state s;
	repl_state_get(l->r, &s);
	memset(out, 0, sizeof(*out));
	out->lane = l->lane;
	out->epoch = s.epoch;
	out->role = (uint8_t)s.role;
	out->voters = s.members.voters;
	out->handoff_ready = s.handoff_ready;
	out->damaged = s.damaged;
	if (s.role != REPL_ROLE_PRIMARY)
		return;
	for (unsigned p = 0; p < l->c->p.nodes; p++) {
		struct repl_peer_info pi;
		if (repl_peer_get(l->r, p, &pi) == 0 && pi.lag <= 8)
			out->caught_up |= 1ull << p;
	}
}

/* ---- Set-up ---- */

static void lane_options(struct sim_cluster *c)
{
	struct repl_options *o = &c->lane_opts;
	repl_options_default(o, 0, REPL_MODE_EXTERNAL);
	o->heartbeat_ms = 20;
	o->resend_ms = 60;
	o->lease_ms = c->p.lease_ms;
	/* lease_drift_ms >= lease_ms * 2 rho / (1 + rho) (repl.h), rounded up, plus 1 ms for
	 * the clocks' millisecond granularity. */
	o->lease_drift_ms = (uint32_t)((uint64_t)o->lease_ms * 2 * (uint64_t)c->p.drift_ppm_max /
				       1000000) + 2;
	o->handoff_ms = 300;
	o->cache_bytes = 4096;
	o->cache_entries = 32;
	o->window_bytes = 2048;
	o->msg_bytes_max = 512;
	o->read_bytes = 1024;
	o->snapshot_chunk_bytes = 8;
}

void sim_cluster_init(struct sim_cluster *c, uint64_t seed, const struct sim_params *p)
{
	memset(c, 0, sizeof(*c));
	c->seed = seed;
	c->p = *p;
	sim_rng_seed(&c->rng, seed);
	sim_sched_init(&c->sched);
	sim_net_init(&c->net, &c->sched, &c->rng, p->nodes, deliver, c);
	for (unsigned pl = 0; pl < SIM_NET_PLANES; pl++)
		sim_net_plane_set(&c->net, pl, pl == SIM_PLANE_CLIENT ? 0 : p->drop_ppm,
				  pl == SIM_PLANE_CLIENT ? 0 : p->dup_ppm, p->delay_us_min,
				  p->delay_us_max);
	c->lat = (struct sim_store_latency){ 100, 2000, 20, 300, 100, 1500, 50, 500 };
	lane_options(c);
	for (unsigned i = 0; i < p->nodes; i++) {
		struct sim_node *n = &c->node[i];
		n->c = c;
		n->id = i;
		int32_t drift = (int32_t)sim_rng_range(&c->rng, 0, 2 * (uint64_t)p->drift_ppm_max) -
				p->drift_ppm_max;
		n->clock = (struct sim_clock){ .offset_us = (int64_t)sim_rng_range(&c->rng, 1, 1u << 30),
					       .drift_ppm = drift };
		for (unsigned k = 0; k < p->lanes; k++) {
			struct sim_lane *l = &n->lane[k];
			l->c = c;
			l->node = n;
			l->lane = k;
			sim_store_init(&l->store, &c->sched, &c->rng, &c->lat);
			l->store.install = lane_install;
			l->store.install_ctx = &l->store;
		}
	}
	for (unsigned i = 0; i < p->nodes; i++)
		sim_node_restart(&c->node[i]);
	sim_sched_after(&c->sched, SIM_TICK_US, tick_event, c, 0, 0);
}

void sim_cluster_free(struct sim_cluster *c)
{
	/* Drain events that own memory (packets, I/O requests) without running the model. */
	for (unsigned i = 0; i < c->p.nodes; i++) {
		struct sim_node *n = &c->node[i];
		for (unsigned k = 0; k < c->p.lanes; k++) {
			struct sim_lane *l = &n->lane[k];
			repl_destroy(l->r);
			l->r = NULL;
			l->store.r = NULL;
			l->store.gen++;
		}
		n->up = false;
	}
	c->p.end_us = 0;
	c->clients_stop = true;
	sim_sched_run_until(&c->sched, UINT64_MAX);
	for (unsigned i = 0; i < c->p.nodes; i++) {
		for (unsigned k = 0; k < c->p.lanes; k++) {
			struct sim_lane *l = &c->node[i].lane[k];
			sim_store_free(&l->store);
			free(l->waiting);
			free(l->reads);
		}
	}
	if (c->cp)
		c->cp->free(c);
	sim_sched_free(&c->sched);
	for (unsigned k = 0; k <= SIM_LANES_MAX; k++) {
		free(c->applied[k]);
		free(c->primary_of[k]);
	}
	free(c->acks);
	free(c->ops);
}
