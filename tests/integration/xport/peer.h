/* xport_peer: a small program that runs the replication transport (drivers/dpdk or
 * drivers/udp) on real loops (dataplane/loop) and moves test messages with it, for the
 * integration tests and the transport benchmark. One process is one node.
 *
 * Roles: "send" sends --count messages of the --sizes given (cycled) to node --to,
 * optionally within a window of unacknowledged messages; "recv" checks and counts what
 * arrives (and acknowledges it for a sender's window); "ping" measures round trips against
 * an "echo" node. At exit it prints one JSON object with its counts, rates and the
 * transport's counters.
 *
 * Every test message starts with a 32-byte header (magic, kind, sequence, length, CRC32C of
 * the rest), so the receiver can tell an intact message from a wrong one. */
#ifndef SPINDLE_TESTS_XPORT_PEER_H
#define SPINDLE_TESTS_XPORT_PEER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lane/xport.h"
#include "loop/loop.h"

#define PEER_LOOPS_MAX 4
#define PEER_SIZES_MAX 16
#define PEER_RTT_SAMPLES_MAX 100000
#define PEER_MSG_HDR_BYTES 32
#define PEER_MAGIC 0x31545058u /* "XPT1" */
#define PEER_ACK_EVERY 8       /* a sender asks for an acknowledgement every 8th message */
#define PEER_SEND_BATCH_MAX 64 /* messages a sender queues per loop turn */

enum peer_driver { PEER_DPDK, PEER_UDP };
enum peer_role { PEER_SEND, PEER_RECV, PEER_PING, PEER_ECHO };
enum peer_kind { PEER_KIND_DATA = 1, PEER_KIND_ACK, PEER_KIND_PING, PEER_KIND_PONG };

struct peer_opts {
	enum peer_driver driver;
	enum peer_role role;
	uint16_t node;
	uint32_t self_ip;
	uint16_t peers_count;
	uint16_t peer_node[XPORT_NODES_MAX];
	uint32_t peer_ip[XPORT_NODES_MAX];
	uint16_t to;
	uint16_t lanes;
	uint16_t loops;
	uint16_t port_base;
	uint32_t cluster_id;
	uint32_t mtu;
	uint64_t count;          /* messages to send (send, ping) */
	uint64_t expect;         /* messages to receive before exiting (recv); 0: until idle */
	uint32_t sizes[PEER_SIZES_MAX];
	unsigned sizes_count;
	uint32_t window;         /* unacknowledged messages per sending loop; 0: no window */
	uint64_t window_bytes;   /* unacknowledged message bytes per sending loop; 0: none */
	uint64_t sizes_sum;      /* sum of sizes[], for counting bytes by sequence number */
	uint32_t duration_ms;    /* hard limit on the run */
	uint32_t idle_exit_ms;   /* recv/echo: exit after this long without a message */
	uint32_t linger_ms;      /* send: keep answering ARP and flushing this long after */
	uint32_t reasm_timeout_ms;
	uint64_t fault_seed;
};

struct peer;

/* One loop: its thread, its transport and its counters (written by its thread only). */
struct peer_loop {
	struct peer *peer;
	unsigned index;
	struct loop *loop;
	struct xport *x;
	struct loop_poller poller, flusher;
	struct loop_timer tick;
	pthread_t thread;
	/* Sending. */
	uint64_t next_seq, sent, send_refused, stalls;
	uint64_t acked;
	uint64_t ack_progress_ns;
	uint16_t next_lane;
	/* Receiving. */
	uint64_t received, corrupt, bytes, acks_sent, wrong_lane;
	uint64_t first_rx_ns, last_rx_ns;
	/* Round trips. */
	bool ping_waiting;
	uint64_t ping_sent_ns;
	uint64_t *rtt_ns;
	uint64_t rtt_count;
};

struct peer {
	struct peer_opts o;
	unsigned lcore_main_loops;
	struct peer_loop loops[PEER_LOOPS_MAX];
	void *dpdk_port;
	uint8_t *pattern;          /* the bytes test messages are cut from */
	uint32_t pattern_bytes;
	void *(*loop_fn)(void *);  /* what each loop's thread or lcore runs */
	pthread_barrier_t ready;   /* every loop set up before traffic starts */
	pthread_barrier_t stopped; /* every loop stopped before the report */
	pthread_barrier_t reported;
	_Atomic bool stopping;
	_Atomic uint64_t sent_total, received_total;
	uint64_t start_ns, send_done_ns;
};

/* traffic.c */
void peer_recv(void *ctx, uint16_t src, uint16_t lane, const uint8_t *msg, size_t len);
int peer_poll(void *arg);
int peer_flush(void *arg);
void peer_tick(struct loop *loop, struct loop_timer *t);
bool peer_lane_mine(const struct peer *p, unsigned loop_index, uint16_t lane);
void peer_report(struct peer *p);

/* transport.c */
int peer_transport_init(struct peer *p, int argc, char **argv);
struct xport *peer_transport_create(struct peer *p, struct peer_loop *pl);
void peer_transport_destroy(struct peer *p, struct peer_loop *pl);
void peer_transport_fini(struct peer *p);
/* Starts p->loop_fn(pl) for loops 1.. on their own lcores or threads, runs loop 0 here,
 * and waits for all. */
void peer_loops_run(struct peer *p);
void peer_transport_stats(struct peer *p, struct peer_loop *pl, char *out, size_t size);

#endif
