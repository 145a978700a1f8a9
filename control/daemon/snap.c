/* Snapshots of the cluster state for the control group (see store.h for the stream): loading
 * the newest at open, taking one once the control log has grown enough, serving chunks of
 * it to a follower from memory, and installing one received from the leader (kept in memory
 * until whole, written through the log's installer, checked, then handed to the daemon). */
#define LOG_COMPONENT "store"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc.h"
#include "base/log.h"
#include "base/panic.h"
#include "daemon/store_priv.h"

#define SNAP_MAGIC 0x50414e5354435053ull /* "SPCTSNAP" */
#define SNAP_VERSION 1u
#define SNAP_BYTES_MAX (64u << 20)

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* header: magic, u32 version, u32 CRC32C of the other 28 bytes, voters, learners */
static void snap_header(uint8_t *h, const struct repl_members *m)
{
	memset(h, 0, CTLD_SNAP_HDR_BYTES);
	put64(h, SNAP_MAGIC);
	h[8] = SNAP_VERSION;
	put64(h + 16, m->voters);
	put64(h + 24, m->learners);
	uint32_t crc = crc32c_extend(crc32c(h, 12), h + 16, 16);
	for (int i = 0; i < 4; i++)
		h[12 + i] = (uint8_t)(crc >> (8 * i));
}

int store_snap_parse(const uint8_t *b, size_t len, struct repl_members *m, const uint8_t **state,
		     size_t *state_len)
{
	if (len < CTLD_SNAP_HDR_BYTES || get64(b) != SNAP_MAGIC || b[8] != SNAP_VERSION)
		return -EBADMSG;
	uint32_t crc = crc32c_extend(crc32c(b, 12), b + 16, 16);
	if ((uint32_t)(b[12] | b[13] << 8 | b[14] << 16 | (uint32_t)b[15] << 24) != crc)
		return -EBADMSG;
	m->voters = get64(b + 16);
	m->learners = get64(b + 24);
	if (m->voters == 0 || (m->voters & m->learners))
		return -EBADMSG;
	*state = b + CTLD_SNAP_HDR_BYTES;
	*state_len = len - CTLD_SNAP_HDR_BYTES;
	return 0;
}

/* Makes bytes the current snapshot (takes ownership). */
static void snap_adopt(struct ctld_store *s, uint8_t *bytes, size_t len, uint64_t index,
		       uint64_t epoch, const struct repl_members *m)
{
	free(s->snap);
	s->snap = bytes;
	s->snap_len = len;
	s->snap_index = index;
	s->snap_epoch = epoch;
	s->snap_members = *m;
}

/* ---- Loading at open ---- */

static void snap_load_finish(struct ctld_store *s, int err)
{
	free(s->load_buf);
	s->load_buf = NULL;
	struct repl_members m;
	const uint8_t *state;
	size_t state_len;
	if (err == 0 && s->snap_len != s->rec.snapshot_bytes)
		err = -EBADMSG;
	if (err == 0)
		err = store_snap_parse(s->snap, s->snap_len, &m, &state, &state_len);
	if (err == 0)
		err = ctl_state_decode(state, state_len, s->state);
	if (err == 0) {
		s->snap_index = s->rec.snapshot_index;
		s->snap_epoch = s->rec.snapshot_epoch;
		s->snap_members = m;
	}
	s->snap_load_done(s, err);
}

static void snap_load_cb(struct log_snap_read *rd, int res)
{
	struct ctld_store *s = rd->arg;
	if (res <= 0) {
		snap_load_finish(s, res);
		return;
	}
	memcpy(s->snap + s->snap_len, rd->buf, (size_t)res);
	s->snap_len += (size_t)res;
	rd->offset += (uint64_t)res;
	if (s->snap_len >= s->rec.snapshot_bytes) {
		snap_load_finish(s, 0);
		return;
	}
	int rc = log_snapshot_read(s->log, rd);
	if (rc != 0)
		snap_load_finish(s, rc);
}

void store_snap_load(struct ctld_store *s, void (*done)(struct ctld_store *s, int err))
{
	s->snap_load_done = done;
	uint64_t bytes = s->rec.snapshot_bytes;
	if (bytes < CTLD_SNAP_HDR_BYTES || bytes > SNAP_BYTES_MAX) {
		done(s, -EBADMSG);
		return;
	}
	s->snap = malloc(bytes);
	s->load_buf = malloc(LOG_SNAP_READ_BUF_BYTES);
	if (s->snap == NULL || s->load_buf == NULL) {
		done(s, -ENOMEM);
		return;
	}
	s->snap_len = 0;
	s->load = (struct log_snap_read){ .index = s->rec.snapshot_index, .offset = 0,
					  .buf = s->load_buf, .cb = snap_load_cb, .arg = s };
	int rc = log_snapshot_read(s->log, &s->load);
	if (rc != 0)
		snap_load_finish(s, rc);
}

