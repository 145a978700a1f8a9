/* The UDP transport of one loop: checking its configuration, creating its sockets and
 * buffers, its operations table and counters, the fault hooks' control, and tearing down,
 * which waits for the loop to hand back every operation in flight before freeing memory
 * the kernel may still write. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define LOG_COMPONENT "udp"
#include "base/clock.h"
#include "base/log.h"
#include "udp/priv.h"

static uint32_t pow2_at_least(uint32_t v)
{
	uint32_t p = 1;
	while (p < v)
		p <<= 1;
	return p;
}

static int udp_config_fill(struct udp_xport_config *c)
{
	if (c->bgid == 0)
		c->bgid = UDP_BGID_DEFAULT;
	if (c->loops == 0)
		c->loops = 1;
	if (c->mtu == 0)
		c->mtu = FRAME_MTU_DEFAULT;
	if (c->loop == NULL || c->lanes == 0 || c->loop_index >= c->loops ||
	    c->self_node >= XPORT_NODES_MAX || c->mtu < FRAME_MTU_MIN || c->mtu > FRAME_MTU_MAX ||
	    c->port_base == 0 || (uint32_t)c->port_base + c->lanes > UINT16_MAX + 1u ||
	    c->peers_count > XPORT_NODES_MAX || c->self_ip == 0)
		return -EINVAL;
	/* Reassembly holds two largest messages (one completing while the next arrives, on
	 * different lanes), and the ring keeps UDP_RX_BUFFERS_MIN more for the kernel to fill
	 * while they wait. */
	uint32_t frags = frame_frag_count(FRAME_MSG_BYTES_MAX, frame_stride_bytes(c->mtu));
	if (c->reasm.frames_max == 0)
		c->reasm.frames_max = MAX(UDP_RX_BUFFERS_MIN, 2 * frags);
	if (c->rx_buffers == 0)
		c->rx_buffers = pow2_at_least(c->reasm.frames_max + UDP_RX_BUFFERS_MIN);
	if (c->tx_slots == 0)
		c->tx_slots = MAX(UDP_TX_SLOTS_MIN, 2 * frags);
	/* Buffer ids are 16 bits and the ring holds at most 32768 entries. */
	if (!IS_POW2(c->rx_buffers) || c->rx_buffers > 32768 || c->tx_slots < frags ||
	    c->reasm.frames_max >= c->rx_buffers)
		return -EINVAL;
	for (unsigned l = 0; c->lane_loop != NULL && l < c->lanes; l++) {
		if (c->lane_loop[l] >= c->loops)
			return -EINVAL;
	}
	return 0;
}

static int udp_peers_load(struct udp_xport *ux)
{
	for (uint16_t i = 0; i < ux->cfg.peers_count; i++) {
		const struct udp_peer *p = &ux->cfg.peers[i];
		if (p->node >= XPORT_NODES_MAX || p->node == ux->cfg.self_node || p->ip == 0 ||
		    (ux->peers_mask >> p->node & 1))
			return -EINVAL;
		ux->peers_mask |= 1ull << p->node;
		ux->peer_ip[p->node] = p->ip;
	}
	return 0;
}

static void udp_stats(const struct xport *x, struct xport_stats *out)
{
	const struct udp_xport *ux = container_of(x, const struct udp_xport, base);
	*out = ux->stats.xport;
}

static int udp_faults_set(struct xport *x, const char *spec)
{
#ifdef SPINDLE_FAULT_HOOKS
	struct udp_xport *ux = udp_xport_of(x);
	int rc = frame_fault_parse(&ux->fault, spec);
	if (rc == 0)
		LOG_INFO("node %u loop %u: faults set: %s", ux->cfg.self_node, ux->cfg.loop_index, spec);
	return rc;
#else
	(void)x;
	(void)spec;
	return -ENOTSUP;
#endif
}

static bool udp_idle(const struct udp_xport *ux)
{
	if (ux->inflight > 0)
		return false;
	for (uint16_t i = 0; i < ux->socks_count; i++) {
		if (ux->socks[i].armed)
			return false;
	}
	return true;
}

void udp_xport_free_if_idle(struct udp_xport *ux)
{
	if (!udp_idle(ux))
		return;
	udp_rx_teardown(ux);
	udp_tx_teardown(ux);
	if (ux->tx_fd >= 0)
		close(ux->tx_fd);
#ifdef SPINDLE_FAULT_HOOKS
	frame_fault_heap_free(&ux->held);
#endif
	free(ux);
}

/* Cancels the receives and frees the transport once the loop has returned every operation
 * (at once if none is in flight). Keep turning the loop until then. */
