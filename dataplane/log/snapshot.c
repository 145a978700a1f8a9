/* Snapshot files: a lane's state as a checksummed byte stream beside its log.
 *
 *   header  64 bytes: "SPNDLSNP", format version, lane, epoch, index, wall time, chunk size,
 *           CRC32C
 *   chunks  [u32 len][u32 CRC32C of (chunk number, data)] data; every chunk but the last
 *           holds LOG_SNAP_CHUNK_BYTES, so a stream offset maps straight to a file offset
 *   trailer 32 bytes: "SPNDLEND", stream bytes, chunk count, CRC32C
 *
 * A snapshot is written as snap-<index>.tmp with asynchronous writes, at most one chunk
 * produced per loop turn (two buffers: one filling while the other is written), then synced,
 * renamed to snap-<index>.snap and the directory synced. Only then does it replace the
 * previous snapshot, and the segments wholly before it are deleted. A follower installs a
 * snapshot from the primary through the same writer, fed chunk by chunk. */
#define LOG_COMPONENT "log"
#include "log/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/crc.h"
#include "base/log.h"
#include "base/panic.h"

#define LOG_SNAP_MAGIC "SPNDLSNP"
#define LOG_SNAP_END_MAGIC "SPNDLEND"
#define LOG_SNAP_SLOT_BYTES (LOG_SNAP_CHUNK_HEADER_BYTES + LOG_SNAP_CHUNK_BYTES)

STATIC_ASSERT(LOG_SNAP_READ_BUF_BYTES == LOG_SNAP_SLOT_BYTES, "a read holds one chunk");

enum log_sw_step {
	SW_OPEN, SW_UNLINK_STALE, SW_HEADER, SW_TRAILER, SW_SYNC, SW_RENAME, SW_DIRSYNC,
	SW_ABORT_CLOSE, SW_ABORT_UNLINK,
};

enum log_sw_buf { SWB_FREE, SWB_FILLING, SWB_FULL, SWB_WRITING };

struct log_snapw_buf {
	struct log_snapw *w;
	uint8_t *data;               /* chunk header, then the chunk */
	enum log_sw_buf state;
	uint32_t fill;
	uint64_t chunk_no;
	uint64_t file_off;
	struct log_disk_io io;
};

struct log_snapw {
	struct log *log;
	bool install;
	int step;
	bool step_busy;              /* w->io is in flight */
	bool header_done;            /* chunks may be written */
	bool input_done;             /* the source ended, or install_finish was called */
	bool trailer_started;
	bool aborting;
	bool abandoned;              /* install_abort: nobody waits for the outcome */
	int err;
	int fh;
	uint64_t epoch, index;
	int64_t wall_ms;
	uint64_t start_ns;
	uint64_t data_bytes;         /* stream bytes taken */
	uint64_t chunks;             /* chunks sealed */
	uint64_t file_off;           /* where the next sealed chunk goes */
	uint32_t writes;             /* chunk writes in flight */
	struct log_snapw_buf b[2];
	int cur;
	log_snap_source_fn src;
	void *src_arg;
	log_snap_done_cb done;
	void *done_arg;
	uint8_t meta[LOG_SNAP_HEADER_BYTES];
	struct log_disk_io io;
	char tmp[LOG_PATH_MAX];
	char path[LOG_PATH_MAX];
};

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t log_snap_file_bytes(uint64_t data_bytes)
{
	uint64_t chunks = (data_bytes + LOG_SNAP_CHUNK_BYTES - 1) / LOG_SNAP_CHUNK_BYTES;
	return LOG_SNAP_HEADER_BYTES + chunks * LOG_SNAP_CHUNK_HEADER_BYTES + data_bytes +
	       LOG_SNAP_TRAILER_BYTES;
}

static uint32_t log_snap_chunk_crc(uint64_t chunk_no, const uint8_t *data, uint32_t len)
{
	uint8_t no[8];
	put_le(no, chunk_no, 8);
	return crc32c_extend(crc32c(no, 8), data, len);
}

