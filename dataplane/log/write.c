/* The write path: appends go into the open write buffer; a flush seals it and writes it as
 * whole blocks (the partly filled last block is written again, with more, by the next
 * buffer); its completion starts the fdatasync and, while that runs, the next write (never
 * two writes at once: two writes of the same block in flight could land in either order).
 * Flushes complete in any order, but the durable index only moves over the longest prefix
 * of completed ones, so it never counts a write whose predecessor is not durable yet.
 *
 * Group commit falls out of this: appends made while a write is in flight gather in the
 * open buffer and go out together as soon as the pipeline is free. */
#define LOG_COMPONENT "log"
#include "log/internal.h"

#include <errno.h>
#include <string.h>

#include "base/log.h"
#include "base/panic.h"

static struct log_wbuf *log_wbuf_free_get(struct log *log)
{
	for (int i = 0; i < LOG_WBUFS; i++)
		if (log->wb[i].state == LOG_WBUF_FREE)
			return &log->wb[i];
	return NULL;
}

/* Why appends cannot go on while the log waits for a new segment. */
static int log_switch_blocked(struct log *log)
{
	struct log_prealloc *pa = &log->pa;
	if (pa->state == LOG_PA_NOSPACE) {
		if (log->disk->ops->now_ns(log->disk) >= pa->retry_at_ns)
			log_prealloc_start(log);
		return -ENOSPC;
	}
	if (pa->state == LOG_PA_IDLE)
		log_prealloc_start(log);
	return -EAGAIN;
}

void log_tick(struct log *log)
{
	struct log_prealloc *pa = &log->pa;
	if (pa->state == LOG_PA_NOSPACE && log->disk->ops->now_ns(log->disk) >= pa->retry_at_ns)
		log_prealloc_start(log);
}

/* Opens a buffer on cur: with its BASE record when cur is new, else with the partly
 * filled block the previous buffer ended in. */
static int log_wbuf_open(struct log *log)
{
	ASSERT(log->open_wb == NULL && !log->switch_pending);
	struct log_wbuf *wb = log_wbuf_free_get(log);
	if (!wb)
		return -EAGAIN;
	struct log_seg *seg = log->cur;
	wb->seg = seg;
	wb->state = LOG_WBUF_OPEN;
	wb->last_index = log->last_index;
	if (log->cur_needs_base) {
		struct log_record base = {
			.epoch = seg->base_epoch, .index = seg->base_index,
			.durable_pos = log->durable_pos, .kind = log->cur_base_kind,
		};
		ASSERT(seg->end_off == LOG_SEG_DATA_OFF);
		wb->file_off = LOG_SEG_DATA_OFF;
		wb->head = 0;
		wb->len = log_record_encode(wb->data, &base);
		seg->end_off += wb->len;
		log->cur_needs_base = false;
	} else {
		wb->file_off = seg->end_off & ~(LOG_BLOCK_BYTES - 1);
		wb->head = seg->end_off - wb->file_off;
		memcpy(wb->data, log->tail, wb->head);
		wb->len = wb->head;
	}
	log->open_wb = wb;
	return 0;
}

/* Closes the open buffer to appends and queues it for writing (or frees it when it holds
 * nothing new). */
static void log_wbuf_seal(struct log *log)
{
	struct log_wbuf *wb = log->open_wb;
	if (!wb)
		return;
	log->open_wb = NULL;
	if (wb->len == wb->head) {
		wb->state = LOG_WBUF_FREE;
		return;
	}
	uint32_t end = ALIGN_UP(wb->len, LOG_BLOCK_BYTES);
	memset(wb->data + wb->len, 0, end - wb->len);
	uint32_t last_block = wb->len & ~(LOG_BLOCK_BYTES - 1);
	if (last_block != wb->len)
		memcpy(log->tail, wb->data + last_block, LOG_BLOCK_BYTES);
	ASSERT(log->sealed_count < LOG_WBUFS);
	wb->state = LOG_WBUF_SEALED;
	log->sealed[log->sealed_count++] = wb;
}

static bool log_pipeline_free(const struct log *log)
{
	if (log->writing || log->fl_count == LOG_FLUSHES_MAX)
		return false;
	return !log->cfg.serial_flush || log->fl_count == 0;
}

static void log_write_done(struct log_disk_io *io, int res);

