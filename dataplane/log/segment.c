/* Segment files: names, the header block, read checkpoints, preparing the next segment
 * ahead of need (so that neither allocation nor ENOSPC is ever on the write path), moving
 * the log to a new segment, and deleting segments the log no longer needs.
 *
 * A new segment is created as seg-N.tmp, allocated, given its header, synced, renamed to
 * seg-N and the directory synced; recovery deletes any *.tmp, so a named segment is always
 * whole. When there is no room, the preparation stops cleanly, appends that need the new
 * segment are refused with -ENOSPC, and the preparation is retried every nospace_retry_ms
 * (on demand) and whenever deleting segments freed space. */
#define LOG_COMPONENT "log"
#include "log/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc.h"
#include "base/log.h"
#include "base/panic.h"

enum log_pa_step {
	PA_OPEN, PA_UNLINK_STALE, PA_FALLOCATE, PA_ZERO, PA_HEADER, PA_SYNC, PA_RENAME,
	PA_DIRSYNC, PA_NOSPACE_CLOSE, PA_NOSPACE_UNLINK,
};

void log_seg_path(const struct log *log, uint64_t seq, bool tmp, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/seg-%016" PRIx64 "%s", log->cfg.dir, seq,
			 tmp ? ".tmp" : "");
	ASSERT(n > 0 && (size_t)n < cap);
}

