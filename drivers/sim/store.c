/* The simulator's entry-level storage (see store.h). Every image owns copies of its
 * payloads; a pending append owns the copies that move into the durable image when its sync
 * completes. */
#include "sim/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "base/crc.h"
#include "base/panic.h"

enum { MUT_APPEND, MUT_TRUNCATE };

struct sim_mutation {
	uint64_t id;
	uint8_t kind;
	uint64_t first;          /* append: index of recs[0]; truncate: from */
	struct sim_record *recs;
	unsigned n;
};

/* ---- Records ---- */

static uint32_t rec_crc(const struct sim_record *r)
{
	uint8_t hdr[13];
	for (unsigned i = 0; i < 8; i++)
		hdr[i] = (uint8_t)(r->epoch >> (8 * i));
	hdr[8] = r->type;
	for (unsigned i = 0; i < 4; i++)
		hdr[9 + i] = (uint8_t)(r->len >> (8 * i));
	return crc32c_extend(crc32c(hdr, sizeof(hdr)), r->payload, r->len);
}

bool sim_record_valid(const struct sim_record *r)
{
	return !(r->flags & SIM_REC_TORN) && rec_crc(r) == r->crc;
}

/* ---- Images ---- */

static void rec_free(struct sim_record *r)
{
	free(r->payload);
	r->payload = NULL;
}

static struct sim_record rec_copy(const struct sim_record *r)
{
	struct sim_record c = *r;
	c.payload = NULL;
	if (r->len) {
		c.payload = malloc(r->len);
		ASSERT(c.payload);
		memcpy(c.payload, r->payload, r->len);
	}
	return c;
}

static uint64_t image_last(const struct sim_image *img)
{
	return img->start + img->n - 1;
}

static void image_truncate(struct sim_image *img, uint64_t from)
{
	while (img->n > 0 && image_last(img) >= from && from >= img->start)
		rec_free(&img->v[--img->n]);
	if (from < img->start) {
		while (img->n > 0)
			rec_free(&img->v[--img->n]);
	}
}

static void image_clear(struct sim_image *img, uint64_t start)
{
	image_truncate(img, img->start);
	img->start = start;
}

/* Takes ownership of rec. Records that would leave a gap (the image moved on) are dropped. */
static void image_push(struct sim_image *img, uint64_t index, struct sim_record rec)
{
	if (index != img->start + img->n) {
		rec_free(&rec);
		return;
	}
	if (img->n == img->cap) {
		img->cap = img->cap ? img->cap * 2 : 64;
		img->v = realloc(img->v, img->cap * sizeof(*img->v));
		ASSERT(img->v);
	}
	img->v[img->n++] = rec;
}

static void image_drop_before(struct sim_image *img, uint64_t index)
{
	if (index <= img->start)
		return;
	uint64_t drop = MIN(index - img->start, img->n);
	for (uint64_t i = 0; i < drop; i++)
		rec_free(&img->v[i]);
	memmove(img->v, img->v + drop, (img->n - drop) * sizeof(*img->v));
	img->n -= drop;
	img->start = index;
}

static void image_copy(struct sim_image *dst, const struct sim_image *src)
{
	image_clear(dst, src->start);
	for (uint64_t i = 0; i < src->n; i++)
		image_push(dst, src->start + i, rec_copy(&src->v[i]));
}

static struct sim_record *image_get(const struct sim_image *img, uint64_t index)
{
	if (img->n == 0 || index < img->start || index > image_last(img))
		return NULL;
	return &img->v[index - img->start];
}

/* ---- Set-up ---- */

void sim_store_init(struct sim_store *s, struct sim_sched *sched, struct sim_rng *rng,
		    const struct sim_store_latency *lat)
{
	memset(s, 0, sizeof(*s));
	s->sched = sched;
	s->rng = rng;
	s->lat = *lat;
	s->cur.start = s->dur.start = 1;
	s->meta.vote = REPL_NODE_NONE;
	s->next_mut_id = 1;
}

