/* Snapshots of a durable lane: loading the newest one at start, taking one when the log has
 * grown enough (the key-value state streams out in bounded steps while the lane keeps
 * serving; objects changed meanwhile are copied first), reading chunks of it for a lagging
 * follower, and installing one received from the primary. */
#define LOG_COMPONENT "lane"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/panic.h"
#include "lane/lane_priv.h"

/* ---- Loading at start ---- */

struct lane_snap_load {
	struct log_snap_read rd;
	struct lane *lane;
	struct kv_snapshot_loader *ld;
	void (*done)(struct lane *lane, int err);
	uint8_t buf[LOG_SNAP_READ_BUF_BYTES];
};

static void snap_load_finish(struct lane_snap_load *s, int err)
{
	struct lane *lane = s->lane;
	if (err == 0) {
		struct kv_db *db = kv_snapshot_load_end(s->ld, &err);
		if (db != NULL) {
			kv_db_destroy(lane->db);
			lane->db = db;
		}
	} else {
		kv_snapshot_load_abort(s->ld);
	}
	void (*done)(struct lane *, int) = s->done;
	free(s);
	done(lane, err);
}

static void snap_load_cb(struct log_snap_read *rd, int res)
{
	struct lane_snap_load *s = container_of(rd, struct lane_snap_load, rd);
	if (res < 0) {
		snap_load_finish(s, res);
		return;
	}
	if (res == 0) {
		snap_load_finish(s, 0);
		return;
	}
	int rc = kv_snapshot_load_feed(s->ld, rd->buf, (size_t)res);
	if (rc != 0) {
		snap_load_finish(s, rc);
		return;
	}
	rd->offset += (uint64_t)res;
	/* Chunks are whole except the last: a short one, or the recorded size, ends it (the log
	 * reads only at chunk-aligned offsets). */
	if ((uint32_t)res < LOG_SNAP_CHUNK_BYTES || rd->offset >= s->lane->recovery.snapshot_bytes) {
		snap_load_finish(s, 0);
		return;
	}
	rc = log_snapshot_read(s->lane->log, rd);
	if (rc != 0)
		snap_load_finish(s, rc);
}

void lane_snapshot_load(struct lane *lane, void (*done)(struct lane *lane, int err))
{
	struct lane_snap_load *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		done(lane, -ENOMEM);
		return;
	}
	s->lane = lane;
	s->done = done;
	s->ld = kv_snapshot_load_begin(lane->set->per_loop[loop_id(lane->owner)].arena);
	s->rd.index = lane->recovery.snapshot_index;
	s->rd.offset = 0;
	s->rd.buf = s->buf;
	s->rd.cb = snap_load_cb;
	int rc = s->ld == NULL ? -ENOMEM : log_snapshot_read(lane->log, &s->rd);
	if (rc != 0) {
		if (s->ld != NULL)
			kv_snapshot_load_abort(s->ld);
		free(s);
		done(lane, rc);
	}
}

/* ---- Taking one ---- */

static uint64_t snap_now_ns(const struct lane *lane)
{
	struct log_disk *disk = lane->set->per_loop[loop_id(lane->owner)].disk;
	return disk->ops->now_ns(disk);
}

struct lane_snapshot {
	struct lane *lane;
	struct kv_snapshot *kv;
	uint64_t index;
};

static ssize_t snap_source(void *arg, uint8_t *buf, size_t cap)
{
	struct lane_snapshot *s = arg;
	for (;;) {
		if (kv_snapshot_done(s->kv))
			return kv_snapshot_error(s->kv) != 0 ? kv_snapshot_error(s->kv) : 0;
		size_t n = kv_snapshot_next(s->kv, buf, cap);
		if (n > 0)
			return (ssize_t)n;
	}
}

static void snap_taken(void *arg, int err, const struct log_snapshot_info *info)
{
	struct lane_snapshot *s = arg;
	struct lane *lane = s->lane;
	kv_snapshot_end(s->kv);
	lane->snap = NULL;
	if (lane->repl == NULL) { /* the lane is closing */
		free(s);
		return;
	}
	if (err != 0) {
		/* Not again at once: a full disk would have it written and deleted in a loop. */
		lane->snap_retry_ns = snap_now_ns(lane) + LANE_SNAPSHOT_RETRY_NS;
		LOG_WARN("lane %u: snapshot at entry %llu failed: %s (the log keeps everything; "
			 "trying again in %llu ms)", lane->id, (unsigned long long)s->index,
			 strerror(-err), LANE_SNAPSHOT_RETRY_NS / 1000000);
	} else {
		LOG_INFO("lane %u: snapshot at entry %llu: %llu bytes in %llu ms", lane->id,
			 (unsigned long long)info->index, (unsigned long long)info->bytes,
			 (unsigned long long)(info->duration_ns / 1000000));
		repl_log_compacted(lane->repl, info->index, log_first_index(lane->log), NULL);
	}
	free(s);
}