static void udp_destroy(struct xport *x)
{
	if (x == NULL)
		return;
	struct udp_xport *ux = udp_xport_of(x);
	ASSERT(!ux->destroying);
	ux->destroying = true;
	udp_tx_faults_drain(ux);
	frame_reasm_destroy(ux->reasm);
	ux->reasm = NULL;
	for (uint16_t i = 0; i < ux->socks_count; i++) {
		if (!ux->socks[i].armed)
			continue;
		/* user_data 0: the loop ignores the cancel's own completion. */
		struct io_uring_sqe *sqe = loop_sqe_get(ux->loop, NULL);
		io_uring_prep_cancel_fd(sqe, ux->socks[i].fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data(sqe, NULL);
	}
	udp_xport_free_if_idle(ux);
}

static const struct xport_ops udp_xport_ops = {
	.send = udp_tx_send,
	.flush = udp_tx_flush,
	.poll = udp_rx_poll,
	.stats = udp_stats,
	.faults_set = udp_faults_set,
	.destroy = udp_destroy,
};

void udp_sock_buf_set(int fd, int force_opt, int opt, uint32_t bytes)
{
	int size = (int)MIN(bytes, (uint32_t)INT32_MAX);
	if (size == 0)
		return;
	/* The forced option passes the system's cap (net.core.rmem_max) when we may. */
	if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) != 0 &&
	    setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size)) != 0)
		LOG_WARN("socket buffer of %u bytes: %s", bytes, strerror(errno));
}

static int udp_tx_socket_open(struct udp_xport *ux)
{
	ux->tx_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ux->tx_fd < 0)
		return -errno;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(ux->cfg.self_ip) };
	udp_sock_buf_set(ux->tx_fd, SO_SNDBUFFORCE, SO_SNDBUF, ux->cfg.sock_buf_bytes);
	if (bind(ux->tx_fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		LOG_ERROR("send socket on %08x: %s", ux->cfg.self_ip, strerror(errno));
		return -errno;
	}
	return 0;
}

static int udp_init(struct udp_xport *ux)
{
	const struct udp_xport_config *c = &ux->cfg;
	ux->stride = frame_stride_bytes(c->mtu);
	ux->dgram_bytes_max = FRAME_HDR_BYTES + ux->stride;
	if (getrandom(&ux->next_msg_id, sizeof(ux->next_msg_id), 0) != sizeof(ux->next_msg_id))
		ux->next_msg_id = time_mono_ns();
	ux->filter = (struct frame_filter){ .cluster_id = c->cluster_id, .self_node = c->self_node,
		.lanes = c->lanes, .peers_mask = ux->peers_mask };
	struct frame_reasm_config rc = c->reasm;
	rc.release = udp_rx_frag_release;
	rc.release_ctx = ux;
	ux->reasm = frame_reasm_create(&rc);
	if (ux->reasm == NULL)
		return -ENOMEM;
#ifdef SPINDLE_FAULT_HOOKS
	frame_fault_init(&ux->fault, c->fault_seed + c->loop_index);
	if (frame_fault_heap_init(&ux->held, UDP_FAULT_HELD_SLOTS) != 0)
		return -ENOMEM;
	const char *spec = getenv("SPINDLE_XPORT_FAULTS");
	if (spec != NULL && udp_faults_set(&ux->base, spec) != 0) {
		LOG_ERROR("SPINDLE_XPORT_FAULTS: cannot parse \"%s\"", spec);
		return -EINVAL;
	}
#endif
	int rc2 = udp_tx_socket_open(ux);
	if (rc2 == 0)
		rc2 = udp_tx_setup(ux);
	if (rc2 == 0)
		rc2 = udp_rx_setup(ux);
	return rc2;
}

struct xport *udp_xport_create(const struct udp_xport_config *cfg, xport_recv_fn recv,
			       void *recv_ctx)
{
	ASSERT(recv != NULL);
	struct udp_xport *ux = calloc(1, sizeof(*ux));
	if (ux == NULL)
		return NULL;
	ux->cfg = *cfg;
	ux->tx_fd = -1;
	if (udp_config_fill(&ux->cfg) != 0 || udp_peers_load(ux) != 0) {
		LOG_ERROR("bad configuration: node=%u lanes=%u loop %u of %u mtu=%u",
			  cfg->self_node, cfg->lanes, cfg->loop_index, cfg->loops, cfg->mtu);
		free(ux);
		return NULL;
	}
	ux->base = (struct xport){ .ops = &udp_xport_ops, .recv = recv, .recv_ctx = recv_ctx };
	ux->loop = ux->cfg.loop;
	ux->now_ns = time_mono_ns();
	if (udp_init(ux) != 0) {
		LOG_ERROR("node %u loop %u: cannot set up the transport", cfg->self_node,
			  cfg->loop_index);
		udp_destroy(&ux->base);
		return NULL;
	}
	return &ux->base;
}

void udp_xport_stats_get(const struct xport *x, struct udp_xport_stats *out)
{
	const struct udp_xport *ux = container_of(x, const struct udp_xport, base);
	*out = ux->stats;
	if (ux->reasm != NULL)
		frame_reasm_stats_get(ux->reasm, &out->reasm);
#ifdef SPINDLE_FAULT_HOOKS
	out->fault_lost = ux->fault.lost;
	out->fault_duplicated = ux->fault.duplicated;
	out->fault_reordered = ux->fault.reordered;
	out->fault_delayed = ux->fault.delayed;
#endif
}

uint32_t udp_xport_inflight(const struct xport *x)
{
	const struct udp_xport *ux = container_of(x, const struct udp_xport, base);
	return ux->inflight;
}
