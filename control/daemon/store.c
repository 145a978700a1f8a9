/* The control store (see store.h): opening and recovery (log, metadata, snapshot, then a scan
 * of the log for the core's boot state), and the core's log I/O carried out on the log:
 * appends and truncations in order (queued while the log is busy), reads for catch-up and
 * for applying, durable-index reports. */
#define LOG_COMPONENT "store"
#include "daemon/store_priv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/panic.h"

#define STORE_WRITE_BUF_BYTES (256u << 10)
#define STORE_ENTRY_BYTES_MAX (64u << 10)
#define STORE_SCAN_BUDGET_BYTES (256u << 10)

static void scan_next(struct ctld_store *s);

void store_fail(struct ctld_store *s, int err, const char *fmt, ...)
{
	char why[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	bool was = s->failed;
	s->failed = true;
	if (!s->booted) {
		s->booted = true; /* opened() is called once, failed or not */
		s->cbs.opened(s->cbs.ctx, err, why, NULL);
		return;
	}
	if (!was)
		s->cbs.fatal(s->cbs.ctx, err, why);
}

bool ctld_members_decode(const uint8_t *p, uint32_t len, struct repl_members *out)
{
	if (len != REPL_MEMBERS_BYTES)
		return false;
	out->voters = out->learners = 0;
	for (unsigned i = 0; i < 8; i++) {
		out->voters |= (uint64_t)p[i] << (8 * i);
		out->learners |= (uint64_t)p[8 + i] << (8 * i);
	}
	return out->voters != 0 && (out->voters & out->learners) == 0;
}

/* ---- The log's callbacks ---- */

static void store_durable(void *ctx, uint64_t durable_index)
{
	struct ctld_store *s = ctx;
	uint64_t epoch = 0;
	if (s->r == NULL || durable_index == 0 || log_epoch_at(s->log, durable_index, &epoch) != 0)
		return; /* moved down by a truncation: the core knows */
	repl_append_done(s->r, durable_index, epoch, 0);
}

static void store_log_fatal(void *ctx, int err, const char *msg)
{
	store_fail(ctx, err, "control log: %s", msg);
}

/* ---- Appends and truncations, in order, queued while the log is busy ---- */

static void store_queue(struct ctld_store *s, const struct log_entry *e, bool truncate)
{
	struct store_append *a = malloc(sizeof(*a) + (truncate ? 0 : e->len));
	ASSERT_MSG(a != NULL, "out of memory queueing a control log entry");
	a->e = *e;
	a->truncate = truncate;
	if (!truncate) {
		memcpy(a->data, e->data, e->len);
		a->e.data = a->data;
	}
	list_push_back(&s->appends, &a->node);
}

static int store_appends_retry(struct ctld_store *s)
{
	int n = 0;
	while (!list_empty(&s->appends) && !s->failed) {
		struct store_append *a = list_entry(s->appends.next, struct store_append, node);
		int rc = a->truncate ? log_truncate(s->log, a->e.index) : log_append(s->log, &a->e);
		if (rc == -EAGAIN || rc == -ENOSPC)
			break;
		if (rc != 0) {
			store_fail(s, rc, "cannot write entry %llu to the control log: %s",
				   (unsigned long long)a->e.index, strerror(-rc));
			break;
		}
		s->flush_needed = true;
		list_unlink(&a->node);
		free(a);
		n++;
	}
	return n;
}

static void io_append(void *ctx, const struct repl_entry *entries, unsigned n)
{
	struct ctld_store *s = ctx;
	for (unsigned i = 0; i < n && !s->failed; i++) {
		const struct repl_entry *r = &entries[i];
		struct log_entry e = { .epoch = r->epoch, .index = r->index, .data = r->payload,
				       .len = r->len, .type = r->type };
		int rc = list_empty(&s->appends) ? log_append(s->log, &e) : -EAGAIN;
		if (rc == 0)
			s->flush_needed = true;
		else if (rc == -EAGAIN || rc == -ENOSPC)
			store_queue(s, &e, false);
		else
			store_fail(s, rc, "cannot append entry %llu to the control log: %s",
				   (unsigned long long)e.index, strerror(-rc));
	}
}

static void io_truncate(void *ctx, uint64_t from_index)
{
	struct ctld_store *s = ctx;
	struct list_node *pos, *tmp;
	list_for_each_safe(pos, tmp, &s->appends) {
		struct store_append *a = list_entry(pos, struct store_append, node);
		if (!a->truncate && a->e.index >= from_index) {
			list_unlink(pos);
			free(a);
		}
	}
	struct log_entry e = { .index = from_index - 1 };
	int rc = list_empty(&s->appends) ? log_truncate(s->log, from_index - 1) : -EAGAIN;
	if (rc == -EAGAIN)
		store_queue(s, &e, true);
	else if (rc != 0)
		store_fail(s, rc, "cannot cut the control log after entry %llu: %s",
			   (unsigned long long)(from_index - 1), strerror(-rc));
	else
		s->flush_needed = true;
}

/* ---- Reads for catch-up and for applying ---- */

static void store_read_cb(struct log_read *rd, int err, const struct log_entry *entries,
			  uint32_t count)
{
	struct store_read *r = container_of(rd, struct store_read, rd);
	struct repl_entry out[LOG_READ_ENTRIES_MAX];
	uint32_t n = 0;
	for (uint32_t i = 0; i < count && entries[i].index <= r->to_index; i++, n++)
		out[i] = (struct repl_entry){ .epoch = entries[i].epoch, .index = entries[i].index,
					      .payload = entries[i].data, .len = entries[i].len,
					      .type = (uint8_t)entries[i].type };
	r->busy = false;
	if (err == -ESTALE) {
		r->queued = true; /* a truncation raced the read: read again */
		return;
	}
	repl_read_done(r->s->r, r->tag, out, n, err);
}

static void store_read_start(struct store_read *r)
{
	r->rd.from_index = r->from_index;
	r->rd.budget_bytes = (uint32_t)MIN(r->max_bytes, (size_t)UINT32_MAX);
	r->rd.cb = store_read_cb;
	int rc = log_read(r->s->log, &r->rd);
	if (rc == 0) {
		r->busy = true;
		r->queued = false;
	} else if (rc != -EBUSY && rc != -ENODATA) {
		r->err = rc; /* reported next turn */
	}
}

static int store_reads_retry(struct ctld_store *s)
{
	int n = 0;
	for (unsigned t = 0; t < CTLD_STORE_READS_MAX; t++) {
		struct store_read *r = &s->reads[t];
		if (!r->queued)
			continue;
		n++;
		if (r->err != 0) {
			int err = r->err == -ESTALE ? -ENOENT : r->err;
			r->queued = false;
			r->err = 0;
			repl_read_done(s->r, t, NULL, 0, err);
			continue;
		}
		store_read_start(r);
	}
	return n;
}

static void io_read(void *ctx, unsigned tag, uint64_t from_index, uint64_t to_index,
		    size_t max_bytes)
{
	struct ctld_store *s = ctx;
	ASSERT(tag < CTLD_STORE_READS_MAX);
	struct store_read *r = &s->reads[tag];
	ASSERT(!r->busy);
	*r = (struct store_read){ .s = s, .tag = tag, .from_index = from_index,
				  .to_index = to_index, .max_bytes = max_bytes,
				  .queued = true }; /* started next turn */
}

void ctld_store_io(struct ctld_store *s, struct repl_io *io)
{
	io->ctx = s;
	io->append = io_append;
	io->truncate = io_truncate;
	io->read = io_read;
	io->meta_save = store_meta_save;
	store_snap_io(io);
}

void ctld_store_repl_set(struct ctld_store *s, struct repl *r)
{
	s->r = r;
}

void *ctld_store_host(void *store)
{
	return ((struct ctld_store *)store)->cbs.ctx;
}

int ctld_store_work(struct ctld_store *s)
{
	if (s->failed || s->log == NULL)
		return 0;
	log_tick(s->log);
	if (!s->booted) {
		if (s->scan.retry)
			scan_next(s);
		return 0;
	}
	int n = store_appends_retry(s);
	if (s->r != NULL) {
		n += store_reads_retry(s);
		n += store_snap_work(s);
	}
	return n;
}

int ctld_store_flush(struct ctld_store *s)
{
	if (!s->flush_needed || s->failed)
		return 0;
	s->flush_needed = false;
	int rc = log_flush(s->log);
	if (rc != 0 && rc != -EAGAIN)
		store_fail(s, rc, "cannot flush the control log: %s", strerror(-rc));
	s->stats.flushes++;
	return 1;
}

/* ---- Boot: scan the log after the snapshot ---- */

static bool scan_push_run(struct store_scan *sc, uint64_t index, uint64_t epoch)
{
	if (sc->n_runs > 0 && sc->runs[sc->n_runs - 1].epoch == epoch)
		return true;
	if (sc->n_runs == sc->runs_cap) {
		unsigned cap = sc->runs_cap ? 2 * sc->runs_cap : 16;
		struct repl_epoch_run *v = realloc(sc->runs, cap * sizeof(*v));
		if (v == NULL)
			return false;
		sc->runs = v;
		sc->runs_cap = cap;
	}
	sc->runs[sc->n_runs++] = (struct repl_epoch_run){ .start_index = index, .epoch = epoch };
	return true;
}

static bool scan_push_config(struct store_scan *sc, uint64_t index, const struct repl_members *m)
{
	if (sc->n_configs == sc->configs_cap) {
		unsigned cap = sc->configs_cap ? 2 * sc->configs_cap : 8;
		struct repl_config_entry *v = realloc(sc->configs, cap * sizeof(*v));
		if (v == NULL)
			return false;
		sc->configs = v;
		sc->configs_cap = cap;
	}
	sc->configs[sc->n_configs++] = (struct repl_config_entry){ .index = index, .members = *m };
	return true;
}

static void scan_cb(struct log_read *rd, int err, const struct log_entry *e, uint32_t count)
{
	struct ctld_store *s = container_of(rd, struct ctld_store, scan.rd);
	struct store_scan *sc = &s->scan;
	if (err != 0) {
		store_fail(s, err, "cannot read the control log at entry %llu: %s",
			   (unsigned long long)sc->next, strerror(-err));
		return;
	}
	for (uint32_t i = 0; i < count; i++) {
		struct repl_members m;
		ASSERT(e[i].index == sc->next);
		if (!scan_push_run(sc, e[i].index, e[i].epoch)) {
			store_fail(s, -ENOMEM, "out of memory scanning the control log");
			return;
		}
		if (e[i].type == REPL_ENTRY_CONFIG &&
		    (!ctld_members_decode(e[i].data, e[i].len, &m) || !scan_push_config(sc, e[i].index, &m))) {
			store_fail(s, -EBADMSG, "bad membership entry %llu in the control log",
				   (unsigned long long)e[i].index);
			return;
		}
		sc->next++;
	}
	scan_next(s);
}

static void scan_next(struct ctld_store *s)
{
	struct store_scan *sc = &s->scan;
	sc->retry = false;
	if (sc->next > log_last_index(s->log)) {
		store_boot_finish(s);
		return;
	}
	sc->rd.from_index = sc->next;
	sc->rd.budget_bytes = STORE_SCAN_BUDGET_BYTES;
	sc->rd.cb = scan_cb;
	int rc = log_read(s->log, &sc->rd);
	if (rc == -EBUSY || rc == -ENODATA)
		sc->retry = true; /* by the next turn's ctld_store_work() */
	else if (rc != 0)
		store_fail(s, rc, "cannot read the control log at entry %llu: %s",
			   (unsigned long long)sc->next, strerror(-rc));
}

void store_boot_finish(struct ctld_store *s)
{
	struct repl_boot boot;
	memset(&boot, 0, sizeof(boot));
	boot.meta = s->meta.cur;
	boot.snapshot = (struct repl_snapshot_meta){ .index = s->snap_index, .epoch = s->snap_epoch,
						     .total_bytes = s->snap_len,
						     .members = s->snap_members };
	boot.last_index = log_last_index(s->log);
	boot.runs = s->scan.runs;
	boot.n_runs = s->scan.n_runs;
	boot.configs = s->scan.configs;
	boot.n_configs = s->scan.n_configs;
	boot.members = s->snap_index > 0 ? s->snap_members : s->cfg.members;
	s->applied_members = boot.members;
	s->booted = true;
	LOG_INFO("control log recovered: snapshot at %llu, entries %llu-%llu, %u membership entries",
		 (unsigned long long)s->snap_index, (unsigned long long)(s->snap_index + 1),
		 (unsigned long long)boot.last_index, boot.n_configs);
	s->cbs.opened(s->cbs.ctx, 0, NULL, &boot);
	free(s->scan.runs);
	free(s->scan.configs);
	memset(&s->scan, 0, sizeof(s->scan));
}

static void store_snap_loaded(struct ctld_store *s, int err)
{
	if (err != 0) {
		store_fail(s, err, "cannot load the control snapshot at entry %llu: %s",
			   (unsigned long long)s->rec.snapshot_index, strerror(-err));
		return;
	}
	s->scan.next = s->snap_index + 1;
	scan_next(s);
}

static void store_meta_loaded(struct ctld_store *s, int err)
{
	if (err != 0) {
		store_fail(s, err, "cannot read %s/meta.*: %s", s->dir, strerror(-err));
		return;
	}
	if (s->rec.snapshot_index > 0) {
		store_snap_load(s, store_snap_loaded);
		return;
	}
	s->scan.next = log_first_index(s->log);
	if (s->scan.next == 0)
		s->scan.next = 1;
	scan_next(s);
}

static void store_opened(void *arg, struct log *log, int err, const struct log_recovery *rec)
{
	struct ctld_store *s = arg;
	s->log = log;
	if (err == -EBADMSG) {
		store_fail(s, err, "corrupt control log: %s at offset %llu (entry %llu): %s; remove "
			   "this node's control data and add it to the cluster again",
			   rec->corruption.path, (unsigned long long)rec->corruption.offset,
			   (unsigned long long)rec->corruption.index, rec->corruption.reason);
		return;
	}
	if (err != 0) {
		store_fail(s, err, "cannot open the control log in %s: %s", s->log_dir, strerror(-err));
		return;
	}
	s->rec = *rec;
	if (rec->tail_cut)
		LOG_WARN("control log: cut a torn tail of %llu bytes (entries %llu-%llu, never "
			 "acknowledged)", (unsigned long long)rec->cut.bytes,
			 (unsigned long long)rec->cut.first_index, (unsigned long long)rec->cut.last_index);
	store_meta_load(s, store_meta_loaded);
}

struct ctld_store *ctld_store_open(const struct ctld_store_config *cfg, struct log_disk *disk,
				   const struct ctld_store_callbacks *cbs, struct ctl_state *state)
{
	struct ctld_store *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->cfg = *cfg;
	s->disk = disk;
	s->cbs = *cbs;
	s->state = state;
	list_init(&s->appends);
	if (snprintf(s->dir, sizeof(s->dir), "%s", cfg->dir) >= (int)sizeof(s->dir) ||
	    snprintf(s->log_dir, sizeof(s->log_dir), "%s/log", cfg->dir) >= (int)sizeof(s->log_dir) ||
	    store_meta_init(s) != 0) {
		LOG_ERROR("control store: data directory path too long, or out of memory");
		ctld_store_destroy(s);
		return NULL;
	}
	s->cfg.dir = s->dir;
	ctl_state_init(state);
	struct log_config lc = { .dir = s->log_dir, .lane = 0, .segment_bytes = cfg->segment_bytes,
				 .entry_bytes_max = STORE_ENTRY_BYTES_MAX,
				 .write_buf_bytes = STORE_WRITE_BUF_BYTES,
				 .snapshot_log_bytes = cfg->snapshot_every_bytes };
	struct log_callbacks lcb = { .durable = store_durable, .fatal = store_log_fatal, .ctx = s };
	if (log_open(&lc, disk, &lcb, store_opened, s) == NULL) {
		ctld_store_destroy(s);
		return NULL;
	}
	return s;
}

void ctld_store_close(struct ctld_store *s, void (*done)(void *arg), void *arg)
{
	if (s->log == NULL || s->failed || !s->booted) {
		done(arg);
		return;
	}
	s->failed = true; /* nothing more goes to the log */
	log_close(s->log, done, arg);
}

void ctld_store_destroy(struct ctld_store *s)
{
	if (s == NULL)
		return;
	struct list_node *n;
	while ((n = list_pop_front(&s->appends)) != NULL)
		free(list_entry(n, struct store_append, node));
	store_snap_free(s);
	store_meta_free(s);
	free(s->scan.runs);
	free(s->scan.configs);
	if (s->log != NULL)
		log_destroy(s->log);
	free(s);
}

void ctld_store_members_applied(struct ctld_store *s, const struct repl_members *m)
{
	s->applied_members = *m;
}

void ctld_store_stats_get(const struct ctld_store *s, struct ctld_store_stats *out)
{
	*out = s->stats;
	if (s->log == NULL || !s->booted || s->failed)
		return;
	struct log_stats ls;
	log_stats_get(s->log, &ls);
	out->first_index = ls.first_index;
	out->last_index = ls.last_index;
	out->durable_index = ls.durable_index;
	out->log_bytes = ls.log_bytes;
	out->snapshot_index = s->snap_index;
	out->snapshot_bytes = s->snap_len;
}
