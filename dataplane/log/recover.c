/* Opening a log: recovery. In order, all through the asynchronous disk table:
 *
 *  1. create the lane directory if missing (and sync its parent), open it, list it;
 *  2. check the newest snapshot's header and trailer; delete *.tmp and older snapshots;
 *  3. scan every segment in sequence order, rebuilding the entries, read checkpoints and
 *     epochs; a segment's BASE record says where it continues the log (or truncates it);
 *  4. decide the tail: everything after the first bad or unwritten spot that no later
 *     segment continues from is a torn tail, unless a well-formed record after it says the
 *     spot had been durable (its durable_pos is beyond it): then it is corruption, and the
 *     open fails with -EBADMSG naming the file and offset;
 *  5. check the log against the snapshot (Raft's rule: the log is kept only if it holds the
 *     snapshot's index with the snapshot's epoch);
 *  6. sync every live segment and the directory (after a kill -9, written data may still be
 *     only in the page cache), then move to a fresh segment whose BASE (or RESET) record
 *     makes the cut permanent, and report.
 *
 * Segments are never written in place again after a restart or a truncation, so no stale
 * record can ever follow a current one. */
#define LOG_COMPONENT "log"
#include "log/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/panic.h"

enum log_rc_step {
	RC_MKDIR, RC_PARENT_OPEN, RC_PARENT_SYNC, RC_PARENT_CLOSE, RC_OPENDIR, RC_LIST,
	RC_SNAP_OPEN, RC_SNAP_SIZE, RC_SNAP_HDR, RC_SNAP_TRAILER, RC_UNLINK, RC_SEG_OPEN,
	RC_SEG_SIZE, RC_SEG_READ, RC_SYNC_SEG, RC_SYNC_DIR,
};

enum log_rc_mode { RC_HEADER, RC_BASE, RC_RECORDS, RC_TAIL };

/* The first spot where the log's records stop, pending the next segment's verdict. */
struct log_rc_end {
	bool set;
	uint64_t seq;
	uint64_t off;
	bool junk;              /* damaged bytes, not just unwritten space */
	uint64_t max_dpos;      /* the highest durable_pos of any record seen after it */
	uint64_t records;       /* well-formed records after it */
	uint64_t first_index, last_index;
	uint64_t bytes;         /* extent of the written data after it */
	char path[LOG_PATH_MAX];
	bool bad_set;           /* where the first damaged bytes are, if not at the end */
	uint64_t bad_off;
	char bad_path[LOG_PATH_MAX];
};

struct log_recover {
	struct log *log;
	int step;
	uint64_t start_ns;
	struct log_disk_io io;
	char path[LOG_PATH_MAX];
	int parent_fh;
	char (*names)[LOG_DISK_NAME_MAX];
	struct log_disk_names list;
	uint32_t *unlinks;
	uint32_t unlink_count, unlink_next;
	uint64_t *seqs;
	uint32_t seq_count, seq_next;
	int snap_name;
	uint64_t snap_size;
	struct log_snapfile *sf;
	uint8_t snap_meta[LOG_SNAP_HEADER_BYTES + LOG_SNAP_TRAILER_BYTES];

	struct log_seg *seg;
	uint64_t file_bytes;
	uint8_t *buf;
	uint32_t cap;
	uint32_t chunk_bytes;     /* one read: LOG_RECOVER_CHUNK_BYTES, or a smaller segment */
	uint64_t buf_off;
	uint32_t buf_len;
	uint64_t pos;
	enum log_rc_mode mode;
	bool started;             /* the log's history has begun */
	bool reset;               /* the history is dropped for the snapshot: start with RESET */
	struct log_rc_end end;
	struct list_node *sync_next;
	struct log_recovery rep;
};

static void log_rc_step(struct log *log, int step);
static void log_rc_next_segment(struct log *log);
static void log_rc_stop(struct log *log, enum log_record_status st);

void log_recover_free(struct log *log)
{
	struct log_recover *rc = log->rc;
	if (!rc)
		return;
	if (rc->seg && !list_linked(&rc->seg->node)) /* a live one is freed with the log */
		log_seg_free(rc->seg);
	free(rc->sf);
	free(rc->names);
	free(rc->unlinks);
	free(rc->seqs);
	free(rc->buf);
	free(rc);
	log->rc = NULL;
}

/* Corruption before the tail: the open fails and says where. */
PRINTF_FMT(5, 6)
static void log_rc_corrupt(struct log *log, const char *path, uint64_t off, uint64_t index,
			   const char *fmt, ...)
{
	struct log_corruption *c = &log->rc->rep.corruption;
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->offset = off;
	c->index = index;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
	LOG_ERROR("lane %u: log is damaged before its tail: %s at offset %" PRIu64
		  " (entry %" PRIu64 "): %s", log->cfg.lane, c->path, off, index, c->reason);
	log_fail(log, -EBADMSG, "%s at offset %" PRIu64 ": %s", c->path, off, c->reason);
}

