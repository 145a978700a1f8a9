/* The UDP transport's receive side: one socket per owned lane, each with a multishot
 * recvmsg drawing from one ring of provided buffers. A datagram's buffer goes back to the
 * ring as soon as its message is delivered or dropped; buffers of fragments wait in the
 * reassembler. A multishot that stops (no buffers, an error) is started again by the poller
 * once buffers are back. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define LOG_COMPONENT "udp"
#include "base/clock.h"
#include "base/log.h"
#include "udp/priv.h"

static void rx_cb(struct loop *loop, struct loop_uring_op *op, const struct io_uring_cqe *cqe);

static uint8_t *rx_buf(struct udp_xport *ux, uint16_t bid)
{
	return ux->rx_bufs + (size_t)bid * ux->rx_buf_bytes;
}

static void rx_buf_return(struct udp_xport *ux, uint16_t bid)
{
	ASSERT(bid < ux->cfg.rx_buffers && ux->rx_buffers_free < ux->cfg.rx_buffers);
	io_uring_buf_ring_add(ux->br, rx_buf(ux, bid), ux->rx_buf_bytes, bid,
			      io_uring_buf_ring_mask(ux->cfg.rx_buffers), 0);
	io_uring_buf_ring_advance(ux->br, 1);
	ux->rx_buffers_free++;
}

/* Reassembly tokens are buffer ids plus one, so that no token is NULL. */
void udp_rx_frag_release(void *ctx, void *token)
{
	rx_buf_return(ctx, (uint16_t)((uintptr_t)token - 1));
}

