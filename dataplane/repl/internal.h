/* The replication core's private state and the functions its source files share. Each
 * received message type has its own file (recv_append.c, recv_ack.c, ...); the primary's
 * sending side is replicate.c, commit and apply are commit.c, the in-memory entry cache and
 * the epoch runs of the log are cache.c and runs.c, leases and read barriers lease.c,
 * elections election.c, promises and configurations config.c, completions io_done.c. */
#ifndef SPINDLE_REPL_INTERNAL_H
#define SPINDLE_REPL_INTERNAL_H

#include "repl/repl.h"

#include "base/compiler.h"
#include "base/panic.h"

#define REPL_SEQ_RING 64 /* send times of recent heartbeat rounds, for leases */
STATIC_ASSERT(IS_POW2(REPL_SEQ_RING), "seq ring must be a power of two");
STATIC_ASSERT(REPL_NODES_MAX <= 64, "member sets are 64-bit bitmaps");

/* ---- The in-memory entry cache: the newest entries of the log, contiguous up to the last
 * index, payloads in one byte ring addressed by ever-growing virtual offsets. ---- */
struct repl_cache_slot {
	uint64_t epoch;
	uint64_t start_v; /* virtual offset of the payload; physical = start_v % bytes_cap */
	uint32_t len;
	uint8_t type;
};

struct repl_cache {
	struct repl_cache_slot *slots;
	uint64_t slots_mask;
	uint8_t *bytes;
	uint64_t bytes_cap;
	uint64_t first;   /* index of the oldest cached entry */
	uint64_t count;   /* entries first .. first + count - 1 are cached */
	uint64_t head_v;  /* where the next payload goes */
	uint64_t tail_v;  /* start of the oldest payload */
	uint64_t payload_bytes;
};

int repl_cache_init(struct repl_cache *c, uint64_t entries, uint64_t bytes);
void repl_cache_free(struct repl_cache *c);
/* Empties the cache; the next entry pushed must have index next_index. */
void repl_cache_reset(struct repl_cache *c, uint64_t next_index);
bool repl_cache_fits(const struct repl_cache *c, uint32_t len);
/* Appends e (its index must follow the last cached one); false if it does not fit. */
bool repl_cache_push(struct repl_cache *c, const struct repl_entry *e);
bool repl_cache_get(const struct repl_cache *c, uint64_t index, struct repl_entry *out);
/* Drops the oldest entry. */
void repl_cache_pop_front(struct repl_cache *c);
/* Drops every entry with index >= from_index. */
void repl_cache_truncate(struct repl_cache *c, uint64_t from_index);
static inline uint64_t repl_cache_last(const struct repl_cache *c)
{
	return c->first + c->count - 1;
}

/* ---- Epoch runs: the epoch of every index in the log without keeping the entries. ---- */
struct repl_runs {
	struct repl_epoch_run *v;
	unsigned n, cap;
};
int repl_runs_push(struct repl_runs *runs, uint64_t index, uint64_t epoch);
void repl_runs_truncate(struct repl_runs *runs, uint64_t from_index);
/* Drops runs wholly before index (keeps the one containing it, clipped). */
void repl_runs_drop_before(struct repl_runs *runs, uint64_t index);

/* ---- Per-follower progress on the primary ---- */
struct repl_inflight {
	uint64_t last_index;
	uint32_t bytes;
};

struct repl_peer {
	bool voter;
	uint64_t match;     /* durable on the follower and matching our log */
	uint64_t next;      /* next index to send */
	bool probing;       /* one APPEND at a time until the follower's position is known */
	uint64_t probe_prev; /* prev_index of the probe in flight: rejections of others are stale */
	uint64_t last_send_ms;
	uint64_t last_ack_ms;
	uint64_t progress_ms; /* last time match advanced or a (re)send started */
	uint64_t acked_seq;
	struct repl_inflight inflight[REPL_INFLIGHT_MSGS_MAX];
	unsigned inflight_head, inflight_count;
	uint64_t inflight_bytes;
	bool read_pending;  /* a catch-up read for this follower is in flight */
	/* Snapshot transfer */
	bool snap;
	bool snap_read_pending;
	struct repl_snapshot_meta snap_meta;
	uint64_t snap_acked;   /* the follower has everything before this offset */
	uint64_t snap_sent_ms;
	bool vote_granted;     /* mode B: in the current campaign */
};

struct repl {
	struct repl_options o;
	struct repl_io io;
	bool failed;

	enum repl_role role;
	unsigned primary;
	struct repl_members members;
	struct repl_meta meta;         /* wanted; meta.epoch is the current epoch */
	struct repl_meta meta_durable; /* saved */
	bool meta_saving, meta_dirty;

	/* The log */
	uint64_t last_index, durable_index, commit_index, applied_index;
	uint64_t log_start;
	struct repl_snapshot_meta snap;
	struct repl_runs runs;
	struct repl_cache cache;
	bool apply_read_pending;

	/* Follower */
	uint64_t match_known;   /* our log matches the primary's of this epoch up to here */
	uint64_t acked_match;   /* the match index last reported to the primary */
	uint64_t seen_seq;      /* highest heartbeat round seen from the primary */
	uint64_t heard_ms;      /* last message from the current primary (0: never) */
	bool inst_active;       /* receiving a snapshot */
	bool inst_writing;
	struct repl_snapshot_meta inst_meta;
	uint64_t inst_next;
	uint64_t inst_ms;

