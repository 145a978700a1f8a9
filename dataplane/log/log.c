/* The log object: configuration, lifetime (open, close, destroy), the fail-stop path, the
 * epoch of every index, and the figures for INFO persistence. */
#define LOG_COMPONENT "log"
#include "log/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/panic.h"

void *log_alloc_aligned(size_t bytes)
{
	void *p = NULL;
	if (posix_memalign(&p, LOG_BLOCK_BYTES, ALIGN_UP(bytes, (size_t)LOG_BLOCK_BYTES)) != 0)
		return NULL;
	memset(p, 0, ALIGN_UP(bytes, (size_t)LOG_BLOCK_BYTES));
	return p;
}

static int log_config_fill(struct log_config *c, const struct log_config *in)
{
	*c = *in;
	if (!c->segment_bytes)
		c->segment_bytes = LOG_SEGMENT_BYTES_DEFAULT;
	if (!c->entry_bytes_max)
		c->entry_bytes_max = LOG_ENTRY_BYTES_DEFAULT;
	if (!c->write_buf_bytes)
		c->write_buf_bytes = LOG_WRITE_BUF_BYTES_DEFAULT;
	if (!c->read_bytes_max)
		c->read_bytes_max = LOG_READ_BYTES_DEFAULT;
	if (c->sync_mode == LOG_SYNC_DEFAULT)
		c->sync_mode = LOG_SYNC_FDATASYNC;
	if (!c->nospace_retry_ms)
		c->nospace_retry_ms = LOG_NOSPACE_RETRY_MS_DEFAULT;
	if (!c->snapshot_log_bytes)
		c->snapshot_log_bytes = LOG_SNAPSHOT_LOG_BYTES_DEFAULT;
	if (!c->snapshot_interval_ms)
		c->snapshot_interval_ms = LOG_SNAPSHOT_INTERVAL_MS_DEFAULT;
	uint64_t rec_max = log_record_bytes(c->entry_bytes_max);
	if (!c->dir || strlen(c->dir) + 32 >= LOG_PATH_MAX)
		return -ENAMETOOLONG;
	if (c->entry_bytes_max > LOG_RECORD_BODY_BYTES_MAX)
		return -EINVAL;
	if (c->segment_bytes % LOG_BLOCK_BYTES || c->segment_bytes > LOG_SEGMENT_BYTES_MAX ||
	    c->segment_bytes < LOG_SEG_DATA_OFF + 2 * rec_max + LOG_BLOCK_BYTES)
		return -EINVAL;
	if (c->write_buf_bytes % LOG_BLOCK_BYTES ||
	    c->write_buf_bytes < rec_max + 2 * LOG_BLOCK_BYTES)
		return -EINVAL;
	return 0;
}

static int log_buffers_alloc(struct log *log)
{
	for (int i = 0; i < LOG_WBUFS; i++) {
		log->wb[i].log = log;
		log->wb[i].data = log_alloc_aligned(log->cfg.write_buf_bytes);
		if (!log->wb[i].data)
			return -ENOMEM;
	}
	for (int i = 0; i < LOG_FLUSHES_MAX; i++)
		log->fl[i].log = log;
	log->pa.block = log_alloc_aligned(LOG_BLOCK_BYTES);
	log->tail = log_alloc_aligned(LOG_BLOCK_BYTES);
	if (!log->pa.block || !log->tail)
		return -ENOMEM;
	if (log->cfg.zero_fill) {
		log->zero_buf = log_alloc_aligned(LOG_ZERO_BUF_BYTES);
		if (!log->zero_buf)
			return -ENOMEM;
	}
	return log_read_slots_init(log);
}

struct log *log_open(const struct log_config *cfg, struct log_disk *disk,
		     const struct log_callbacks *cbs, log_open_cb done, void *arg)
{
	ASSERT(cfg && disk && cbs && done);
	struct log *log = calloc(1, sizeof(*log));
	if (!log) {
		LOG_ERROR("no memory for a log");
		return NULL;
	}
	int err = log_config_fill(&log->cfg, cfg);
	if (err) {
		LOG_ERROR("bad log configuration dir=%s: %s", cfg->dir ? cfg->dir : "(none)",
			  strerror(-err));
		free(log);
		return NULL;
	}
	log->disk = disk;
	log->cbs = *cbs;
	log->open_cb = done;
	log->open_arg = arg;
	log->state = LOG_OPENING;
	log->direct = !log->cfg.buffered;
	log->dir_fh = -1;
	log->next_seq = 1;
	list_init(&log->segs);
	list_init(&log->dead);
	list_init(&log->doomq);
	list_init(&log->retired);
	if (log_buffers_alloc(log) != 0) {
		LOG_ERROR("no memory for the log's buffers dir=%s", log->cfg.dir);
		log_destroy(log);
		return NULL;
	}
	log_recover_start(log);
	return log;
}

