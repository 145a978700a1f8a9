/* The replication transport over DPDK: one ethdev port per process, shared by the loops,
 * each loop with its own transport (struct xport) on its own RX/TX queue pair.
 *
 * The port comes from the EAL arguments: a real NIC bound to vfio-pci (mlx5, ice, i40e,
 * ixgbe) or a virtual device (--vdev=net_af_packet0,iface=veth1; net_af_xdp, net_memif,
 * net_tap). Set-up, in the daemon's main:
 *
 *     rte_eal_init(...);
 *     struct dpdk_port *p = dpdk_port_create(&cfg);          // queues = number of loops
 *     dpdk_port_dispatch_set(p, hand_over, loops);           // when there are several loops
 *     for each loop q, on its lcore: x[q] = dpdk_xport_create(p, q, lane_recv, lane_ctx);
 *     ... each loop turn: xport_poll(x[q]) as a poller, xport_flush(x[q]) as a flusher ...
 *
 * Lane l travels to UDP port port_base + l. Where the port has several RX queues and takes
 * rte_flow rules, each lane's port is steered to the queue of the loop that owns the lane.
 * Otherwise a loop can receive frames for another loop's lanes (one RX queue; RSS or
 * af_packet's fanout hashing flows): it decodes only the Ethernet/IP/UDP headers, sees the
 * lane, and hands the frame (the mbuf, no copy) to the owner through the dispatch hook, which
 * the loop module implements with its message rings:
 *
 *     static void on_frame(struct loop *l, void *m) { dpdk_xport_input(x[loop_id(l)], m); }
 *     static int hand_over(void *ctx, uint16_t q, struct rte_mbuf *m)
 *     {       struct loop **loops = ctx; return loop_msg_send(loops[q], on_frame, m); }
 *
 * Peers' MAC addresses are static (from the configuration) or learned with minimal ARP: the
 * transport answers requests for its address, asks for its peers' addresses until they
 * answer (send() returns -EAGAIN meanwhile), and learns from every ARP packet a peer sends,
 * so a peer that restarts with another MAC is relearned from its first request. */
#ifndef SPINDLE_DPDK_DPDK_H
#define SPINDLE_DPDK_DPDK_H

#include <stdbool.h>
#include <stdint.h>

#include "frame/reasm.h"
#include "lane/xport.h"

struct rte_mbuf;
struct dpdk_port;

#define DPDK_QUEUES_MAX 64
#define DPDK_RX_BURST 32
#define DPDK_TX_BURST 32
#define DPDK_DESC_DEFAULT 1024
#define DPDK_TX_BACKLOG_DEFAULT 4096     /* frames queued per loop beyond the NIC's ring */
#define DPDK_TX_HOLD_NS_DEFAULT (50ull * 1000) /* longest a part-filled burst waits */
#define DPDK_ARP_RETRY_NS_DEFAULT (100ull * 1000 * 1000)
#define DPDK_DISPATCH_FRAMES_DEFAULT 1024 /* frames in flight to other loops, per loop */
#define DPDK_FAULT_HELD_FRAMES 8192      /* frames the fault hooks can delay, per loop */
#define DPDK_POOL_CACHE 256
#define DPDK_POOL_MARGIN 1024
#define DPDK_REASM_EXPIRE_NS (10ull * 1000 * 1000) /* how often a loop looks for timeouts */

struct dpdk_peer {
	uint16_t node;
	uint32_t ip;          /* IPv4, host byte order */
	uint8_t mac[6];
	bool mac_static;      /* use mac as given; otherwise resolve it with ARP */
};

struct dpdk_port_config {
	uint16_t port_id;          /* ethdev port id (0: the first device the EAL found) */
	uint16_t queues;           /* loops that will create a transport, 1..DPDK_QUEUES_MAX */
	uint32_t cluster_id;
	uint16_t self_node;
	uint32_t self_ip;          /* host byte order */
	uint16_t port_base;        /* lane l uses UDP port port_base + l */
	uint16_t lanes;
	const uint16_t *lane_queue; /* lane -> the queue (loop) that owns it; NULL: lane % queues */
	uint32_t mtu;              /* IP MTU; 0 = FRAME_MTU_DEFAULT */
	uint16_t rx_desc, tx_desc; /* descriptors per queue; 0 = DPDK_DESC_DEFAULT */
	uint32_t pool_mbufs;       /* the mbuf pool's size; 0 = sized from the queues (port.c) */
	uint32_t tx_backlog_frames; /* 0 = DPDK_TX_BACKLOG_DEFAULT (raised to hold one largest message) */
	uint64_t tx_hold_ns;       /* 0 = DPDK_TX_HOLD_NS_DEFAULT */
	uint64_t arp_retry_ns;     /* 0 = DPDK_ARP_RETRY_NS_DEFAULT */
	uint32_t dispatch_frames_max; /* 0 = DPDK_DISPATCH_FRAMES_DEFAULT */
	struct frame_reasm_config reasm; /* per loop; zeros take the defaults */
	uint64_t fault_seed;       /* test builds: seeds the fault hooks (queue q uses seed + q) */
	uint16_t peers_count;
	struct dpdk_peer peers[XPORT_NODES_MAX];
};

/* Counters beyond struct xport_stats. */
struct dpdk_xport_stats {
	struct xport_stats xport;
	uint64_t rx_arp, tx_arp;
	uint64_t rx_dispatched;       /* frames handed to the loop that owns their lane */
	uint64_t rx_drop_dispatch;    /* ... that the hook refused (its ring full) */
	uint64_t rx_drop_nic;         /* imissed + ierrors + rx_nombuf of the queue's port */
	uint64_t tx_nomem;            /* messages dropped for want of mbufs */
	struct frame_reasm_stats reasm;
	uint64_t fault_lost, fault_duplicated, fault_reordered, fault_delayed;
};

/* What the port turned out to offer. */
struct dpdk_port_info {
	uint16_t rx_queues, tx_queues;
	bool steered;                 /* rte_flow sends each lane's port to its queue */
	bool tx_ip_csum_offload, tx_udp_csum_offload;
	uint32_t mtu;
	uint32_t pool_mbufs;
	uint32_t mbuf_data_bytes;
	uint8_t mac[6];
};

/* Hands a frame received on one loop to the loop that owns its lane (queue). Returns 0, or
 * a negative errno (the frame is then freed and counted). Called on the receiving loop. */
typedef int (*dpdk_dispatch_fn)(void *ctx, uint16_t queue, struct rte_mbuf *frame);

/* After rte_eal_init(). Configures and starts the port; NULL (and a log line) on error. */
struct dpdk_port *dpdk_port_create(const struct dpdk_port_config *cfg);
/* After every transport on it is destroyed. */
void dpdk_port_destroy(struct dpdk_port *p);
void dpdk_port_info_get(const struct dpdk_port *p, struct dpdk_port_info *out);
/* Before the loops start. Without a hook, frames for another loop's lanes are dropped. */
void dpdk_port_dispatch_set(struct dpdk_port *p, dpdk_dispatch_fn fn, void *ctx);

/* On the loop (lcore) that will poll it. recv gets each complete message. */
struct xport *dpdk_xport_create(struct dpdk_port *p, uint16_t queue, xport_recv_fn recv,
				void *recv_ctx);
/* On the owner's loop: a frame another loop's transport handed over through the hook. */
void dpdk_xport_input(struct xport *x, struct rte_mbuf *frame);
void dpdk_xport_stats_get(const struct xport *x, struct dpdk_xport_stats *out);

#endif
