/* The DPDK transport's receive side, fed crafted frames: delivery of whole messages, each
 * kind of foreign or corrupt frame counted under its own name and never delivered, ARP
 * answered and learned from, reassembly timeouts, and frames for another loop's lanes handed
 * over through the dispatch hook. */
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
#include "fixture.h"

#include <rte_mbuf.h>

#define SELF 1
#define PEER 2
#define ARP_PEER 3
#define STRIDE 1424

struct rx_fixture {
	struct fx_tap tap;
	struct dpdk_port *port;
	struct xport *x[2];
	struct fx_recorder rec[2];
	/* The dispatch hook's record. */
	unsigned handed;
	uint16_t handed_queue[8];
	struct rte_mbuf *handed_frame[8];
	int hook_rc;
};

static int setup_queues(void **state, unsigned queues, uint64_t reasm_timeout_ns)
{
	static unsigned n;
	char name[32];
	snprintf(name, sizeof(name), "rx%u", n++);
	struct rx_fixture *f = calloc(1, sizeof(*f));
	fx_tap_create(&f->tap, name, queues, 1024);
	const uint16_t peers[] = { PEER, ARP_PEER };
	struct dpdk_port_config c = fx_config(f->tap.port_id, SELF, queues, peers, 2,
					      1u << ARP_PEER);
	c.reasm.timeout_ns = reasm_timeout_ns;
	f->port = dpdk_port_create(&c);
	assert_non_null(f->port);
	for (unsigned q = 0; q < queues; q++) {
		f->x[q] = dpdk_xport_create(f->port, (uint16_t)q, fx_recv, &f->rec[q]);
		assert_non_null(f->x[q]);
	}
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_queues(state, 1, 0);
}

static int teardown(void **state)
{
	struct rx_fixture *f = *state;
	for (unsigned i = 0; i < f->handed; i++)
		rte_pktmbuf_free(f->handed_frame[i]);
	for (unsigned q = 0; q < 2; q++) {
		if (f->x[q] != NULL)
			f->x[q]->ops->destroy(f->x[q]);
	}
	dpdk_port_destroy(f->port);
	fx_tap_free(&f->tap);
	free(f);
	return 0;
}

static void test_messages_delivered_whole(void **state)
{
	struct rx_fixture *f = *state;
	uint8_t frame[2048];
	static uint8_t msg[5000];
	fx_msg_fill(msg, sizeof(msg), 7);
	size_t len = fx_frame_build(frame, PEER, SELF, 1, 100, msg, 300, 0, STRIDE);
	fx_tap_inject(&f->tap, 0, frame, len);
	assert_int_equal(xport_poll(f->x[0]), 1);
	assert_int_equal(f->rec[0].count, 1);
	assert_int_equal(f->rec[0].r[0].src, PEER);
	assert_int_equal(f->rec[0].r[0].lane, 1);
	assert_int_equal(f->rec[0].r[0].len, 300);
	assert_int_equal(f->rec[0].r[0].crc, crc32c(msg, 300));
	/* Four fragments in reverse order with one duplicated: one message. */
	const uint32_t order[] = { 3, 2, 2, 1, 0 };
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		len = fx_frame_build(frame, PEER, SELF, 2, 101, msg, sizeof(msg), order[i], STRIDE);
		fx_tap_inject(&f->tap, 0, frame, len);
	}
	xport_poll(f->x[0]);
	assert_int_equal(f->rec[0].count, 2);
	assert_int_equal(f->rec[0].r[1].len, sizeof(msg));
	assert_int_equal(f->rec[0].r[1].crc, crc32c(msg, sizeof(msg)));
	struct dpdk_xport_stats s;
	dpdk_xport_stats_get(f->x[0], &s);
	assert_int_equal(s.xport.rx_msgs, 2);
	assert_int_equal(s.xport.rx_frames, 6);
	assert_int_equal(s.xport.rx_bytes, 300 + sizeof(msg));
	assert_int_equal(s.reasm.frags_dup, 1);
}

/* Recomputes the spindle CRC of a frame built by fx_frame_build after an edit. */
static void reseal(uint8_t *frame, size_t len)
{
	uint8_t *h = frame + FRAME_L2L4_BYTES;
	uint32_t crc = crc32c_extend(0, h, FRAME_HDR_CRC_OFFSET);
	crc = crc32c_extend(crc, h + FRAME_HDR_BYTES, len - FRAME_L2L4_BYTES - FRAME_HDR_BYTES);
	frame_put_le32(h + FRAME_HDR_CRC_OFFSET, crc);
}

static void ip_reseal(uint8_t *frame)
{
	frame_put_be16(frame + 24, 0);
	frame_put_be16(frame + 24, (uint16_t)~frame_inet_fold(frame_inet_sum(0, frame + 14, 20)));
}

