/* The open-addressing hash table with incremental resize (see table.h for the design). */
#include "kv/table.h"

#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "base/panic.h"
#include "kv/bigmem.h"
#include "kv/hash.h"

#define TAB_TAG_SHIFT 48

static inline uint64_t tab_cap(const struct kv_tab *tab)
{
	return tab->slots ? 1ull << tab->bits : 0;
}

static inline uint64_t tab_home(const struct kv_tab *tab, uint64_t hash)
{
	return hash >> (64 - tab->bits);
}

static inline uint64_t tab_tag(uint64_t hash)
{
	return hash & 0xffff;
}

static bool tab_alloc(struct kv_tab *tab, unsigned arena, uint8_t bits)
{
	ASSERT(bits >= KV_TABLE_BITS_MIN && bits <= KV_TABLE_BITS_MAX);
	uint64_t *slots = kv_big_alloc(arena, sizeof(uint64_t) << bits, true);
	if (slots == NULL)
		return false;
	tab->slots = slots;
	tab->bits = bits;
	tab->live = tab->used = 0;
	return true;
}

static void tab_free(struct kv_tab *tab, unsigned arena)
{
	if (tab->slots != NULL)
		kv_big_free(arena, tab->slots, sizeof(uint64_t) << tab->bits);
	memset(tab, 0, sizeof(*tab));
}

void kv_table_init(struct kv_table *t, unsigned arena, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	t->arena = arena;
	t->seed = seed;
}

void kv_table_free(struct kv_table *t)
{
	tab_free(&t->main, t->arena);
	tab_free(&t->next, t->arena);
	t->rehashing = false;
	t->rehash_pos = 0;
}

uint64_t kv_table_hash(const struct kv_table *t, const void *key, size_t len)
{
	return kv_hash(t->seed, key, len);
}

size_t kv_table_bytes(const struct kv_table *t)
{
	return (size_t)(tab_cap(&t->main) + tab_cap(&t->next)) * sizeof(uint64_t);
}

static uint64_t *tab_find(const struct kv_tab *tab, const void *key, size_t len, uint64_t hash)
{
	if (tab->slots == NULL)
		return NULL;
	uint64_t mask = tab_cap(tab) - 1;
	uint64_t tag = tab_tag(hash);
	for (uint64_t i = tab_home(tab, hash);; i = (i + 1) & mask) {
		uint64_t w = tab->slots[i];
		if (w == KV_SLOT_EMPTY)
			return NULL;
		if ((w >> TAB_TAG_SHIFT) == tag && w != KV_SLOT_TOMB) {
			const struct kv_obj *o = kv_slot_obj(w);
			if (o->key_len == len && memcmp(kv_obj_key(o), key, len) == 0)
				return &tab->slots[i];
		}
	}
}

uint64_t *kv_table_find(const struct kv_table *t, const void *key, size_t len, uint64_t hash)
{
	/* While resizing, the new array first: it is at most half full, so a miss there is
	 * short, whereas the old one fills with tombstones as its entries move out. */
	if (t->rehashing) {
		uint64_t *slot = tab_find(&t->next, key, len, hash);
		if (slot != NULL)
			return slot;
	}
	return tab_find(&t->main, key, len, hash);
}

/* Puts obj in the first free slot of its probe run and returns the slot; the caller made
 * sure there is room. */
static uint64_t *tab_place(struct kv_tab *tab, struct kv_obj *obj, uint64_t hash)
{
	uint64_t addr = (uint64_t)(uintptr_t)obj;
	ASSERT((addr & ~KV_SLOT_PTR_MASK) == 0 && addr > KV_SLOT_TOMB);
	ASSERT(tab->used < tab_cap(tab));
	uint64_t mask = tab_cap(tab) - 1;
	for (uint64_t i = tab_home(tab, hash);; i = (i + 1) & mask) {
		uint64_t w = tab->slots[i];
		if (w == KV_SLOT_EMPTY || w == KV_SLOT_TOMB) {
			if (w == KV_SLOT_EMPTY)
				tab->used++;
			tab->live++;
			tab->slots[i] = (tab_tag(hash) << TAB_TAG_SHIFT) | addr;
			return &tab->slots[i];
		}
	}
}