/* ---- Step 1 and 2: the directory and the snapshot ---- */

static void log_rc_classify(struct log *log)
{
	struct log_recover *rc = log->rc;
	uint64_t best = 0, v;
	rc->snap_name = -1;
	for (uint32_t i = 0; i < rc->list.count; i++) {
		const char *n = rc->names[i];
		if (log_parse_name(n, "seg-", "", &v)) {
			rc->seqs[rc->seq_count++] = v;
			log->next_seq = MAX(log->next_seq, v + 1);
		} else if (log_parse_name(n, "seg-", ".tmp", &v)) {
			log->next_seq = MAX(log->next_seq, v + 1);
			rc->unlinks[rc->unlink_count++] = i;
		} else if (log_parse_name(n, "snap-", ".tmp", &v)) {
			rc->unlinks[rc->unlink_count++] = i;
		} else if (log_parse_name(n, "snap-", ".snap", &v)) {
			if (rc->snap_name >= 0 && v > best)
				rc->unlinks[rc->unlink_count++] = (uint32_t)rc->snap_name;
			else if (rc->snap_name >= 0)
				rc->unlinks[rc->unlink_count++] = i;
			if (rc->snap_name < 0 || v > best) {
				rc->snap_name = (int)i;
				best = v;
			}
		} else if (strncmp(n, "meta.", 5) != 0) {
			/* meta.0 and meta.1 belong to the lane (its replication metadata). */
			LOG_WARN("lane %u: ignoring unknown file %s/%s", log->cfg.lane,
				 log->cfg.dir, n);
		}
	}
	for (uint32_t i = 1; i < rc->seq_count; i++) /* insertion sort: few segments */
		for (uint32_t j = i; j > 0 && rc->seqs[j - 1] > rc->seqs[j]; j--) {
			uint64_t t = rc->seqs[j];
			rc->seqs[j] = rc->seqs[j - 1];
			rc->seqs[j - 1] = t;
		}
}

static void log_rc_snapshot_checked(struct log *log)
{
	struct log_recover *rc = log->rc;
	char why[160];
	struct log_snapshot_info info = { 0 };
	int err = log_snap_header_check(log, rc->snap_meta, rc->snap_size,
					rc->snap_meta + LOG_SNAP_HEADER_BYTES, &info, why,
					sizeof(why));
	if (err == -EBADMSG) {
		log_rc_corrupt(log, rc->sf->path, 0, 0, "%s", why);
		return;
	}
	if (err) {
		log_fail(log, err, "%s: %s", rc->sf->path, why);
		return;
	}
	rc->sf->info = info;
	rc->sf->refs = 1;
	log->snap = rc->sf;
	rc->sf = NULL;
	rc->rep.snapshot_index = info.index;
	rc->rep.snapshot_epoch = info.epoch;
	rc->rep.snapshot_bytes = info.bytes;
	if (rc->unlink_count)
		log_rc_step(log, RC_UNLINK);
	else
		log_rc_next_segment(log);
}

/* ---- Step 3 and 4: scanning segments ---- */

static bool log_rc_chains(const struct log *log, const struct log_record *base)
{
	uint64_t epoch;
	if (base->kind == LOG_RECORD_RESET)
		return true;
	return base->index <= log->last_index &&
	       log_epoch_at(log, base->index, &epoch) == 0 && epoch == base->epoch;
}

/* The history goes back to index (a later segment's BASE truncates it). */
static void log_rc_truncate(struct log *log, uint64_t index, uint64_t epoch)
{
	struct list_node *n, *tmp;
	for (n = log->segs.prev, tmp = n->prev; n != &log->segs; n = tmp, tmp = n->prev) {
		struct log_seg *seg = list_entry(n, struct log_seg, node);
		if (seg->base_index < index) {
			seg->last_index = MIN(seg->last_index, index);
			break;
		}
		list_unlink(&seg->node);
		log_seg_dead(log, seg);
	}
	log->last_index = index;
	log->last_epoch = epoch;
	log_runs_cut(log, index);
}

static void log_rc_history_reset(struct log *log, uint64_t index, uint64_t epoch)
{
	struct list_node *n, *tmp;
	list_for_each_safe(n, tmp, &log->segs) {
		list_unlink(n);
		log_seg_dead(log, list_entry(n, struct log_seg, node));
	}
	log->base_index = log->last_index = index;
	log->base_epoch = log->last_epoch = epoch;
	log_runs_reset(log);
}

static uint64_t log_rc_end_pos(const struct log_rc_end *e)
{
	return log_pos_make(e->seq, e->off);
}

