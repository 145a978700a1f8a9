/* Reassembly of multi-fragment messages with bounded memory: a fixed table of messages in
 * reassembly, a fixed pool of fragment references, one contiguous output buffer, all
 * allocated at creation. Lookup is by (source node, lane, message id) in the source's short
 * list; ages are kept in one list, oldest first, for eviction and timeouts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_COMPONENT "reasm"
#include "base/crc.h"
#include "base/list.h"
#include "base/log.h"
#include "frame/reasm.h"

#define REASM_BITMAP_WORDS ((FRAME_FRAGS_MAX + 63) / 64)
#define REASM_NONE UINT32_MAX
#define REASM_MSGS_LIMIT (1u << 20)     /* sanity bounds on the configuration */
#define REASM_FRAMES_LIMIT (1u << 24)

struct reasm_frag {
	const uint8_t *data;
	void *token;
	uint32_t offset;
	uint32_t next;      /* next fragment of the same message, or the next free one */
	uint16_t len;
};

struct reasm_msg {
	struct list_node peer_node; /* on its source's list, oldest first */
	struct list_node age_node;  /* on the age list, oldest first; or on the free list */
	uint64_t msg_id;
	uint64_t created_ns;
	uint32_t msg_len;
	uint32_t msg_crc;
	uint32_t stride;
	uint32_t frags_head;
	uint16_t src_node;
	uint16_t lane;
	uint16_t frag_count;
	uint16_t frags_have;
	uint64_t bitmap[REASM_BITMAP_WORDS];
};

struct reasm_recent {
	uint64_t msg_id;
	uint32_t lane_plus_1; /* 0: an empty slot */
};

struct reasm_peer {
	struct list_node msgs;
	uint32_t count;
	uint32_t recent_next;
	struct reasm_recent recent[FRAME_REASM_RECENT];
};

struct frame_reasm {
	struct frame_reasm_config cfg;
	struct frame_reasm_stats stats;
	struct list_node age;
	struct list_node free_msgs;
	struct reasm_msg *msgs;
	struct reasm_frag *frags;
	uint32_t frags_free;
	uint32_t frames_reserved;
	uint8_t *out;
	size_t out_bytes;
	bool delivering;
	struct reasm_peer peers[FRAME_NODES_MAX];
};

static int reasm_config_fill(struct frame_reasm_config *c)
{
	if (c->msgs_max == 0)
		c->msgs_max = FRAME_REASM_MSGS_DEFAULT;
	if (c->msgs_per_peer_max == 0)
		c->msgs_per_peer_max = MIN(c->msgs_max, FRAME_REASM_MSGS_PER_PEER_DEFAULT);
	if (c->bytes_max == 0)
		c->bytes_max = FRAME_REASM_BYTES_DEFAULT;
	if (c->frames_max == 0)
		c->frames_max = FRAME_REASM_FRAMES_DEFAULT;
	if (c->timeout_ns == 0)
		c->timeout_ns = FRAME_REASM_TIMEOUT_NS_DEFAULT;
	if (c->release == NULL || c->msgs_max > REASM_MSGS_LIMIT ||
	    c->msgs_per_peer_max > c->msgs_max || c->frames_max > REASM_FRAMES_LIMIT ||
	    c->frames_max < 2)
		return -EINVAL;
	return 0;
}

struct frame_reasm *frame_reasm_create(const struct frame_reasm_config *cfg)
{
	struct frame_reasm_config c = *cfg;
	if (reasm_config_fill(&c) != 0) {
		LOG_ERROR("bad configuration: msgs_max=%u per_peer=%u frames_max=%u",
			  c.msgs_max, c.msgs_per_peer_max, c.frames_max);
		return NULL;
	}
	struct frame_reasm *r = calloc(1, sizeof(*r));
	if (r == NULL)
		goto nomem;
	r->cfg = c;
	r->out_bytes = (size_t)MIN(c.bytes_max, (uint64_t)FRAME_MSG_BYTES_MAX);
	r->msgs = calloc(c.msgs_max, sizeof(*r->msgs));
	r->frags = calloc(c.frames_max, sizeof(*r->frags));
	r->out = malloc(MAX(r->out_bytes, (size_t)1));
	if (r->msgs == NULL || r->frags == NULL || r->out == NULL)
		goto nomem;
	list_init(&r->age);
	list_init(&r->free_msgs);
	for (uint32_t i = 0; i < c.msgs_max; i++)
		list_push_back(&r->free_msgs, &r->msgs[i].age_node);
	for (uint32_t i = 0; i < c.frames_max; i++)
		r->frags[i].next = i + 1 < c.frames_max ? i + 1 : REASM_NONE;
	r->frags_free = 0;
	for (unsigned p = 0; p < FRAME_NODES_MAX; p++)
		list_init(&r->peers[p].msgs);
	return r;
nomem:
	LOG_ERROR("out of memory for %u messages and %u frames", c.msgs_max, c.frames_max);
	frame_reasm_destroy(r);
	return NULL;
}