/* Empties slot i: a tombstone, unless no probe run can pass through it (the next slot is
 * empty), in which case it and the tombstones right before it become empty. */
static void tab_clear(struct kv_tab *tab, uint64_t i)
{
	uint64_t mask = tab_cap(tab) - 1;
	ASSERT(kv_slot_live(tab->slots[i]));
	tab->live--;
	if (tab->slots[(i + 1) & mask] != KV_SLOT_EMPTY) {
		tab->slots[i] = KV_SLOT_TOMB;
		return;
	}
	tab->slots[i] = KV_SLOT_EMPTY;
	tab->used--;
	for (uint64_t j = (i - 1) & mask; tab->slots[j] == KV_SLOT_TOMB; j = (j - 1) & mask) {
		tab->slots[j] = KV_SLOT_EMPTY;
		tab->used--;
	}
}

static bool tab_over_load(const struct kv_tab *tab, uint64_t used)
{
	return used * 4 > tab_cap(tab) * 3;
}

static uint8_t table_bits_for(uint64_t need)
{
	uint8_t bits = KV_TABLE_BITS_MIN;
	while (bits < KV_TABLE_BITS_MAX && (1ull << bits) < 2 * need)
		bits++;
	return bits;
}

/* Starts moving main into a new array sized for the live entries plus every insert that can
 * arrive before the move completes (each insert moves KV_TABLE_REHASH_SLOTS slots), at no
 * more than half full: it can never need to grow while the move is running. */
static bool table_resize_start(struct kv_table *t)
{
	ASSERT(!t->rehashing && t->main.slots != NULL);
	uint64_t need = t->main.live + tab_cap(&t->main) / KV_TABLE_REHASH_SLOTS + 1;
	if (!tab_alloc(&t->next, t->arena, table_bits_for(need)))
		return false;
	t->rehashing = true;
	t->rehash_pos = 0;
	return true;
}

static void table_resize_finish(struct kv_table *t)
{
	ASSERT(t->main.live == 0);
	tab_free(&t->main, t->arena);
	t->main = t->next;
	memset(&t->next, 0, sizeof(t->next));
	t->rehashing = false;
	t->rehash_pos = 0;
}

uint64_t kv_table_rehash_step(struct kv_table *t, uint64_t slots)
{
	if (!t->rehashing)
		return 0;
	uint64_t cap = tab_cap(&t->main), visited = 0;
	while (visited < slots && t->rehash_pos < cap) {
		uint64_t i = t->rehash_pos++;
		uint64_t w = t->main.slots[i];
		visited++;
		if (!kv_slot_live(w))
			continue;
		struct kv_obj *o = kv_slot_obj(w);
		tab_place(&t->next, o, kv_table_hash(t, kv_obj_key(o), o->key_len));
		tab_clear(&t->main, i);
	}
	if (t->rehash_pos == cap)
		table_resize_finish(t);
	return visited;
}

int kv_table_insert(struct kv_table *t, struct kv_obj *obj, uint64_t hash, uint64_t **slot)
{
	if (t->main.slots == NULL) {
		if (!tab_alloc(&t->main, t->arena, KV_TABLE_BITS_MIN))
			return -ENOMEM;
	}
	kv_table_rehash_step(t, KV_TABLE_REHASH_SLOTS);
	if (!t->rehashing && tab_over_load(&t->main, t->main.used + 1)) {
		/* A failed allocation is survivable while the array still has room: try to
		 * grow again on the next insert. */
		if (!table_resize_start(t) && t->main.used + 2 > tab_cap(&t->main))
			return -ENOMEM;
	}
	struct kv_tab *tab = t->rehashing ? &t->next : &t->main;
	ASSERT(!t->rehashing || !tab_over_load(tab, tab->used + 1));
	uint64_t *s = tab_place(tab, obj, hash);
	if (slot != NULL)
		*slot = s;
	return 0;
}