/* A well-formed record found after the pending end: count it, and keep its evidence. */
static void log_rc_leftover(struct log_recover *rc, const struct log_record *rec)
{
	struct log_rc_end *e = &rc->end;
	e->records++;
	e->max_dpos = MAX(e->max_dpos, rec->durable_pos);
	if (rec->kind == LOG_RECORD_ENTRY) {
		if (!e->first_index || rec->index < e->first_index)
			e->first_index = rec->index;
		e->last_index = MAX(e->last_index, rec->index);
	}
}

/* Notes the first damaged bytes at or after the end. */
static void log_rc_junk(struct log_recover *rc)
{
	struct log_rc_end *e = &rc->end;
	e->junk = true;
	if (e->bad_set)
		return;
	e->bad_set = true;
	e->bad_off = rc->pos;
	snprintf(e->bad_path, sizeof(e->bad_path), "%s", rc->seg->path);
}

static bool log_rc_end_is_corrupt(struct log *log)
{
	struct log_rc_end *e = &log->rc->end;
	if (!e->set || e->max_dpos <= log_rc_end_pos(e))
		return false;
	if (e->bad_set)
		log_rc_corrupt(log, e->bad_path, e->bad_off, log->last_index + 1,
			       "damaged record; records written after it was durable follow");
	else
		log_rc_corrupt(log, e->path, e->off, log->last_index + 1,
			       "entries are missing after this point; records written after "
			       "they were durable follow");
	return true;
}

/* The segment's first record: where it stands in the history. Returns false if the open
 * has failed. */
static bool log_rc_base(struct log *log, const struct log_record *rec)
{
	struct log_recover *rc = log->rc;
	struct log_seg *seg = rc->seg;
	bool starts = !rc->started;
	/* The first history must start at or before the snapshot (at 0 without one). */
	uint64_t snap = log->snap ? log->snap->info.index : 0;
	bool chains = starts ? rec->index <= snap : log_rc_chains(log, rec);
	if (!chains) {
		/* Not a continuation: a dead segment that a later one supersedes, leftovers of
		 * a torn write, or evidence of corruption: the verdict waits for the segments
		 * after it (one that continues the log from before the end clears it). */
		if (!rc->end.set)
			log_rc_stop(log, LOG_RECORD_ZERO);
		log_rc_leftover(rc, rec);
		rc->mode = RC_TAIL;
		return true;
	}
	if (starts || rec->kind == LOG_RECORD_RESET) {
		log_rc_history_reset(log, rec->index, rec->epoch);
		rc->started = true;
	} else if (rec->index < log->last_index) {
		log_rc_truncate(log, rec->index, rec->epoch);
	}
	memset(&rc->end, 0, sizeof(rc->end)); /* this segment continues the log */
	seg->base_index = seg->last_index = rec->index;
	seg->base_epoch = rec->epoch;
	list_push_back(&log->segs, &seg->node);
	rc->mode = RC_RECORDS;
	return true;
}

static bool log_rc_entry(struct log *log, const struct log_record *rec, uint32_t used)
{
	struct log_recover *rc = log->rc;
	struct log_seg *seg = rc->seg;
	if (rec->kind != LOG_RECORD_ENTRY || rec->index != log->last_index + 1 ||
	    rec->epoch < log->last_epoch) {
		log_rc_corrupt(log, seg->path, rc->pos, log->last_index + 1,
			       "sound record of kind %u index %" PRIu64 " epoch %" PRIu64
			       " out of place", rec->kind, rec->index, rec->epoch);
		return false;
	}
	log_seg_cp_note(seg, rec->index, (uint32_t)rc->pos);
	log_runs_note(log, rec->index, rec->epoch);
	log->last_index = seg->last_index = rec->index;
	log->last_epoch = rec->epoch;
	seg->end_off = (uint32_t)(rc->pos + used);
	return true;
}

/* The segment's records stop here: this is the pending end until a later segment
 * continues the log. */
static void log_rc_stop(struct log *log, enum log_record_status st)
{
	struct log_recover *rc = log->rc;
	if (!rc->end.set) {
		rc->end.set = true;
		rc->end.seq = rc->seg->seq;
		rc->end.off = rc->pos;
		snprintf(rc->end.path, sizeof(rc->end.path), "%s", rc->seg->path);
	}
	if (st != LOG_RECORD_ZERO)
		log_rc_junk(rc);
	rc->mode = RC_TAIL;
}

/* Looks at every 8-byte step after the end for well-formed records and written bytes. */
static void log_rc_tail(struct log *log, const uint8_t *p, uint32_t avail)
{
	struct log_recover *rc = log->rc;
	uint64_t word;
	memcpy(&word, p, sizeof(word));
	if (word == 0) {
		rc->pos += LOG_RECORD_ALIGN_BYTES;
		return;
	}
	struct log_record rec;
	if (log_record_decode_header(p, avail, &rec) == LOG_RECORD_OK) {
		log_rc_leftover(rc, &rec);
		uint64_t next = rc->pos + log_record_bytes(rec.len);
		rc->end.bytes += MIN(next, rc->file_bytes) - rc->pos;
		rc->pos = next;
		return;
	}
	log_rc_junk(rc);
	rc->end.bytes += LOG_RECORD_ALIGN_BYTES;
	rc->pos += LOG_RECORD_ALIGN_BYTES;
}

