/* The DPDK port: configurations it refuses, what it reports about a device without offloads
 * or flow steering, the mbuf pool's size, and the neighbour table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dpdk/priv.h"
#include "fixture.h"

static void test_bad_configurations_are_refused(void **state)
{
	(void)state;
	struct fx_tap t;
	fx_tap_create(&t, "bad", 1, 1024);
	const uint16_t peers[] = { 2 };
	struct dpdk_port_config good = fx_config(t.port_id, 1, 1, peers, 1, 0), c;
#define REFUSED(stmt) do { c = good; stmt; assert_null(dpdk_port_create(&c)); } while (0)
	REFUSED(c.queues = 0);
	REFUSED(c.queues = DPDK_QUEUES_MAX + 1);
	REFUSED(c.lanes = 0);
	REFUSED(c.self_node = XPORT_NODES_MAX);
	REFUSED(c.mtu = FRAME_MTU_MIN - 1);
	REFUSED(c.port_base = 0);
	REFUSED(c.port_base = 65534);             /* 4 lanes would pass port 65535 */
	REFUSED(c.self_ip = 0);
	REFUSED(c.peers[0].node = 1);             /* a peer that is ourselves */
	REFUSED(c.peers[0].node = XPORT_NODES_MAX);
	REFUSED(c.peers[0].ip = 0);
	REFUSED(c.peers[1] = c.peers[0]; c.peers_count = 2); /* the same node twice */
	const uint16_t bad_map[FX_LANES] = { 0, 0, 1, 0 };  /* queue 1 of 1 */
	REFUSED(c.lane_queue = bad_map);
	REFUSED(c.port_id = 200);                 /* no such device */
#undef REFUSED
	/* The good one works, and the port can be set up again after it is destroyed. */
	struct dpdk_port *p = dpdk_port_create(&good);
	assert_non_null(p);
	dpdk_port_destroy(p);
	fx_tap_free(&t);
}

static void test_info_and_pool_size(void **state)
{
	(void)state;
	struct fx_tap t;
	fx_tap_create(&t, "info", 2, 1024);
	const uint16_t peers[] = { 2, 3 };
	struct dpdk_port_config c = fx_config(t.port_id, 1, 2, peers, 2, 0);
	c.mtu = 9000;
	struct dpdk_port *p = dpdk_port_create(&c);
	assert_non_null(p);
	struct dpdk_port_info info;
	dpdk_port_info_get(p, &info);
	assert_int_equal(info.rx_queues, 2);
	assert_int_equal(info.tx_queues, 2);
	assert_false(info.steered); /* the ring PMD has no rte_flow */
	assert_false(info.tx_ip_csum_offload);
	assert_false(info.tx_udp_csum_offload);
	assert_int_equal(info.mtu, 9000);
	assert_true(info.mbuf_data_bytes >= 14 + 9000);
	/* The backlog was raised to hold a largest message at this MTU. */
	uint32_t backlog = MAX((uint32_t)DPDK_TX_BACKLOG_DEFAULT,
			       frame_frag_count(FRAME_MSG_BYTES_MAX, frame_stride_bytes(9000)));
	uint32_t per_queue = 256 + 256 + DPDK_RX_BURST + DPDK_TX_BURST + backlog + 4096 +
			     DPDK_POOL_CACHE * 3 / 2 + DPDK_DISPATCH_FRAMES_DEFAULT;
#ifdef SPINDLE_FAULT_HOOKS
	per_queue += DPDK_FAULT_HELD_FRAMES;
#endif
	assert_int_equal(info.pool_mbufs, 2 * per_queue + DPDK_POOL_MARGIN);
	dpdk_port_destroy(p);
	fx_tap_free(&t);
}

static void test_backlog_holds_the_largest_message(void **state)
{
	(void)state;
	struct fx_tap t;
	fx_tap_create(&t, "backlog", 1, 1024);
	struct dpdk_port_config c = fx_config(t.port_id, 1, 1, NULL, 0, 0);
	c.mtu = FRAME_MTU_MIN;
	c.tx_backlog_frames = 16;
	struct dpdk_port *p = dpdk_port_create(&c);
	assert_non_null(p);
	assert_int_equal(p->cfg.tx_backlog_frames, FRAME_FRAGS_MAX);
	dpdk_port_destroy(p);
	fx_tap_free(&t);
}

static void test_neighbours(void **state)
{
	(void)state;
	struct fx_tap t;
	fx_tap_create(&t, "neigh", 1, 1024);
	const uint16_t peers[] = { 2, 3, 4 };
	/* 2 static, 3 and 4 by ARP. */
	struct dpdk_port_config c = fx_config(t.port_id, 1, 1, peers, 3, (1u << 3) | (1u << 4));
	struct dpdk_port *p = dpdk_port_create(&c);
	assert_non_null(p);
	uint8_t mac[6], want[6];
	assert_true(dpdk_neigh_mac_get(p, 2, mac));
	fx_mac(2, want);
	assert_memory_equal(mac, want, 6);
	assert_false(dpdk_neigh_mac_get(p, 3, mac));
	assert_false(dpdk_neigh_mac_get(p, 5, mac)); /* not a peer */
	/* Learned from the peer's address only; never multicast or zero; never over static. */
	const uint8_t learned[6] = { 0x0a, 1, 2, 3, 4, 5 }, mcast[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
	const uint8_t zero[6] = { 0 };
	dpdk_neigh_learn(p, FX_IP(3), mcast);
	dpdk_neigh_learn(p, FX_IP(3), zero);
	dpdk_neigh_learn(p, FX_IP(9), learned);
	assert_false(dpdk_neigh_mac_get(p, 3, mac));
	dpdk_neigh_learn(p, FX_IP(3), learned);
	assert_true(dpdk_neigh_mac_get(p, 3, mac));
	assert_memory_equal(mac, learned, 6);
	assert_false(dpdk_neigh_mac_get(p, 4, mac));
	dpdk_neigh_learn(p, FX_IP(2), learned);
	assert_true(dpdk_neigh_mac_get(p, 2, mac));
	assert_memory_equal(mac, want, 6);
	/* A peer that comes back with another MAC is relearned. */
	const uint8_t again[6] = { 0x0a, 9, 9, 9, 9, 9 };
	dpdk_neigh_learn(p, FX_IP(3), again);
	assert_true(dpdk_neigh_mac_get(p, 3, mac));
	assert_memory_equal(mac, again, 6);
	/* One request per retry interval, whoever asks. */
	uint64_t t0 = 5 * DPDK_ARP_RETRY_NS_DEFAULT;
	assert_true(dpdk_neigh_request_claim(p, 4, t0));
	assert_false(dpdk_neigh_request_claim(p, 4, t0 + 1));
	assert_false(dpdk_neigh_request_claim(p, 4, t0 + DPDK_ARP_RETRY_NS_DEFAULT - 1));
	assert_true(dpdk_neigh_request_claim(p, 4, t0 + DPDK_ARP_RETRY_NS_DEFAULT));
	dpdk_port_destroy(p);
	fx_tap_free(&t);
}

int main(void)
{
	fx_eal_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_configurations_are_refused),
		cmocka_unit_test(test_info_and_pool_size),
		cmocka_unit_test(test_backlog_holds_the_largest_message),
		cmocka_unit_test(test_neighbours),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