/* Releases a message's frames and returns its slot to the free list. */
static void reasm_msg_free(struct frame_reasm *r, struct reasm_msg *m)
{
	uint32_t i = m->frags_head;
	while (i != REASM_NONE) {
		struct reasm_frag *f = &r->frags[i];
		uint32_t next = f->next;
		r->cfg.release(r->cfg.release_ctx, f->token);
		f->token = NULL;
		f->next = r->frags_free;
		r->frags_free = i;
		i = next;
		r->stats.frames_held--;
	}
	ASSERT(r->stats.bytes_reserved >= m->msg_len && r->frames_reserved >= m->frag_count);
	r->stats.bytes_reserved -= m->msg_len;
	r->frames_reserved -= m->frag_count;
	r->stats.msgs_held--;
	r->peers[m->src_node].count--;
	list_unlink(&m->peer_node);
	list_unlink(&m->age_node);
	list_push_back(&r->free_msgs, &m->age_node);
}

void frame_reasm_destroy(struct frame_reasm *r)
{
	if (r == NULL)
		return;
	if (r->msgs != NULL && r->frags != NULL) {
		while (!list_empty(&r->age))
			reasm_msg_free(r, list_entry(r->age.next, struct reasm_msg, age_node));
	}
	free(r->out);
	free(r->frags);
	free(r->msgs);
	free(r);
}

/* The sender's stride, as the fragment's header shows it (frame_hdr_decode checked it). */
static uint32_t reasm_stride(const struct frame_hdr *h)
{
	return h->frag_index == 0 ? h->frag_len : h->frag_offset / h->frag_index;
}

static struct reasm_msg *reasm_msg_find(struct frame_reasm *r, const struct frame_hdr *h)
{
	struct list_node *n;
	list_for_each(n, &r->peers[h->src_node].msgs) {
		struct reasm_msg *m = list_entry(n, struct reasm_msg, peer_node);
		if (m->msg_id == h->msg_id && m->lane == h->lane)
			return m;
	}
	return NULL;
}

static bool reasm_recent_has(const struct reasm_peer *p, const struct frame_hdr *h)
{
	for (unsigned i = 0; i < FRAME_REASM_RECENT; i++) {
		if (p->recent[i].lane_plus_1 == h->lane + 1u && p->recent[i].msg_id == h->msg_id)
			return true;
	}
	return false;
}

static void reasm_recent_add(struct reasm_peer *p, const struct reasm_msg *m)
{
	p->recent[p->recent_next] = (struct reasm_recent){
		.msg_id = m->msg_id, .lane_plus_1 = m->lane + 1u };
	p->recent_next = (p->recent_next + 1) % FRAME_REASM_RECENT;
}

static bool reasm_fits(const struct frame_reasm *r, const struct frame_hdr *h)
{
	return !list_empty(&r->free_msgs) &&
	       r->stats.bytes_reserved + h->msg_len <= r->cfg.bytes_max &&
	       r->frames_reserved + (uint64_t)h->frag_count <= r->cfg.frames_max;
}

/* Makes room for a new message by evicting the oldest incomplete ones, of its own source
 * first, and starts it. Returns NULL (having counted it) if it can never fit. */
static struct reasm_msg *reasm_msg_start(struct frame_reasm *r, const struct frame_hdr *h,
					 uint64_t now_ns, unsigned *dropped)
{
	struct reasm_peer *p = &r->peers[h->src_node];
	if (h->msg_len > r->out_bytes || h->msg_len > r->cfg.bytes_max ||
	    h->frag_count > r->cfg.frames_max) {
		r->stats.msgs_too_big++;
		(*dropped)++;
		return NULL;
	}
	while (p->count >= r->cfg.msgs_per_peer_max) {
		reasm_msg_free(r, list_entry(p->msgs.next, struct reasm_msg, peer_node));
		r->stats.msgs_evicted++;
		(*dropped)++;
	}
	while (!reasm_fits(r, h)) {
		ASSERT(!list_empty(&r->age));
		reasm_msg_free(r, list_entry(r->age.next, struct reasm_msg, age_node));
		r->stats.msgs_evicted++;
		(*dropped)++;
	}
	struct reasm_msg *m = list_entry(r->free_msgs.next, struct reasm_msg, age_node);
	list_unlink(&m->age_node);
	m->msg_id = h->msg_id;
	m->created_ns = now_ns;
	m->msg_len = h->msg_len;
	m->msg_crc = h->msg_crc;
	m->stride = reasm_stride(h);
	m->frags_head = REASM_NONE;
	m->src_node = h->src_node;
	m->lane = h->lane;
	m->frag_count = h->frag_count;
	m->frags_have = 0;
	memset(m->bitmap, 0, ((h->frag_count + 63u) / 64) * sizeof(m->bitmap[0]));
	list_push_back(&p->msgs, &m->peer_node);
	list_push_back(&r->age, &m->age_node);
	p->count++;
	r->stats.msgs_held++;
	r->stats.bytes_reserved += m->msg_len;
	r->frames_reserved += m->frag_count;
	return m;
}

