/* A lane's durable metadata for the replication core (promised epoch, vote, the epoch it was
 * last primary in, repair mark) in two slot files, meta.0 and meta.1. A save writes the whole
 * record, with a sequence number and a CRC32C, over the older slot with a DSYNC write; a
 * crash during it can tear only that slot, so the other one still holds the previous record.
 * Load keeps the valid record with the highest sequence number. */
#define LOG_COMPONENT "lane"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc.h"
#include "base/log.h"
#include "base/panic.h"
#include "lane/lane_priv.h"

#define META_BYTES 4096u          /* one block: a write of it is never split by the device */
#define META_MAGIC 0x4154454d444e5053ull /* "SPNDMETA" */
#define META_VERSION 1u
#define META_FIELDS_BYTES 56u

struct lane_meta_slot {
	struct log_disk_io io;
	struct lane_meta *m;
	int fh;
	int slot;
	uint64_t size;
};

struct lane_meta {
	struct lane *lane;
	struct log_disk *disk;
	struct lane_meta_slot slots[2];
	uint8_t *buf[2];              /* block-aligned: the files may be opened O_DIRECT later */
	uint64_t seq;                 /* of the newest valid record */
	struct repl_meta cur;
	struct repl_meta saving;
	int pending;                  /* operations of the current step */
	int err;
	bool created;                 /* a slot file was made: its name needs a directory sync */
	uint32_t inflight;            /* disk operations not completed yet */
	bool closing;                 /* the lane stopped: completions go no further */
	int dir_step;
	int dir_fh;
	struct log_disk_io dir_io;
	lane_meta_cb done;
	char path[2][LOG_PATH_MAX + 16];
};

static void meta_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t meta_get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void meta_encode(uint8_t *b, uint64_t seq, const struct repl_meta *r)
{
	memset(b, 0, META_BYTES);
	meta_put64(b, META_MAGIC);
	meta_put64(b + 8, META_VERSION);
	meta_put64(b + 16, seq);
	meta_put64(b + 24, r->epoch);
	meta_put64(b + 32, r->primary_epoch);
	meta_put64(b + 40, r->repair_index);
	b[48] = r->vote;
	uint32_t crc = crc32c(b, META_FIELDS_BYTES);
	meta_put64(b + META_FIELDS_BYTES, crc);
}

/* Returns the record's sequence number, or 0 if the block holds no valid record. */
static uint64_t meta_decode(const uint8_t *b, struct repl_meta *r)
{
	if (meta_get64(b) != META_MAGIC || meta_get64(b + 8) != META_VERSION)
		return 0;
	if (meta_get64(b + META_FIELDS_BYTES) != crc32c(b, META_FIELDS_BYTES))
		return 0;
	r->epoch = meta_get64(b + 24);
	r->primary_epoch = meta_get64(b + 32);
	r->repair_index = meta_get64(b + 40);
	r->vote = b[48];
	return meta_get64(b + 16);
}

struct lane_meta *lane_meta_create(struct lane *lane, struct log_disk *disk)
{
	struct lane_meta *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->lane = lane;
	m->disk = disk;
	m->cur.vote = REPL_NODE_NONE;
	for (int i = 0; i < 2; i++) {
		m->buf[i] = aligned_alloc(META_BYTES, META_BYTES);
		if (m->buf[i] == NULL) {
			lane_meta_destroy(m);
			return NULL;
		}
		m->slots[i].m = m;
		m->slots[i].slot = i;
		m->slots[i].fh = -1;
		snprintf(m->path[i], sizeof(m->path[i]), "%s/meta.%d", lane->dir, i);
	}
	return m;
}

void lane_meta_destroy(struct lane_meta *m)
{
	if (m == NULL)
		return;
	free(m->buf[0]);
	free(m->buf[1]);
	free(m);
}

const struct repl_meta *lane_meta_get(const struct lane_meta *m)
{
	return &m->cur;
}

void lane_meta_close(struct lane_meta *m)
{
	if (m != NULL)
		m->closing = true;
}

bool lane_meta_busy(const struct lane_meta *m)
{
	return m != NULL && m->inflight > 0;
}

/* A completion arrived: returns true when the lane has stopped and it must go no further. */
static bool meta_io_end(struct lane_meta *m)
{
	ASSERT(m->inflight > 0);
	m->inflight--;
	return m->closing;
}

/* ---- Loading: open (create if missing) both slots, size them, read them ---- */

static void meta_load_finish(struct lane_meta *m)
{
	lane_meta_cb done = m->done;
	m->done = NULL;
	done(m->lane, m->err);
}

/* A new slot file's name is durable only once its directory is synced: before any record
 * saved in it can count (the core relies on a saved record surviving a crash). */
static void meta_dir_cb(struct log_disk_io *io, int res)
{
	struct lane_meta *m = container_of(io, struct lane_meta, dir_io);
	if (meta_io_end(m))
		return;
	if (res < 0 && m->err == 0)
		m->err = res;
	if (m->dir_step == 0 && res >= 0) {
		m->dir_fh = res;
		m->dir_step = 1;
		m->inflight++;
		m->disk->ops->sync(m->disk, io, m->dir_fh, 0);
	} else if (m->dir_step == 1) {
		m->dir_step = 2;
		m->inflight++;
		m->disk->ops->close(m->disk, io, m->dir_fh);
	} else {
		m->dir_fh = -1;
		meta_load_finish(m);
	}
}