/* ---- Taking one ---- */

static ssize_t snap_source(void *arg, uint8_t *buf, size_t cap)
{
	struct ctld_store *s = arg;
	size_t n = MIN(cap, s->taking_len - s->taking_off);
	memcpy(buf, s->taking + s->taking_off, n);
	s->taking_off += n;
	return (ssize_t)n;
}

static void snap_taken(void *arg, int err, const struct log_snapshot_info *info)
{
	struct ctld_store *s = arg;
	if (err != 0) {
		LOG_WARN("control snapshot at entry %llu failed: %s (the log keeps everything)",
			 (unsigned long long)s->taking_index, strerror(-err));
		free(s->taking);
	} else {
		snap_adopt(s, s->taking, s->taking_len, info->index, info->epoch, &s->taking_members);
		s->stats.snapshots_taken++;
		LOG_INFO("control snapshot at entry %llu: %zu bytes", (unsigned long long)info->index,
			 s->snap_len);
		if (s->r != NULL)
			repl_log_compacted(s->r, info->index, log_first_index(s->log), &s->snap_members);
	}
	s->taking = NULL;
}

int ctld_store_snapshot_maybe(struct ctld_store *s, const struct ctl_state *state,
			      uint64_t index)
{
	if (s->failed || !s->booted || s->taking || s->install || index <= s->snap_index ||
	    !log_snapshot_due(s->log))
		return 0;
	size_t state_len = ctl_state_encoded_bytes(state);
	uint8_t *b = malloc(CTLD_SNAP_HDR_BYTES + state_len);
	if (b == NULL)
		return 0;
	snap_header(b, &s->applied_members);
	ssize_t n = ctl_state_encode(state, b + CTLD_SNAP_HDR_BYTES, state_len);
	ASSERT(n == (ssize_t)state_len);
	s->taking = b;
	s->taking_len = CTLD_SNAP_HDR_BYTES + state_len;
	s->taking_off = 0;
	s->taking_index = index;
	s->taking_members = s->applied_members;
	int rc = log_snapshot_take(s->log, index, snap_source, s, snap_taken, s);
	if (rc != 0) {
		free(s->taking);
		s->taking = NULL;
		return 0;
	}
	return 1;
}

/* ---- Serving one to a follower, from memory ---- */

static void io_snapshot_read(void *ctx, unsigned tag, uint64_t offset, size_t max_bytes)
{
	struct ctld_store *s = ctx;
	ASSERT(tag < CTLD_STORE_READS_MAX);
	s->snap_reads[tag] = (struct store_snap_read){ .pending = true, .offset = offset,
						       .max_bytes = max_bytes };
}

static int snap_reads_answer(struct ctld_store *s)
{
	int n = 0;
	for (unsigned t = 0; t < CTLD_STORE_READS_MAX; t++) {
		struct store_snap_read *rd = &s->snap_reads[t];
		if (!rd->pending)
			continue;
		rd->pending = false;
		n++;
		struct repl_snapshot_meta m = { .index = s->snap_index, .epoch = s->snap_epoch,
						.total_bytes = s->snap_len, .members = s->snap_members };
		if (s->snap_index == 0 || rd->offset > s->snap_len) {
			repl_snapshot_read_done(s->r, t, &m, rd->offset, NULL, 0, -ENOENT);
			continue;
		}
		size_t len = MIN(rd->max_bytes, s->snap_len - (size_t)rd->offset);
		repl_snapshot_read_done(s->r, t, &m, rd->offset, s->snap + rd->offset, len, 0);
	}
	return n;
}

/* ---- Installing one from the leader ---- */

static void install_free(struct ctld_store *s)
{
	if (s->install != NULL)
		free(s->install->buf);
	free(s->install);
	s->install = NULL;
}

static int install_begin(struct ctld_store *s, const struct repl_snapshot_meta *m)
{
	if (s->install != NULL && s->install->log_begun && !s->install->finishing)
		log_snapshot_install_abort(s->log);
	install_free(s);
	if (s->taking != NULL || m->total_bytes > SNAP_BYTES_MAX)
		return -EBUSY;
	struct store_install *in = calloc(1, sizeof(*in));
	if (in == NULL)
		return -ENOMEM;
	in->meta = *m;
	s->install = in;
	int rc = log_snapshot_install_begin(s->log, m->epoch, m->index);
	in->log_begun = rc == 0;
	return rc;
}

