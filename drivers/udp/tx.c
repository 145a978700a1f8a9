/* The UDP transport's send side: a message is split into datagrams written into send slots,
 * each slot one sendmsg SQE on the loop's ring; the loop submits the whole batch at the end
 * of its turn. A message takes its slots all at once or is refused whole. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define LOG_COMPONENT "udp"
#include "base/clock.h"
#include "base/crc.h"
#include "base/log.h"
#include "udp/priv.h"

static void tx_done_cb(struct loop *loop, struct loop_uring_op *op, const struct io_uring_cqe *cqe);

static struct udp_slot *tx_slot_get(struct udp_xport *ux)
{
	ASSERT(ux->slots_free > 0 && ux->slots_free_head != UDP_SLOT_NONE);
	struct udp_slot *s = &ux->slots[ux->slots_free_head];
	ux->slots_free_head = s->next_free;
	ux->slots_free--;
	s->refs = 1;
	return s;
}

/* Drops one reference to a slot; the last returns it to the free list. */
static void tx_slot_put(struct udp_xport *ux, struct udp_slot *s)
{
	ASSERT(s->refs > 0);
	if (--s->refs > 0)
		return;
	s->next_free = ux->slots_free_head;
	ux->slots_free_head = (uint32_t)(s - ux->slots);
	ux->slots_free++;
}

