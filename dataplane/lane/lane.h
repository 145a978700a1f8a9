/* Lanes: the partitions of the keyspace. Each lane is owned by one loop, which alone touches
 * its key-value state (and, when durable, its log and replication group). A request for a
 * lane runs on the owning loop: inline when the caller is that loop, otherwise carried over
 * the loops' message rings and its reply carried back, so there is no lock on the data path.
 *
 * A request (struct lane_req) runs one keyspace command against one lane. Reads run at
 * once. Writes run at once in memory mode; in durable mode they are checked and made
 * deterministic, join the lane's open batch, and answer when the batch's log entry has been
 * applied. Whatever the path, the reply ends up in req->out and req->done runs on the loop
 * that submitted the request. */
#ifndef SPINDLE_LANE_LANE_H
#define SPINDLE_LANE_LANE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/list.h"
#include "kv/kv.h"
#include "lane/slot.h"
#include "loop/loop.h"
#include "resp/resp.h"

#define LANE_LOOPS_MAX 128
#define LANE_EXPIRE_BUDGET 64   /* keys with a TTL examined per lane per turn */
#define LANE_WORK_BUDGET 256    /* hash-table slots moved per lane per turn */

struct lane;
struct lane_set;
struct lane_req;

typedef void (*lane_done_fn)(struct lane_req *req);

/* One command for one lane. The submitter fills the first block. The reply goes to *out,
 * which belongs to the submitting loop: a lane owned by that loop writes it there directly;
 * another loop writes into the request's own buffer, which is copied into *out when the
 * request comes back. The arguments are copied when the request must cross loops. */
struct lane_req {
	const struct kv_cmd *cmd;
	uint32_t argc;
	const struct resp_arg *argv;  /* valid during lane_submit() only */
	struct resp_out *out;         /* the reply, in the client's protocol */
	lane_done_fn done;            /* runs on the submitting loop once *out is complete */
	void *ctx, *ctx2;             /* the submitter's */
	uint32_t lane;
	/* Private. */
	struct lane_set *set;
	struct loop *origin;
	struct resp_out own;          /* the reply while it is written on the owning loop */
	struct resp_chunk_pool own_pool;
	struct resp_arg *args;        /* copied arguments, then their bytes */
	struct resp_out *reply;       /* where the owning loop writes the reply */
	uint32_t ordinal;             /* its command's place in a write batch */
	bool stale_ok;                /* READONLY connection: a replica's state will do */
	uint16_t fwd_origin;          /* forwarded here: the node to answer */
	uint64_t fwd_incarnation;
	struct list_node node;
};

/* Published by each lane's loop every turn, read by any loop (INFO, DBSIZE estimates). */
struct lane_counters {
	atomic_uint_fast64_t keys;
	atomic_uint_fast64_t volatile_keys;
	atomic_uint_fast64_t memory_bytes;
	atomic_uint_fast64_t expired_keys;
	atomic_uint_fast64_t hits, misses;
	atomic_uint_fast64_t reads, writes;
	atomic_uint_fast64_t forwarded;   /* commands sent to the primary on another node */
};

struct repl_msg;

/* A lane has stopped for good (a failed disk write, corruption at recovery): the node must
 * stop. why is a sentence for the log. */
typedef void (*lane_fatal_fn)(void *ctx, uint32_t lane, int err, const char *why);
#define LANE_PEERS_MAX 63

struct lane_set_config {
	uint32_t lanes;
	uint32_t loops;
	bool durable;
	/* Durable lanes. */
	const char *data_dir;
	unsigned node_id;
	uint64_t segment_bytes;
	uint64_t snapshot_every_bytes;
	uint32_t lease_ms;
	uint32_t heartbeat_ms;
	uint32_t drift_ppm;
	lane_fatal_fn fatal;
	void *fatal_ctx;
	/* Replicated lanes: the other nodes (none: this node alone is every lane's primary). */
	uint16_t peers[LANE_PEERS_MAX];
	uint32_t peers_count;
	unsigned bootstrap_primary;   /* a fresh cluster's first primary of every lane; 0: spread */
	bool bootstrap_control;       /* a fresh lane waits for the control plane's configuration */
};

/* The lanes of this node, each assigned to loops[lane % loops]. Call before the loops run. */
struct lane_set *lane_set_create(const struct lane_set_config *cfg, struct loop **loops);
void lane_set_destroy(struct lane_set *set);
struct log_disk;
/* Registers the per-turn work (expiry, resize steps, batch sealing, replication timers) of
 * the lanes owned by loop and, for durable lanes, starts their recovery on disk. Call on
 * the loop's own thread (its io_uring is used from there), before it serves. */
