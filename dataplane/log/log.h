/* The durable write log of one lane: what turns spindled from a cache into storage.
 *
 * Entries (epoch, index, type, payload) with dense, increasing indexes live in preallocated
 * segment files in the lane's directory (DIR/lane-007/seg-*). The host appends entries during
 * a loop turn and calls log_flush() once at the end of it; the log writes everything
 * appended since the last write as one block-aligned batch and makes it durable with one
 * flush (group commit), then reports the new durable index through cbs.durable. A write is
 * acknowledged to a client only once its entry is durable.
 *
 * All disk I/O goes through the asynchronous table in log/disk.h (the loop's io_uring in
 * production, a simulated disk in tests): no call here blocks, and no callback runs inside
 * the call that caused it. Any failed write or flush is fatal (a retried fsync can lie): the
 * log calls cbs.fatal once, refuses everything afterwards with -EIO, and the host stops.
 *
 * Snapshots of the lane's state (a byte stream from the key-value module) are written beside
 * the log; once one is durable, the segments wholly before it are deleted. Recovery at open
 * loads the newest snapshot's description, replays the segments after it, cuts a torn tail
 * and reports it, and refuses to start on corruption before the tail (-EBADMSG, with the
 * file and offset in the report) so that replication can repair the range from peers.
 *
 * Everything here runs on the loop that owns the lane. */
#ifndef SPINDLE_LOG_LOG_H
#define SPINDLE_LOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log/disk.h"

#define LOG_FORMAT_VERSION 1
#define LOG_PATH_MAX 256
#define LOG_BLOCK_BYTES 4096u                  /* write alignment; fits 512 and 4K devices */
#define LOG_SEGMENT_BYTES_DEFAULT (64ull << 20)
#define LOG_SEGMENT_BYTES_MAX (1ull << 30)     /* offsets in a position are 32 bits */
#define LOG_ENTRY_BYTES_DEFAULT (1u << 20)
#define LOG_WRITE_BUF_BYTES_DEFAULT (2u << 20) /* each of the two write buffers */
#define LOG_READ_BYTES_DEFAULT (256u << 10)
#define LOG_NOSPACE_RETRY_MS_DEFAULT 1000
#define LOG_SNAPSHOT_LOG_BYTES_DEFAULT (256ull << 20)
#define LOG_SNAPSHOT_INTERVAL_MS_DEFAULT (3600u * 1000)
#define LOG_SNAP_CHUNK_BYTES (64u << 10)       /* snapshot stream chunk, checksummed */
#define LOG_SNAP_READ_BUF_BYTES (LOG_SNAP_CHUNK_BYTES + 8)
#define LOG_READ_ENTRIES_MAX 1024              /* entries one read returns at most */

struct log;

enum log_sync_mode {
	LOG_SYNC_DEFAULT = 0,
	LOG_SYNC_FDATASYNC, /* write, then fdatasync; the next write overlaps the flush */
	LOG_SYNC_DSYNC,     /* each write carries RWF_DSYNC; one write in flight */
};

struct log_config {
	const char *dir;           /* the lane's directory, created if missing */
	uint32_t lane;             /* written into file headers; another lane's file is refused */
	uint64_t segment_bytes;    /* preallocated size of a segment; 0 = default */
	uint32_t entry_bytes_max;  /* largest payload; 0 = default */
	uint32_t write_buf_bytes;  /* size of each of the two write buffers; 0 = default */
	uint32_t read_bytes_max;   /* largest read budget; 0 = default */
	enum log_sync_mode sync_mode;
	bool buffered;             /* never try O_DIRECT */
	bool zero_fill;            /* also write zeros over a new segment, not only fallocate */
	bool serial_flush;         /* do not overlap a write with the previous flush */
	uint32_t nospace_retry_ms; /* how often to retry a segment that found no room */
	uint64_t snapshot_log_bytes;   /* log_snapshot_due() after this many bytes appended */
	uint32_t snapshot_interval_ms; /* ... or after this long with entries appended */
};

struct log_entry {
	uint64_t epoch;
	uint64_t index;
	const void *data;
	uint32_t len;
	uint16_t type;
};

struct log_callbacks {
	/* The durable index moved (up after a flush, down to the cut after a truncation). */
	void (*durable)(void *ctx, uint64_t durable_index);
	/* A write, flush or file operation failed: stop the node with msg. Called once. */
	void (*fatal)(void *ctx, int err, const char *msg);
	void *ctx;
};