static void log_snap_header_encode(const struct log *log, const struct log_snapw *w,
				   uint8_t *p)
{
	memset(p, 0, LOG_SNAP_HEADER_BYTES);
	memcpy(p, LOG_SNAP_MAGIC, 8);
	put_le(p + 8, LOG_FORMAT_VERSION, 4);
	put_le(p + 12, log->cfg.lane, 4);
	put_le(p + 16, w->epoch, 8);
	put_le(p + 24, w->index, 8);
	put_le(p + 32, (uint64_t)w->wall_ms, 8);
	put_le(p + 40, LOG_SNAP_CHUNK_BYTES, 4);
	put_le(p + 60, crc32c(p, 60), 4);
}

static void log_snap_trailer_encode(const struct log_snapw *w, uint8_t *p)
{
	memset(p, 0, LOG_SNAP_TRAILER_BYTES);
	memcpy(p, LOG_SNAP_END_MAGIC, 8);
	put_le(p + 8, w->data_bytes, 8);
	put_le(p + 16, w->chunks, 8);
	put_le(p + 28, crc32c(p, 28), 4);
}

/* Checks a snapshot's header and trailer against each other and the file's size. */
int log_snap_header_check(const struct log *log, const uint8_t *hdr, uint64_t file_bytes,
			  const uint8_t *tr, struct log_snapshot_info *info, char *why,
			  size_t why_cap)
{
	if (memcmp(hdr, LOG_SNAP_MAGIC, 8) != 0 || get_le(hdr + 60, 4) != crc32c(hdr, 60)) {
		snprintf(why, why_cap, "snapshot header is damaged");
		return -EBADMSG;
	}
	if (get_le(hdr + 8, 4) != LOG_FORMAT_VERSION || get_le(hdr + 12, 4) != log->cfg.lane ||
	    get_le(hdr + 40, 4) != LOG_SNAP_CHUNK_BYTES) {
		snprintf(why, why_cap, "snapshot is of format %u lane %u chunk %u, expected "
			 "format %u lane %u chunk %u", (unsigned)get_le(hdr + 8, 4),
			 (unsigned)get_le(hdr + 12, 4), (unsigned)get_le(hdr + 40, 4),
			 LOG_FORMAT_VERSION, log->cfg.lane, LOG_SNAP_CHUNK_BYTES);
		return -EPROTO;
	}
	if (memcmp(tr, LOG_SNAP_END_MAGIC, 8) != 0 || get_le(tr + 28, 4) != crc32c(tr, 28)) {
		snprintf(why, why_cap, "snapshot trailer is damaged");
		return -EBADMSG;
	}
	uint64_t data = get_le(tr + 8, 8);
	uint64_t chunks = (data + LOG_SNAP_CHUNK_BYTES - 1) / LOG_SNAP_CHUNK_BYTES;
	if (get_le(tr + 16, 8) != chunks || log_snap_file_bytes(data) != file_bytes) {
		snprintf(why, why_cap, "snapshot of %" PRIu64 " bytes does not fill its file of %"
			 PRIu64 " bytes", data, file_bytes);
		return -EBADMSG;
	}
	info->epoch = get_le(hdr + 16, 8);
	info->index = get_le(hdr + 24, 8);
	info->wall_ms = (int64_t)get_le(hdr + 32, 8);
	info->bytes = data;
	return 0;
}

/* ---- The current snapshot file ---- */

static void log_snapfile_closed(struct log_disk_io *io, int res)
{
	struct log_snapfile *sf = container_of(io, struct log_snapfile, io);
	struct log *log = sf->log;
	(void)res;
	list_unlink(&sf->node);
	free(sf);
	log_io_end(log);
}

static void log_snapfile_unlinked(struct log_disk_io *io, int res)
{
	struct log_snapfile *sf = container_of(io, struct log_snapfile, io);
	if (res < 0 && res != -ENOENT)
		log_fail(sf->log, res, "cannot delete snapshot %s", sf->path);
	sf->io.cb = log_snapfile_closed;
	sf->log->disk->ops->close(sf->log->disk, &sf->io, sf->fh);
}

