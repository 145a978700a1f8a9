/* The DPDK transport's receive side: a burst from the loop's RX queue, each frame checked
 * layer by layer and counted by what is wrong with it; ARP answered and learned from; frames
 * for another loop's lanes handed over before their CRC is even computed; single-frame
 * messages delivered straight from the mbuf; the others reassembled. */

#define LOG_COMPONENT "dpdk"
#include "base/clock.h"
#include "base/log.h"
#include "dpdk/priv.h"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

static void rx_count_drop(struct dpdk_xport *dx, enum frame_verdict v)
{
	struct xport_stats *s = &dx->stats.xport;
	switch (v) {
	case FRAME_RX_FOREIGN: s->rx_drop_foreign++; break;
	case FRAME_RX_VERSION: s->rx_drop_version++; break;
	case FRAME_RX_CHECKSUM: s->rx_drop_checksum++; break;
	case FRAME_RX_MALFORMED: s->rx_drop_malformed++; break;
	case FRAME_RX_OK:
	case FRAME_RX_ARP:
		PANIC("not a drop: %s", frame_verdict_name(v));
	}
}

static void rx_arp(struct dpdk_xport *dx, const uint8_t *data, size_t len)
{
	struct dpdk_port *p = dx->port;
	struct frame_arp arp;
	enum frame_verdict v = frame_arp_decode(data, len, &arp);
	if (v != FRAME_RX_OK) {
		rx_count_drop(dx, v);
		return;
	}
	dx->stats.rx_arp++;
	dpdk_neigh_learn(p, arp.sender_ip, arp.sender_mac);
	if (arp.op != FRAME_ARP_REQUEST || arp.target_ip != p->cfg.self_ip)
		return;
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	if (m == NULL)
		return;
	struct frame_arp reply = { .op = FRAME_ARP_REPLY, .sender_ip = p->cfg.self_ip,
				   .target_ip = arp.sender_ip };
	memcpy(reply.sender_mac, p->info.mac, 6);
	memcpy(reply.target_mac, arp.sender_mac, 6);
	size_t n = frame_arp_encode(rte_pktmbuf_mtod(m, uint8_t *), &reply);
	m->data_len = (uint16_t)n;
	m->pkt_len = (uint32_t)n;
	dx->stats.tx_arp++;
	dpdk_tx_frame_push(dx, m);
}

static void rx_deliver(void *ctx, uint16_t src, uint16_t lane, const uint8_t *msg, size_t len)
{
	struct dpdk_xport *dx = ctx;
	dx->stats.xport.rx_msgs++;
	dx->stats.xport.rx_bytes += len;
	dx->base.recv(dx->base.recv_ctx, src, lane, msg, len);
}

/* Hands a frame for another loop's lane to that loop. */
static void rx_dispatch(struct dpdk_xport *dx, uint16_t owner, struct rte_mbuf *m)
{
	struct dpdk_port *p = dx->port;
	if (p->dispatch != NULL && p->dispatch(p->dispatch_ctx, owner, m) == 0) {
		dx->stats.rx_dispatched++;
		return;
	}
	dx->stats.rx_drop_dispatch++;
	rte_pktmbuf_free(m);
}

static void rx_version_say(const struct dpdk_xport *dx, uint8_t version, uint32_t ip)
{
	LOG_WARN("node %u queue %u: refused replication frames of version %u from %u.%u.%u.%u "
		 "(%llu so far): this node speaks version %u; a node of another release cannot "
		 "join its lanes (docs/OPERATIONS.md, upgrading)", dx->port->cfg.self_node, dx->queue,
		 version, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255,
		 (unsigned long long)dx->version_log.refused, frame_version_get());
}

