/* The DPDK transport of one loop: creating it on its queue pair, its operations table,
 * its counters, the fault hooks' control, and tearing it down. */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#define LOG_COMPONENT "dpdk"
#include "base/clock.h"
#include "base/log.h"
#include "dpdk/priv.h"

#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

static void dx_stats(const struct xport *x, struct xport_stats *out)
{
	const struct dpdk_xport *dx = container_of(x, const struct dpdk_xport, base);
	*out = dx->stats.xport;
}

static int dx_faults_set(struct xport *x, const char *spec)
{
#ifdef SPINDLE_FAULT_HOOKS
	struct dpdk_xport *dx = dpdk_xport_of(x);
	int rc = frame_fault_parse(&dx->fault, spec);
	if (rc == 0)
		LOG_INFO("queue %u: faults set: %s", dx->queue, spec);
	return rc;
#else
	(void)x;
	(void)spec;
	return -ENOTSUP;
#endif
}

static void dx_destroy(struct xport *x)
{
	if (x == NULL)
		return;
	struct dpdk_xport *dx = dpdk_xport_of(x);
	dpdk_tx_flush(x);
	dpdk_tx_drain(dx);
	frame_reasm_destroy(dx->reasm);
#ifdef SPINDLE_FAULT_HOOKS
	frame_fault_heap_free(&dx->held);
#endif
	rte_free(dx->tx_scratch);
	rte_free(dx->tx_ring);
	rte_free(dx);
}

static const struct xport_ops dpdk_xport_ops = {
	.send = dpdk_tx_send,
	.flush = dpdk_tx_flush,
	.poll = dpdk_rx_poll,
	.stats = dx_stats,
	.faults_set = dx_faults_set,
	.destroy = dx_destroy,
};

static void dx_frame_release(void *ctx, void *token)
{
	(void)ctx;
	rte_pktmbuf_free(token);
}

#ifdef SPINDLE_FAULT_HOOKS
static int dx_faults_init(struct dpdk_xport *dx)
{
	frame_fault_init(&dx->fault, dx->port->cfg.fault_seed + dx->queue);
	if (frame_fault_heap_init(&dx->held, DPDK_FAULT_HELD_FRAMES) != 0)
		return -ENOMEM;
	const char *spec = getenv("SPINDLE_XPORT_FAULTS");
	if (spec != NULL && dx_faults_set(&dx->base, spec) != 0) {
		LOG_ERROR("SPINDLE_XPORT_FAULTS: cannot parse \"%s\"", spec);
		return -EINVAL;
	}
	return 0;
}
#endif

/* The message ids start at a random point so that a restarted sender's ids do not meet
 * the ones its peers still hold in reassembly (the message CRC catches what is left). */
static uint64_t dx_msg_id_start(void)
{
	uint64_t id = 0;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = rte_rdtsc();
	return id;
}

static int dx_init(struct dpdk_xport *dx, int socket)
{
	struct dpdk_port *p = dx->port;
	const struct dpdk_port_config *c = &p->cfg;
	dx->now_ns = time_mono_ns();
	dx->stride = frame_stride_bytes(c->mtu);
	dx->next_msg_id = dx_msg_id_start();
	dx->filter = (struct frame_filter){ .cluster_id = c->cluster_id, .self_node = c->self_node,
		.lanes = c->lanes, .peers_mask = p->peers_mask, .self_ip = c->self_ip,
		.port_base = c->port_base };
	struct frame_reasm_config rc = c->reasm;
	rc.release = dx_frame_release;
	rc.release_ctx = dx;
	dx->reasm = frame_reasm_create(&rc);
	dx->tx_cap = (uint32_t)rte_align32pow2(c->tx_backlog_frames);
	dx->tx_ring = rte_zmalloc_socket("spindle_tx_ring", dx->tx_cap * sizeof(*dx->tx_ring),
					 RTE_CACHE_LINE_SIZE, socket);
	uint32_t frags = frame_frag_count(XPORT_MSG_BYTES_MAX, dx->stride);
	dx->tx_scratch = rte_zmalloc_socket("spindle_tx_scratch", frags * sizeof(*dx->tx_scratch),
					    RTE_CACHE_LINE_SIZE, socket);
	if (dx->reasm == NULL || dx->tx_ring == NULL || dx->tx_scratch == NULL)
		return -ENOMEM;
#ifdef SPINDLE_FAULT_HOOKS
	return dx_faults_init(dx);
#else
	return 0;
#endif
}

struct xport *dpdk_xport_create(struct dpdk_port *p, uint16_t queue, xport_recv_fn recv,
				void *recv_ctx)
{
	ASSERT(queue < p->cfg.queues);
	ASSERT(recv != NULL);
	int socket = rte_eth_dev_socket_id(p->cfg.port_id);
	struct dpdk_xport *dx = rte_zmalloc_socket("spindle_xport", sizeof(*dx),
						   RTE_CACHE_LINE_SIZE, socket);
	if (dx == NULL) {
		LOG_ERROR("queue %u: out of memory", queue);
		return NULL;
	}
	dx->base = (struct xport){ .ops = &dpdk_xport_ops, .recv = recv, .recv_ctx = recv_ctx };
	dx->port = p;
	dx->queue = queue;
	dx->txq = queue % p->info.tx_queues;
	dx->txq_shared = p->cfg.queues > p->info.tx_queues;
	dx->has_rxq = queue < p->info.rx_queues;
	if (dx_init(dx, socket) != 0) {
		LOG_ERROR("queue %u: cannot set up the transport", queue);
		dx_destroy(&dx->base);
		return NULL;
	}
	return &dx->base;
}

void dpdk_xport_stats_get(const struct xport *x, struct dpdk_xport_stats *out)
{
	const struct dpdk_xport *dx = container_of(x, const struct dpdk_xport, base);
	*out = dx->stats;
	frame_reasm_stats_get(dx->reasm, &out->reasm);
	struct rte_eth_stats es;
	if (rte_eth_stats_get(dx->port->cfg.port_id, &es) == 0)
		out->rx_drop_nic = es.imissed + es.ierrors + es.rx_nombuf;
#ifdef SPINDLE_FAULT_HOOKS
	out->fault_lost = dx->fault.lost;
	out->fault_duplicated = dx->fault.duplicated;
	out->fault_reordered = dx->fault.reordered;
	out->fault_delayed = dx->fault.delayed;
#endif
}
