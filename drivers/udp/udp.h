/* The replication transport over kernel UDP sockets, through the loop's io_uring: for
 * machines without DPDK NICs or hugepages, and for tests on loopback. The same frames as
 * drivers/dpdk minus the Ethernet, IPv4 and UDP headers, which the kernel adds.
 *
 * Lane l travels to UDP port port_base + l, as with DPDK. Each loop's transport binds one
 * socket per lane it owns (so the kernel delivers each lane's datagrams to the loop that
 * owns it: no hand-over between loops) and one socket it sends from. Receiving is one
 * multishot recvmsg per socket, all sharing one ring of provided buffers (a buffer is held
 * only while its datagram is in reassembly; an idle transport holds none). Sending is one
 * sendmsg SQE per datagram, from a fixed set of send slots; the loop submits them all at
 * the end of its turn, one io_uring_enter for the whole batch.
 *
 * Every peer is a configured node with an IPv4 address; a datagram from an address that is
 * not its node's is counted as foreign. Create on the loop's thread, after loop_create().
 * destroy cancels the receives and frees the transport once the loop has handed back every
 * operation it had in flight: keep the loop turning a few turns before loop_destroy().
 *
 * Sends of a turn reach the peer's socket in one burst, so sock_buf_bytes should hold the
 * largest message (a 4 MiB message at MTU 1500 is about 12 MB of socket buffer). */
#ifndef SPINDLE_UDP_UDP_H
#define SPINDLE_UDP_UDP_H

#include <stdint.h>

#include "frame/reasm.h"
#include "lane/xport.h"
#include "loop/loop.h"

#define UDP_BGID_DEFAULT 1            /* provided-buffer group id; drivers/net uses 0 */
#define UDP_RX_BUFFERS_MIN 1024
#define UDP_TX_SLOTS_MIN 512
#define UDP_REASM_EXPIRE_NS (10ull * 1000 * 1000)
#define UDP_FAULT_HELD_SLOTS 4096

struct udp_peer {
	uint16_t node;
	uint32_t ip; /* IPv4, host byte order */
};

struct udp_xport_config {
	struct loop *loop;
	uint16_t bgid;               /* 0 = UDP_BGID_DEFAULT; unique among the ring's groups */
	uint32_t cluster_id;
	uint16_t self_node;
	uint32_t self_ip;            /* host byte order; the address every socket binds */
	uint16_t port_base;          /* lane l uses UDP port port_base + l */
	uint16_t lanes;
	uint16_t loops;              /* loops in the process; 0 = 1 */
	uint16_t loop_index;         /* this transport's loop */
	const uint16_t *lane_loop;   /* lane -> the loop that owns it; NULL: lane % loops */
	uint32_t mtu;                /* IP MTU (65535 on loopback is fine); 0 = FRAME_MTU_DEFAULT */
	uint32_t rx_buffers;         /* provided buffers, a power of two above the frames held
				      * in reassembly; 0 = those + UDP_RX_BUFFERS_MIN */
	uint32_t tx_slots;           /* datagrams queued or in flight; 0 = two largest messages */
	uint32_t sock_buf_bytes;     /* SO_RCVBUF and SO_SNDBUF; 0 = leave the kernel's */
	struct frame_reasm_config reasm; /* zeros take the defaults (frames: two largest
					  * messages, at least UDP_RX_BUFFERS_MIN) */
	uint64_t fault_seed;         /* test builds: seeds the fault hooks */
	uint16_t peers_count;
	struct udp_peer peers[XPORT_NODES_MAX];
};

/* Counters beyond struct xport_stats. */
struct udp_xport_stats {
	struct xport_stats xport;
	uint64_t tx_errors;          /* sendmsg completions with an error */
	uint64_t rx_nobufs;          /* times the provided buffers ran out (the kernel dropped) */
	uint64_t rx_rearms;          /* multishot receives started again */
	struct frame_reasm_stats reasm;
	uint64_t fault_lost, fault_duplicated, fault_reordered, fault_delayed;
};

/* NULL (and a log line) on a bad configuration or when a socket cannot be bound. */
struct xport *udp_xport_create(const struct udp_xport_config *cfg, xport_recv_fn recv,
			       void *recv_ctx);
void udp_xport_stats_get(const struct xport *x, struct udp_xport_stats *out);
/* Datagrams whose send has not completed yet (the loop must keep turning until 0 before
 * destroy, or destroy cancels them). */
uint32_t udp_xport_inflight(const struct xport *x);

#endif