static int rx_buffers_setup(struct udp_xport *ux)
{
	uint32_t n = ux->cfg.rx_buffers;
	ux->br = mmap(NULL, n * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
		      MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	ux->rx_bufs = mmap(NULL, (size_t)n * ux->rx_buf_bytes, PROT_READ | PROT_WRITE,
			   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (ux->br == MAP_FAILED || ux->rx_bufs == MAP_FAILED) {
		ux->br = ux->br == MAP_FAILED ? NULL : ux->br;
		ux->rx_bufs = ux->rx_bufs == MAP_FAILED ? NULL : ux->rx_bufs;
		return -ENOMEM;
	}
	io_uring_buf_ring_init(ux->br);
	struct io_uring_buf_reg reg = { .ring_addr = (uint64_t)(uintptr_t)ux->br,
					.ring_entries = n, .bgid = ux->cfg.bgid };
	int rc = io_uring_register_buf_ring(loop_uring(ux->loop), &reg, 0);
	if (rc < 0) {
		LOG_ERROR("buffer group %u: %s", ux->cfg.bgid, strerror(-rc));
		munmap(ux->br, n * sizeof(struct io_uring_buf));
		ux->br = NULL;
		return rc;
	}
	for (uint32_t i = 0; i < n; i++)
		rx_buf_return(ux, (uint16_t)i);
	return 0;
}

static int rx_socket_open(struct udp_xport *ux, uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(ux->cfg.self_ip) };
	udp_sock_buf_set(fd, SO_RCVBUFFORCE, SO_RCVBUF, ux->cfg.sock_buf_bytes);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int err = -errno;
		LOG_ERROR("bind %08x:%u: %s", ux->cfg.self_ip, port, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

int udp_rx_setup(struct udp_xport *ux)
{
	const struct udp_xport_config *c = &ux->cfg;
	/* Room for the recvmsg header, the source address and a largest datagram; a whole
	 * number of cache lines so that every buffer starts aligned. */
	ux->rx_buf_bytes = (uint32_t)ALIGN_UP(sizeof(struct io_uring_recvmsg_out) +
					      sizeof(struct sockaddr_in) + ux->dgram_bytes_max,
					      (size_t)CACHE_LINE_BYTES);
	ux->rx_msghdr.msg_namelen = sizeof(struct sockaddr_in);
	int rc = rx_buffers_setup(ux);
	if (rc != 0)
		return rc;
	ux->socks = calloc(c->lanes, sizeof(*ux->socks));
	if (ux->socks == NULL)
		return -ENOMEM;
	for (uint16_t l = 0; l < c->lanes; l++) {
		uint16_t owner = c->lane_loop ? c->lane_loop[l] : l % c->loops;
		if (owner != c->loop_index)
			continue;
		struct udp_sock *s = &ux->socks[ux->socks_count];
		int fd = rx_socket_open(ux, (uint16_t)(c->port_base + l));
		if (fd < 0)
			return fd;
		*s = (struct udp_sock){ .op.cb = rx_cb, .ux = ux, .fd = fd, .lane = l };
		ux->socks_count++;
	}
	udp_rx_arm(ux);
	ux->stats.rx_rearms = 0; /* the first arming is not a re-arm */
	return 0;
}

void udp_rx_teardown(struct udp_xport *ux)
{
	for (uint16_t i = 0; i < ux->socks_count; i++)
		close(ux->socks[i].fd);
	free(ux->socks);
	if (ux->br != NULL) {
		io_uring_unregister_buf_ring(loop_uring(ux->loop), ux->cfg.bgid);
		munmap(ux->br, ux->cfg.rx_buffers * sizeof(struct io_uring_buf));
	}
	if (ux->rx_bufs != NULL)
		munmap(ux->rx_bufs, (size_t)ux->cfg.rx_buffers * ux->rx_buf_bytes);
}

void udp_rx_arm(struct udp_xport *ux)
{
	ux->rearm_needed = false;
	for (uint16_t i = 0; i < ux->socks_count; i++) {
		struct udp_sock *s = &ux->socks[i];
		if (s->armed)
			continue;
		struct io_uring_sqe *sqe = loop_sqe_get(ux->loop, &s->op);
		io_uring_prep_recvmsg_multishot(sqe, s->fd, &ux->rx_msghdr, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = ux->cfg.bgid;
		io_uring_sqe_set_data(sqe, &s->op);
		s->armed = true;
		ux->stats.rx_rearms++;
	}
}

static void rx_deliver(void *ctx, uint16_t src, uint16_t lane, const uint8_t *msg, size_t len)
{
	struct udp_xport *ux = ctx;
	ux->stats.xport.rx_msgs++;
	ux->stats.xport.rx_bytes += len;
	ux->base.recv(ux->base.recv_ctx, src, lane, msg, len);
}

static void rx_count_drop(struct udp_xport *ux, enum frame_verdict v)
{
	struct xport_stats *s = &ux->stats.xport;
	if (v == FRAME_RX_FOREIGN)
		s->rx_drop_foreign++;
	else if (v == FRAME_RX_VERSION)
		s->rx_drop_version++;
	else if (v == FRAME_RX_CHECKSUM)
		s->rx_drop_checksum++;
	else
		s->rx_drop_malformed++;
}

static void rx_version_say(const struct udp_xport *ux, uint8_t version, uint32_t ip)
{
	LOG_WARN("node %u loop %u: refused replication frames of version %u from %u.%u.%u.%u "
		 "(%llu so far): this node speaks version %u; a node of another release cannot "
		 "join its lanes (docs/OPERATIONS.md, upgrading)", ux->cfg.self_node,
		 ux->cfg.loop_index, version, ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255,
		 (unsigned long long)ux->version_log.refused, frame_version_get());
}

/* Checks one datagram; returns the verdict and, on FRAME_RX_OK, its header and payload. */
static enum frame_verdict rx_check(struct udp_xport *ux, const struct udp_sock *s, uint8_t *buf,
				   int len, struct frame_hdr *h, const uint8_t **payload)
{
	struct io_uring_recvmsg_out *out = io_uring_recvmsg_validate(buf, len, &ux->rx_msghdr);
	if (out == NULL || (out->flags & MSG_TRUNC) || out->namelen < sizeof(struct sockaddr_in))
		return FRAME_RX_MALFORMED; /* larger than our MTU allows */
	const struct sockaddr_in *from = io_uring_recvmsg_name(out);
	const uint8_t *p = io_uring_recvmsg_payload(out, &ux->rx_msghdr);
	size_t plen = io_uring_recvmsg_payload_length(out, len, &ux->rx_msghdr);
	enum frame_verdict v = frame_hdr_decode(p, plen, &ux->filter, h);
	if (v == FRAME_RX_VERSION && frame_version_log_due(&ux->version_log, ux->now_ns))
		rx_version_say(ux, h->version, ntohl(from->sin_addr.s_addr));
	if (v != FRAME_RX_OK)
		return v;
	if (h->lane != s->lane)
		return FRAME_RX_MALFORMED;
	if (ntohl(from->sin_addr.s_addr) != ux->peer_ip[h->src_node])
		return FRAME_RX_FOREIGN; /* a node's frame from another node's address */
	*payload = p + FRAME_HDR_BYTES;
	return FRAME_RX_OK;
}

static void rx_datagram(struct udp_xport *ux, const struct udp_sock *s, uint16_t bid, int len)
{
	ux->stats.xport.rx_frames++;
	ux->rx_work++;
	struct frame_hdr h;
	const uint8_t *payload;
	enum frame_verdict v = rx_check(ux, s, rx_buf(ux, bid), len, &h, &payload);
	if (v != FRAME_RX_OK) {
		rx_count_drop(ux, v);
		rx_buf_return(ux, bid);
		return;
	}
	if (h.frag_count == 1) {
		rx_deliver(ux, h.src_node, h.lane, payload, h.frag_len);
		rx_buf_return(ux, bid);
		return;
	}
	ux->stats.xport.rx_drop_reassembly += frame_reasm_add(
		ux->reasm, &h, payload, (void *)(uintptr_t)(bid + 1u), ux->now_ns, rx_deliver, ux);
}

static void rx_cb(struct loop *loop, struct loop_uring_op *op, const struct io_uring_cqe *cqe)
{
	struct udp_sock *s = container_of(op, struct udp_sock, op);
	struct udp_xport *ux = s->ux;
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		s->armed = false;
		ux->rearm_needed = true;
	}
	if (cqe->res < 0) {
		if (cqe->res == -ENOBUFS)
			ux->stats.rx_nobufs++;
		else if (cqe->res != -ECANCELED)
			LOG_WARN("lane %u: recvmsg: %s", s->lane, strerror(-cqe->res));
	} else if (cqe->flags & IORING_CQE_F_BUFFER) {
		ASSERT(ux->rx_buffers_free > 0);
		ux->rx_buffers_free--;
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		ux->now_ns = loop_now_ns(loop);
		if (ux->destroying)
			rx_buf_return(ux, bid); /* arrived before the cancel: nobody to give it to */
		else
			rx_datagram(ux, s, bid, cqe->res);
	}
	if (ux->destroying)
		udp_xport_free_if_idle(ux);
}

int udp_rx_poll(struct xport *x)
{
	struct udp_xport *ux = udp_xport_of(x);
	ux->now_ns = loop_now_ns(ux->loop);
	if (ux->now_ns >= ux->reasm_expire_ns) {
		ux->stats.xport.rx_drop_reassembly += frame_reasm_expire(ux->reasm, ux->now_ns);
		ux->reasm_expire_ns = ux->now_ns + UDP_REASM_EXPIRE_NS;
	}
	udp_tx_faults_release(ux);
	if (ux->rearm_needed && ux->rx_buffers_free > 0)
		udp_rx_arm(ux);
	int work = ux->rx_work;
	ux->rx_work = 0;
	return work;
}
