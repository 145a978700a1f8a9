/* The log's private state, shared by its source files: segments, the write pipeline, reads,
 * snapshots and recovery. Nothing outside dataplane/log includes this. */
#ifndef SPINDLE_LOG_INTERNAL_H
#define SPINDLE_LOG_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/compiler.h"
#include "base/list.h"
#include "base/panic.h"
#include "log/disk.h"
#include "log/log.h"
#include "log/record.h"

#define LOG_SEG_HEADER_BYTES LOG_BLOCK_BYTES     /* block 0 of a segment: its header */
#define LOG_SEG_DATA_OFF LOG_SEG_HEADER_BYTES    /* the BASE record, then the entries */
#define LOG_SEG_MAGIC "SPNDLSEG"
#define LOG_SEG_HEADER_USED_BYTES 64
#define LOG_INDEX_STRIDE_BYTES (64u << 10)       /* one read checkpoint per this many bytes */
#define LOG_WBUFS 2
#define LOG_FLUSHES_MAX 4                        /* flushes in flight */
#define LOG_READS_MAX 2                          /* reads in flight */
#define LOG_RECOVER_CHUNK_BYTES (1u << 20)
#define LOG_NAMES_MAX 4096                       /* files a lane directory may hold */
#define LOG_ZERO_BUF_BYTES (256u << 10)
#define LOG_MSG_MAX 256

STATIC_ASSERT(LOG_SEG_HEADER_USED_BYTES <= LOG_SEG_HEADER_BYTES, "segment header fits");
STATIC_ASSERT(LOG_INDEX_STRIDE_BYTES % LOG_BLOCK_BYTES == 0, "stride is block aligned");

enum log_state { LOG_OPENING, LOG_READY, LOG_CLOSING, LOG_CLOSED, LOG_FAILED };

/* A read checkpoint: the first record at or after every LOG_INDEX_STRIDE_BYTES. */
struct log_cp {
	uint64_t index;
	uint32_t off;
};

struct log_seg {
	struct list_node node;      /* on log->segs (live, in order) or log->dead */
	struct log *log;
	uint64_t seq;
	int fh;                     /* -1 when closed */
	uint32_t refs;              /* I/O in flight on fh */
	bool doomed;                /* queued for deletion */
	uint64_t base_index, base_epoch;  /* the entry before this segment's first */
	uint64_t last_index;        /* its last live entry; base_index when it holds none */
	uint32_t end_off;           /* end of its records (appended, maybe not yet written) */
	uint32_t cp_count, cp_cap;
	struct log_cp *cp;
	struct log_disk_io io;      /* unlink, close */
	char path[LOG_PATH_MAX];
};

enum log_wbuf_state { LOG_WBUF_FREE, LOG_WBUF_OPEN, LOG_WBUF_SEALED, LOG_WBUF_WRITING };

/* A write buffer: whole blocks of one segment from file_off, the first head bytes carried
 * over from the previous buffer (the partly filled block, written again with more). */
struct log_wbuf {
	struct log *log;
	uint8_t *data;
	enum log_wbuf_state state;
	struct log_seg *seg;
	uint32_t file_off;
	uint32_t len;
	uint32_t head;
	uint64_t last_index;        /* clipped by truncations */
	struct log_disk_io io;
};

/* A write waiting to become durable, in write order. */
struct log_flush_op {
	struct log *log;
	struct log_seg *seg;
	uint64_t end_pos;
	uint64_t last_index;        /* clipped by truncations */
	uint64_t start_ns;
	bool done;
	struct log_disk_io io;
};

enum log_pa_state { LOG_PA_IDLE, LOG_PA_BUSY, LOG_PA_READY, LOG_PA_NOSPACE };

/* Preparing the next segment ahead of need: create seg-N.tmp, allocate, header, sync,
 * rename, sync the directory. */
struct log_prealloc {
	enum log_pa_state state;
	int step;
	struct log_seg *seg;
	uint64_t zero_off;
	uint64_t retry_at_ns;
	uint8_t *block;
	struct log_disk_io io;
	char tmp[LOG_PATH_MAX];
};

struct log_read_slot {
	struct log *log;
	struct log_read *rd;
	struct log_seg *seg;
	uint8_t *buf;
	uint32_t cap;
	uint32_t file_off;          /* of buf[0] */
	uint32_t start;             /* first record to parse, relative to buf */
	struct log_entry *entries;
	struct log_disk_io io;
};

struct log_erun {
	uint64_t first_index;
	uint64_t epoch;
};

struct log_snapfile {
	struct list_node node;      /* on log->retired once replaced */
	struct log *log;
	int fh;
	uint32_t refs;
	bool retired;               /* replaced: unlink and close once refs drop */
	struct log_snapshot_info info;
	struct log_disk_io io;
	char path[LOG_PATH_MAX];
};

struct log_snapw;
struct log_recover;

struct log {
	struct log_config cfg;
	struct log_disk *disk;
	struct log_callbacks cbs;
	enum log_state state;
	int fatal_err;
	char fatal_msg[LOG_MSG_MAX];
	bool direct;                /* O_DIRECT in use (cleared when the fs refuses it) */
	int dir_fh;
	struct log_disk_io dir_io;  /* directory syncs, and its close */
	uint32_t ios;               /* operations in flight */