void log_snapfile_put(struct log_snapfile *sf)
{
	ASSERT(sf->refs > 0);
	if (--sf->refs == 0 && sf->retired) {
		log_io_begin(sf->log);
		sf->io.cb = log_snapfile_unlinked;
		sf->log->disk->ops->unlink(sf->log->disk, &sf->io, sf->path);
	}
}

/* Drops the log's own reference: deleted once the reads in flight are done. */
static void log_snapfile_retire(struct log_snapfile *sf)
{
	sf->retired = true;
	list_push_back(&sf->log->retired, &sf->node);
	log_snapfile_put(sf);
}

void log_snap_free(struct log *log)
{
	if (log->snapw) {
		for (int i = 0; i < 2; i++)
			free(log->snapw->b[i].data);
		free(log->snapw);
		log->snapw = NULL;
	}
	free(log->snap);
	log->snap = NULL;
	while (!list_empty(&log->retired))
		free(list_entry(list_pop_front(&log->retired), struct log_snapfile, node));
}

/* ---- Writing ---- */

static void log_sw_step(struct log_snapw *w, int step);
static void log_sw_pump(struct log_snapw *w);

static void log_sw_finish(struct log_snapw *w, int err)
{
	struct log *log = w->log;
	struct log_snapshot_info info = {
		.epoch = w->epoch, .index = w->index, .bytes = w->data_bytes,
		.wall_ms = w->wall_ms,
		.duration_ns = log->disk->ops->now_ns(log->disk) - w->start_ns,
	};
	log_snap_done_cb done = w->done;
	void *arg = w->done_arg;
	log->snapw = NULL;
	for (int i = 0; i < 2; i++)
		free(w->b[i].data);
	free(w);
	if (done)
		done(arg, err, &info);
}

static struct log_snapw *log_sw_new(struct log *log, bool install, uint64_t epoch,
				    uint64_t index)
{
	struct log_snapw *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	for (int i = 0; i < 2; i++) {
		w->b[i].w = w;
		w->b[i].data = malloc(LOG_SNAP_SLOT_BYTES);
		if (!w->b[i].data) {
			free(w->b[0].data);
			free(w);
			return NULL;
		}
	}
	w->log = log;
	w->install = install;
	w->epoch = epoch;
	w->index = index;
	w->fh = -1;
	w->wall_ms = time_wall_ms();
	w->start_ns = log->disk->ops->now_ns(log->disk);
	w->file_off = LOG_SNAP_HEADER_BYTES;
	w->b[0].state = SWB_FILLING;
	snprintf(w->tmp, sizeof(w->tmp), "%s/snap-%016" PRIx64 ".tmp", log->cfg.dir, index);
	snprintf(w->path, sizeof(w->path), "%s/snap-%016" PRIx64 ".snap", log->cfg.dir, index);
	log->snapw = w;
	log_sw_step(w, SW_OPEN);
	return w;
}

/* Something went wrong: ENOSPC abandons the snapshot (nothing durable was touched); any
 * other disk error stops the log. */
static void log_sw_error(struct log_snapw *w, int err, const char *what)
{
	if (!w->err)
		w->err = err;
	if (err != -ENOSPC)
		log_fail(w->log, err, "snapshot %s: %s failed", w->tmp, what);
	w->aborting = true;
}

static void log_sw_chunk_done(struct log_disk_io *io, int res)
{
	struct log_snapw_buf *b = container_of(io, struct log_snapw_buf, io);
	struct log_snapw *w = b->w;
	struct log *log = w->log;
	w->writes--;
	if (res != (int)(LOG_SNAP_CHUNK_HEADER_BYTES + b->fill))
		log_sw_error(w, res < 0 ? res : -EIO, "chunk write");
	b->state = SWB_FREE;
	b->fill = 0;
	if (w->b[w->cur].state != SWB_FILLING) {
		/* The other buffer is busy: this one takes the next bytes. */
		w->cur = (int)(b - w->b);
		b->state = SWB_FILLING;
	}
	log_sw_pump(w);
	log_io_end(log);
}