static void muts_clear(struct sim_store *s)
{
	for (unsigned i = 0; i < s->n_muts; i++) {
		for (unsigned k = 0; k < s->muts[i].n; k++)
			rec_free(&s->muts[i].recs[k]);
		free(s->muts[i].recs);
	}
	s->n_muts = 0;
}

void sim_store_free(struct sim_store *s)
{
	muts_clear(s);
	free(s->muts);
	image_clear(&s->cur, 1);
	image_clear(&s->dur, 1);
	free(s->cur.v);
	free(s->dur.v);
	free(s->snap_bytes);
	free(s->stage);
	free(s->boot_runs);
	free(s->boot_configs);
	memset(s, 0, sizeof(*s));
}

static uint64_t latency(struct sim_store *s, uint32_t lo, uint32_t hi)
{
	return sim_rng_range(s->rng, lo, hi);
}

/* Completions of one queue come in order: never before the previous one. */
static uint64_t due(struct sim_store *s, uint64_t *queue_due, uint32_t lo, uint32_t hi)
{
	uint64_t t = s->sched->now_us + latency(s, lo, hi);
	if (t < *queue_due)
		t = *queue_due;
	*queue_due = t;
	return t;
}

/* ---- Appends and truncations ---- */

static struct sim_mutation *mut_add(struct sim_store *s, uint8_t kind, uint64_t first)
{
	if (s->n_muts == s->muts_cap) {
		s->muts_cap = s->muts_cap ? s->muts_cap * 2 : 16;
		s->muts = realloc(s->muts, s->muts_cap * sizeof(*s->muts));
		ASSERT(s->muts);
	}
	struct sim_mutation *m = &s->muts[s->n_muts++];
	memset(m, 0, sizeof(*m));
	m->id = s->next_mut_id++;
	m->kind = kind;
	m->first = first;
	return m;
}

/* Applies mutation m (moving its records) to the durable image. */
static void mut_apply(struct sim_store *s, struct sim_mutation *m, unsigned n_recs)
{
	if (m->kind == MUT_TRUNCATE) {
		image_truncate(&s->dur, m->first);
		return;
	}
	ASSERT(m->first <= s->dur.start + s->dur.n); /* mutations land in order */
	image_truncate(&s->dur, m->first);
	for (unsigned k = 0; k < n_recs; k++) {
		image_push(&s->dur, m->first + k, m->recs[k]);
		m->recs[k].payload = NULL;
	}
}

static void ev_sync(void *arg, uint64_t gen, uint64_t id)
{
	struct sim_store *s = arg;
	if (gen != s->gen)
		return;
	unsigned k = 0;
	while (k < s->n_muts && s->muts[k].id != id)
		k++;
	if (k == s->n_muts)
		return; /* superseded by a snapshot install */
	struct sim_mutation m = s->muts[k];
	uint64_t last = m.first + m.n - 1, epoch = m.recs[m.n - 1].epoch;
	int status = 0;
	s->stats.syncs++;
	if (s->fail_next_sync || s->sync_failed) {
		s->fail_next_sync = false;
		s->sync_failed = true; /* nothing written from now on is known to be durable */
		s->stats.sync_failures++;
		status = -EIO;
	} else {
		for (unsigned i = 0; i <= k; i++)
			mut_apply(s, &s->muts[i], s->muts[i].n);
	}
	for (unsigned i = 0; i <= k; i++) {
		for (unsigned j = 0; j < s->muts[i].n; j++)
			rec_free(&s->muts[i].recs[j]);
		free(s->muts[i].recs);
	}
	memmove(s->muts, s->muts + k + 1, (s->n_muts - k - 1) * sizeof(*s->muts));
	s->n_muts -= k + 1;
	if (s->r)
		repl_append_done(s->r, last, epoch, status);
}