	/* The entries: (base_index, base_epoch] is the predecessor of the first. */
	uint64_t base_index, base_epoch;
	uint64_t last_index, last_epoch;
	uint64_t durable_index;
	uint64_t durable_pos;
	uint64_t trunc_gen;
	struct log_erun *runs;
	uint32_t run_count, run_cap;

	struct list_node segs;      /* live segments, oldest first */
	struct list_node dead;      /* truncated away or never completed, by sequence number */
	struct list_node doomq;     /* to delete, one at a time, in this order */
	struct log_seg *deleting;   /* the one being deleted */
	uint64_t delete_upto;       /* live segments wholly at or before this index may go */
	struct log_seg *cur;
	bool cur_needs_base;        /* cur's BASE record is not in a buffer yet */
	uint8_t cur_base_kind;
	uint64_t next_seq;
	uint64_t dead_clear_pos;    /* delete the dead segments once this is durable */
	struct log_prealloc pa;
	bool switch_pending;        /* the next records go to a new segment after this base */
	uint8_t switch_kind;
	uint64_t switch_index, switch_epoch;

	struct log_wbuf wb[LOG_WBUFS];
	struct log_wbuf *open_wb;
	struct log_wbuf *sealed[LOG_WBUFS];
	uint32_t sealed_count;
	struct log_wbuf *writing;
	bool flush_wanted;
	uint8_t *tail;              /* the partly filled last block of cur, for the next buffer */
	struct log_flush_op fl[LOG_FLUSHES_MAX];
	uint32_t fl_head, fl_count;
	uint8_t *zero_buf;

	struct log_read_slot rs[LOG_READS_MAX];
	uint32_t read_buf_bytes;

	struct log_snapfile *snap;
	struct list_node retired;   /* replaced snapshots, deleted once their reads are done */
	struct log_snapw *snapw;
	struct log_recover *rc;
	uint64_t bytes_since_snap;
	uint64_t snap_due_base_ns;

	log_open_cb open_cb;
	void *open_arg;
	log_open_cb failed_open_cb;      /* a failed open is reported once its files are closed */
	struct log_recovery *failed_rep;
	void (*close_cb)(void *arg);
	void *close_arg;
	bool close_requested;
	bool files_closing;
	uint32_t closes;

	struct {
		uint64_t appends, append_bytes, writes, write_bytes, flushes;
		uint64_t flush_ns_sum, flush_ns_max;
		uint64_t flush_hist[64];
		uint64_t nospace_refusals;
	} st;
};

/* ---- log.c ---- */
PRINTF_FMT(3, 4) void log_fail(struct log *log, int err, const char *fmt, ...);
void log_io_begin(struct log *log);
void log_io_end(struct log *log);
void log_close_count(struct log *log);
bool log_usable(const struct log *log);
bool log_running(const struct log *log);
void log_runs_note(struct log *log, uint64_t index, uint64_t epoch);
void log_runs_cut(struct log *log, uint64_t last_kept);
void log_runs_reset(struct log *log);
void log_durable_set(struct log *log, uint64_t index);
void *log_alloc_aligned(size_t bytes);

/* ---- segment.c ---- */
void log_seg_path(const struct log *log, uint64_t seq, bool tmp, char *buf, size_t cap);
struct log_seg *log_seg_new(struct log *log, uint64_t seq);
void log_seg_free(struct log_seg *seg);
void log_seg_header_encode(const struct log *log, uint64_t seq, uint8_t *block);
int log_seg_header_check(const struct log *log, uint64_t seq, const uint8_t *block,
			 char *why, size_t why_cap);
void log_seg_cp_note(struct log_seg *seg, uint64_t index, uint32_t off);
uint32_t log_seg_cp_find(const struct log_seg *seg, uint64_t index);
void log_seg_put(struct log_seg *seg);
void log_seg_dead(struct log *log, struct log_seg *seg);
void log_segs_collect(struct log *log);
void log_prealloc_start(struct log *log);
void log_prealloc_retry(struct log *log);
bool log_switch_try(struct log *log);
void log_switch_request(struct log *log, uint8_t kind, uint64_t index, uint64_t epoch);
uint64_t log_seg_live_bytes(const struct log *log);
uint32_t log_seg_live_count(const struct log *log);
bool log_parse_name(const char *name, const char *prefix, const char *suffix, uint64_t *out);

/* ---- write.c ---- */
void log_write_kick(struct log *log);
void log_wbuf_clip(struct log *log, uint64_t last_kept);

/* ---- recover.c ---- */
void log_recover_start(struct log *log);
void log_recover_free(struct log *log);
void log_recover_report_if_ready(struct log *log);
void log_recover_close_orphans(struct log *log);
struct log_recovery *log_recover_report(struct log *log);

/* ---- read.c ---- */
int log_read_slots_init(struct log *log);
void log_read_slots_free(struct log *log);

/* ---- snapshot.c ---- */
void log_snap_free(struct log *log);
void log_snapfile_put(struct log_snapfile *sf);
int log_snap_header_check(const struct log *log, const uint8_t *hdr, uint64_t file_bytes,
			  const uint8_t *trailer, struct log_snapshot_info *info, char *why,
			  size_t why_cap);
uint64_t log_snap_file_bytes(uint64_t data_bytes);

#define LOG_SNAP_HEADER_BYTES 64u
#define LOG_SNAP_TRAILER_BYTES 32u
#define LOG_SNAP_CHUNK_HEADER_BYTES 8u

#endif
