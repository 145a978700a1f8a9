/* The replication core: Raft log replication as a pure state machine, one struct repl per
 * replication group. It does no I/O of its own: it is driven by received messages
 * (repl_recv), ticks (repl_tick) and I/O completions (repl_*_done), and it acts only through
 * the function table struct repl_io that the host hands it (send, append, truncate, read,
 * save metadata, snapshot chunks, the clock, randomness, and the notifications to the host).
 *
 * Two modes share one implementation:
 * - REPL_MODE_EXTERNAL (the dataplane's lanes): epochs and primaries are handed in from
 *   outside by the control plane (repl_config_set, repl_promise); no elections.
 * - REPL_MODE_ELECTION (the control plane's own group): Raft elections with terms as epochs,
 *   pre-vote, check-quorum, leader lease, and membership changes through the log.
 *
 * Contracts the host keeps (the simulator in drivers/sim keeps them too):
 * - append and truncate are carried out in the order they are issued; append completions
 *   arrive in order, and an append that has become durable implies that every append and
 *   truncate issued before it is durable too. A failed append or metadata save stops the
 *   node (fail-stop): the host reports it and destroys the group.
 * - Everything the core passes to a table function (messages, entries, payloads) is valid only
 *   during the call: the host copies what it keeps.
 * - The notification callbacks must not call back into the core, except the read-only
 *   queries (repl_state_get, repl_peer_get, repl_lease_valid).
 *
 * Time is in milliseconds of the host's monotonic clock as returned by io->now_ms. */
#ifndef SPINDLE_REPL_REPL_H
#define SPINDLE_REPL_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- Limits ---- */
#define REPL_NODES_MAX 64                  /* node ids are 0..63; member sets are bitmaps */
#define REPL_ENTRY_BYTES_MAX (3u << 20)    /* payload of one entry: a batch of commands */
#define REPL_MSG_ENTRIES_MAX 64            /* entries in one APPEND */
#define REPL_INFLIGHT_MSGS_MAX 16          /* APPENDs unacknowledged per follower */
#define REPL_SNAPSHOT_CHUNK_BYTES_MAX (1u << 20)
/* Largest encoded message: an APPEND's entry headers plus its payloads stay below this. */
#define REPL_MSG_BYTES_MAX (4u << 20)
#define REPL_NODE_NONE 0xffu

/* ---- Defaults for struct repl_options ---- */
#define REPL_HEARTBEAT_MS_DEFAULT 20
#define REPL_RESEND_MS_DEFAULT 100
#define REPL_LEASE_MS_DEFAULT 200
#define REPL_LEASE_DRIFT_MS_DEFAULT 10
#define REPL_ELECTION_MS_DEFAULT 300
#define REPL_WINDOW_BYTES_DEFAULT (4u << 20)
#define REPL_MSG_BYTES_DEFAULT (256u << 10)
#define REPL_CACHE_BYTES_DEFAULT (16u << 20)
#define REPL_CACHE_ENTRIES_DEFAULT 4096
#define REPL_READ_BYTES_DEFAULT (1u << 20)
#define REPL_SNAPSHOT_CHUNK_BYTES_DEFAULT (256u << 10)
#define REPL_HANDOFF_MS_DEFAULT 500

enum repl_mode {
	REPL_MODE_EXTERNAL = 1, /* mode A: epochs and primaries from the control plane */
	REPL_MODE_ELECTION = 2, /* mode B: Raft elections among the members */
};

enum repl_role {
	REPL_ROLE_FOLLOWER = 0,
	REPL_ROLE_PRIMARY = 1,      /* the leader, in mode B */
	REPL_ROLE_PRECANDIDATE = 2, /* mode B: asking for pre-votes */
	REPL_ROLE_CANDIDATE = 3,    /* mode B: asking for votes */
};

enum repl_entry_type {
	REPL_ENTRY_NOOP = 1,   /* a new primary's first entry of its epoch */
	REPL_ENTRY_DATA = 2,   /* opaque bytes of the host */
	REPL_ENTRY_CONFIG = 3, /* mode B membership: struct repl_members, encoded */
};

/* One log entry. payload points into a buffer the caller owns (a message, the cache, a read
 * completion) and is valid only for the duration of the call it is passed in. */
struct repl_entry {
	uint64_t epoch;
	uint64_t index;
	const uint8_t *payload;
	uint32_t len;
	uint8_t type;
};

/* Members as bitmaps of node ids. */
struct repl_members {
	uint64_t voters;
	uint64_t learners;
};
#define REPL_MEMBERS_BYTES 16 /* the payload of a CONFIG entry */

