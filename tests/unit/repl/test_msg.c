/* The wire codec: every message type round-trips field for field, entry payloads are left
 * in place, and every kind of malformed input (truncation at each byte, trailing bytes, a bad
 * version, reserved bytes, impossible lengths and values) is refused without reading past
 * the buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "repl/repl.h"

static uint8_t buf[1 << 16];

static size_t encode(const struct repl_msg *m)
{
	ssize_t n = repl_msg_encode(m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, repl_msg_encoded_bytes(m));
	return (size_t)n;
}

static struct repl_msg append_msg(struct repl_entry *e)
{
	e[0] = (struct repl_entry){ .epoch = 3, .type = REPL_ENTRY_NOOP };
	e[1] = (struct repl_entry){ .epoch = 4, .type = REPL_ENTRY_DATA,
				    .payload = (const uint8_t *)"hello", .len = 5 };
	e[2] = (struct repl_entry){ .epoch = 4, .type = REPL_ENTRY_CONFIG,
				    .payload = (const uint8_t *)"0123456789abcdef", .len = 16 };
	struct repl_msg m = { .type = REPL_MSG_APPEND, .src = 2, .dst = 63, .epoch = 4 };
	m.append = (struct repl_msg_append){ .prev_index = 99, .prev_epoch = 3, .commit_index = 98,
					     .seq = 7, .n_entries = 3, .entries = e };
	return m;
}

static void test_append_round_trip(void **state)
{
	(void)state;
	struct repl_entry e[3], d[8];
	struct repl_msg m = append_msg(e), out;
	size_t n = encode(&m);
	assert_int_equal(n, 16 + 40 + 3 * 16 + 5 + 16);
	assert_int_equal(repl_msg_decode(buf, n, &out, d, 8), 0);
	assert_int_equal(out.type, REPL_MSG_APPEND);
	assert_int_equal(out.src, 2);
	assert_int_equal(out.dst, 63);
	assert_int_equal(out.epoch, 4);
	assert_int_equal(out.append.prev_index, 99);
	assert_int_equal(out.append.prev_epoch, 3);
	assert_int_equal(out.append.commit_index, 98);
	assert_int_equal(out.append.seq, 7);
	assert_int_equal(out.append.n_entries, 3);
	assert_ptr_equal(out.append.entries, d);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(d[i].index, 100 + i);
		assert_int_equal(d[i].epoch, e[i].epoch);
		assert_int_equal(d[i].type, e[i].type);
		assert_int_equal(d[i].len, e[i].len);
	}
	/* Zero copy: the payload points into the buffer. */
	assert_true(d[1].payload > buf && d[1].payload < buf + n);
	assert_memory_equal(d[1].payload, "hello", 5);
	assert_memory_equal(d[2].payload, "0123456789abcdef", 16);
}

static void test_little_endian_layout(void **state)
{
	(void)state;
	struct repl_msg m = { .type = REPL_MSG_ACK, .src = 1, .dst = 2, .epoch = 0x0102030405060708ull };
	m.ack.match_index = 0x1122;
	size_t n = encode(&m);
	assert_int_equal(n, 64);
	const uint8_t head[] = { REPL_WIRE_VERSION, REPL_MSG_ACK, 1, 2, 0, 0, 0, 0,
				 8, 7, 6, 5, 4, 3, 2, 1 };
	assert_memory_equal(buf, head, sizeof(head));
	assert_int_equal(buf[24], 0x22);
	assert_int_equal(buf[25], 0x11);
}