/* Where recovery found the log damaged before its tail. */
struct log_corruption {
	char path[LOG_PATH_MAX];
	uint64_t offset;
	uint64_t index;       /* the entry expected there; 0 if not known */
	char reason[160];
};

/* A torn tail cut at open: writes that never completed. */
struct log_cut {
	char path[LOG_PATH_MAX]; /* the segment the log now ends in */
	uint64_t offset;         /* where it now ends */
	uint64_t bytes;          /* bytes of written data discarded after it, all segments */
	uint64_t records;        /* well-formed records among them (never durable) */
	uint64_t first_index, last_index; /* their indexes; 0 when there were none */
};

struct log_recovery {
	uint64_t snapshot_index, snapshot_epoch, snapshot_bytes; /* 0 without a snapshot */
	uint64_t first_index;    /* first entry in the log (snapshot_index + 1 or lower) */
	uint64_t last_index, last_epoch;
	uint32_t segments;
	uint64_t log_bytes;
	bool direct_io;          /* O_DIRECT is in use */
	bool tail_cut;
	struct log_cut cut;
	struct log_corruption corruption; /* filled when the open fails with -EBADMSG */
	uint64_t duration_ns;
};

/* Called once recovery is done: err is 0, -EBADMSG (corruption, see rec->corruption),
 * -EPROTO (a file of another format or lane), or another -errno. On error the log has
 * closed its files already: destroy it (log_close on it completes at once). */
typedef void (*log_open_cb)(void *arg, struct log *log, int err,
			    const struct log_recovery *rec);

/* Starts opening (and recovering) the log in cfg->dir. Returns NULL on a bad configuration,
 * after logging why. The log accepts nothing until done has reported success. */
struct log *log_open(const struct log_config *cfg, struct log_disk *disk,
		     const struct log_callbacks *cbs, log_open_cb done, void *arg);
/* Writes and flushes what was appended, lets in-flight I/O finish, closes the files, then
 * calls done. Closing a log whose open has not been reported abandons the open: its
 * callback is not called. */
void log_close(struct log *log, void (*done)(void *arg), void *arg);
/* Frees the log. Only after log_close() completed, after a failed open, or when no I/O can
 * complete any more (a simulated crash dropped it). */
void log_destroy(struct log *log);

/* ---- Appending ---- */
/* Appends e (index must be last + 1, epoch at least the last epoch). Returns 0, -EMSGSIZE
 * (payload over entry_bytes_max), -EAGAIN (both write buffers busy, or the next segment is
 * still being prepared: retry next turn), -ENOSPC (no room for a new segment: the host
 * answers with an error; the segment is tried again when an append asks for it after
 * nospace_retry_ms, and at once when deleting segments frees room), or -EIO after a fatal
 * error. */
int log_append(struct log *log, const struct log_entry *e);
/* Makes everything appended so far durable: one write and one flush for all of it, started
 * now or when the write in flight completes. cbs.durable reports the progress. */
int log_flush(struct log *log);
/* Drops the entries after last_kept (a follower cutting a conflicting suffix); new entries
 * then continue from last_kept + 1 in a new segment. The cut is durable once a flush after
 * it completes; until then a crash may bring the dropped entries back. last_kept must not be
 * below the first entry's predecessor. */
int log_truncate(struct log *log, uint64_t last_kept);

/* ---- Reading (catch-up) ---- */
struct log_read;
/* entries[0..count) are valid only during the call. err: 0, -ESTALE (a truncation raced
 * the read: read again), -EBADMSG (a record read back is corrupt), -EMSGSIZE (an entry
 * written under a larger entry_bytes_max than the log has now), -EIO. */
typedef void (*log_read_cb)(struct log_read *rd, int err, const struct log_entry *entries,
			    uint32_t count);
struct log_read {
	uint64_t from_index;
	uint32_t budget_bytes;  /* payload bytes; at least one entry is returned */
	log_read_cb cb;
	void *arg;
	/* private */
	struct log *log;
	int slot;
	uint64_t trunc_gen;
};
/* Reads durable entries from rd->from_index in one segment, up to the budget. Returns 0
 * (rd->cb will be called), -ENOENT (compacted away), -ENODATA (nothing durable there yet),
 * -EBUSY (all read buffers in use), -EIO. */
int log_read(struct log *log, struct log_read *rd);

/* ---- Snapshots ---- */
struct log_snapshot_info {
	uint64_t epoch, index;
	uint64_t bytes;          /* stream bytes */
	int64_t wall_ms;         /* when it was taken */
	uint64_t duration_ns;
};
/* Produces up to cap bytes of the lane's state into buf: returns the bytes (>0), 0 at the
 * end, or a negative errno. Called in bounded steps, one chunk per loop turn at most. */