/* ---- Messages (the wire form is repl_msg_encode/decode) ---- */

enum repl_msg_type {
	REPL_MSG_APPEND = 1,       /* entries (or none: a heartbeat) from the primary */
	REPL_MSG_ACK = 2,          /* a follower's answer to APPEND and SNAPSHOT; fencing */
	REPL_MSG_SNAPSHOT = 3,     /* one chunk of a snapshot from the primary */
	REPL_MSG_SNAPSHOT_ACK = 4, /* a follower's progress through a snapshot */
	REPL_MSG_VOTE = 5,         /* mode B: a request for a vote or pre-vote */
	REPL_MSG_VOTE_REPLY = 6,   /* mode B: the answer */
};
#define REPL_MSG_TYPE_MAX 6

enum repl_ack_status {
	REPL_ACK_OK = 0,       /* log matches up to match_index, durably */
	REPL_ACK_MISMATCH = 1, /* no entry (prev_index, prev_epoch): retry from hint_index */
	REPL_ACK_STALE = 2,    /* the frame's epoch is older than the one promised: msg.epoch */
};

struct repl_msg_append {
	uint64_t prev_index;
	uint64_t prev_epoch;
	uint64_t commit_index;
	uint64_t seq; /* heartbeat round, echoed in the ACK (leases, read barriers) */
	uint32_t n_entries;
	const struct repl_entry *entries; /* indices prev_index+1 ... prev_index+n_entries */
};

struct repl_msg_ack {
	uint8_t status;        /* enum repl_ack_status */
	uint64_t match_index;  /* durable and matching the primary's log up to here */
	uint64_t last_index;   /* the follower's last index (durable or not) */
	uint64_t hint_index;   /* MISMATCH: where the primary should resume */
	uint64_t reject_index; /* MISMATCH: the prev_index that did not match */
	uint64_t seq;          /* highest heartbeat round seen from this primary */
};

struct repl_snapshot_meta {
	uint64_t index; /* last entry the snapshot covers */
	uint64_t epoch; /* that entry's epoch */
	uint64_t total_bytes;
	struct repl_members members; /* mode B: the configuration as of index */
};

struct repl_msg_snapshot {
	struct repl_snapshot_meta meta;
	uint64_t offset;
	uint32_t len;
	bool last;
	const uint8_t *data;
};

struct repl_msg_snapshot_ack {
	uint64_t snap_index;
	uint64_t snap_epoch;
	uint64_t next_offset; /* the next chunk the follower wants */
};

struct repl_msg_vote {
	bool pre_vote;
	uint64_t last_index;
	uint64_t last_epoch;
};

struct repl_msg_vote_reply {
	bool pre_vote;
	bool granted;
};

struct repl_msg {
	uint8_t type; /* enum repl_msg_type */
	uint8_t src;
	uint8_t dst;
	uint64_t epoch; /* the sender's epoch (term); a pre-vote asks for epoch+1 */
	union {
		struct repl_msg_append append;
		struct repl_msg_ack ack;
		struct repl_msg_snapshot snapshot;
		struct repl_msg_snapshot_ack snapshot_ack;
		struct repl_msg_vote vote;
		struct repl_msg_vote_reply vote_reply;
	};
};

#define REPL_WIRE_VERSION 1

/* Bytes repl_msg_encode() will write for m. */
size_t repl_msg_encoded_bytes(const struct repl_msg *m);
/* Writes m little-endian into buf; returns the bytes written, or -EMSGSIZE if cap is too
 * small, or -EINVAL if m is not encodable (bad type, too many entries, payload too large). */
ssize_t repl_msg_encode(const struct repl_msg *m, uint8_t *buf, size_t cap);
/* Parses buf[0..len) into m. Entry descriptors go into entries[0..entries_cap) and their
 * payloads (and a snapshot chunk's data) point into buf: zero copy, valid while buf is.
 * Every length is checked against the buffer. Returns 0, -EPROTONOSUPPORT (another wire
 * version), or -EBADMSG (truncated, trailing bytes, impossible values). */
int repl_msg_decode(const uint8_t *buf, size_t len, struct repl_msg *m,
		    struct repl_entry *entries, unsigned entries_cap);
const char *repl_msg_type_name(unsigned type);

/* ---- Durable metadata ---- */