static void log_sw_chunk_seal(struct log_snapw *w, struct log_snapw_buf *b)
{
	ASSERT(b->state == SWB_FILLING && b->fill > 0);
	b->chunk_no = w->chunks++;
	b->file_off = w->file_off;
	w->file_off += LOG_SNAP_CHUNK_HEADER_BYTES + b->fill;
	put_le(b->data, b->fill, 4);
	put_le(b->data + 4, log_snap_chunk_crc(b->chunk_no, b->data + 8, b->fill), 4);
	b->state = SWB_FULL;
	w->cur ^= 1;
	if (w->b[w->cur].state == SWB_FREE)
		w->b[w->cur].state = SWB_FILLING;
}

/* Pulls at most one chunk from the source: the bound on a loop turn's work. */
static void log_sw_produce(struct log_snapw *w)
{
	struct log_snapw_buf *b = &w->b[w->cur];
	if (w->install || w->input_done || b->state != SWB_FILLING)
		return;
	while (b->fill < LOG_SNAP_CHUNK_BYTES) {
		ssize_t n = w->src(w->src_arg, b->data + 8 + b->fill,
				   LOG_SNAP_CHUNK_BYTES - b->fill);
		if (n < 0) {
			LOG_WARN("lane %u: snapshot source failed: %s", w->log->cfg.lane,
				 strerror((int)-n));
			w->err = (int)n;
			w->aborting = true;
			return;
		}
		if (n == 0) {
			w->input_done = true;
			break;
		}
		ASSERT((size_t)n <= LOG_SNAP_CHUNK_BYTES - b->fill);
		b->fill += (uint32_t)n;
		w->data_bytes += (uint64_t)n;
	}
	if (b->fill == LOG_SNAP_CHUNK_BYTES || (w->input_done && b->fill > 0))
		log_sw_chunk_seal(w, b);
}

static void log_sw_pump(struct log_snapw *w)
{
	struct log *log = w->log;
	if (w->aborting || !log_usable(log)) {
		w->aborting = true;
		if (w->writes == 0 && !w->step_busy && w->step != SW_ABORT_CLOSE &&
		    w->step != SW_ABORT_UNLINK && w->step != -1)
			log_sw_step(w, w->fh >= 0 ? SW_ABORT_CLOSE : SW_ABORT_UNLINK);
		return;
	}
	if (!w->header_done)
		return;
	log_sw_produce(w);
	if (w->aborting)
		return log_sw_pump(w);
	for (int i = 0; i < 2; i++) {
		struct log_snapw_buf *b = &w->b[i];
		if (b->state != SWB_FULL)
			continue;
		b->state = SWB_WRITING;
		w->writes++;
		b->io.cb = log_sw_chunk_done;
		log_io_begin(log);
		log->disk->ops->write(log->disk, &b->io, w->fh, b->data,
				      LOG_SNAP_CHUNK_HEADER_BYTES + b->fill, b->file_off, 0);
	}
	bool idle = w->writes == 0 && w->b[0].state != SWB_FULL && w->b[1].state != SWB_FULL &&
		    w->b[w->cur].fill == 0;
	if (w->input_done && idle && !w->trailer_started) {
		w->trailer_started = true;
		log_sw_step(w, SW_TRAILER);
	}
}

static void log_sw_installed(struct log_snapw *w);