/* A record longer than the buffer can hold with a chunk read after it (written under a
 * larger entry_bytes_max): make room for it. */
static void log_rc_reserve(struct log *log, struct log_record *rec, const uint8_t *p,
			   uint32_t avail)
{
	struct log_recover *rc = log->rc;
	if (log_record_decode_header(p, avail, rec) != LOG_RECORD_OK)
		return;
	uint32_t need = log_record_bytes(rec->len) + rc->chunk_bytes + 2 * LOG_BLOCK_BYTES;
	if (need <= rc->cap)
		return;
	uint8_t *buf = log_alloc_aligned(need);
	ASSERT_MSG(buf, "no memory for a log record of %u bytes", rec->len);
	memcpy(buf, rc->buf, rc->buf_len);
	free(rc->buf);
	rc->buf = buf;
	rc->cap = need;
}

/* Parses what the buffer holds from rc->pos. Returns false if the open has failed. */
static bool log_rc_parse(struct log *log)
{
	struct log_recover *rc = log->rc;
	uint64_t buf_end = rc->buf_off + rc->buf_len;
	bool at_eof = buf_end >= rc->file_bytes;
	while (rc->pos < MIN(buf_end, rc->file_bytes)) {
		const uint8_t *p = rc->buf + (rc->pos - rc->buf_off);
		uint32_t avail = (uint32_t)(MIN(buf_end, rc->file_bytes) - rc->pos);
		if (rc->mode == RC_TAIL) {
			if (avail < LOG_RECORD_HEADER_BYTES && !at_eof)
				return true;
			log_rc_tail(log, p, avail);
			continue;
		}
		struct log_record rec;
		uint32_t used = 0;
		enum log_record_status st = log_record_decode(p, avail, &rec, &used);
		if (st == LOG_RECORD_SHORT && !at_eof) {
			log_rc_reserve(log, &rec, p, avail);
			return true; /* read more */
		}
		if (st != LOG_RECORD_OK) {
			log_rc_stop(log, st);
			continue;
		}
		if (rc->mode == RC_BASE) {
			if (rec.kind == LOG_RECORD_ENTRY) {
				log_rc_stop(log, LOG_RECORD_BAD_HEADER);
				continue;
			}
			if (!log_rc_base(log, &rec))
				return false;
			if (rc->mode == RC_RECORDS)
				rc->seg->end_off = (uint32_t)(rc->pos + used);
			rc->pos += used;
			continue;
		}
		if (!log_rc_entry(log, &rec, used))
			return false;
		rc->pos += used;
	}
	if (rc->mode != RC_TAIL && rc->pos >= rc->file_bytes)
		log_rc_stop(log, LOG_RECORD_ZERO); /* a full segment ends at its end */
	return true;
}

static void log_rc_read_next(struct log *log)
{
	struct log_recover *rc = log->rc;
	uint64_t keep_from = rc->pos & ~(uint64_t)(LOG_BLOCK_BYTES - 1);
	uint64_t buf_end = rc->buf_off + rc->buf_len;
	if (keep_from < buf_end && keep_from >= rc->buf_off) {
		uint32_t keep = (uint32_t)(buf_end - keep_from);
		memmove(rc->buf, rc->buf + (keep_from - rc->buf_off), keep);
		rc->buf_off = keep_from;
		rc->buf_len = keep;
	} else {
		rc->buf_off = keep_from;
		rc->buf_len = 0;
	}
	log_rc_step(log, RC_SEG_READ);
}

static void log_rc_header(struct log *log)
{
	struct log_recover *rc = log->rc;
	char why[160];
	int err = rc->buf_len < LOG_SEG_HEADER_BYTES ? -EBADMSG :
		  log_seg_header_check(log, rc->seg->seq, rc->buf, why, sizeof(why));
	if (rc->buf_len < LOG_SEG_HEADER_BYTES)
		snprintf(why, sizeof(why), "segment is shorter than its header");
	if (err == -EBADMSG) {
		log_rc_corrupt(log, rc->seg->path, 0, log->last_index + 1, "%s", why);
		return;
	}
	if (err) {
		log_fail(log, err, "%s: %s", rc->seg->path, why);
		return;
	}
	rc->pos = LOG_SEG_DATA_OFF;
	rc->mode = RC_BASE;
}