static void log_write_submit(struct log *log, struct log_wbuf *wb)
{
	uint32_t bytes = ALIGN_UP(wb->len, LOG_BLOCK_BYTES);
	uint32_t slot = (log->fl_head + log->fl_count++) % LOG_FLUSHES_MAX;
	struct log_flush_op *fl = &log->fl[slot];
	fl->seg = wb->seg;
	fl->end_pos = log_pos_make(wb->seg->seq, wb->file_off + wb->len);
	fl->last_index = wb->last_index;
	fl->start_ns = log->disk->ops->now_ns(log->disk);
	fl->done = false;
	wb->state = LOG_WBUF_WRITING;
	log->writing = wb;
	wb->seg->refs++;
	wb->io.cb = log_write_done;
	log->st.writes++;
	log_io_begin(log);
	log->disk->ops->write(log->disk, &wb->io, wb->seg->fh, wb->data, bytes, wb->file_off,
			      log->cfg.sync_mode == LOG_SYNC_DSYNC ? LOG_DISK_W_DSYNC : 0);
}

/* Writes the next sealed buffer if the pipeline has room; seals the open one first when a
 * flush is waiting for it. */
void log_write_kick(struct log *log)
{
	if (!log_running(log) || !log_pipeline_free(log))
		return;
	if (log->sealed_count == 0 && log->flush_wanted) {
		log->flush_wanted = false;
		log_wbuf_seal(log);
	}
	if (log->sealed_count == 0)
		return;
	struct log_wbuf *wb = log->sealed[0];
	log->sealed[0] = log->sealed[1];
	log->sealed_count--;
	log_write_submit(log, wb);
}

static void log_flush_note(struct log *log, uint64_t ns)
{
	log->st.flushes++;
	log->st.flush_ns_sum += ns;
	log->st.flush_ns_max = MAX(log->st.flush_ns_max, ns);
	unsigned b = ns ? 64u - (unsigned)__builtin_clzll(ns) : 0;
	log->st.flush_hist[MIN(b, 63u)]++;
}

/* Moves the durable position over the completed prefix of the flushes. */
static void log_flush_advance(struct log *log)
{
	uint64_t now = log->disk->ops->now_ns(log->disk);
	uint64_t durable = log->durable_index;
	while (log->fl_count && log->fl[log->fl_head].done) {
		struct log_flush_op *fl = &log->fl[log->fl_head];
		ASSERT(fl->end_pos >= log->durable_pos);
		log->durable_pos = fl->end_pos;
		durable = MAX(durable, fl->last_index);
		log_flush_note(log, now - fl->start_ns);
		log->fl_head = (log->fl_head + 1) % LOG_FLUSHES_MAX;
		log->fl_count--;
	}
	if (log->dead_clear_pos && log->durable_pos >= log->dead_clear_pos) {
		log->dead_clear_pos = 0;
		log_segs_collect(log);
	}
	log_durable_set(log, durable);
}

static void log_sync_done(struct log_disk_io *io, int res)
{
	struct log_flush_op *fl = container_of(io, struct log_flush_op, io);
	struct log *log = fl->log;
	log_seg_put(fl->seg);
	if (log_running(log)) {
		if (res < 0) {
			log_fail(log, res, "flush of %s failed", fl->seg->path);
		} else {
			fl->done = true;
			log_flush_advance(log);
			log_write_kick(log);
		}
	}
	log_io_end(log);
}

static void log_write_done(struct log_disk_io *io, int res)
{
	struct log_wbuf *wb = container_of(io, struct log_wbuf, io);
	struct log *log = wb->log;
	uint32_t bytes = ALIGN_UP(wb->len, LOG_BLOCK_BYTES);
	struct log_flush_op *fl = &log->fl[(log->fl_head + log->fl_count - 1) % LOG_FLUSHES_MAX];
	ASSERT(log->writing == wb && fl->seg == wb->seg);
	log->writing = NULL;
	wb->state = LOG_WBUF_FREE;
	if (!log_running(log) || res != (int)bytes) {
		if (log_running(log))
			log_fail(log, res < 0 ? res : -EIO, "write of %u bytes to %s at %u failed",
				 bytes, wb->seg->path, wb->file_off);
		log_seg_put(wb->seg);
		log_io_end(log);
		return;
	}
	log->st.write_bytes += bytes;
	if (log->cfg.sync_mode == LOG_SYNC_DSYNC) {
		log_seg_put(wb->seg);
		fl->done = true;
		log_flush_advance(log);
	} else {
		fl->io.cb = log_sync_done;
		log_io_begin(log);
		log->disk->ops->sync(log->disk, &fl->io, wb->seg->fh, LOG_DISK_SYNC_DATA);
	}
	log_write_kick(log);
	log_io_end(log);
}

