/* A durable lane: its recovery at start (log, metadata, snapshot, then the replication core,
 * which replays the committed entries through apply), and the core's I/O table carried out
 * on the lane's log. Everything runs on the owning loop; every completion reaches the core
 * from a later turn or a disk callback, never inside the call that started the I/O. */
#define LOG_COMPONENT "lane"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/panic.h"
#include "lane/lane_priv.h"

static void store_boot_repl(struct lane *lane);

void lane_fail(struct lane *lane, int err, const char *fmt, ...)
{
	/* Reported once: the first reason is the precise one (a failed log or metadata write
	 * then also stops the core, which reports it again in its own words). */
	if (lane->state == LANE_FAILED)
		return;
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (lane->state == LANE_LOADING)
		atomic_fetch_sub(&lane->set->loading, 1);
	lane->state = LANE_FAILED;
	lane->set->cfg.fatal(lane->set->cfg.fatal_ctx, lane->id, err, why);
}

uint64_t lane_now_ms(void *ctx)
{
	(void)ctx;
	return time_mono_ns() / 1000000;
}

/* ---- The log's callbacks ---- */

static void store_durable(void *ctx, uint64_t durable_index)
{
	struct lane *lane = ctx;
	uint64_t epoch = 0;
	if (lane->repl == NULL || durable_index == 0)
		return;
	if (log_epoch_at(lane->log, durable_index, &epoch) != 0)
		return; /* moved down by a truncation: the core knows */
	repl_append_done(lane->repl, durable_index, epoch, 0);
}

static void store_log_fatal(void *ctx, int err, const char *msg)
{
	struct lane *lane = ctx;
	lane_fail(lane, err, "log: %s", msg);
}

/* ---- Appends and truncations, in order, retried while the log is busy ---- */

static int store_append_one(struct lane *lane, const struct log_entry *e)
{
	int rc = log_append(lane->log, e);
	if (rc == 0)
		lane->flush_needed = true;
	return rc;
}

static void store_queue(struct lane *lane, const struct log_entry *e, bool truncate)
{
	struct lane_append *a = malloc(sizeof(*a) + (truncate ? 0 : e->len));
	ASSERT_MSG(a != NULL, "lane %u: out of memory queueing a log entry", lane->id);
	a->e = *e;
	a->truncate = truncate;
	if (!truncate) {
		memcpy(a->data, e->data, e->len);
		a->e.data = a->data;
	}
	list_push_back(&lane->appends, &a->node);
	lane->appends_count++;
}

static void store_append_error(struct lane *lane, int rc, uint64_t index)
{
	lane_fail(lane, rc, "cannot append entry %llu to the log: %s", (unsigned long long)index,
		  strerror(-rc));
}

/* Offers queued appends to the log again; returns how many it took. */
int lane_store_flush(struct lane *lane)
{
	int n = 0;
	while (!list_empty(&lane->appends) && lane->state != LANE_FAILED) {
		struct lane_append *a = list_entry(lane->appends.next, struct lane_append, node);
		int rc = a->truncate ? log_truncate(lane->log, a->e.index) : store_append_one(lane, &a->e);
		if (rc == -EAGAIN || rc == -ENOSPC)
			break;
		if (rc != 0) {
			store_append_error(lane, rc, a->e.index);
			break;
		}
		list_unlink(&a->node);
		lane->appends_count--;
		free(a);
		n++;
	}
	if (lane->nospace && list_empty(&lane->appends)) {
		LOG_INFO("lane %u: the log has room again: writes resume", lane->id);
		lane->nospace = false;
	}
	return n;
}

/* An installed snapshot replaced the log (the core restarts its log after it): appends and
 * cuts still waiting for room belong to the log it replaced. */
void lane_store_drop_queued(struct lane *lane)
{
	while (!list_empty(&lane->appends)) {
		struct lane_append *a = list_entry(lane->appends.next, struct lane_append, node);
		list_unlink(&a->node);
		lane->appends_count--;
		free(a);
	}
	ASSERT(lane->appends_count == 0);
}