static void io_append(void *ctx, const struct repl_entry *e, unsigned n)
{
	struct sim_store *s = ctx;
	struct sim_mutation *m = mut_add(s, MUT_APPEND, e[0].index);
	m->recs = calloc(n, sizeof(*m->recs));
	ASSERT(m->recs);
	m->n = n;
	for (unsigned i = 0; i < n; i++) {
		struct sim_record rec = { .epoch = e[i].epoch, .len = e[i].len, .type = e[i].type,
					  .payload = (uint8_t *)e[i].payload };
		rec.crc = rec_crc(&rec);
		ASSERT(e[i].index == s->cur.start + s->cur.n);
		image_push(&s->cur, e[i].index, rec_copy(&rec));
		m->recs[i] = rec_copy(&rec);
	}
	s->stats.appends++;
	uint64_t t = due(s, &s->log_due_us, s->lat.sync_us_min, s->lat.sync_us_max);
	sim_sched_at(s->sched, t, ev_sync, s, s->gen, m->id);
}

static void io_truncate(void *ctx, uint64_t from)
{
	struct sim_store *s = ctx;
	ASSERT(from >= s->cur.start && from <= s->cur.start + s->cur.n);
	image_truncate(&s->cur, from);
	mut_add(s, MUT_TRUNCATE, from);
	s->stats.truncates++;
}

/* ---- Reads ---- */

struct read_req {
	struct sim_store *s;
	unsigned tag;
	uint64_t from, to;
	size_t max_bytes;
};

static void ev_read(void *arg, uint64_t gen, uint64_t unused)
{
	(void)unused;
	struct read_req *q = arg;
	struct sim_store *s = q->s;
	if (gen == s->gen && s->r) {
		struct repl_entry e[REPL_MSG_ENTRIES_MAX] = { 0 };
		unsigned n = 0;
		size_t bytes = 0;
		int status = 0;
		uint8_t *copies[REPL_MSG_ENTRIES_MAX];
		if (!image_get(&s->cur, q->from))
			status = -ENOENT;
		for (uint64_t i = q->from; status == 0 && i <= q->to && n < REPL_MSG_ENTRIES_MAX; i++) {
			const struct sim_record *rec = image_get(&s->cur, i);
			if (!rec || (n > 0 && bytes + rec->len > q->max_bytes))
				break;
			if (!sim_record_valid(rec)) {
				s->stats.corrupt_reads++;
				status = -EBADMSG;
				break;
			}
			/* Copies: the core may truncate the log while it looks at these. */
			copies[n] = rec->len ? malloc(rec->len) : NULL;
			if (rec->len)
				memcpy(copies[n], rec->payload, rec->len);
			e[n] = (struct repl_entry){ .epoch = rec->epoch, .index = i, .type = rec->type,
						    .len = rec->len, .payload = copies[n] };
			bytes += rec->len;
			n++;
		}
		repl_read_done(s->r, q->tag, e, n, status);
		for (unsigned i = 0; i < n; i++)
			free(copies[i]);
	}
	free(q);
}

static void io_read(void *ctx, unsigned tag, uint64_t from, uint64_t to, size_t max_bytes)
{
	struct sim_store *s = ctx;
	struct read_req *q = malloc(sizeof(*q));
	ASSERT(q);
	*q = (struct read_req){ .s = s, .tag = tag, .from = from, .to = to, .max_bytes = max_bytes };
	s->stats.reads++;
	uint64_t t = due(s, &s->read_due_us, s->lat.read_us_min, s->lat.read_us_max);
	sim_sched_at(s->sched, t, ev_read, q, s->gen, 0);
}

/* ---- Metadata ---- */

struct meta_req {
	struct sim_store *s;
	struct repl_meta meta;
};

static void ev_meta(void *arg, uint64_t gen, uint64_t unused)
{
	(void)unused;
	struct meta_req *q = arg;
	struct sim_store *s = q->s;
	if (gen == s->gen) {
		s->meta = q->meta;
		if (s->r)
			repl_meta_done(s->r, &q->meta, 0);
	}
	free(q);
}

