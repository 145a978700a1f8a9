/* Porcupine-style register checker (see lincheck.h). Events (calls and returns) sit in one
 * doubly linked list in time order, calls before returns at equal times. The search walks
 * the list: at a call it tries to linearize that operation now (a write always can; a read
 * only if it sees the current value), lifting its call and return out of the list; at a
 * return it has failed to place that operation and backtracks. A set of (linearized
 * operations, value) already explored prunes the search. Open writes return at +infinity: when
 * the walk reaches their returns, everything with a real return has been placed, and the
 * open writes can take effect after all of it, so the history is linearizable. */
#include "lincheck.h"

#include <stdlib.h>
#include <string.h>

#include "base/panic.h"

struct ev {
	uint64_t t;
	unsigned op;
	bool is_call;
	struct ev *prev, *next, *match; /* match: a call's return */
};

static int ev_cmp(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->is_call != y->is_call)
		return x->is_call ? -1 : 1;
	return x->op < y->op ? -1 : x->op > y->op;
}

/* ---- The memo: a hash set of (bitset, value) ---- */
struct memo {
	uint64_t *keys;  /* slots * (words + 1): bitset then value; value UINT64_MAX-1 = empty */
	uint64_t slots, used;
	unsigned words;
};

static uint64_t memo_hash(const uint64_t *bits, unsigned words, uint64_t value)
{
	uint64_t h = value * 0x9e3779b97f4a7c15ull;
	for (unsigned i = 0; i < words; i++)
		h = (h ^ bits[i]) * 0xff51afd7ed558ccdull;
	return h ^ (h >> 29);
}

#define MEMO_EMPTY (UINT64_MAX - 1)

static void memo_init(struct memo *m, unsigned words, uint64_t slots)
{
	m->words = words;
	m->slots = slots;
	m->used = 0;
	m->keys = malloc(slots * (words + 1) * sizeof(uint64_t));
	ASSERT(m->keys);
	for (uint64_t s = 0; s < slots; s++)
		m->keys[s * (words + 1) + words] = MEMO_EMPTY;
}

static bool memo_insert(struct memo *m, const uint64_t *bits, uint64_t value);

static void memo_grow(struct memo *m)
{
	struct memo old = *m;
	memo_init(m, old.words, old.slots * 2);
	for (uint64_t s = 0; s < old.slots; s++) {
		uint64_t *k = &old.keys[s * (old.words + 1)];
		if (k[old.words] != MEMO_EMPTY)
			memo_insert(m, k, k[old.words]);
	}
	free(old.keys);
}

/* Returns false if (bits, value) was already there. */
static bool memo_insert(struct memo *m, const uint64_t *bits, uint64_t value)
{
	if (2 * (m->used + 1) > m->slots)
		memo_grow(m);
	uint64_t s = memo_hash(bits, m->words, value) & (m->slots - 1);
	for (;; s = (s + 1) & (m->slots - 1)) {
		uint64_t *k = &m->keys[s * (m->words + 1)];
		if (k[m->words] == MEMO_EMPTY) {
			memcpy(k, bits, m->words * sizeof(uint64_t));
			k[m->words] = value;
			m->used++;
			return true;
		}
		if (k[m->words] == value && memcmp(k, bits, m->words * sizeof(uint64_t)) == 0)
			return false;
	}
}

/* ---- The search ---- */

static void lift(struct ev *call)
{
	call->prev->next = call->next;
	call->next->prev = call->prev;
	struct ev *ret = call->match;
	ret->prev->next = ret->next;
	ret->next->prev = ret->prev;
}

static void unlift(struct ev *call)
{
	struct ev *ret = call->match;
	ret->prev->next = ret;
	ret->next->prev = ret;
	call->prev->next = call;
	call->next->prev = call;
}

struct frame {
	struct ev *call;
	uint64_t value; /* the register's value before this operation */
};

static enum lin_result search(const struct lin_op *ops, struct ev *head, unsigned n,
			      uint64_t budget, unsigned *culprit)
{
	unsigned words = (n + 63) / 64;
	uint64_t *bits = calloc(words ? words : 1, sizeof(uint64_t));
	struct frame *stack = malloc((n + 1) * sizeof(*stack));
	struct memo memo;
	memo_init(&memo, words, 1024);
	uint64_t value = 0, steps = 0;
	unsigned depth = 0, deepest = 0;
	enum lin_result res = LIN_OK;
	struct ev *e = head->next;
	while (e != head) {
		if (++steps > budget) {
			res = LIN_UNKNOWN;
			break;
		}
		if (!e->is_call && e->t == LIN_OPEN)
			break; /* only open writes remain: they take effect last */
		if (e->is_call) {
			const struct lin_op *op = &ops[e->op];
			bool ok = op->kind == LIN_WRITE || op->value == value;
			uint64_t next = op->kind == LIN_WRITE ? op->value : value;
			if (ok) {
				bits[e->op / 64] |= 1ull << (e->op % 64);
				if (memo_insert(&memo, bits, next)) {
					stack[depth++] = (struct frame){ .call = e, .value = value };
					value = next;
					lift(e);
					e = head->next;
					continue;
				}
				bits[e->op / 64] &= ~(1ull << (e->op % 64));
			}
			e = e->next;
			continue;
		}
		/* Stuck at this return: remember the one reached with the most placed. */
		if (culprit && depth >= deepest) {
			deepest = depth;
			*culprit = e->op;
		}
		if (depth == 0) {
			res = LIN_VIOLATION;
			break;
		}
		struct frame f = stack[--depth];
		value = f.value;
		bits[f.call->op / 64] &= ~(1ull << (f.call->op % 64));
		unlift(f.call);
		e = f.call->next;
	}
	free(bits);
	free(stack);
	free(memo.keys);
	return res;
}

enum lin_result lin_check(const struct lin_op *ops, unsigned n, uint64_t budget,
			  unsigned *culprit)
{
	if (n == 0)
		return LIN_OK;
	struct ev *evs = malloc(2 * n * sizeof(*evs));
	ASSERT(evs);
	for (unsigned i = 0; i < n; i++) {
		evs[2 * i] = (struct ev){ .t = ops[i].call_us, .op = i, .is_call = true };
		evs[2 * i + 1] = (struct ev){ .t = ops[i].ret_us, .op = i, .is_call = false };
	}
	qsort(evs, 2 * n, sizeof(*evs), ev_cmp);
	unsigned *where = malloc(n * sizeof(unsigned));
	for (unsigned i = 0; i < 2 * n; i++)
		if (evs[i].is_call)
			where[evs[i].op] = i;
	struct ev head = { 0 };
	struct ev *prev = &head;
	for (unsigned i = 0; i < 2 * n; i++) {
		evs[i].prev = prev;
		prev->next = &evs[i];
		prev = &evs[i];
		if (!evs[i].is_call)
			evs[where[evs[i].op]].match = &evs[i];
	}
	prev->next = &head;
	head.prev = prev;
	enum lin_result r = search(ops, &head, n, budget, culprit);
	free(where);
	free(evs);
	return r;
}