static void io_append(void *ctx, const struct repl_entry *entries, unsigned n)
{
	struct lane *lane = ctx;
	for (unsigned i = 0; i < n; i++) {
		const struct repl_entry *r = &entries[i];
		struct log_entry e = { .epoch = r->epoch, .index = r->index, .data = r->payload,
				       .len = r->len, .type = r->type };
		int rc = list_empty(&lane->appends) ? store_append_one(lane, &e) : -EAGAIN;
		if (rc == -ENOSPC && !lane->nospace) {
			LOG_WARN("lane %u: no space left for the log: refusing writes until there is room",
				 lane->id);
			lane->nospace = true;
		}
		if (rc == -EAGAIN || rc == -ENOSPC)
			store_queue(lane, &e, false);
		else if (rc != 0)
			store_append_error(lane, rc, e.index);
	}
}

static void io_truncate(void *ctx, uint64_t from_index)
{
	struct lane *lane = ctx;
	/* Entries still queued at or after the cut never reach the log. */
	struct list_node *pos, *tmp;
	list_for_each_safe(pos, tmp, &lane->appends) {
		struct lane_append *a = list_entry(pos, struct lane_append, node);
		if (!a->truncate && a->e.index >= from_index) {
			list_unlink(pos);
			lane->appends_count--;
			free(a);
		}
	}
	struct log_entry e = { .index = from_index - 1 };
	if (!list_empty(&lane->appends)) {
		store_queue(lane, &e, true);
		return;
	}
	int rc = log_truncate(lane->log, from_index - 1);
	if (rc == -EAGAIN)
		store_queue(lane, &e, true);
	else if (rc != 0)
		lane_fail(lane, rc, "cannot cut the log after entry %llu: %s",
			  (unsigned long long)(from_index - 1), strerror(-rc));
	else
		lane->flush_needed = true;
}

/* ---- Reads for catch-up and for applying after a restart ---- */

static void store_read_cb(struct log_read *rd, int err, const struct log_entry *entries, uint32_t count)
{
	struct lane_io_read *r = container_of(rd, struct lane_io_read, rd);
	struct lane *lane = r->lane;
	struct repl_entry out[LOG_READ_ENTRIES_MAX];
	uint32_t n = 0;
	for (uint32_t i = 0; i < count && entries[i].index <= r->to_index; i++, n++)
		out[i] = (struct repl_entry){ .epoch = entries[i].epoch, .index = entries[i].index,
					      .payload = entries[i].data, .len = entries[i].len,
					      .type = (uint8_t)entries[i].type };
	r->busy = false;
	if (lane->repl == NULL)
		return; /* the lane stopped */
	if (err == -ESTALE) {
		/* A truncation raced the read: read again. */
		r->queued = true;
		return;
	}
	repl_read_done(lane->repl, r->tag, out, n, err);
}

static void store_read_start(struct lane *lane, struct lane_io_read *r)
{
	r->rd.from_index = r->from_index;
	r->rd.budget_bytes = (uint32_t)MIN(r->max_bytes, (size_t)UINT32_MAX);
	r->rd.cb = store_read_cb;
	int rc = log_read(lane->log, &r->rd);
	if (rc == 0) {
		r->busy = true;
		r->queued = false;
	} else if (rc == -EBUSY || rc == -ENODATA) {
		r->queued = true; /* tried again next turn */
	} else {
		r->queued = true; /* reported next turn */
		r->err = rc;
	}
}

/* Retries reads that found no free buffer, and reports refused ones. */
int lane_store_reads_retry(struct lane *lane)
{
	int n = 0;
	for (unsigned t = 0; t < LANE_READS_MAX; t++) {
		struct lane_io_read *r = &lane->reads_io[t];
		if (!r->queued)
			continue;
		n++;
		if (r->err != 0) {
			int err = r->err == -ESTALE ? -ENOENT : r->err;
			r->queued = false;
			r->err = 0;
			repl_read_done(lane->repl, t, NULL, 0, err);
			continue;
		}
		store_read_start(lane, r);
	}
	return n;
}

