/* The hash table: insert/find/remove at scale, a randomized run against a reference model
 * with the placement invariants checked as it goes, tombstone clean-up and shrinking,
 * bounded resize steps, and scans that span resizes. */
#include "kv_test.h"

#include "kv/table.h"

#define KEY_MAX 24

static struct kv_obj *obj_new(uint64_t id)
{
	char key[KEY_MAX];
	int n = snprintf(key, sizeof(key), "k:%llu", (unsigned long long)id);
	struct kv_obj *o = malloc(sizeof(*o) + (size_t)n);
	assert_non_null(o);
	o->key_len = (uint32_t)n;
	o->val_len = 0;
	o->gen = 0;
	o->vol_idx = KV_VOL_NONE;
	memcpy(o->data, key, (size_t)n);
	return o;
}

static uint64_t *find_id(struct kv_table *t, uint64_t id)
{
	char key[KEY_MAX];
	int n = snprintf(key, sizeof(key), "k:%llu", (unsigned long long)id);
	return kv_table_find(t, key, (size_t)n, kv_table_hash(t, key, (size_t)n));
}

static void insert_obj(struct kv_table *t, struct kv_obj *o)
{
	uint64_t *slot = NULL;
	assert_int_equal(kv_table_insert(t, o, kv_table_hash(t, o->data, o->key_len), &slot), 0);
	assert_ptr_equal(kv_slot_obj(*slot), o);
}

static void remove_id(struct kv_table *t, uint64_t id)
{
	uint64_t *slot = find_id(t, id);
	assert_non_null(slot);
	struct kv_obj *o = kv_slot_obj(*slot);
	kv_table_remove(t, slot);
	free(o);
}

/* Checks one array: counts, and that every entry is reachable from its home without
 * crossing an empty slot (the invariant lookups and scans rely on). */
static void tab_check(const struct kv_table *t, const struct kv_tab *tab)
{
	if (tab->slots == NULL)
		return;
	uint64_t cap = 1ull << tab->bits, live = 0, used = 0;
	for (uint64_t i = 0; i < cap; i++) {
		uint64_t w = tab->slots[i];
		if (w == KV_SLOT_EMPTY)
			continue;
		used++;
		if (!kv_slot_live(w))
			continue;
		live++;
		const struct kv_obj *o = kv_slot_obj(w);
		uint64_t h = kv_table_hash(t, o->data, o->key_len);
		assert_int_equal(w >> 48, h & 0xffff);
		for (uint64_t j = h >> (64 - tab->bits); j != i; j = (j + 1) & (cap - 1))
			assert_int_not_equal(tab->slots[j], KV_SLOT_EMPTY);
	}
	assert_int_equal(live, tab->live);
	assert_int_equal(used, tab->used);
	assert_true(used < cap);
}

static void table_check(const struct kv_table *t)
{
	tab_check(t, &t->main);
	if (t->rehashing)
		tab_check(t, &t->next);
	else
		assert_null(t->next.slots);
}

static bool free_visit(void *ctx, struct kv_obj *o)
{
	(void)ctx;
	free(o);
	return true;
}

static void table_destroy(struct kv_table *t)
{
	uint64_t pos = 0;
	kv_table_walk(t, &pos, UINT64_MAX, free_visit, NULL);
	kv_table_free(t);
}

static void test_table_scale(void **state)
{
	(void)state;
	enum { N = 300000 };
	struct kv_table t;
	kv_table_init(&t, 0, 1234);
	assert_null(find_id(&t, 1)); /* an empty table has no array yet */
	for (uint64_t i = 0; i < N; i++) {
		insert_obj(&t, obj_new(i));
		assert_int_equal(kv_table_count(&t), i + 1);
	}
	for (uint64_t i = 0; i < N; i++)
		assert_non_null(find_id(&t, i));
	assert_null(find_id(&t, N));
	table_check(&t);
	/* Grown: the main array is more than 4/3 of the keys once any resize has finished. */
	while (kv_table_rehash_step(&t, 1024) > 0)
		;
	assert_true((1ull << t.main.bits) * 3 >= (uint64_t)N * 4);
	for (uint64_t i = 0; i < N; i += 2)
		remove_id(&t, i);
	for (uint64_t i = 0; i < N; i++)
		assert_true((find_id(&t, i) != NULL) == (i % 2 == 1));
	table_check(&t);
	for (uint64_t i = 1; i < N; i += 2)
		remove_id(&t, i);
	assert_int_equal(kv_table_count(&t), 0);
	while (kv_table_rehash_step(&t, 1024) > 0)
		;
	/* Deleting everything shrank the table back down. */
	assert_true(t.main.bits <= KV_TABLE_BITS_MIN + 3);
	table_check(&t);
	table_destroy(&t);
}