struct repl_meta {
	uint64_t epoch;        /* promised epoch (mode A) or current term (mode B) */
	uint8_t vote;          /* mode B: whom this node voted for in epoch, or REPL_NODE_NONE */
	uint64_t primary_epoch; /* mode A: the last epoch this node acted as primary in; it is
				 * saved before the first entry of that epoch, so a restarted node
				 * never resumes an epoch whose unsynced entries it may have lost */
	uint64_t repair_index; /* > 0: corruption cost this log entries up to here; until the
				* log is repaired that far, promises say "damaged" and mode B
				* neither votes nor campaigns */
};

/* A promise (mode A): after it, this replica refuses every frame of an older epoch. The
 * control plane counts it only once it is durable (the promised callback). */
struct repl_promise {
	uint64_t epoch;      /* the promised epoch */
	uint64_t last_epoch; /* the last durable entry of the log */
	uint64_t last_index;
	bool damaged;        /* the log lost entries to corruption; do not count this promise */
	bool was_primary;    /* this node was primary of an older epoch and has stepped down,
			      * so its read lease is void and the control plane need not wait
			      * for it to expire */
};

/* ---- The host's side: I/O and notifications ---- */

enum repl_read_tag {
	REPL_READ_TAG_APPLY = REPL_NODES_MAX, /* tags 0..63 are catch-up reads for that peer */
};

struct repl_io {
	void *ctx;
	/* Sends m to node dst, best effort (lost, duplicated, reordered: the core copes). */
	void (*send)(void *ctx, unsigned dst, const struct repl_msg *m);
	/* Starts appending n consecutive entries after the log's current last entry. Completion:
	 * repl_append_done() with the last durable entry. */
	void (*append)(void *ctx, const struct repl_entry *entries, unsigned n);
	/* Starts removing every entry with index >= from_index (ordered with appends). */
	void (*truncate)(void *ctx, uint64_t from_index);
	/* Starts reading entries from from_index up to to_index (inclusive), stopping early at
	 * about max_bytes (at least one entry). Every appended entry must be readable: the
	 * core may ask for one that is not durable yet (the cache is only a cache, and a
	 * follower drops uncommitted entries from it when it is full), and the host may then
	 * complete the read once the entry is durable. Completion: repl_read_done() with tag. */
	void (*read)(void *ctx, unsigned tag, uint64_t from_index, uint64_t to_index,
		     size_t max_bytes);
	/* Starts saving the metadata durably. Completion: repl_meta_done(). */
	void (*meta_save)(void *ctx, const struct repl_meta *meta);
	/* Primary: starts reading max_bytes of the current snapshot from offset, for the peer
	 * tag. Completion: repl_snapshot_read_done(). */
	void (*snapshot_read)(void *ctx, unsigned tag, uint64_t offset, size_t max_bytes);
	/* Follower: starts writing a chunk of an incoming snapshot (offset 0 starts a new one,
	 * discarding any partial one). With last, the host verifies the whole snapshot, makes it
	 * durable, replaces its state with it, and empties its log (the log continues at
	 * meta->index + 1). Completion: repl_snapshot_write_done(). */
	void (*snapshot_write)(void *ctx, const struct repl_snapshot_meta *meta, uint64_t offset,
			       const uint8_t *data, size_t len, bool last);
	uint64_t (*now_ms)(void *ctx);
	uint64_t (*random)(void *ctx);

	/* Notifications. apply: committed entries, in order, on every replica. */
	void (*apply)(void *ctx, const struct repl_entry *e);
	/* This node stopped being primary: it will not acknowledge any entry from from_index on
	 * that it proposed (they may still be applied later if a new primary commits them), and
	 * every read that waited on a barrier fails. Entries below from_index are committed and
	 * will be applied here. */
	void (*abandon)(void *ctx, uint64_t from_index);
	/* Role, epoch or primary changed (primary is REPL_NODE_NONE when unknown). */
	void (*role)(void *ctx, enum repl_role role, uint64_t epoch, unsigned primary);
	/* Every read barrier with seq <= seq is confirmed (the read may be served once the
	 * applied index reaches its read index). */
	void (*read_confirmed)(void *ctx, uint64_t seq);
	/* A promise (mode A) is durable and may be reported to the control plane. */
	void (*promised)(void *ctx, const struct repl_promise *p);
	/* An unrecoverable local fault (a corrupt entry in the primary's own log, a failed
	 * write): the host stops the node; the group does nothing more. */
	void (*fatal)(void *ctx, int err, uint64_t index);
};

/* ---- Creation ---- */

