/* spindle-control's wire forms: management datagrams round-trip and refuse every corruption
 * (a flipped bit anywhere, truncation, trailing bytes, another cluster, version or
 * destination); the dataplane link's framer cuts a stream fed in pieces of every size,
 * refuses an oversized length, and frames what ctl_msg_encode makes; the leader's view
 * round-trips and refuses bad counts and ids. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/wire.h"

static uint8_t buf[CTLD_DGRAM_BYTES_MAX];

static void test_dgram_round_trip(void **state)
{
	(void)state;
	const uint8_t payload[] = "the control group's append";
	struct ctld_dgram d = { .kind = CTLD_KIND_RAFT, .cluster_id = 77, .src = 3, .dst = 5,
				.payload = payload, .len = sizeof(payload) };
	ssize_t n = ctld_dgram_encode(&d, buf, sizeof(buf));
	assert_int_equal(n, CTLD_DGRAM_HDR_BYTES + sizeof(payload));
	struct ctld_dgram out;
	assert_int_equal(ctld_dgram_decode(buf, (size_t)n, 77, 5, &out), 0);
	assert_int_equal(out.kind, CTLD_KIND_RAFT);
	assert_int_equal(out.src, 3);
	assert_int_equal(out.dst, 5);
	assert_int_equal(out.len, sizeof(payload));
	assert_memory_equal(out.payload, payload, sizeof(payload));
	/* Not ours: another cluster, another destination. */
	assert_int_equal(ctld_dgram_decode(buf, (size_t)n, 78, 5, &out), -EXDEV);
	assert_int_equal(ctld_dgram_decode(buf, (size_t)n, 77, 4, &out), -EDESTADDRREQ);
	/* An empty payload is a datagram too. */
	d.len = 0;
	n = ctld_dgram_encode(&d, buf, sizeof(buf));
	assert_int_equal(n, CTLD_DGRAM_HDR_BYTES);
	assert_int_equal(ctld_dgram_decode(buf, (size_t)n, 77, 5, &out), 0);
	assert_int_equal(out.len, 0);
}

static void test_dgram_refuses_damage(void **state)
{
	(void)state;
	uint8_t payload[100];
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	struct ctld_dgram d = { .kind = CTLD_KIND_CTL, .cluster_id = 1, .src = 1, .dst = 2,
				.payload = payload, .len = sizeof(payload) };
	size_t n = (size_t)ctld_dgram_encode(&d, buf, sizeof(buf));
	struct ctld_dgram out;
	/* Every single bit flipped is caught (checksum, magic, version or a field check). */
	for (size_t byte = 0; byte < n; byte++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			buf[byte] ^= (uint8_t)(1u << bit);
			assert_int_not_equal(ctld_dgram_decode(buf, n, 1, 2, &out), 0);
			buf[byte] ^= (uint8_t)(1u << bit);
		}
	}
	for (size_t len = 0; len < n; len++)
		assert_int_not_equal(ctld_dgram_decode(buf, len, 1, 2, &out), 0);
	assert_int_equal(ctld_dgram_decode(buf, n + 1, 1, 2, &out), -EBADMSG);
	assert_int_equal(ctld_dgram_decode(buf, n, 1, 2, &out), 0);
	/* Another version is told apart from damage (spindle-control says which it got); another
	 * magic is not ours at all. */
	buf[4] = CTLD_WIRE_VERSION + 1;
	assert_int_equal(ctld_dgram_decode(buf, n, 1, 2, &out), -EPROTONOSUPPORT);
	buf[4] = CTLD_WIRE_VERSION;
	buf[0] ^= 1;
	assert_int_equal(ctld_dgram_decode(buf, n, 1, 2, &out), -EBADMSG);
	buf[0] ^= 1;
	/* Too big to send. */
	d.len = CTLD_DGRAM_PAYLOAD_MAX + 1;
	static uint8_t big[CTLD_DGRAM_PAYLOAD_MAX + 1];
	d.payload = big;
	assert_int_equal(ctld_dgram_encode(&d, buf, sizeof(buf)), -EMSGSIZE);
	d.len = sizeof(payload);
	d.payload = payload;
	assert_int_equal(ctld_dgram_encode(&d, buf, 30), -EMSGSIZE);
}

