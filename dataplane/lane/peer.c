/* A lane among its peers: the replication transport (messages out through the owning loop's
 * transport, in through lane_xport_recv), how a replicated lane starts before any control
 * plane speaks (epoch 1 with a primary picked from the configured nodes, or its promised
 * epoch as a follower after a restart), the administrative operations the control plane and
 * operators use (promise an epoch, set a configuration), and the figures INFO shows. */
#define LOG_COMPONENT "lane"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/panic.h"
#include "lane/lane_priv.h"
#include "lane/wire.h"

/* ---- Sending and receiving ---- */

void lane_send_raw(struct lane *lane, unsigned dst, const uint8_t *msg, size_t len)
{
	struct lane_loop *ll = lane_loop_of_loop(lane->set, lane->owner);
	if (ll->xport == NULL)
		return;
	int rc = xport_send(ll->xport, (uint16_t)dst, (uint16_t)lane->id, msg, len);
	if (rc != 0 && rc != -ENOBUFS && rc != -EAGAIN)
		lane->send_errors++;
}

void lane_repl_send(void *ctx, unsigned dst, const struct repl_msg *m)
{
	struct lane *lane = ctx;
	struct lane_loop *ll = lane_loop_of_loop(lane->set, lane->owner);
	if (ll->xport == NULL)
		return;
	lane_wire_header(ll->txbuf, LANE_MSG_REPL);
	ssize_t n = repl_msg_encode(m, ll->txbuf + LANE_WIRE_HEADER_BYTES,
				    LANE_TXBUF_BYTES - LANE_WIRE_HEADER_BYTES);
	if (n < 0) {
		LOG_WARN("lane %u: cannot encode a %s message: %s", lane->id,
			 repl_msg_type_name(m->type), strerror((int)-n));
		return;
	}
	lane_send_raw(lane, dst, ll->txbuf, (size_t)n + LANE_WIRE_HEADER_BYTES);
}

void lane_xport_recv(void *ctx, uint16_t src, uint16_t lane_id, const uint8_t *msg, size_t len)
{
	struct lane_set *set = ctx;
	if (lane_id >= set->cfg.lanes || src >= REPL_NODES_MAX) {
		set->rx_dropped++;
		return;
	}
	struct lane *lane = &set->lanes[lane_id];
	atomic_store_explicit(&set->heard_ms[src], lane_now_ms(NULL), memory_order_relaxed);
	if (lane->repl == NULL || lane->state == LANE_FAILED) {
		lane->rx_dropped++;
		return;
	}
	int kind = lane_wire_kind(msg, len);
	if (kind < 0) {
		lane->rx_dropped++;
		return;
	}
	if (kind == LANE_MSG_PING)
		return; /* heard: that is all it is for */
	if (kind != LANE_MSG_REPL) {
		lane_fwd_recv(lane, src, kind, msg, len);
		return;
	}
	struct lane_loop *ll = lane_loop_of_loop(set, lane->owner);
	struct repl_msg m;
	int rc = repl_msg_decode(msg + LANE_WIRE_HEADER_BYTES, len - LANE_WIRE_HEADER_BYTES, &m,
				 ll->rx_entries, REPL_MSG_ENTRIES_MAX);
	if (rc != 0 || m.src != src || m.dst != set->cfg.node_id) {
		lane->rx_dropped++;
		return;
	}
	repl_recv(lane->repl, &m);
}

/* Every peer hears from this node at least every heartbeat interval, whatever the lanes'
 * roles (followers of one primary exchange nothing otherwise), so that each node can report
 * which peers it hears and a cut link shows up. Sent on the first lane this loop owns. */
void lane_ping_peers(struct lane_set *set, struct lane *lane)
{
	uint64_t now = lane_now_ms(NULL);
	if (now - set->ping_ms < set->cfg.heartbeat_ms)
		return;
	set->ping_ms = now;
	uint8_t msg[LANE_WIRE_HEADER_BYTES];
	lane_wire_header(msg, LANE_MSG_PING);
	for (uint32_t i = 0; i < set->cfg.peers_count; i++)
		lane_send_raw(lane, set->cfg.peers[i], msg, sizeof(msg));
}

/* ---- Starting a replicated lane ---- */

static uint64_t lane_members(const struct lane_set_config *c)
{
	uint64_t voters = 1ull << c->node_id;
	for (uint32_t i = 0; i < c->peers_count; i++)
		voters |= 1ull << c->peers[i];
	return voters;
}

/* The primary a fresh cluster gives lane l: the nodes in id order, round-robin over lanes,
 * so that every node takes writes. */
static unsigned lane_bootstrap_primary(const struct lane_set_config *c, uint32_t lane)
{
	uint64_t members = lane_members(c);
	unsigned n = (unsigned)__builtin_popcountll(members), pick = lane % n;
	for (unsigned id = 0; id < REPL_NODES_MAX; id++) {
		if (!(members & (1ull << id)))
			continue;
		if (pick-- == 0)
			return id;
	}
	PANIC("no member");
}