static void log_segs_free(struct list_node *head)
{
	struct list_node *n, *tmp;
	list_for_each_safe(n, tmp, head) {
		list_unlink(n);
		log_seg_free(list_entry(n, struct log_seg, node));
	}
}

void log_destroy(struct log *log)
{
	if (!log)
		return;
	log_recover_free(log);
	log_snap_free(log);
	log_segs_free(&log->segs);
	log_segs_free(&log->dead);
	log_segs_free(&log->doomq);
	if (log->deleting)
		log_seg_free(log->deleting);
	if (log->pa.seg)
		log_seg_free(log->pa.seg);
	for (int i = 0; i < LOG_WBUFS; i++)
		free(log->wb[i].data);
	free(log->pa.block);
	free(log->tail);
	free(log->zero_buf);
	log_read_slots_free(log);
	free(log->failed_rep);
	free(log->runs);
	free(log);
}

static void log_close_files(struct log *log);

static void log_open_failed_closed(void *arg)
{
	struct log *log = arg;
	struct log_recovery rep = *log->failed_rep;
	free(log->failed_rep);
	log->failed_rep = NULL;
	log->failed_open_cb(log->open_arg, log, log->fatal_err, &rep);
}

/* The open failed: close what it opened, then report with what recovery found. */
static void log_open_failed(struct log *log)
{
	log->failed_rep = calloc(1, sizeof(*log->failed_rep));
	ASSERT_MSG(log->failed_rep, "no memory");
	struct log_recovery *rep = log_recover_report(log);
	if (rep)
		*log->failed_rep = *rep;
	log->failed_open_cb = log->open_cb;
	log->open_cb = NULL;
	log->close_requested = true;
	log->close_cb = log_open_failed_closed;
	log->close_arg = log;
	if (log->ios == 0)
		log_close_files(log);
}

void log_fail(struct log *log, int err, const char *fmt, ...)
{
	ASSERT(err < 0);
	if (log->state == LOG_FAILED)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(log->fatal_msg, sizeof(log->fatal_msg), fmt, ap);
	va_end(ap);
	LOG_ERROR("lane %u log stopped: %s (%s)", log->cfg.lane, log->fatal_msg, strerror(-err));
	log->state = LOG_FAILED;
	log->fatal_err = err;
	if (log->open_cb)
		log_open_failed(log);
	else if (log->cbs.fatal)
		log->cbs.fatal(log->cbs.ctx, err, log->fatal_msg);
}

bool log_usable(const struct log *log)
{
	return log->state == LOG_READY;
}

/* Writes and flushes already asked for go on while the log closes. */
bool log_running(const struct log *log)
{
	return log->state == LOG_READY || log->state == LOG_CLOSING;
}

/* ---- I/O accounting and closing ---- */

void log_io_begin(struct log *log)
{
	log->ios++;
}

void log_close_count(struct log *log)
{
	ASSERT(log->closes > 0);
	if (--log->closes == 0) {
		log->state = LOG_CLOSED;
		if (log->close_cb)
			log->close_cb(log->close_arg);
	}
}

static void log_close_seg_done(struct log_disk_io *io, int res)
{
	(void)res;
	log_close_count(container_of(io, struct log_seg, io)->log);
}

static void log_close_dir_done(struct log_disk_io *io, int res)
{
	(void)res;
	log_close_count(container_of(io, struct log, dir_io));
}

static void log_close_snap_done(struct log_disk_io *io, int res)
{
	(void)res;
	log_close_count(container_of(io, struct log_snapfile, io)->log);
}

static void log_close_snapfile(struct log *log, struct log_snapfile *sf)
{
	if (!sf || sf->fh < 0)
		return;
	sf->io.cb = log_close_snap_done;
	log->closes++;
	log->disk->ops->close(log->disk, &sf->io, sf->fh);
	sf->fh = -1;
}

static void log_close_seg(struct log *log, struct log_seg *seg)
{
	if (!seg || seg->fh < 0)
		return;
	seg->io.cb = log_close_seg_done;
	log->closes++;
	log->disk->ops->close(log->disk, &seg->io, seg->fh);
	seg->fh = -1;
}

/* Nothing is in flight any more: every owner's io is idle and serves for its close. */
static void log_close_files(struct log *log)
{
	struct list_node *heads[3] = { &log->segs, &log->dead, &log->doomq };
	struct list_node *n;
	log->files_closing = true;
	log->closes = 1;
	for (int h = 0; h < 3; h++)
		list_for_each(n, heads[h])
			log_close_seg(log, list_entry(n, struct log_seg, node));
	log_close_seg(log, log->pa.seg);
	log_recover_close_orphans(log);
	log_close_snapfile(log, log->snap);
	if (log->dir_fh >= 0) {
		log->dir_io.cb = log_close_dir_done;
		log->closes++;
		log->disk->ops->close(log->disk, &log->dir_io, log->dir_fh);
		log->dir_fh = -1;
	}
	log_close_count(log);
}

void log_io_end(struct log *log)
{
	ASSERT(log->ios > 0);
	if (--log->ios == 0 && log->close_requested && !log->files_closing)
		log_close_files(log);
}

