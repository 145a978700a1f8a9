/* An in-memory host for the replication core's unit tests: a recording I/O table whose
 * operations wait until the test completes them, a manual clock, and a small cluster that
 * can deliver messages between its nodes. Every sent message goes through the wire codec
 * (encode, then decode when the test looks at it), so the tests exercise it too. */
#ifndef SPINDLE_TESTS_REPL_FIXTURE_H
#define SPINDLE_TESTS_REPL_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "repl/repl.h"

#define FX_NODES_MAX 5
#define FX_LOG_MAX 4096
#define FX_MSGS_MAX 1024
#define FX_OPS_MAX 256
#define FX_PAYLOAD_MAX 256
#define FX_SNAPSHOT_BYTES_MAX 4096

struct fx_entry {
	uint64_t epoch;
	uint8_t type;
	uint32_t len;
	uint8_t payload[FX_PAYLOAD_MAX];
};

/* A sent message, encoded; fx_msg_get decodes it. */
struct fx_msg {
	unsigned dst;
	uint32_t len;
	uint8_t *bytes;
};

struct fx_decoded {
	struct repl_msg m;
	struct repl_entry entries[REPL_MSG_ENTRIES_MAX];
};

enum fx_op_kind { FX_OP_APPEND, FX_OP_TRUNCATE, FX_OP_READ, FX_OP_META, FX_OP_SNAP_READ,
		  FX_OP_SNAP_WRITE };

struct fx_op {
	enum fx_op_kind kind;
	uint64_t a, b;       /* append: first, last index; truncate: from; read: from, to */
	uint64_t epoch;      /* append: epoch of the last entry */
	unsigned tag;
	size_t max_bytes;
	struct repl_meta meta;
	struct repl_snapshot_meta snap;
	uint64_t offset;
	uint32_t len;
	bool last;
	uint8_t data[FX_SNAPSHOT_BYTES_MAX];
};

struct fx_node {
	unsigned id;
	struct repl *r;
	struct repl_options opts;
	uint64_t now_ms;
	uint64_t rand_state;
	/* The host's log: entries 1..last (index 0 unused), entries before log_start gone. */
	struct fx_entry log[FX_LOG_MAX];
	uint64_t last, log_start;
	uint64_t durable;            /* what a crash would keep */
	struct repl_meta meta_saved;
	/* The host's snapshot (what it would send) and the one it installed. */
	struct repl_snapshot_meta snap;
	uint8_t snap_data[FX_SNAPSHOT_BYTES_MAX];
	/* Recorded I/O, completed by the test or by fx_complete_all. */
	struct fx_op ops[FX_OPS_MAX];
	unsigned n_ops;
	struct fx_msg msgs[FX_MSGS_MAX];
	unsigned n_msgs;
	/* Notifications */
	uint64_t applied[FX_LOG_MAX];   /* epoch of each applied index, 0 if not applied */
	uint64_t applied_last;
	unsigned n_applied;
	uint64_t abandoned_from;        /* last abandon() argument */
	unsigned n_abandon;
	enum repl_role role;
	uint64_t role_epoch;
	unsigned role_primary;
	unsigned n_role;
	uint64_t confirmed_seq;
	struct repl_promise promised;
	unsigned n_promised;
	int fatal_err;
	uint64_t fatal_index;
	uint64_t corrupt_index;         /* reads of this index fail with -EBADMSG */
	struct repl_members boot_members; /* mode B: the configuration a restart starts from */
	unsigned n_reads;               /* read I/Os started */
};

/* A node with an empty log (or the given boot state) and default options, except short
 * timers (heartbeat 10, resend 50, lease 100 - 10, election 100). */
void fx_node_init(struct fx_node *n, unsigned id, enum repl_mode mode);
void fx_node_start(struct fx_node *n, const struct repl_boot *boot);
void fx_node_free(struct fx_node *n);
/* Rebuilds the core from what is durable (a crash: lost I/O, lost messages). */
void fx_node_restart(struct fx_node *n);

/* Messages this node sent, oldest first. */
unsigned fx_msgs(const struct fx_node *n);
/* Decodes message i (asserting that decoding succeeds). */
void fx_msg_get(const struct fx_node *n, unsigned i, struct fx_decoded *out);
unsigned fx_msg_dst(const struct fx_node *n, unsigned i);
void fx_msgs_clear(struct fx_node *n);
/* Counts sent messages of a type (to dst, or to anyone with dst = REPL_NODE_NONE). */
unsigned fx_msgs_count(const struct fx_node *n, unsigned type, unsigned dst);
/* The last message of a type to dst; false if none. */
bool fx_msg_last(const struct fx_node *n, unsigned type, unsigned dst, struct fx_decoded *out);

/* Pending I/O */
unsigned fx_ops_count(const struct fx_node *n, enum fx_op_kind kind);
/* Completes the oldest pending op of a kind (status 0); false if none. */
bool fx_op_complete(struct fx_node *n, enum fx_op_kind kind);
/* Completes all pending I/O, in order, until there is none. */
void fx_complete_all(struct fx_node *n);

/* Entries for messages the test builds by hand. */
struct repl_entry fx_entry(uint64_t epoch, uint64_t index, const char *payload);

/* Mode A helpers */
void fx_config(struct fx_node *n, uint64_t epoch, unsigned primary, uint64_t voters,
	       uint64_t learners);

/* ---- A cluster: nodes 0..count-1 ---- */
struct fx_cluster {
	struct fx_node node[FX_NODES_MAX];
	unsigned count;
	uint64_t down;       /* bitmap: these nodes neither tick nor exchange messages */
	uint64_t cut;        /* bitmap: these nodes tick but exchange no messages */
	uint64_t delivered;
};

void fx_cluster_init(struct fx_cluster *c, unsigned count, enum repl_mode mode);
void fx_cluster_free(struct fx_cluster *c);
/* Mode A: configures every node with (epoch, primary, all voters). */
void fx_cluster_config(struct fx_cluster *c, uint64_t epoch, unsigned primary);
/* Completes all I/O and delivers all messages until nothing moves. */
void fx_cluster_settle(struct fx_cluster *c);
/* Advances every node's clock by ms, one millisecond at a time, ticking and settling. */
void fx_cluster_run(struct fx_cluster *c, uint64_t ms);
/* The node that is primary, or -1. */
int fx_cluster_primary(const struct fx_cluster *c);
/* Asserts that every node applied the same entries up to its applied index, and returns
 * the lowest applied index. */
uint64_t fx_cluster_check_applied(const struct fx_cluster *c);
/* The host takes a snapshot of node n at its applied index and drops its log before it. */
void fx_node_compact(struct fx_node *n);

#endif