static void test_every_type_round_trips(void **state)
{
	(void)state;
	struct repl_msg ms[5] = {
		{ .type = REPL_MSG_ACK, .src = 1, .dst = 0, .epoch = 9,
		  .ack = { .status = REPL_ACK_MISMATCH, .match_index = 5, .last_index = 8,
			   .hint_index = 6, .reject_index = 7, .seq = 11 } },
		{ .type = REPL_MSG_SNAPSHOT, .src = 0, .dst = 1, .epoch = 9,
		  .snapshot = { .meta = { .index = 50, .epoch = 8, .total_bytes = 10,
					  .members = { .voters = 7, .learners = 8 } },
				.offset = 6, .len = 4, .last = true,
				.data = (const uint8_t *)"wxyz" } },
		{ .type = REPL_MSG_SNAPSHOT_ACK, .src = 1, .dst = 0, .epoch = 9,
		  .snapshot_ack = { .snap_index = 50, .snap_epoch = 8, .next_offset = 6 } },
		{ .type = REPL_MSG_VOTE, .src = 3, .dst = 4, .epoch = 10,
		  .vote = { .pre_vote = true, .last_index = 77, .last_epoch = 9 } },
		{ .type = REPL_MSG_VOTE_REPLY, .src = 4, .dst = 3, .epoch = 10,
		  .vote_reply = { .pre_vote = true, .granted = true } },
	};
	for (unsigned i = 0; i < 5; i++) {
		struct repl_msg out;
		size_t n = encode(&ms[i]);
		assert_int_equal(repl_msg_decode(buf, n, &out, NULL, 0), 0);
		assert_int_equal(out.type, ms[i].type);
		assert_int_equal(out.epoch, ms[i].epoch);
		if (out.type == REPL_MSG_SNAPSHOT) {
			assert_int_equal(out.snapshot.meta.index, 50);
			assert_int_equal(out.snapshot.meta.members.learners, 8);
			assert_int_equal(out.snapshot.offset, 6);
			assert_true(out.snapshot.last);
			assert_memory_equal(out.snapshot.data, "wxyz", 4);
		} else {
			assert_memory_equal(&out.ack, &ms[i].ack,
					    out.type == REPL_MSG_ACK ? sizeof(out.ack) : 0);
		}
	}
	struct repl_msg out;
	encode(&ms[3]);
	assert_int_equal(repl_msg_decode(buf, repl_msg_encoded_bytes(&ms[3]), &out, NULL, 0), 0);
	assert_true(out.vote.pre_vote);
	assert_int_equal(out.vote.last_index, 77);
	assert_int_equal(out.vote.last_epoch, 9);
}

static void test_truncated_at_every_byte(void **state)
{
	(void)state;
	struct repl_entry e[3], d[8];
	struct repl_msg m = append_msg(e), out;
	size_t n = encode(&m);
	for (size_t len = 0; len < n; len++) {
		/* Copy into an exact-size heap block so ASan catches any over-read. */
		uint8_t *p = malloc(len ? len : 1);
		memcpy(p, buf, len);
		int rc = repl_msg_decode(p, len, &out, d, 8);
		assert_true(rc == -EBADMSG);
		free(p);
	}
	buf[n] = 0;
	assert_int_equal(repl_msg_decode(buf, n + 1, &out, d, 8), -EBADMSG); /* trailing byte */
}

static void test_refuses_bad_fields(void **state)
{
	(void)state;
	struct repl_entry e[3], d[8];
	struct repl_msg m = append_msg(e), out;
	size_t n = encode(&m);
	uint8_t copy[256];
	memcpy(copy, buf, n);
	struct { size_t off; uint8_t val; int rc; } cases[] = {
		{ 0, 2, -EPROTONOSUPPORT },  /* version */
		{ 1, 0, -EBADMSG },          /* type 0 */
		{ 1, 7, -EBADMSG },          /* unknown type */
		{ 2, 64, -EBADMSG },         /* source out of range */
		{ 3, 200, -EBADMSG },        /* destination out of range */
		{ 4, 1, -EBADMSG },          /* reserved header byte */
		{ 52, 1, -EBADMSG },         /* reserved after n_entries */
		{ 48, 4, -EBADMSG },         /* n_entries larger than what follows */
		{ 56 + 8, 0, -EBADMSG },     /* entry type 0 */
		{ 56 + 8, 4, -EBADMSG },     /* entry type unknown */
		{ 56 + 9, 1, -EBADMSG },     /* entry padding */
		{ 56 + 12, 1, -EBADMSG },    /* entry length past the end */
		{ 56 + 15, 0x80, -EBADMSG }, /* entry length above the maximum */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(buf, copy, n);
		buf[cases[i].off] = cases[i].val;
		assert_int_equal(repl_msg_decode(buf, n, &out, d, 8), cases[i].rc);
	}
	memcpy(buf, copy, n);
	assert_int_equal(repl_msg_decode(buf, n, &out, d, 2), -EBADMSG); /* too many entries */
	assert_int_equal(repl_msg_decode(buf, n, &out, d, 3), 0);
}