static void io_read(void *ctx, unsigned tag, uint64_t from_index, uint64_t to_index, size_t max_bytes)
{
	struct lane *lane = ctx;
	ASSERT(tag < LANE_READS_MAX);
	struct lane_io_read *r = &lane->reads_io[tag];
	ASSERT(!r->busy);
	r->lane = lane;
	r->tag = tag;
	r->from_index = from_index;
	r->to_index = to_index;
	r->max_bytes = max_bytes;
	r->err = 0;
	r->queued = true; /* started at the next turn: never complete inside the core's call */
}

/* ---- Metadata, clock, randomness, notifications ---- */

static void io_meta_save(void *ctx, const struct repl_meta *meta)
{
	struct lane *lane = ctx;
	lane_meta_save(lane->meta, meta);
}

static uint64_t io_random(void *ctx)
{
	struct lane *lane = ctx;
	/* xorshift64*: the core only needs jitter for timers. */
	lane->rng ^= lane->rng >> 12;
	lane->rng ^= lane->rng << 25;
	lane->rng ^= lane->rng >> 27;
	return lane->rng * 0x2545F4914F6CDD1Dull;
}

static void io_role(void *ctx, enum repl_role role, uint64_t epoch, unsigned primary)
{
	struct lane *lane = ctx;
	lane->is_primary = role == REPL_ROLE_PRIMARY;
	if (epoch != lane->epoch) {
		/* Forwarding channels belong to an epoch: what was in flight has an unknown end. */
		lane_fwd_reset(lane);
		lane_fwd_in_reset_all(lane);
	}
	lane->epoch = epoch;
	lane->primary_node = role == REPL_ROLE_PRIMARY ? lane->set->cfg.node_id : primary;
	LOG_INFO("lane %u: %s in epoch %llu (primary %d)", lane->id,
		 role == REPL_ROLE_PRIMARY ? "primary" : "follower", (unsigned long long)epoch,
		 primary == REPL_NODE_NONE ? -1 : (int)primary);
}

static void io_promised(void *ctx, const struct repl_promise *p)
{
	struct lane *lane = ctx;
	LOG_INFO("lane %u: promised epoch %llu (last entry %llu of epoch %llu)", lane->id,
		 (unsigned long long)p->epoch, (unsigned long long)p->last_index,
		 (unsigned long long)p->last_epoch);
	if (lane->set->promised != NULL)
		lane->set->promised(lane->set->promised_ctx, lane->id, p);
}

static void io_fatal(void *ctx, int err, uint64_t index)
{
	struct lane *lane = ctx;
	lane_fail(lane, err, "replication stopped at entry %llu: %s", (unsigned long long)index,
		  strerror(err < 0 ? -err : err));
}


static void store_io(struct lane *lane, struct repl_io *io)
{
	memset(io, 0, sizeof(*io));
	io->ctx = lane;
	io->send = lane_repl_send;
	io->append = io_append;
	io->truncate = io_truncate;
	io->read = io_read;
	io->meta_save = io_meta_save;
	io->now_ms = lane_now_ms;
	io->random = io_random;
	io->apply = lane_apply;
	io->abandon = lane_abandon;
	io->role = io_role;
	io->read_confirmed = lane_read_confirmed;
	io->promised = io_promised;
	io->fatal = io_fatal;
	lane_snap_io_init(io);
}

/* ---- Recovery: log, metadata, snapshot, then the core ---- */

static const struct log_recovery *store_rec(const struct lane *lane)
{
	return &lane->recovery;
}

static void store_snapshot_loaded(struct lane *lane, int err)
{
	if (lane->closed)
		return;
	if (err != 0) {
		lane_fail(lane, err, "cannot load the snapshot at entry %llu: %s",
			  (unsigned long long)store_rec(lane)->snapshot_index, strerror(-err));
		return;
	}
	store_boot_repl(lane);
}