/* A chunk of the segment arrived: parse it, then read on or finish the segment. */
static void log_rc_chunk(struct log *log, uint32_t got)
{
	struct log_recover *rc = log->rc;
	rc->buf_len += got;
	if (rc->mode == RC_HEADER) {
		log_rc_header(log);
		if (log->state != LOG_OPENING)
			return;
	}
	if (!log_rc_parse(log))
		return;
	if (rc->pos < rc->file_bytes && rc->buf_off + rc->buf_len < rc->file_bytes && got > 0) {
		log_rc_read_next(log);
		return;
	}
	if (rc->mode != RC_TAIL) /* cut short: the file ends inside a record */
		log_rc_stop(log, LOG_RECORD_BAD_HEADER);
	if (!list_linked(&rc->seg->node))
		log_seg_dead(log, rc->seg);
	rc->seg = NULL;
	log_rc_next_segment(log);
}

/* ---- Step 5 and 6: the verdict, the snapshot, syncing, and the first new segment ---- */

static bool log_rc_check_snapshot(struct log *log)
{
	struct log_recover *rc = log->rc;
	uint64_t s = log->snap ? log->snap->info.index : 0;
	uint64_t se = log->snap ? log->snap->info.epoch : 0;
	uint64_t epoch = 0;
	if (!rc->started) {
		log_rc_history_reset(log, s, se);
		rc->reset = s != 0;
		return true;
	}
	if (log->base_index > s) {
		struct log_seg *first = list_entry(log->segs.next, struct log_seg, node);
		log_rc_corrupt(log, first->path, LOG_SEG_DATA_OFF, s + 1,
			       "the log starts after entry %" PRIu64 " but %s", log->base_index,
			       log->snap ? "the snapshot ends before it" : "there is no snapshot");
		return false;
	}
	if (log->snap && (log_epoch_at(log, s, &epoch) != 0 || epoch != se)) {
		LOG_WARN("lane %u: the log does not continue snapshot %" PRIu64 " epoch %" PRIu64
			 "; it restarts after it", log->cfg.lane, s, se);
		log_rc_history_reset(log, s, se);
		rc->reset = true;
	}
	return true;
}

static void log_rc_report_cut(struct log *log)
{
	struct log_recover *rc = log->rc;
	struct log_rc_end *e = &rc->end;
	if (!e->set || (!e->junk && e->records == 0))
		return;
	struct log_cut *c = &rc->rep.cut;
	rc->rep.tail_cut = true;
	snprintf(c->path, sizeof(c->path), "%s", e->path);
	c->offset = e->off;
	c->bytes = e->bytes;
	c->records = e->records;
	c->first_index = e->first_index;
	c->last_index = e->last_index;
	LOG_WARN("lane %u: cut a torn tail at %s offset %" PRIu64 ": %" PRIu64 " bytes, %"
		 PRIu64 " unfinished records (indexes %" PRIu64 "..%" PRIu64 "); the log ends at "
		 "entry %" PRIu64, log->cfg.lane, c->path, c->offset, c->bytes, c->records,
		 c->first_index, c->last_index, log->last_index);
}

/* Everything is scanned and synced: the log is usable once it is on a fresh segment. */
static void log_rc_ready(struct log *log)
{
	struct log_recover *rc = log->rc;
	rc->rep.first_index = log_first_index(log);
	rc->rep.last_index = log->last_index;
	rc->rep.last_epoch = log->last_epoch;
	rc->rep.segments = log_seg_live_count(log);
	rc->rep.log_bytes = log_seg_live_bytes(log);
	log->durable_index = log->last_index;
	log->durable_pos = rc->end.set ? log_rc_end_pos(&rc->end) : 0;
	log->delete_upto = log->snap ? log->snap->info.index : 0;
	log->snap_due_base_ns = log->disk->ops->now_ns(log->disk);
	/* The log already there counts toward the next snapshot (at most what the live
	 * segments hold): counted from zero, a node restarted more often than it appends
	 * snapshot_log_bytes never compacts, and its log grows until the disk is full. */
	log->bytes_since_snap = rc->rep.log_bytes;
	log->state = LOG_READY;
	log_prealloc_start(log);
	log_switch_request(log, rc->reset ? LOG_RECORD_RESET : LOG_RECORD_BASE,
			   log->last_index, log->last_epoch);
	log->flush_wanted = true;
	log_write_kick(log);
	log_recover_report_if_ready(log);
}

/* Reports a successful open once the log is on its fresh segment (or knows that there is
 * no room for one: it then opens for reading, and appends wait for room). */
void log_recover_report_if_ready(struct log *log)
{
	struct log_recover *rc = log->rc;
	if (!log->open_cb || !rc || log->state != LOG_READY)
		return;
	if (log->switch_pending && log->pa.state != LOG_PA_NOSPACE)
		return;
	struct log_recovery rep = rc->rep;
	rep.duration_ns = log->disk->ops->now_ns(log->disk) - rc->start_ns;
	rep.direct_io = log->direct;
	log_recover_free(log);
	log_open_cb cb = log->open_cb;
	log->open_cb = NULL;
	LOG_INFO("lane %u: log open: entries %" PRIu64 "..%" PRIu64 " in %u segments, snapshot %"
		 PRIu64 ", %s I/O", log->cfg.lane, rep.first_index, rep.last_index, rep.segments,
		 rep.snapshot_index, rep.direct_io ? "direct" : "buffered");
	cb(log->open_arg, log, 0, &rep);
}

