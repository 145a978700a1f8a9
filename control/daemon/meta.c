/* The control group's durable metadata for the replication core (term, vote, repair mark) in
 * two slot files, meta.0 and meta.1, the same way a lane keeps its own: a save writes the
 * whole record (sequence number, fields, CRC32C) over the older slot with a DSYNC write, so
 * a crash during it can tear only that slot; load keeps the valid record with the highest
 * sequence number. */
#define LOG_COMPONENT "store"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc.h"
#include "base/log.h"
#include "base/panic.h"
#include "daemon/store_priv.h"

#define META_MAGIC 0x4154454d54435053ull /* "SPCTMETA" */
#define META_VERSION 1u
#define META_FIELDS_BYTES 56u

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
	memset(b, 0, CTLD_META_BYTES);
	meta_put64(b, META_MAGIC);
	meta_put64(b + 8, META_VERSION);
	meta_put64(b + 16, seq);
	meta_put64(b + 24, r->epoch);
	meta_put64(b + 32, r->primary_epoch);
	meta_put64(b + 40, r->repair_index);
	b[48] = r->vote;
	meta_put64(b + META_FIELDS_BYTES, crc32c(b, META_FIELDS_BYTES));
}

/* The record's sequence number, or 0 if the block holds no valid record. */
static uint64_t meta_decode(const uint8_t *b, struct repl_meta *r)
{
	if (meta_get64(b) != META_MAGIC || meta_get64(b + 8) != META_VERSION ||
	    meta_get64(b + META_FIELDS_BYTES) != crc32c(b, META_FIELDS_BYTES))
		return 0;
	r->epoch = meta_get64(b + 24);
	r->primary_epoch = meta_get64(b + 32);
	r->repair_index = meta_get64(b + 40);
	r->vote = b[48];
	return meta_get64(b + 16);
}

int store_meta_init(struct ctld_store *s)
{
	struct store_meta *m = &s->meta;
	m->cur.vote = REPL_NODE_NONE;
	for (int i = 0; i < 2; i++) {
		m->buf[i] = aligned_alloc(CTLD_META_BYTES, CTLD_META_BYTES);
		if (m->buf[i] == NULL)
			return -ENOMEM;
		m->slots[i] = (struct store_meta_slot){ .s = s, .slot = i, .fh = -1 };
		if (snprintf(m->path[i], sizeof(m->path[i]), "%s/meta.%d", s->dir, i) >=
		    (int)sizeof(m->path[i]))
			return -ENAMETOOLONG;
	}
	return 0;
}

void store_meta_free(struct ctld_store *s)
{
	free(s->meta.buf[0]);
	free(s->meta.buf[1]);
	s->meta.buf[0] = s->meta.buf[1] = NULL;
}

/* ---- Loading: open (create if missing) both slots, size them, read them ---- */

static void meta_step_done(struct ctld_store *s, int err)
{
	struct store_meta *m = &s->meta;
	if (err < 0 && m->err == 0)
		m->err = err;
	if (--m->pending > 0)
		return;
	m->load_done(s, m->err);
}

static void meta_read_cb(struct log_disk_io *io, int res)
{
	struct store_meta_slot *sl = container_of(io, struct store_meta_slot, io);
	struct store_meta *m = &sl->s->meta;
	if (res == (int)CTLD_META_BYTES) {
		struct repl_meta r = { .vote = REPL_NODE_NONE };
		uint64_t seq = meta_decode(m->buf[sl->slot], &r);
		if (seq > m->seq) {
			m->seq = seq;
			m->cur = r;
		} else if (seq == 0) {
			LOG_WARN("%s holds no valid record (a torn save): using the other slot",
				 m->path[sl->slot]);
		}
	}
	meta_step_done(sl->s, res < 0 ? res : 0);
}

static void meta_size_cb(struct log_disk_io *io, int res)
{
	struct store_meta_slot *sl = container_of(io, struct store_meta_slot, io);
	struct ctld_store *s = sl->s;
	if (res < 0 || sl->size < CTLD_META_BYTES) {
		meta_step_done(s, res < 0 ? res : 0); /* new or empty: no record */
		return;
	}
	sl->io.cb = meta_read_cb;
	s->disk->ops->read(s->disk, &sl->io, sl->fh, s->meta.buf[sl->slot], CTLD_META_BYTES, 0);
}

static void meta_open_cb(struct log_disk_io *io, int res);

static void meta_open(struct store_meta_slot *sl, unsigned flags)
{
	sl->io.cb = meta_open_cb;
	sl->s->disk->ops->open(sl->s->disk, &sl->io, sl->s->meta.path[sl->slot], flags);
}

static void meta_open_cb(struct log_disk_io *io, int res)
{
	struct store_meta_slot *sl = container_of(io, struct store_meta_slot, io);
	struct ctld_store *s = sl->s;
	if (res == -ENOENT) {
		meta_open(sl, LOG_DISK_O_CREATE);
		return;
	}
	if (res < 0) {
		meta_step_done(s, res);
		return;
	}
	sl->fh = res;
	sl->io.cb = meta_size_cb;
	s->disk->ops->size(s->disk, &sl->io, sl->fh, &sl->size);
}

void store_meta_load(struct ctld_store *s, void (*done)(struct ctld_store *s, int err))
{
	struct store_meta *m = &s->meta;
	ASSERT(m->pending == 0);
	m->load_done = done;
	m->pending = 2;
	m->err = 0;
	for (int i = 0; i < 2; i++)
		meta_open(&m->slots[i], 0);
}

/* ---- Saving ---- */

static void meta_save_cb(struct log_disk_io *io, int res)
{
	struct store_meta_slot *sl = container_of(io, struct store_meta_slot, io);
	struct ctld_store *s = sl->s;
	struct store_meta *m = &s->meta;
	int status = res == (int)CTLD_META_BYTES ? 0 : (res < 0 ? res : -EIO);
	if (status == 0) {
		m->seq++;
		m->cur = m->saving;
		s->stats.meta_saves++;
	} else {
		LOG_ERROR("cannot save %s: %s", m->path[sl->slot], strerror(-status));
	}
	m->saving_now = false;
	repl_meta_done(s->r, &m->saving, status);
}

void store_meta_save(void *ctx, const struct repl_meta *meta)
{
	struct ctld_store *s = ctx;
	struct store_meta *m = &s->meta;
	/* The core saves one record at a time and waits for repl_meta_done(). */
	ASSERT(!m->saving_now);
	m->saving = *meta;
	m->saving_now = true;
	int slot = (int)((m->seq + 1) % 2);
	meta_encode(m->buf[slot], m->seq + 1, meta);
	struct store_meta_slot *sl = &m->slots[slot];
	ASSERT(sl->fh >= 0);
	sl->io.cb = meta_save_cb;
	s->disk->ops->write(s->disk, &sl->io, sl->fh, m->buf[slot], CTLD_META_BYTES, 0,
			    LOG_DISK_W_DSYNC);
}