static void store_meta_loaded(struct lane *lane, int err)
{
	if (lane->closed)
		return;
	if (err == -EBADMSG) {
		lane_fail(lane, err, "metadata damaged: neither %s/meta.0 nor %s/meta.1 holds a valid "
			  "record although both were written; the epochs this lane promised are "
			  "lost, so it must be restored from a replica", lane->dir, lane->dir);
		return;
	}
	if (err != 0) {
		lane_fail(lane, err, "cannot read %s/meta.*: %s", lane->dir, strerror(-err));
		return;
	}
	if (store_rec(lane)->snapshot_index > 0)
		lane_snapshot_load(lane, store_snapshot_loaded);
	else
		store_boot_repl(lane);
}

static void store_opened(void *arg, struct log *log, int err, const struct log_recovery *rec)
{
	struct lane *lane = arg;
	lane->log = log;
	if (err == -EBADMSG) {
		lane_fail(lane, err, "corrupt log: %s at offset %llu (entry %llu): %s; the range must be "
			  "repaired from a replica, or the lane's data removed if none exists",
			  rec->corruption.path, (unsigned long long)rec->corruption.offset,
			  (unsigned long long)rec->corruption.index, rec->corruption.reason);
		return;
	}
	if (err != 0) {
		lane_fail(lane, err, "cannot open the log in %s: %s", lane->dir, strerror(-err));
		return;
	}
	lane->recovery = *rec;
	if (rec->tail_cut)
		LOG_WARN("lane %u: cut a torn tail: %llu bytes after %s offset %llu (%llu records, "
			 "entries %llu-%llu, never acknowledged)", lane->id,
			 (unsigned long long)rec->cut.bytes, rec->cut.path, (unsigned long long)rec->cut.offset,
			 (unsigned long long)rec->cut.records, (unsigned long long)rec->cut.first_index,
			 (unsigned long long)rec->cut.last_index);
	lane->meta = lane_meta_create(lane, lane->set->per_loop[loop_id(lane->owner)].disk);
	if (lane->meta == NULL) {
		lane_fail(lane, -ENOMEM, "out of memory");
		return;
	}
	lane_meta_load(lane->meta, store_meta_loaded);
}

static void store_log_config(struct lane *lane, struct log_config *lc)
{
	const struct lane_set_config *c = &lane->set->cfg;
	memset(lc, 0, sizeof(*lc));
	lc->dir = lane->dir;
	lc->lane = lane->id;
	lc->segment_bytes = c->segment_bytes;
	/* A segment holds at least two of the largest records, and a write buffer one: the
	 * largest batch follows from the segment size (3 MiB at most). Untouched buffer memory
	 * costs nothing. */
	uint64_t seg = c->segment_bytes ? c->segment_bytes : LOG_SEGMENT_BYTES_DEFAULT;
	uint64_t entry_max = MIN((uint64_t)REPL_ENTRY_BYTES_MAX, (seg - LANE_SEGMENT_RESERVE_BYTES) / 2);
	lc->entry_bytes_max = (uint32_t)entry_max;
	lc->write_buf_bytes = (uint32_t)ALIGN_UP(entry_max + 64 * 1024, LOG_BLOCK_BYTES);
	lane->batch_bytes_max = (uint32_t)entry_max - LANE_ENTRY_HEADER_BYTES;
	lc->snapshot_log_bytes = c->snapshot_every_bytes;
}