static int install_append(struct store_install *in, const uint8_t *data, size_t len)
{
	if (in->len + len > SNAP_BYTES_MAX)
		return -EMSGSIZE;
	if (in->len + len > in->cap) {
		size_t cap = MAX(in->cap * 2, in->len + len);
		uint8_t *b = realloc(in->buf, cap);
		if (b == NULL)
			return -ENOMEM;
		in->buf = b;
		in->cap = cap;
	}
	memcpy(in->buf + in->len, data, len);
	in->len += len;
	return 0;
}

static void io_snapshot_write(void *ctx, const struct repl_snapshot_meta *m, uint64_t offset,
			      const uint8_t *data, size_t len, bool last)
{
	struct ctld_store *s = ctx;
	int rc = offset == 0 ? install_begin(s, m) : 0;
	struct store_install *in = s->install;
	if (rc == 0 && (in == NULL || offset != in->len || in->last_seen))
		rc = -EINVAL;
	if (rc == 0)
		rc = install_append(in, data, len);
	if (in == NULL) {
		/* Answered next turn through a placeholder that carries the error. */
		in = s->install = calloc(1, sizeof(*in));
		ASSERT_MSG(in != NULL, "out of memory for a snapshot install");
		in->meta = *m;
	}
	in->ack_offset = offset;
	in->ack_len = len;
	in->ack_pending = true;
	in->last_seen = last;
	in->err = rc;
}

static void install_finished(void *arg, int err, const struct log_snapshot_info *info)
{
	(void)info;
	struct ctld_store *s = arg;
	struct store_install *in = s->install;
	struct repl_snapshot_meta m = in->meta;
	uint64_t off = in->ack_offset;
	size_t len = in->ack_len;
	struct repl_members members;
	const uint8_t *state;
	size_t state_len;
	if (err == 0)
		err = store_snap_parse(in->buf, in->len, &members, &state, &state_len);
	if (err == 0)
		err = s->cbs.installed(s->cbs.ctx, &m, state, state_len);
	if (err == 0) {
		snap_adopt(s, in->buf, in->len, m.index, m.epoch, &members);
		s->applied_members = members;
		in->buf = NULL;
		s->stats.snapshots_installed++;
		LOG_INFO("installed the leader's control snapshot at entry %llu (%zu bytes)",
			 (unsigned long long)m.index, s->snap_len);
	} else {
		LOG_WARN("control snapshot at entry %llu from the leader refused: %s",
			 (unsigned long long)m.index, strerror(-err));
	}
	install_free(s);
	repl_snapshot_write_done(s->r, &m, off, len, err);
}

/* Hands the whole stream to the log (once it is complete), and acknowledges chunks. */
static int install_work(struct ctld_store *s)
{
	struct store_install *in = s->install;
	if (in == NULL || in->finishing || !in->ack_pending)
		return 0;
	int err = in->err;
	if (err == 0 && in->last_seen) {
		struct repl_members m;
		const uint8_t *st;
		size_t st_len;
		err = store_snap_parse(in->buf, in->len, &m, &st, &st_len);
		if (err == 0 && in->log_written < in->len) {
			size_t n = MIN(in->len - in->log_written, (size_t)LOG_SNAP_CHUNK_BYTES);
			int rc = log_snapshot_install_write(s->log, in->log_written,
							    in->buf + in->log_written, n);
			if (rc == -EAGAIN)
				return 0;
			if (rc == 0) {
				in->log_written += n;
				return 1;
			}
			err = rc;
		}
		if (err == 0) {
			in->finishing = true;
			err = log_snapshot_install_finish(s->log, install_finished, s);
			if (err == 0)
				return 1;
			in->finishing = false;
		}
	}
	struct repl_snapshot_meta m = in->meta;
	uint64_t off = in->ack_offset;
	size_t len = in->ack_len;
	in->ack_pending = false;
	if (err != 0) {
		if (in->log_begun)
			log_snapshot_install_abort(s->log);
		install_free(s);
	}
	repl_snapshot_write_done(s->r, &m, off, len, err);
	return 1;
}

int store_snap_work(struct ctld_store *s)
{
	return snap_reads_answer(s) + install_work(s);
}

void store_snap_io(struct repl_io *io)
{
	io->snapshot_read = io_snapshot_read;
	io->snapshot_write = io_snapshot_write;
}

void store_snap_free(struct ctld_store *s)
{
	install_free(s);
	free(s->taking);
	free(s->snap);
	free(s->load_buf);
	s->taking = s->snap = s->load_buf = NULL;
}