/* ---- The link's framing ---- */

static size_t frame_heartbeat(uint8_t *out, size_t cap, uint64_t progress, uint32_t lanes)
{
	struct ctl_lane_status st[4];
	for (uint32_t k = 0; k < lanes; k++)
		st[k] = (struct ctl_lane_status){ .lane = k, .epoch = 1 + k, .role = k & 1,
						  .voters = 7, .caught_up = 6 };
	struct ctl_msg m = { .type = CTL_MSG_HEARTBEAT, .node = 2 };
	m.hb = (struct ctl_msg_heartbeat){ .incarnation = 9, .progress = progress,
					   .peers_heard = 7, .n_lanes = lanes, .lanes = st };
	ssize_t n = ctld_link_frame_encode(&m, out, cap);
	assert_true(n > CTLD_LINK_LEN_BYTES);
	return (size_t)n;
}

static void test_framer_pieces(void **state)
{
	(void)state;
	uint8_t stream[4096];
	size_t len = 0;
	for (unsigned i = 0; i < 5; i++)
		len += frame_heartbeat(stream + len, sizeof(stream) - len, 100 + i, i % 5);
	/* Fed in pieces of every size from 1 byte up, the same five messages come out. */
	for (size_t piece = 1; piece <= len; piece = piece < 16 ? piece + 1 : piece * 2) {
		struct ctld_framer f;
		assert_int_equal(ctld_framer_init(&f, CTLD_LINK_FRAME_BYTES_MAX), 0);
		unsigned got = 0;
		for (size_t off = 0; off < len;) {
			size_t room;
			uint8_t *p = ctld_framer_space(&f, &room);
			size_t n = piece < len - off ? piece : len - off;
			assert_true(room >= n);
			memcpy(p, stream + off, n);
			ctld_framer_filled(&f, n);
			off += n;
			const uint8_t *msg;
			uint32_t mlen;
			int rc;
			while ((rc = ctld_framer_take(&f, &msg, &mlen)) == 1) {
				struct ctl_msg m;
				struct ctl_lane_status st[4];
				struct ctl_decode_space sp = { .status = st, .cap = 4 };
				assert_int_equal(ctl_msg_decode(msg, mlen, &m, &sp), 0);
				assert_int_equal(m.type, CTL_MSG_HEARTBEAT);
				assert_int_equal(m.hb.progress, 100 + got);
				assert_int_equal(m.hb.n_lanes, got % 5);
				got++;
			}
			assert_int_equal(rc, 0);
		}
		assert_int_equal(got, 5);
		ctld_framer_free(&f);
	}
}

static void test_framer_refuses_oversize(void **state)
{
	(void)state;
	struct ctld_framer f;
	assert_int_equal(ctld_framer_init(&f, CTLD_LINK_FRAME_BYTES_MAX), 0);
	size_t room;
	uint8_t *p = ctld_framer_space(&f, &room);
	uint32_t too_long = CTL_MSG_BYTES_MAX + 1;
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(too_long >> (8 * i));
	ctld_framer_filled(&f, 4);
	const uint8_t *msg;
	uint32_t len;
	assert_int_equal(ctld_framer_take(&f, &msg, &len), -EMSGSIZE);
	/* The largest allowed length waits for its bytes. */
	ctld_framer_reset(&f);
	p = ctld_framer_space(&f, &room);
	assert_true(room >= CTLD_LINK_FRAME_BYTES_MAX);
	uint32_t max = CTL_MSG_BYTES_MAX;
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(max >> (8 * i));
	ctld_framer_filled(&f, 4);
	assert_int_equal(ctld_framer_take(&f, &msg, &len), 0);
	p = ctld_framer_space(&f, &room);
	assert_true(room >= CTL_MSG_BYTES_MAX);
	memset(p, 0xab, CTL_MSG_BYTES_MAX);
	ctld_framer_filled(&f, CTL_MSG_BYTES_MAX);
	assert_int_equal(ctld_framer_take(&f, &msg, &len), 1);
	assert_int_equal(len, CTL_MSG_BYTES_MAX);
	assert_int_equal(ctld_framer_take(&f, &msg, &len), 0);
	ctld_framer_free(&f);
	/* An unencodable message is not framed. */
	struct ctl_msg bad = { .type = 0 };
	assert_true(ctld_link_frame_encode(&bad, buf, sizeof(buf)) < 0);
}

