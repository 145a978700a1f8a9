/* What the control store's source files share: store.c (opening, the log, the core's I/O),
 * meta.c (the metadata slots) and snap.c (snapshots). Everything belongs to the daemon's
 * loop. */
#ifndef SPINDLE_CONTROL_DAEMON_STORE_PRIV_H
#define SPINDLE_CONTROL_DAEMON_STORE_PRIV_H

#include "base/compiler.h"
#include "base/list.h"
#include "daemon/store.h"

#define CTLD_META_BYTES 4096u

/* An append or truncation the log could not take yet. */
struct store_append {
	struct list_node node;
	struct log_entry e;       /* for a truncation, e.index is the last entry kept */
	bool truncate;
	uint8_t data[];
};

struct store_read {
	struct log_read rd;
	struct ctld_store *s;
	unsigned tag;
	uint64_t from_index, to_index;
	size_t max_bytes;
	bool queued, busy;
	int err;
};

struct store_meta_slot {
	struct log_disk_io io;
	struct ctld_store *s;
	int fh;
	int slot;
	uint64_t size;
};

struct store_meta {
	struct store_meta_slot slots[2];
	uint8_t *buf[2];
	uint64_t seq;                 /* of the newest valid record */
	struct repl_meta cur, saving;
	int pending;
	int err;
	bool saving_now;
	void (*load_done)(struct ctld_store *s, int err);
	char path[2][LOG_PATH_MAX + 16];
};

/* A snapshot chunk the core asked for, answered next turn from memory. */
struct store_snap_read {
	bool pending;
	uint64_t offset;
	size_t max_bytes;
};

/* A snapshot being received from the leader. */
struct store_install {
	struct repl_snapshot_meta meta;
	uint8_t *buf;                 /* the whole stream so far */
	size_t len, cap;
	bool log_begun;
	size_t log_written;           /* bytes the log has taken */
	bool last_seen;
	bool finishing;
	uint64_t ack_offset;          /* the chunk to acknowledge */
	size_t ack_len;
	bool ack_pending;
	int err;
};

/* Boot: scanning the log after the snapshot for epoch runs and membership entries. */
struct store_scan {
	struct log_read rd;
	struct repl_epoch_run *runs;
	unsigned n_runs, runs_cap;
	struct repl_config_entry *configs;
	unsigned n_configs, configs_cap;
	uint64_t next;
	bool retry;
};

struct ctld_store {
	struct ctld_store_config cfg;
	char dir[LOG_PATH_MAX];
	char log_dir[LOG_PATH_MAX];
	struct log_disk *disk;
	struct ctld_store_callbacks cbs;
	struct ctl_state *state;
	struct log *log;
	struct log_recovery rec;
	struct repl *r;
	bool failed;
	bool booted;
	/* Appends */
	struct list_node appends;
	bool flush_needed;
	/* Reads */
	struct store_read reads[CTLD_STORE_READS_MAX];
	struct store_scan scan;
	/* Metadata */
	struct store_meta meta;
	/* Snapshots: the current one, in memory */
	uint8_t *snap;
	size_t snap_len;
	uint64_t snap_index, snap_epoch;
	struct repl_members snap_members;
	struct repl_members applied_members;
	uint8_t *taking;              /* the stream being written, or NULL */
	size_t taking_len, taking_off;
	uint64_t taking_index;
	struct repl_members taking_members;
	struct store_snap_read snap_reads[CTLD_STORE_READS_MAX];
	struct store_install *install;
	struct log_snap_read load;    /* loading the snapshot at open */
	uint8_t *load_buf;
	void (*snap_load_done)(struct ctld_store *s, int err);
	/* Counters */
	struct ctld_store_stats stats;
};

/* store.c */
void store_fail(struct ctld_store *s, int err, const char *fmt, ...) PRINTF_FMT(3, 4);
void store_boot_finish(struct ctld_store *s);

/* meta.c */
int store_meta_init(struct ctld_store *s);
void store_meta_free(struct ctld_store *s);
void store_meta_load(struct ctld_store *s, void (*done)(struct ctld_store *s, int err));
void store_meta_save(void *ctx, const struct repl_meta *meta);

/* snap.c */
void store_snap_load(struct ctld_store *s, void (*done)(struct ctld_store *s, int err));
/* Checks and splits a snapshot stream; 0 or -EBADMSG. */
int store_snap_parse(const uint8_t *bytes, size_t len, struct repl_members *members,
		     const uint8_t **state, size_t *state_len);
void store_snap_io(struct repl_io *io);
int store_snap_work(struct ctld_store *s);
void store_snap_free(struct ctld_store *s);

#endif
