/* Inside one load-generator thread: its io_uring, its connections and its schedule. Shared
 * by worker.c (the thread's life: set-up, start barrier, turns, drain), conn.c (an active
 * connection: requests out, replies in, checks) and held.c (idle connections).
 *
 * Each thread owns one io_uring with a ring of provided receive buffers: a connection holds
 * no receive memory while no reply is half-arrived, which is what lets one thread hold tens
 * of thousands of connections. io_uring user_data packs the operation in its top byte and
 * the connection's index below. */
#ifndef SPINDLE_BENCH_WORKER_H
#define SPINDLE_BENCH_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>
#include <netinet/in.h>

#include "base/clock.h"
#include "base/list.h"
#include "base/panic.h"
#include "bench/plan.h"
#include "bench/reply.h"
#include "bench/trace.h"

#define WORKER_URING_ENTRIES 4096
#define WORKER_CQ_ENTRIES (4 * WORKER_URING_ENTRIES)
#define WORKER_BUF_BYTES (16u * 1024)       /* one provided receive buffer */
#define WORKER_BUFS 512                     /* provided buffers per thread (a power of two) */
#define WORKER_BUF_GROUP 0
#define WORKER_CONNECTS_INFLIGHT_MAX 64     /* handshakes at once: stay inside listen backlogs */
#define WORKER_TICK_NS (100 * NS_PER_MS)    /* timeouts, live counters, abort checks */
#define WORKER_OUT_BYTES_MAX (1u << 20)     /* send buffer, unless one request is larger */
#define WORKER_CARRY_BYTES_MAX (64u << 20)  /* a reply larger than this closes the connection */
#define WORKER_MISMATCH_LOG_MAX 5           /* failed checks described on stderr */

STATIC_ASSERT(IS_POW2(WORKER_BUFS), "buffer ring size must be a power of two");

enum worker_ud {
	WORKER_UD_CONNECT = 1,
	WORKER_UD_RECV,
	WORKER_UD_SEND,
	WORKER_UD_HELD_CONNECT,
	WORKER_UD_HELD_RECV,
	WORKER_UD_HELD_SEND,
	WORKER_UD_LINK_TIMEOUT,
};

static inline uint64_t worker_ud_pack(enum worker_ud op, uint32_t index)
{
	return ((uint64_t)op << 56) | index;
}

static inline enum worker_ud worker_ud_op(uint64_t ud)
{
	return (enum worker_ud)(ud >> 56);
}

static inline uint32_t worker_ud_index(uint64_t ud)
{
	return (uint32_t)ud;
}

enum conn_state { CONN_NEW, CONN_CONNECTING, CONN_PINGING, CONN_READY, CONN_HELD, CONN_DEAD };

/* One request waiting for its reply (two replies when WAIT follows a write). */
struct conn_req {
	uint64_t start_ns;   /* latency is measured from here: send time, or intended time */
	uint64_t sent_ns;    /* for the timeout */
	uint64_t expected;   /* checking: value sequence or counter the reply must show */
	uint64_t key_j;      /* checking: index of the key among the connection's own */
	uint8_t op;
	uint8_t replies_left;
	uint8_t waits;       /* the last reply is WAIT's */
	uint8_t failed;
	uint8_t result;      /* enum bench_trace_result of the first failed reply */
	uint8_t why_len;     /* tracing: bytes of the error text kept in conn.why */
};

struct bench_conn {
	int fd;
	uint8_t state;
	bool send_busy;
	bool recv_armed;
	uint32_t index;          /* in the thread's array */
	uint32_t global;         /* over all threads and processes */
	struct list_node room_node;    /* on worker.room: may take another request */
	struct list_node dirty_node;   /* on worker.dirty: has bytes to send */
	struct list_node rearm_node;   /* on worker.rearm: its multishot receive ended */
	char *out;
	uint32_t out_head, out_len, out_cap;
	char *carry;             /* bytes of a reply that has not fully arrived */
	uint32_t carry_len, carry_cap;
	struct bench_reply_parser parser;
	struct conn_req *fifo;
	uint32_t fifo_head, fifo_count, fifo_mask;
	uint64_t *key_state;     /* checking: last value sequence or counter of each own key */
	uint64_t seq_next;       /* checking: sequence numbers of this connection's writes */
	uint64_t key_walk;       /* checking with --dist seq */
	char *why;               /* tracing: BENCH_TRACE_WHY_BYTES of error text per fifo slot */
};

