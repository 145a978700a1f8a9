/* The control group's storage: the durable log (dataplane/log on the loop's io_uring), the
 * core's metadata (term and vote) in two checksummed slot files, and snapshots of the
 * cluster state, carried out for the replication core's I/O table (struct repl_io).
 *
 * Layout in the data directory:
 *   log/          the control log's segments and snapshot files (log.h)
 *   meta.0 meta.1 the core's metadata, the newer valid record wins (as a lane's meta.c)
 *
 * A snapshot's stream is a 32-byte header (magic "SPCTSNAP", format version, the control
 * group's voters and learners as of the snapshot, CRC32C of the header) followed by
 * ctl_state_encode() of the state. The current snapshot is also kept in memory: it is small
 * (the state of 1024 lanes is about 50 KB), and a follower that needs it is served from
 * there in chunks that fit one management datagram.
 *
 * Opening is asynchronous (log recovery, metadata, snapshot, then a scan of the log for the
 * core's epoch runs and membership entries); `done` gets the boot state for repl_create().
 * Every completion reaches the core from a later loop turn, never inside the call that
 * started the I/O. Everything runs on the daemon's one loop. */
#ifndef SPINDLE_CONTROL_DAEMON_STORE_H
#define SPINDLE_CONTROL_DAEMON_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "control/core/ctl.h"
#include "log/log.h"
#include "repl/repl.h"

#define CTLD_SNAP_HDR_BYTES 32
#define CTLD_STORE_READS_MAX (REPL_READ_TAG_APPLY + 1)

struct ctld_store;

struct ctld_store_config {
	const char *dir;             /* the daemon's data directory (already locked) */
	uint64_t segment_bytes;
	uint64_t snapshot_every_bytes;
	struct repl_members members; /* the group before any log or snapshot (configured) */
};

struct ctld_store_callbacks {
	void *ctx;
	/* Open finished. err 0: boot is valid during the call, state holds the snapshot's state
	 * (or is empty). Otherwise why says what went wrong. */
	void (*opened)(void *ctx, int err, const char *why, const struct repl_boot *boot);
	/* A snapshot from the leader replaced the state: state_bytes is ctl_state_encode()'s. */
	int (*installed)(void *ctx, const struct repl_snapshot_meta *m, const uint8_t *state_bytes,
			 size_t len);
	/* Storage failed for good (a write or flush error): the daemon stops (fail-stop). */
	void (*fatal)(void *ctx, int err, const char *why);
};

struct ctld_store *ctld_store_open(const struct ctld_store_config *cfg, struct log_disk *disk,
				   const struct ctld_store_callbacks *cbs, struct ctl_state *state);
/* Lets the log's I/O in flight finish and closes its files, then calls done (the loop must
 * keep turning until then). */
void ctld_store_close(struct ctld_store *s, void (*done)(void *arg), void *arg);
/* Frees everything (no I/O is waited for: call when the loop stops turning for good). */
void ctld_store_destroy(struct ctld_store *s);

/* The I/O half of the core's table (append, truncate, read, meta_save, snapshot_read,
 * snapshot_write), with io->ctx = the store. */
void ctld_store_io(struct ctld_store *s, struct repl_io *io);
void ctld_store_repl_set(struct ctld_store *s, struct repl *r);
/* The callbacks' ctx: how the host's half of the table finds itself from io->ctx. */
void *ctld_store_host(void *store);

/* Per loop turn: offers queued appends to the log again, starts queued reads, reports
 * completions; returns the work done. */
int ctld_store_work(struct ctld_store *s);
/* End of a loop turn: makes what was appended durable (one write and one flush). */
int ctld_store_flush(struct ctld_store *s);

/* Records a committed membership entry as it is applied (for the next snapshot). */
void ctld_store_members_applied(struct ctld_store *s, const struct repl_members *m);
/* Takes a snapshot of state (applied up to index) if the log has grown enough since the last
 * one; returns 1 if one started. */
int ctld_store_snapshot_maybe(struct ctld_store *s, const struct ctl_state *state,
			      uint64_t index);

struct ctld_store_stats {
	uint64_t first_index, last_index, durable_index;
	uint64_t snapshot_index, snapshot_bytes;
	uint64_t snapshots_taken, snapshots_installed;
	uint64_t log_bytes;
	uint64_t flushes;
	uint64_t meta_saves;
};
void ctld_store_stats_get(const struct ctld_store *s, struct ctld_store_stats *out);

/* CONFIG entries' payload (REPL_MEMBERS_BYTES): voters then learners, u64 little-endian.
 * Returns false when it is not a valid member set. */
bool ctld_members_decode(const uint8_t *p, uint32_t len, struct repl_members *out);

#endif
