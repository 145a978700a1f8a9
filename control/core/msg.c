/* The control messages' wire form: little-endian, versioned, every count and length checked
 * against the buffer before use. The same bytes travel on the Unix socket between a
 * dataplane and its daemon and on the management network between daemons.
 *
 *   header     u8 version, u8 type, u8 node, u8 0, u32 0, u64 term             16 bytes
 *   CONFIG     u32 n, u32 0; n x (u32 lane, u8 primary, u8[3] 0, u64 epoch, voters,
 *              learners)                                                     8 + 32n
 *   HEARTBEAT, REPORT  u64 incarnation, progress, peers_heard, u8 alive, u8[3] 0,
 *              u32 n; n x (u32 lane, u8 role, u8 handoff_ready, u8 damaged, u8 0,
 *              u64 epoch, voters, caught_up)                                 32 + 32n
 *   PREPARE, HANDOFF   u32 lane, u8 target, u8[3] 0, u64 epoch                 16 bytes
 *   PROMISE    u32 lane, u8 damaged, u8 was_primary, u8[2] 0, u64 epoch,
 *              last_epoch, last_index, incarnation                          40 bytes
 */
#include "control/core/ctl.h"

#include <errno.h>
#include <string.h>

#define HDR_BYTES 16
#define CONFIG_BYTES 8
#define CONFIG_LANE_BYTES 32
#define HB_BYTES 32
#define HB_LANE_BYTES 32
#define PREPARE_BYTES 16
#define PROMISE_BYTES 40

struct cur {
	uint8_t *w;
	const uint8_t *r;
	size_t left;
	bool bad;
};

static void put(struct cur *c, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		*c->w++ = (uint8_t)(v >> (8 * i));
}

static uint64_t get(struct cur *c, unsigned bytes)
{
	if (c->bad || c->left < bytes) {
		c->bad = true;
		return 0;
	}
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)c->r[i] << (8 * i);
	c->r += bytes;
	c->left -= bytes;
	return v;
}

static bool get_bool(struct cur *c)
{
	uint64_t v = get(c, 1);
	if (v > 1)
		c->bad = true;
	return v == 1;
}

static void get_zero(struct cur *c, unsigned bytes)
{
	if (get(c, bytes) != 0)
		c->bad = true;
}

size_t ctl_msg_encoded_bytes(const struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_MSG_CONFIG:
		return HDR_BYTES + CONFIG_BYTES + (size_t)m->config.n * CONFIG_LANE_BYTES;
	case CTL_MSG_HEARTBEAT:
	case CTL_MSG_REPORT:
		return HDR_BYTES + HB_BYTES + (size_t)m->hb.n_lanes * HB_LANE_BYTES;
	case CTL_MSG_PREPARE:
	case CTL_MSG_HANDOFF:
		return HDR_BYTES + PREPARE_BYTES;
	case CTL_MSG_PROMISE:
		return HDR_BYTES + PROMISE_BYTES;
	}
	return 0;
}

static void encode_body(struct cur *c, const struct ctl_msg *m)
{
	switch (m->type) {
	case CTL_MSG_CONFIG:
		put(c, m->config.n, 4);
		put(c, 0, 4);
		for (uint32_t i = 0; i < m->config.n; i++) {
			const struct repl_config *cfg = &m->config.lanes_cfg[i];
			put(c, m->config.lane_ids[i], 4);
			put(c, cfg->primary, 1);
			put(c, 0, 3);
			put(c, cfg->epoch, 8);
			put(c, cfg->members.voters, 8);
			put(c, cfg->members.learners, 8);
		}
		break;
	case CTL_MSG_HEARTBEAT:
	case CTL_MSG_REPORT:
		put(c, m->hb.incarnation, 8);
		put(c, m->hb.progress, 8);
		put(c, m->hb.peers_heard, 8);
		put(c, m->hb.alive, 1);
		put(c, 0, 3);
		put(c, m->hb.n_lanes, 4);
		for (uint32_t i = 0; i < m->hb.n_lanes; i++) {
			const struct ctl_lane_status *l = &m->hb.lanes[i];
			put(c, l->lane, 4);
			put(c, l->role, 1);
			put(c, l->handoff_ready, 1);
			put(c, l->damaged, 1);
			put(c, 0, 1);
			put(c, l->epoch, 8);
			put(c, l->voters, 8);
			put(c, l->caught_up, 8);
		}
		break;
	case CTL_MSG_PREPARE:
	case CTL_MSG_HANDOFF:
		put(c, m->prepare.lane, 4);
		put(c, m->prepare.target, 1);
		put(c, 0, 3);
		put(c, m->prepare.epoch, 8);
		break;
	case CTL_MSG_PROMISE:
		put(c, m->promise.lane, 4);
		put(c, m->promise.promise.damaged, 1);
		put(c, m->promise.promise.was_primary, 1);
		put(c, 0, 2);
		put(c, m->promise.promise.epoch, 8);
		put(c, m->promise.promise.last_epoch, 8);
		put(c, m->promise.promise.last_index, 8);
		put(c, m->promise.incarnation, 8);
		break;
	}
}

