/* The in-memory entry cache: the newest entries of the log, so that the primary sends them
 * to followers and every replica applies them without reading its disk. Slots are a
 * power-of-two ring indexed by log index; payloads live in one byte ring addressed by
 * virtual offsets that only grow (physical = virtual % capacity), so that dropping the
 * oldest entry, or the newest ones on truncation, is a matter of moving one offset. A
 * payload never wraps: when it does not fit before the end of the ring it starts at the
 * beginning and the gap counts as used until the entries before it are dropped. */
#include "repl/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int repl_cache_init(struct repl_cache *c, uint64_t entries, uint64_t bytes)
{
	uint64_t slots = 1;
	while (slots < entries)
		slots <<= 1;
	memset(c, 0, sizeof(*c));
	c->slots = calloc(slots, sizeof(*c->slots));
	c->bytes = malloc(bytes ? bytes : 1);
	if (!c->slots || !c->bytes) {
		repl_cache_free(c);
		return -ENOMEM;
	}
	c->slots_mask = slots - 1;
	c->bytes_cap = bytes;
	c->first = 1;
	return 0;
}

void repl_cache_free(struct repl_cache *c)
{
	free(c->slots);
	free(c->bytes);
	c->slots = NULL;
	c->bytes = NULL;
}

void repl_cache_reset(struct repl_cache *c, uint64_t next_index)
{
	c->first = next_index;
	c->count = 0;
	c->head_v = c->tail_v = 0;
	c->payload_bytes = 0;
}

/* Where a payload of len bytes would start, or UINT64_MAX when it does not fit. */
static uint64_t cache_place(const struct repl_cache *c, uint32_t len)
{
	if (c->count > c->slots_mask)
		return UINT64_MAX;
	if (len == 0)
		return c->head_v;
	if (len > c->bytes_cap)
		return UINT64_MAX;
	uint64_t start = c->head_v;
	uint64_t phys = start % c->bytes_cap;
	if (phys + len > c->bytes_cap)
		start += c->bytes_cap - phys; /* skip to the ring's beginning */
	if (start + len - c->tail_v > c->bytes_cap)
		return UINT64_MAX;
	return start;
}

bool repl_cache_fits(const struct repl_cache *c, uint32_t len)
{
	return cache_place(c, len) != UINT64_MAX;
}

bool repl_cache_push(struct repl_cache *c, const struct repl_entry *e)
{
	ASSERT(e->index == c->first + c->count);
	uint64_t start = cache_place(c, e->len);
	if (start == UINT64_MAX)
		return false;
	if (c->count == 0)
		c->tail_v = start;
	struct repl_cache_slot *s = &c->slots[e->index & c->slots_mask];
	s->epoch = e->epoch;
	s->start_v = start;
	s->len = e->len;
	s->type = e->type;
	if (e->len)
		memcpy(c->bytes + start % c->bytes_cap, e->payload, e->len);
	c->head_v = start + e->len;
	c->count++;
	c->payload_bytes += e->len;
	return true;
}

bool repl_cache_get(const struct repl_cache *c, uint64_t index, struct repl_entry *out)
{
	if (c->count == 0 || index < c->first || index > repl_cache_last(c))
		return false;
	const struct repl_cache_slot *s = &c->slots[index & c->slots_mask];
	out->epoch = s->epoch;
	out->index = index;
	out->type = s->type;
	out->len = s->len;
	out->payload = c->bytes + (c->bytes_cap ? s->start_v % c->bytes_cap : 0);
	return true;
}

void repl_cache_pop_front(struct repl_cache *c)
{
	ASSERT(c->count > 0);
	const struct repl_cache_slot *s = &c->slots[c->first & c->slots_mask];
	c->payload_bytes -= s->len;
	c->first++;
	c->count--;
	if (c->count == 0)
		c->tail_v = c->head_v;
	else
		c->tail_v = c->slots[c->first & c->slots_mask].start_v;
}

void repl_cache_truncate(struct repl_cache *c, uint64_t from_index)
{
	if (c->count == 0 || from_index > repl_cache_last(c))
		return;
	if (from_index <= c->first) {
		repl_cache_reset(c, from_index);
		return;
	}
	for (uint64_t i = from_index; i <= repl_cache_last(c); i++)
		c->payload_bytes -= c->slots[i & c->slots_mask].len;
	c->head_v = c->slots[from_index & c->slots_mask].start_v;
	c->count = from_index - c->first;
	ASSERT(c->head_v >= c->tail_v);
}