static void log_sw_done(struct log_disk_io *io, int res)
{
	struct log_snapw *w = container_of(io, struct log_snapw, io);
	struct log *log = w->log;
	int step = w->step;
	w->step_busy = false;
	if (step == SW_OPEN && res >= 0)
		w->fh = res;
	if (w->aborting && step != SW_ABORT_CLOSE && step != SW_ABORT_UNLINK) {
		log_sw_pump(w);
	} else if (step == SW_OPEN && res == -EEXIST) {
		log_sw_step(w, SW_UNLINK_STALE);
	} else if (step == SW_ABORT_CLOSE) {
		w->fh = -1;
		log_sw_step(w, SW_ABORT_UNLINK);
	} else if (step == SW_ABORT_UNLINK) {
		if (w->install && !w->done && !w->abandoned) {
			w->step = -1; /* reported once finish or abort is called */
		} else {
			log_sw_finish(w, w->err ? w->err : -ECANCELED);
		}
	} else if (res < 0 || (step == SW_TRAILER && res != LOG_SNAP_TRAILER_BYTES) ||
		   (step == SW_HEADER && res != LOG_SNAP_HEADER_BYTES)) {
		static const char *const names[] = { "create", "unlink", "header write",
						     "trailer write", "sync", "rename",
						     "directory sync" };
		log_sw_error(w, res < 0 ? res : -EIO, names[step]);
		log_sw_pump(w);
	} else if (step == SW_OPEN) {
		log_sw_step(w, SW_HEADER);
	} else if (step == SW_UNLINK_STALE) {
		log_sw_step(w, SW_OPEN);
	} else if (step == SW_HEADER) {
		w->header_done = true;
		log_sw_pump(w);
	} else if (step == SW_TRAILER) {
		log_sw_step(w, SW_SYNC);
	} else if (step == SW_SYNC) {
		log_sw_step(w, SW_RENAME);
	} else if (step == SW_RENAME) {
		log_sw_step(w, SW_DIRSYNC);
	} else if (step == SW_DIRSYNC) {
		log_sw_installed(w);
	}
	log_io_end(log);
}

static void log_sw_step(struct log_snapw *w, int step)
{
	struct log *log = w->log;
	const struct log_disk_ops *ops = log->disk->ops;
	ASSERT(!w->step_busy);
	w->step = step;
	w->step_busy = true;
	w->io.cb = log_sw_done;
	log_io_begin(log);
	switch (step) {
	case SW_OPEN:
		ops->open(log->disk, &w->io, w->tmp, LOG_DISK_O_CREATE);
		break;
	case SW_UNLINK_STALE:
	case SW_ABORT_UNLINK:
		ops->unlink(log->disk, &w->io, w->tmp);
		break;
	case SW_HEADER:
		log_snap_header_encode(log, w, w->meta);
		ops->write(log->disk, &w->io, w->fh, w->meta, LOG_SNAP_HEADER_BYTES, 0, 0);
		break;
	case SW_TRAILER:
		log_snap_trailer_encode(w, w->meta);
		ops->write(log->disk, &w->io, w->fh, w->meta, LOG_SNAP_TRAILER_BYTES, w->file_off,
			   0);
		break;
	case SW_SYNC:
		ops->sync(log->disk, &w->io, w->fh, 0);
		break;
	case SW_RENAME:
		ops->rename(log->disk, &w->io, w->tmp, w->path);
		break;
	case SW_DIRSYNC:
		ops->sync(log->disk, &w->io, log->dir_fh, 0);
		break;
	case SW_ABORT_CLOSE:
		ops->close(log->disk, &w->io, w->fh);
		break;
	default:
		PANIC("bad snapshot step %d", step);
	}
}

/* Drops the whole log and starts it afresh after (index, epoch): an installed snapshot
 * that the log does not continue. */
static void log_reset(struct log *log, uint64_t index, uint64_t epoch)
{
	struct list_node *n, *tmp;
	list_for_each_safe(n, tmp, &log->segs) {
		list_unlink(n);
		log_seg_dead(log, list_entry(n, struct log_seg, node));
	}
	if (log->open_wb) {
		/* Its entries are void now: the snapshot covers or replaces them. */
		log->open_wb->state = LOG_WBUF_FREE;
		log->open_wb = NULL;
	}
	log_wbuf_clip(log, index);
	log->base_index = log->last_index = index;
	log->base_epoch = log->last_epoch = epoch;
	log_runs_reset(log);
	log_switch_request(log, LOG_RECORD_RESET, index, epoch);
	log->flush_wanted = true;
	log_write_kick(log);
	log_durable_set(log, index);
}

