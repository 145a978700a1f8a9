/* The control group's replicated state machine: every replica applies the same committed
 * commands in the same order and ends in the same state. A command that does not fit the
 * state (a stale epoch, a second unsettled voter change, an unknown node) is ignored the
 * same way everywhere. Also the commands' wire form and snapshots of the whole state. */
#include "control/core/ctl.h"

#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "base/panic.h"

void ctl_state_init(struct ctl_state *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < CTL_LANES_MAX; i++) {
		s->lanes[i].primary = REPL_NODE_NONE;
		s->lanes[i].prep_target = REPL_NODE_NONE;
		s->lanes[i].switch_target = REPL_NODE_NONE;
	}
}

static bool is_voter(const struct ctl_lane *l, unsigned node)
{
	return node < CTL_NODES_MAX && (l->members.voters >> node) & 1;
}

static int apply_bootstrap(struct ctl_state *s, const struct ctl_cmd *c)
{
	if (s->n_lanes != 0 || c->n_lanes == 0 || c->n_lanes > CTL_LANES_MAX ||
	    c->members.voters == 0)
		return -EINVAL;
	unsigned nodes[CTL_NODES_MAX], n = 0;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		if (!((c->members.voters >> i) & 1))
			continue;
		nodes[n++] = i;
		s->nodes[i].state = CTL_NODE_ACTIVE;
	}
	s->n_lanes = c->n_lanes;
	for (uint32_t k = 0; k < c->n_lanes; k++) {
		struct ctl_lane *l = &s->lanes[k];
		l->epoch = 1;
		l->primary = (uint8_t)nodes[k % n];
		l->members.voters = c->members.voters;
		l->members.learners = 0;
	}
	return 0;
}

static int apply_node(struct ctl_state *s, const struct ctl_cmd *c)
{
	if (c->node >= CTL_NODES_MAX)
		return -EINVAL;
	struct ctl_node *n = &s->nodes[c->node];
	switch (c->type) {
	case CTL_CMD_NODE_ADD:
		if (n->state != CTL_NODE_NONE)
			return -EEXIST;
		n->state = CTL_NODE_JOINING;
		memcpy(n->mgmt_addr, c->mgmt_addr, CTL_ADDR_BYTES);
		memcpy(n->repl_addr, c->repl_addr, CTL_ADDR_BYTES);
		n->mgmt_addr[CTL_ADDR_BYTES - 1] = n->repl_addr[CTL_ADDR_BYTES - 1] = 0;
		return 0;
	case CTL_CMD_NODE_REMOVE:
		if (n->state != CTL_NODE_ACTIVE && n->state != CTL_NODE_JOINING)
			return -ENOENT;
		n->state = CTL_NODE_LEAVING;
		return 0;
	case CTL_CMD_NODE_STATE:
		if (n->state == CTL_NODE_JOINING && c->node_state == CTL_NODE_ACTIVE) {
			n->state = CTL_NODE_ACTIVE;
			return 0;
		}
		if (n->state == CTL_NODE_LEAVING && c->node_state == CTL_NODE_NONE) {
			memset(n, 0, sizeof(*n));
			return 0;
		}
		return -EINVAL;
	}
	return -EINVAL;
}

static int apply_members(struct ctl_lane *l, const struct ctl_cmd *c)
{
	const struct repl_members *m = &c->members;
	uint64_t changed = m->voters ^ l->members.voters;
	if (m->voters == 0 || (m->voters & m->learners) || __builtin_popcountll(changed) > 1)
		return -EINVAL;
	if (l->prep_epoch || (changed && l->prev_voters) || l->primary >= CTL_NODES_MAX ||
	    !((m->voters >> l->primary) & 1))
		return -EBUSY; /* frozen during a failover; one voter change at a time; keep the primary */
	if (changed)
		l->prev_voters = l->members.voters;
	l->members = *m;
	if (l->switch_target != REPL_NODE_NONE && !is_voter(l, l->switch_target))
		l->switch_target = REPL_NODE_NONE;
	return 0;
}