void lane_store_open(struct lane *lane)
{
	if (log_lane_dir(lane->set->cfg.data_dir, lane->id, lane->dir, sizeof(lane->dir)) != 0) {
		lane_fail(lane, -ENAMETOOLONG, "data directory path too long");
		return;
	}
	lane->rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)lane->id << 32) ^ time_mono_ns();
	struct log_config lc;
	store_log_config(lane, &lc);
	struct log_callbacks cbs = { .durable = store_durable, .fatal = store_log_fatal, .ctx = lane };
	struct log_disk *disk = lane->set->per_loop[loop_id(lane->owner)].disk;
	/* Known from the start, so that a lane stopped while it recovers closes the log. */
	lane->log = log_open(&lc, disk, &cbs, store_opened, lane);
	if (lane->log == NULL)
		lane_fail(lane, -EINVAL, "bad log configuration for %s", lane->dir);
}

/* The epoch runs of the entries after the snapshot, from the log's own index. */
static int store_runs(struct lane *lane, struct repl_epoch_run **out, unsigned *n_out)
{
	uint64_t first = lane->recovery.snapshot_index + 1, last = log_last_index(lane->log);
	unsigned cap = 16, n = 0;
	struct repl_epoch_run *runs = malloc(cap * sizeof(*runs));
	if (runs == NULL)
		return -ENOMEM;
	uint64_t prev = 0;
	for (uint64_t i = first; i <= last; i++) {
		uint64_t epoch;
		if (log_epoch_at(lane->log, i, &epoch) != 0) {
			free(runs);
			return -EIO;
		}
		if (n > 0 && epoch == prev)
			continue;
		if (n == cap) {
			cap *= 2;
			struct repl_epoch_run *g = realloc(runs, cap * sizeof(*runs));
			if (g == NULL) {
				free(runs);
				return -ENOMEM;
			}
			runs = g;
		}
		runs[n++] = (struct repl_epoch_run){ .start_index = i, .epoch = epoch };
		prev = epoch;
	}
	*out = runs;
	*n_out = n;
	return 0;
}

static void store_boot_repl(struct lane *lane)
{
	const struct lane_set_config *c = &lane->set->cfg;
	struct repl_boot boot;
	memset(&boot, 0, sizeof(boot));
	boot.meta = *lane_meta_get(lane->meta);
	boot.snapshot.index = lane->recovery.snapshot_index;
	boot.snapshot.epoch = lane->recovery.snapshot_epoch;
	boot.snapshot.total_bytes = lane->recovery.snapshot_bytes;
	boot.last_index = log_last_index(lane->log);
	struct repl_epoch_run *runs = NULL;
	unsigned n_runs = 0;
	int rc = store_runs(lane, &runs, &n_runs);
	if (rc != 0) {
		lane_fail(lane, rc, "cannot index the log: %s", strerror(-rc));
		return;
	}
	boot.runs = runs;
	boot.n_runs = n_runs;
	struct repl_options o;
	repl_options_default(&o, c->node_id, REPL_MODE_EXTERNAL);
	o.lease_ms = c->lease_ms;
	o.heartbeat_ms = c->heartbeat_ms;
	o.lease_drift_ms = (uint32_t)((uint64_t)c->lease_ms * 2 * c->drift_ppm / 1000000 + 1);
	struct repl_io io;
	store_io(lane, &io);
	lane->repl = repl_create(&o, &io, &boot);
	free(runs);
	if (lane->repl == NULL) {
		lane_fail(lane, -EINVAL, "cannot start replication from the recovered log");
		return;
	}
	lane->applied_index = lane->recovery.snapshot_index;
	if (lane_set_replicated(lane->set))
		lane_start_replicated(lane);
	else
		lane_start_epoch(lane);
}

/* Stops the lane's use of its log and metadata; I/O still in flight completes without going
 * further (lane_set_detach_loop() waits for it, then frees the log and the metadata). */
void lane_store_close(struct lane *lane)
{
	lane->closed = true;
	lane_waiters_close(lane);
	if (lane->repl != NULL)
		repl_destroy(lane->repl);
	lane->repl = NULL;
	struct list_node *n;
	while ((n = list_pop_front(&lane->appends)) != NULL)
		free(list_entry(n, struct lane_append, node));
	lane_meta_close(lane->meta);
}
