/* The wire form of the replication messages: little-endian, versioned, every length checked
 * against the buffer before it is used, entry payloads and snapshot data left in place
 * (zero copy). The transports (DPDK, UDP) and the control plane's network carry these bytes
 * as opaque messages.
 *
 *   header   u8 version, u8 type, u8 src, u8 dst, u32 reserved (0), u64 epoch      16 bytes
 *   APPEND   u64 prev_index, prev_epoch, commit_index, seq, u32 n_entries, u32 0   40 bytes
 *            then per entry: u64 epoch, u8 type, u8[3] 0, u32 len, payload         16 + len
 *   ACK      u8 status, u8[7] 0, u64 match, last, hint, reject_index, seq          48 bytes
 *   SNAPSHOT u64 index, epoch, total_bytes, voters, learners, offset, u32 len,
 *            u8 last, u8[3] 0, then len bytes of data                              56 + len
 *   SNAPSHOT_ACK u64 snap_index, snap_epoch, next_offset                           24 bytes
 *   VOTE     u8 pre_vote, u8[7] 0, u64 last_index, last_epoch                      24 bytes
 *   VOTE_REPLY u8 pre_vote, u8 granted, u8[6] 0                                     8 bytes
 */
#include "repl/repl.h"

#include <errno.h>
#include <string.h>

#define HDR_BYTES 16
#define APPEND_BYTES 40
#define ENTRY_HDR_BYTES 16
#define ACK_BYTES 48
#define SNAPSHOT_BYTES 56
#define SNAPSHOT_ACK_BYTES 24
#define VOTE_BYTES 24
#define VOTE_REPLY_BYTES 8

/* ---- Byte helpers: a cursor that never runs past its end ---- */

struct cur {
	uint8_t *p;
	const uint8_t *rp;
	size_t left;
	bool bad;
};

static void put8(struct cur *c, uint8_t v)
{
	*c->p++ = v;
}

static void put32(struct cur *c, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		*c->p++ = (uint8_t)(v >> (8 * i));
}

static void put64(struct cur *c, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		*c->p++ = (uint8_t)(v >> (8 * i));
}

static void putz(struct cur *c, unsigned n)
{
	memset(c->p, 0, n);
	c->p += n;
}

static bool need(struct cur *c, size_t n)
{
	if (c->bad || c->left < n) {
		c->bad = true;
		return false;
	}
	c->left -= n;
	return true;
}

static uint8_t get8(struct cur *c)
{
	return need(c, 1) ? *c->rp++ : 0;
}

static uint32_t get32(struct cur *c)
{
	if (!need(c, 4))
		return 0;
	uint32_t v = 0;
	for (unsigned i = 0; i < 4; i++)
		v |= (uint32_t)*c->rp++ << (8 * i);
	return v;
}

static uint64_t get64(struct cur *c)
{
	if (!need(c, 8))
		return 0;
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)*c->rp++ << (8 * i);
	return v;
}

/* Reserved bytes must be zero, so that they can be given a meaning later. */
static void getz(struct cur *c, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (get8(c) != 0)
			c->bad = true;
}

static bool get_bool(struct cur *c)
{
	uint8_t v = get8(c);
	if (v > 1)
		c->bad = true;
	return v == 1;
}

/* ---- Sizes ---- */

size_t repl_msg_encoded_bytes(const struct repl_msg *m)
{
	switch (m->type) {
	case REPL_MSG_APPEND: {
		size_t n = HDR_BYTES + APPEND_BYTES;
		for (uint32_t i = 0; i < m->append.n_entries; i++)
			n += ENTRY_HDR_BYTES + m->append.entries[i].len;
		return n;
	}
	case REPL_MSG_ACK:
		return HDR_BYTES + ACK_BYTES;
	case REPL_MSG_SNAPSHOT:
		return HDR_BYTES + SNAPSHOT_BYTES + m->snapshot.len;
	case REPL_MSG_SNAPSHOT_ACK:
		return HDR_BYTES + SNAPSHOT_ACK_BYTES;
	case REPL_MSG_VOTE:
		return HDR_BYTES + VOTE_BYTES;
	case REPL_MSG_VOTE_REPLY:
		return HDR_BYTES + VOTE_REPLY_BYTES;
	}
	return 0;
}