static int apply_lane(struct ctl_state *s, const struct ctl_cmd *c)
{
	if (c->lane >= s->n_lanes)
		return -EINVAL;
	struct ctl_lane *l = &s->lanes[c->lane];
	switch (c->type) {
	case CTL_CMD_LANE_PREPARE:
		if (c->epoch <= MAX(l->epoch, l->prep_epoch))
			return -ESTALE; /* epochs are issued once */
		l->prep_epoch = c->epoch;
		l->prep_target = is_voter(l, c->node) ? c->node : REPL_NODE_NONE;
		return 0;
	case CTL_CMD_LANE_PRIMARY:
		if (c->epoch != l->prep_epoch || !is_voter(l, c->node))
			return -ESTALE;
		l->epoch = c->epoch;
		l->primary = c->node;
		l->prep_epoch = 0;
		l->prep_target = REPL_NODE_NONE;
		l->prev_voters = 0; /* the new primary starts with the current voters */
		if (l->switch_target == c->node)
			l->switch_target = REPL_NODE_NONE;
		return 0;
	case CTL_CMD_LANE_MEMBERS:
		return apply_members(l, c);
	case CTL_CMD_LANE_SETTLED:
		if (!l->prev_voters || c->epoch != l->epoch || c->members.voters != l->members.voters)
			return -ESTALE;
		l->prev_voters = 0;
		return 0;
	case CTL_CMD_SWITCHOVER:
		if (c->node != REPL_NODE_NONE && (!is_voter(l, c->node) || c->node == l->primary))
			return -EINVAL;
		l->switch_target = c->node;
		return 0;
	}
	return -EINVAL;
}

int ctl_state_apply(struct ctl_state *s, uint64_t index, const struct ctl_cmd *c)
{
	ASSERT(index > s->applied_index);
	s->applied_index = index;
	int rc;
	if (c->type == CTL_CMD_BOOTSTRAP)
		rc = apply_bootstrap(s, c);
	else if (c->type >= CTL_CMD_NODE_ADD && c->type <= CTL_CMD_NODE_STATE)
		rc = apply_node(s, c);
	else if (c->type >= CTL_CMD_LANE_PREPARE && c->type <= CTL_CMD_SWITCHOVER)
		rc = apply_lane(s, c);
	else
		rc = -EINVAL;
	if (rc != 0)
		s->rejected++;
	return rc;
}

bool ctl_state_lane_config(const struct ctl_state *s, uint32_t lane, struct repl_config *out)
{
	if (lane >= s->n_lanes)
		return false;
	const struct ctl_lane *l = &s->lanes[lane];
	out->epoch = l->epoch;
	out->primary = l->primary;
	out->members = l->members;
	return l->epoch > 0;
}

/* ---- Wire form: little-endian, fixed fields ---- */

static uint8_t *put(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint64_t get(const uint8_t **p, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)(*p)[i] << (8 * i);
	*p += bytes;
	return v;
}

#define CMD_BYTES 40
#define CMD_ADDR_BYTES (2 * CTL_ADDR_BYTES)

ssize_t ctl_cmd_encode(const struct ctl_cmd *c, uint8_t *buf, size_t cap)
{
	size_t n = CMD_BYTES + (c->type == CTL_CMD_NODE_ADD ? CMD_ADDR_BYTES : 0);
	if (c->type < CTL_CMD_BOOTSTRAP || c->type > CTL_CMD_SWITCHOVER)
		return -EINVAL;
	if (cap < n)
		return -EMSGSIZE;
	uint8_t *p = buf;
	p = put(p, CTL_WIRE_VERSION, 1);
	p = put(p, c->type, 1);
	p = put(p, c->node, 1);
	p = put(p, c->node_state, 1);
	p = put(p, c->lane, 4);
	p = put(p, c->epoch, 8);
	p = put(p, c->members.voters, 8);
	p = put(p, c->members.learners, 8);
	p = put(p, c->n_lanes, 4);
	p = put(p, 0, 4);
	if (c->type == CTL_CMD_NODE_ADD) {
		memcpy(p, c->mgmt_addr, CTL_ADDR_BYTES);
		memcpy(p + CTL_ADDR_BYTES, c->repl_addr, CTL_ADDR_BYTES);
		p += CMD_ADDR_BYTES;
	}
	return p - buf;
}