struct repl_options {
	unsigned node_id; /* < REPL_NODES_MAX */
	enum repl_mode mode;
	uint32_t heartbeat_ms;
	uint32_t resend_ms;       /* no progress from a follower for this long: resend */
	/* The read lease: the primary serves reads without a round trip while a majority has
	 * acknowledged a heartbeat sent within the last lease_ms - lease_drift_ms. With clocks
	 * drifting at most rho (as a rate), it is safe when
	 *     (lease_ms - lease_drift_ms) * (1 + rho) / (1 - rho) <= W
	 * where W is how long the control plane waits after a majority promised before it
	 * appoints another primary (mode A), or election_ms (mode B, where a follower that heard
	 * from the leader within election_ms refuses to vote). Taking W = lease_ms, that holds
	 * with lease_drift_ms >= lease_ms * 2 * rho / (1 + rho). 0 disables leases. */
	uint32_t lease_ms;
	uint32_t lease_drift_ms;
	uint32_t election_ms;     /* mode B: minimum election timeout; randomized up to 2x */
	uint32_t handoff_ms;      /* a planned handoff gives up after this long */
	uint32_t window_bytes;    /* unacknowledged entry bytes per follower */
	uint32_t msg_bytes_max;   /* payload bytes per APPEND (one entry always fits) */
	uint32_t cache_bytes;     /* in-memory entry cache, payload bytes */
	uint32_t cache_entries;   /* in-memory entry cache, entries (rounded to a power of 2) */
	uint32_t read_bytes;      /* per read I/O for catch-up and apply */
	uint32_t snapshot_chunk_bytes;
};
void repl_options_default(struct repl_options *o, unsigned node_id, enum repl_mode mode);

/* What the host recovered from its disk. */
struct repl_epoch_run {
	uint64_t start_index; /* first index of a run of entries with the same epoch */
	uint64_t epoch;
};
struct repl_config_entry {
	uint64_t index;
	struct repl_members members;
};
struct repl_boot {
	struct repl_meta meta;
	struct repl_snapshot_meta snapshot; /* all zero when there is none */
	uint64_t last_index;                /* last entry in the log (>= snapshot.index) */
	const struct repl_epoch_run *runs;  /* entries snapshot.index+1 .. last_index */
	unsigned n_runs;
	const struct repl_config_entry *configs; /* mode B: CONFIG entries in the log */
	unsigned n_configs;
	struct repl_members members;        /* mode B: configuration before any of these */
};

/* Returns NULL (and logs why) on invalid options or boot state. The group starts as a
 * follower that knows no primary. */
struct repl *repl_create(const struct repl_options *o, const struct repl_io *io,
			 const struct repl_boot *boot);
void repl_destroy(struct repl *r);

/* ---- Driving ---- */

/* A decoded message from another node. Messages from unknown or foreign sources, or that
 * make no sense, are counted and dropped. */
void repl_recv(struct repl *r, const struct repl_msg *m);
/* Timers: heartbeats, resends, elections, handoff; call every few milliseconds. */
void repl_tick(struct repl *r);
/* End of a loop turn: sends the heartbeat round that read barriers asked for. */
void repl_flush(struct repl *r);

/* Completions of the table's I/O. status < 0 for append or meta is fatal (fail-stop). */
void repl_append_done(struct repl *r, uint64_t index, uint64_t epoch, int status);
/* entries[0].index == from_index as asked; status -EBADMSG: the entry at from_index + n is
 * corrupt; -ENOENT: the range is gone (compacted or truncated). */
void repl_read_done(struct repl *r, unsigned tag, const struct repl_entry *entries,
		    unsigned n, int status);
void repl_meta_done(struct repl *r, const struct repl_meta *meta, int status);
void repl_snapshot_read_done(struct repl *r, unsigned tag, const struct repl_snapshot_meta *m,
			     uint64_t offset, const uint8_t *data, size_t len, int status);
void repl_snapshot_write_done(struct repl *r, const struct repl_snapshot_meta *m,
			      uint64_t offset, size_t len, int status);
/* The host took a snapshot covering up to snap_index (an applied entry), made it durable,
 * and dropped the log before log_start (snap_index + 1 at most: it may keep a tail for
 * catch-up). */
void repl_log_compacted(struct repl *r, uint64_t snap_index, uint64_t log_start,
			const struct repl_members *members);

/* ---- The host's requests ---- */

/* Primary only: appends an entry; returns its index (> 0), -ENOTCONN when not primary
 * (or in a handoff), -EAGAIN when the cache is full (backpressure: retry next turn),
 * -EMSGSIZE when len > REPL_ENTRY_BYTES_MAX. */
int64_t repl_propose(struct repl *r, enum repl_entry_type type, const void *payload,
		     uint32_t len);

