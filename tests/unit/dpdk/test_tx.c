/* The DPDK transport's send side, read off the wire: every header and checksum of what it
 * sends, fragments that make the message again, when bursts go out (full, flushed, or after
 * the hold time), ARP requests for unresolved peers, errors, and a full backlog refusing
 * whole messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "base/crc.h"
#include "frame/reasm.h"
#include "fixture.h"

#include <rte_mbuf.h>

#define SELF 1
#define PEER 2
#define ARP_PEER 3

struct tx_fixture {
	struct fx_tap tap;
	struct dpdk_port *port;
	struct xport *x;
	struct fx_recorder rec;
	struct dpdk_port_info info;
};

static int setup_with(void **state, unsigned ring_slots, uint64_t hold_ns)
{
	static unsigned n;
	char name[32];
	snprintf(name, sizeof(name), "tx%u", n++);
	struct tx_fixture *f = calloc(1, sizeof(*f));
	fx_tap_create(&f->tap, name, 1, ring_slots);
	const uint16_t peers[] = { PEER, ARP_PEER };
	struct dpdk_port_config c = fx_config(f->tap.port_id, SELF, 1, peers, 2, 1u << ARP_PEER);
	c.tx_hold_ns = hold_ns;
	f->port = dpdk_port_create(&c);
	assert_non_null(f->port);
	dpdk_port_info_get(f->port, &f->info);
	f->x = dpdk_xport_create(f->port, 0, fx_recv, &f->rec);
	assert_non_null(f->x);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 4096, 3600ull * 1000000000); /* no hold timer unless asked */
}

static int teardown(void **state)
{
	struct tx_fixture *f = *state;
	f->x->ops->destroy(f->x);
	dpdk_port_destroy(f->port);
	fx_tap_free(&f->tap);
	free(f);
	return 0;
}

/* A filter as the peer would use to read what we send. */
static const struct frame_filter peer_filter = {
	.cluster_id = FX_CLUSTER, .self_node = PEER, .lanes = FX_LANES,
	.peers_mask = 1u << SELF, .self_ip = FX_IP(PEER), .port_base = FX_PORT_BASE,
};

static void test_single_frame_on_the_wire(void **state)
{
	struct tx_fixture *f = *state;
	uint8_t msg[100];
	fx_msg_fill(msg, sizeof(msg), 1);
	assert_int_equal(xport_send(f->x, PEER, 1, msg, sizeof(msg)), 0);
	struct rte_mbuf *m[4];
	assert_int_equal(fx_tap_take(&f->tap, 0, m, 4), 0); /* a part-filled burst waits */
	assert_int_equal(xport_flush(f->x), 1);
	assert_int_equal(fx_tap_take(&f->tap, 0, m, 4), 1);
	const uint8_t *b = rte_pktmbuf_mtod(m[0], const uint8_t *);
	size_t len = rte_pktmbuf_data_len(m[0]);
	assert_int_equal(len, FRAME_L2L4_BYTES + FRAME_HDR_BYTES + sizeof(msg));
	uint8_t mac[6];
	fx_mac(PEER, mac);
	assert_memory_equal(b, mac, 6);
	assert_memory_equal(b + 6, f->info.mac, 6);
	/* IPv4 and UDP checksums, done in software on this device, verify. */
	assert_int_equal(frame_inet_fold(frame_inet_sum(0, b + 14, 20)), 0xffff);
	uint8_t pseudo[12] = { 0 };
	memcpy(pseudo, b + 26, 8);
	pseudo[9] = FRAME_IPPROTO_UDP;
	frame_put_be16(pseudo + 10, (uint16_t)(len - 34));
	uint32_t sum = frame_inet_sum(frame_inet_sum(0, pseudo, 12), b + 34, len - 34);
	assert_int_equal(frame_inet_fold(sum), 0xffff);
	assert_int_not_equal(frame_get_be16(b + 40), 0);
	struct frame_addr a;
	struct frame_hdr h;
	const uint8_t *payload;
	assert_int_equal(frame_decode(b, len, &peer_filter, &a, &h, &payload), FRAME_RX_OK);
	assert_int_equal(a.src_ip, FX_IP(SELF));
	assert_int_equal(a.dst_port, FX_PORT_BASE + 1);
	assert_int_equal(h.src_node, SELF);
	assert_int_equal(h.dst_node, PEER);
	assert_int_equal(h.lane, 1);
	assert_int_equal(h.msg_len, sizeof(msg));
	assert_memory_equal(payload, msg, sizeof(msg));
	rte_pktmbuf_free(m[0]);
	struct xport_stats s;
	f->x->ops->stats(f->x, &s);
	assert_int_equal(s.tx_msgs, 1);
	assert_int_equal(s.tx_frames, 1);
	assert_int_equal(s.tx_bytes, sizeof(msg));
}