static void log_rc_finish_scan(struct log *log)
{
	struct log_recover *rc = log->rc;
	if (log_rc_end_is_corrupt(log) || !log_rc_check_snapshot(log))
		return;
	log_rc_report_cut(log);
	rc->sync_next = log->segs.next;
	log_rc_step(log, RC_SYNC_SEG);
}

static void log_rc_next_segment(struct log *log)
{
	struct log_recover *rc = log->rc;
	if (rc->seq_next == rc->seq_count) {
		log_rc_finish_scan(log);
		return;
	}
	rc->seg = log_seg_new(log, rc->seqs[rc->seq_next++]);
	rc->mode = RC_HEADER;
	rc->buf_off = 0;
	rc->buf_len = 0;
	rc->pos = 0;
	log_rc_step(log, RC_SEG_OPEN);
}

/* ---- The step machine ---- */

static void log_rc_after_list(struct log *log)
{
	struct log_recover *rc = log->rc;
	if (rc->list.truncated) {
		log_fail(log, -EMFILE, "%s holds more files than a log may", log->cfg.dir);
		return;
	}
	log_rc_classify(log);
	if (rc->snap_name >= 0)
		log_rc_step(log, RC_SNAP_OPEN);
	else if (rc->unlink_count)
		log_rc_step(log, RC_UNLINK);
	else
		log_rc_next_segment(log);
}

static void log_rc_sync_next(struct log *log)
{
	struct log_recover *rc = log->rc;
	rc->sync_next = rc->sync_next->next;
	log_rc_step(log, RC_SYNC_SEG);
}

/* Whether res is a success for the step. */
static bool log_rc_ok(int step, int res)
{
	switch (step) {
	case RC_MKDIR: return res == 0 || res == -EEXIST;
	case RC_PARENT_OPEN: case RC_OPENDIR: case RC_SNAP_OPEN: case RC_SEG_OPEN:
	case RC_SEG_READ: return res >= 0;
	case RC_PARENT_CLOSE: return true;
	case RC_SNAP_HDR: return res == LOG_SNAP_HEADER_BYTES;
	case RC_SNAP_TRAILER: return res == LOG_SNAP_TRAILER_BYTES;
	case RC_UNLINK: return res == 0 || res == -ENOENT;
	default: return res == 0;
	}
}

/* The directory and the snapshot: what a successful step leads to. */
static void log_rc_advance_dir(struct log *log, int step, int res)
{
	struct log_recover *rc = log->rc;
	switch (step) {
	case RC_MKDIR:
		log_rc_step(log, res == -EEXIST ? RC_OPENDIR : RC_PARENT_OPEN);
		break;
	case RC_PARENT_OPEN:
		log_rc_step(log, RC_PARENT_SYNC);
		break;
	case RC_PARENT_SYNC:
		log_rc_step(log, RC_PARENT_CLOSE);
		break;
	case RC_PARENT_CLOSE:
		log_rc_step(log, RC_OPENDIR);
		break;
	case RC_OPENDIR:
		log_rc_step(log, RC_LIST);
		break;
	case RC_LIST:
		log_rc_after_list(log);
		break;
	case RC_SNAP_OPEN:
		log_rc_step(log, RC_SNAP_SIZE);
		break;
	case RC_SNAP_SIZE:
		if (rc->snap_size < LOG_SNAP_HEADER_BYTES + LOG_SNAP_TRAILER_BYTES)
			log_rc_corrupt(log, rc->sf->path, 0, 0, "snapshot file is too short");
		else
			log_rc_step(log, RC_SNAP_HDR);
		break;
	case RC_SNAP_HDR:
		log_rc_step(log, RC_SNAP_TRAILER);
		break;
	case RC_SNAP_TRAILER:
		log_rc_snapshot_checked(log);
		break;
	}
}

/* Cleaning up, the segments and the final syncs: what a successful step leads to. */
static void log_rc_advance_seg(struct log *log, int step, int res)
{
	struct log_recover *rc = log->rc;
	switch (step) {
	case RC_UNLINK:
		if (++rc->unlink_next < rc->unlink_count)
			log_rc_step(log, RC_UNLINK);
		else
			log_rc_next_segment(log);
		break;
	case RC_SEG_OPEN:
		log_rc_step(log, RC_SEG_SIZE);
		break;
	case RC_SEG_SIZE:
		log_rc_step(log, RC_SEG_READ);
		break;
	case RC_SEG_READ:
		log_rc_chunk(log, (uint32_t)res);
		break;
	case RC_SYNC_SEG:
		log_rc_sync_next(log);
		break;
	case RC_SYNC_DIR:
		log_rc_ready(log);
		break;
	}
}