static void test_foreign_and_corrupt_frames_counted(void **state)
{
	struct rx_fixture *f = *state;
	uint8_t good[512], b[512];
	uint8_t msg[200];
	fx_msg_fill(msg, sizeof(msg), 8);
	size_t len = fx_frame_build(good, PEER, SELF, 0, 5, msg, sizeof(msg), 0, STRIDE);
#define INJECT(stmt, l) do { memcpy(b, good, len); stmt; fx_tap_inject(&f->tap, 0, b, l); } while (0)
	INJECT(frame_put_be16(b + 12, 0x86dd), len);                        /* foreign: IPv6 */
	INJECT((b[33] = 99, ip_reseal(b)), len);                            /* foreign: not our IP */
	INJECT(frame_put_be16(b + 36, FX_PORT_BASE + FX_LANES), len);       /* foreign: port */
	INJECT((frame_put_le32(b + 42 + 8, FX_CLUSTER + 1), reseal(b, len)), len); /* foreign */
	INJECT(b[42] = 'X', len);                                           /* foreign: magic */
	INJECT(b[42 + 4] = FRAME_VERSION + 1, len);                         /* version */
	INJECT(b[len - 1] ^= 1, len);                                       /* checksum */
	INJECT(b[22] ^= 1, len);                                            /* checksum: IP */
	INJECT((void)0, len - 10);                                          /* malformed: cut */
	INJECT((frame_put_le16(b + 42 + 12, 9), reseal(b, len)), len);      /* malformed: node */
	INJECT((frame_put_le16(b + 42 + 16, 1), reseal(b, len)), len);      /* malformed: lane */
#undef INJECT
	assert_int_equal(xport_poll(f->x[0]), 11);
	struct xport_stats s;
	f->x[0]->ops->stats(f->x[0], &s);
	assert_int_equal(s.rx_frames, 11);
	assert_int_equal(s.rx_drop_foreign, 5);
	assert_int_equal(s.rx_drop_version, 1);
	assert_int_equal(s.rx_drop_checksum, 2);
	assert_int_equal(s.rx_drop_malformed, 3);
	assert_int_equal(s.rx_msgs, 0);
	assert_int_equal(f->rec[0].count, 0);
	/* And the good one still works. */
	fx_tap_inject(&f->tap, 0, good, len);
	xport_poll(f->x[0]);
	assert_int_equal(f->rec[0].count, 1);
}

static void test_arp_answered_and_learned(void **state)
{
	struct rx_fixture *f = *state;
	uint8_t b[128];
	uint8_t msg[8] = { 0 };
	assert_int_equal(xport_send(f->x[0], ARP_PEER, 0, msg, 8), -EAGAIN);
	struct frame_arp req = { .op = FRAME_ARP_REQUEST, .sender_mac = { 0x0a, 0, 0, 0, 0, 3 },
				 .sender_ip = FX_IP(ARP_PEER), .target_ip = FX_IP(SELF) };
	size_t len = frame_arp_encode(b, &req);
	fx_tap_inject(&f->tap, 0, b, len);
	req.target_ip = FX_IP(7); /* someone else's: learned from, not answered */
	len = frame_arp_encode(b, &req);
	fx_tap_inject(&f->tap, 0, b, len);
	xport_poll(f->x[0]);
	xport_flush(f->x[0]);
	struct rte_mbuf *m[8];
	unsigned n = fx_tap_take(&f->tap, 0, m, 8), replies = 0;
	for (unsigned i = 0; i < n; i++) {
		struct frame_arp arp;
		const uint8_t *p = rte_pktmbuf_mtod(m[i], const uint8_t *);
		assert_int_equal(frame_arp_decode(p, rte_pktmbuf_data_len(m[i]), &arp), FRAME_RX_OK);
		if (arp.op == FRAME_ARP_REPLY) {
			replies++;
			assert_int_equal(arp.sender_ip, FX_IP(SELF));
			assert_int_equal(arp.target_ip, FX_IP(ARP_PEER));
			assert_memory_equal(arp.target_mac, req.sender_mac, 6);
			assert_memory_equal(p, req.sender_mac, 6);
		}
		rte_pktmbuf_free(m[i]);
	}
	assert_int_equal(replies, 1);
	assert_int_equal(xport_send(f->x[0], ARP_PEER, 0, msg, 8), 0);
	struct dpdk_xport_stats s;
	dpdk_xport_stats_get(f->x[0], &s);
	assert_int_equal(s.rx_arp, 2);
	/* A malformed ARP packet is counted, not trusted. */
	len = frame_arp_encode(b, &req);
	frame_put_be16(b + 20, 9);
	fx_tap_inject(&f->tap, 0, b, len);
	xport_poll(f->x[0]);
	dpdk_xport_stats_get(f->x[0], &s);
	assert_int_equal(s.xport.rx_drop_malformed, 1);
}