static bool reasm_msg_agrees(const struct reasm_msg *m, const struct frame_hdr *h)
{
	return m->msg_len == h->msg_len && m->frag_count == h->frag_count &&
	       m->msg_crc == h->msg_crc && m->stride == reasm_stride(h);
}

/* Copies the fragments into place, checks the message CRC and delivers it. */
static unsigned reasm_msg_complete(struct frame_reasm *r, struct reasm_msg *m,
				   frame_reasm_deliver_fn deliver, void *ctx)
{
	ASSERT(m->frags_have == m->frag_count && m->msg_len <= r->out_bytes);
	for (uint32_t i = m->frags_head; i != REASM_NONE; i = r->frags[i].next) {
		const struct reasm_frag *f = &r->frags[i];
		ASSERT((uint64_t)f->offset + f->len <= m->msg_len);
		memcpy(r->out + f->offset, f->data, f->len);
	}
	bool intact = crc32c(r->out, m->msg_len) == m->msg_crc;
	uint16_t src = m->src_node, lane = m->lane;
	uint32_t len = m->msg_len;
	reasm_recent_add(&r->peers[src], m);
	reasm_msg_free(r, m);
	if (!intact) {
		r->stats.msgs_inconsistent++;
		return 1;
	}
	r->stats.msgs_done++;
	r->delivering = true;
	deliver(ctx, src, lane, r->out, len);
	r->delivering = false;
	return 0;
}

unsigned frame_reasm_add(struct frame_reasm *r, const struct frame_hdr *h, const uint8_t *payload,
			 void *token, uint64_t now_ns, frame_reasm_deliver_fn deliver, void *ctx)
{
	ASSERT(!r->delivering);
	ASSERT(h->frag_count > 1 && h->frag_index < h->frag_count && h->src_node < FRAME_NODES_MAX);
	unsigned dropped = 0;
	struct reasm_msg *m = reasm_msg_find(r, h);
	if (m != NULL && !reasm_msg_agrees(m, h)) {
		reasm_msg_free(r, m);
		r->stats.msgs_inconsistent++;
		r->cfg.release(r->cfg.release_ctx, token);
		return 1;
	}
	if (m == NULL) {
		if (reasm_recent_has(&r->peers[h->src_node], h)) {
			r->stats.frags_late++;
			r->cfg.release(r->cfg.release_ctx, token);
			return 0;
		}
		m = reasm_msg_start(r, h, now_ns, &dropped);
		if (m == NULL) {
			r->cfg.release(r->cfg.release_ctx, token);
			return dropped;
		}
	}
	uint64_t bit = 1ull << (h->frag_index % 64);
	if (m->bitmap[h->frag_index / 64] & bit) {
		r->stats.frags_dup++;
		r->cfg.release(r->cfg.release_ctx, token);
		return dropped;
	}
	m->bitmap[h->frag_index / 64] |= bit;
	uint32_t i = r->frags_free;
	ASSERT(i != REASM_NONE); /* reserved when the message started */
	struct reasm_frag *f = &r->frags[i];
	r->frags_free = f->next;
	*f = (struct reasm_frag){ .data = payload, .token = token, .offset = h->frag_offset,
				  .len = h->frag_len, .next = m->frags_head };
	m->frags_head = i;
	m->frags_have++;
	r->stats.frames_held++;
	if (m->frags_have == m->frag_count)
		dropped += reasm_msg_complete(r, m, deliver, ctx);
	return dropped;
}

unsigned frame_reasm_expire(struct frame_reasm *r, uint64_t now_ns)
{
	ASSERT(!r->delivering);
	unsigned dropped = 0;
	while (!list_empty(&r->age)) {
		struct reasm_msg *m = list_entry(r->age.next, struct reasm_msg, age_node);
		if (now_ns < m->created_ns || now_ns - m->created_ns < r->cfg.timeout_ns)
			break;
		reasm_msg_free(r, m);
		r->stats.msgs_timeout++;
		dropped++;
	}
	return dropped;
}

unsigned frame_reasm_peer_drop(struct frame_reasm *r, uint16_t src_node)
{
	ASSERT(src_node < FRAME_NODES_MAX && !r->delivering);
	struct reasm_peer *p = &r->peers[src_node];
	unsigned dropped = 0;
	while (!list_empty(&p->msgs)) {
		reasm_msg_free(r, list_entry(p->msgs.next, struct reasm_msg, peer_node));
		r->stats.msgs_evicted++;
		dropped++;
	}
	memset(p->recent, 0, sizeof(p->recent));
	return dropped;
}

void frame_reasm_stats_get(const struct frame_reasm *r, struct frame_reasm_stats *out)
{
	*out = r->stats;
}