typedef ssize_t (*log_snap_source_fn)(void *arg, uint8_t *buf, size_t cap);
typedef void (*log_snap_done_cb)(void *arg, int err, const struct log_snapshot_info *info);

/* Writes a snapshot of the state after entry index (at most last_index) from src,
 * incrementally; once durable it becomes the log's snapshot, and older snapshots and the
 * segments wholly before it are deleted. Returns 0, -EBUSY (one is in progress), -EINVAL,
 * -EIO. done gets -ENOSPC if the disk filled (nothing durable was touched). */
int log_snapshot_take(struct log *log, uint64_t index, log_snap_source_fn src, void *src_arg,
		      log_snap_done_cb done, void *arg);
/* Installing a snapshot received from the primary, in order, chunk by chunk. */
int log_snapshot_install_begin(struct log *log, uint64_t epoch, uint64_t index);
/* Takes len bytes at stream offset (which must be the bytes taken so far). Returns 0,
 * -EAGAIN (the chunk buffers are busy: offer them again later), -EINVAL, -EIO. */
int log_snapshot_install_write(struct log *log, uint64_t offset, const void *buf, size_t len);
/* Makes the installed snapshot durable and the log's base: entries that do not continue it
 * are dropped (Raft's rule: kept only if the log holds index with the same epoch). */
int log_snapshot_install_finish(struct log *log, log_snap_done_cb done, void *arg);
void log_snapshot_install_abort(struct log *log);
/* Work the log has no timer for: trying again to prepare a segment that found no room, so
 * that appends resume once there is room even while the host refuses new writes. Call once
 * per loop turn; cheap when there is nothing to do. */
void log_tick(struct log *log);
/* Whether the size or interval threshold asks for a snapshot now. */
bool log_snapshot_due(const struct log *log);

struct log_snap_read;
/* res: data bytes at rd->buf[0..res), 0 past the end, -ESTALE (another snapshot replaced
 * it), -EBADMSG (a chunk failed its checksum), -EIO. */
typedef void (*log_snap_read_cb)(struct log_snap_read *rd, int res);
struct log_snap_read {
	uint64_t index;   /* the snapshot's index */
	uint64_t offset;  /* stream offset, a multiple of LOG_SNAP_CHUNK_BYTES */
	uint8_t *buf;     /* LOG_SNAP_READ_BUF_BYTES of room */
	log_snap_read_cb cb;
	void *arg;
	/* private */
	struct log *log;
	struct log_disk_io io;
	void *file;
};
/* Reads one chunk of the current snapshot: to load it at start, or to send it to a peer. */
int log_snapshot_read(struct log *log, struct log_snap_read *rd);

/* ---- State ---- */
uint64_t log_first_index(const struct log *log);
uint64_t log_last_index(const struct log *log);
uint64_t log_last_epoch(const struct log *log);
uint64_t log_durable_index(const struct log *log);
/* The epoch of entry index (the snapshot's epoch for its index): 0, or -ENOENT. */
int log_epoch_at(const struct log *log, uint64_t index, uint64_t *epoch);

struct log_stats {
	uint64_t first_index, last_index, durable_index;
	uint64_t log_bytes;      /* record bytes in the live segments */
	uint32_t segments;
	uint64_t snapshot_index, snapshot_bytes;
	int64_t snapshot_wall_ms;
	uint64_t appends, append_bytes;
	uint64_t writes, write_bytes;
	uint64_t flushes;
	uint64_t flush_ns_avg, flush_ns_max, flush_ns_p50, flush_ns_p99; /* write to durable */
	uint64_t nospace_refusals;
	bool direct_io;
	bool nospace;
	bool failed;
};
void log_stats_get(const struct log *log, struct log_stats *out);

/* ---- The data directory ---- */
struct log_datadir;
/* Creates path if missing, takes its lock (flock on path/LOCK: a second process gets
 * -EBUSY), and checks or writes path/FORMAT (-EPROTO on another version). Synchronous: call
 * at start-up, before the loops run. On error, err says why in a sentence. */
int log_datadir_open(const char *path, struct log_datadir **out, char *err, size_t err_cap);
void log_datadir_close(struct log_datadir *dd);
/* The lane's directory inside a data directory: DIR/lane-007. Returns 0 or -ENAMETOOLONG. */
int log_lane_dir(const char *datadir, uint32_t lane, char *buf, size_t cap);

#endif
