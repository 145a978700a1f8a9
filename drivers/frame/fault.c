/* The fault model for test builds: a seeded generator deciding each outgoing frame's fate,
 * the text form of the per-peer settings, and the heap that holds delayed frames. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "frame/fault.h"

/* splitmix64: small, fast, and good enough to spread test faults; the same seed replays. */
static uint64_t fault_rand(struct frame_fault *f)
{
	uint64_t z = (f->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static bool fault_chance(struct frame_fault *f, uint32_t ppm)
{
	return ppm != 0 && fault_rand(f) % FRAME_FAULT_PPM < ppm;
}

static bool fault_spec_valid(const struct frame_fault_spec *s)
{
	return s->loss_ppm <= FRAME_FAULT_PPM && s->dup_ppm <= FRAME_FAULT_PPM &&
	       s->reorder_ppm <= FRAME_FAULT_PPM && s->delay_us <= FRAME_FAULT_DELAY_US_MAX &&
	       s->reorder_us <= FRAME_FAULT_DELAY_US_MAX;
}

static void fault_active_update(struct frame_fault *f)
{
	f->active = false;
	for (unsigned p = 0; p < FRAME_NODES_MAX; p++) {
		const struct frame_fault_spec *s = &f->peers[p];
		if (s->loss_ppm || s->dup_ppm || s->reorder_ppm || s->delay_us)
			f->active = true;
	}
}

void frame_fault_init(struct frame_fault *f, uint64_t seed)
{
	memset(f, 0, sizeof(*f));
	f->rng = seed;
}

int frame_fault_set(struct frame_fault *f, unsigned peer, const struct frame_fault_spec *s)
{
	if (peer > FRAME_NODES_MAX || !fault_spec_valid(s))
		return -EINVAL;
	for (unsigned p = 0; p < FRAME_NODES_MAX; p++) {
		if (peer == FRAME_NODES_MAX || p == peer)
			f->peers[p] = *s;
	}
	fault_active_update(f);
	return 0;
}

/* Parses a decimal number of at most max; returns false on anything else. */
static bool fault_number(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	if (len == 0 || len > 20)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Which field of the spec a key names, or NULL. */
static uint32_t *fault_field(struct frame_fault_spec *s, const char *key, size_t len)
{
	static const struct { const char *name; size_t off; } fields[] = {
		{ "loss_ppm", offsetof(struct frame_fault_spec, loss_ppm) },
		{ "dup_ppm", offsetof(struct frame_fault_spec, dup_ppm) },
		{ "reorder_ppm", offsetof(struct frame_fault_spec, reorder_ppm) },
		{ "delay_us", offsetof(struct frame_fault_spec, delay_us) },
		{ "reorder_us", offsetof(struct frame_fault_spec, reorder_us) },
	};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		if (strlen(fields[i].name) == len && memcmp(fields[i].name, key, len) == 0)
			return (uint32_t *)(void *)((char *)s + fields[i].off);
	}
	return NULL;
}

/* Applies one clause, "a=b,c=d" (len bytes at c), to f. */
static int fault_clause_apply(struct frame_fault *f, const char *c, size_t len)
{
	if (len == 3 && memcmp(c, "off", 3) == 0) {
		memset(f->peers, 0, sizeof(f->peers));
		return 0;
	}
	unsigned peer = FRAME_NODES_MAX; /* every peer unless peer= says otherwise */
	struct frame_fault_spec set = { 0 }, mask = { 0 };
	for (size_t i = 0; i < len;) {
		size_t end = i;
		while (end < len && c[end] != ',')
			end++;
		const char *eq = memchr(c + i, '=', end - i);
		if (eq == NULL)
			return -EINVAL;
		size_t klen = (size_t)(eq - (c + i));
		const char *val = eq + 1;
		size_t vlen = (size_t)(c + end - val);
		uint64_t v;
		uint32_t *field;
		if (klen == 4 && memcmp(c + i, "seed", 4) == 0) {
			if (!fault_number(val, vlen, UINT64_MAX, &v))
				return -EINVAL;
			f->rng = v;
		} else if (klen == 4 && memcmp(c + i, "peer", 4) == 0) {
			if (vlen == 1 && val[0] == '*')
				peer = FRAME_NODES_MAX;
			else if (!fault_number(val, vlen, FRAME_NODES_MAX - 1, &v))
				return -EINVAL;
			else
				peer = (unsigned)v;
		} else if ((field = fault_field(&set, c + i, klen)) != NULL) {
			if (!fault_number(val, vlen, UINT32_MAX, &v))
				return -EINVAL;
			*field = (uint32_t)v;
			*fault_field(&mask, c + i, klen) = 1;
		} else {
			return -EINVAL;
		}
		i = end + 1;
	}
	for (unsigned p = 0; p < FRAME_NODES_MAX; p++) {
		if (peer != FRAME_NODES_MAX && p != peer)
			continue;
		struct frame_fault_spec *s = &f->peers[p];
		s->loss_ppm = mask.loss_ppm ? set.loss_ppm : s->loss_ppm;
		s->dup_ppm = mask.dup_ppm ? set.dup_ppm : s->dup_ppm;
		s->reorder_ppm = mask.reorder_ppm ? set.reorder_ppm : s->reorder_ppm;
		s->delay_us = mask.delay_us ? set.delay_us : s->delay_us;
		s->reorder_us = mask.reorder_us ? set.reorder_us : s->reorder_us;
		if (!fault_spec_valid(s))
			return -EINVAL;
	}
	return 0;
}

int frame_fault_parse(struct frame_fault *f, const char *text)
{
	if (text == NULL || strnlen(text, FRAME_FAULT_SPEC_BYTES_MAX + 1) > FRAME_FAULT_SPEC_BYTES_MAX)
		return -EINVAL;
	struct frame_fault tmp = *f;
	for (const char *p = text; *p != '\0';) {
		if (*p == ';' || *p == ' ' || *p == '\t' || *p == '\n') {
			p++;
			continue;
		}
		size_t len = strcspn(p, "; \t\n");
		int rc = fault_clause_apply(&tmp, p, len);
		if (rc != 0)
			return rc;
		p += len;
	}
	fault_active_update(&tmp);
	*f = tmp;
	return 0;
}

void frame_fault_decide(struct frame_fault *f, uint16_t peer, uint64_t now_ns,
			struct frame_fault_verdict *out)
{
	ASSERT(peer < FRAME_NODES_MAX);
	const struct frame_fault_spec *s = &f->peers[peer];
	out->copies = 1;
	if (fault_chance(f, s->loss_ppm)) {
		f->lost++;
		out->copies = 0;
		return;
	}
	if (fault_chance(f, s->dup_ppm)) {
		f->duplicated++;
		out->copies = 2;
	}
	for (unsigned c = 0; c < out->copies; c++) {
		uint64_t due = now_ns + (uint64_t)s->delay_us * NS_PER_US;
		if (s->delay_us)
			f->delayed++;
		if (fault_chance(f, s->reorder_ppm)) {
			uint32_t extra_us = s->reorder_us ? s->reorder_us : FRAME_FAULT_REORDER_US_DEFAULT;
			due += (uint64_t)extra_us * NS_PER_US;
			f->reordered++;
		}
		out->due_ns[c] = due;
	}
}

int frame_fault_heap_init(struct frame_fault_heap *h, uint32_t cap)
{
	memset(h, 0, sizeof(*h));
	h->items = calloc(MAX(cap, 1u), sizeof(*h->items));
	if (h->items == NULL)
		return -ENOMEM;
	h->cap = cap;
	return 0;
}

void frame_fault_heap_free(struct frame_fault_heap *h)
{
	free(h->items);
	h->items = NULL;
	h->cap = h->count = 0;
}

static bool heap_before(const struct frame_fault_held *a, const struct frame_fault_held *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void heap_swap(struct frame_fault_heap *h, uint32_t i, uint32_t j)
{
	struct frame_fault_held t = h->items[i];
	h->items[i] = h->items[j];
	h->items[j] = t;
}

int frame_fault_heap_push(struct frame_fault_heap *h, void *frame, uint64_t due_ns)
{
	if (h->count == h->cap)
		return -ENOBUFS;
	uint32_t i = h->count++;
	h->items[i] = (struct frame_fault_held){ .frame = frame, .due_ns = due_ns, .seq = h->seq++ };
	while (i > 0 && heap_before(&h->items[i], &h->items[(i - 1) / 2])) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	return 0;
}

static void *heap_pop_top(struct frame_fault_heap *h)
{
	ASSERT(h->count > 0);
	void *frame = h->items[0].frame;
	h->items[0] = h->items[--h->count];
	for (uint32_t i = 0;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->count && heap_before(&h->items[l], &h->items[m]))
			m = l;
		if (r < h->count && heap_before(&h->items[r], &h->items[m]))
			m = r;
		if (m == i)
			break;
		heap_swap(h, i, m);
		i = m;
	}
	return frame;
}

void *frame_fault_heap_pop_due(struct frame_fault_heap *h, uint64_t now_ns)
{
	if (h->count == 0 || h->items[0].due_ns > now_ns)
		return NULL;
	return heap_pop_top(h);
}

void *frame_fault_heap_pop_any(struct frame_fault_heap *h)
{
	return h->count == 0 ? NULL : heap_pop_top(h);
}