void log_close(struct log *log, void (*done)(void *arg), void *arg)
{
	if (log->state == LOG_CLOSED && log->files_closing) {
		done(arg); /* a failed open closed it already */
		return;
	}
	ASSERT(!log->close_requested);
	log->close_requested = true;
	log->close_cb = done;
	log->close_arg = arg;
	log->open_cb = NULL; /* closed while opening: the open is not reported */
	if (log->state == LOG_READY) {
		/* What was appended is written and flushed before the files close. */
		log->flush_wanted = true;
		log_write_kick(log);
	}
	if (log->state != LOG_FAILED)
		log->state = LOG_CLOSING;
	if (log->ios == 0)
		log_close_files(log);
}

/* ---- Epochs: runs of equal epoch, so any index's epoch is one binary search away ---- */

void log_runs_note(struct log *log, uint64_t index, uint64_t epoch)
{
	if (log->run_count && log->runs[log->run_count - 1].epoch == epoch)
		return;
	ASSERT(!log->run_count || log->runs[log->run_count - 1].epoch < epoch);
	if (log->run_count == log->run_cap) {
		uint32_t cap = log->run_cap ? log->run_cap * 2 : 16;
		struct log_erun *r = realloc(log->runs, cap * sizeof(*r));
		ASSERT_MSG(r, "no memory for the log's epoch table");
		log->runs = r;
		log->run_cap = cap;
	}
	log->runs[log->run_count++] = (struct log_erun){ .first_index = index, .epoch = epoch };
}

void log_runs_cut(struct log *log, uint64_t last_kept)
{
	while (log->run_count && log->runs[log->run_count - 1].first_index > last_kept)
		log->run_count--;
}

void log_runs_reset(struct log *log)
{
	log->run_count = 0;
}

int log_epoch_at(const struct log *log, uint64_t index, uint64_t *epoch)
{
	if (index == log->base_index) {
		*epoch = log->base_epoch;
		return 0;
	}
	if (index < log->base_index || index > log->last_index || log->run_count == 0)
		return -ENOENT;
	uint32_t lo = 0, hi = log->run_count;
	while (hi - lo > 1) {
		uint32_t mid = (lo + hi) / 2;
		if (log->runs[mid].first_index <= index)
			lo = mid;
		else
			hi = mid;
	}
	ASSERT(log->runs[lo].first_index <= index);
	*epoch = log->runs[lo].epoch;
	return 0;
}

void log_durable_set(struct log *log, uint64_t index)
{
	if (index == log->durable_index)
		return;
	log->durable_index = index;
	if (log->cbs.durable && log_running(log) && !log->open_cb)
		log->cbs.durable(log->cbs.ctx, index);
}

/* ---- State ---- */

uint64_t log_first_index(const struct log *log)
{
	return log->base_index + 1;
}

uint64_t log_last_index(const struct log *log)
{
	return log->last_index;
}

uint64_t log_last_epoch(const struct log *log)
{
	return log->last_epoch;
}

uint64_t log_durable_index(const struct log *log)
{
	return log->durable_index;
}

static uint64_t log_hist_percentile(const struct log *log, unsigned pct)
{
	uint64_t total = log->st.flushes, seen = 0;
	if (!total)
		return 0;
	uint64_t want = (total * pct + 99) / 100;
	for (unsigned b = 0; b < 64; b++) {
		seen += log->st.flush_hist[b];
		if (seen >= want)
			return b ? (1ull << b) : 1; /* the bucket's upper bound */
	}
	return log->st.flush_ns_max;
}

void log_stats_get(const struct log *log, struct log_stats *o)
{
	memset(o, 0, sizeof(*o));
	o->first_index = log_first_index(log);
	o->last_index = log->last_index;
	o->durable_index = log->durable_index;
	o->log_bytes = log_seg_live_bytes(log);
	o->segments = log_seg_live_count(log);
	if (log->snap) {
		o->snapshot_index = log->snap->info.index;
		o->snapshot_bytes = log->snap->info.bytes;
		o->snapshot_wall_ms = log->snap->info.wall_ms;
	}
	o->appends = log->st.appends;
	o->append_bytes = log->st.append_bytes;
	o->writes = log->st.writes;
	o->write_bytes = log->st.write_bytes;
	o->flushes = log->st.flushes;
	o->flush_ns_avg = log->st.flushes ? log->st.flush_ns_sum / log->st.flushes : 0;
	o->flush_ns_max = log->st.flush_ns_max;
	o->flush_ns_p50 = MIN(log_hist_percentile(log, 50), o->flush_ns_max);
	o->flush_ns_p99 = MIN(log_hist_percentile(log, 99), o->flush_ns_max);
	o->nospace_refusals = log->st.nospace_refusals;
	o->direct_io = log->direct;
	o->nospace = log->pa.state == LOG_PA_NOSPACE;
	o->failed = log->state == LOG_FAILED;
}
