/* Reading durable entries back for catch-up: find the segment, start at the read checkpoint
 * before the wanted index (one every LOG_INDEX_STRIDE_BYTES), read whole blocks in one
 * asynchronous read, and hand out the entries in place. A fixed number of read buffers is
 * allocated at open; a read that finds them all busy is refused with -EBUSY. */
#define LOG_COMPONENT "log"
#include "log/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/panic.h"

int log_read_slots_init(struct log *log)
{
	uint32_t bytes = LOG_INDEX_STRIDE_BYTES + log->cfg.read_bytes_max +
			 log_record_bytes(log->cfg.entry_bytes_max) + 2 * LOG_BLOCK_BYTES;
	log->read_buf_bytes = ALIGN_UP(bytes, LOG_BLOCK_BYTES);
	for (int i = 0; i < LOG_READS_MAX; i++) {
		struct log_read_slot *s = &log->rs[i];
		s->log = log;
		s->cap = log->read_buf_bytes;
		s->buf = log_alloc_aligned(s->cap);
		s->entries = calloc(LOG_READ_ENTRIES_MAX, sizeof(*s->entries));
		if (!s->buf || !s->entries)
			return -ENOMEM;
	}
	return 0;
}

void log_read_slots_free(struct log *log)
{
	for (int i = 0; i < LOG_READS_MAX; i++) {
		free(log->rs[i].buf);
		free(log->rs[i].entries);
	}
}

static struct log_seg *log_seg_holding(struct log *log, uint64_t index)
{
	struct list_node *n;
	list_for_each(n, &log->segs) {
		struct log_seg *seg = list_entry(n, struct log_seg, node);
		if (seg->base_index < index && index <= seg->last_index)
			return seg;
	}
	return NULL;
}

/* Collects the entries from the read's index on, within the budget and the durable index. */
static int log_read_parse(struct log_read_slot *s, uint32_t got, uint32_t *count)
{
	struct log *log = s->log;
	struct log_read *rd = s->rd;
	uint64_t last = MIN(log->durable_index, s->seg->last_index);
	uint64_t payload = 0;
	uint32_t off = s->start;
	*count = 0;
	uint64_t seen = 0;
	while (off < got && *count < LOG_READ_ENTRIES_MAX && seen < last) {
		struct log_record rec;
		uint32_t used = 0;
		enum log_record_status st = log_record_decode(s->buf + off, got - off, &rec, &used);
		if (st == LOG_RECORD_SHORT && *count == 0) {
			/* Written under a larger entry_bytes_max than this log was opened with. */
			LOG_ERROR("lane %u: entry at %s offset %u is larger than the read buffer",
				  log->cfg.lane, s->seg->path, s->file_off + off);
			return -EMSGSIZE;
		}
		if (st == LOG_RECORD_SHORT)
			break;
		if (st != LOG_RECORD_OK || rec.kind != LOG_RECORD_ENTRY) {
			LOG_ERROR("lane %u: %s at %s offset %u while reading index %" PRIu64,
				  log->cfg.lane, log_record_status_name(st), s->seg->path,
				  s->file_off + off, rd->from_index);
			return -EBADMSG;
		}
		if (rec.index > last)
			break;
		seen = rec.index;
		off += used;
		if (rec.index < rd->from_index)
			continue;
		if (*count && payload + rec.len > rd->budget_bytes)
			break;
		payload += rec.len;
		s->entries[(*count)++] = (struct log_entry){
			.epoch = rec.epoch, .index = rec.index, .data = rec.body, .len = rec.len,
			.type = rec.type,
		};
	}
	return *count ? 0 : -EBADMSG;
}

static void log_read_done(struct log_disk_io *io, int res)
{
	struct log_read_slot *s = container_of(io, struct log_read_slot, io);
	struct log *log = s->log;
	struct log_read *rd = s->rd;
	uint32_t count = 0;
	int err = res < 0 ? -EIO : 0;
	log_seg_put(s->seg);
	if (!err && rd->trunc_gen != log->trunc_gen)
		err = -ESTALE;
	if (!err)
		err = log_read_parse(s, (uint32_t)res, &count);
	s->rd = NULL;
	if (log->state == LOG_FAILED)
		err = -EIO;
	rd->cb(rd, err, s->entries, err ? 0 : count);
	log_io_end(log);
}

int log_read(struct log *log, struct log_read *rd)
{
	if (log->state != LOG_READY)
		return -EIO;
	ASSERT(rd->cb);
	if (rd->from_index <= log->base_index)
		return -ENOENT;
	if (rd->from_index > log->durable_index)
		return -ENODATA;
	struct log_seg *seg = log_seg_holding(log, rd->from_index);
	ASSERT(seg && seg->cp_count);
	struct log_read_slot *s = NULL;
	for (int i = 0; i < LOG_READS_MAX && !s; i++)
		if (!log->rs[i].rd)
			s = &log->rs[i];
	if (!s)
		return -EBUSY;
	const struct log_cp *cp = &seg->cp[log_seg_cp_find(seg, rd->from_index)];
	s->rd = rd;
	s->seg = seg;
	s->file_off = cp->off & ~(LOG_BLOCK_BYTES - 1);
	s->start = cp->off - s->file_off;
	uint32_t end = MIN(ALIGN_UP(seg->end_off, LOG_BLOCK_BYTES), s->file_off + s->cap);
	rd->log = log;
	rd->trunc_gen = log->trunc_gen;
	seg->refs++;
	s->io.cb = log_read_done;
	log_io_begin(log);
	log->disk->ops->read(log->disk, &s->io, seg->fh, s->buf, end - s->file_off,
			     s->file_off);
	return 0;
}