	/* Primary */
	struct repl_peer *peers[REPL_NODES_MAX];
	uint64_t epoch_start_index;
	uint64_t hb_seq;
	uint64_t hb_due_ms;
	bool round_wanted;
	uint64_t seq_sent_ms[REPL_SEQ_RING];
	uint64_t read_confirmed_seq;
	uint64_t lease_until_ms;
	bool handoff;
	unsigned handoff_target;
	uint64_t handoff_deadline_ms;
	bool handoff_ready;

	/* Mode A */
	uint64_t primary_wanted_epoch; /* appointed; waiting for the metadata to be durable */
	uint64_t promise_wanted;       /* a promise waiting for the metadata */
	bool promise_was_primary;

	/* Mode B */
	uint64_t election_due_ms;
	uint64_t quorum_check_ms;
	bool vote_reply_pending;
	unsigned vote_reply_to;
	struct repl_config_entry *configs; /* CONFIG entries in the log, oldest first */
	unsigned n_configs, configs_cap;
	struct repl_members snap_members;  /* configuration as of the snapshot */

	uint64_t counters[REPL_CNT_MAX];
};

/* core.c */
uint64_t repl_now(struct repl *r);
bool repl_is_member(const struct repl *r, unsigned node);
bool repl_is_voter(const struct repl *r, unsigned node);
unsigned repl_majority(const struct repl *r);
/* The epoch of the entry at index, or false when the log no longer (or never) knew it. */
bool repl_epoch_at(const struct repl *r, uint64_t index, uint64_t *epoch);
uint64_t repl_last_epoch(const struct repl *r);
void repl_send(struct repl *r, unsigned dst, struct repl_msg *m);
void repl_meta_save(struct repl *r);
/* Adopts a newer epoch: steps down if primary, forgets the primary and the vote. */
void repl_epoch_adopt(struct repl *r, uint64_t epoch, unsigned primary);
void repl_become_follower(struct repl *r, unsigned primary);
void repl_become_primary(struct repl *r);
void repl_role_notify(struct repl *r);
void repl_fail(struct repl *r, int err, uint64_t index);
int repl_peers_sync(struct repl *r);
/* Appends entries to our log: runs, cache, the append I/O. Returns how many it took (all,
 * unless memory for the epoch runs ran out). */
unsigned repl_log_append(struct repl *r, const struct repl_entry *e, unsigned n);
void repl_log_truncate(struct repl *r, uint64_t from_index);
/* Makes room in the cache for len bytes by dropping entries that are durable and applied. */
bool repl_cache_make_room(struct repl *r, uint32_t len);

/* replicate.c */
void repl_replicate_peer(struct repl *r, unsigned node);
void repl_replicate_all(struct repl *r);
void repl_heartbeat_round(struct repl *r);
void repl_replicate_tick(struct repl *r, uint64_t now);
void repl_replicate_entries(struct repl *r, unsigned node, const struct repl_entry *e,
			    unsigned n);
void repl_inflight_clear(struct repl_peer *p);
void repl_snapshot_send_chunk(struct repl *r, unsigned node, const struct repl_snapshot_meta *m,
			      uint64_t offset, const uint8_t *data, size_t len);

/* commit.c */
void repl_commit_advance(struct repl *r);
void repl_commit_follow(struct repl *r, uint64_t commit);
void repl_apply(struct repl *r);
void repl_apply_entries(struct repl *r, const struct repl_entry *e, unsigned n);

/* lease.c */
void repl_lease_update(struct repl *r);
void repl_reads_confirm(struct repl *r);

/* follower side (recv_append.c) */
void repl_ack_send(struct repl *r, unsigned dst, uint8_t status, uint64_t hint,
		   uint64_t reject_index);
void repl_ack_durable(struct repl *r);

/* recv_*.c */
void repl_recv_append(struct repl *r, const struct repl_msg *m);
void repl_recv_ack(struct repl *r, const struct repl_msg *m);
void repl_recv_snapshot(struct repl *r, const struct repl_msg *m);
void repl_recv_snapshot_ack(struct repl *r, const struct repl_msg *m);
void repl_recv_vote(struct repl *r, const struct repl_msg *m);
void repl_recv_vote_reply(struct repl *r, const struct repl_msg *m);
/* Common epoch check for frames from a primary (APPEND, SNAPSHOT): false when the frame is
 * stale (answered) or nonsense (dropped). */
bool repl_accept_primary_frame(struct repl *r, const struct repl_msg *m);

/* election.c (mode B) */
void repl_election_tick(struct repl *r, uint64_t now);
void repl_election_reset(struct repl *r);
void repl_campaign_continue(struct repl *r);
void repl_votes_check(struct repl *r);
void repl_vote_reply_flush(struct repl *r);
void repl_quorum_check(struct repl *r, uint64_t now);

/* config.c */
void repl_promise_flush(struct repl *r);
void repl_primary_wanted_flush(struct repl *r);
void repl_handoff_tick(struct repl *r, uint64_t now);
void repl_configs_push(struct repl *r, uint64_t index, const struct repl_members *m);
void repl_configs_truncate(struct repl *r, uint64_t from_index);
void repl_configs_commit(struct repl *r);
bool repl_members_decode(const uint8_t *p, uint32_t len, struct repl_members *out);
void repl_members_encode(const struct repl_members *m, uint8_t out[REPL_MEMBERS_BYTES]);

/* io_done.c */
void repl_repair(struct repl *r, uint64_t index);

#define REPL_BIT(n) (1ull << (n))
#define REPL_FOR_EACH_PEER(r, node) \
	for (unsigned node = 0; node < REPL_NODES_MAX; node++) if ((r)->peers[node])

#endif
