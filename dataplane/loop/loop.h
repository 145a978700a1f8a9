/* The per-core run-to-completion loop, shaped as SPDK's reactor: each turn drains a bounded
 * batch of cross-loop messages, runs every poller, runs the due timers, then the end-of-turn
 * flushers (batched sends, sealing write batches). A poller returns >0 when it did work and 0
 * when idle, which gives busy/idle accounting for free.
 *
 * Each loop owns one io_uring (client sockets, disk) that is submitted and reaped once per
 * turn. When idle, the loop backs off (a blocking io_uring wait with a short timeout, woken
 * early by a message from another loop), so that several nodes can share a small machine; in
 * spin mode it never sleeps.
 *
 * Everything here is for the loop's own thread, except loop_msg_send() and loop_stop(). */
#ifndef SPINDLE_LOOP_LOOP_H
#define SPINDLE_LOOP_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>

#include "base/list.h"

struct loop;

#define LOOP_MSG_BATCH_MAX 64      /* messages handled per turn before the pollers run */
#define LOOP_MSG_RING_DEFAULT 4096 /* slots in a loop's message ring (a power of two) */
#define LOOP_URING_ENTRIES_DEFAULT 4096

struct loop_config {
	unsigned id;                 /* 0..n-1: the loop's index in the process */
	bool spin;                   /* never sleep (production on dedicated cores) */
	uint32_t uring_entries;      /* submission queue size; 0 = default */
	uint32_t msg_ring_slots;     /* 0 = default */
	uint32_t idle_spin_us;       /* stay hot this long after the last busy turn */
	uint32_t idle_sleep_us_max;  /* longest back-off sleep when idle */
};

/* ---- Lifecycle ---- */
struct loop *loop_create(const struct loop_config *cfg);
void loop_destroy(struct loop *loop);
/* Runs turns until loop_stop(); returns 0. Call on the thread that owns the loop. */
int loop_run(struct loop *loop);
/* Runs one turn; returns how many units of work it did. For tests and for shutdown drains. */
int loop_run_once(struct loop *loop);
/* Asks the loop to return from loop_run() after its current turn; any thread. */
void loop_stop(struct loop *loop);
unsigned loop_id(const struct loop *loop);
/* Monotonic time read once at the start of the turn; cheap to call often. */
uint64_t loop_now_ns(const struct loop *loop);
/* Wall-clock milliseconds read once at the start of the turn (key expiry). */
int64_t loop_wall_ms(const struct loop *loop);

/* ---- Pollers: called every turn; return >0 if they did work ---- */
typedef int (*loop_poller_fn)(void *arg);
struct loop_poller {
	loop_poller_fn fn;
	void *arg;
	const char *name;
	uint64_t busy_turns;
	struct list_node node;
};
void loop_poller_add(struct loop *loop, struct loop_poller *p, const char *name,
		     loop_poller_fn fn, void *arg);
void loop_poller_remove(struct loop *loop, struct loop_poller *p);
/* Flushers run at the end of every turn, after pollers and timers, in the order added. */
void loop_flusher_add(struct loop *loop, struct loop_poller *p, const char *name,
		      loop_poller_fn fn, void *arg);

/* ---- Cross-loop messages: {fn, arg} on a bounded ring; no locks ---- */
typedef void (*loop_msg_fn)(struct loop *loop, void *arg);
/* From any thread. Returns 0, or -ENOBUFS when the target's ring is full (backpressure:
 * the caller keeps the work and retries, or answers the client with an error). */
int loop_msg_send(struct loop *to, loop_msg_fn fn, void *arg);
/* Like loop_msg_send() but never refuses: a message the target's ring cannot take now waits
 * on the sending loop's backlog and is retried at the start of every turn, in order (once a
 * backlog exists, every later message from this loop queues behind it). Only from the
 * thread of `from`. */
void loop_msg_post(struct loop *from, struct loop *to, loop_msg_fn fn, void *arg);

/* ---- Timers ---- */
struct loop_timer;
typedef void (*loop_timer_fn)(struct loop *loop, struct loop_timer *t);
struct loop_timer {
	uint64_t due_ns;
	loop_timer_fn fn;
	void *arg;
	uint32_t heap_index; /* private; 0 when not armed */
};
/* (Re)arms t to fire once, delay_ns from now. */
void loop_timer_start(struct loop *loop, struct loop_timer *t, uint64_t delay_ns,
		      loop_timer_fn fn, void *arg);
void loop_timer_stop(struct loop *loop, struct loop_timer *t);
bool loop_timer_armed(const struct loop_timer *t);

/* ---- io_uring ---- */
/* An operation in flight on the loop's ring. The SQE's user_data is the op's address; its
 * callback runs on the loop with the completion. Embed one in the struct that owns the I/O
 * (a connection's recv, a log's write). Multishot ops get one callback per CQE. */
struct loop_uring_op;
typedef void (*loop_uring_cb)(struct loop *loop, struct loop_uring_op *op,
			      const struct io_uring_cqe *cqe);
struct loop_uring_op {
	loop_uring_cb cb;
};
/* Returns a free SQE (submitting queued ones first if the ring is full) with user_data set
 * to op; the caller fills in the rest with io_uring_prep_*() and must restore user_data
 * afterwards with io_uring_sqe_set_data(sqe, op) because the prep helpers clear it. */
struct io_uring_sqe *loop_sqe_get(struct loop *loop, struct loop_uring_op *op);
struct io_uring *loop_uring(struct loop *loop);

/* ---- Accounting ---- */
struct loop_stats {
	uint64_t turns;
	uint64_t busy_turns;
	uint64_t sleeps;
	uint64_t msgs;
	uint64_t msgs_refused;  /* loop_msg_send() to this loop that found the ring full */
	uint64_t msgs_backlogged; /* loop_msg_post() from this loop that had to wait */
	uint64_t cqes;
	uint64_t busy_ns;       /* time spent in turns that did work */
};
void loop_stats_get(const struct loop *loop, struct loop_stats *out);
/* Turns run so far; readable from any thread (a stalled loop stops it). */
uint64_t loop_turns_get(const struct loop *loop);

#endif