/* Random inserts and removes over a small key space against a presence array, with the
 * invariants checked every few hundred operations (through grows, shrinks and purges). */
static void test_table_random_model(void **state)
{
	(void)state;
	enum { KEYS = 5000, OPS = 400000 };
	static bool present[KEYS];
	memset(present, 0, sizeof(present));
	uint64_t rng = 77, count = 0;
	struct kv_table t;
	kv_table_init(&t, 0, 99);
	for (int op = 0; op < OPS; op++) {
		/* Phases that favour inserts, then removes, so the table grows and shrinks. */
		bool grow_phase = (op / 50000) % 2 == 0;
		uint64_t id = test_rand(&rng) % KEYS;
		bool want_insert = (test_rand(&rng) % 100) < (grow_phase ? 70u : 30u);
		uint64_t *slot = find_id(&t, id);
		assert_true((slot != NULL) == present[id]);
		if (want_insert && !present[id]) {
			insert_obj(&t, obj_new(id));
			present[id] = true;
			count++;
		} else if (!want_insert && present[id]) {
			remove_id(&t, id);
			present[id] = false;
			count--;
		}
		assert_int_equal(kv_table_count(&t), count);
		if (op % 997 == 0)
			table_check(&t);
		if (op % 5 == 0)
			kv_table_rehash_step(&t, test_rand(&rng) % 8);
	}
	for (uint64_t id = 0; id < KEYS; id++)
		assert_true((find_id(&t, id) != NULL) == present[id]);
	table_check(&t);
	table_destroy(&t);
}

/* Removing the entry before an empty slot empties it and the tombstones before it: a table
 * that is filled and emptied in a loop does not fill up with tombstones. */
static void test_table_tombstones_cleared(void **state)
{
	(void)state;
	struct kv_table t;
	kv_table_init(&t, 0, 5);
	for (uint64_t i = 0; i < 40; i++)
		insert_obj(&t, obj_new(i));
	while (kv_table_rehash_step(&t, 1024) > 0)
		;
	uint8_t bits = t.main.bits;
	for (int round = 0; round < 1000; round++) {
		uint64_t id = 1000 + (uint64_t)round;
		insert_obj(&t, obj_new(id));
		remove_id(&t, id);
	}
	while (kv_table_rehash_step(&t, 1024) > 0)
		;
	table_check(&t);
	assert_int_equal(kv_table_count(&t), 40);
	/* Tombstones never push the table past 3/4 (a purge clears them first), and churn at a
	 * constant size does not make the table grow without bound. */
	assert_true(t.main.used * 4 <= (1ull << t.main.bits) * 3);
	assert_true(t.main.bits <= bits + 1);
	table_destroy(&t);
}

/* No operation moves more than KV_TABLE_REHASH_SLOTS slots of a resize. */
static void test_table_resize_is_incremental(void **state)
{
	(void)state;
	struct kv_table t;
	kv_table_init(&t, 0, 3);
	uint64_t resizes = 0;
	for (uint64_t i = 0; i < 100000; i++) {
		bool was = t.rehashing;
		uint64_t before = t.rehash_pos;
		insert_obj(&t, obj_new(i));
		if (was && t.rehashing)
			assert_true(t.rehash_pos - before <= KV_TABLE_REHASH_SLOTS);
		if (!was && t.rehashing)
			resizes++;
	}
	assert_true(resizes >= 10);
	table_check(&t);
	table_destroy(&t);
}

struct scan_seen {
	uint8_t *seen;   /* per id: times reported */
	uint64_t ids;
};

static bool scan_visit(void *ctx, struct kv_obj *o)
{
	struct scan_seen *s = ctx;
	char key[KEY_MAX];
	memcpy(key, o->data, o->key_len);
	key[o->key_len] = '\0';
	uint64_t id = strtoull(key + 2, NULL, 10);
	assert_true(id < s->ids);
	if (s->seen[id] < 255)
		s->seen[id]++;
	return true;
}

/* A scan while keys are added and removed in between steps, through several grows and a
 * shrink: every key present for the whole scan is reported at least once. */