/* Makes sure the open buffer, on a segment with room, can take need more bytes. */
static int log_room(struct log *log, uint32_t need)
{
	if (log->switch_pending && !log_switch_try(log))
		return log_switch_blocked(log);
	if (!log->cur_needs_base && log->cur->end_off + need > log->cfg.segment_bytes) {
		log_wbuf_seal(log);
		log_switch_request(log, LOG_RECORD_BASE, log->last_index, log->last_epoch);
		log_write_kick(log);
		if (log->switch_pending)
			return log_switch_blocked(log);
	}
	if (log->open_wb && log->open_wb->len + need > log->cfg.write_buf_bytes) {
		log_wbuf_seal(log);
		log_write_kick(log);
	}
	if (!log->open_wb) {
		int err = log_wbuf_open(log);
		if (err)
			return err;
	}
	ASSERT(log->open_wb->len + need <= log->cfg.write_buf_bytes);
	return 0;
}

int log_append(struct log *log, const struct log_entry *e)
{
	if (log->state == LOG_FAILED)
		return -EIO;
	ASSERT(log->state == LOG_READY);
	ASSERT_MSG(e->index == log->last_index + 1, "append of index %llu after %llu",
		   (unsigned long long)e->index, (unsigned long long)log->last_index);
	ASSERT(e->epoch >= log->last_epoch);
	if (e->len > log->cfg.entry_bytes_max)
		return -EMSGSIZE;
	uint32_t need = log_record_bytes(e->len);
	int err = log_room(log, need);
	if (err) {
		if (err == -ENOSPC)
			log->st.nospace_refusals++;
		return err;
	}
	struct log_wbuf *wb = log->open_wb;
	struct log_seg *seg = log->cur;
	struct log_record rec = {
		.epoch = e->epoch, .index = e->index, .durable_pos = log->durable_pos,
		.len = e->len, .type = e->type, .kind = LOG_RECORD_ENTRY, .body = e->data,
	};
	ASSERT(seg->end_off == wb->file_off + wb->len);
	log_seg_cp_note(seg, e->index, seg->end_off);
	wb->len += log_record_encode(wb->data + wb->len, &rec);
	seg->end_off += need;
	seg->last_index = e->index;
	wb->last_index = e->index;
	log_runs_note(log, e->index, e->epoch);
	log->last_index = e->index;
	log->last_epoch = e->epoch;
	log->st.appends++;
	log->st.append_bytes += e->len;
	log->bytes_since_snap += need;
	return 0;
}

int log_flush(struct log *log)
{
	if (log->state == LOG_FAILED)
		return -EIO;
	ASSERT(log->state == LOG_READY);
	log->flush_wanted = true;
	log_write_kick(log);
	return 0;
}

/* Entries after last_kept are void: what is still to be written or flushed stops counting
 * them, and the durable index does not go past the cut. */
void log_wbuf_clip(struct log *log, uint64_t last_kept)
{
	for (int i = 0; i < LOG_WBUFS; i++)
		log->wb[i].last_index = MIN(log->wb[i].last_index, last_kept);
	for (int i = 0; i < LOG_FLUSHES_MAX; i++)
		log->fl[i].last_index = MIN(log->fl[i].last_index, last_kept);
	log->trunc_gen++;
	if (log->durable_index > last_kept)
		log_durable_set(log, last_kept);
}

int log_truncate(struct log *log, uint64_t last_kept)
{
	if (log->state == LOG_FAILED)
		return -EIO;
	ASSERT(log->state == LOG_READY);
	ASSERT_MSG(last_kept >= log->base_index, "truncation to %llu below the log's start %llu",
		   (unsigned long long)last_kept, (unsigned long long)log->base_index);
	if (last_kept >= log->last_index)
		return 0;
	uint64_t epoch = 0;
	int err = log_epoch_at(log, last_kept, &epoch);
	ASSERT(err == 0);
	log_wbuf_seal(log);
	log_wbuf_clip(log, last_kept);
	struct list_node *n, *tmp;
	for (n = log->segs.prev, tmp = n->prev; n != &log->segs; n = tmp, tmp = n->prev) {
		struct log_seg *seg = list_entry(n, struct log_seg, node);
		if (seg->base_index < last_kept) {
			seg->last_index = MIN(seg->last_index, last_kept);
			break;
		}
		list_unlink(&seg->node);
		log_seg_dead(log, seg);
	}
	log->last_index = last_kept;
	log->last_epoch = epoch;
	log_runs_cut(log, last_kept);
	log_switch_request(log, LOG_RECORD_BASE, last_kept, epoch);
	log_write_kick(log);
	return 0;
}