/* A file an open step opened is recorded at once, so that it is closed even when the open
 * has been abandoned meanwhile. */
static void log_rc_keep(struct log *log, int step, int res)
{
	struct log_recover *rc = log->rc;
	if (step == RC_PARENT_CLOSE)
		rc->parent_fh = -1;
	if (res < 0)
		return;
	if (step == RC_PARENT_OPEN)
		rc->parent_fh = res;
	else if (step == RC_OPENDIR)
		log->dir_fh = res;
	else if (step == RC_SNAP_OPEN)
		rc->sf->fh = res;
	else if (step == RC_SEG_OPEN)
		rc->seg->fh = res;
}

static void log_rc_done(struct log_disk_io *io, int res)
{
	struct log_recover *rc = container_of(io, struct log_recover, io);
	struct log *log = rc->log;
	int step = rc->step;
	log_rc_keep(log, step, res);
	if (log->state == LOG_OPENING && step == RC_SEG_OPEN && res == -EINVAL && log->direct) {
		LOG_INFO("lane %u: %s refuses O_DIRECT; reading and writing through the page "
			 "cache", log->cfg.lane, log->cfg.dir);
		log->direct = false;
		log_rc_step(log, RC_SEG_OPEN);
	} else if (log->state == LOG_OPENING && !log_rc_ok(step, res)) {
		log_fail(log, res < 0 ? res : -EIO, "opening the log in %s failed at step %d",
			 log->cfg.dir, step);
	} else if (log->state == LOG_OPENING && step < RC_UNLINK) {
		log_rc_advance_dir(log, step, res);
	} else if (log->state == LOG_OPENING) {
		log_rc_advance_seg(log, step, res);
	}
	log_io_end(log);
}

static void log_rc_submit_dir(struct log *log, int step)
{
	struct log_recover *rc = log->rc;
	const struct log_disk_ops *ops = log->disk->ops;
	struct log_disk *d = log->disk;
	switch (step) {
	case RC_MKDIR:
		ops->mkdir(d, &rc->io, log->cfg.dir);
		break;
	case RC_PARENT_OPEN: {
		snprintf(rc->path, sizeof(rc->path), "%s", log->cfg.dir);
		char *slash = strrchr(rc->path, '/');
		if (slash && slash != rc->path)
			*slash = 0;
		else
			snprintf(rc->path, sizeof(rc->path), "%s", slash ? "/" : ".");
		ops->open(d, &rc->io, rc->path, LOG_DISK_O_DIR | LOG_DISK_O_RDONLY);
		break;
	}
	case RC_PARENT_SYNC:
		ops->sync(d, &rc->io, rc->parent_fh, 0);
		break;
	case RC_PARENT_CLOSE:
		ops->close(d, &rc->io, rc->parent_fh);
		break;
	case RC_OPENDIR:
		ops->open(d, &rc->io, log->cfg.dir, LOG_DISK_O_DIR | LOG_DISK_O_RDONLY);
		break;
	case RC_LIST:
		ops->list(d, &rc->io, log->cfg.dir, &rc->list);
		break;
	case RC_SNAP_OPEN:
		rc->sf = calloc(1, sizeof(*rc->sf));
		ASSERT_MSG(rc->sf, "no memory for a snapshot");
		rc->sf->log = log;
		rc->sf->fh = -1;
		snprintf(rc->sf->path, sizeof(rc->sf->path), "%s/%s", log->cfg.dir,
			 rc->names[rc->snap_name]);
		ops->open(d, &rc->io, rc->sf->path, 0);
		break;
	case RC_SNAP_SIZE:
		ops->size(d, &rc->io, rc->sf->fh, &rc->snap_size);
		break;
	case RC_SNAP_HDR:
		ops->read(d, &rc->io, rc->sf->fh, rc->snap_meta, LOG_SNAP_HEADER_BYTES, 0);
		break;
	case RC_SNAP_TRAILER:
		ops->read(d, &rc->io, rc->sf->fh, rc->snap_meta + LOG_SNAP_HEADER_BYTES,
			  LOG_SNAP_TRAILER_BYTES, rc->snap_size - LOG_SNAP_TRAILER_BYTES);
		break;
	default:
		PANIC("bad recovery step %d", step);
	}
}