static void release_mbuf(void *ctx, void *token)
{
	(void)ctx;
	rte_pktmbuf_free(token);
}

/* Reads count frames off the wire and reassembles them, as the peer would. */
static void reassemble_from_wire(struct tx_fixture *f, unsigned count, struct fx_recorder *rec)
{
	struct frame_reasm_config rc = { .release = release_mbuf };
	struct frame_reasm *r = frame_reasm_create(&rc);
	static struct rte_mbuf *m[8192];
	assert_int_equal(fx_tap_take(&f->tap, 0, m, 8192), count);
	for (unsigned i = 0; i < count; i++) {
		struct frame_addr a;
		struct frame_hdr h;
		const uint8_t *payload;
		const uint8_t *b = rte_pktmbuf_mtod(m[i], const uint8_t *);
		assert_int_equal(frame_decode(b, rte_pktmbuf_data_len(m[i]), &peer_filter, &a, &h,
					      &payload), FRAME_RX_OK);
		assert_true(rte_pktmbuf_data_len(m[i]) <= FRAME_ETH_BYTES + FRAME_MTU_DEFAULT);
		if (h.frag_count == 1) {
			fx_recv(rec, h.src_node, h.lane, payload, h.frag_len);
			rte_pktmbuf_free(m[i]);
		} else {
			assert_int_equal(frame_reasm_add(r, &h, payload, m[i], 0, fx_recv, rec), 0);
		}
	}
	frame_reasm_destroy(r);
}

static void test_fragments_and_full_bursts(void **state)
{
	struct tx_fixture *f = *state;
	static uint8_t msg[20000];
	fx_msg_fill(msg, sizeof(msg), 2);
	uint32_t stride = frame_stride_bytes(FRAME_MTU_DEFAULT);
	/* 10000 bytes: 8 frames, which wait for the flush. */
	assert_int_equal(xport_send(f->x, PEER, 3, msg, 10000), 0);
	struct rte_mbuf *m[1];
	assert_int_equal(fx_tap_take(&f->tap, 0, m, 1), 0);
	assert_int_equal(xport_flush(f->x), (int)frame_frag_count(10000, stride));
	struct fx_recorder rec = { 0 };
	reassemble_from_wire(f, frame_frag_count(10000, stride), &rec);
	assert_int_equal(rec.count, 1);
	assert_int_equal(rec.r[0].len, 10000);
	assert_int_equal(rec.r[0].crc, crc32c(msg, 10000));
	/* 15 frames, 30, then 45: a full burst goes out at once, without a flush. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(xport_send(f->x, PEER, 0, msg, sizeof(msg)), 0);
	memset(&rec, 0, sizeof(rec));
	reassemble_from_wire(f, 3 * frame_frag_count(sizeof(msg), stride), &rec);
	assert_int_equal(rec.count, 3);
	assert_int_equal(rec.r[2].crc, crc32c(msg, sizeof(msg)));
	assert_int_equal(xport_flush(f->x), 0);
}

static void test_empty_and_largest_messages(void **state)
{
	struct tx_fixture *f = *state;
	uint8_t *msg = malloc(XPORT_MSG_BYTES_MAX);
	fx_msg_fill(msg, XPORT_MSG_BYTES_MAX, 3);
	assert_int_equal(xport_send(f->x, PEER, 2, msg, 0), 0);
	assert_int_equal(xport_send(f->x, PEER, 2, msg, XPORT_MSG_BYTES_MAX), 0);
	xport_flush(f->x);
	uint32_t n = frame_frag_count(XPORT_MSG_BYTES_MAX, frame_stride_bytes(FRAME_MTU_DEFAULT));
	struct fx_recorder rec = { 0 };
	reassemble_from_wire(f, 1 + n, &rec);
	assert_int_equal(rec.count, 2);
	assert_int_equal(rec.r[0].len, 0);
	assert_int_equal(rec.r[1].len, XPORT_MSG_BYTES_MAX);
	assert_int_equal(rec.r[1].crc, crc32c(msg, XPORT_MSG_BYTES_MAX));
	free(msg);
}

static void test_errors_and_arp_request(void **state)
{
	struct tx_fixture *f = *state;
	uint8_t msg[8] = { 0 };
	assert_int_equal(xport_send(f->x, PEER, 0, msg, XPORT_MSG_BYTES_MAX + 1), -EMSGSIZE);
	assert_int_equal(xport_send(f->x, 5, 0, msg, 8), -EHOSTUNREACH);    /* unknown */
	assert_int_equal(xport_send(f->x, SELF, 0, msg, 8), -EHOSTUNREACH); /* ourselves */
	assert_int_equal(xport_send(f->x, XPORT_NODES_MAX, 0, msg, 8), -EHOSTUNREACH);
	/* A peer whose MAC is not known yet: refused, and one ARP request goes out. */
	assert_int_equal(xport_send(f->x, ARP_PEER, 0, msg, 8), -EAGAIN);
	assert_int_equal(xport_send(f->x, ARP_PEER, 0, msg, 8), -EAGAIN);
	xport_flush(f->x);
	struct rte_mbuf *m[4];
	assert_int_equal(fx_tap_take(&f->tap, 0, m, 4), 1);
	struct frame_arp arp;
	const uint8_t *b = rte_pktmbuf_mtod(m[0], const uint8_t *);
	assert_int_equal(frame_arp_decode(b, rte_pktmbuf_data_len(m[0]), &arp), FRAME_RX_OK);
	assert_int_equal(arp.op, FRAME_ARP_REQUEST);
	assert_int_equal(arp.sender_ip, FX_IP(SELF));
	assert_int_equal(arp.target_ip, FX_IP(ARP_PEER));
	assert_int_equal(b[0], 0xff);
	rte_pktmbuf_free(m[0]);
	struct xport_stats s;
	f->x->ops->stats(f->x, &s);
	assert_int_equal(s.tx_unresolved, 2);
	assert_int_equal(s.tx_msgs, 0);
#ifdef SPINDLE_FAULT_HOOKS
	assert_int_equal(xport_faults_set(f->x, "off"), 0);
#else
	assert_int_equal(xport_faults_set(f->x, "off"), -ENOTSUP);
#endif
}

