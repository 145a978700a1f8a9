/* The DPDK transport's private structures, shared by its source files: the port (set up once,
 * then read by every loop; only the neighbour table changes, through atomics) and the
 * per-loop transport (touched by its own loop only). */
#ifndef SPINDLE_DPDK_PRIV_H
#define SPINDLE_DPDK_PRIV_H

#include <stdatomic.h>

/* Ours before DPDK's: base/compiler.h defines container_of, likely and unlikely without
 * guards, and DPDK's headers skip theirs when those are defined. */
#include "base/compiler.h"
#include "dpdk/dpdk.h"
#include "frame/fault.h"
#include "frame/frame.h"

#include <rte_spinlock.h>

#define DPDK_NEIGH_VALID (1ull << 63)

/* A peer's address. mac is 0 until known, else DPDK_NEIGH_VALID | the 48-bit MAC. */
struct dpdk_neigh {
	uint32_t ip;
	bool configured;
	bool mac_static;
	_Atomic uint64_t mac;
	_Atomic uint64_t request_ns; /* when an ARP request was last sent for it */
};

struct dpdk_port {
	struct dpdk_port_config cfg;
	struct dpdk_port_info info;
	struct rte_mempool *pool;
	uint16_t *lane_queue;
	struct rte_flow **flows;
	uint64_t peers_mask;
	dpdk_dispatch_fn dispatch;
	void *dispatch_ctx;
	rte_spinlock_t tx_lock[DPDK_QUEUES_MAX]; /* only where loops share a TX queue */
	struct dpdk_neigh neigh[XPORT_NODES_MAX];
};

struct dpdk_xport {
	struct xport base;
	struct dpdk_port *port;
	uint16_t queue;
	uint16_t txq;
	bool has_rxq;
	bool txq_shared;
	uint32_t stride;
	uint64_t next_msg_id;
	uint64_t now_ns;
	uint64_t reasm_expire_ns;
	uint64_t arp_next_ns;
	struct frame_filter filter;
	struct frame_reasm *reasm;
	/* Frames waiting for the NIC: a ring of tx_cap (a power of two) slots. */
	struct rte_mbuf **tx_ring;
	uint32_t tx_cap;
	uint32_t tx_head;
	uint32_t tx_count;
	uint64_t tx_oldest_ns;
	struct rte_mbuf **tx_scratch; /* the mbufs of the message being sent */
	struct dpdk_xport_stats stats;
	struct frame_version_log version_log;
#ifdef SPINDLE_FAULT_HOOKS
	struct frame_fault fault;
	struct frame_fault_heap held;
#endif
};

static inline struct dpdk_xport *dpdk_xport_of(struct xport *x)
{
	return container_of(x, struct dpdk_xport, base);
}

/* port.c: the neighbour table. */
bool dpdk_neigh_mac_get(struct dpdk_port *p, uint16_t node, uint8_t mac[6]);
void dpdk_neigh_learn(struct dpdk_port *p, uint32_t ip, const uint8_t mac[6]);
/* True for the one caller that should send a request for node now. */
bool dpdk_neigh_request_claim(struct dpdk_port *p, uint16_t node, uint64_t now_ns);

/* tx.c */
int dpdk_tx_send(struct xport *x, uint16_t dst, uint16_t lane, const void *msg, size_t len);
int dpdk_tx_flush(struct xport *x);
/* Queues one finished frame (an ARP packet, a released fault-held frame), or frees it. */
void dpdk_tx_frame_push(struct dpdk_xport *dx, struct rte_mbuf *m);
/* Sends an ARP request for node unless one went out less than arp_retry_ns ago. */
void dpdk_tx_arp_request(struct dpdk_xport *dx, uint16_t node);
void dpdk_tx_faults_release(struct dpdk_xport *dx);
/* Sends what is due: fault-held frames, full bursts, part-filled ones older than the hold. */
int dpdk_tx_hold_check(struct dpdk_xport *dx);
/* Frees every queued and held frame (at destroy). */
void dpdk_tx_drain(struct dpdk_xport *dx);

/* rx.c */
int dpdk_rx_poll(struct xport *x);
void dpdk_rx_frame(struct dpdk_xport *dx, struct rte_mbuf *m, bool dispatched);

#endif
