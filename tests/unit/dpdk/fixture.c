/* Fixtures for the DPDK transport's unit tests (see fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/crc.h"
#include "fixture.h"

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

static char fx_prefix[64];
static struct rte_mempool *fx_inject_pool;

static void fx_eal_cleanup(void)
{
	rte_eal_cleanup();
	/* --no-shconf leaves only an empty runtime directory behind. */
	char dir[128];
	snprintf(dir, sizeof(dir), "/var/run/dpdk/%s", fx_prefix);
	rmdir(dir);
}

void fx_eal_init(void)
{
	if (fx_inject_pool != NULL)
		return;
	snprintf(fx_prefix, sizeof(fx_prefix), "spindle-unit-%d", (int)getpid());
	char *argv[] = { "test", "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
			 "--no-telemetry", "-l", "0", "--log-level", "lib.eal:error",
			 "--file-prefix", fx_prefix, NULL };
	int argc = (int)ARRAY_SIZE(argv) - 1;
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
		exit(1);
	}
	atexit(fx_eal_cleanup);
	fx_inject_pool = rte_pktmbuf_pool_create("fx_inject", 4096, 0, 0,
						 RTE_MBUF_DEFAULT_BUF_SIZE + 8192, 0);
	assert_non_null(fx_inject_pool);
}

static struct rte_ring *fx_ring(const char *name, unsigned slots)
{
	struct rte_ring *r = rte_ring_create(name, slots, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	assert_non_null(r);
	return r;
}

void fx_tap_create(struct fx_tap *t, const char *name, unsigned queues, unsigned ring_slots)
{
	char rn[64];
	t->queues = queues;
	for (unsigned q = 0; q < queues; q++) {
		snprintf(rn, sizeof(rn), "%s_rx%u", name, q);
		t->rx[q] = fx_ring(rn, ring_slots);
		snprintf(rn, sizeof(rn), "%s_tx%u", name, q);
		t->tx[q] = fx_ring(rn, ring_slots);
	}
	int id = rte_eth_from_rings(name, t->rx, queues, t->tx, queues, 0);
	assert_true(id >= 0);
	t->port_id = (uint16_t)id;
}

void fx_tap_drop_all(struct fx_tap *t)
{
	struct rte_mbuf *m;
	for (unsigned q = 0; q < t->queues; q++) {
		while (rte_ring_dequeue(t->tx[q], (void **)&m) == 0)
			rte_pktmbuf_free(m);
		while (rte_ring_dequeue(t->rx[q], (void **)&m) == 0)
			rte_pktmbuf_free(m);
	}
}

void fx_tap_free(struct fx_tap *t)
{
	fx_tap_drop_all(t);
	for (unsigned q = 0; q < t->queues; q++) {
		rte_ring_free(t->rx[q]);
		rte_ring_free(t->tx[q]);
	}
}

unsigned fx_tap_take(struct fx_tap *t, unsigned q, struct rte_mbuf **out, unsigned max)
{
	return rte_ring_dequeue_burst(t->tx[q], (void **)out, max, NULL);
}

void fx_tap_inject(struct fx_tap *t, unsigned q, const void *frame, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(fx_inject_pool);
	assert_non_null(m);
	char *p = rte_pktmbuf_append(m, (uint16_t)len);
	assert_non_null(p);
	memcpy(p, frame, len);
	assert_int_equal(rte_ring_enqueue(t->rx[q], m), 0);
}

void fx_pair_create(uint16_t *a, uint16_t *b, const char *name, unsigned queues,
		    struct rte_ring **rings)
{
	char rn[64];
	struct rte_ring *ab[FX_QUEUES_MAX], *ba[FX_QUEUES_MAX];
	for (unsigned q = 0; q < queues; q++) {
		snprintf(rn, sizeof(rn), "%s_ab%u", name, q);
		ab[q] = rings[2 * q] = fx_ring(rn, 8192);
		snprintf(rn, sizeof(rn), "%s_ba%u", name, q);
		ba[q] = rings[2 * q + 1] = fx_ring(rn, 8192);
	}
	char na[64], nb[64];
	snprintf(na, sizeof(na), "%s_a", name);
	snprintf(nb, sizeof(nb), "%s_b", name);
	int ia = rte_eth_from_rings(na, ba, queues, ab, queues, 0);
	int ib = rte_eth_from_rings(nb, ab, queues, ba, queues, 0);
	assert_true(ia >= 0 && ib >= 0);
	*a = (uint16_t)ia;
	*b = (uint16_t)ib;
}

void fx_rings_free(struct rte_ring **rings, unsigned n)
{
	struct rte_mbuf *m;
	for (unsigned i = 0; i < n; i++) {
		while (rte_ring_dequeue(rings[i], (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(rings[i]);
	}
}

void fx_mac(uint16_t node, uint8_t mac[6])
{
	const uint8_t m[6] = { 0x02, 0, 0, 0, 0, (uint8_t)node };
	memcpy(mac, m, 6);
}

struct dpdk_port_config fx_config(uint16_t port_id, uint16_t self, unsigned queues,
				  const uint16_t *peers, unsigned npeers, uint64_t arp_mask)
{
	struct dpdk_port_config c = { .port_id = port_id, .queues = (uint16_t)queues,
		.cluster_id = FX_CLUSTER, .self_node = self, .self_ip = FX_IP(self),
		.port_base = FX_PORT_BASE, .lanes = FX_LANES, .rx_desc = 256, .tx_desc = 256,
		.reasm = { .frames_max = 4096 } };
	for (unsigned i = 0; i < npeers; i++) {
		struct dpdk_peer *p = &c.peers[c.peers_count++];
		p->node = peers[i];
		p->ip = FX_IP(peers[i]);
		p->mac_static = !(arp_mask >> peers[i] & 1);
		if (p->mac_static)
			fx_mac(peers[i], p->mac);
	}
	return c;
}

size_t fx_frame_build(uint8_t *buf, uint16_t src, uint16_t dst, uint16_t lane, uint64_t msg_id,
		      const uint8_t *msg, uint32_t msg_len, uint32_t index, uint32_t stride)
{
	struct frame_hdr h = { .type = FRAME_TYPE_DATA, .cluster_id = FX_CLUSTER, .src_node = src,
		.dst_node = dst, .lane = lane, .msg_len = msg_len, .msg_id = msg_id,
		.msg_crc = crc32c(msg, msg_len) };
	frame_hdr_frag_set(&h, index, stride);
	uint8_t *spnd = buf + FRAME_L2L4_BYTES;
	memcpy(spnd + FRAME_HDR_BYTES, msg + h.frag_offset, h.frag_len);
	frame_hdr_encode(spnd, &h);
	struct frame_addr a = { .src_ip = FX_IP(src), .dst_ip = FX_IP(dst),
		.src_port = (uint16_t)(FX_PORT_BASE + lane), .dst_port = (uint16_t)(FX_PORT_BASE + lane) };
	fx_mac(src, a.src_mac);
	fx_mac(dst, a.dst_mac);
	frame_l2l4_encode(buf, &a, FRAME_HDR_BYTES + h.frag_len, false);
	return FRAME_L2L4_BYTES + FRAME_HDR_BYTES + h.frag_len;
}

void fx_recv(void *ctx, uint16_t src, uint16_t lane, const uint8_t *msg, size_t len)
{
	struct fx_recorder *rec = ctx;
	assert_true(rec->count < FX_RECORDS_MAX);
	rec->r[rec->count++] = (struct fx_record){ .src = src, .lane = lane, .len = len,
						   .crc = crc32c(msg, len) };
}

void fx_msg_fill(uint8_t *buf, size_t len, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
}
