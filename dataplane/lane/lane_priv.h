/* The inside of a lane, shared by the lane module's files: lane.c (the set, requests between
 * loops), store.c (a durable lane's recovery and the replication core's I/O on the log),
 * batch.c (writes joining batches, proposals, apply and replies, reads), meta.c (the small
 * durable record of promised epochs), snap.c (snapshots taken and installed). */
#ifndef SPINDLE_LANE_PRIV_H
#define SPINDLE_LANE_PRIV_H

#include "lane/lane.h"
#include "lane/xport.h"
#include "log/log.h"
#include "repl/repl.h"

#define LANE_READS_MAX (REPL_NODES_MAX + 1)  /* a catch-up read per peer, plus apply */
#define LANE_TICK_NS (5ull * 1000000)        /* replication timers */
#define LANE_ENTRY_HEADER_BYTES 9            /* kind (1) + the primary's time in ms (8) */
#define LANE_PAYLOAD_KIND_COMMANDS 1
/* Room a segment keeps besides two largest records: its header and block rounding. */
#define LANE_SEGMENT_RESERVE_BYTES (64u * 1024)
#define LANE_PENDING_APPENDS_MAX 4096        /* entries waiting for the log's write buffers */
#define LANE_SNAPSHOT_RETRY_NS (1000ull * 1000000) /* after a failed snapshot (disk clock) */
#define LANE_PUBLISH_NS (2ull * 1000000)     /* INFO counters refreshed this often */

enum lane_state {
	LANE_LOADING = 0,  /* recovering from disk */
	LANE_SERVING = 1,
	LANE_FAILED = 2,   /* fail-stop: a disk error or corruption; the node stops */
};

/* Entries the core asked to append that the log could not take yet (write buffers busy):
 * kept in order and offered again every turn. */
struct lane_append {
	struct list_node node;
	struct log_entry e;            /* for a truncation, e.index is the last entry kept */
	bool truncate;
	uint8_t data[];
};

/* A write batch proposed to the core, waiting for its entry to be applied. */
struct lane_batch {
	struct list_node node;
	uint64_t index;                /* the entry's index */
	struct list_node waiters;      /* struct lane_req, in the order of their commands */
};

/* A read waiting for the applied index (and, without a lease, a heartbeat round). */
struct lane_read {
	struct list_node node;
	struct lane_req *req;
	struct resp_out *out;
	uint64_t read_index;
	uint64_t seq;                  /* 0: no round needed */
};

struct lane_io_read {
	struct log_read rd;
	struct lane *lane;
	unsigned tag;
	uint64_t to_index;
	bool busy;
	bool queued;                   /* to start (or to report err) at the next turn */
	int err;                       /* the log refused the read: reported as its result */
	uint64_t from_index;
	size_t max_bytes;
};

struct lane_snap_io {
	struct log_snap_read rd;
	struct lane *lane;
	unsigned tag;
	uint8_t *buf;
	bool pending;                  /* the log refused: report pending_err next turn */
	int pending_err;
};

struct lane {
	uint32_t id;
	struct lane_set *set;
	struct loop *owner;
	struct kv_db *db;
	enum lane_state state;
	/* Durable lanes. */
	struct log *log;
	struct log_recovery recovery;
	struct repl *repl;
	bool is_primary;
	bool nospace;                  /* an append found no room: writes are refused */
	bool log_nospace;              /* the log could not prepare its next segment */
	uint64_t start_epoch;          /* the epoch this node started as primary in */
	uint64_t applied_index;
	int64_t last_time_ms;          /* the time of the last entry: entries never go back */
	struct kv_enc batch;           /* the open batch's commands */
	uint8_t *payload;              /* the entry being proposed: header, then the batch */
	uint32_t batch_bytes_max;      /* the largest batch: from the segment size and the core */
	size_t payload_cap;
	int64_t batch_time_ms;
	struct list_node batch_waiters;
	struct list_node proposed;     /* struct lane_batch, oldest first */
	struct list_node reads;        /* struct lane_read, waiting */
	struct list_node appends;      /* struct lane_append */
	uint32_t appends_count;
	bool flush_needed;
	bool log_closing;
	bool closed;                   /* stopped: late completions go no further */
	struct kv_dec dec;
	struct resp_chunk_pool discard_pool; /* replies nobody waits for (followers, replays) */
	struct lane_io_read reads_io[LANE_READS_MAX];
	struct lane_snap_io *snap_io[LANE_READS_MAX];
	struct lane_meta *meta;
	/* Replication and forwarding. */
	unsigned primary_node;         /* REPL_NODE_NONE when unknown */
	uint64_t epoch;
	struct list_node fwd_pending;  /* commands forwarded to the primary, by seq */
	uint64_t fwd_incarnation;
	uint64_t fwd_next_seq;
	uint64_t fwd_resets;
	uint64_t fwd_srtt_us, fwd_rttvar_us; /* the primary's answer time, smoothed */
	struct lane_fwd_in *fwd_in[REPL_NODES_MAX]; /* channels from other nodes, as primary */
	struct resp_argv fwd_argv;
	struct lane_fwd_out *fwd_out[REPL_NODES_MAX]; /* forwarding messages gathered per node */
	bool fwd_out_any;
	uint64_t fwd_resent, fwd_dropped, rx_dropped, send_errors;
	struct lane_snapshot *snap;    /* a snapshot being taken */
	uint64_t snap_retry_ns;        /* no new snapshot before this (the disk's clock) */
	struct lane_install *install;  /* a snapshot being received */
	int install_err;               /* a refused snapshot chunk, reported next turn */
	struct repl_snapshot_meta install_err_meta;
	uint64_t install_err_offset;
	size_t install_err_len;
	uint64_t rng;
	char dir[LOG_PATH_MAX];
	struct lane_counters counters CACHE_ALIGNED;
};