static void test_table_scan_across_resizes(void **state)
{
	(void)state;
	enum { STABLE = 2000, CHURN = 60000 };
	struct scan_seen s = { calloc(STABLE + CHURN, 1), STABLE + CHURN };
	assert_non_null(s.seen);
	struct kv_table t;
	kv_table_init(&t, 0, 11);
	for (uint64_t i = 0; i < STABLE; i++)
		insert_obj(&t, obj_new(i));
	uint64_t cursor = 0, steps = 0, next_id = STABLE, oldest = STABLE;
	uint8_t bits_seen_max = 0, bits_seen_min = 64;
	do {
		assert_true(kv_table_scan_step(&t, &cursor, true, scan_visit, &s));
		steps++;
		/* First grow (add many), then shrink (remove them again). */
		if (steps < 300) {
			for (int k = 0; k < 200 && next_id < STABLE + CHURN; k++)
				insert_obj(&t, obj_new(next_id++));
		} else {
			for (int k = 0; k < 400 && oldest < next_id; k++)
				remove_id(&t, oldest++);
		}
		bits_seen_max = (uint8_t)MAX(bits_seen_max, t.main.bits);
		bits_seen_min = (uint8_t)MIN(bits_seen_min, t.main.bits);
	} while (cursor != 0);
	for (uint64_t i = 0; i < STABLE; i++)
		if (s.seen[i] == 0)
			fail_msg("stable key %llu never reported", (unsigned long long)i);
	assert_true(bits_seen_max >= 15);       /* it grew a lot ... */
	assert_true(t.main.bits < bits_seen_max); /* ... and shrank during the scan */
	(void)bits_seen_min;
	table_destroy(&t);
	free(s.seen);
}

/* Without changes, an exact scan reports every key exactly once, and a non-exact one at
 * least once; both end with cursor 0. */
static void test_table_scan_exact_once(void **state)
{
	(void)state;
	enum { N = 20000 };
	struct kv_table t;
	kv_table_init(&t, 0, 21);
	for (uint64_t i = 0; i < N; i++)
		insert_obj(&t, obj_new(i));
	for (int exact = 1; exact >= 0; exact--) {
		struct scan_seen s = { calloc(N, 1), N };
		uint64_t cursor = 0;
		do {
			assert_true(kv_table_scan_step(&t, &cursor, exact, scan_visit, &s));
		} while (cursor != 0);
		for (uint64_t i = 0; i < N; i++) {
			assert_true(s.seen[i] >= 1);
			if (exact)
				assert_int_equal(s.seen[i], 1);
		}
		free(s.seen);
	}
	table_destroy(&t);
}

static bool stop_visit(void *ctx, struct kv_obj *o)
{
	(void)o;
	return --*(int *)ctx > 0;
}

/* A visitor that stops a step leaves the cursor where it was; walk() visits every entry. */
static void test_table_scan_stop_and_walk(void **state)
{
	(void)state;
	struct kv_table t;
	kv_table_init(&t, 0, 8);
	uint64_t cursor = 0;
	assert_true(kv_table_scan_step(&t, &cursor, true, scan_visit, NULL));
	assert_int_equal(cursor, 0); /* empty table: done at once */
	for (uint64_t i = 0; i < 1000; i++)
		insert_obj(&t, obj_new(i));
	int budget = 1;
	uint64_t c = 0;
	/* Find a step with an entry, and stop in it. */
	for (;;) {
		uint64_t before = c;
		budget = 1;
		if (!kv_table_scan_step(&t, &c, false, stop_visit, &budget)) {
			assert_int_equal(c, before);
			break;
		}
		assert_int_not_equal(c, 0);
	}
	uint64_t pos = 0, count = 0;
	while (pos != UINT64_MAX) {
		int left = 1000000;
		kv_table_walk(&t, &pos, 37, stop_visit, &left);
		count += (uint64_t)(1000000 - left);
	}
	assert_int_equal(count, 1000);
	table_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_scale),
		cmocka_unit_test(test_table_random_model),
		cmocka_unit_test(test_table_tombstones_cleared),
		cmocka_unit_test(test_table_resize_is_incremental),
		cmocka_unit_test(test_table_scan_across_resizes),
		cmocka_unit_test(test_table_scan_exact_once),
		cmocka_unit_test(test_table_scan_stop_and_walk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