/* The snapshot is durable under its final name: make it the log's. */
static void log_sw_installed(struct log_snapw *w)
{
	struct log *log = w->log;
	struct log_snapfile *sf = calloc(1, sizeof(*sf));
	ASSERT_MSG(sf, "no memory for a snapshot");
	sf->log = log;
	sf->fh = w->fh;
	sf->refs = 1;
	snprintf(sf->path, sizeof(sf->path), "%s", w->path);
	sf->info = (struct log_snapshot_info){ .epoch = w->epoch, .index = w->index,
					       .bytes = w->data_bytes, .wall_ms = w->wall_ms };
	w->fh = -1;
	if (log->snap)
		log_snapfile_retire(log->snap);
	log->snap = sf;
	log->bytes_since_snap = 0;
	log->snap_due_base_ns = log->disk->ops->now_ns(log->disk);
	uint64_t epoch = 0;
	bool continues = log_epoch_at(log, w->index, &epoch) == 0 && epoch == w->epoch;
	if (log_usable(log)) {
		if (continues) {
			log->delete_upto = MAX(log->delete_upto, w->index);
			log_segs_collect(log);
		} else
			log_reset(log, w->index, w->epoch);
	}
	LOG_INFO("lane %u: snapshot at index %" PRIu64 " epoch %" PRIu64 " is durable (%"
		 PRIu64 " bytes)%s", log->cfg.lane, w->index, w->epoch, w->data_bytes,
		 continues ? "" : "; the log restarts after it");
	log_sw_finish(w, 0);
}

int log_snapshot_take(struct log *log, uint64_t index, log_snap_source_fn src, void *src_arg,
		      log_snap_done_cb done, void *arg)
{
	if (log->state != LOG_READY)
		return -EIO;
	if (log->snapw)
		return -EBUSY;
	uint64_t epoch;
	if (index > log->last_index || (log->snap && index <= log->snap->info.index) ||
	    log_epoch_at(log, index, &epoch) != 0)
		return -EINVAL;
	struct log_snapw *w = log_sw_new(log, false, epoch, index);
	if (!w)
		return -ENOMEM;
	w->src = src;
	w->src_arg = src_arg;
	w->done = done;
	w->done_arg = arg;
	return 0;
}

int log_snapshot_install_begin(struct log *log, uint64_t epoch, uint64_t index)
{
	if (log->state != LOG_READY)
		return -EIO;
	if (log->snapw)
		return -EBUSY;
	if (log->snap && index <= log->snap->info.index)
		return -EINVAL;
	return log_sw_new(log, true, epoch, index) ? 0 : -ENOMEM;
}

int log_snapshot_install_write(struct log *log, uint64_t offset, const void *buf, size_t len)
{
	struct log_snapw *w = log->snapw;
	if (log->state != LOG_READY)
		return -EIO;
	if (!w || !w->install || w->input_done || offset != w->data_bytes)
		return -EINVAL;
	if (w->err)
		return w->err;
	struct log_snapw_buf *b = &w->b[w->cur];
	struct log_snapw_buf *o = &w->b[w->cur ^ 1];
	/* A seal moves cur to the other buffer even while that one is still being written; once
	 * its write is done it is free, and it is the next to fill. */
	if (b->state == SWB_FREE) {
		b->state = SWB_FILLING;
		b->fill = 0;
	}
	size_t room = b->state == SWB_FILLING ? LOG_SNAP_CHUNK_BYTES - b->fill : 0;
	if (o->state == SWB_FREE)
		room += LOG_SNAP_CHUNK_BYTES;
	if (len > room)
		return -EAGAIN;
	const uint8_t *p = buf;
	while (len) {
		b = &w->b[w->cur];
		ASSERT(b->state == SWB_FILLING);
		uint32_t n = (uint32_t)MIN(len, (size_t)(LOG_SNAP_CHUNK_BYTES - b->fill));
		memcpy(b->data + 8 + b->fill, p, n);
		b->fill += n;
		p += n;
		len -= n;
		w->data_bytes += n;
		if (b->fill == LOG_SNAP_CHUNK_BYTES)
			log_sw_chunk_seal(w, b);
	}
	log_sw_pump(w);
	return 0;
}