static void test_hold_timer_sends_part_filled_bursts(void **state)
{
	struct tx_fixture *f = *state;
	uint8_t msg[64] = { 1 };
	assert_int_equal(xport_send(f->x, PEER, 0, msg, sizeof(msg)), 0);
	xport_poll(f->x); /* also queues an ARP request for the unresolved peer */
	struct rte_mbuf *m[4];
	assert_int_equal(fx_tap_take(&f->tap, 0, m, 4), 0);
	struct timespec ts = { .tv_nsec = 3 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	assert_true(xport_poll(f->x) >= 1);
	unsigned n = fx_tap_take(&f->tap, 0, m, 4), data = 0;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *b = rte_pktmbuf_mtod(m[i], const uint8_t *);
		data += frame_get_be16(b + 12) == FRAME_ETHERTYPE_IPV4;
		rte_pktmbuf_free(m[i]);
	}
	assert_int_equal(data, 1);
	assert_int_equal(n, 2);
}

static void test_full_backlog_refuses_whole_messages(void **state)
{
	struct tx_fixture *f = *state;
	static uint8_t msg[65536];
	fx_msg_fill(msg, sizeof(msg), 4);
	uint32_t n = frame_frag_count(sizeof(msg), frame_stride_bytes(FRAME_MTU_DEFAULT));
	unsigned accepted = 0, refused = 0;
	for (int i = 0; i < 200; i++) {
		int rc = xport_send(f->x, PEER, 0, msg, sizeof(msg));
		assert_true(rc == 0 || rc == -ENOBUFS);
		accepted += rc == 0;
		refused += rc == -ENOBUFS;
	}
	assert_true(accepted > 0 && refused > 0);
	struct xport_stats s;
	f->x->ops->stats(f->x, &s);
	assert_int_equal(s.tx_dropped, refused);
	/* Drain the wire turn by turn: exactly the accepted messages' frames come out. */
	unsigned frames = 0;
	static struct rte_mbuf *m[8192];
	for (int turn = 0; turn < 1000; turn++) {
		xport_flush(f->x);
		unsigned got = fx_tap_take(&f->tap, 0, m, 8192);
		for (unsigned i = 0; i < got; i++)
			rte_pktmbuf_free(m[i]);
		frames += got;
		if (got == 0)
			break;
	}
	assert_int_equal(frames, accepted * n);
	assert_int_equal(xport_send(f->x, PEER, 0, msg, sizeof(msg)), 0);
}

static int setup_hold(void **state)
{
	return setup_with(state, 4096, 1000000); /* 1 ms */
}

static int setup_small_ring(void **state)
{
	return setup_with(state, 64, 3600ull * 1000000000);
}

int main(void)
{
	fx_eal_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_single_frame_on_the_wire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fragments_and_full_bursts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_largest_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_and_arp_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_timer_sends_part_filled_bursts, setup_hold,
						teardown),
		cmocka_unit_test_setup_teardown(test_full_backlog_refuses_whole_messages,
						setup_small_ring, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