/* Mode A: the control plane's configuration for this group. An older epoch than the one
 * promised is refused (-ESTALE); within one epoch, voters may change by at most one node
 * (-EINVAL otherwise). */
struct repl_config {
	uint64_t epoch;
	unsigned primary;
	struct repl_members members;
};
int repl_config_set(struct repl *r, const struct repl_config *cfg);

/* Mode A: promises epoch (PREPARE). Returns 0 and fills *out when the promise is already
 * durable; -EINPROGRESS when it is being saved (io->promised follows); -ESTALE when this
 * replica already promised a higher epoch (out->epoch says which). */
int repl_promise(struct repl *r, uint64_t epoch, struct repl_promise *out);

/* Mode A, primary: a planned handoff to target. Proposals are refused until the target holds
 * every entry durably, then handoff_ready is set in the state, until a new configuration
 * arrives or handoff_ms passes. Returns 0, -ENOTCONN, -EINVAL (target not a voter). */
int repl_handoff(struct repl *r, unsigned target);

/* Mode B, leader: one membership change at a time, through the log. -ENOTCONN, -EBUSY (a
 * change or the leader's first entry is not yet committed), -EINVAL. */
int repl_members_change(struct repl *r, const struct repl_members *members);

/* Reads. Returns 0 when the primary holds its lease: serve from the applied state once the
 * applied index reaches *read_index. -EINPROGRESS: a heartbeat round is needed; the read may
 * be served once io->read_confirmed reports *seq and the applied index reaches *read_index.
 * -ENOTCONN when not primary. */
int repl_read_begin(struct repl *r, uint64_t *read_index, uint64_t *seq);
bool repl_lease_valid(struct repl *r);

/* ---- State for INFO and for the control plane ---- */

enum repl_counter {
	REPL_CNT_RX_APPEND, REPL_CNT_RX_ACK, REPL_CNT_RX_SNAPSHOT, REPL_CNT_RX_SNAPSHOT_ACK,
	REPL_CNT_RX_VOTE, REPL_CNT_RX_VOTE_REPLY,
	REPL_CNT_TX_APPEND, REPL_CNT_TX_ACK, REPL_CNT_TX_SNAPSHOT, REPL_CNT_TX_SNAPSHOT_ACK,
	REPL_CNT_TX_VOTE, REPL_CNT_TX_VOTE_REPLY,
	REPL_CNT_REJECT_STALE,     /* frames refused for an older epoch (fencing) */
	REPL_CNT_REJECT_MISMATCH,  /* APPENDs whose prev entry did not match */
	REPL_CNT_RX_DROPPED,       /* messages dropped: foreign source, nonsense, no room */
	REPL_CNT_RESENDS,          /* a follower resent from its acknowledged index */
	REPL_CNT_TRUNCATIONS,
	REPL_CNT_SNAPSHOTS_SENT,   /* snapshot transfers completed to followers */
	REPL_CNT_SNAPSHOTS_INSTALLED,
	REPL_CNT_ELECTIONS,        /* mode B: campaigns started */
	REPL_CNT_REPAIRS,          /* corrupt entries dropped to be fetched again */
	REPL_CNT_MAX
};
const char *repl_counter_name(enum repl_counter c);

struct repl_state {
	enum repl_mode mode;
	enum repl_role role;
	unsigned node_id;
	uint64_t epoch;           /* current epoch (term) */
	unsigned primary;         /* REPL_NODE_NONE when unknown */
	struct repl_members members;
	uint64_t commit_index, applied_index, durable_index, last_index, last_epoch;
	uint64_t log_start;       /* first index still in the log */
	uint64_t snapshot_index, snapshot_epoch;
	uint64_t epoch_start_index; /* primary: its NOOP; reads wait until it is applied */
	bool lease_valid;
	bool handoff_ready;
	bool damaged;
	bool failed;              /* fatal error seen: the group does nothing more */
	uint64_t counters[REPL_CNT_MAX];
};
void repl_state_get(const struct repl *r, struct repl_state *out);

struct repl_peer_info {
	unsigned node;
	bool voter;
	uint64_t match_index;
	uint64_t next_index;
	uint64_t lag;             /* last_index - match_index */
	uint64_t last_ack_ms;     /* when it last answered this primary (0: never) */
	bool snapshot;            /* being sent a snapshot */
};
/* Primary: a follower's progress. -ENOTCONN when not primary, -ENOENT when not a member. */
int repl_peer_get(const struct repl *r, unsigned node, struct repl_peer_info *out);

#endif