int log_snapshot_install_finish(struct log *log, log_snap_done_cb done, void *arg)
{
	struct log_snapw *w = log->snapw;
	if (!w || !w->install || w->input_done || !done)
		return -EINVAL;
	w->done = done;
	w->done_arg = arg;
	w->input_done = true;
	if (w->step == -1) {
		log_sw_finish(w, w->err);
		return 0;
	}
	struct log_snapw_buf *b = &w->b[w->cur];
	if (b->state == SWB_FILLING && b->fill > 0)
		log_sw_chunk_seal(w, b);
	log_sw_pump(w);
	return 0;
}

void log_snapshot_install_abort(struct log *log)
{
	struct log_snapw *w = log->snapw;
	if (!w || !w->install)
		return;
	w->done = NULL;
	w->abandoned = true;
	if (!w->err)
		w->err = -ECANCELED;
	if (w->step == -1) {
		log_sw_finish(w, w->err);
		return;
	}
	w->aborting = true;
	w->input_done = true;
	log_sw_pump(w);
}

bool log_snapshot_due(const struct log *log)
{
	if (log->state != LOG_READY || log->snapw || log->bytes_since_snap == 0)
		return false;
	if (log->bytes_since_snap >= log->cfg.snapshot_log_bytes)
		return true;
	uint64_t now = log->disk->ops->now_ns(log->disk);
	return now - log->snap_due_base_ns >= (uint64_t)log->cfg.snapshot_interval_ms * 1000000;
}

/* ---- Reading ---- */

static void log_snap_read_done(struct log_disk_io *io, int res)
{
	struct log_snap_read *rd = container_of(io, struct log_snap_read, io);
	struct log_snapfile *sf = rd->file;
	struct log *log = rd->log;
	uint64_t chunk_no = rd->offset / LOG_SNAP_CHUNK_BYTES;
	uint32_t want = (uint32_t)MIN((uint64_t)LOG_SNAP_CHUNK_BYTES, sf->info.bytes - rd->offset);
	int out;
	if (res < 0) {
		out = -EIO;
	} else if ((uint32_t)res != LOG_SNAP_CHUNK_HEADER_BYTES + want ||
		   get_le(rd->buf, 4) != want ||
		   get_le(rd->buf + 4, 4) != log_snap_chunk_crc(chunk_no, rd->buf + 8, want)) {
		LOG_ERROR("lane %u: snapshot %s chunk %" PRIu64 " is damaged", log->cfg.lane,
			  sf->path, chunk_no);
		out = -EBADMSG;
	} else {
		memmove(rd->buf, rd->buf + 8, want);
		out = (int)want;
	}
	log_snapfile_put(sf);
	rd->cb(rd, out);
	log_io_end(log);
}

int log_snapshot_read(struct log *log, struct log_snap_read *rd)
{
	if (log->state != LOG_READY)
		return -EIO;
	struct log_snapfile *sf = log->snap;
	if (!sf || sf->info.index != rd->index)
		return -ESTALE;
	if (rd->offset % LOG_SNAP_CHUNK_BYTES)
		return -EINVAL;
	if (rd->offset >= sf->info.bytes)
		return -ENODATA;
	uint64_t chunk_no = rd->offset / LOG_SNAP_CHUNK_BYTES;
	uint64_t want = MIN((uint64_t)LOG_SNAP_CHUNK_BYTES, sf->info.bytes - rd->offset);
	uint64_t off = LOG_SNAP_HEADER_BYTES + chunk_no * LOG_SNAP_SLOT_BYTES;
	rd->log = log;
	rd->file = sf;
	sf->refs++;
	rd->io.cb = log_snap_read_done;
	log_io_begin(log);
	log->disk->ops->read(log->disk, &rd->io, sf->fh, rd->buf,
			     LOG_SNAP_CHUNK_HEADER_BYTES + want, off);
	return 0;
}