ssize_t ctl_msg_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap)
{
	if (m->type < CTL_MSG_CONFIG || m->type > CTL_MSG_TYPE_MAX)
		return -EINVAL;
	size_t n = ctl_msg_encoded_bytes(m);
	if (n > CTL_MSG_BYTES_MAX)
		return -EINVAL;
	if (n > cap)
		return -EMSGSIZE;
	struct cur c = { .w = buf };
	put(&c, CTL_WIRE_VERSION, 1);
	put(&c, m->type, 1);
	put(&c, m->node, 1);
	put(&c, 0, 5);
	put(&c, m->term, 8);
	encode_body(&c, m);
	return c.w - buf;
}

static void decode_config(struct cur *c, struct ctl_msg_config *cfg,
			  const struct ctl_decode_space *sp)
{
	cfg->n = (uint32_t)get(c, 4);
	get_zero(c, 4);
	if (c->bad || cfg->n > sp->cap || (uint64_t)cfg->n * CONFIG_LANE_BYTES > c->left) {
		c->bad = true;
		return;
	}
	for (uint32_t i = 0; i < cfg->n; i++) {
		struct repl_config *rc = &sp->cfg[i];
		sp->lane_ids[i] = (uint32_t)get(c, 4);
		rc->primary = (unsigned)get(c, 1);
		get_zero(c, 3);
		rc->epoch = get(c, 8);
		rc->members.voters = get(c, 8);
		rc->members.learners = get(c, 8);
		if (rc->primary >= CTL_NODES_MAX)
			c->bad = true;
	}
	cfg->lanes_cfg = sp->cfg;
	cfg->lane_ids = sp->lane_ids;
}

static void decode_hb(struct cur *c, struct ctl_msg_heartbeat *hb,
		      const struct ctl_decode_space *sp)
{
	hb->incarnation = get(c, 8);
	hb->progress = get(c, 8);
	hb->peers_heard = get(c, 8);
	hb->alive = get_bool(c);
	get_zero(c, 3);
	hb->n_lanes = (uint32_t)get(c, 4);
	if (c->bad || hb->n_lanes > sp->cap || (uint64_t)hb->n_lanes * HB_LANE_BYTES > c->left) {
		c->bad = true;
		return;
	}
	for (uint32_t i = 0; i < hb->n_lanes; i++) {
		struct ctl_lane_status *l = &sp->status[i];
		l->lane = (uint32_t)get(c, 4);
		l->role = (uint8_t)get(c, 1);
		l->handoff_ready = get_bool(c);
		l->damaged = get_bool(c);
		get_zero(c, 1);
		l->epoch = get(c, 8);
		l->voters = get(c, 8);
		l->caught_up = get(c, 8);
		if (l->role > REPL_ROLE_CANDIDATE)
			c->bad = true;
	}
	hb->lanes = sp->status;
}

static void decode_body(struct cur *c, struct ctl_msg *m, const struct ctl_decode_space *sp)
{
	switch (m->type) {
	case CTL_MSG_CONFIG:
		decode_config(c, &m->config, sp);
		break;
	case CTL_MSG_HEARTBEAT:
	case CTL_MSG_REPORT:
		decode_hb(c, &m->hb, sp);
		break;
	case CTL_MSG_PREPARE:
	case CTL_MSG_HANDOFF:
		m->prepare.lane = (uint32_t)get(c, 4);
		m->prepare.target = (uint8_t)get(c, 1);
		get_zero(c, 3);
		m->prepare.epoch = get(c, 8);
		break;
	case CTL_MSG_PROMISE:
		m->promise.lane = (uint32_t)get(c, 4);
		m->promise.promise.damaged = get_bool(c);
		m->promise.promise.was_primary = get_bool(c);
		get_zero(c, 2);
		m->promise.promise.epoch = get(c, 8);
		m->promise.promise.last_epoch = get(c, 8);
		m->promise.promise.last_index = get(c, 8);
		m->promise.incarnation = get(c, 8);
		break;
	default:
		c->bad = true;
	}
}

int ctl_msg_decode(const uint8_t *buf, size_t len, struct ctl_msg *m,
		   const struct ctl_decode_space *space)
{
	memset(m, 0, sizeof(*m));
	if (len < HDR_BYTES)
		return -EBADMSG;
	if (buf[0] != CTL_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	struct cur c = { .r = buf + 1, .left = len - 1 };
	m->type = (uint8_t)get(&c, 1);
	m->node = (uint8_t)get(&c, 1);
	get_zero(&c, 5);
	m->term = get(&c, 8);
	if (m->node >= CTL_NODES_MAX)
		return -EBADMSG;
	decode_body(&c, m, space);
	return c.bad || c.left != 0 ? -EBADMSG : 0;
}