static bool encodable(const struct repl_msg *m)
{
	if (m->type < REPL_MSG_APPEND || m->type > REPL_MSG_TYPE_MAX ||
	    m->src >= REPL_NODES_MAX || m->dst >= REPL_NODES_MAX)
		return false;
	if (m->type == REPL_MSG_APPEND) {
		if (m->append.n_entries > REPL_MSG_ENTRIES_MAX)
			return false;
		for (uint32_t i = 0; i < m->append.n_entries; i++) {
			const struct repl_entry *e = &m->append.entries[i];
			if (e->len > REPL_ENTRY_BYTES_MAX || e->type < REPL_ENTRY_NOOP ||
			    e->type > REPL_ENTRY_CONFIG)
				return false;
		}
	}
	if (m->type == REPL_MSG_SNAPSHOT && m->snapshot.len > REPL_SNAPSHOT_CHUNK_BYTES_MAX)
		return false;
	return true;
}

/* ---- Encoding ---- */

static void encode_append(struct cur *c, const struct repl_msg_append *a)
{
	put64(c, a->prev_index);
	put64(c, a->prev_epoch);
	put64(c, a->commit_index);
	put64(c, a->seq);
	put32(c, a->n_entries);
	put32(c, 0);
	for (uint32_t i = 0; i < a->n_entries; i++) {
		const struct repl_entry *e = &a->entries[i];
		put64(c, e->epoch);
		put8(c, e->type);
		putz(c, 3);
		put32(c, e->len);
		if (e->len)
			memcpy(c->p, e->payload, e->len);
		c->p += e->len;
	}
}

static void encode_body(struct cur *c, const struct repl_msg *m)
{
	switch (m->type) {
	case REPL_MSG_APPEND:
		encode_append(c, &m->append);
		break;
	case REPL_MSG_ACK:
		put8(c, m->ack.status);
		putz(c, 7);
		put64(c, m->ack.match_index);
		put64(c, m->ack.last_index);
		put64(c, m->ack.hint_index);
		put64(c, m->ack.reject_index);
		put64(c, m->ack.seq);
		break;
	case REPL_MSG_SNAPSHOT:
		put64(c, m->snapshot.meta.index);
		put64(c, m->snapshot.meta.epoch);
		put64(c, m->snapshot.meta.total_bytes);
		put64(c, m->snapshot.meta.members.voters);
		put64(c, m->snapshot.meta.members.learners);
		put64(c, m->snapshot.offset);
		put32(c, m->snapshot.len);
		put8(c, m->snapshot.last ? 1 : 0);
		putz(c, 3);
		if (m->snapshot.len)
			memcpy(c->p, m->snapshot.data, m->snapshot.len);
		c->p += m->snapshot.len;
		break;
	case REPL_MSG_SNAPSHOT_ACK:
		put64(c, m->snapshot_ack.snap_index);
		put64(c, m->snapshot_ack.snap_epoch);
		put64(c, m->snapshot_ack.next_offset);
		break;
	case REPL_MSG_VOTE:
		put8(c, m->vote.pre_vote ? 1 : 0);
		putz(c, 7);
		put64(c, m->vote.last_index);
		put64(c, m->vote.last_epoch);
		break;
	case REPL_MSG_VOTE_REPLY:
		put8(c, m->vote_reply.pre_vote ? 1 : 0);
		put8(c, m->vote_reply.granted ? 1 : 0);
		putz(c, 6);
		break;
	}
}

ssize_t repl_msg_encode(const struct repl_msg *m, uint8_t *buf, size_t cap)
{
	if (!encodable(m))
		return -EINVAL;
	size_t n = repl_msg_encoded_bytes(m);
	if (n > REPL_MSG_BYTES_MAX)
		return -EINVAL;
	if (n > cap)
		return -EMSGSIZE;
	struct cur c = { .p = buf };
	put8(&c, REPL_WIRE_VERSION);
	put8(&c, m->type);
	put8(&c, m->src);
	put8(&c, m->dst);
	put32(&c, 0);
	put64(&c, m->epoch);
	encode_body(&c, m);
	return (ssize_t)(c.p - buf);
}

/* ---- Decoding ---- */

