/* The DPDK transport's send side: a message is split into frames written straight into
 * mbufs, queued on the loop's backlog ring, and handed to the NIC in bursts: at once when a
 * burst is full, at the end of the loop's turn (flush), and by the poller when a part-filled
 * burst has waited tx_hold_ns. A message is queued whole or not at all. */
#include <errno.h>
#include <string.h>

#define LOG_COMPONENT "dpdk"
#include "base/clock.h"
#include "base/crc.h"
#include "base/log.h"
#include "dpdk/priv.h"

#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

static bool tx_ring_push(struct dpdk_xport *dx, struct rte_mbuf *m)
{
	if (dx->tx_count == dx->tx_cap)
		return false;
	if (dx->tx_count == 0)
		dx->tx_oldest_ns = dx->now_ns;
	dx->tx_ring[(dx->tx_head + dx->tx_count) & (dx->tx_cap - 1)] = m;
	dx->tx_count++;
	return true;
}

void dpdk_tx_frame_push(struct dpdk_xport *dx, struct rte_mbuf *m)
{
	if (!tx_ring_push(dx, m))
		rte_pktmbuf_free(m);
}

/* Hands the NIC as much of the backlog as it takes; returns the frames it took. */
static int tx_transmit(struct dpdk_xport *dx)
{
	struct dpdk_port *p = dx->port;
	int sent = 0;
	while (dx->tx_count > 0) {
		uint32_t chunk = MIN(dx->tx_count, dx->tx_cap - dx->tx_head);
		chunk = MIN(chunk, (uint32_t)UINT16_MAX);
		if (dx->txq_shared)
			rte_spinlock_lock(&p->tx_lock[dx->txq]);
		uint16_t n = rte_eth_tx_burst(p->cfg.port_id, dx->txq, &dx->tx_ring[dx->tx_head],
					      (uint16_t)chunk);
		if (dx->txq_shared)
			rte_spinlock_unlock(&p->tx_lock[dx->txq]);
		dx->tx_head = (dx->tx_head + n) & (dx->tx_cap - 1);
		dx->tx_count -= n;
		sent += n;
		if (n < chunk)
			break; /* the NIC's ring is full; the rest waits for the next turn */
	}
	if (dx->tx_count > 0 && sent > 0)
		dx->tx_oldest_ns = dx->now_ns;
	return sent;
}

#ifdef SPINDLE_FAULT_HOOKS
/* Applies the fault hooks to a frame for dst: lose it, send it twice, hold it back. */
static void tx_enqueue_faulty(struct dpdk_xport *dx, uint16_t dst, struct rte_mbuf *m)
{
	struct frame_fault_verdict v;
	frame_fault_decide(&dx->fault, dst, dx->now_ns, &v);
	if (v.copies == 0) {
		rte_pktmbuf_free(m);
		return;
	}
	if (v.copies == 2)
		rte_mbuf_refcnt_update(m, 1); /* the same frame twice; each send drops a reference */
	for (unsigned c = 0; c < v.copies; c++) {
		if (v.due_ns[c] > dx->now_ns &&
		    frame_fault_heap_push(&dx->held, m, v.due_ns[c]) == 0)
			continue;
		dpdk_tx_frame_push(dx, m);
	}
}
#endif

static void tx_enqueue(struct dpdk_xport *dx, uint16_t dst, struct rte_mbuf *m)
{
#ifdef SPINDLE_FAULT_HOOKS
	if (dx->fault.active) {
		tx_enqueue_faulty(dx, dst, m);
		return;
	}
#endif
	(void)dst;
	bool queued = tx_ring_push(dx, m);
	ASSERT(queued); /* room was checked for the whole message */
}

void dpdk_tx_faults_release(struct dpdk_xport *dx)
{
#ifdef SPINDLE_FAULT_HOOKS
	struct rte_mbuf *m;
	while ((m = frame_fault_heap_pop_due(&dx->held, dx->now_ns)) != NULL)
		dpdk_tx_frame_push(dx, m);
#else
	(void)dx;
#endif
}

/* Writes one fragment into m: headers, payload, and the checksums the NIC will not do. */
static void tx_frame_fill(struct dpdk_xport *dx, struct rte_mbuf *m, const struct frame_addr *a,
			  struct frame_hdr *h, const uint8_t *msg)
{
	const struct dpdk_port_info *info = &dx->port->info;
	uint8_t *buf = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *spnd = buf + FRAME_L2L4_BYTES;
	size_t udp_payload = FRAME_HDR_BYTES + h->frag_len;
	size_t frame_len = FRAME_L2L4_BYTES + udp_payload;
	ASSERT(frame_len <= info->mbuf_data_bytes);
	if (h->frag_len > 0)
		memcpy(spnd + FRAME_HDR_BYTES, msg + h->frag_offset, h->frag_len);
	frame_hdr_encode(spnd, h);
	frame_l2l4_encode(buf, a, udp_payload, info->tx_ip_csum_offload);
	m->data_len = (uint16_t)frame_len;
	m->pkt_len = (uint32_t)frame_len;
	if (info->tx_ip_csum_offload) {
		m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM;
		m->l2_len = FRAME_ETH_BYTES;
		m->l3_len = FRAME_IP4_BYTES;
	}
	if (info->tx_udp_csum_offload) {
		/* The NIC wants the pseudo-header sum in the checksum field. */
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(buf + FRAME_ETH_BYTES);
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(buf + FRAME_ETH_BYTES + FRAME_IP4_BYTES);
		m->ol_flags |= RTE_MBUF_F_TX_UDP_CKSUM;
		udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
	} else {
		/* DPDK's sum is word-at-a-time; frame_udp_csum_set() is the portable reference. */
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(buf + FRAME_ETH_BYTES);
		struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(buf + FRAME_ETH_BYTES + FRAME_IP4_BYTES);
		udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	}
}

