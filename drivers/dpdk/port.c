/* The DPDK port shared by a process's loops: checking the configuration, sizing the mbuf
 * pool, configuring queues and offloads, steering lanes to queues with rte_flow where the
 * device takes it, and the neighbour table that ARP fills. */
#include <errno.h>
#include <string.h>

#define LOG_COMPONENT "dpdk"
#include "base/log.h"
#include "base/panic.h"
#include "dpdk/priv.h"

#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

static int port_config_fill(struct dpdk_port_config *c)
{
	if (c->mtu == 0)
		c->mtu = FRAME_MTU_DEFAULT;
	if (c->rx_desc == 0)
		c->rx_desc = DPDK_DESC_DEFAULT;
	if (c->tx_desc == 0)
		c->tx_desc = DPDK_DESC_DEFAULT;
	if (c->tx_backlog_frames == 0)
		c->tx_backlog_frames = DPDK_TX_BACKLOG_DEFAULT;
	if (c->tx_hold_ns == 0)
		c->tx_hold_ns = DPDK_TX_HOLD_NS_DEFAULT;
	if (c->arp_retry_ns == 0)
		c->arp_retry_ns = DPDK_ARP_RETRY_NS_DEFAULT;
	if (c->dispatch_frames_max == 0)
		c->dispatch_frames_max = DPDK_DISPATCH_FRAMES_DEFAULT;
	if (c->reasm.frames_max == 0)
		c->reasm.frames_max = FRAME_REASM_FRAMES_DEFAULT;
	if (c->queues == 0 || c->queues > DPDK_QUEUES_MAX || c->lanes == 0 ||
	    c->self_node >= XPORT_NODES_MAX || c->mtu < FRAME_MTU_MIN || c->mtu > FRAME_MTU_MAX ||
	    (uint32_t)c->port_base + c->lanes > UINT16_MAX + 1u || c->port_base == 0 ||
	    c->peers_count > XPORT_NODES_MAX || c->self_ip == 0) {
		LOG_ERROR("bad configuration: queues=%u lanes=%u node=%u mtu=%u port_base=%u",
			  c->queues, c->lanes, c->self_node, c->mtu, c->port_base);
		return -EINVAL;
	}
	/* The backlog must hold the largest message, or it could never be sent. */
	uint32_t frags = frame_frag_count(FRAME_MSG_BYTES_MAX, frame_stride_bytes(c->mtu));
	if (c->tx_backlog_frames < frags)
		c->tx_backlog_frames = frags;
	return 0;
}

static int port_peers_load(struct dpdk_port *p)
{
	for (uint16_t i = 0; i < p->cfg.peers_count; i++) {
		const struct dpdk_peer *peer = &p->cfg.peers[i];
		if (peer->node >= XPORT_NODES_MAX || peer->node == p->cfg.self_node ||
		    p->neigh[peer->node].configured || peer->ip == 0) {
			LOG_ERROR("bad peer %u: node=%u ip=%08x", i, peer->node, peer->ip);
			return -EINVAL;
		}
		struct dpdk_neigh *n = &p->neigh[peer->node];
		n->ip = peer->ip;
		n->configured = true;
		n->mac_static = peer->mac_static;
		if (peer->mac_static) {
			uint64_t mac = 0;
			for (int b = 0; b < 6; b++)
				mac = mac << 8 | peer->mac[b];
			atomic_store(&n->mac, DPDK_NEIGH_VALID | mac);
		}
		p->peers_mask |= 1ull << peer->node;
	}
	return 0;
}

/* The mbuf pool holds every frame that can exist at once, per loop:
 *     rx_desc + tx_desc          posted to the NIC's rings
 *   + RX_BURST + TX_BURST        in the loop's hands during a turn
 *   + tx_backlog_frames          queued for TX descriptors
 *   + reasm.frames_max           held in reassembly until their message completes
 *   + dispatch_frames_max        in flight to other loops (when there are several)
 *   + DPDK_FAULT_HELD_FRAMES     delayed by the fault hooks (test builds)
 *   + 1.5 x DPDK_POOL_CACHE      parked in the loop's mempool cache
 * plus DPDK_POOL_MARGIN for ARP and for what the PMD keeps beyond its rings. */