static void io_meta_save(void *ctx, const struct repl_meta *meta)
{
	struct sim_store *s = ctx;
	struct meta_req *q = malloc(sizeof(*q));
	ASSERT(q);
	q->s = s;
	q->meta = *meta;
	s->stats.meta_saves++;
	uint64_t t = due(s, &s->meta_due_us, s->lat.meta_us_min, s->lat.meta_us_max);
	sim_sched_at(s->sched, t, ev_meta, q, s->gen, 0);
}

/* ---- Snapshots ---- */

struct snap_req {
	struct sim_store *s;
	unsigned tag;
	struct repl_snapshot_meta meta;
	uint64_t offset;
	size_t len;
	bool last;
	uint8_t data[];
};

static void ev_snap_read(void *arg, uint64_t gen, uint64_t unused)
{
	(void)unused;
	struct snap_req *q = arg;
	struct sim_store *s = q->s;
	if (gen == s->gen && s->r) {
		if (s->snap.index == 0 || q->offset > s->snap.total_bytes) {
			repl_snapshot_read_done(s->r, q->tag, &s->snap, q->offset, NULL, 0, -ENOENT);
		} else {
			size_t len = MIN(q->len, s->snap.total_bytes - q->offset);
			repl_snapshot_read_done(s->r, q->tag, &s->snap, q->offset,
						s->snap_bytes + q->offset, len, 0);
		}
	}
	free(q);
}

static void io_snapshot_read(void *ctx, unsigned tag, uint64_t offset, size_t max_bytes)
{
	struct sim_store *s = ctx;
	struct snap_req *q = malloc(sizeof(*q));
	ASSERT(q);
	*q = (struct snap_req){ .s = s, .tag = tag, .offset = offset, .len = max_bytes };
	s->stats.snap_reads++;
	uint64_t t = due(s, &s->read_due_us, s->lat.snap_us_min, s->lat.snap_us_max);
	sim_sched_at(s->sched, t, ev_snap_read, q, s->gen, 0);
}

static void snap_replace(struct sim_store *s, const struct repl_snapshot_meta *m,
			 const uint8_t *bytes)
{
	free(s->snap_bytes);
	s->snap = *m;
	s->snap_bytes = malloc(m->total_bytes ? m->total_bytes : 1);
	ASSERT(s->snap_bytes);
	memcpy(s->snap_bytes, bytes, m->total_bytes);
}

static void snap_install(struct sim_store *s)
{
	snap_replace(s, &s->stage_meta, s->stage);
	muts_clear(s);
	image_clear(&s->cur, s->snap.index + 1);
	image_clear(&s->dur, s->snap.index + 1);
	if (s->install)
		s->install(s->install_ctx, &s->snap, s->snap_bytes, s->snap.total_bytes);
}

static void ev_snap_write(void *arg, uint64_t gen, uint64_t unused)
{
	(void)unused;
	struct snap_req *q = arg;
	struct sim_store *s = q->s;
	if (gen == s->gen) {
		if (q->offset == 0) {
			s->stage_meta = q->meta;
			s->stage_len = 0;
			free(s->stage);
			s->stage = malloc(q->meta.total_bytes ? q->meta.total_bytes : 1);
			ASSERT(s->stage);
		}
		bool fits = q->offset == s->stage_len && q->offset + q->len <= s->stage_meta.total_bytes;
		ASSERT(fits); /* the core writes chunks in order */
		memcpy(s->stage + q->offset, q->data, q->len);
		s->stage_len += q->len;
		if (q->last)
			snap_install(s);
		if (s->r)
			repl_snapshot_write_done(s->r, &q->meta, q->offset, q->len, 0);
	}
	free(q);
}