/* Starts a snapshot if the log asks for one; returns 1 if it did. */
int lane_snapshot_maybe(struct lane *lane)
{
	if (lane->snap != NULL || lane->install != NULL || lane->state != LANE_SERVING ||
	    !log_snapshot_due(lane->log) || snap_now_ns(lane) < lane->snap_retry_ns)
		return 0;
	struct lane_snapshot *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return 0;
	s->lane = lane;
	s->index = lane->applied_index;
	s->kv = kv_snapshot_begin(lane->db);
	if (s->kv == NULL) {
		free(s);
		return 0;
	}
	int rc = log_snapshot_take(lane->log, s->index, snap_source, s, snap_taken, s);
	if (rc != 0) {
		kv_snapshot_end(s->kv);
		free(s);
		return 0;
	}
	lane->snap = s;
	return 1;
}

/* ---- Sending one to a follower (the core reads it in chunks) ---- */

static void snap_read_cb(struct log_snap_read *rd, int res)
{
	struct lane_snap_io *io = container_of(rd, struct lane_snap_io, rd);
	struct lane *lane = io->lane;
	struct repl_snapshot_meta meta = {
		.index = lane->recovery.snapshot_index,
		.epoch = lane->recovery.snapshot_epoch,
		.total_bytes = lane->recovery.snapshot_bytes,
	};
	struct log_stats st;
	log_stats_get(lane->log, &st);
	meta.index = st.snapshot_index;
	meta.total_bytes = st.snapshot_bytes;
	uint64_t epoch = 0;
	if (log_epoch_at(lane->log, meta.index, &epoch) == 0)
		meta.epoch = epoch;
	repl_snapshot_read_done(lane->repl, io->tag, &meta, rd->offset, rd->buf,
				res > 0 ? (size_t)res : 0, res < 0 ? res : 0);
}

static void io_snapshot_read(void *ctx, unsigned tag, uint64_t offset, size_t max_bytes)
{
	(void)max_bytes;
	struct lane *lane = ctx;
	ASSERT(tag < LANE_READS_MAX);
	struct lane_snap_io *io = lane->snap_io[tag];
	if (io == NULL) {
		io = calloc(1, sizeof(*io));
		ASSERT_MSG(io != NULL, "lane %u: out of memory for a snapshot read", lane->id);
		io->buf = malloc(LOG_SNAP_READ_BUF_BYTES);
		ASSERT_MSG(io->buf != NULL, "lane %u: out of memory for a snapshot read", lane->id);
		io->lane = lane;
		io->tag = tag;
		lane->snap_io[tag] = io;
	}
	struct log_stats st;
	log_stats_get(lane->log, &st);
	io->rd.index = st.snapshot_index;
	io->rd.offset = offset;
	io->rd.buf = io->buf;
	io->rd.cb = snap_read_cb;
	io->pending_err = log_snapshot_read(lane->log, &io->rd);
	io->pending = io->pending_err != 0; /* reported from the next turn */
}

/* ---- Installing one from the primary ---- */

struct lane_install {
	struct repl_snapshot_meta meta;
	struct kv_snapshot_loader *ld;
	uint64_t next_offset;
	/* A chunk the log could not take yet, and the last chunk's completion. */
	uint8_t *held;
	size_t held_len;
	uint64_t held_offset;
	bool held_last;
	bool pushed;
	bool ack_pending;
	uint64_t ack_offset;
	size_t ack_len;
};

static void install_free(struct lane *lane)
{
	struct lane_install *in = lane->install;
	if (in == NULL)
		return;
	if (in->ld != NULL)
		kv_snapshot_load_abort(in->ld);
	free(in->held);
	free(in);
	lane->install = NULL;
}

static void install_finished(void *arg, int err, const struct log_snapshot_info *info)
{
	(void)info;
	struct lane *lane = arg;
	struct lane_install *in = lane->install;
	struct repl_snapshot_meta meta = in->meta;
	uint64_t offset = in->held_offset;
	size_t len = in->held_len;
	if (err == 0) {
		lane_store_drop_queued(lane);
		struct kv_db *db = kv_snapshot_load_end(in->ld, &err);
		in->ld = NULL;
		if (db != NULL) {
			kv_db_destroy(lane->db);
			lane->db = db;
			lane->applied_index = meta.index;
			lane->recovery.snapshot_index = meta.index;
			lane->recovery.snapshot_epoch = meta.epoch;
			lane->recovery.snapshot_bytes = meta.total_bytes;
		}
	}
	install_free(lane);
	repl_snapshot_write_done(lane->repl, &meta, offset, len, err);
}