static uint32_t port_pool_mbufs(const struct dpdk_port_config *c)
{
	uint64_t per_queue = (uint64_t)c->rx_desc + c->tx_desc + DPDK_RX_BURST + DPDK_TX_BURST +
			     c->tx_backlog_frames + c->reasm.frames_max + DPDK_POOL_CACHE * 3 / 2;
	if (c->queues > 1)
		per_queue += c->dispatch_frames_max;
#ifdef SPINDLE_FAULT_HOOKS
	per_queue += DPDK_FAULT_HELD_FRAMES;
#endif
	uint64_t n = per_queue * c->queues + DPDK_POOL_MARGIN;
	ASSERT(n < UINT32_MAX);
	return (uint32_t)n;
}

static int port_pool_create(struct dpdk_port *p)
{
	/* Room for the largest frame in one segment: Ethernet header, a VLAN tag the NIC may
	 * leave in, the IP MTU and the FCS; never below the size most PMDs expect. */
	uint32_t frame_max = FRAME_ETH_BYTES + 4 + p->cfg.mtu + 4;
	uint32_t data = MAX(RTE_MBUF_DEFAULT_BUF_SIZE, RTE_PKTMBUF_HEADROOM + frame_max);
	uint32_t n = p->cfg.pool_mbufs != 0 ? p->cfg.pool_mbufs : port_pool_mbufs(&p->cfg);
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof(name), "spindle_xport_%u", p->cfg.port_id);
	if (data > UINT16_MAX)
		return -EINVAL;
	p->pool = rte_pktmbuf_pool_create(name, n, DPDK_POOL_CACHE, 0, (uint16_t)data,
					  rte_eth_dev_socket_id(p->cfg.port_id));
	if (p->pool == NULL) {
		LOG_ERROR("mbuf pool of %u x %u bytes: %s", n, data, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	p->info.pool_mbufs = n;
	p->info.mbuf_data_bytes = data - RTE_PKTMBUF_HEADROOM;
	return 0;
}

/* Steers each lane's UDP port to the queue that owns it; all or nothing. */
static void port_flows_create(struct dpdk_port *p)
{
	uint16_t id = p->cfg.port_id;
	if (p->info.rx_queues < 2 || p->info.rx_queues < p->cfg.queues)
		return;
	p->flows = calloc(p->cfg.lanes, sizeof(*p->flows));
	if (p->flows == NULL)
		return;
	struct rte_flow_attr attr = { .ingress = 1 };
	struct rte_flow_item_udp mask = { .hdr.dst_port = RTE_BE16(0xffff) };
	for (uint16_t l = 0; l < p->cfg.lanes; l++) {
		struct rte_flow_item_udp spec = {
			.hdr.dst_port = rte_cpu_to_be_16((uint16_t)(p->cfg.port_base + l)) };
		struct rte_flow_item pattern[] = {
			{ .type = RTE_FLOW_ITEM_TYPE_ETH },
			{ .type = RTE_FLOW_ITEM_TYPE_IPV4 },
			{ .type = RTE_FLOW_ITEM_TYPE_UDP, .spec = &spec, .mask = &mask },
			{ .type = RTE_FLOW_ITEM_TYPE_END },
		};
		struct rte_flow_action_queue queue = { .index = p->lane_queue[l] };
		struct rte_flow_action actions[] = {
			{ .type = RTE_FLOW_ACTION_TYPE_QUEUE, .conf = &queue },
			{ .type = RTE_FLOW_ACTION_TYPE_END },
		};
		struct rte_flow_error err;
		p->flows[l] = rte_flow_create(id, &attr, pattern, actions, &err);
		if (p->flows[l] == NULL) {
			LOG_INFO("port %u: no rte_flow steering (%s); loops hand frames over",
				 id, err.message ? err.message : "unsupported");
			rte_flow_flush(id, &err);
			free(p->flows);
			p->flows = NULL;
			return;
		}
	}
	p->info.steered = true;
}

static int port_queues_setup(struct dpdk_port *p, const struct rte_eth_dev_info *dev)
{
	uint16_t id = p->cfg.port_id;
	struct rte_eth_conf conf = { 0 };
	conf.rxmode.mtu = p->cfg.mtu;
	if (dev->tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	if (dev->tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	p->info.tx_ip_csum_offload = conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	p->info.tx_udp_csum_offload = p->info.tx_ip_csum_offload &&
				      (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM);
	p->info.rx_queues = (uint16_t)MIN(p->cfg.queues, MAX(dev->max_rx_queues, 1));
	p->info.tx_queues = (uint16_t)MIN(p->cfg.queues, MAX(dev->max_tx_queues, 1));
	int rc = rte_eth_dev_configure(id, p->info.rx_queues, p->info.tx_queues, &conf);
	if (rc != 0) {
		LOG_ERROR("port %u: configure: %s", id, rte_strerror(-rc));
		return rc;
	}
	uint16_t rxd = p->cfg.rx_desc, txd = p->cfg.tx_desc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxd, &txd);
	int socket = rte_eth_dev_socket_id(id);
	for (uint16_t q = 0; rc == 0 && q < p->info.rx_queues; q++)
		rc = rte_eth_rx_queue_setup(id, q, rxd, socket, NULL, p->pool);
	struct rte_eth_txconf txconf = dev->default_txconf;
	txconf.offloads = conf.txmode.offloads;
	for (uint16_t q = 0; rc == 0 && q < p->info.tx_queues; q++)
		rc = rte_eth_tx_queue_setup(id, q, txd, socket, &txconf);
	if (rc != 0)
		LOG_ERROR("port %u: queue set-up: %s", id, rte_strerror(-rc));
	return rc;
}

static int port_start(struct dpdk_port *p)
{
	uint16_t id = p->cfg.port_id;
	struct rte_eth_dev_info dev;
	int rc = rte_eth_dev_info_get(id, &dev);
	if (rc != 0) {
		LOG_ERROR("port %u: no such device (%s); check the EAL's -a or --vdev", id,
			  rte_strerror(-rc));
		return rc;
	}
	if (dev.max_rx_pktlen < FRAME_ETH_BYTES + p->cfg.mtu || dev.max_mtu < p->cfg.mtu) {
		LOG_ERROR("port %u (%s): MTU %u is more than the device takes (%u)", id,
			  dev.driver_name, p->cfg.mtu, dev.max_mtu);
		return -EINVAL;
	}
	if ((rc = port_pool_create(p)) != 0 || (rc = port_queues_setup(p, &dev)) != 0)
		return rc;
	rc = rte_eth_dev_set_mtu(id, (uint16_t)p->cfg.mtu);
	if (rc != 0 && rc != -ENOTSUP)
		LOG_WARN("port %u: set MTU %u: %s", id, p->cfg.mtu, rte_strerror(-rc));
	if ((rc = rte_eth_dev_start(id)) != 0) {
		LOG_ERROR("port %u: start: %s", id, rte_strerror(-rc));
		return rc;
	}
	struct rte_ether_addr mac;
	rte_eth_macaddr_get(id, &mac);
	memcpy(p->info.mac, mac.addr_bytes, 6);
	p->info.mtu = p->cfg.mtu;
	port_flows_create(p);
	LOG_INFO("port %u (%s): %u rx / %u tx queues, %s, mtu %u, %u mbufs, csum offload ip=%d udp=%d",
		 id, dev.driver_name, p->info.rx_queues, p->info.tx_queues,
		 p->info.steered ? "lanes steered by rte_flow" : "software dispatch", p->cfg.mtu,
		 p->info.pool_mbufs, p->info.tx_ip_csum_offload, p->info.tx_udp_csum_offload);
	return 0;
}

struct dpdk_port *dpdk_port_create(const struct dpdk_port_config *cfg)
{
	struct dpdk_port *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->cfg = *cfg;
	if (port_config_fill(&p->cfg) != 0 || port_peers_load(p) != 0)
		goto fail;
	p->lane_queue = calloc(p->cfg.lanes, sizeof(*p->lane_queue));
	if (p->lane_queue == NULL)
		goto fail;
	for (uint16_t l = 0; l < p->cfg.lanes; l++) {
		uint16_t q = cfg->lane_queue ? cfg->lane_queue[l] : l % p->cfg.queues;
		if (q >= p->cfg.queues) {
			LOG_ERROR("lane %u mapped to queue %u of %u", l, q, p->cfg.queues);
			goto fail;
		}
		p->lane_queue[l] = q;
	}
	p->cfg.lane_queue = p->lane_queue;
	for (unsigned q = 0; q < DPDK_QUEUES_MAX; q++)
		rte_spinlock_init(&p->tx_lock[q]);
	if (port_start(p) != 0)
		goto fail;
	return p;
fail:
	dpdk_port_destroy(p);
	return NULL;
}

void dpdk_port_destroy(struct dpdk_port *p)
{
	if (p == NULL)
		return;
	if (p->pool != NULL) {
		struct rte_flow_error err;
		if (p->flows != NULL)
			rte_flow_flush(p->cfg.port_id, &err);
		rte_eth_dev_stop(p->cfg.port_id);
		rte_eth_dev_close(p->cfg.port_id);
		rte_mempool_free(p->pool);
	}
	free(p->flows);
	free(p->lane_queue);
	free(p);
}

void dpdk_port_info_get(const struct dpdk_port *p, struct dpdk_port_info *out)
{
	*out = p->info;
}

void dpdk_port_dispatch_set(struct dpdk_port *p, dpdk_dispatch_fn fn, void *ctx)
{
	p->dispatch = fn;
	p->dispatch_ctx = ctx;
}

bool dpdk_neigh_mac_get(struct dpdk_port *p, uint16_t node, uint8_t mac[6])
{
	ASSERT(node < XPORT_NODES_MAX);
	uint64_t v = atomic_load_explicit(&p->neigh[node].mac, memory_order_acquire);
	if (!(v & DPDK_NEIGH_VALID))
		return false;
	for (int b = 5; b >= 0; b--, v >>= 8)
		mac[b] = (uint8_t)v;
	return true;
}

void dpdk_neigh_learn(struct dpdk_port *p, uint32_t ip, const uint8_t mac[6])
{
	uint64_t v = 0;
	for (int b = 0; b < 6; b++)
		v = v << 8 | mac[b];
	if (v == 0 || (mac[0] & 1))
		return; /* never learn a multicast or zero address */
	for (unsigned n = 0; n < XPORT_NODES_MAX; n++) {
		struct dpdk_neigh *e = &p->neigh[n];
		if (!e->configured || e->mac_static || e->ip != ip)
			continue;
		uint64_t old = atomic_exchange_explicit(&e->mac, DPDK_NEIGH_VALID | v,
							memory_order_release);
		if (old != (DPDK_NEIGH_VALID | v))
			LOG_INFO("node %u at %02x:%02x:%02x:%02x:%02x:%02x", n, mac[0], mac[1],
				 mac[2], mac[3], mac[4], mac[5]);
	}
}

bool dpdk_neigh_request_claim(struct dpdk_port *p, uint16_t node, uint64_t now_ns)
{
	struct dpdk_neigh *e = &p->neigh[node];
	uint64_t last = atomic_load_explicit(&e->request_ns, memory_order_relaxed);
	if (last != 0 && now_ns - last < p->cfg.arp_retry_ns)
		return false;
	return atomic_compare_exchange_strong(&e->request_ns, &last, now_ns);
}