static void meta_step_done(struct lane_meta *m, int err)
{
	if (err < 0 && m->err == 0)
		m->err = err;
	if (--m->pending > 0)
		return;
	/* Slot 0 is first written by the second save, once slot 1 holds a record, and a save
	 * tears only the slot it writes: with slot 0 written, one of them must be valid. */
	if (m->err == 0 && m->seq == 0 && m->slots[0].size > 0) {
		LOG_ERROR("lane %u: neither %s nor %s holds a valid record", m->lane->id, m->path[0],
			  m->path[1]);
		m->err = -EBADMSG;
	}
	if (m->err != 0 || !m->created) {
		meta_load_finish(m);
		return;
	}
	m->dir_step = 0;
	m->dir_io.cb = meta_dir_cb;
	m->inflight++;
	m->disk->ops->open(m->disk, &m->dir_io, m->lane->dir, LOG_DISK_O_DIR | LOG_DISK_O_RDONLY);
}

static void meta_load_read_cb(struct log_disk_io *io, int res)
{
	struct lane_meta_slot *s = container_of(io, struct lane_meta_slot, io);
	struct lane_meta *m = s->m;
	if (meta_io_end(m))
		return;
	if (res == (int)META_BYTES) {
		struct repl_meta r = { .vote = REPL_NODE_NONE };
		uint64_t seq = meta_decode(m->buf[s->slot], &r);
		if (seq > m->seq) {
			m->seq = seq;
			m->cur = r;
		} else if (seq == 0) {
			LOG_WARN("lane %u: %s holds no valid record (a torn save); using the other slot",
				 m->lane->id, m->path[s->slot]);
		}
	} else if (res >= 0 && s->size > 0) {
		LOG_WARN("lane %u: %s is short (%d bytes)", m->lane->id, m->path[s->slot], res);
	}
	meta_step_done(m, res < 0 ? res : 0);
}

static void meta_load_size_cb(struct log_disk_io *io, int res)
{
	struct lane_meta_slot *s = container_of(io, struct lane_meta_slot, io);
	struct lane_meta *m = s->m;
	if (meta_io_end(m))
		return;
	if (res < 0 || s->size < META_BYTES) {
		meta_step_done(m, res < 0 ? res : 0); /* new or empty: no record */
		return;
	}
	s->io.cb = meta_load_read_cb;
	m->inflight++;
	m->disk->ops->read(m->disk, &s->io, s->fh, m->buf[s->slot], META_BYTES, 0);
}

static void meta_load_open_cb(struct log_disk_io *io, int res);

static void meta_open(struct lane_meta_slot *s, unsigned flags)
{
	s->io.cb = meta_load_open_cb;
	s->m->inflight++;
	s->m->disk->ops->open(s->m->disk, &s->io, s->m->path[s->slot], flags);
}

static void meta_load_open_cb(struct log_disk_io *io, int res)
{
	struct lane_meta_slot *s = container_of(io, struct lane_meta_slot, io);
	struct lane_meta *m = s->m;
	if (meta_io_end(m))
		return;
	if (res == -ENOENT) {
		m->created = true;
		meta_open(s, LOG_DISK_O_CREATE);
		return;
	}
	if (res < 0) {
		meta_step_done(m, res);
		return;
	}
	s->fh = res;
	s->io.cb = meta_load_size_cb;
	m->inflight++;
	m->disk->ops->size(m->disk, &s->io, s->fh, &s->size);
}

void lane_meta_load(struct lane_meta *m, lane_meta_cb done)
{
	ASSERT(m->done == NULL);
	m->done = done;
	m->pending = 2;
	m->err = 0;
	for (int i = 0; i < 2; i++)
		meta_open(&m->slots[i], 0);
}

/* ---- Saving ---- */

static void meta_save_cb(struct log_disk_io *io, int res)
{
	struct lane_meta_slot *s = container_of(io, struct lane_meta_slot, io);
	struct lane_meta *m = s->m;
	if (meta_io_end(m))
		return;
	struct lane *lane = m->lane;
	int status = res == (int)META_BYTES ? 0 : (res < 0 ? res : -EIO);
	if (status == 0) {
		m->seq++;
		m->cur = m->saving;
	} else {
		lane_fail(lane, status, "cannot save the lane's metadata to %s: %s",
			  m->path[s->slot], strerror(-status));
	}
	m->pending = 0;
	repl_meta_done(lane->repl, &m->saving, status);
}

void lane_meta_save(struct lane_meta *m, const struct repl_meta *meta)
{
	/* The core saves one record at a time and waits for repl_meta_done(). */
	ASSERT(m->pending == 0);
	m->saving = *meta;
	int slot = (int)((m->seq + 1) % 2);
	meta_encode(m->buf[slot], m->seq + 1, meta);
	struct lane_meta_slot *s = &m->slots[slot];
	ASSERT(s->fh >= 0);
	s->io.cb = meta_save_cb;
	m->pending = 1;
	m->inflight++;
	m->disk->ops->write(m->disk, &s->io, s->fh, m->buf[slot], META_BYTES, 0, LOG_DISK_W_DSYNC);
}