/* The spindle part of a frame for one of our lanes. */
static void rx_spindle(struct dpdk_xport *dx, struct rte_mbuf *m, const uint8_t *udp_payload,
		       size_t len, uint16_t lane, uint32_t src_ip)
{
	struct frame_hdr h;
	enum frame_verdict v = frame_hdr_decode(udp_payload, len, &dx->filter, &h);
	if (v == FRAME_RX_VERSION && frame_version_log_due(&dx->version_log, dx->now_ns))
		rx_version_say(dx, h.version, src_ip);
	if (v == FRAME_RX_OK && h.lane != lane)
		v = FRAME_RX_MALFORMED;
	if (v != FRAME_RX_OK) {
		rx_count_drop(dx, v);
		rte_pktmbuf_free(m);
		return;
	}
	const uint8_t *payload = udp_payload + FRAME_HDR_BYTES;
	if (h.frag_count == 1) {
		rx_deliver(dx, h.src_node, h.lane, payload, h.frag_len);
		rte_pktmbuf_free(m);
		return;
	}
	dx->stats.xport.rx_drop_reassembly +=
		frame_reasm_add(dx->reasm, &h, payload, m, dx->now_ns, rx_deliver, dx);
}

void dpdk_rx_frame(struct dpdk_xport *dx, struct rte_mbuf *m, bool dispatched)
{
	struct dpdk_port *p = dx->port;
	if (!dispatched)
		dx->stats.xport.rx_frames++;
	if (m->nb_segs != 1) {
		/* The pool's buffers hold the largest frame, so this is a frame over the MTU. */
		dx->stats.xport.rx_drop_malformed++;
		rte_pktmbuf_free(m);
		return;
	}
	const uint8_t *data = rte_pktmbuf_mtod(m, const uint8_t *);
	size_t len = rte_pktmbuf_data_len(m);
	struct frame_addr a;
	size_t off, plen;
	enum frame_verdict v = frame_l2l4_decode(data, len, &dx->filter, &a, &off, &plen);
	if (v == FRAME_RX_ARP)
		rx_arp(dx, data, len);
	else if (v != FRAME_RX_OK)
		rx_count_drop(dx, v);
	if (v != FRAME_RX_OK) {
		rte_pktmbuf_free(m);
		return;
	}
	uint16_t lane = (uint16_t)(a.dst_port - p->cfg.port_base);
	uint16_t owner = p->lane_queue[lane];
	if (owner != dx->queue) {
		if (dispatched) { /* a hook that delivers to the wrong loop: never loop */
			dx->stats.rx_drop_dispatch++;
			rte_pktmbuf_free(m);
			return;
		}
		rx_dispatch(dx, owner, m);
		return;
	}
	rx_spindle(dx, m, data + off, plen, lane, a.src_ip);
}

/* Work on timers: reassembly timeouts, ARP for unresolved peers, held TX frames. */
static int rx_timers(struct dpdk_xport *dx)
{
	struct dpdk_port *p = dx->port;
	if (dx->now_ns >= dx->reasm_expire_ns) {
		dx->stats.xport.rx_drop_reassembly += frame_reasm_expire(dx->reasm, dx->now_ns);
		dx->reasm_expire_ns = dx->now_ns + DPDK_REASM_EXPIRE_NS;
	}
	if (dx->now_ns >= dx->arp_next_ns) {
		uint8_t mac[6];
		for (uint16_t n = 0; n < XPORT_NODES_MAX; n++) {
			if (p->neigh[n].configured && !dpdk_neigh_mac_get(p, n, mac))
				dpdk_tx_arp_request(dx, n);
		}
		dx->arp_next_ns = dx->now_ns + p->cfg.arp_retry_ns;
	}
	return dpdk_tx_hold_check(dx);
}

int dpdk_rx_poll(struct xport *x)
{
	struct dpdk_xport *dx = dpdk_xport_of(x);
	dx->now_ns = time_mono_ns();
	int work = 0;
	if (dx->has_rxq) {
		struct rte_mbuf *pkts[DPDK_RX_BURST];
		uint16_t n = rte_eth_rx_burst(dx->port->cfg.port_id, dx->queue, pkts, DPDK_RX_BURST);
		for (uint16_t i = 0; i < n; i++) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
			dpdk_rx_frame(dx, pkts[i], false);
		}
		work += n;
	}
	return work + rx_timers(dx);
}

void dpdk_xport_input(struct xport *x, struct rte_mbuf *frame)
{
	struct dpdk_xport *dx = dpdk_xport_of(x);
	dx->now_ns = time_mono_ns();
	dpdk_rx_frame(dx, frame, true);
}