int ctl_cmd_decode(const uint8_t *buf, size_t len, struct ctl_cmd *c)
{
	memset(c, 0, sizeof(*c));
	if (len < CMD_BYTES)
		return -EBADMSG;
	if (buf[0] != CTL_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	const uint8_t *p = buf + 1;
	c->type = (uint8_t)get(&p, 1);
	c->node = (uint8_t)get(&p, 1);
	c->node_state = (uint8_t)get(&p, 1);
	c->lane = (uint32_t)get(&p, 4);
	c->epoch = get(&p, 8);
	c->members.voters = get(&p, 8);
	c->members.learners = get(&p, 8);
	c->n_lanes = (uint32_t)get(&p, 4);
	if (get(&p, 4) != 0 || c->type < CTL_CMD_BOOTSTRAP || c->type > CTL_CMD_SWITCHOVER)
		return -EBADMSG;
	size_t want = CMD_BYTES + (c->type == CTL_CMD_NODE_ADD ? CMD_ADDR_BYTES : 0);
	if (len != want)
		return -EBADMSG;
	if (c->type == CTL_CMD_NODE_ADD) {
		memcpy(c->mgmt_addr, p, CTL_ADDR_BYTES);
		memcpy(c->repl_addr, p + CTL_ADDR_BYTES, CTL_ADDR_BYTES);
		if (c->mgmt_addr[CTL_ADDR_BYTES - 1] || c->repl_addr[CTL_ADDR_BYTES - 1])
			return -EBADMSG; /* addresses are NUL-terminated strings */
	}
	return 0;
}

/* ---- Snapshots of the state ---- */

#define STATE_HDR_BYTES 24
#define NODE_BYTES (1 + 2 * CTL_ADDR_BYTES)
#define LANE_BYTES 44

size_t ctl_state_encoded_bytes(const struct ctl_state *s)
{
	return STATE_HDR_BYTES + CTL_NODES_MAX * NODE_BYTES + (size_t)s->n_lanes * LANE_BYTES;
}

ssize_t ctl_state_encode(const struct ctl_state *s, uint8_t *buf, size_t cap)
{
	size_t n = ctl_state_encoded_bytes(s);
	if (cap < n)
		return -EMSGSIZE;
	uint8_t *p = put(buf, CTL_WIRE_VERSION, 4);
	p = put(p, s->n_lanes, 4);
	p = put(p, s->applied_index, 8);
	p = put(p, s->rejected, 8);
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		p = put(p, s->nodes[i].state, 1);
		memcpy(p, s->nodes[i].mgmt_addr, CTL_ADDR_BYTES);
		memcpy(p + CTL_ADDR_BYTES, s->nodes[i].repl_addr, CTL_ADDR_BYTES);
		p += 2 * CTL_ADDR_BYTES;
	}
	for (uint32_t k = 0; k < s->n_lanes; k++) {
		const struct ctl_lane *l = &s->lanes[k];
		p = put(p, l->epoch, 8);
		p = put(p, l->primary, 1);
		p = put(p, l->prep_target, 1);
		p = put(p, l->switch_target, 1);
		p = put(p, 0, 1);
		p = put(p, l->members.voters, 8);
		p = put(p, l->members.learners, 8);
		p = put(p, l->prep_epoch, 8);
		p = put(p, l->prev_voters, 8);
	}
	ASSERT((size_t)(p - buf) == n);
	return p - buf;
}

static bool node_id_ok(uint8_t id)
{
	return id < CTL_NODES_MAX || id == REPL_NODE_NONE;
}

int ctl_state_decode(const uint8_t *buf, size_t len, struct ctl_state *s)
{
	if (len < STATE_HDR_BYTES)
		return -EBADMSG;
	const uint8_t *p = buf;
	if (get(&p, 4) != CTL_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	uint64_t n_lanes = get(&p, 4);
	if (n_lanes > CTL_LANES_MAX ||
	    len != STATE_HDR_BYTES + CTL_NODES_MAX * NODE_BYTES + n_lanes * LANE_BYTES)
		return -EBADMSG;
	ctl_state_init(s);
	s->n_lanes = (uint32_t)n_lanes;
	s->applied_index = get(&p, 8);
	s->rejected = get(&p, 8);
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		s->nodes[i].state = (uint8_t)get(&p, 1);
		memcpy(s->nodes[i].mgmt_addr, p, CTL_ADDR_BYTES);
		memcpy(s->nodes[i].repl_addr, p + CTL_ADDR_BYTES, CTL_ADDR_BYTES);
		p += 2 * CTL_ADDR_BYTES;
		if (s->nodes[i].state > CTL_NODE_LEAVING || s->nodes[i].mgmt_addr[CTL_ADDR_BYTES - 1] ||
		    s->nodes[i].repl_addr[CTL_ADDR_BYTES - 1])
			return -EBADMSG;
	}
	for (uint32_t k = 0; k < s->n_lanes; k++) {
		struct ctl_lane *l = &s->lanes[k];
		l->epoch = get(&p, 8);
		l->primary = (uint8_t)get(&p, 1);
		l->prep_target = (uint8_t)get(&p, 1);
		l->switch_target = (uint8_t)get(&p, 1);
		uint64_t pad = get(&p, 1);
		l->members.voters = get(&p, 8);
		l->members.learners = get(&p, 8);
		l->prep_epoch = get(&p, 8);
		l->prev_voters = get(&p, 8);
		if (pad || !node_id_ok(l->primary) || !node_id_ok(l->prep_target) ||
		    !node_id_ok(l->switch_target) || (l->members.voters & l->members.learners))
			return -EBADMSG;
	}
	return 0;
}