void kv_table_remove(struct kv_table *t, uint64_t *slot)
{
	struct kv_tab *tab = &t->main;
	if (t->rehashing && (slot < tab->slots || slot >= tab->slots + tab_cap(tab)))
		tab = &t->next;
	ASSERT(slot >= tab->slots && slot < tab->slots + tab_cap(tab));
	tab_clear(tab, (uint64_t)(slot - tab->slots));
	kv_table_rehash_step(t, KV_TABLE_REHASH_SLOTS);
	if (!t->rehashing && t->main.bits > KV_TABLE_BITS_MIN &&
	    t->main.live * 8 < tab_cap(&t->main))
		table_resize_start(t); /* on failure, stay large: that is harmless */
}

/* Walks homes [h0, h1] of one array: every slot from h0 to h1, then on to the first empty
 * slot, since the entries of a home lie between it and the next empty slot. */
static bool tab_scan_range(const struct kv_table *t, const struct kv_tab *tab, uint64_t h0,
			   uint64_t h1, bool exact, kv_table_visit_fn fn, void *ctx)
{
	uint64_t mask = tab_cap(tab) - 1;
	uint64_t span = h1 - h0;
	for (uint64_t n = 0, i = h0;; n++, i = (i + 1) & mask) {
		ASSERT(n <= span + tab_cap(tab)); /* an array always has an empty slot */
		uint64_t w = tab->slots[i];
		if (n > span && w == KV_SLOT_EMPTY)
			return true;
		if (!kv_slot_live(w))
			continue;
		struct kv_obj *o = kv_slot_obj(w);
		if (exact) {
			uint64_t home = tab_home(tab, kv_table_hash(t, kv_obj_key(o), o->key_len));
			if (home < h0 || home > h1)
				continue;
		}
		if (!fn(ctx, o))
			return false;
	}
}

bool kv_table_scan_step(const struct kv_table *t, uint64_t *cursor, bool exact,
			kv_table_visit_fn fn, void *ctx)
{
	const uint64_t space = 1ull << KV_SCAN_CURSOR_BITS;
	uint64_t v = *cursor & (space - 1);
	if (t->main.slots == NULL) {
		*cursor = 0;
		return true;
	}
	const struct kv_tab *small = &t->main, *large = NULL;
	if (t->rehashing) {
		large = &t->next;
		if (large->bits < small->bits) {
			large = &t->main;
			small = &t->next;
		}
	}
	unsigned shift = KV_SCAN_CURSOR_BITS - small->bits;
	uint64_t hs = v >> shift;
	if (!tab_scan_range(t, small, hs, hs, exact, fn, ctx))
		return false;
	if (large != NULL) {
		unsigned up = large->bits - small->bits;
		uint64_t h0 = hs << up, h1 = ((hs + 1) << up) - 1;
		if (!tab_scan_range(t, large, h0, h1, exact, fn, ctx))
			return false;
	}
	uint64_t next = (hs + 1) << shift;
	*cursor = next >= space ? 0 : next;
	return true;
}

bool kv_table_walk(const struct kv_table *t, uint64_t *pos, uint64_t n, kv_table_visit_fn fn,
		   void *ctx)
{
	uint64_t cap_main = tab_cap(&t->main), total = cap_main + tab_cap(&t->next);
	uint64_t p = *pos;
	for (; n > 0 && p < total; n--) {
		uint64_t w = p < cap_main ? t->main.slots[p] : t->next.slots[p - cap_main];
		p++;
		if (kv_slot_live(w) && !fn(ctx, kv_slot_obj(w))) {
			*pos = p;
			return false;
		}
	}
	*pos = p >= total ? UINT64_MAX : p;
	return true;
}