static void io_snapshot_write(void *ctx, const struct repl_snapshot_meta *meta, uint64_t offset,
			      const uint8_t *data, size_t len, bool last)
{
	struct sim_store *s = ctx;
	struct snap_req *q = malloc(sizeof(*q) + len);
	ASSERT(q);
	*q = (struct snap_req){ .s = s, .meta = *meta, .offset = offset, .len = len, .last = last };
	if (len)
		memcpy(q->data, data, len);
	s->stats.snap_writes++;
	uint64_t t = due(s, &s->log_due_us, s->lat.snap_us_min, s->lat.snap_us_max);
	sim_sched_at(s->sched, t, ev_snap_write, q, s->gen, 0);
}

void sim_store_io(struct sim_store *s, struct repl_io *io)
{
	io->ctx = s;
	io->append = io_append;
	io->truncate = io_truncate;
	io->read = io_read;
	io->meta_save = io_meta_save;
	io->snapshot_read = io_snapshot_read;
	io->snapshot_write = io_snapshot_write;
}

/* ---- Crash and recovery ---- */

/* A prefix of the pending writes lands; the write the crash interrupts lands torn. */
static void crash_land(struct sim_store *s)
{
	if (s->sync_failed)
		return; /* what followed the failed sync is lost with it */
	for (unsigned i = 0; i < s->n_muts; i++) {
		struct sim_mutation *m = &s->muts[i];
		unsigned roll = (unsigned)sim_rng_below(s->rng, 3);
		if (roll == 0)
			return;
		if (roll == 1 || m->kind == MUT_TRUNCATE) {
			mut_apply(s, m, m->n);
			continue;
		}
		unsigned landed = (unsigned)sim_rng_below(s->rng, m->n);
		m->recs[landed].flags |= SIM_REC_TORN;
		mut_apply(s, m, landed + 1);
		return;
	}
}

void sim_store_crash(struct sim_store *s)
{
	s->gen++;
	s->r = NULL;
	s->stats.crashes++;
	crash_land(s);
	s->sync_failed = false;
	muts_clear(s);
	s->log_due_us = s->meta_due_us = s->read_due_us = 0;
	free(s->stage);
	s->stage = NULL;
	s->stage_len = 0;
	image_copy(&s->cur, &s->dur);
}

/* Cuts the log at the first bad record: silently for a torn tail, as damage for corruption
 * (the metadata remembers how far the log went, durably). */
static void recover_cut(struct sim_store *s)
{
	uint64_t bad = 0;
	bool corrupt = false;
	for (uint64_t i = 0; i < s->dur.n; i++) {
		const struct sim_record *r = &s->dur.v[i];
		if (!sim_record_valid(r) && !bad)
			bad = s->dur.start + i;
		if (!(r->flags & SIM_REC_TORN) && !sim_record_valid(r))
			corrupt = true; /* a checksum that fails on a complete record */
	}
	if (!bad)
		return;
	if (corrupt) {
		s->stats.damaged++;
		s->meta.repair_index = MAX(s->meta.repair_index, image_last(&s->dur));
	} else {
		s->stats.torn_cut++;
	}
	image_truncate(&s->dur, bad);
	image_copy(&s->cur, &s->dur);
}

static void boot_runs_push(struct sim_store *s, unsigned *n, uint64_t index, uint64_t epoch)
{
	if (*n > 0 && s->boot_runs[*n - 1].epoch == epoch)
		return;
	if (*n == s->boot_runs_cap) {
		s->boot_runs_cap = s->boot_runs_cap ? s->boot_runs_cap * 2 : 16;
		s->boot_runs = realloc(s->boot_runs, s->boot_runs_cap * sizeof(*s->boot_runs));
		ASSERT(s->boot_runs);
	}
	s->boot_runs[(*n)++] = (struct repl_epoch_run){ .start_index = index, .epoch = epoch };
}

