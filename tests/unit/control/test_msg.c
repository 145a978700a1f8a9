/* The control messages' wire form: every type round-trips, truncation at every byte and
 * trailing bytes are refused, arrays never overflow the caller's space, and reserved bytes,
 * booleans and node ids are checked. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "control/core/ctl.h"

static uint8_t buf[4096];
static struct ctl_lane_status st_space[8];
static struct repl_config cfg_space[8];
static uint32_t id_space[8];
static const struct ctl_decode_space space = { .status = st_space, .cfg = cfg_space,
					       .lane_ids = id_space, .cap = 8 };

static size_t enc(const struct ctl_msg *m)
{
	ssize_t n = ctl_msg_encode(m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, ctl_msg_encoded_bytes(m));
	return (size_t)n;
}

static void test_report_round_trip(void **state)
{
	(void)state;
	struct ctl_lane_status lanes[2] = {
		{ .lane = 3, .epoch = 7, .role = REPL_ROLE_PRIMARY, .voters = 7, .caught_up = 6,
		  .handoff_ready = true },
		{ .lane = 9, .epoch = 2, .role = REPL_ROLE_FOLLOWER, .voters = 7, .damaged = true },
	};
	struct ctl_msg m = { .type = CTL_MSG_REPORT, .node = 5, .term = 11 };
	m.hb = (struct ctl_msg_heartbeat){ .incarnation = 3, .progress = 99, .peers_heard = 0x2f,
					   .alive = true, .n_lanes = 2, .lanes = lanes };
	size_t n = enc(&m);
	assert_int_equal(n, 16 + 32 + 64);
	struct ctl_msg out;
	assert_int_equal(ctl_msg_decode(buf, n, &out, &space), 0);
	assert_int_equal(out.type, CTL_MSG_REPORT);
	assert_int_equal(out.node, 5);
	assert_int_equal(out.term, 11);
	assert_int_equal(out.hb.progress, 99);
	assert_int_equal(out.hb.peers_heard, 0x2f);
	assert_true(out.hb.alive);
	assert_int_equal(out.hb.n_lanes, 2);
	assert_int_equal(out.hb.lanes[0].caught_up, 6);
	assert_true(out.hb.lanes[0].handoff_ready);
	assert_true(out.hb.lanes[1].damaged);
	assert_int_equal(out.hb.lanes[1].lane, 9);
	for (size_t len = 0; len < n; len++)
		assert_int_equal(ctl_msg_decode(buf, len, &out, &space), -EBADMSG);
	assert_int_equal(ctl_msg_decode(buf, n + 1, &out, &space), -EBADMSG);
	struct ctl_decode_space small = space;
	small.cap = 1;
	assert_int_equal(ctl_msg_decode(buf, n, &out, &small), -EBADMSG);
}

static void test_other_types(void **state)
{
	(void)state;
	struct repl_config cfg[1] = { { .epoch = 4, .primary = 2, .members = { .voters = 7 } } };
	uint32_t ids[1] = { 12 };
	struct ctl_msg c = { .type = CTL_MSG_CONFIG, .node = 1 };
	c.config = (struct ctl_msg_config){ .n = 1, .lanes_cfg = cfg, .lane_ids = ids };
	struct ctl_msg out;
	size_t n = enc(&c);
	assert_int_equal(ctl_msg_decode(buf, n, &out, &space), 0);
	assert_int_equal(out.config.n, 1);
	assert_int_equal(out.config.lane_ids[0], 12);
	assert_int_equal(out.config.lanes_cfg[0].primary, 2);
	assert_int_equal(out.config.lanes_cfg[0].epoch, 4);
	struct ctl_msg p = { .type = CTL_MSG_PROMISE, .node = 2 };
	p.promise = (struct ctl_msg_promise){ .lane = 5, .incarnation = 31, .promise = { .epoch = 9, .last_epoch = 8,
								   .last_index = 1234,
								   .was_primary = true } };
	n = enc(&p);
	assert_int_equal(ctl_msg_decode(buf, n, &out, &space), 0);
	assert_int_equal(out.promise.lane, 5);
	assert_int_equal(out.promise.incarnation, 31);
	assert_int_equal(out.promise.promise.last_index, 1234);
	assert_true(out.promise.promise.was_primary);
	assert_false(out.promise.promise.damaged);
	struct ctl_msg h = { .type = CTL_MSG_HANDOFF, .node = 0 };
	h.prepare = (struct ctl_msg_prepare){ .lane = 1, .epoch = 3, .target = 4 };
	n = enc(&h);
	assert_int_equal(ctl_msg_decode(buf, n, &out, &space), 0);
	assert_int_equal(out.type, CTL_MSG_HANDOFF);
	assert_int_equal(out.prepare.target, 4);
	assert_int_equal(out.prepare.epoch, 3);
}

static void test_refuses_bad_fields(void **state)
{
	(void)state;
	struct ctl_msg p = { .type = CTL_MSG_PROMISE, .node = 2 };
	size_t n = enc(&p);
	uint8_t copy[64];
	memcpy(copy, buf, n);
	struct { size_t off; uint8_t v; int rc; } cases[] = {
		{ 0, 7, -EPROTONOSUPPORT }, { 1, 0, -EBADMSG }, { 1, 7, -EBADMSG },
		{ 2, 64, -EBADMSG }, { 3, 1, -EBADMSG }, { 20, 2, -EBADMSG }, { 22, 1, -EBADMSG },
	};
	struct ctl_msg out;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(buf, copy, n);
		buf[cases[i].off] = cases[i].v;
		assert_int_equal(ctl_msg_decode(buf, n, &out, &space), cases[i].rc);
	}
	struct ctl_msg bad = { .type = 9 };
	assert_int_equal(ctl_msg_encode(&bad, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(ctl_msg_encode(&p, buf, 10), -EMSGSIZE);
	/* Random bytes never crash the decoder. */
	uint64_t x = 7;
	for (unsigned iter = 0; iter < 20000; iter++) {
		size_t len = iter % 120;
		uint8_t *q = malloc(len ? len : 1);
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			q[i] = (uint8_t)x;
		}
		if (len > 2) {
			q[0] = CTL_WIRE_VERSION;
			q[1] = (uint8_t)(1 + iter % 6);
		}
		(void)ctl_msg_decode(q, len, &out, &space);
		free(q);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_round_trip),
		cmocka_unit_test(test_other_types),
		cmocka_unit_test(test_refuses_bad_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