/* An idle connection: it answers one PING, then only waits. */
struct bench_held {
	int fd;
	uint8_t state;
	uint8_t pong_matched;    /* bytes of "+PONG\r\n" received */
	bool recv_armed;
};

struct bench_worker {
	const struct bench_plan *plan;
	const struct bench_config *cfg;
	struct bench_shared *shared;
	struct bench_slot *slot;
	struct bench_result *res;
	uint32_t thread;
	struct io_uring ring;
	bool ring_ok;
	struct io_uring_buf_ring *br;
	char *bufs;
	uint32_t br_pending;      /* buffers given back since the last advance */

	struct bench_conn *conns;
	uint32_t nconns;
	struct bench_held *held;
	uint32_t nheld;
	uint32_t conns_total;      /* active connections over all threads */
	uint32_t held_global_first;
	uint32_t conns_alive;
	uint32_t setup_pending;    /* connections not yet open (or failed) */
	uint32_t connects_inflight;
	uint32_t connect_next;     /* next of nconns + nheld to open */
	uint64_t setup_progress_ns;
	struct __kernel_timespec connect_ts;  /* read by the kernel when a connect is submitted */

	struct list_node room, dirty, rearm;
	struct bench_rng rng;
	char *value;               /* a value to send; checking rewrites its header */
	char key[BENCH_KEY_BYTES_MAX];

	bool running;              /* between go and the end of the drain */
	bool issuing;
	uint64_t quota, issued, outstanding;
	uint64_t go_ns, measure_ns, end_ns, drain_ns, next_tick_ns;
	double interval_ns;        /* open loop: time between two requests of this thread */
	uint64_t sched_k;          /* open loop: requests scheduled so far */
	uint64_t next_ns;          /* open loop: intended time of the next request */
	struct bench_share seq_keys; /* --dist seq without checking: this thread's keys */
	uint64_t seq_next;
	uint32_t mismatches_logged;
	struct bench_trace trace;
	struct sockaddr_in addr[BENCH_PORTS_MAX];  /* connection g connects to addr[g % ports] */
};

/* conn.c */
int conn_setup(struct bench_worker *w, struct bench_conn *c, uint32_t index, uint32_t global);
void conn_free(struct bench_conn *c);
bool conn_has_room(const struct bench_worker *w, const struct bench_conn *c);
void conn_issue(struct bench_worker *w, struct bench_conn *c, uint64_t start_ns, uint64_t now);
void conn_send_kick(struct bench_worker *w, struct bench_conn *c);
void conn_recv_arm(struct bench_worker *w, struct bench_conn *c);
void conn_on_connect(struct bench_worker *w, struct bench_conn *c, int res);
void conn_on_send(struct bench_worker *w, struct bench_conn *c, int res);
void conn_on_recv(struct bench_worker *w, struct bench_conn *c, int res, const char *data,
		  bool more);
/* Closes c; its requests in flight count as timeouts or as dropped. */
void conn_kill(struct bench_worker *w, struct bench_conn *c, bool timed_out);
void conn_timeouts_check(struct bench_worker *w, uint64_t now);
/* Traces every request still in flight on c as ended with result (tracing only). */
void conn_fifo_trace(struct bench_worker *w, const struct bench_conn *c,
		     enum bench_trace_result result, uint64_t now);

/* held.c */
void held_on_connect(struct bench_worker *w, struct bench_held *h, int res);
void held_on_recv(struct bench_worker *w, struct bench_held *h, int res, const char *data,
		  bool more);
void held_on_send(struct bench_worker *w, struct bench_held *h, int res);
void held_kill(struct bench_worker *w, struct bench_held *h);

/* worker.c */
struct io_uring_sqe *worker_sqe(struct bench_worker *w);
/* Opens a socket to the target from this connection's source address; -errno on failure. */
int worker_socket(struct bench_worker *w, uint32_t global);
void worker_connect_prep(struct bench_worker *w, int fd, enum worker_ud op, uint32_t index,
			 uint32_t global);
void worker_recv_prep(struct bench_worker *w, int fd, enum worker_ud op, uint32_t index);
void worker_setup_resolved(struct bench_worker *w);

#endif