static void test_incomplete_message_times_out(void **state)
{
	struct rx_fixture *f = *state;
	uint8_t frame[2048];
	static uint8_t msg[5000];
	fx_msg_fill(msg, sizeof(msg), 9);
	for (uint32_t i = 0; i < 3; i++) {
		size_t len = fx_frame_build(frame, PEER, SELF, 0, 200, msg, sizeof(msg), i, STRIDE);
		fx_tap_inject(&f->tap, 0, frame, len);
	}
	xport_poll(f->x[0]);
	struct timespec ts = { .tv_nsec = 40 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	xport_poll(f->x[0]);
	struct dpdk_xport_stats s;
	dpdk_xport_stats_get(f->x[0], &s);
	assert_int_equal(s.xport.rx_drop_reassembly, 1);
	assert_int_equal(s.reasm.msgs_timeout, 1);
	assert_int_equal(s.reasm.frames_held, 0);
	/* The last fragment, late, does not make a message. */
	size_t len = fx_frame_build(frame, PEER, SELF, 0, 200, msg, sizeof(msg), 3, STRIDE);
	fx_tap_inject(&f->tap, 0, frame, len);
	xport_poll(f->x[0]);
	assert_int_equal(f->rec[0].count, 0);
}

static int hook(void *ctx, uint16_t queue, struct rte_mbuf *frame)
{
	struct rx_fixture *f = ctx;
	if (f->hook_rc != 0)
		return f->hook_rc;
	assert_true(f->handed < ARRAY_SIZE(f->handed_frame));
	f->handed_queue[f->handed] = queue;
	f->handed_frame[f->handed++] = frame;
	return 0;
}

static void test_dispatch_to_the_owning_loop(void **state)
{
	struct rx_fixture *f = *state;
	uint8_t frame[512], msg[100];
	fx_msg_fill(msg, sizeof(msg), 10);
	/* Without a hook, a frame for another loop's lane is dropped and counted. */
	size_t len = fx_frame_build(frame, PEER, SELF, 1, 1, msg, sizeof(msg), 0, STRIDE);
	fx_tap_inject(&f->tap, 0, frame, len);
	xport_poll(f->x[0]);
	struct dpdk_xport_stats s;
	dpdk_xport_stats_get(f->x[0], &s);
	assert_int_equal(s.rx_drop_dispatch, 1);
	dpdk_port_dispatch_set(f->port, hook, f);
	/* Lane 1 belongs to queue 1 (lane % 2): queue 0 hands it over. */
	fx_tap_inject(&f->tap, 0, frame, len);
	len = fx_frame_build(frame, PEER, SELF, 2, 2, msg, sizeof(msg), 0, STRIDE);
	fx_tap_inject(&f->tap, 1, frame, len);
	xport_poll(f->x[0]);
	xport_poll(f->x[1]);
	assert_int_equal(f->handed, 2);
	assert_int_equal(f->handed_queue[0], 1);
	assert_int_equal(f->handed_queue[1], 0);
	assert_int_equal(f->rec[0].count + f->rec[1].count, 0);
	dpdk_xport_input(f->x[1], f->handed_frame[0]);
	dpdk_xport_input(f->x[0], f->handed_frame[1]);
	f->handed = 0;
	assert_int_equal(f->rec[1].count, 1);
	assert_int_equal(f->rec[1].r[0].lane, 1);
	assert_int_equal(f->rec[0].count, 1);
	assert_int_equal(f->rec[0].r[0].lane, 2);
	/* A hook that delivers to the wrong loop does not make frames go round. */
	fx_tap_inject(&f->tap, 0, frame, len);  /* lane 2 arrives on queue 0: its owner */
	len = fx_frame_build(frame, PEER, SELF, 3, 3, msg, sizeof(msg), 0, STRIDE);
	fx_tap_inject(&f->tap, 0, frame, len);  /* lane 3 belongs to queue 1 */
	xport_poll(f->x[0]);
	assert_int_equal(f->handed, 1);
	dpdk_xport_input(f->x[0], f->handed_frame[0]);
	f->handed = 0;
	dpdk_xport_stats_get(f->x[0], &s);
	assert_int_equal(s.rx_drop_dispatch, 2);
	assert_int_equal(s.rx_dispatched, 2);
	/* A hook that refuses (its ring full): dropped and counted. */
	f->hook_rc = -ENOBUFS;
	fx_tap_inject(&f->tap, 0, frame, len);
	xport_poll(f->x[0]);
	dpdk_xport_stats_get(f->x[0], &s);
	assert_int_equal(s.rx_drop_dispatch, 3);
	assert_int_equal(f->rec[0].count, 2);
}

static int setup_two_queues(void **state)
{
	return setup_queues(state, 2, 0);
}

static int setup_short_timeout(void **state)
{
	return setup_queues(state, 1, 20 * 1000 * 1000);
}

int main(void)
{
	fx_eal_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_messages_delivered_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_and_corrupt_frames_counted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_arp_answered_and_learned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incomplete_message_times_out,
						setup_short_timeout, teardown),
		cmocka_unit_test_setup_teardown(test_dispatch_to_the_owning_loop, setup_two_queues,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