/* ---- The view ---- */

static void test_view_round_trip(void **state)
{
	(void)state;
	static struct ctld_view v, out;
	memset(&v, 0, sizeof(v));
	v.term = 12;
	v.leader = 3;
	v.reporting = (1ull << 1) | (1ull << 3) | (1ull << 63);
	v.alive = (1ull << 1) | (1ull << 3);
	v.healthy = 1ull << 3;
	v.stats = (struct ctl_leader_stats){ 1, 2, 3, 4, 5 };
	v.node[1] = (struct ctld_view_node){ 10, 0xe, 77 };
	v.node[63] = (struct ctld_view_node){ 900, 0, 1 };
	v.n_lanes = 3;
	v.caught_up[0] = 0xe;
	v.lane_flags[2] = CTLD_VIEW_ACTING | CTLD_VIEW_DAMAGED;
	ssize_t n = ctld_view_encode(&v, buf, sizeof(buf));
	assert_int_equal((size_t)n, ctld_view_encoded_bytes(&v));
	assert_int_equal(ctld_view_decode(buf, (size_t)n, &out), 0);
	assert_int_equal(out.term, 12);
	assert_int_equal(out.leader, 3);
	assert_int_equal(out.reporting, v.reporting);
	assert_int_equal(out.alive, v.alive);
	assert_int_equal(out.healthy, v.healthy);
	assert_int_equal(out.stats.prepares_sent, 5);
	assert_int_equal(out.node[1].report_age_ms, 10);
	assert_int_equal(out.node[1].incarnation, 77);
	assert_int_equal(out.node[63].report_age_ms, 900);
	assert_int_equal(out.n_lanes, 3);
	assert_int_equal(out.caught_up[0], 0xe);
	assert_int_equal(out.lane_flags[2], CTLD_VIEW_ACTING | CTLD_VIEW_DAMAGED);
	for (size_t len = 0; len < (size_t)n; len++)
		assert_int_equal(ctld_view_decode(buf, len, &out), -EBADMSG);
	assert_int_equal(ctld_view_decode(buf, (size_t)n + 1, &out), -EBADMSG);
	/* A node listed twice, an impossible id, an unknown flag, a bad count. */
	size_t node0 = 96;
	buf[node0 + 24] = buf[node0];
	assert_int_equal(ctld_view_decode(buf, (size_t)n, &out), -EBADMSG);
	ctld_view_encode(&v, buf, sizeof(buf));
	buf[node0] = 64;
	assert_int_equal(ctld_view_decode(buf, (size_t)n, &out), -EBADMSG);
	ctld_view_encode(&v, buf, sizeof(buf));
	buf[(size_t)n - 16 + 8] = 8;
	assert_int_equal(ctld_view_decode(buf, (size_t)n, &out), -EBADMSG);
	ctld_view_encode(&v, buf, sizeof(buf));
	buf[84] = 4;
	assert_int_equal(ctld_view_decode(buf, (size_t)n, &out), -EBADMSG);
}

/* Random bytes never crash the decoders. */
static void test_decoders_survive_garbage(void **state)
{
	(void)state;
	static struct ctld_view v;
	uint64_t x = 88172645463325252ull;
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = (size_t)(iter % 300);
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = (uint8_t)x;
		}
		struct ctld_dgram d;
		(void)ctld_dgram_decode(buf, len, 1, 2, &d);
		(void)ctld_view_decode(buf, len, &v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dgram_round_trip),
		cmocka_unit_test(test_dgram_refuses_damage),
		cmocka_unit_test(test_framer_pieces),
		cmocka_unit_test(test_framer_refuses_oversize),
		cmocka_unit_test(test_view_round_trip),
		cmocka_unit_test(test_decoders_survive_garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