struct lane_loop {
	struct loop *loop;
	struct lane_set *set;
	uint32_t *lanes;              /* the lanes this loop owns */
	uint32_t lanes_count;
	unsigned arena;
	struct log_disk *disk;
	struct xport *xport;
	uint8_t *txbuf;                /* LANE_TXBUF_BYTES: one encoded message */
	struct repl_entry rx_entries[REPL_MSG_ENTRIES_MAX];
	struct loop_poller xport_poller;
	uint64_t published_ns;         /* counters last published for INFO */
	bool attached;
	struct loop_poller work;
	struct loop_poller flusher;
	struct loop_timer tick;
	struct lane_req *free_reqs;
	uint32_t free_count;
};

#define LANE_TXBUF_BYTES (REPL_MSG_BYTES_MAX + 64)

struct lane_set {
	struct lane_set_config cfg;
	uint64_t incarnation;         /* random at start: names this run's forwarding channels */
	uint64_t rx_dropped;
	atomic_uint_fast64_t heard_ms[REPL_NODES_MAX]; /* last message from each node */
	uint64_t ping_ms;             /* last pings sent (by the loop owning lane 0) */
	lane_promised_fn promised;
	void *promised_ctx;
	struct lane *lanes;
	atomic_uint loading;          /* lanes still recovering */
	struct lane_loop per_loop[LANE_LOOPS_MAX];
};

static inline struct lane_loop *lane_loop_of_loop(struct lane_set *set, const struct loop *loop)
{
	unsigned id = loop_id(loop);
	return &set->per_loop[id];
}

/* store.c */
void lane_store_open(struct lane *lane);
void lane_store_close(struct lane *lane);
void lane_fail(struct lane *lane, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int lane_store_flush(struct lane *lane);
void lane_store_drop_queued(struct lane *lane);
int lane_store_reads_retry(struct lane *lane);
uint64_t lane_now_ms(void *ctx);

/* batch.c */
bool lane_write_begin(struct lane *lane, struct lane_req *req, struct resp_out *out);
bool lane_read_begin(struct lane *lane, struct lane_req *req, struct resp_out *out);
int lane_batch_seal(struct lane *lane);
void lane_apply(void *ctx, const struct repl_entry *e);
void lane_abandon(void *ctx, uint64_t from_index);
void lane_waiters_close(struct lane *lane);
void lane_read_confirmed(void *ctx, uint64_t seq);
void lane_reads_serve(struct lane *lane);
void lane_start_epoch(struct lane *lane);
void lane_epoch_applied(struct lane *lane, const struct repl_entry *e);
/* lane.c: a request's reply is complete: answer it on its loop. */
void lane_req_complete(struct lane *lane, struct lane_req *req);
/* Gives the request its own copy of its arguments (they pointed into a receive buffer that is
 * reused once the call returns); needed before a request waits. 0 or -ENOMEM. */
int lane_req_copy_args(struct lane_req *req);

/* fwd.c */
struct lane_fwd_in;
struct lane_fwd_req;
bool lane_fwd_begin(struct lane *lane, struct lane_req *req, struct resp_out *out);
void lane_fwd_recv(struct lane *lane, unsigned src, int kind, const uint8_t *buf, size_t len);
int lane_fwd_tick(struct lane *lane);
void lane_fwd_reset(struct lane *lane);
void lane_fwd_in_reset_all(struct lane *lane);
void lane_fwd_in_clear(struct lane_fwd_in *ch);
void lane_fwd_early_keep(struct lane_fwd_in *ch, const struct lane_fwd_req *m, const uint8_t *buf,
			 size_t len);
void lane_fwd_early_run(struct lane *lane, unsigned src, struct lane_fwd_in *ch);
struct lane_fwd_out;
void lane_fwd_flush(struct lane *lane);
void lane_fwd_out_free(struct lane *lane);

/* peer.c */
void lane_send_raw(struct lane *lane, unsigned dst, const uint8_t *msg, size_t len);
void lane_repl_send(void *ctx, unsigned dst, const struct repl_msg *m);
void lane_start_replicated(struct lane *lane);
void lane_ping_peers(struct lane_set *set, struct lane *lane);

/* lane.c: runs req here, as this node's replica of the lane (no forwarding). */
bool lane_exec_here(struct lane *lane, struct lane_req *req, struct resp_out *out);

/* snap.c */
void lane_snapshot_load(struct lane *lane, void (*done)(struct lane *lane, int err));
int lane_snapshot_maybe(struct lane *lane);
int lane_snapshot_work(struct lane *lane);
void lane_snapshot_close(struct lane *lane);
void lane_snapshot_abandon(struct lane *lane);
void lane_snap_io_init(struct repl_io *io);

/* meta.c */
struct lane_meta;
typedef void (*lane_meta_cb)(struct lane *lane, int err);
struct lane_meta *lane_meta_create(struct lane *lane, struct log_disk *disk);
void lane_meta_destroy(struct lane_meta *m);
/* Reads both slots and keeps the newest valid record (all zero when there is none). */
void lane_meta_load(struct lane_meta *m, lane_meta_cb done);
const struct repl_meta *lane_meta_get(const struct lane_meta *m);
/* Writes the record durably into the older slot; repl_meta_done() follows. */
void lane_meta_save(struct lane_meta *m, const struct repl_meta *meta);
/* The lane stops: operations in flight complete without going further. Destroy it once it
 * is no longer busy. */
void lane_meta_close(struct lane_meta *m);
bool lane_meta_busy(const struct lane_meta *m);

#endif