static void test_refuses_bad_values(void **state)
{
	(void)state;
	struct repl_msg out, ack = { .type = REPL_MSG_ACK, .src = 1, .dst = 0, .epoch = 1 };
	size_t n = encode(&ack);
	buf[16] = 3; /* status */
	assert_int_equal(repl_msg_decode(buf, n, &out, NULL, 0), -EBADMSG);
	struct repl_msg vr = { .type = REPL_MSG_VOTE_REPLY, .src = 1, .dst = 0, .epoch = 1 };
	n = encode(&vr);
	buf[17] = 2; /* a boolean that is neither 0 nor 1 */
	assert_int_equal(repl_msg_decode(buf, n, &out, NULL, 0), -EBADMSG);
	/* A snapshot chunk past its total, or "last" that is not the end. */
	struct repl_msg s = { .type = REPL_MSG_SNAPSHOT, .src = 0, .dst = 1, .epoch = 1 };
	s.snapshot = (struct repl_msg_snapshot){ .meta = { .index = 5, .epoch = 1, .total_bytes = 8 },
						 .offset = 6, .len = 2, .last = true,
						 .data = (const uint8_t *)"ab" };
	n = encode(&s);
	assert_int_equal(repl_msg_decode(buf, n, &out, NULL, 0), 0);
	buf[16 + 16] = 7; /* total_bytes 7 < offset + len */
	assert_int_equal(repl_msg_decode(buf, n, &out, NULL, 0), -EBADMSG);
	buf[16 + 16] = 9; /* total 9: then last is a lie */
	assert_int_equal(repl_msg_decode(buf, n, &out, NULL, 0), -EBADMSG);
	/* prev_index + n_entries overflowing */
	struct repl_entry e[1] = { { .epoch = 1, .type = REPL_ENTRY_NOOP } };
	struct repl_msg a = { .type = REPL_MSG_APPEND, .src = 0, .dst = 1, .epoch = 1 };
	a.append = (struct repl_msg_append){ .prev_index = UINT64_MAX, .n_entries = 1, .entries = e };
	n = encode(&a);
	struct repl_entry d[1];
	assert_int_equal(repl_msg_decode(buf, n, &out, d, 1), -EBADMSG);
}

static void test_encode_limits(void **state)
{
	(void)state;
	struct repl_entry e[3];
	struct repl_msg m = append_msg(e);
	assert_int_equal(repl_msg_encode(&m, buf, repl_msg_encoded_bytes(&m) - 1), -EMSGSIZE);
	e[1].len = REPL_ENTRY_BYTES_MAX + 1;
	assert_int_equal(repl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = append_msg(e);
	m.append.n_entries = REPL_MSG_ENTRIES_MAX + 1;
	assert_int_equal(repl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	m = append_msg(e);
	m.type = 9;
	assert_int_equal(repl_msg_encode(&m, buf, sizeof(buf)), -EINVAL);
	assert_string_equal(repl_msg_type_name(REPL_MSG_SNAPSHOT_ACK), "SNAPSHOT_ACK");
	assert_string_equal(repl_msg_type_name(42), "?");
}

/* Random bytes never crash the decoder (ASan watches the reads). */
static void test_random_bytes(void **state)
{
	(void)state;
	uint64_t x = 88172645463325252ull;
	struct repl_entry d[REPL_MSG_ENTRIES_MAX];
	struct repl_msg out;
	for (unsigned iter = 0; iter < 20000; iter++) {
		size_t len = iter % 200;
		uint8_t *p = malloc(len ? len : 1);
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			p[i] = (uint8_t)x;
		}
		if (len > 1) {
			p[0] = REPL_WIRE_VERSION;
			p[1] = (uint8_t)(1 + iter % 6);
		}
		(void)repl_msg_decode(p, len, &out, d, REPL_MSG_ENTRIES_MAX);
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_round_trip),
		cmocka_unit_test(test_little_endian_layout),
		cmocka_unit_test(test_every_type_round_trips),
		cmocka_unit_test(test_truncated_at_every_byte),
		cmocka_unit_test(test_refuses_bad_fields),
		cmocka_unit_test(test_refuses_bad_values),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_random_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
