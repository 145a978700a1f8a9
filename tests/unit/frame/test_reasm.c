/* The reassembler: whole messages in any fragment order, from several peers at once; never a
 * partial or wrong one after loss, duplication, contradiction or timeout; its bounds; and
 * every frame it is handed released exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/crc.h"
#include "frame/reasm.h"

#define STRIDE FRAME_PAYLOAD_BYTES_MIN
#define FRAGS_MAX FRAME_FRAGS_MAX
#define MSG_BYTES_MAX FRAME_MSG_BYTES_MAX

/* A token is a counter of how many times the reassembler released it. */
static int released[FRAGS_MAX * 4];
static unsigned tokens_used;

static void release_cb(void *ctx, void *token)
{
	(void)ctx;
	(*(int *)token)++;
}

static void *token_new(void)
{
	assert_true(tokens_used < ARRAY_SIZE(released));
	released[tokens_used] = 0;
	return &released[tokens_used++];
}

/* Every token handed out so far was released exactly once. */
static void assert_all_released(void)
{
	for (unsigned i = 0; i < tokens_used; i++)
		assert_int_equal(released[i], 1);
}

struct delivered {
	unsigned count;
	uint16_t src, lane;
	size_t len;
	uint8_t *bytes;
};

static void deliver_cb(void *ctx, uint16_t src, uint16_t lane, const uint8_t *msg, size_t len)
{
	struct delivered *d = ctx;
	d->count++;
	d->src = src;
	d->lane = lane;
	d->len = len;
	memcpy(d->bytes, msg, len);
}

/* A message and its fragments' headers. */
struct msg {
	uint8_t *bytes;
	uint32_t len, n;
	struct frame_hdr h[FRAGS_MAX];
};

static void msg_make(struct msg *m, uint16_t src, uint16_t lane, uint64_t id, uint32_t len)
{
	assert_true(len <= MSG_BYTES_MAX);
	m->bytes = realloc(m->bytes, MAX(len, 1u));
	for (uint32_t i = 0; i < len; i++)
		m->bytes[i] = (uint8_t)(i * 7 + id + src);
	m->len = len;
	m->n = frame_frag_count(len, STRIDE);
	struct frame_hdr h = { .type = FRAME_TYPE_DATA, .src_node = src, .dst_node = 0,
		.lane = lane, .msg_len = len, .msg_id = id, .msg_crc = crc32c(m->bytes, len) };
	for (uint32_t i = 0; i < m->n; i++) {
		m->h[i] = h;
		frame_hdr_frag_set(&m->h[i], i, STRIDE);
	}
}

static unsigned frag_add(struct frame_reasm *r, const struct msg *m, uint32_t i, uint64_t now,
			 struct delivered *d)
{
	return frame_reasm_add(r, &m->h[i], m->bytes + m->h[i].frag_offset, token_new(), now,
			       deliver_cb, d);
}

static void assert_delivered(const struct delivered *d, const struct msg *m)
{
	assert_int_equal(d->src, m->h[0].src_node);
	assert_int_equal(d->lane, m->h[0].lane);
	assert_int_equal(d->len, m->len);
	assert_memory_equal(d->bytes, m->bytes, m->len);
}

struct fixture {
	struct frame_reasm *r;
	struct delivered d;
	struct msg m[4];
};

static struct fixture *fixture_new(const struct frame_reasm_config *base)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct frame_reasm_config c = base ? *base : (struct frame_reasm_config){ 0 };
	c.release = release_cb;
	c.frames_max = c.frames_max ? c.frames_max : 3 * FRAGS_MAX;
	c.bytes_max = c.bytes_max ? c.bytes_max : 4ull * MSG_BYTES_MAX;
	f->r = frame_reasm_create(&c);
	assert_non_null(f->r);
	f->d.bytes = malloc(MSG_BYTES_MAX);
	tokens_used = 0;
	return f;
}

static void fixture_free(struct fixture *f)
{
	frame_reasm_destroy(f->r);
	assert_all_released();
	for (size_t i = 0; i < ARRAY_SIZE(f->m); i++)
		free(f->m[i].bytes);
	free(f->d.bytes);
	free(f);
}

static void held_nothing(struct frame_reasm *r)
{
	struct frame_reasm_stats s;
	frame_reasm_stats_get(r, &s);
	assert_int_equal(s.msgs_held, 0);
	assert_int_equal(s.frames_held, 0);
	assert_int_equal(s.bytes_reserved, 0);
}