/* Gives the log (and the key-value loader) the held chunk; returns 0, -EAGAIN or an error. */
static int install_push(struct lane *lane)
{
	struct lane_install *in = lane->install;
	int rc = log_snapshot_install_write(lane->log, in->held_offset, in->held, in->held_len);
	if (rc != 0)
		return rc;
	rc = kv_snapshot_load_feed(in->ld, in->held, in->held_len);
	if (rc != 0)
		return rc;
	in->next_offset = in->held_offset + in->held_len;
	if (in->held_last)
		return log_snapshot_install_finish(lane->log, install_finished, lane);
	in->ack_pending = true;
	in->ack_offset = in->held_offset;
	in->ack_len = in->held_len;
	return 0;
}

static int install_begin(struct lane *lane, const struct repl_snapshot_meta *meta)
{
	install_free(lane);
	if (lane->snap != NULL)
		return -EBUSY;
	struct lane_install *in = calloc(1, sizeof(*in));
	if (in == NULL)
		return -ENOMEM;
	in->meta = *meta;
	in->ld = kv_snapshot_load_begin(lane->set->per_loop[loop_id(lane->owner)].arena);
	lane->install = in;
	if (in->ld == NULL)
		return -ENOMEM;
	return log_snapshot_install_begin(lane->log, meta->epoch, meta->index);
}

static void io_snapshot_write(void *ctx, const struct repl_snapshot_meta *meta, uint64_t offset,
			      const uint8_t *data, size_t len, bool last)
{
	struct lane *lane = ctx;
	int rc = 0;
	if (offset == 0)
		rc = install_begin(lane, meta);
	struct lane_install *in = lane->install;
	if (rc == 0 && (in == NULL || offset != in->next_offset))
		rc = -EINVAL;
	if (rc == 0) {
		free(in->held);
		in->held = malloc(len ? len : 1);
		rc = in->held == NULL ? -ENOMEM : 0;
	}
	if (rc != 0) {
		lane->install_err = rc;
		lane->install_err_meta = *meta;
		lane->install_err_offset = offset;
		lane->install_err_len = len;
		install_free(lane);
		return;
	}
	memcpy(in->held, data, len);
	in->held_len = len;
	in->held_offset = offset;
	in->held_last = last;
	in->pushed = false;
}

/* Moves snapshot I/O along: chunks offered to the log, completions reported. */
int lane_snapshot_work(struct lane *lane)
{
	int work = 0;
	for (unsigned t = 0; t < LANE_READS_MAX; t++) {
		struct lane_snap_io *io = lane->snap_io[t];
		if (io != NULL && io->pending) {
			io->pending = false;
			struct repl_snapshot_meta none = { 0 };
			repl_snapshot_read_done(lane->repl, t, &none, io->rd.offset, NULL, 0, io->pending_err);
			work++;
		}
	}
	if (lane->install_err != 0) {
		int err = lane->install_err;
		lane->install_err = 0;
		repl_snapshot_write_done(lane->repl, &lane->install_err_meta, lane->install_err_offset,
					 lane->install_err_len, err);
		work++;
	}
	struct lane_install *in = lane->install;
	if (in != NULL && in->held != NULL && !in->pushed) {
		int rc = install_push(lane);
		if (rc != -EAGAIN) {
			work++;
			in = lane->install;
			if (in != NULL)
				in->pushed = true;
			if (rc != 0) {
				struct repl_snapshot_meta meta = in != NULL ? in->meta : (struct repl_snapshot_meta){ 0 };
				uint64_t off = in != NULL ? in->held_offset : 0;
				size_t len = in != NULL ? in->held_len : 0;
				log_snapshot_install_abort(lane->log);
				install_free(lane);
				repl_snapshot_write_done(lane->repl, &meta, off, len, rc);
			}
		}
	}
	in = lane->install;
	if (in != NULL && in->ack_pending) {
		in->ack_pending = false;
		repl_snapshot_write_done(lane->repl, &in->meta, in->ack_offset, in->ack_len, 0);
		work++;
	}
	return work;
}

void lane_snap_io_init(struct repl_io *io)
{
	io->snapshot_read = io_snapshot_read;
	io->snapshot_write = io_snapshot_write;
}

/* A snapshot still being written is ended by the log's completion (log_close completes it),
 * or by lane_snapshot_abandon() if the log is destroyed without one. */
void lane_snapshot_close(struct lane *lane)
{
	install_free(lane);
	for (unsigned t = 0; t < LANE_READS_MAX; t++) {
		if (lane->snap_io[t] != NULL) {
			free(lane->snap_io[t]->buf);
			free(lane->snap_io[t]);
			lane->snap_io[t] = NULL;
		}
	}
}

void lane_snapshot_abandon(struct lane *lane)
{
	if (lane->snap == NULL)
		return;
	kv_snapshot_end(lane->snap->kv);
	free(lane->snap);
	lane->snap = NULL;
}