/* Takes the mbufs for a message of n frames, making room in the backlog first if it can. */
static int tx_reserve(struct dpdk_xport *dx, uint32_t n)
{
	if (dx->tx_cap - dx->tx_count < n)
		tx_transmit(dx);
	if (dx->tx_cap - dx->tx_count < n) {
		dx->stats.xport.tx_dropped++;
		return -ENOBUFS;
	}
	if (rte_pktmbuf_alloc_bulk(dx->port->pool, dx->tx_scratch, n) != 0) {
		dx->stats.tx_nomem++;
		dx->stats.xport.tx_dropped++;
		return -ENOBUFS;
	}
	return 0;
}

int dpdk_tx_send(struct xport *x, uint16_t dst, uint16_t lane, const void *msg, size_t len)
{
	struct dpdk_xport *dx = dpdk_xport_of(x);
	struct dpdk_port *p = dx->port;
	ASSERT(lane < p->cfg.lanes);
	ASSERT(msg != NULL || len == 0);
	if (len > XPORT_MSG_BYTES_MAX)
		return -EMSGSIZE;
	if (dst >= XPORT_NODES_MAX || !p->neigh[dst].configured)
		return -EHOSTUNREACH;
	struct frame_addr a = { .src_ip = p->cfg.self_ip, .dst_ip = p->neigh[dst].ip,
		.src_port = (uint16_t)(p->cfg.port_base + lane),
		.dst_port = (uint16_t)(p->cfg.port_base + lane) };
	memcpy(a.src_mac, p->info.mac, 6);
	if (!dpdk_neigh_mac_get(p, dst, a.dst_mac)) {
		dx->stats.xport.tx_unresolved++;
		dpdk_tx_arp_request(dx, dst);
		return -EAGAIN;
	}
	dx->now_ns = time_mono_ns(); /* for the hold timer and the fault hooks */
	uint32_t n = frame_frag_count((uint32_t)len, dx->stride);
	int rc = tx_reserve(dx, n);
	if (rc != 0)
		return rc;
	struct frame_hdr h = { .type = FRAME_TYPE_DATA, .cluster_id = p->cfg.cluster_id,
		.src_node = p->cfg.self_node, .dst_node = dst, .lane = lane,
		.msg_len = (uint32_t)len, .msg_id = dx->next_msg_id++,
		.msg_crc = crc32c(msg, len) };
	for (uint32_t i = 0; i < n; i++) {
		frame_hdr_frag_set(&h, i, dx->stride);
		tx_frame_fill(dx, dx->tx_scratch[i], &a, &h, msg);
		tx_enqueue(dx, dst, dx->tx_scratch[i]);
	}
	dx->stats.xport.tx_msgs++;
	dx->stats.xport.tx_frames += n;
	dx->stats.xport.tx_bytes += len;
	if (dx->tx_count >= DPDK_TX_BURST)
		tx_transmit(dx);
	return 0;
}

int dpdk_tx_flush(struct xport *x)
{
	struct dpdk_xport *dx = dpdk_xport_of(x);
#ifdef SPINDLE_FAULT_HOOKS
	dx->now_ns = time_mono_ns();
#endif
	dpdk_tx_faults_release(dx);
	return dx->tx_count > 0 ? tx_transmit(dx) : 0;
}

/* From the poller: sends a part-filled burst that has waited long enough. */
int dpdk_tx_hold_check(struct dpdk_xport *dx)
{
	dpdk_tx_faults_release(dx);
	if (dx->tx_count > 0 &&
	    (dx->tx_count >= DPDK_TX_BURST || dx->now_ns - dx->tx_oldest_ns >= dx->port->cfg.tx_hold_ns))
		return tx_transmit(dx);
	return 0;
}

void dpdk_tx_arp_request(struct dpdk_xport *dx, uint16_t node)
{
	struct dpdk_port *p = dx->port;
	ASSERT(node < XPORT_NODES_MAX && p->neigh[node].configured);
	if (!dpdk_neigh_request_claim(p, node, dx->now_ns))
		return;
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	if (m == NULL)
		return;
	struct frame_arp arp = { .op = FRAME_ARP_REQUEST, .sender_ip = p->cfg.self_ip,
				 .target_ip = p->neigh[node].ip };
	memcpy(arp.sender_mac, p->info.mac, 6);
	size_t len = frame_arp_encode(rte_pktmbuf_mtod(m, uint8_t *), &arp);
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	dx->stats.tx_arp++;
	dpdk_tx_frame_push(dx, m);
}

void dpdk_tx_drain(struct dpdk_xport *dx)
{
	while (dx->tx_count > 0) {
		rte_pktmbuf_free(dx->tx_ring[dx->tx_head]);
		dx->tx_head = (dx->tx_head + 1) & (dx->tx_cap - 1);
		dx->tx_count--;
	}
#ifdef SPINDLE_FAULT_HOOKS
	struct rte_mbuf *m;
	while ((m = frame_fault_heap_pop_any(&dx->held)) != NULL)
		rte_pktmbuf_free(m);
#endif
}