static void test_in_order_and_reverse(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(NULL);
	const uint32_t lens[] = { STRIDE + 1, 2 * STRIDE, 2 * STRIDE + 1, 100000, MSG_BYTES_MAX };
	for (size_t l = 0; l < ARRAY_SIZE(lens); l++) {
		msg_make(&f->m[0], 1, 2, 100 + l, lens[l]);
		for (uint32_t i = 0; i < f->m[0].n; i++) {
			uint32_t k = l % 2 ? f->m[0].n - 1 - i : i;
			assert_int_equal(f->d.count, l);
			assert_int_equal(frag_add(f->r, &f->m[0], k, 0, &f->d), 0);
		}
		assert_int_equal(f->d.count, l + 1);
		assert_delivered(&f->d, &f->m[0]);
		held_nothing(f->r);
		assert_all_released();
	}
	fixture_free(f);
}

static void shuffle(uint32_t *a, uint32_t n, unsigned *seed)
{
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = (uint32_t)rand_r(seed) % i, t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

static void test_random_orders_with_duplicates(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(NULL);
	static uint32_t order[2 * FRAGS_MAX];
	unsigned seed = 1;
	for (unsigned round = 0; round < 50; round++) {
		uint32_t len = STRIDE + 1 + (uint32_t)rand_r(&seed) % (40 * STRIDE);
		msg_make(&f->m[0], 4, 1, round, len);
		uint32_t n = f->m[0].n;
		/* Every fragment twice, in a random order. */
		for (uint32_t i = 0; i < 2 * n; i++)
			order[i] = i % n;
		shuffle(order, 2 * n, &seed);
		for (uint32_t i = 0; i < 2 * n; i++)
			assert_int_equal(frag_add(f->r, &f->m[0], order[i], 0, &f->d), 0);
		assert_int_equal(f->d.count, round + 1);
		assert_delivered(&f->d, &f->m[0]);
		held_nothing(f->r);
	}
	struct frame_reasm_stats s;
	frame_reasm_stats_get(f->r, &s);
	assert_int_equal(s.msgs_done, 50);
	/* Each message saw n duplicates: some before it completed, the rest after. */
	assert_true(s.frags_dup > 0 && s.frags_late > 0);
	fixture_free(f);
}

static void test_loss_of_any_fragment_drops_the_message(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(NULL);
	msg_make(&f->m[0], 2, 0, 9, 7 * STRIDE + 5);
	for (uint32_t lost = 0; lost < f->m[0].n; lost++) {
		for (uint32_t i = 0; i < f->m[0].n; i++) {
			if (i != lost)
				assert_int_equal(frag_add(f->r, &f->m[0], i, 1000 * lost, &f->d), 0);
		}
		assert_int_equal(f->d.count, 0);
		/* Not yet: the timeout is measured from the first fragment. */
		uint64_t due = 1000 * lost + FRAME_REASM_TIMEOUT_NS_DEFAULT;
		assert_int_equal(frame_reasm_expire(f->r, due - 1), 0);
		assert_int_equal(frame_reasm_expire(f->r, due), 1);
		held_nothing(f->r);
		assert_all_released();
	}
	struct frame_reasm_stats s;
	frame_reasm_stats_get(f->r, &s);
	assert_int_equal(s.msgs_timeout, f->m[0].n);
	assert_int_equal(s.msgs_done, 0);
	fixture_free(f);
}

static void test_interleaved_peers_and_lanes(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(NULL);
	/* Two messages with the same id from different peers, and one on another lane. */
	msg_make(&f->m[0], 1, 0, 77, 5 * STRIDE);
	msg_make(&f->m[1], 2, 0, 77, 3 * STRIDE + 9);
	msg_make(&f->m[2], 1, 1, 77, 4 * STRIDE - 1);
	msg_make(&f->m[3], 3, 5, 1, 9 * STRIDE);
	uint32_t next[4] = { 0 }, left = 0;
	for (int k = 0; k < 4; k++)
		left += f->m[k].n;
	unsigned seed = 5, done[4] = { 0 };
	while (left > 0) {
		int k = rand_r(&seed) % 4;
		if (next[k] == f->m[k].n)
			continue;
		unsigned before = f->d.count;
		assert_int_equal(frag_add(f->r, &f->m[k], next[k]++, 0, &f->d), 0);
		left--;
		if (f->d.count != before) {
			assert_int_equal(next[k], f->m[k].n);
			assert_delivered(&f->d, &f->m[k]);
			done[k]++;
		}
	}
	for (int k = 0; k < 4; k++)
		assert_int_equal(done[k], 1);
	held_nothing(f->r);
	fixture_free(f);
}

static void test_per_peer_limit_evicts_that_peers_oldest(void **state)
{
	(void)state;
	struct frame_reasm_config c = { .msgs_max = 16, .msgs_per_peer_max = 2 };
	struct fixture *f = fixture_new(&c);
	msg_make(&f->m[0], 1, 0, 1, 3 * STRIDE);
	msg_make(&f->m[1], 1, 0, 2, 3 * STRIDE);
	msg_make(&f->m[2], 1, 0, 3, 3 * STRIDE);
	msg_make(&f->m[3], 2, 0, 1, 3 * STRIDE);
	assert_int_equal(frag_add(f->r, &f->m[3], 0, 0, &f->d), 0); /* peer 2, untouched */
	assert_int_equal(frag_add(f->r, &f->m[0], 0, 0, &f->d), 0);
	assert_int_equal(frag_add(f->r, &f->m[1], 0, 0, &f->d), 0);
	assert_int_equal(frag_add(f->r, &f->m[2], 0, 0, &f->d), 1); /* evicts message 1 */
	for (int k = 1; k < 4; k++) {
		for (uint32_t i = 1; i < 3; i++)
			frag_add(f->r, &f->m[k], i, 0, &f->d);
		assert_delivered(&f->d, &f->m[k]);
	}
	assert_int_equal(f->d.count, 3);
	/* Message 1's other fragments start it again; it cannot complete without fragment 0. */
	frag_add(f->r, &f->m[0], 1, 0, &f->d);
	frag_add(f->r, &f->m[0], 2, 0, &f->d);
	assert_int_equal(f->d.count, 3);
	struct frame_reasm_stats s;
	frame_reasm_stats_get(f->r, &s);
	assert_int_equal(s.msgs_evicted, 1);
	assert_int_equal(s.msgs_held, 1);
	fixture_free(f);
}

static void test_byte_and_frame_budgets(void **state)
{
	(void)state;
	struct frame_reasm_config c = { .bytes_max = 10 * STRIDE, .frames_max = 12 };
	struct fixture *f = fixture_new(&c);
	/* Too big for the budget: refused at once, never held. */
	msg_make(&f->m[0], 1, 0, 1, 10 * STRIDE + 1);
	assert_int_equal(frag_add(f->r, &f->m[0], 3, 0, &f->d), 1);
	held_nothing(f->r);
	/* 6 + 4 strides fit; a third message of 3 evicts the oldest. */
	msg_make(&f->m[1], 2, 0, 1, 6 * STRIDE);
	msg_make(&f->m[2], 3, 0, 1, 4 * STRIDE);
	msg_make(&f->m[3], 4, 0, 1, 3 * STRIDE);
	assert_int_equal(frag_add(f->r, &f->m[1], 0, 0, &f->d), 0);
	assert_int_equal(frag_add(f->r, &f->m[2], 0, 0, &f->d), 0);
	assert_int_equal(frag_add(f->r, &f->m[3], 0, 0, &f->d), 1);
	struct frame_reasm_stats s;
	frame_reasm_stats_get(f->r, &s);
	assert_int_equal(s.bytes_reserved, 7 * STRIDE);
	assert_int_equal(s.msgs_too_big, 1);
	assert_int_equal(s.msgs_evicted, 1);
	for (int k = 2; k < 4; k++) {
		for (uint32_t i = 1; i < f->m[k].n; i++)
			frag_add(f->r, &f->m[k], i, 0, &f->d);
		assert_delivered(&f->d, &f->m[k]);
	}
	assert_int_equal(f->d.count, 2);
	/* The frame budget: 13 fragments never fit in 12. */
	msg_make(&f->m[0], 1, 0, 2, 12 * STRIDE + 1);
	struct frame_reasm_config c2 = { .bytes_max = 100 * STRIDE, .frames_max = 12,
					 .release = release_cb };
	struct frame_reasm *r2 = frame_reasm_create(&c2);
	assert_non_null(r2);
	assert_int_equal(frame_reasm_add(r2, &f->m[0].h[0], f->m[0].bytes, token_new(), 0,
					 deliver_cb, &f->d), 1);
	frame_reasm_destroy(r2);
	fixture_free(f);
}

static void test_contradicting_fragments_drop_the_message(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(NULL);
	msg_make(&f->m[0], 1, 3, 42, 4 * STRIDE);
	/* Same id, another length: a sender that restarted and reused the id. */
	msg_make(&f->m[1], 1, 3, 42, 5 * STRIDE);
	assert_int_equal(frag_add(f->r, &f->m[0], 0, 0, &f->d), 0);
	assert_int_equal(frag_add(f->r, &f->m[0], 1, 0, &f->d), 0);
	assert_int_equal(frag_add(f->r, &f->m[1], 2, 0, &f->d), 1);
	held_nothing(f->r);
	assert_all_released();
	/* Right lengths, another message CRC. */
	assert_int_equal(frag_add(f->r, &f->m[0], 0, 0, &f->d), 0);
	struct frame_hdr h = f->m[0].h[1];
	h.msg_crc ^= 1;
	assert_int_equal(frame_reasm_add(f->r, &h, f->m[0].bytes + h.frag_offset, token_new(), 0,
					 deliver_cb, &f->d), 1);
	/* Fragments that agree but whose bytes do not make the message: the message CRC. */
	msg_make(&f->m[2], 1, 3, 43, 3 * STRIDE);
	uint8_t wrong[STRIDE];
	memset(wrong, 0xab, sizeof(wrong));
	assert_int_equal(frag_add(f->r, &f->m[2], 0, 0, &f->d), 0);
	assert_int_equal(frag_add(f->r, &f->m[2], 2, 0, &f->d), 0);
	assert_int_equal(frame_reasm_add(f->r, &f->m[2].h[1], wrong, token_new(), 0, deliver_cb,
					 &f->d), 1);
	assert_int_equal(f->d.count, 0);
	struct frame_reasm_stats s;
	frame_reasm_stats_get(f->r, &s);
	assert_int_equal(s.msgs_inconsistent, 3);
	held_nothing(f->r);
	fixture_free(f);
}

static void test_timeout_keeps_young_messages(void **state)
{
	(void)state;
	struct frame_reasm_config c = { .timeout_ns = 1000 };
	struct fixture *f = fixture_new(&c);
	msg_make(&f->m[0], 1, 0, 1, 2 * STRIDE);
	msg_make(&f->m[1], 2, 0, 1, 2 * STRIDE);
	frag_add(f->r, &f->m[0], 0, 100, &f->d);
	frag_add(f->r, &f->m[1], 0, 600, &f->d);
	assert_int_equal(frame_reasm_expire(f->r, 1099), 0);
	assert_int_equal(frame_reasm_expire(f->r, 1100), 1);
	/* A clock that reads earlier than a message's start drops nothing. */
	assert_int_equal(frame_reasm_expire(f->r, 50), 0);
	frag_add(f->r, &f->m[1], 1, 1200, &f->d);
	assert_int_equal(f->d.count, 1);
	assert_delivered(&f->d, &f->m[1]);
	/* The expired message's late fragment starts a new one, which also times out. */
	frag_add(f->r, &f->m[0], 1, 1300, &f->d);
	assert_int_equal(f->d.count, 1);
	assert_int_equal(frame_reasm_expire(f->r, 2300), 1);
	held_nothing(f->r);
	fixture_free(f);
}

static void test_peer_drop_and_destroy_release_everything(void **state)
{
	(void)state;
	struct fixture *f = fixture_new(NULL);
	msg_make(&f->m[0], 1, 0, 1, 5 * STRIDE);
	msg_make(&f->m[1], 2, 0, 1, 5 * STRIDE);
	for (uint32_t i = 0; i < 4; i++) {
		frag_add(f->r, &f->m[0], i, 0, &f->d);
		frag_add(f->r, &f->m[1], i, 0, &f->d);
	}
	assert_int_equal(frame_reasm_peer_drop(f->r, 1), 1);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(released[2 * i], 1);
	/* Peer 2's message is still there (destroy releases it, checked by fixture_free). */
	struct frame_reasm_stats s;
	frame_reasm_stats_get(f->r, &s);
	assert_int_equal(s.msgs_held, 1);
	assert_int_equal(s.frames_held, 4);
	fixture_free(f);
}

static void test_bad_configuration(void **state)
{
	(void)state;
	struct frame_reasm_config c = { .release = release_cb, .msgs_max = 2,
					.msgs_per_peer_max = 3 };
	assert_null(frame_reasm_create(&c));
	c = (struct frame_reasm_config){ 0 };
	assert_null(frame_reasm_create(&c)); /* no release callback */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_and_reverse),
		cmocka_unit_test(test_random_orders_with_duplicates),
		cmocka_unit_test(test_loss_of_any_fragment_drops_the_message),
		cmocka_unit_test(test_interleaved_peers_and_lanes),
		cmocka_unit_test(test_per_peer_limit_evicts_that_peers_oldest),
		cmocka_unit_test(test_byte_and_frame_budgets),
		cmocka_unit_test(test_contradicting_fragments_drop_the_message),
		cmocka_unit_test(test_timeout_keeps_young_messages),
		cmocka_unit_test(test_peer_drop_and_destroy_release_everything),
		cmocka_unit_test(test_bad_configuration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
