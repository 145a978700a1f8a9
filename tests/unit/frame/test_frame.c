/* The frame codec: the byte layout of every header field, round trips, fragment layouts,
 * and every kind of foreign, corrupt, truncated and other-version frame, each classified as
 * what it is and never accepted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/crc.h"
#include "frame/frame.h"

#define SELF 3
#define PEER 7
#define CLUSTER 0xC0FFEE11u
#define LANES 16
#define PORT_BASE 17500
#define SELF_IP 0x0a630003u /* 10.99.0.3 */
#define PEER_IP 0x0a630007u

static const struct frame_filter filter = {
	.cluster_id = CLUSTER, .self_node = SELF, .lanes = LANES,
	.peers_mask = (1ull << PEER) | (1ull << 1) | (1ull << SELF),
	.self_ip = SELF_IP, .port_base = PORT_BASE,
};

static struct frame_hdr hdr_sample(uint32_t msg_len)
{
	return (struct frame_hdr){ .type = FRAME_TYPE_DATA, .cluster_id = CLUSTER,
		.src_node = PEER, .dst_node = SELF, .lane = 5, .msg_len = msg_len,
		.msg_id = 0x0102030405060708ull, .msg_crc = 0xA1B2C3D4u };
}

/* Encodes fragment index of a msg_len message at stride, with payload bytes p[i] = i ^ 0x5a. */
static size_t frag_build(uint8_t *buf, struct frame_hdr *h, uint32_t index, uint32_t stride)
{
	frame_hdr_frag_set(h, index, stride);
	for (uint32_t i = 0; i < h->frag_len; i++)
		buf[FRAME_HDR_BYTES + i] = (uint8_t)((h->frag_offset + i) ^ 0x5a);
	frame_hdr_encode(buf, h);
	return FRAME_HDR_BYTES + h->frag_len;
}

/* Recomputes the CRC after a test has written a field directly, so that only the field's
 * own check can reject the frame. */
static void reseal(uint8_t *buf, size_t len)
{
	uint32_t crc = crc32c_extend(0, buf, FRAME_HDR_CRC_OFFSET);
	crc = crc32c_extend(crc, buf + FRAME_HDR_BYTES, len - FRAME_HDR_BYTES);
	frame_put_le32(buf + FRAME_HDR_CRC_OFFSET, crc);
}