bool log_parse_name(const char *name, const char *prefix, const char *suffix, uint64_t *out)
{
	size_t pl = strlen(prefix), sl = strlen(suffix), nl = strlen(name);
	if (nl != pl + 16 + sl || strncmp(name, prefix, pl) != 0 ||
	    strcmp(name + pl + 16, suffix) != 0)
		return false;
	uint64_t v = 0;
	for (size_t i = pl; i < pl + 16; i++) {
		char c = name[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return false;
		v = (v << 4) | (uint64_t)d;
	}
	*out = v;
	return true;
}

struct log_seg *log_seg_new(struct log *log, uint64_t seq)
{
	struct log_seg *seg = calloc(1, sizeof(*seg));
	uint32_t cap = (uint32_t)(log->cfg.segment_bytes / LOG_INDEX_STRIDE_BYTES) + 2;
	if (seg)
		seg->cp = calloc(cap, sizeof(*seg->cp));
	ASSERT_MSG(seg && seg->cp, "no memory for a segment");
	seg->log = log;
	seg->seq = seq;
	seg->fh = -1;
	seg->cp_cap = cap;
	seg->end_off = LOG_SEG_DATA_OFF;
	list_init(&seg->node);
	log_seg_path(log, seq, false, seg->path, sizeof(seg->path));
	return seg;
}

void log_seg_free(struct log_seg *seg)
{
	free(seg->cp);
	free(seg);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Block 0: magic, format version, lane, sequence number, size, CRC32C of the rest. */
void log_seg_header_encode(const struct log *log, uint64_t seq, uint8_t *block)
{
	memset(block, 0, LOG_SEG_HEADER_BYTES);
	memcpy(block, LOG_SEG_MAGIC, 8);
	put_le32(block + 8, LOG_FORMAT_VERSION);
	put_le32(block + 12, log->cfg.lane);
	put_le64(block + 16, seq);
	put_le64(block + 24, log->cfg.segment_bytes);
	put_le32(block + 60, crc32c(block, 60));
}

/* Returns 0, -EPROTO (not ours: another format or lane) or -EBADMSG (damaged). */
int log_seg_header_check(const struct log *log, uint64_t seq, const uint8_t *block,
			 char *why, size_t why_cap)
{
	if (memcmp(block, LOG_SEG_MAGIC, 8) != 0 || get_le(block + 60, 4) != crc32c(block, 60)) {
		snprintf(why, why_cap, "segment header is damaged");
		return -EBADMSG;
	}
	if (get_le(block + 8, 4) != LOG_FORMAT_VERSION) {
		snprintf(why, why_cap, "segment has format version %u, this build reads %u",
			 (unsigned)get_le(block + 8, 4), LOG_FORMAT_VERSION);
		return -EPROTO;
	}
	if (get_le(block + 12, 4) != log->cfg.lane) {
		snprintf(why, why_cap, "segment belongs to lane %u, not lane %u",
			 (unsigned)get_le(block + 12, 4), log->cfg.lane);
		return -EPROTO;
	}
	if (get_le(block + 16, 8) != seq) {
		snprintf(why, why_cap, "segment header names sequence %" PRIu64,
			 get_le(block + 16, 8));
		return -EBADMSG;
	}
	return 0;
}

/* ---- Read checkpoints ---- */

void log_seg_cp_note(struct log_seg *seg, uint64_t index, uint32_t off)
{
	if (seg->cp_count &&
	    off - seg->cp[seg->cp_count - 1].off < LOG_INDEX_STRIDE_BYTES)
		return;
	ASSERT(seg->cp_count < seg->cp_cap);
	seg->cp[seg->cp_count++] = (struct log_cp){ .index = index, .off = off };
}

/* The checkpoint to start reading index from: the last one at or before it. */
uint32_t log_seg_cp_find(const struct log_seg *seg, uint64_t index)
{
	ASSERT(seg->cp_count > 0 && seg->cp[0].index <= index);
	uint32_t lo = 0, hi = seg->cp_count;
	while (hi - lo > 1) {
		uint32_t mid = (lo + hi) / 2;
		if (seg->cp[mid].index <= index)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* ---- Deleting ----
 *
 * Segments are deleted one at a time, in the order they were queued: dead ones oldest
 * first, then live ones wholly before a snapshot, oldest first. Since a journaling
 * filesystem keeps a prefix of the directory changes across a crash, what survives a crash
 * in the middle is a suffix of the queue, and so a dead segment never survives without the
 * later segment that made it dead, nor a live one without those after it. Nothing is
 * deleted while a new BASE record that makes segments dead is not yet durable. */

static void log_doom_next(struct log *log);

static void log_seg_closed(struct log_disk_io *io, int res)
{
	struct log_seg *seg = container_of(io, struct log_seg, io);
	struct log *log = seg->log;
	(void)res;
	ASSERT(log->deleting == seg);
	log->deleting = NULL;
	log_seg_free(seg);
	log_doom_next(log);
	if (log_running(log))
		log_prealloc_retry(log); /* room was just freed */
	log_io_end(log);
}

static void log_seg_unlinked(struct log_disk_io *io, int res)
{
	struct log_seg *seg = container_of(io, struct log_seg, io);
	struct log *log = seg->log;
	if (res < 0 && res != -ENOENT)
		log_fail(log, res, "cannot delete segment %s", seg->path);
	if (seg->fh >= 0) {
		int fh = seg->fh;
		seg->fh = -1;
		seg->io.cb = log_seg_closed;
		log->disk->ops->close(log->disk, &seg->io, fh);
		return;
	}
	log_seg_closed(io, 0);
}

/* Starts deleting the next queued segment once its I/O has drained. */
static void log_doom_next(struct log *log)
{
	if (log->deleting || list_empty(&log->doomq))
		return;
	struct log_seg *seg = list_entry(log->doomq.next, struct log_seg, node);
	if (seg->refs > 0)
		return; /* log_seg_put() comes back here */
	list_unlink(&seg->node);
	log->deleting = seg;
	log_io_begin(log);
	seg->io.cb = log_seg_unlinked;
	log->disk->ops->unlink(log->disk, &seg->io, seg->path);
}

static void log_seg_doom(struct log *log, struct log_seg *seg)
{
	ASSERT(!seg->doomed);
	seg->doomed = true;
	list_unlink(&seg->node);
	list_push_back(&log->doomq, &seg->node);
}

/* Drops one reference taken for I/O on the segment's file. */
void log_seg_put(struct log_seg *seg)
{
	ASSERT(seg->refs > 0);
	if (--seg->refs == 0 && seg->doomed)
		log_doom_next(seg->log);
}

/* Moves seg (no longer on any list) to the dead list, which stays in sequence order. */
void log_seg_dead(struct log *log, struct log_seg *seg)
{
	struct list_node *n;
	for (n = log->dead.prev; n != &log->dead; n = n->prev)
		if (list_entry(n, struct log_seg, node)->seq < seg->seq)
			break;
	list_insert_between(&seg->node, n, n->next);
}

/* Queues for deletion what may go now: every dead segment, then the live ones wholly at or
 * before delete_upto (never the current one). */
void log_segs_collect(struct log *log)
{
	if (log->dead_clear_pos != 0)
		return;
	struct list_node *n, *tmp;
	list_for_each_safe(n, tmp, &log->dead)
		log_seg_doom(log, list_entry(n, struct log_seg, node));
	list_for_each_safe(n, tmp, &log->segs) {
		struct log_seg *seg = list_entry(n, struct log_seg, node);
		if (seg == log->cur || seg->last_index > log->delete_upto)
			break;
		log_seg_doom(log, seg);
	}
	struct log_seg *first = list_empty(&log->segs) ? NULL :
				list_entry(log->segs.next, struct log_seg, node);
	if (first && first->base_index > log->base_index) {
		log->base_index = first->base_index;
		log->base_epoch = first->base_epoch;
	}
	log_doom_next(log);
}

uint64_t log_seg_live_bytes(const struct log *log)
{
	uint64_t sum = 0;
	struct list_node *n;
	list_for_each(n, &log->segs) {
		struct log_seg *seg = list_entry(n, struct log_seg, node);
		sum += seg->end_off - LOG_SEG_DATA_OFF;
	}
	return sum;
}

uint32_t log_seg_live_count(const struct log *log)
{
	uint32_t count = 0;
	struct list_node *n;
	list_for_each(n, &log->segs)
		count++;
	return count;
}

/* ---- Preparing the next segment ---- */

static void log_pa_step(struct log *log, int step);

static void log_pa_nospace(struct log *log)
{
	struct log_prealloc *pa = &log->pa;
	LOG_WARN("lane %u: no room for a new log segment of %" PRIu64
		 " bytes in %s; appends that need it are refused until there is", log->cfg.lane,
		 log->cfg.segment_bytes, log->cfg.dir);
	if (pa->seg->fh >= 0)
		log_pa_step(log, PA_NOSPACE_CLOSE);
	else
		log_pa_step(log, PA_NOSPACE_UNLINK);
}

static bool log_pa_error(struct log *log, int step, int res)
{
	struct log_prealloc *pa = &log->pa;
	if (res == -ENOSPC && (step == PA_FALLOCATE || step == PA_ZERO || step == PA_OPEN)) {
		log_pa_nospace(log);
		return true;
	}
	if ((step == PA_NOSPACE_UNLINK || step == PA_UNLINK_STALE) && res == -ENOENT)
		return false;
	log_fail(log, res, "cannot prepare segment %s (step %d)", pa->tmp, step);
	return true;
}

static void log_pa_ready(struct log *log)
{
	struct log_prealloc *pa = &log->pa;
	pa->state = LOG_PA_READY;
	if (log->switch_pending && log_switch_try(log))
		log_write_kick(log);
	log_recover_report_if_ready(log);
}

/* Where the previous step leads, given its result. */
static void log_pa_done(struct log_disk_io *io, int res)
{
	struct log *log = container_of(io, struct log, pa.io);
	struct log_prealloc *pa = &log->pa;
	int step = pa->step;
	if (log->state != LOG_READY && log->state != LOG_OPENING) {
		if (step == PA_OPEN && res >= 0)
			pa->seg->fh = res; /* closed with the others */
		log_io_end(log);
		return;
	}
	if (step == PA_OPEN && res == -EINVAL && log->direct) {
		LOG_INFO("lane %u: %s refuses O_DIRECT; writing through the page cache",
			 log->cfg.lane, log->cfg.dir);
		log->direct = false;
		log_pa_step(log, PA_OPEN);
	} else if (step == PA_OPEN && res == -EEXIST) {
		log_pa_step(log, PA_UNLINK_STALE);
	} else if (step == PA_FALLOCATE && (res == -EOPNOTSUPP || res == -EINVAL)) {
		if (!log->zero_buf)
			log->zero_buf = log_alloc_aligned(LOG_ZERO_BUF_BYTES);
		ASSERT_MSG(log->zero_buf, "no memory for zeroing a segment");
		pa->zero_off = LOG_SEG_HEADER_BYTES;
		log_pa_step(log, PA_ZERO);
	} else if (res < 0 && log_pa_error(log, step, res)) {
		/* handled */
	} else {
		switch (step) {
		case PA_OPEN:
			pa->seg->fh = res;
			log_pa_step(log, PA_FALLOCATE);
			break;
		case PA_UNLINK_STALE:
			log_pa_step(log, PA_OPEN);
			break;
		case PA_FALLOCATE:
			pa->zero_off = LOG_SEG_HEADER_BYTES;
			log_pa_step(log, log->cfg.zero_fill ? PA_ZERO : PA_HEADER);
			break;
		case PA_ZERO:
			pa->zero_off += (uint64_t)res;
			log_pa_step(log, pa->zero_off < log->cfg.segment_bytes ? PA_ZERO : PA_HEADER);
			break;
		case PA_HEADER:
			log_pa_step(log, PA_SYNC);
			break;
		case PA_SYNC:
			log_pa_step(log, PA_RENAME);
			break;
		case PA_RENAME:
			log_pa_step(log, PA_DIRSYNC);
			break;
		case PA_DIRSYNC:
			log_pa_ready(log);
			break;
		case PA_NOSPACE_CLOSE:
			pa->seg->fh = -1;
			log_pa_step(log, PA_NOSPACE_UNLINK);
			break;
		case PA_NOSPACE_UNLINK:
			pa->state = LOG_PA_NOSPACE;
			pa->retry_at_ns = log->disk->ops->now_ns(log->disk) +
					  (uint64_t)log->cfg.nospace_retry_ms * 1000000ull;
			log_recover_report_if_ready(log);
			break;
		}
	}
	log_io_end(log);
}

static void log_pa_step(struct log *log, int step)
{
	struct log_prealloc *pa = &log->pa;
	const struct log_disk_ops *ops = log->disk->ops;
	struct log_seg *seg = pa->seg;
	pa->step = step;
	pa->io.cb = log_pa_done;
	log_io_begin(log);
	switch (step) {
	case PA_OPEN:
		ops->open(log->disk, &pa->io, pa->tmp,
			  LOG_DISK_O_CREATE | (log->direct ? LOG_DISK_O_DIRECT : 0));
		break;
	case PA_UNLINK_STALE:
	case PA_NOSPACE_UNLINK:
		ops->unlink(log->disk, &pa->io, pa->tmp);
		break;
	case PA_FALLOCATE:
		ops->fallocate(log->disk, &pa->io, seg->fh, 0, log->cfg.segment_bytes);
		break;
	case PA_ZERO:
		ops->write(log->disk, &pa->io, seg->fh, log->zero_buf,
			   MIN((uint64_t)LOG_ZERO_BUF_BYTES, log->cfg.segment_bytes - pa->zero_off),
			   pa->zero_off, 0);
		break;
	case PA_HEADER:
		log_seg_header_encode(log, seg->seq, pa->block);
		ops->write(log->disk, &pa->io, seg->fh, pa->block, LOG_SEG_HEADER_BYTES, 0, 0);
		break;
	case PA_SYNC:
		ops->sync(log->disk, &pa->io, seg->fh, 0);
		break;
	case PA_RENAME:
		ops->rename(log->disk, &pa->io, pa->tmp, seg->path);
		break;
	case PA_DIRSYNC:
		ops->sync(log->disk, &pa->io, log->dir_fh, 0);
		break;
	case PA_NOSPACE_CLOSE:
		ops->close(log->disk, &pa->io, seg->fh);
		break;
	default:
		PANIC("bad preallocation step %d", step);
	}
}

/* Starts preparing the next segment unless one is ready or on its way. */
void log_prealloc_start(struct log *log)
{
	struct log_prealloc *pa = &log->pa;
	if (pa->state == LOG_PA_BUSY || pa->state == LOG_PA_READY)
		return;
	if (pa->seg)
		log_seg_free(pa->seg);
	pa->seg = log_seg_new(log, log->next_seq++);
	log_seg_path(log, pa->seg->seq, true, pa->tmp, sizeof(pa->tmp));
	pa->state = LOG_PA_BUSY;
	log_pa_step(log, PA_OPEN);
}

/* After ENOSPC: try again if the retry interval has passed (or space was just freed). */
void log_prealloc_retry(struct log *log)
{
	struct log_prealloc *pa = &log->pa;
	if (pa->state != LOG_PA_NOSPACE)
		return;
	pa->retry_at_ns = 0;
	log_prealloc_start(log);
}

/* ---- Moving to a new segment ---- */

/* Asks for the next records to go to a new segment that starts with a BASE (or RESET)
 * record naming (index, epoch) as the entry before it. The open buffer must be sealed. */
void log_switch_request(struct log *log, uint8_t kind, uint64_t index, uint64_t epoch)
{
	ASSERT(log->open_wb == NULL);
	/* Dead segments wait for the new BASE to be durable, not for an older one. */
	if (!list_empty(&log->dead))
		log->dead_clear_pos = UINT64_MAX;
	log->switch_pending = true;
	log->switch_kind = kind;
	log->switch_index = index;
	log->switch_epoch = epoch;
	log_switch_try(log);
}

/* Moves to the prepared segment if there is one; returns whether the log is on it. */
bool log_switch_try(struct log *log)
{
	struct log_prealloc *pa = &log->pa;
	if (!log->switch_pending)
		return true;
	if (pa->state != LOG_PA_READY)
		return false;
	struct log_seg *seg = pa->seg;
	pa->seg = NULL;
	pa->state = LOG_PA_IDLE;
	seg->base_index = log->switch_index;
	seg->base_epoch = log->switch_epoch;
	seg->last_index = log->switch_index;
	list_push_back(&log->segs, &seg->node);
	log->cur = seg;
	log->cur_needs_base = true;
	log->cur_base_kind = log->switch_kind;
	log->switch_pending = false;
	if (log->switch_kind != LOG_RECORD_BASE || !list_empty(&log->dead))
		log->dead_clear_pos = log_pos_make(seg->seq,
						    LOG_SEG_DATA_OFF + log_record_bytes(0));
	log_prealloc_start(log);
	return true;
}