int udp_tx_setup(struct udp_xport *ux)
{
	uint32_t n = ux->cfg.tx_slots;
	ux->slots = calloc(n, sizeof(*ux->slots));
	/* Touched only as slots are used, so memory grows with the traffic. */
	ux->tx_bufs = mmap(NULL, (size_t)n * ux->dgram_bytes_max, PROT_READ | PROT_WRITE,
			   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (ux->slots == NULL || ux->tx_bufs == MAP_FAILED) {
		ux->tx_bufs = NULL;
		return -ENOMEM;
	}
	ux->slots_free_head = UDP_SLOT_NONE;
	for (uint32_t i = n; i-- > 0;) {
		struct udp_slot *s = &ux->slots[i];
		s->op.cb = tx_done_cb;
		s->ux = ux;
		s->buf = ux->tx_bufs + (size_t)i * ux->dgram_bytes_max;
		s->iov.iov_base = s->buf;
		s->msg.msg_name = &s->to;
		s->msg.msg_namelen = sizeof(s->to);
		s->msg.msg_iov = &s->iov;
		s->msg.msg_iovlen = 1;
		s->next_free = ux->slots_free_head;
		ux->slots_free_head = i;
	}
	ux->slots_free = n;
	return 0;
}

void udp_tx_teardown(struct udp_xport *ux)
{
	if (ux->tx_bufs != NULL)
		munmap(ux->tx_bufs, (size_t)ux->cfg.tx_slots * ux->dgram_bytes_max);
	free(ux->slots);
}

/* Prepares the sendmsg of a slot on the loop's ring; the loop submits it this turn. */
static void tx_submit(struct udp_xport *ux, struct udp_slot *s)
{
	struct io_uring_sqe *sqe = loop_sqe_get(ux->loop, &s->op);
	io_uring_prep_sendmsg(sqe, ux->tx_fd, &s->msg, 0);
	io_uring_sqe_set_data(sqe, &s->op);
	ux->inflight++;
	ux->tx_queued++;
}

static void tx_done_cb(struct loop *loop, struct loop_uring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct udp_slot *s = container_of(op, struct udp_slot, op);
	struct udp_xport *ux = s->ux;
	ASSERT(ux->inflight > 0);
	ux->inflight--;
	if (cqe->res < 0 || (size_t)cqe->res != s->iov.iov_len) {
		if (ux->stats.tx_errors++ == 0)
			LOG_WARN("node %u: sendmsg to node %u: %s", ux->cfg.self_node, s->dst,
				 cqe->res < 0 ? strerror(-cqe->res) : "short");
	}
	tx_slot_put(ux, s);
	if (ux->destroying)
		udp_xport_free_if_idle(ux);
}

#ifdef SPINDLE_FAULT_HOOKS
/* Applies the fault hooks to a datagram for dst: lose it, send it twice, hold it back. */
static void tx_enqueue_faulty(struct udp_xport *ux, struct udp_slot *s)
{
	struct frame_fault_verdict v;
	frame_fault_decide(&ux->fault, s->dst, ux->now_ns, &v);
	if (v.copies == 0) {
		tx_slot_put(ux, s);
		return;
	}
	s->refs = v.copies;
	for (unsigned c = 0; c < v.copies; c++) {
		if (v.due_ns[c] > ux->now_ns && frame_fault_heap_push(&ux->held, s, v.due_ns[c]) == 0)
			continue;
		tx_submit(ux, s);
	}
}
#endif

void udp_tx_faults_release(struct udp_xport *ux)
{
#ifdef SPINDLE_FAULT_HOOKS
	struct udp_slot *s;
	while ((s = frame_fault_heap_pop_due(&ux->held, ux->now_ns)) != NULL)
		tx_submit(ux, s);
#else
	(void)ux;
#endif
}

static void tx_enqueue(struct udp_xport *ux, struct udp_slot *s)
{
#ifdef SPINDLE_FAULT_HOOKS
	if (ux->fault.active) {
		tx_enqueue_faulty(ux, s);
		return;
	}
#endif
	tx_submit(ux, s);
}

int udp_tx_send(struct xport *x, uint16_t dst, uint16_t lane, const void *msg, size_t len)
{
	struct udp_xport *ux = udp_xport_of(x);
	ASSERT(lane < ux->cfg.lanes && !ux->destroying);
	ASSERT(msg != NULL || len == 0);
	if (len > XPORT_MSG_BYTES_MAX)
		return -EMSGSIZE;
	if (dst >= XPORT_NODES_MAX || !(ux->peers_mask >> dst & 1))
		return -EHOSTUNREACH;
	uint32_t n = frame_frag_count((uint32_t)len, ux->stride);
	if (ux->slots_free < n) {
		ux->stats.xport.tx_dropped++;
		return -ENOBUFS;
	}
	ux->now_ns = time_mono_ns();
	struct frame_hdr h = { .type = FRAME_TYPE_DATA, .cluster_id = ux->cfg.cluster_id,
		.src_node = ux->cfg.self_node, .dst_node = dst, .lane = lane,
		.msg_len = (uint32_t)len, .msg_id = ux->next_msg_id++, .msg_crc = crc32c(msg, len) };
	struct sockaddr_in to = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)(ux->cfg.port_base + lane)),
		.sin_addr.s_addr = htonl(ux->peer_ip[dst]) };
	for (uint32_t i = 0; i < n; i++) {
		struct udp_slot *s = tx_slot_get(ux);
		frame_hdr_frag_set(&h, i, ux->stride);
		if (h.frag_len > 0)
			memcpy(s->buf + FRAME_HDR_BYTES, (const uint8_t *)msg + h.frag_offset, h.frag_len);
		frame_hdr_encode(s->buf, &h);
		s->iov.iov_len = FRAME_HDR_BYTES + h.frag_len;
		s->to = to;
		s->dst = dst;
		tx_enqueue(ux, s);
	}
	ux->stats.xport.tx_msgs++;
	ux->stats.xport.tx_frames += n;
	ux->stats.xport.tx_bytes += len;
	return 0;
}

int udp_tx_flush(struct xport *x)
{
	struct udp_xport *ux = udp_xport_of(x);
#ifdef SPINDLE_FAULT_HOOKS
	ux->now_ns = time_mono_ns();
	udp_tx_faults_release(ux);
#endif
	/* The loop submits every prepared SQE right after its flushers: one io_uring_enter. */
	int queued = ux->tx_queued;
	ux->tx_queued = 0;
	return queued;
}

void udp_tx_faults_drain(struct udp_xport *ux)
{
#ifdef SPINDLE_FAULT_HOOKS
	struct udp_slot *s;
	while ((s = frame_fault_heap_pop_any(&ux->held)) != NULL)
		tx_slot_put(ux, s);
#else
	(void)ux;
#endif
}