void lane_start_replicated(struct lane *lane)
{
	const struct lane_set_config *c = &lane->set->cfg;
	const struct repl_meta *m = lane_meta_get(lane->meta);
	struct repl_config cfg = { .members = { .voters = lane_members(c), .learners = 0 } };
	if (m->epoch == 0 && !c->bootstrap_control) {
		cfg.epoch = 1;
		cfg.primary = c->bootstrap_primary != 0 ? c->bootstrap_primary
							: lane_bootstrap_primary(c, lane->id);
		int rc = repl_config_set(lane->repl, &cfg);
		if (rc != 0) {
			lane_fail(lane, rc, "cannot start in epoch 1: %s", strerror(-rc));
			return;
		}
	} else {
		/* Back after a restart: the core follows whoever sends it the promised epoch's
		 * entries. A node that was that epoch's primary may have lost entries of it: it
		 * waits for a new epoch from the control plane. A new lane under a control plane
		 * (bootstrap control) waits for its first configuration the same way. */
		cfg.epoch = m->epoch;
		cfg.primary = REPL_NODE_NONE;
	}
	/* A replicated lane serves from here: reads wait in the core until the primary's first
	 * entry of its epoch is applied, and writes elsewhere are forwarded. */
	lane->state = LANE_SERVING;
	atomic_fetch_sub(&lane->set->loading, 1);
	LOG_INFO("lane %u: replicated with %u peers, epoch %llu, primary %d", lane->id,
		 c->peers_count, (unsigned long long)cfg.epoch,
		 cfg.primary == REPL_NODE_NONE ? -1 : (int)cfg.primary);
}

/* ---- Administration: on the lane's own loop ---- */

int lane_admin_promise(struct lane_set *set, uint32_t lane_id, uint64_t epoch, struct repl_promise *out)
{
	struct lane *lane = &set->lanes[lane_id];
	if (lane->repl == NULL)
		return -EAGAIN;
	return repl_promise(lane->repl, epoch, out);
}

int lane_admin_config(struct lane_set *set, uint32_t lane_id, const struct repl_config *cfg)
{
	struct lane *lane = &set->lanes[lane_id];
	if (lane->repl == NULL)
		return -EAGAIN;
	return repl_config_set(lane->repl, cfg);
}

int lane_admin_handoff(struct lane_set *set, uint32_t lane_id, unsigned target)
{
	struct lane *lane = &set->lanes[lane_id];
	if (lane->repl == NULL)
		return -EAGAIN;
	return repl_handoff(lane->repl, target);
}

void lane_repl_info_get(struct lane_set *set, uint32_t lane_id, struct lane_repl_info *out)
{
	struct lane *lane = &set->lanes[lane_id];
	memset(out, 0, sizeof(*out));
	out->lane = lane_id;
	out->state = lane->state;
	out->forwarded = atomic_load_explicit(&lane->counters.forwarded, memory_order_relaxed);
	out->fwd_resent = lane->fwd_resent;
	out->fwd_dropped = lane->fwd_dropped;
	out->rx_dropped = lane->rx_dropped;
	if (lane->repl == NULL)
		return;
	repl_state_get(lane->repl, &out->rs);
	out->peers = 0;
	for (unsigned id = 0; id < REPL_NODES_MAX; id++) {
		struct repl_peer_info pi;
		if (id == set->cfg.node_id || repl_peer_get(lane->repl, id, &pi) != 0)
			continue;
		if (pi.lag <= LANE_CAUGHT_UP_LAG)
			out->caught_up |= 1ull << id;
		if (out->peers < LANE_INFO_PEERS_MAX)
			out->peer[out->peers++] = pi;
	}
}

bool lane_log_stats_get(struct lane_set *set, uint32_t lane_id, struct log_stats *out)
{
	struct lane *lane = &set->lanes[lane_id];
	if (lane->log == NULL)
		return false;
	log_stats_get(lane->log, out);
	return true;
}

uint64_t lane_set_peers_heard(const struct lane_set *set, uint64_t window_ms)
{
	uint64_t now = lane_now_ms(NULL), heard = 1ull << set->cfg.node_id;
	for (unsigned id = 0; id < REPL_NODES_MAX; id++) {
		uint64_t t = atomic_load_explicit(&((struct lane_set *)set)->heard_ms[id], memory_order_relaxed);
		if (t != 0 && now - t <= window_ms)
			heard |= 1ull << id;
	}
	return heard;
}

void lane_set_promised_set(struct lane_set *set, lane_promised_fn fn, void *ctx)
{
	set->promised = fn;
	set->promised_ctx = ctx;
}