static void boot_configs_push(struct sim_store *s, unsigned *n, uint64_t index,
			      const struct sim_record *rec)
{
	if (rec->type != REPL_ENTRY_CONFIG || rec->len != REPL_MEMBERS_BYTES)
		return;
	if (*n == s->boot_configs_cap) {
		s->boot_configs_cap = s->boot_configs_cap ? s->boot_configs_cap * 2 : 8;
		s->boot_configs = realloc(s->boot_configs,
					  s->boot_configs_cap * sizeof(*s->boot_configs));
		ASSERT(s->boot_configs);
	}
	struct repl_config_entry *c = &s->boot_configs[(*n)++];
	c->index = index;
	c->members.voters = c->members.learners = 0;
	for (unsigned i = 0; i < 8; i++) {
		c->members.voters |= (uint64_t)rec->payload[i] << (8 * i);
		c->members.learners |= (uint64_t)rec->payload[8 + i] << (8 * i);
	}
}

void sim_store_recover(struct sim_store *s, struct repl_boot *boot,
		       const struct repl_members *members)
{
	recover_cut(s);
	/* A log that ends inside the snapshot adds nothing to it: it restarts after it. */
	if (s->dur.start + s->dur.n <= s->snap.index + 1) {
		image_clear(&s->dur, s->snap.index + 1);
		image_copy(&s->cur, &s->dur);
	}
	unsigned n_runs = 0, n_configs = 0;
	for (uint64_t i = 0; i < s->dur.n; i++) {
		boot_runs_push(s, &n_runs, s->dur.start + i, s->dur.v[i].epoch);
		boot_configs_push(s, &n_configs, s->dur.start + i, &s->dur.v[i]);
	}
	memset(boot, 0, sizeof(*boot));
	boot->meta = s->meta;
	boot->snapshot = s->snap;
	boot->last_index = s->dur.n ? image_last(&s->dur) : s->dur.start - 1;
	if (boot->last_index < s->snap.index)
		boot->last_index = s->snap.index;
	boot->runs = s->boot_runs;
	boot->n_runs = n_runs;
	boot->configs = s->boot_configs;
	boot->n_configs = n_configs;
	if (members)
		boot->members = *members;
}

/* ---- Host operations, faults, inspection ---- */

uint64_t sim_store_compact(struct sim_store *s, const struct repl_snapshot_meta *meta,
			   const uint8_t *bytes, uint64_t keep_tail)
{
	snap_replace(s, meta, bytes);
	uint64_t start = meta->index + 1 > keep_tail ? meta->index + 1 - keep_tail : 1;
	start = MAX(start, s->cur.start);
	image_drop_before(&s->cur, start);
	image_drop_before(&s->dur, start);
	return start;
}

bool sim_store_corrupt(struct sim_store *s, uint64_t index)
{
	struct sim_record *d = image_get(&s->dur, index), *c = image_get(&s->cur, index);
	if (!d || !c || d->epoch != c->epoch || d->len == 0 || !sim_record_valid(d) ||
	    !sim_record_valid(c))
		return false;
	/* A flipped bit in the payload, on disk and in what reads would return. */
	unsigned at = (unsigned)sim_rng_below(s->rng, d->len);
	uint8_t bit = (uint8_t)(1u << sim_rng_below(s->rng, 8));
	d->payload[at] ^= bit;
	c->payload[at] ^= bit;
	return true;
}

bool sim_store_has_corrupt(const struct sim_store *s)
{
	for (uint64_t i = 0; i < s->dur.n; i++)
		if (!sim_record_valid(&s->dur.v[i]) && !(s->dur.v[i].flags & SIM_REC_TORN))
			return true;
	for (uint64_t i = 0; i < s->cur.n; i++)
		if (!sim_record_valid(&s->cur.v[i]) && !(s->cur.v[i].flags & SIM_REC_TORN))
			return true;
	return false;
}

const struct sim_record *sim_store_get(const struct sim_store *s, uint64_t index)
{
	return image_get(&s->cur, index);
}

uint64_t sim_store_last(const struct sim_store *s)
{
	return s->cur.start + s->cur.n - 1;
}

unsigned sim_store_pending(const struct sim_store *s)
{
	return s->n_muts;
}