static void log_rc_submit_seg(struct log *log, int step)
{
	struct log_recover *rc = log->rc;
	const struct log_disk_ops *ops = log->disk->ops;
	struct log_disk *d = log->disk;
	switch (step) {
	case RC_UNLINK:
		snprintf(rc->path, sizeof(rc->path), "%s/%s", log->cfg.dir,
			 rc->names[rc->unlinks[rc->unlink_next]]);
		ops->unlink(d, &rc->io, rc->path);
		break;
	case RC_SEG_OPEN:
		ops->open(d, &rc->io, rc->seg->path, log->direct ? LOG_DISK_O_DIRECT : 0);
		break;
	case RC_SEG_SIZE:
		ops->size(d, &rc->io, rc->seg->fh, &rc->file_bytes);
		break;
	case RC_SEG_READ: {
		uint64_t off = rc->buf_off + rc->buf_len;
		uint64_t len = MIN((uint64_t)rc->chunk_bytes,
				   ALIGN_UP(rc->file_bytes, (uint64_t)LOG_BLOCK_BYTES) - off);
		ASSERT(rc->buf_len + len <= rc->cap && off % LOG_BLOCK_BYTES == 0);
		ops->read(d, &rc->io, rc->seg->fh, rc->buf + rc->buf_len, len, off);
		break;
	}
	case RC_SYNC_SEG:
		if (rc->sync_next == &log->segs) {
			rc->step = RC_SYNC_DIR;
			ops->sync(d, &rc->io, log->dir_fh, 0);
		} else {
			struct log_seg *seg = list_entry(rc->sync_next, struct log_seg, node);
			ops->sync(d, &rc->io, seg->fh, LOG_DISK_SYNC_DATA);
		}
		break;
	default:
		PANIC("bad recovery step %d", step);
	}
}

static void log_rc_step(struct log *log, int step)
{
	struct log_recover *rc = log->rc;
	rc->step = step;
	rc->io.cb = log_rc_done;
	log_io_begin(log);
	if (step < RC_UNLINK)
		log_rc_submit_dir(log, step);
	else
		log_rc_submit_seg(log, step);
}

void log_recover_start(struct log *log)
{
	struct log_recover *rc = calloc(1, sizeof(*rc));
	ASSERT_MSG(rc, "no memory to recover a log");
	rc->log = log;
	rc->parent_fh = -1;
	log->rc = rc;
	rc->start_ns = log->disk->ops->now_ns(log->disk);
	rc->rep.direct_io = log->direct;
	rc->names = calloc(LOG_NAMES_MAX, sizeof(*rc->names));
	rc->unlinks = calloc(LOG_NAMES_MAX, sizeof(*rc->unlinks));
	rc->seqs = calloc(LOG_NAMES_MAX, sizeof(*rc->seqs));
	/* Reads are LOG_RECOVER_CHUNK_BYTES, but no larger than a segment: a log of small
	 * segments (tests) need not allocate and zero a megabyte at each open. */
	rc->chunk_bytes = (uint32_t)MIN((uint64_t)LOG_RECOVER_CHUNK_BYTES, log->cfg.segment_bytes);
	rc->cap = rc->chunk_bytes + log_record_bytes(log->cfg.entry_bytes_max) +
		  2 * LOG_BLOCK_BYTES;
	rc->buf = log_alloc_aligned(rc->cap);
	ASSERT_MSG(rc->names && rc->unlinks && rc->seqs && rc->buf,
		   "no memory to recover a log");
	rc->list = (struct log_disk_names){ .names = rc->names, .cap = LOG_NAMES_MAX };
	log_rc_step(log, RC_MKDIR);
}

/* Closing while opening: the files recovery holds that no list does. */
static void log_rc_orphan_closed(struct log_disk_io *io, int res)
{
	(void)res;
	log_close_count(container_of(io, struct log_recover, io)->log);
}

static void log_rc_orphan_seg_closed(struct log_disk_io *io, int res)
{
	(void)res;
	log_close_count(container_of(io, struct log_seg, io)->log);
}

static void log_rc_orphan_sf_closed(struct log_disk_io *io, int res)
{
	(void)res;
	log_close_count(container_of(io, struct log_snapfile, io)->log);
}

static void log_rc_orphan_close(struct log *log, struct log_disk_io *io, log_disk_cb cb,
				int *fh)
{
	if (*fh < 0)
		return;
	io->cb = cb;
	log->closes++;
	log->disk->ops->close(log->disk, io, *fh);
	*fh = -1;
}

void log_recover_close_orphans(struct log *log)
{
	struct log_recover *rc = log->rc;
	if (!rc)
		return;
	log_rc_orphan_close(log, &rc->io, log_rc_orphan_closed, &rc->parent_fh);
	if (rc->seg && !list_linked(&rc->seg->node))
		log_rc_orphan_close(log, &rc->seg->io, log_rc_orphan_seg_closed, &rc->seg->fh);
	if (rc->sf)
		log_rc_orphan_close(log, &rc->sf->io, log_rc_orphan_sf_closed, &rc->sf->fh);
}

/* The recovery report so far, for a failed open to pass on. */
struct log_recovery *log_recover_report(struct log *log)
{
	return log->rc ? &log->rc->rep : NULL;
}
