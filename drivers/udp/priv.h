/* The UDP transport's private structures, shared by its source files; everything here
 * belongs to the transport's loop. */
#ifndef SPINDLE_UDP_PRIV_H
#define SPINDLE_UDP_PRIV_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "base/compiler.h"
#include "frame/fault.h"
#include "frame/frame.h"
#include "udp/udp.h"

#define UDP_SLOT_NONE UINT32_MAX

/* One lane's receiving socket and its multishot recvmsg. */
struct udp_sock {
	struct loop_uring_op op;
	struct udp_xport *ux;
	int fd;
	uint16_t lane;
	bool armed;       /* a multishot recvmsg is in flight */
};

/* One datagram to send: its bytes, where to, and the sendmsg that carries it. */
struct udp_slot {
	struct loop_uring_op op;
	struct udp_xport *ux;
	struct sockaddr_in to;
	struct iovec iov;
	struct msghdr msg;
	uint32_t next_free;
	uint16_t refs;    /* sendmsgs in flight or held for it (2 when duplicated) */
	uint16_t dst;
	uint8_t *buf;
};

struct udp_xport {
	struct xport base;
	struct udp_xport_config cfg;
	struct loop *loop;
	uint64_t peers_mask;
	uint32_t peer_ip[XPORT_NODES_MAX];
	struct frame_filter filter;
	uint32_t stride;
	uint32_t dgram_bytes_max;
	uint64_t next_msg_id;
	uint64_t now_ns;
	uint64_t reasm_expire_ns;
	struct frame_reasm *reasm;
	int tx_fd;
	/* Receiving. */
	struct udp_sock *socks;
	uint16_t socks_count;
	bool rearm_needed;
	struct msghdr rx_msghdr;        /* the shape of every multishot recvmsg */
	struct io_uring_buf_ring *br;
	uint8_t *rx_bufs;
	uint32_t rx_buf_bytes;
	uint32_t rx_buffers_free;       /* in the ring, for the kernel to fill */
	int rx_work;                    /* frames handled by completions since the last poll */
	/* Sending. */
	struct udp_slot *slots;
	uint8_t *tx_bufs;
	uint32_t slots_free_head;
	uint32_t slots_free;
	uint32_t inflight;
	int tx_queued;                  /* sendmsgs prepared since the last flush */
	bool destroying;
	struct udp_xport_stats stats;
	struct frame_version_log version_log;
#ifdef SPINDLE_FAULT_HOOKS
	struct frame_fault fault;
	struct frame_fault_heap held;
#endif
};

static inline struct udp_xport *udp_xport_of(struct xport *x)
{
	return container_of(x, struct udp_xport, base);
}

/* udp.c: frees a destroyed transport once no operation of it is left on the ring. */
void udp_xport_free_if_idle(struct udp_xport *ux);
/* Sets a socket buffer size, past the system's cap where allowed. */
void udp_sock_buf_set(int fd, int force_opt, int opt, uint32_t bytes);

/* rx.c */
int udp_rx_setup(struct udp_xport *ux);
/* Returns a reassembled fragment's buffer to the ring (the reassembler's release). */
void udp_rx_frag_release(void *ctx, void *token);
void udp_rx_teardown(struct udp_xport *ux);
void udp_rx_arm(struct udp_xport *ux);
int udp_rx_poll(struct xport *x);

/* tx.c */
int udp_tx_setup(struct udp_xport *ux);
void udp_tx_teardown(struct udp_xport *ux);
int udp_tx_send(struct xport *x, uint16_t dst, uint16_t lane, const void *msg, size_t len);
int udp_tx_flush(struct xport *x);
void udp_tx_faults_release(struct udp_xport *ux);
/* Returns every fault-held slot (at destroy). */
void udp_tx_faults_drain(struct udp_xport *ux);

#endif