static void decode_append(struct cur *c, struct repl_msg_append *a, struct repl_entry *entries,
			  unsigned entries_cap)
{
	a->prev_index = get64(c);
	a->prev_epoch = get64(c);
	a->commit_index = get64(c);
	a->seq = get64(c);
	a->n_entries = get32(c);
	getz(c, 4);
	a->entries = entries;
	if (c->bad || a->n_entries > REPL_MSG_ENTRIES_MAX || a->n_entries > entries_cap ||
	    a->prev_index > UINT64_MAX - a->n_entries) {
		c->bad = true;
		return;
	}
	for (uint32_t i = 0; i < a->n_entries && !c->bad; i++) {
		struct repl_entry *e = &entries[i];
		e->index = a->prev_index + 1 + i;
		e->epoch = get64(c);
		e->type = get8(c);
		getz(c, 3);
		e->len = get32(c);
		if (e->type < REPL_ENTRY_NOOP || e->type > REPL_ENTRY_CONFIG ||
		    e->len > REPL_ENTRY_BYTES_MAX || !need(c, e->len)) {
			c->bad = true;
			return;
		}
		e->payload = c->rp;
		c->rp += e->len;
	}
}

static void decode_snapshot(struct cur *c, struct repl_msg_snapshot *s)
{
	s->meta.index = get64(c);
	s->meta.epoch = get64(c);
	s->meta.total_bytes = get64(c);
	s->meta.members.voters = get64(c);
	s->meta.members.learners = get64(c);
	s->offset = get64(c);
	s->len = get32(c);
	s->last = get_bool(c);
	getz(c, 3);
	if (c->bad || s->len > REPL_SNAPSHOT_CHUNK_BYTES_MAX || !need(c, s->len) ||
	    s->offset > s->meta.total_bytes || s->len > s->meta.total_bytes - s->offset ||
	    s->last != (s->offset + s->len == s->meta.total_bytes)) {
		c->bad = true;
		return;
	}
	s->data = c->rp;
	c->rp += s->len;
}

static void decode_body(struct cur *c, struct repl_msg *m, struct repl_entry *entries,
			unsigned entries_cap)
{
	switch (m->type) {
	case REPL_MSG_APPEND:
		decode_append(c, &m->append, entries, entries_cap);
		break;
	case REPL_MSG_ACK:
		m->ack.status = get8(c);
		getz(c, 7);
		m->ack.match_index = get64(c);
		m->ack.last_index = get64(c);
		m->ack.hint_index = get64(c);
		m->ack.reject_index = get64(c);
		m->ack.seq = get64(c);
		if (m->ack.status > REPL_ACK_STALE)
			c->bad = true;
		break;
	case REPL_MSG_SNAPSHOT:
		decode_snapshot(c, &m->snapshot);
		break;
	case REPL_MSG_SNAPSHOT_ACK:
		m->snapshot_ack.snap_index = get64(c);
		m->snapshot_ack.snap_epoch = get64(c);
		m->snapshot_ack.next_offset = get64(c);
		break;
	case REPL_MSG_VOTE:
		m->vote.pre_vote = get_bool(c);
		getz(c, 7);
		m->vote.last_index = get64(c);
		m->vote.last_epoch = get64(c);
		break;
	case REPL_MSG_VOTE_REPLY:
		m->vote_reply.pre_vote = get_bool(c);
		m->vote_reply.granted = get_bool(c);
		getz(c, 6);
		break;
	default:
		c->bad = true;
	}
}

int repl_msg_decode(const uint8_t *buf, size_t len, struct repl_msg *m,
		    struct repl_entry *entries, unsigned entries_cap)
{
	memset(m, 0, sizeof(*m));
	if (len < HDR_BYTES)
		return -EBADMSG;
	if (buf[0] != REPL_WIRE_VERSION)
		return -EPROTONOSUPPORT;
	struct cur c = { .rp = buf + 1, .left = len - 1 };
	m->type = get8(&c);
	m->src = get8(&c);
	m->dst = get8(&c);
	getz(&c, 4);
	m->epoch = get64(&c);
	if (m->src >= REPL_NODES_MAX || m->dst >= REPL_NODES_MAX)
		return -EBADMSG;
	decode_body(&c, m, entries, entries_cap);
	if (c.bad || c.left != 0)
		return -EBADMSG;
	return 0;
}

const char *repl_msg_type_name(unsigned type)
{
	static const char *const names[] = { "?", "APPEND", "ACK", "SNAPSHOT", "SNAPSHOT_ACK",
					     "VOTE", "VOTE_REPLY" };
	return type <= REPL_MSG_TYPE_MAX ? names[type] : "?";
}