static void test_hdr_layout(void **state)
{
	(void)state;
	uint8_t buf[FRAME_HDR_BYTES + 4];
	struct frame_hdr h = hdr_sample(4);
	h.lane = 0x0b0a;
	memcpy(buf + FRAME_HDR_BYTES, "abcd", 4);
	frame_hdr_frag_set(&h, 0, 1424);
	frame_hdr_encode(buf, &h);
	/* Every field where the layout comment says it is, little-endian. */
	assert_memory_equal(buf, "SPND", 4);
	assert_int_equal(buf[4], FRAME_VERSION);
	assert_int_equal(buf[5], FRAME_TYPE_DATA);
	assert_int_equal(frame_get_le16(buf + 6), 0);
	const uint8_t cluster[4] = { 0x11, 0xEE, 0xFF, 0xC0 };
	assert_memory_equal(buf + 8, cluster, 4);
	assert_int_equal(buf[12], PEER);
	assert_int_equal(buf[13], 0);
	assert_int_equal(buf[14], SELF);
	assert_int_equal(buf[16], 0x0a);
	assert_int_equal(buf[17], 0x0b);
	assert_int_equal(frame_get_le16(buf + 18), 0);
	assert_int_equal(frame_get_le16(buf + 20), 1);
	assert_int_equal(frame_get_le16(buf + 22), 4);
	assert_int_equal(frame_get_le32(buf + 24), 0);
	assert_int_equal(frame_get_le32(buf + 28), 4);
	const uint8_t id[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	assert_memory_equal(buf + 32, id, 8);
	assert_int_equal(frame_get_le32(buf + 40), 0xA1B2C3D4u);
	uint32_t crc = crc32c_extend(crc32c(buf, 44), "abcd", 4);
	assert_int_equal(frame_get_le32(buf + 44), crc);
	assert_int_equal(h.crc, crc);
}

static void test_hdr_round_trip_every_field(void **state)
{
	(void)state;
	uint8_t buf[FRAME_HDR_BYTES + 2000];
	struct frame_filter f = filter;
	f.lanes = UINT16_MAX;
	f.peers_mask = UINT64_MAX;
	f.self_node = 63;
	struct frame_hdr in = { .type = FRAME_TYPE_DATA, .cluster_id = CLUSTER, .src_node = 62,
		.dst_node = 63, .lane = 0xfffe, .msg_len = 5000, .msg_id = UINT64_MAX - 1,
		.msg_crc = 0xfeedfaceu };
	size_t len = frag_build(buf, &in, 2, 1500);
	struct frame_hdr out;
	assert_int_equal(frame_hdr_decode(buf, len, &f, &out), FRAME_RX_OK);
	assert_int_equal(out.version, FRAME_VERSION);
	assert_int_equal(out.type, FRAME_TYPE_DATA);
	assert_int_equal(out.flags, 0);
	assert_int_equal(out.cluster_id, CLUSTER);
	assert_int_equal(out.src_node, 62);
	assert_int_equal(out.dst_node, 63);
	assert_int_equal(out.lane, 0xfffe);
	assert_int_equal(out.frag_index, 2);
	assert_int_equal(out.frag_count, 4);
	assert_int_equal(out.frag_len, 1500);
	assert_int_equal(out.frag_offset, 3000);
	assert_int_equal(out.msg_len, 5000);
	assert_true(out.msg_id == UINT64_MAX - 1);
	assert_int_equal(out.msg_crc, 0xfeedfaceu);
	assert_int_equal(out.crc, in.crc);
}

static void test_frag_layout_covers_message(void **state)
{
	(void)state;
	const uint32_t mtus[] = { FRAME_MTU_MIN, 1500, 9000, FRAME_MTU_MAX };
	const uint32_t lens[] = { 0, 1, 1203, 1204, 1205, 1424, 1425, 4096, 65536,
				  FRAME_MSG_BYTES_MAX - 1, FRAME_MSG_BYTES_MAX };
	for (size_t m = 0; m < ARRAY_SIZE(mtus); m++) {
		uint32_t stride = frame_stride_bytes(mtus[m]);
		assert_int_equal(stride, mtus[m] - 76);
		for (size_t l = 0; l < ARRAY_SIZE(lens); l++) {
			struct frame_hdr h = hdr_sample(lens[l]);
			uint32_t n = frame_frag_count(lens[l], stride), next = 0;
			assert_true(n <= FRAME_FRAGS_MAX);
			for (uint32_t i = 0; i < n; i++) {
				frame_hdr_frag_set(&h, i, stride);
				assert_int_equal(h.frag_offset, next);
				assert_true(h.frag_len > 0 || lens[l] == 0);
				next += h.frag_len;
			}
			assert_int_equal(next, lens[l]);
		}
	}
	assert_int_equal(FRAME_FRAGS_MAX, (FRAME_MSG_BYTES_MAX + 1203) / 1204);
}

static void test_every_fragment_decodes(void **state)
{
	(void)state;
	static uint8_t buf[FRAME_HDR_BYTES + FRAME_PAYLOAD_BYTES_MAX];
	const uint32_t strides[] = { FRAME_PAYLOAD_BYTES_MIN, 1424, FRAME_PAYLOAD_BYTES_MAX };
	const uint32_t lens[] = { 0, 1, 1204, 1205, 100000, FRAME_MSG_BYTES_MAX };
	for (size_t s = 0; s < ARRAY_SIZE(strides); s++) {
		for (size_t l = 0; l < ARRAY_SIZE(lens); l++) {
			struct frame_hdr h = hdr_sample(lens[l]), out;
			uint32_t n = frame_frag_count(lens[l], strides[s]);
			for (uint32_t i = 0; i < n; i += (i + 2 < n ? 97 : 1)) {
				size_t len = frag_build(buf, &h, i, strides[s]);
				assert_int_equal(frame_hdr_decode(buf, len, &filter, &out), FRAME_RX_OK);
				assert_int_equal(out.frag_index, i);
			}
		}
	}
}

static void test_any_flipped_bit_is_refused(void **state)
{
	(void)state;
	uint8_t buf[FRAME_HDR_BYTES + 64], copy[sizeof(buf)];
	struct frame_hdr h = hdr_sample(64), out;
	size_t len = frag_build(buf, &h, 0, 1424);
	for (size_t bit = 0; bit < len * 8; bit++) {
		memcpy(copy, buf, len);
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		enum frame_verdict v = frame_hdr_decode(copy, len, &filter, &out);
		assert_int_not_equal(v, FRAME_RX_OK);
		if (bit / 8 < 4)
			assert_int_equal(v, FRAME_RX_FOREIGN);
		else if (bit / 8 == 4)
			assert_int_equal(v, FRAME_RX_VERSION);
		else if (bit / 8 == 22 || bit / 8 == 23)
			assert_int_equal(v, FRAME_RX_MALFORMED); /* the length no longer matches */
		else
			assert_int_equal(v, FRAME_RX_CHECKSUM);
	}
}

static void test_foreign_version_truncated(void **state)
{
	(void)state;
	uint8_t buf[FRAME_HDR_BYTES + 100];
	struct frame_hdr h = hdr_sample(100), out;
	size_t len = frag_build(buf, &h, 0, 1424);
	assert_int_equal(frame_hdr_decode(buf, 0, &filter, &out), FRAME_RX_FOREIGN);
	assert_int_equal(frame_hdr_decode(buf, 3, &filter, &out), FRAME_RX_FOREIGN);
	assert_int_equal(frame_hdr_decode(buf, 4, &filter, &out), FRAME_RX_MALFORMED);
	for (size_t cut = 5; cut < len; cut++)
		assert_int_equal(frame_hdr_decode(buf, cut, &filter, &out), FRAME_RX_MALFORMED);
	/* Trailing bytes after the payload are as wrong as missing ones. */
	uint8_t longer[sizeof(buf) + 1];
	memcpy(longer, buf, len);
	longer[len] = 0;
	assert_int_equal(frame_hdr_decode(longer, len + 1, &filter, &out), FRAME_RX_MALFORMED);
	/* Another cluster, with a valid checksum: foreign. */
	struct frame_filter other = filter;
	other.cluster_id = CLUSTER + 1;
	assert_int_equal(frame_hdr_decode(buf, len, &other, &out), FRAME_RX_FOREIGN);
	/* Another version is not looked at beyond its version byte, whatever its length. */
	buf[4] = FRAME_VERSION + 1;
	assert_int_equal(frame_hdr_decode(buf, len, &filter, &out), FRAME_RX_VERSION);
	assert_int_equal(frame_hdr_decode(buf, 5, &filter, &out), FRAME_RX_VERSION);
	buf[4] = 0;
	assert_int_equal(frame_hdr_decode(buf, len, &filter, &out), FRAME_RX_VERSION);
}

/* A node of another release: frames written at the version spoken, refused by a node that
 * speaks another one, which learns the version it got; and back. */
static void test_version_spoken(void **state)
{
	(void)state;
	uint8_t buf[FRAME_HDR_BYTES + 40];
	struct frame_hdr h = hdr_sample(40), out;
	assert_int_equal(frame_version_get(), FRAME_VERSION);
	assert_int_equal(frame_version_set(0), -EINVAL);
	assert_int_equal(frame_version_set(256), -EINVAL);
	assert_int_equal(frame_version_get(), FRAME_VERSION);
	size_t len = frag_build(buf, &h, 0, 1424);           /* written at FRAME_VERSION */
	assert_int_equal(frame_version_set(FRAME_VERSION + 1), 0);
	out.version = 0;
	assert_int_equal(frame_hdr_decode(buf, len, &filter, &out), FRAME_RX_VERSION);
	assert_int_equal(out.version, FRAME_VERSION);
	len = frag_build(buf, &h, 0, 1424);                  /* written at FRAME_VERSION + 1 */
	assert_int_equal(buf[4], FRAME_VERSION + 1);
	assert_int_equal(frame_hdr_decode(buf, len, &filter, &out), FRAME_RX_OK);
	assert_int_equal(frame_version_set(FRAME_VERSION), 0);
	assert_int_equal(frame_hdr_decode(buf, len, &filter, &out), FRAME_RX_VERSION);
	assert_int_equal(out.version, FRAME_VERSION + 1);
}

/* The refusal is said at once, then at most once per period, with the count so far. */
static void test_version_log_rate(void **state)
{
	(void)state;
	struct frame_version_log l = { 0 };
	uint64_t t = 5000;
	assert_true(frame_version_log_due(&l, t));
	assert_false(frame_version_log_due(&l, t + 1));
	assert_false(frame_version_log_due(&l, t + FRAME_VERSION_LOG_EVERY_NS - 1));
	assert_true(frame_version_log_due(&l, t + FRAME_VERSION_LOG_EVERY_NS));
	assert_int_equal(l.refused, 4);
	assert_false(frame_version_log_due(&l, t + FRAME_VERSION_LOG_EVERY_NS + 1));
	assert_int_equal(l.refused, 5);
}

/* Writes a field at off (of width 1, 2 or 4), reseals, and expects MALFORMED. */
static void expect_malformed(const uint8_t *good, size_t len, size_t off, int width, uint32_t v)
{
	uint8_t buf[FRAME_HDR_BYTES + 4096];
	struct frame_hdr out;
	memcpy(buf, good, len);
	if (width == 1)
		buf[off] = (uint8_t)v;
	else if (width == 2)
		frame_put_le16(buf + off, (uint16_t)v);
	else
		frame_put_le32(buf + off, v);
	reseal(buf, len);
	if (frame_hdr_decode(buf, len, &filter, &out) != FRAME_RX_MALFORMED) {
		fprintf(stderr, "field at %zu width %d value %u accepted\n", off, width, v);
		fail();
	}
}

static void test_impossible_fields_are_malformed(void **state)
{
	(void)state;
	uint8_t single[FRAME_HDR_BYTES + 100], mid[FRAME_HDR_BYTES + 1424];
	uint8_t last[FRAME_HDR_BYTES + 1424];
	struct frame_hdr h = hdr_sample(100);
	size_t single_len = frag_build(single, &h, 0, 1424);
	h = hdr_sample(3000);
	size_t mid_len = frag_build(mid, &h, 1, 1424);   /* 1424 bytes at 1424 */
	size_t last_len = frag_build(last, &h, 2, 1424); /* 152 bytes at 2848 */
	expect_malformed(single, single_len, 5, 1, 0);        /* type */
	expect_malformed(single, single_len, 5, 1, 9);
	expect_malformed(single, single_len, 6, 2, 1);        /* flags */
	expect_malformed(single, single_len, 12, 2, 2);       /* unknown source node */
	expect_malformed(single, single_len, 12, 2, 64);
	expect_malformed(single, single_len, 12, 2, SELF);    /* from ourselves */
	expect_malformed(single, single_len, 14, 2, PEER);    /* not for us */
	expect_malformed(single, single_len, 16, 2, LANES);   /* no such lane */
	expect_malformed(single, single_len, 18, 2, 1);       /* index >= count */
	expect_malformed(single, single_len, 20, 2, 0);       /* count 0 */
	expect_malformed(single, single_len, 24, 4, 1);       /* single with an offset */
	expect_malformed(single, single_len, 28, 4, 101);     /* single shorter than message */
	expect_malformed(single, single_len, 28, 4, FRAME_MSG_BYTES_MAX + 1);
	expect_malformed(mid, mid_len, 20, 2, FRAME_FRAGS_MAX + 1);
	expect_malformed(mid, mid_len, 20, 2, 2);       /* 3000 bytes cannot be 2 x 1424 */
	expect_malformed(mid, mid_len, 20, 2, 4);       /* nor 4 */
	expect_malformed(mid, mid_len, 24, 4, 1425);    /* stride disagrees with the length */
	expect_malformed(mid, mid_len, 24, 4, 1000);    /* stride below the minimum */
	expect_malformed(mid, mid_len, 28, 4, 5000);    /* count disagrees with the length */
	expect_malformed(last, last_len, 24, 4, 2847);  /* offset not a multiple of the index */
	expect_malformed(last, last_len, 28, 4, 3001);  /* last fragment does not end it */
	expect_malformed(last, last_len, 24, 4, 2846);
	expect_malformed(last, last_len, 18, 2, 1);     /* a short non-last fragment */
	expect_malformed(mid, mid_len, 18, 2, 0);       /* index 0 with an offset */
}

static void test_inet_sum_rfc1071(void **state)
{
	(void)state;
	const uint8_t rfc[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	assert_int_equal(frame_inet_fold(frame_inet_sum(0, rfc, sizeof(rfc))), 0xddf2);
	/* An odd length pads with a zero byte. */
	const uint8_t odd[] = { 0x12, 0x34, 0x56 };
	assert_int_equal(frame_inet_fold(frame_inet_sum(0, odd, 3)), 0x1234 + 0x5600);
}

static const struct frame_addr addr = {
	.src_mac = { 0x02, 0, 0, 0, 0, 7 }, .dst_mac = { 0x02, 0, 0, 0, 0, 3 },
	.src_ip = PEER_IP, .dst_ip = SELF_IP, .src_port = PORT_BASE + 5, .dst_port = PORT_BASE + 5,
};

static size_t eth_frame_build(uint8_t *buf, uint32_t msg_len)
{
	struct frame_hdr h = hdr_sample(msg_len);
	size_t plen = frag_build(buf + FRAME_L2L4_BYTES, &h, 0, 1424);
	frame_l2l4_encode(buf, &addr, plen, false);
	return FRAME_L2L4_BYTES + plen;
}

static void test_l2l4_round_trip_and_checksums(void **state)
{
	(void)state;
	uint8_t buf[2048];
	size_t len = eth_frame_build(buf, 777);
	assert_int_equal(frame_get_be16(buf + 12), FRAME_ETHERTYPE_IPV4);
	/* The IPv4 header sums to 0xffff with its checksum in. */
	assert_int_equal(frame_inet_fold(frame_inet_sum(0, buf + 14, 20)), 0xffff);
	frame_udp_csum_set(buf, len);
	uint8_t pseudo[12] = { 0 };
	memcpy(pseudo, buf + 26, 8);
	pseudo[9] = 17;
	frame_put_be16(pseudo + 10, (uint16_t)(len - 34));
	uint32_t sum = frame_inet_sum(frame_inet_sum(0, pseudo, 12), buf + 34, len - 34);
	assert_int_equal(frame_inet_fold(sum), 0xffff);

	struct frame_addr a;
	struct frame_hdr h;
	const uint8_t *payload;
	assert_int_equal(frame_decode(buf, len, &filter, &a, &h, &payload), FRAME_RX_OK);
	assert_memory_equal(a.src_mac, addr.src_mac, 6);
	assert_memory_equal(a.dst_mac, addr.dst_mac, 6);
	assert_int_equal(a.src_ip, PEER_IP);
	assert_int_equal(a.src_port, PORT_BASE + 5);
	assert_int_equal(a.dst_port, PORT_BASE + 5);
	assert_int_equal(h.msg_len, 777);
	assert_ptr_equal(payload, buf + FRAME_L2L4_BYTES + FRAME_HDR_BYTES);
	assert_int_equal(payload[10], 10 ^ 0x5a);
}

static void test_l2l4_padding_and_options(void **state)
{
	(void)state;
	uint8_t buf[2048];
	struct frame_addr a;
	struct frame_hdr h;
	const uint8_t *payload;
	/* A 1-byte message makes a 91-byte frame; pad it as a NIC would pad a short one, and
	 * the IP length, not the frame length, decides. */
	size_t len = eth_frame_build(buf, 1);
	memset(buf + len, 0xee, 64);
	assert_int_equal(frame_decode(buf, len + 64, &filter, &a, &h, &payload), FRAME_RX_OK);
	/* Four bytes of IP options (IHL 6) are skipped. */
	uint8_t opt[2048];
	memcpy(opt, buf, 34);
	memset(opt + 34, 1, 4); /* NOP options */
	memcpy(opt + 38, buf + 34, len - 34);
	opt[14] = 0x46;
	frame_put_be16(opt + 16, (uint16_t)(len - 14 + 4));
	frame_put_be16(opt + 24, 0);
	frame_put_be16(opt + 24, (uint16_t)~frame_inet_fold(frame_inet_sum(0, opt + 14, 24)));
	assert_int_equal(frame_decode(opt, len + 4, &filter, &a, &h, &payload), FRAME_RX_OK);
	assert_int_equal(h.msg_len, 1);
}

static enum frame_verdict decode_len(const uint8_t *buf, size_t len)
{
	struct frame_addr a;
	struct frame_hdr h;
	const uint8_t *payload;
	return frame_decode(buf, len, &filter, &a, &h, &payload);
}

static void test_l2l4_foreign_and_corrupt(void **state)
{
	(void)state;
	uint8_t good[2048], buf[2048];
	size_t len = eth_frame_build(good, 300);
#define MUTATE(stmt, verdict) do { memcpy(buf, good, len); stmt; \
	assert_int_equal(decode_len(buf, len), verdict); } while (0)
	MUTATE(frame_put_be16(buf + 12, 0x86dd), FRAME_RX_FOREIGN);          /* IPv6 */
	MUTATE(frame_put_be16(buf + 12, 0x8100), FRAME_RX_FOREIGN);          /* VLAN tag */
	MUTATE(frame_put_be16(buf + 12, FRAME_ETHERTYPE_ARP), FRAME_RX_ARP);
	MUTATE(buf[14] = 0x65, FRAME_RX_FOREIGN);                            /* IP version 6 */
	MUTATE(buf[14] = 0x44, FRAME_RX_FOREIGN);                            /* IHL too short */
	MUTATE(buf[23] = 6, FRAME_RX_FOREIGN);                               /* TCP */
	MUTATE(buf[33] ^= 1, FRAME_RX_FOREIGN);                              /* another host */
	MUTATE(frame_put_be16(buf + 36, PORT_BASE - 1), FRAME_RX_FOREIGN);   /* below the range */
	MUTATE(frame_put_be16(buf + 36, PORT_BASE + LANES), FRAME_RX_FOREIGN);
	MUTATE(buf[22] ^= 1, FRAME_RX_CHECKSUM);                             /* TTL, IP csum */
	MUTATE(buf[27] ^= 0x10, FRAME_RX_CHECKSUM);                          /* source address */
	/* Corrupt UDP header fields that the IP checksum does not cover. */
	MUTATE(frame_put_be16(buf + 38, (uint16_t)(len - 34 - 1)), FRAME_RX_MALFORMED);
	MUTATE(frame_put_be16(buf + 36, PORT_BASE + 6), FRAME_RX_MALFORMED); /* lane != port */
	/* Payload corruption is the spindle CRC's to find. */
	MUTATE(buf[len - 1] ^= 0x80, FRAME_RX_CHECKSUM);
	MUTATE(buf[FRAME_L2L4_BYTES + 9] ^= 0x01, FRAME_RX_CHECKSUM);
#undef MUTATE
	/* IP fragments, with a correct IP checksum. */
	memcpy(buf, good, len);
	frame_put_be16(buf + 20, 0x2000);
	frame_put_be16(buf + 24, 0);
	frame_put_be16(buf + 24, (uint16_t)~frame_inet_fold(frame_inet_sum(0, buf + 14, 20)));
	assert_int_equal(decode_len(buf, len), FRAME_RX_MALFORMED);
	/* Truncated anywhere: never accepted. */
	for (size_t cut = 0; cut < len; cut++)
		assert_int_not_equal(decode_len(good, cut), FRAME_RX_OK);
	assert_int_equal(decode_len(good, len - 1), FRAME_RX_MALFORMED);
	assert_int_equal(decode_len(good, 13), FRAME_RX_FOREIGN);
}

static void test_arp(void **state)
{
	(void)state;
	uint8_t buf[128];
	struct frame_arp req = { .op = FRAME_ARP_REQUEST, .sender_mac = { 2, 0, 0, 0, 0, 3 },
		.sender_ip = SELF_IP, .target_ip = PEER_IP }, out;
	size_t len = frame_arp_encode(buf, &req);
	assert_int_equal(len, FRAME_ETH_MIN_BYTES);
	const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	assert_memory_equal(buf, bcast, 6);
	assert_int_equal(decode_len(buf, len), FRAME_RX_ARP);
	assert_int_equal(frame_arp_decode(buf, len, &out), FRAME_RX_OK);
	assert_int_equal(out.op, FRAME_ARP_REQUEST);
	assert_int_equal(out.sender_ip, SELF_IP);
	assert_int_equal(out.target_ip, PEER_IP);
	assert_memory_equal(out.sender_mac, req.sender_mac, 6);

	struct frame_arp rep = { .op = FRAME_ARP_REPLY, .sender_mac = { 2, 0, 0, 0, 0, 7 },
		.sender_ip = PEER_IP, .target_mac = { 2, 0, 0, 0, 0, 3 }, .target_ip = SELF_IP };
	len = frame_arp_encode(buf, &rep);
	assert_memory_equal(buf, rep.target_mac, 6);
	assert_int_equal(frame_arp_decode(buf, len, &out), FRAME_RX_OK);
	assert_int_equal(out.op, FRAME_ARP_REPLY);
	assert_memory_equal(out.target_mac, rep.target_mac, 6);

	assert_int_equal(frame_arp_decode(buf, 41, &out), FRAME_RX_MALFORMED);
	buf[21] = 3; /* op 3 */
	assert_int_equal(frame_arp_decode(buf, len, &out), FRAME_RX_MALFORMED);
	buf[15] = 6; /* hardware type 6 */
	assert_int_equal(frame_arp_decode(buf, len, &out), FRAME_RX_FOREIGN);
	frame_put_be16(buf + 12, FRAME_ETHERTYPE_IPV4);
	assert_int_equal(frame_arp_decode(buf, len, &out), FRAME_RX_FOREIGN);
}

static void test_verdict_names(void **state)
{
	(void)state;
	assert_string_equal(frame_verdict_name(FRAME_RX_OK), "ok");
	assert_string_equal(frame_verdict_name(FRAME_RX_CHECKSUM), "checksum");
	assert_string_equal(frame_verdict_name((enum frame_verdict)99), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr_layout),
		cmocka_unit_test(test_hdr_round_trip_every_field),
		cmocka_unit_test(test_frag_layout_covers_message),
		cmocka_unit_test(test_every_fragment_decodes),
		cmocka_unit_test(test_any_flipped_bit_is_refused),
		cmocka_unit_test(test_foreign_version_truncated),
		cmocka_unit_test(test_version_spoken),
		cmocka_unit_test(test_version_log_rate),
		cmocka_unit_test(test_impossible_fields_are_malformed),
		cmocka_unit_test(test_inet_sum_rfc1071),
		cmocka_unit_test(test_l2l4_round_trip_and_checksums),
		cmocka_unit_test(test_l2l4_padding_and_options),
		cmocka_unit_test(test_l2l4_foreign_and_corrupt),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_verdict_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