void lane_set_attach_loop(struct lane_set *set, struct loop *loop, struct log_disk *disk);
/* Lanes of the whole set still recovering; clients should be let in once it is 0. */
uint32_t lane_set_loading(const struct lane_set *set);
/* Shutting down: answers every request waiting on loop's lanes (writes not yet applied,
 * reads, forwarded commands) with an error that says the outcome is unknown, so that
 * clients can be closed at once. On the loop's thread. */
void lane_set_quiesce(struct lane_set *set, struct loop *loop);
/* Stops the lanes' I/O on loop, on its thread, before the loops are destroyed. */
void lane_set_detach_loop(struct lane_set *set, struct loop *loop);

/* ---- Replication ---- */
struct xport;
/* The transport loop uses for its lanes; its receive callback must be lane_xport_recv with
 * the set as context. Call on the loop's thread before lane_set_attach_loop(). */
void lane_set_xport_set(struct lane_set *set, struct loop *loop, struct xport *x);
void lane_xport_recv(void *ctx, uint16_t src, uint16_t lane, const uint8_t *msg, size_t len);

#include "repl/repl.h"
#define LANE_INFO_PEERS_MAX 8
/* A lane's replication state for INFO and the control plane; on the lane's loop. */
struct lane_repl_info {
	uint32_t lane;
	int state;
	struct repl_state rs;
	unsigned peers;
	struct repl_peer_info peer[LANE_INFO_PEERS_MAX];
	uint64_t caught_up;           /* primary: followers within lag_max of it (all members) */
	uint64_t forwarded, fwd_resent, fwd_dropped, rx_dropped;
};
void lane_repl_info_get(struct lane_set *set, uint32_t lane, struct lane_repl_info *out);
struct log_stats;
/* A durable lane's log figures (INFO persistence); false for a lane without a log. On the
 * lane's loop. */
bool lane_log_stats_get(struct lane_set *set, uint32_t lane, struct log_stats *out);
#define LANE_CAUGHT_UP_LAG 8
/* Nodes heard from on the replication network within window_ms, this node included; any
 * thread. */
uint64_t lane_set_peers_heard(const struct lane_set *set, uint64_t window_ms);
/* A lane's promise became durable: called on the lane's loop. */
typedef void (*lane_promised_fn)(void *ctx, uint32_t lane, const struct repl_promise *p);
/* Who hears of durable promises (the control link); set before the loops run. */
void lane_set_promised_set(struct lane_set *set, lane_promised_fn fn, void *ctx);
/* Administration, on the lane's loop (through lane_visit): promise an epoch (0 when durable,
 * -EINPROGRESS while being saved: ask again), set a configuration, hand primacy over. */
int lane_admin_promise(struct lane_set *set, uint32_t lane, uint64_t epoch, struct repl_promise *out);
int lane_admin_config(struct lane_set *set, uint32_t lane, const struct repl_config *cfg);
int lane_admin_handoff(struct lane_set *set, uint32_t lane, unsigned target);
bool lane_set_replicated(const struct lane_set *set);
bool lane_set_durable(const struct lane_set *set);
uint32_t lane_set_peers(const struct lane_set *set);
/* The transport of loop's lanes, or NULL; only on that loop. */
struct xport *lane_set_xport(struct lane_set *set, struct loop *loop);

uint32_t lane_set_count(const struct lane_set *set);
uint32_t lane_of_key(const struct lane_set *set, const void *key, size_t len);
bool lane_is_local(const struct lane_set *set, uint32_t lane, const struct loop *loop);
const struct lane_counters *lane_counters_get(const struct lane_set *set, uint32_t lane);
/* The key-value state of a lane; only for its owning loop. */
struct kv_db *lane_db(struct lane_set *set, uint32_t lane);

/* Runs req on its lane's loop. Returns true if it completed during the call (req->done has
 * NOT been called; the reply is in req->out), false if req->done will run later on this
 * loop. Inline completion happens only for a lane owned by the calling loop. */
bool lane_submit(struct lane_set *set, struct loop *here, struct lane_req *req);

/* ---- Requests: recycled per loop; only the loop that got one frees it ---- */
struct lane_req *lane_req_get(struct lane_set *set, struct loop *here);
void lane_req_put(struct lane_set *set, struct loop *here, struct lane_req *req);

/* ---- Work run on the owning loop of every lane (DBSIZE, KEYS, SCAN, FLUSHALL) ---- */
/* fn runs on the owning loop of `lane` with that lane's db; then done(arg) runs on `here`.
 * Returns true if both ran during the call. */
typedef void (*lane_visit_fn)(struct lane_set *set, uint32_t lane, struct kv_db *db, void *arg);
bool lane_visit(struct lane_set *set, struct loop *here, uint32_t lane, lane_visit_fn fn,
		void (*done)(void *arg), void *arg);

#endif
