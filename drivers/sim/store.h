/* The simulator's storage for one replication group on one node: an entry-level model of a
 * write log behind the core's I/O table (append, truncate, read, metadata, snapshots).
 *
 * It keeps two images of the log: what the host has written (reads see it) and what is
 * durable (what a crash keeps). Appends and truncations reach the durable image in order,
 * when an append's simulated sync completes. A crash loses what was not synced, except that
 * a prefix of the pending writes may land anyway, the last of them torn. Recovery cuts a torn
 * tail silently (it was never acknowledged) but treats a record whose checksum fails (bit
 * rot, injected) as damage: the log is cut there and the metadata records how far it went, so the core
 * refuses to count this node until the range is repaired from peers. Injected faults: a
 * corrupt durable record, a failing sync (fail-stop), and the latencies of every kind of I/O.
 * Snapshots are durable as soon as they are taken or installed. */
#ifndef SPINDLE_SIM_STORE_H
#define SPINDLE_SIM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repl/repl.h"
#include "sim/rng.h"
#include "sim/sched.h"

#define SIM_REC_TORN 1 /* the write was cut short by a crash */

/* A record carries a CRC32C over its epoch, type, length and payload, computed when it is
 * written; corruption changes the bytes, not the checksum, and is found by checking it. */
struct sim_record {
	uint64_t epoch;
	uint8_t *payload;
	uint32_t len;
	uint32_t crc;
	uint8_t type;
	uint8_t flags;
};
bool sim_record_valid(const struct sim_record *r);

struct sim_image {
	struct sim_record *v; /* v[i] is the entry start + i */
	uint64_t start;
	uint64_t n, cap;
};

struct sim_store_latency {
	uint32_t sync_us_min, sync_us_max;
	uint32_t read_us_min, read_us_max;
	uint32_t meta_us_min, meta_us_max;
	uint32_t snap_us_min, snap_us_max;
};

/* The host replaces its state with an installed snapshot. */
typedef void (*sim_store_install_fn)(void *ctx, const struct repl_snapshot_meta *meta,
				     const uint8_t *bytes, size_t len);

struct sim_store_stats {
	uint64_t appends, syncs, truncates, reads, meta_saves, snap_reads, snap_writes;
	uint64_t crashes, torn_cut, damaged, corrupt_reads, sync_failures;
};

struct sim_mutation;

struct sim_store {
	struct sim_sched *sched;
	struct sim_rng *rng;
	struct sim_store_latency lat;
	struct repl *r;          /* completions go here; NULL while the node is down */
	uint64_t gen;            /* bumped by a crash: completions of older I/O are lost */
	struct sim_image cur;    /* written */
	struct sim_image dur;    /* durable */
	struct sim_mutation *muts; /* written, not yet durable, oldest first */
	unsigned n_muts, muts_cap;
	uint64_t next_mut_id;
	uint64_t log_due_us, meta_due_us, read_due_us;
	struct repl_meta meta;   /* durable metadata */
	struct repl_snapshot_meta snap;
	uint8_t *snap_bytes;
	struct repl_snapshot_meta stage_meta;
	uint8_t *stage;
	uint64_t stage_len;
	bool fail_next_sync;
	bool sync_failed;        /* sticky until the crash: a failed sync is never retried */
	sim_store_install_fn install;
	void *install_ctx;
	struct sim_store_stats stats;
	/* Recovery output (owned here, valid until the next recovery) */
	struct repl_epoch_run *boot_runs;
	struct repl_config_entry *boot_configs;
	unsigned boot_runs_cap, boot_configs_cap;
};

void sim_store_init(struct sim_store *s, struct sim_sched *sched, struct sim_rng *rng,
		    const struct sim_store_latency *lat);
void sim_store_free(struct sim_store *s);
/* Fills the storage half of an I/O table (append, truncate, read, meta_save, snapshot_read,
 * snapshot_write) with ctx = s. The host fills the rest and sets s->r after repl_create. */
void sim_store_io(struct sim_store *s, struct repl_io *io);

/* A crash: pending I/O is lost (a prefix may land, torn), completions never come. */
void sim_store_crash(struct sim_store *s);
/* Recovery at start: cuts a torn tail, records damage, and describes the log for
 * repl_create (members: the configuration as of the snapshot, for mode B). */
void sim_store_recover(struct sim_store *s, struct repl_boot *boot,
		       const struct repl_members *members);

/* The host took a snapshot at meta->index (durable at once) and keeps keep_tail entries of
 * the log before it. Returns the new log start. */
uint64_t sim_store_compact(struct sim_store *s, const struct repl_snapshot_meta *meta,
			   const uint8_t *bytes, uint64_t keep_tail);
/* Faults */
bool sim_store_corrupt(struct sim_store *s, uint64_t index);
/* Whether any record, written or durable, is marked corrupt. */
bool sim_store_has_corrupt(const struct sim_store *s);
/* Read access for the checks: the written image. */
const struct sim_record *sim_store_get(const struct sim_store *s, uint64_t index);
uint64_t sim_store_last(const struct sim_store *s);
/* Entries that are written but not durable. */
unsigned sim_store_pending(const struct sim_store *s);

#endif
