/* spindle-control's wire forms (see wire.h): management datagrams, the dataplane link's
 * length-prefixed framing, and the leader's view. Every length and count is checked against
 * the bytes at hand before use. */
#include "daemon/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc.h"
#include "base/panic.h"

#define DGRAM_MAGIC 0x54435053u /* "SPCT" read little-endian */
#define DGRAM_CRC_OFFSET 20
#define VIEW_HDR_BYTES 96
#define VIEW_NODE_BYTES 24
#define VIEW_LANE_BYTES 16

static void put(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- Datagrams ---- */

ssize_t ctld_dgram_encode(const struct ctld_dgram *d, uint8_t *buf, size_t cap)
{
	ASSERT(d->kind >= CTLD_KIND_RAFT && d->kind <= CTLD_KIND_MAX);
	size_t n = CTLD_DGRAM_HDR_BYTES + (size_t)d->len;
	if (d->len > CTLD_DGRAM_PAYLOAD_MAX || n > cap)
		return -EMSGSIZE;
	memset(buf, 0, CTLD_DGRAM_HDR_BYTES);
	put(buf, DGRAM_MAGIC, 4);
	buf[4] = CTLD_WIRE_VERSION;
	buf[5] = d->kind;
	put(buf + 8, d->cluster_id, 4);
	buf[12] = d->src;
	buf[13] = d->dst;
	put(buf + 16, d->len, 4);
	if (d->len > 0)
		memmove(buf + CTLD_DGRAM_HDR_BYTES, d->payload, d->len);
	uint32_t crc = crc32c_extend(crc32c(buf, DGRAM_CRC_OFFSET), buf + CTLD_DGRAM_HDR_BYTES, d->len);
	put(buf + DGRAM_CRC_OFFSET, crc, 4);
	return (ssize_t)n;
}

int ctld_dgram_decode(const uint8_t *buf, size_t len, uint32_t cluster_id, unsigned self,
		      struct ctld_dgram *out)
{
	memset(out, 0, sizeof(*out));
	if (len < CTLD_DGRAM_HDR_BYTES)
		return -EBADMSG;
	if (get(buf, 4) != DGRAM_MAGIC)
		return -EBADMSG;
	if (buf[4] != CTLD_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	uint64_t plen = get(buf + 16, 4);
	if (plen != len - CTLD_DGRAM_HDR_BYTES || get(buf + 6, 2) != 0 || get(buf + 14, 2) != 0)
		return -EBADMSG;
	uint32_t crc = crc32c_extend(crc32c(buf, DGRAM_CRC_OFFSET), buf + CTLD_DGRAM_HDR_BYTES, plen);
	if (crc != get(buf + DGRAM_CRC_OFFSET, 4))
		return -EBADMSG;
	out->kind = buf[5];
	out->cluster_id = (uint32_t)get(buf + 8, 4);
	out->src = buf[12];
	out->dst = buf[13];
	out->payload = buf + CTLD_DGRAM_HDR_BYTES;
	out->len = (uint32_t)plen;
	if (out->kind < CTLD_KIND_RAFT || out->kind > CTLD_KIND_MAX || out->src >= CTL_NODES_MAX ||
	    out->src == out->dst)
		return -EBADMSG;
	if (out->cluster_id != cluster_id)
		return -EXDEV;
	if (out->dst != self)
		return -EDESTADDRREQ;
	return 0;
}

/* ---- The dataplane link ---- */

ssize_t ctld_link_frame_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap)
{
	if (cap < CTLD_LINK_LEN_BYTES)
		return -EMSGSIZE;
	ssize_t n = ctl_msg_encode(m, buf + CTLD_LINK_LEN_BYTES, cap - CTLD_LINK_LEN_BYTES);
	if (n < 0)
		return n;
	put(buf, (uint64_t)n, CTLD_LINK_LEN_BYTES);
	return n + CTLD_LINK_LEN_BYTES;
}

int ctld_framer_init(struct ctld_framer *f, size_t cap)
{
	ASSERT(cap >= CTLD_LINK_FRAME_BYTES_MAX);
	memset(f, 0, sizeof(*f));
	f->buf = malloc(cap);
	if (f->buf == NULL)
		return -ENOMEM;
	f->cap = cap;
	return 0;
}

void ctld_framer_free(struct ctld_framer *f)
{
	free(f->buf);
	f->buf = NULL;
}

void ctld_framer_reset(struct ctld_framer *f)
{
	f->start = f->end = 0;
}

uint8_t *ctld_framer_space(struct ctld_framer *f, size_t *room)
{
	if (f->start > 0) {
		memmove(f->buf, f->buf + f->start, f->end - f->start);
		f->end -= f->start;
		f->start = 0;
	}
	/* A frame is at most CTLD_LINK_FRAME_BYTES_MAX and is taken once whole, so a buffer
	 * that big always has room after compaction. */
	ASSERT(f->end < f->cap);
	*room = f->cap - f->end;
	return f->buf + f->end;
}

void ctld_framer_filled(struct ctld_framer *f, size_t n)
{
	ASSERT(f->end + n <= f->cap);
	f->end += n;
}

int ctld_framer_take(struct ctld_framer *f, const uint8_t **msg, uint32_t *len)
{
	size_t have = f->end - f->start;
	if (have < CTLD_LINK_LEN_BYTES)
		return 0;
	uint64_t n = get(f->buf + f->start, CTLD_LINK_LEN_BYTES);
	if (n > CTL_MSG_BYTES_MAX)
		return -EMSGSIZE;
	if (have < CTLD_LINK_LEN_BYTES + n)
		return 0;
	*msg = f->buf + f->start + CTLD_LINK_LEN_BYTES;
	*len = (uint32_t)n;
	f->start += CTLD_LINK_LEN_BYTES + n;
	return 1;
}

/* ---- The view ---- */

size_t ctld_view_encoded_bytes(const struct ctld_view *v)
{
	return VIEW_HDR_BYTES + (size_t)__builtin_popcountll(v->reporting) * VIEW_NODE_BYTES +
	       (size_t)v->n_lanes * VIEW_LANE_BYTES;
}

ssize_t ctld_view_encode(const struct ctld_view *v, uint8_t *buf, size_t cap)
{
	ASSERT(v->n_lanes <= CTLD_LANES_MAX);
	size_t n = ctld_view_encoded_bytes(v);
	if (n > cap)
		return -EMSGSIZE;
	memset(buf, 0, n);
	uint8_t *p = buf;
	put(p, v->term, 8);
	p[8] = v->leader;
	put(p + 16, v->healthy, 8);
	put(p + 24, v->reporting, 8);
	put(p + 32, v->alive, 8);
	const struct ctl_leader_stats *s = &v->stats;
	uint64_t stats[5] = { s->failovers_started, s->failovers_done, s->switchovers,
			      s->members_changes, s->prepares_sent };
	for (unsigned i = 0; i < 5; i++)
		put(p + 40 + 8 * i, stats[i], 8);
	put(p + 80, (uint64_t)__builtin_popcountll(v->reporting), 4);
	put(p + 84, v->n_lanes, 4);
	p += VIEW_HDR_BYTES;
	for (unsigned i = 0; i < CTL_NODES_MAX; i++) {
		if (!((v->reporting >> i) & 1))
			continue;
		p[0] = (uint8_t)i;
		put(p + 4, v->node[i].report_age_ms, 4);
		put(p + 8, v->node[i].peers_heard, 8);
		put(p + 16, v->node[i].incarnation, 8);
		p += VIEW_NODE_BYTES;
	}
	for (uint32_t k = 0; k < v->n_lanes; k++, p += VIEW_LANE_BYTES) {
		put(p, v->caught_up[k], 8);
		p[8] = v->lane_flags[k];
	}
	ASSERT((size_t)(p - buf) == n);
	return (ssize_t)n;
}

static bool zeros(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

static int view_nodes_decode(const uint8_t *p, uint32_t n_nodes, struct ctld_view *v)
{
	for (uint32_t i = 0; i < n_nodes; i++, p += VIEW_NODE_BYTES) {
		unsigned id = p[0];
		if (id >= CTL_NODES_MAX || ((v->reporting >> id) & 1) || !zeros(p + 1, 3))
			return -EBADMSG;
		v->reporting |= 1ull << id;
		v->node[id].report_age_ms = (uint32_t)get(p + 4, 4);
		v->node[id].peers_heard = get(p + 8, 8);
		v->node[id].incarnation = get(p + 16, 8);
	}
	return 0;
}

int ctld_view_decode(const uint8_t *buf, size_t len, struct ctld_view *v)
{
	memset(v, 0, sizeof(*v));
	if (len < VIEW_HDR_BYTES || !zeros(buf + 9, 7) || !zeros(buf + 88, 8))
		return -EBADMSG;
	uint64_t n_nodes = get(buf + 80, 4), n_lanes = get(buf + 84, 4);
	if (n_nodes > CTL_NODES_MAX || n_lanes > CTLD_LANES_MAX ||
	    len != VIEW_HDR_BYTES + n_nodes * VIEW_NODE_BYTES + n_lanes * VIEW_LANE_BYTES)
		return -EBADMSG;
	v->term = get(buf, 8);
	v->leader = buf[8];
	v->healthy = get(buf + 16, 8);
	uint64_t reporting = get(buf + 24, 8);
	v->alive = get(buf + 32, 8);
	struct ctl_leader_stats *s = &v->stats;
	uint64_t *stats[5] = { &s->failovers_started, &s->failovers_done, &s->switchovers,
			       &s->members_changes, &s->prepares_sent };
	for (unsigned i = 0; i < 5; i++)
		*stats[i] = get(buf + 40 + 8 * i, 8);
	if (v->leader >= CTL_NODES_MAX || view_nodes_decode(buf + VIEW_HDR_BYTES, (uint32_t)n_nodes, v))
		return -EBADMSG;
	if (v->reporting != reporting || (v->alive & ~reporting))
		return -EBADMSG;
	v->n_lanes = (uint32_t)n_lanes;
	const uint8_t *p = buf + VIEW_HDR_BYTES + n_nodes * VIEW_NODE_BYTES;
	for (uint32_t k = 0; k < v->n_lanes; k++, p += VIEW_LANE_BYTES) {
		v->caught_up[k] = get(p, 8);
		v->lane_flags[k] = p[8];
		if (p[8] > 7 || !zeros(p + 9, 7))
			return -EBADMSG;
	}
	return 0;
}
