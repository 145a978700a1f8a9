/* The durable lane's test fixture (see fixture.h). */
#include "fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc.h"
#include "base/log.h"
#include "base/panic.h"
#include "lane/lane_priv.h"
#include "model.h"

#define LF_SETTLE_QUIET_TURNS 4
#define LF_DRAIN_TURNS 64

/* A sync held back by the pass-through table. */
struct lf_held {
	struct log_disk_io *io;
	int fh;
	unsigned flags;
};

/* What the pass-through table keeps in an operation's driver area while it is in flight. */
struct lf_io_state {
	log_disk_cb cb;
	struct lf_disk *d;
	int kind;
	int fh;
	unsigned flags;
};
STATIC_ASSERT(sizeof(struct lf_io_state) <= LOG_DISK_IO_DRV_BYTES, "fits the driver area");

/* ---- The pass-through disk table ---- */

static struct lf_disk *lf_disk_of(struct log_disk *b)
{
	return container_of(b, struct lf_disk, base);
}

static struct log_disk *lf_sim(struct lf_disk *d)
{
	return sim_disk_io(d->sim);
}

static void lf_ptr_push(struct log_disk_io ***arr, uint32_t *n, uint32_t *cap, struct log_disk_io *io)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*arr = realloc(*arr, *cap * sizeof(**arr));
		ASSERT(*arr != NULL);
	}
	(*arr)[(*n)++] = io;
}

static void lf_untrack(struct lf_disk *d, struct log_disk_io *io)
{
	for (uint32_t i = 0; i < d->ninflight; i++) {
		if (d->inflight[i] == io) {
			memmove(&d->inflight[i], &d->inflight[i + 1], (d->ninflight - i - 1) * sizeof(io));
			d->ninflight--;
			return;
		}
	}
	PANIC("lane fixture: completion of an operation not in flight");
}

static void lf_io_done(struct log_disk_io *io, int res)
{
	struct lf_io_state *st = (struct lf_io_state *)(void *)io->drv;
	struct lf_disk *d = st->d;
	lf_untrack(d, io);
	if (st->kind == SIM_DISK_SYNC && res == 0)
		d->syncs_done++;
	if (st->kind == SIM_DISK_OPEN && res >= 0 && res < LF_FH_MAX)
		d->dir_fh[res] = (st->flags & LOG_DISK_O_DIR) != 0;
	if (st->kind == SIM_DISK_CLOSE && st->fh >= 0 && st->fh < LF_FH_MAX)
		d->dir_fh[st->fh] = false;
	io->cb = st->cb;
	io->cb(io, res);
}

static const char *const lf_op_names[SIM_DISK_OP_COUNT] = {
	"open", "close", "write", "read", "sync", "fallocate", "size", "rename", "unlink",
	"mkdir", "list",
};

/* LANE_TRACE_IO=1 prints every operation the lanes start. */
static void lf_trace(const struct lf_disk *d, int kind, const char *path, int fh, uint64_t off,
		     uint64_t len)
{
	static int on = -1;
	if (on < 0)
		on = getenv("LANE_TRACE_IO") != NULL;
	if (on)
		fprintf(stderr, "io step %llu disk %u: %s %s fh %d off %llu len %llu%s\n",
			(unsigned long long)d->f->steps, (unsigned)(d - d->f->disks), lf_op_names[kind],
			path ? path : "", fh, (unsigned long long)off, (unsigned long long)len,
			d->dead ? " (dead)" : "");
}

/* Tracks io; returns false when the disk is dead (its failure is then queued). */
static bool lf_io_begin_fh(struct lf_disk *d, struct log_disk_io *io, int kind, int fh,
			   unsigned flags)
{
	struct lf_io_state *st = (struct lf_io_state *)(void *)io->drv;
	st->cb = io->cb;
	st->d = d;
	st->kind = kind;
	st->fh = fh;
	st->flags = flags;
	io->cb = lf_io_done;
	lf_ptr_push(&d->inflight, &d->ninflight, &d->capinflight, io);
	if (!d->dead)
		return true;
	lf_ptr_push(&d->dead_q, &d->ndead, &d->capdead, io);
	return false;
}

static bool lf_io_begin(struct lf_disk *d, struct log_disk_io *io, int kind)
{
	return lf_io_begin_fh(d, io, kind, -1, 0);
}

static void lfd_open(struct log_disk *b, struct log_disk_io *io, const char *path, unsigned flags)
{
	struct lf_disk *d = lf_disk_of(b);
	lf_trace(d, SIM_DISK_OPEN, path, -1, flags, 0);
	if (d->hold_dir_syncs_after != NULL && strstr(path, d->hold_dir_syncs_after) != NULL)
		d->hold_dir_syncs = true;
	if (lf_io_begin_fh(d, io, SIM_DISK_OPEN, -1, flags))
		lf_sim(d)->ops->open(lf_sim(d), io, path, flags);
}

static void lfd_close(struct log_disk *b, struct log_disk_io *io, int fh)
{
	struct lf_disk *d = lf_disk_of(b);
	lf_trace(d, SIM_DISK_CLOSE, NULL, fh, 0, 0);
	if (lf_io_begin_fh(d, io, SIM_DISK_CLOSE, fh, 0))
		lf_sim(d)->ops->close(lf_sim(d), io, fh);
}

static void lfd_write(struct log_disk *b, struct log_disk_io *io, int fh, const void *buf,
		      size_t len, uint64_t off, unsigned flags)
{
	struct lf_disk *d = lf_disk_of(b);
	lf_trace(d, SIM_DISK_WRITE, NULL, fh, off, len);
	if (lf_io_begin(d, io, SIM_DISK_WRITE))
		lf_sim(d)->ops->write(lf_sim(d), io, fh, buf, len, off, flags);
}

static void lfd_read(struct log_disk *b, struct log_disk_io *io, int fh, void *buf, size_t len,
		     uint64_t off)
{
	struct lf_disk *d = lf_disk_of(b);
	lf_trace(d, SIM_DISK_READ, NULL, fh, off, len);
	if (lf_io_begin(d, io, SIM_DISK_READ))
		lf_sim(d)->ops->read(lf_sim(d), io, fh, buf, len, off);
}

static void lfd_sync(struct log_disk *b, struct log_disk_io *io, int fh, unsigned flags)
{
	struct lf_disk *d = lf_disk_of(b);
	lf_trace(d, SIM_DISK_SYNC, NULL, fh, flags, 0);
	if (!lf_io_begin(d, io, SIM_DISK_SYNC))
		return;
	bool dir = fh >= 0 && fh < LF_FH_MAX && d->dir_fh[fh];
	if (!d->hold_syncs && !(d->hold_dir_syncs && dir)) {
		lf_sim(d)->ops->sync(lf_sim(d), io, fh, flags);
		return;
	}
	if (d->nheld == d->capheld) {
		d->capheld = d->capheld ? d->capheld * 2 : 16;
		d->held = realloc(d->held, d->capheld * sizeof(*d->held));
		ASSERT(d->held != NULL);
	}
	d->held[d->nheld++] = (struct lf_held){ .io = io, .fh = fh, .flags = flags };
}

static void lfd_fallocate(struct log_disk *b, struct log_disk_io *io, int fh, uint64_t off,
			  uint64_t len)
{
	struct lf_disk *d = lf_disk_of(b);
	lf_trace(d, SIM_DISK_FALLOCATE, NULL, fh, off, len);
	if (lf_io_begin(d, io, SIM_DISK_FALLOCATE))
		lf_sim(d)->ops->fallocate(lf_sim(d), io, fh, off, len);
}

static void lfd_size(struct log_disk *b, struct log_disk_io *io, int fh, uint64_t *out)
{
	struct lf_disk *d = lf_disk_of(b);
	lf_trace(d, SIM_DISK_SIZE, NULL, fh, 0, 0);
	if (lf_io_begin(d, io, SIM_DISK_SIZE))
		lf_sim(d)->ops->size(lf_sim(d), io, fh, out);
}

static void lfd_rename(struct log_disk *b, struct log_disk_io *io, const char *from, const char *to)
{
	struct lf_disk *d = lf_disk_of(b);
	lf_trace(d, SIM_DISK_RENAME, to, -1, 0, 0);
	if (lf_io_begin(d, io, SIM_DISK_RENAME))
		lf_sim(d)->ops->rename(lf_sim(d), io, from, to);
}

static void lfd_unlink(struct log_disk *b, struct log_disk_io *io, const char *path)
{
	struct lf_disk *d = lf_disk_of(b);
	lf_trace(d, SIM_DISK_UNLINK, path, -1, 0, 0);
	if (lf_io_begin(d, io, SIM_DISK_UNLINK))
		lf_sim(d)->ops->unlink(lf_sim(d), io, path);
}

static void lfd_mkdir(struct log_disk *b, struct log_disk_io *io, const char *path)
{
	struct lf_disk *d = lf_disk_of(b);
	lf_trace(d, SIM_DISK_MKDIR, path, -1, 0, 0);
	if (lf_io_begin(d, io, SIM_DISK_MKDIR))
		lf_sim(d)->ops->mkdir(lf_sim(d), io, path);
}

static void lfd_list(struct log_disk *b, struct log_disk_io *io, const char *dir,
		     struct log_disk_names *out)
{
	struct lf_disk *d = lf_disk_of(b);
	lf_trace(d, SIM_DISK_LIST, dir, -1, 0, 0);
	if (lf_io_begin(d, io, SIM_DISK_LIST))
		lf_sim(d)->ops->list(lf_sim(d), io, dir, out);
}

static uint64_t lfd_now(struct log_disk *b)
{
	return sim_disk_now_ns(lf_disk_of(b)->sim);
}

static const struct log_disk_ops lf_disk_ops = {
	.open = lfd_open, .close = lfd_close, .write = lfd_write, .read = lfd_read,
	.sync = lfd_sync, .fallocate = lfd_fallocate, .size = lfd_size, .rename = lfd_rename,
	.unlink = lfd_unlink, .mkdir = lfd_mkdir, .list = lfd_list, .now_ns = lfd_now,
};

/* The disk's poller: reports failures of a dead disk, else completes what was in flight at
 * the start of the turn (stopping at crash_at), and moves the clock on when idle. */
static int lf_disk_poll(void *arg)
{
	struct lf_disk *d = arg;
	struct lf *f = d->f;
	int work = 0;
	for (uint32_t n = d->ndead; n > 0 && d->ndead > 0; n--) {
		struct log_disk_io *io = d->dead_q[0];
		memmove(&d->dead_q[0], &d->dead_q[1], (d->ndead - 1) * sizeof(io));
		d->ndead--;
		lf_io_done(io, -EIO);
		work++;
	}
	if (d->dead || f->paused || f->halted)
		return work;
	uint32_t n = sim_disk_inflight(d->sim);
	for (uint32_t i = 0; i < n; i++) {
		if (f->crash_at != 0 && f->steps + 1 >= f->crash_at) {
			f->halted = true;
			return work;
		}
		if (!sim_disk_step(d->sim))
			break;
		f->steps++;
		work++;
	}
	if (n == 0)
		sim_disk_advance(d->sim, LF_IDLE_ADVANCE_NS);
	return work;
}

void lf_release_syncs(struct lf *f)
{
	for (uint32_t l = 0; l < f->cfg.loops; l++) {
		struct lf_disk *d = &f->disks[l];
		d->hold_syncs = false;
		d->hold_dir_syncs = false;
		d->hold_dir_syncs_after = NULL;
		for (uint32_t i = 0; i < d->nheld; i++)
			lf_sim(d)->ops->sync(lf_sim(d), d->held[i].io, d->held[i].fh, d->held[i].flags);
		d->nheld = 0;
	}
}

/* ---- Set-up ---- */

static void lf_fatal(void *ctx, uint32_t lane, int err, const char *why)
{
	struct lf *f = ctx;
	if (f->crashed)
		return; /* the dead lane set failing its last I/O: nobody hears it */
	f->fatal_calls++;
	f->fatal_lane = lane;
	f->fatal_err = err;
	snprintf(f->fatal_why, sizeof(f->fatal_why), "%s", why);
}

static void lf_quiet_logs(void)
{
	const char *lvl = getenv("SPINDLE_TEST_LOG");
	enum log_level l;
	if (lvl != NULL && log_level_parse(lvl, &l) == 0)
		log_level_min = l;
	else
		log_level_min = (enum log_level)(LOG_LEVEL_ERROR + 1);
}

void lf_test_filter(void)
{
	if (getenv("LANE_TEST") != NULL)
		cmocka_set_test_filter(getenv("LANE_TEST"));
}

void lf_init(struct lf *f, const struct lf_config *cfg)
{
	memset(f, 0, sizeof(*f));
	f->cfg = *cfg;
	ASSERT(cfg->loops >= 1 && cfg->loops <= LF_LOOPS_MAX && cfg->lanes >= cfg->loops);
	if (f->cfg.segment_bytes == 0)
		f->cfg.segment_bytes = LF_SEGMENT_BYTES;
	lf_quiet_logs();
	for (uint32_t l = 0; l < cfg->loops; l++) {
		struct loop_config lc = { .id = l, .msg_ring_slots = 1024 };
		f->loops[l] = loop_create(&lc);
		assert_non_null(f->loops[l]);
		struct sim_disk_config dc = { .seed = cfg->seed * 131 + l + 1,
					      .capacity_bytes = cfg->capacity_bytes,
					      .reorder = cfg->reorder };
		struct lf_disk *d = &f->disks[l];
		d->base.ops = &lf_disk_ops;
		d->f = f;
		d->sim = sim_disk_create(&dc);
		assert_non_null(d->sim);
		assert_int_equal(sim_disk_mkdir(d->sim, LF_DATA_DIR), 0);
		loop_poller_add(f->loops[l], &d->poller, "sim-disk", lf_disk_poll, d);
	}
}

static void lf_op_free(struct lf_op *op)
{
	resp_out_reset(&op->out);
	resp_chunk_pool_destroy(&op->pool);
	free(op->reply);
	free(op->text);
	free(op);
}

void lf_fini(struct lf *f)
{
	if (f->set != NULL)
		lf_shutdown(f);
	for (uint32_t i = 0; i < f->nops; i++)
		lf_op_free(f->ops[i]);
	free(f->ops);
	for (uint32_t l = 0; l < f->cfg.loops; l++) {
		struct lf_disk *d = &f->disks[l];
		loop_poller_remove(f->loops[l], &d->poller);
		loop_destroy(f->loops[l]);
		sim_disk_destroy(d->sim);
		free(d->inflight);
		free(d->held);
		free(d->dead_q);
	}
	memset(f, 0, sizeof(*f));
}

/* ---- Turning the loops ---- */

int lf_turn(struct lf *f)
{
	int work = 0;
	for (uint32_t l = 0; l < f->cfg.loops; l++) {
		work += loop_run_once(f->loops[l]);
		f->turns[l]++;
	}
	return work;
}

static bool lf_disks_idle(const struct lf *f)
{
	for (uint32_t l = 0; l < f->cfg.loops; l++) {
		const struct lf_disk *d = &f->disks[l];
		if (d->ndead > 0)
			return false;
		if (!f->paused && !f->halted && !d->dead && sim_disk_inflight(d->sim) > 0)
			return false;
	}
	return true;
}

void lf_settle(struct lf *f)
{
	int quiet = 0;
	for (uint64_t t = 0; t < LF_TURNS_MAX; t++) {
		int work = lf_turn(f);
		quiet = work == 0 && lf_disks_idle(f) ? quiet + 1 : 0;
		if (quiet >= LF_SETTLE_QUIET_TURNS)
			return;
	}
	fail_msg("%s: the lanes did not settle in %d turns", f->label, LF_TURNS_MAX);
}

void lf_wait(struct lf *f, struct lf_op *const *ops, uint32_t n)
{
	uint32_t fatal = f->fatal_calls;
	for (uint64_t t = 0; t < LF_TURNS_MAX; t++) {
		uint32_t i = 0;
		while (i < n && ops[i]->done)
			i++;
		if (i == n || f->halted || f->fatal_calls != fatal)
			return;
		lf_turn(f);
	}
	fail_msg("%s: requests not answered in %d turns", f->label, LF_TURNS_MAX);
}

void lf_wait_one(struct lf *f, struct lf_op *op)
{
	lf_wait(f, &op, 1);
}

bool lf_wait_turns(struct lf *f, struct lf_op *op, uint64_t max_turns)
{
	for (uint64_t t = 0; t < max_turns && !op->done; t++)
		lf_turn(f);
	return op->done;
}

/* ---- Lifetime of a lane set ---- */

int lf_boot(struct lf *f)
{
	return lf_boot_turns(f, LF_TURNS_MAX);
}

int lf_boot_turns(struct lf *f, uint64_t max_turns)
{
	ASSERT(f->set == NULL);
	f->crashed = false;
	f->halted = false;
	f->fatal_calls = 0;
	f->fatal_why[0] = '\0';
	struct lane_set_config c = {
		.lanes = f->cfg.lanes, .loops = f->cfg.loops, .durable = true,
		.data_dir = LF_DATA_DIR, .node_id = 0, .segment_bytes = f->cfg.segment_bytes,
		.snapshot_every_bytes = f->cfg.snapshot_every_bytes, .lease_ms = 300,
		.heartbeat_ms = 50, .drift_ppm = 1000, .fatal = lf_fatal, .fatal_ctx = f,
	};
	f->set = lane_set_create(&c, f->loops);
	assert_non_null(f->set);
	f->boots++;
	for (uint32_t l = 0; l < f->cfg.loops; l++)
		lane_set_attach_loop(f->set, f->loops[l], &f->disks[l].base);
	return lf_boot_wait(f, max_turns);
}

int lf_boot_wait(struct lf *f, uint64_t max_turns)
{
	for (uint64_t t = 0; t < max_turns; t++) {
		if (f->fatal_calls > 0)
			return -EIO;
		if (f->halted)
			return -EINTR;
		if (lane_set_loading(f->set) == 0)
			return 0;
		lf_turn(f);
	}
	if (max_turns < LF_TURNS_MAX)
		return -EAGAIN;
	fail_msg("%s: the lanes did not recover in %d turns (%u loading; disk 0: %u in the "
		 "simulator, %u in flight, %u held, %u dead; halted %d crash_at %llu)", f->label,
		 LF_TURNS_MAX, lane_set_loading(f->set), sim_disk_inflight(f->disks[0].sim),
		 f->disks[0].ninflight, f->disks[0].nheld, f->disks[0].ndead, f->halted,
		 (unsigned long long)f->crash_at);
	return -ETIMEDOUT;
}

static void lf_drain(struct lf *f)
{
	int quiet = 0;
	for (int t = 0; t < LF_TURNS_MAX && quiet < LF_SETTLE_QUIET_TURNS; t++)
		quiet = lf_turn(f) == 0 && lf_disks_idle(f) ? quiet + 1 : 0;
}

void lf_shutdown(struct lf *f)
{
	ASSERT(f->set != NULL);
	lf_release_syncs(f); /* the logs close only once their I/O has completed */
	for (uint32_t l = 0; l < f->cfg.loops; l++)
		lane_set_detach_loop(f->set, f->loops[l]);
	/* Replies the lanes sent to other loops while closing. */
	for (int t = 0; t < LF_DRAIN_TURNS; t++)
		lf_turn(f);
	lane_set_destroy(f->set);
	f->set = NULL;
}

void lf_crash(struct lf *f)
{
	ASSERT(f->set != NULL);
	f->crashed = true;
	for (uint32_t l = 0; l < f->cfg.loops; l++) {
		struct lf_disk *d = &f->disks[l];
		sim_disk_crash(d->sim);
		d->dead = true;
		d->nheld = 0;
		d->ndead = 0;
		for (uint32_t i = 0; i < d->ninflight; i++)
			lf_ptr_push(&d->dead_q, &d->ndead, &d->capdead, d->inflight[i]);
	}
	f->halted = false;
	f->paused = false;
	f->crash_at = 0;
	lf_drain(f);
	lf_shutdown(f);
	for (uint32_t l = 0; l < f->cfg.loops; l++) {
		struct lf_disk *d = &f->disks[l];
		assert_int_equal(d->ninflight, 0);
		d->dead = false;
		d->hold_syncs = false;
	}
}

/* ---- Requests ---- */

static void lf_op_finish(struct lf_op *op)
{
	struct lf *f = op->f;
	struct iovec iov[16];
	size_t total = op->out.bytes, off = 0;
	op->reply = malloc(total + 1);
	ASSERT(op->reply != NULL);
	while (op->out.bytes > 0) {
		size_t n = resp_out_iov(&op->out, iov, 16);
		uint64_t got = 0;
		for (size_t i = 0; i < n; i++) {
			memcpy(op->reply + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
			got += iov[i].iov_len;
		}
		resp_out_consume(&op->out, got);
	}
	op->reply[off] = '\0';
	op->reply_len = off;
	resp_out_reset(&op->out);
	/* What lane_req_put() would free: the arguments copied for another loop. */
	free(op->req.args);
	op->req.args = NULL;
	op->done = true;
	op->after_crash = f->crashed;
	op->done_seq = ++f->done_count;
	/* A write answered OK must be in the log's durable prefix (white box). */
	if (op->write && !f->crashed && op->reply_len > 0 && op->reply[0] != '-') {
		struct lane *lane = &f->set->lanes[op->req.lane];
		if (lane->log == NULL || log_durable_index(lane->log) < lane->applied_index)
			f->early_acks++;
	}
}

static void lf_op_done(struct lane_req *req)
{
	lf_op_finish(container_of(req, struct lf_op, req));
}

uint32_t lf_lane_of(const struct lf *f, const char *key)
{
	ASSERT(f->set != NULL);
	return lane_of_key(f->set, key, strlen(key));
}

struct lf_op *lf_submitv(struct lf *f, uint32_t loop, uint32_t lane, uint32_t argc,
			 const struct resp_arg *argv)
{
	ASSERT(f->set != NULL && loop < f->cfg.loops && argc >= 1 && argc <= LF_ARGS_MAX);
	struct lf_op *op = calloc(1, sizeof(*op));
	ASSERT(op != NULL);
	size_t bytes = 0;
	for (uint32_t i = 0; i < argc; i++)
		bytes += argv[i].len;
	op->text = malloc(bytes + 1);
	ASSERT(op->text != NULL);
	char *p = op->text;
	for (uint32_t i = 0; i < argc; i++) {
		memcpy(p, argv[i].ptr, argv[i].len);
		op->argv[i] = (struct resp_arg){ p, argv[i].len };
		p += argv[i].len;
	}
	op->argc = argc;
	op->f = f;
	op->loop = loop;
	op->boot = f->boots;
	op->id = f->nops;
	const struct kv_cmd *cmd = kv_cmd_lookup(argv[0].ptr, argv[0].len);
	ASSERT_MSG(cmd != NULL && kv_cmd_arity_ok(cmd, argc), "lane fixture: bad command");
	if (lane == UINT32_MAX)
		lane = lane_of_key(f->set, argv[1].ptr, argv[1].len);
	op->write = (cmd->kind & KV_CMD_WRITE) != 0;
	op->turn = f->turns[lane_loop_of(lane, f->cfg.loops)];
	resp_chunk_pool_init(&op->pool, 0);
	resp_out_init(&op->out, &op->pool, 2);
	op->req = (struct lane_req){ .cmd = cmd, .argc = argc, .argv = op->argv, .out = &op->out,
				     .done = lf_op_done, .ctx = op, .lane = lane };
	if (f->nops == f->capops) {
		f->capops = f->capops ? f->capops * 2 : 256;
		f->ops = realloc(f->ops, f->capops * sizeof(*f->ops));
		ASSERT(f->ops != NULL);
	}
	f->ops[f->nops++] = op;
	if (lane_submit(f->set, f->loops[loop], &op->req))
		lf_op_finish(op);
	return op;
}

struct lf_op *lf_submit(struct lf *f, uint32_t loop, const char *fmt, ...)
{
	char buf[LF_CMD_BYTES_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ASSERT(n > 0 && (size_t)n < sizeof(buf));
	struct resp_arg argv[LF_ARGS_MAX];
	uint32_t argc = 0;
	for (char *tok = strtok(buf, " "); tok != NULL; tok = strtok(NULL, " ")) {
		ASSERT(argc < LF_ARGS_MAX);
		argv[argc++] = (struct resp_arg){ tok, strlen(tok) };
	}
	return lf_submitv(f, loop, UINT32_MAX, argc, argv);
}

const char *lf_call(struct lf *f, uint32_t loop, const char *fmt, ...)
{
	char buf[LF_CMD_BYTES_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ASSERT(n > 0 && (size_t)n < sizeof(buf));
	struct lf_op *op = lf_submit(f, loop, "%s", buf);
	lf_wait_one(f, op);
	assert_true(op->done);
	return op->reply;
}

bool lf_reply_is(const struct lf_op *op, const char *want)
{
	return op->done && op->reply_len == strlen(want) && memcmp(op->reply, want, op->reply_len) == 0;
}

bool lf_reply_starts(const struct lf_op *op, const char *prefix)
{
	return op->done && op->reply_len >= strlen(prefix) &&
	       memcmp(op->reply, prefix, strlen(prefix)) == 0;
}

struct kv_db *lf_db(struct lf *f, uint32_t lane)
{
	ASSERT(f->set != NULL);
	return lane_db(f->set, lane);
}

uint64_t lf_start_epoch(struct lf *f, uint32_t lane)
{
	ASSERT(f->set != NULL && lane < f->cfg.lanes);
	return f->set->lanes[lane].start_epoch;
}

static uint64_t lf_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* The slot format of dataplane/lane/meta.c: magic, version, sequence, epoch, primary epoch,
 * repair index, vote, then the CRC32C of those 56 bytes. */
int64_t lf_meta_read(struct lf *f, uint32_t lane, int slot, uint64_t *epoch,
		     uint64_t *primary_epoch)
{
	char path[LOG_PATH_MAX], name[16];
	uint8_t b[64];
	snprintf(name, sizeof(name), "meta.%d", slot);
	lf_lane_path(lane, name, path, sizeof(path));
	struct sim_disk *sim = f->disks[lane_loop_of(lane, f->cfg.loops)].sim;
	if (!sim_disk_exists(sim, path))
		return -ENOENT;
	if (sim_disk_file_read(sim, path, 0, b, sizeof(b)) != (int)sizeof(b))
		return 0;
	if (lf_le64(b) != 0x4154454d444e5053ull || lf_le64(b + 8) != 1 ||
	    lf_le64(b + 56) != crc32c(b, 56))
		return 0;
	*epoch = lf_le64(b + 24);
	*primary_epoch = lf_le64(b + 32);
	return (int64_t)lf_le64(b + 16);
}

int64_t lf_meta_newest(struct lf *f, uint32_t lane, uint64_t *primary_epoch)
{
	int64_t best = 0;
	*primary_epoch = 0;
	for (int slot = 0; slot < 2; slot++) {
		uint64_t e = 0, pe = 0;
		int64_t seq = lf_meta_read(f, lane, slot, &e, &pe);
		if (seq > best) {
			best = seq;
			*primary_epoch = pe;
		}
	}
	return best;
}

static void lf_list_done(struct log_disk_io *io, int res)
{
	(void)io;
	ASSERT(res == 0);
}

uint32_t lf_count_files(struct lf *f, uint32_t lane, const char *prefix)
{
	static char names[1024][LOG_DISK_NAME_MAX];
	struct log_disk_names out = { .names = names, .cap = 1024 };
	char dir[LOG_PATH_MAX];
	lf_lane_path(lane, "", dir, sizeof(dir));
	struct sim_disk *sim = f->disks[lane_loop_of(lane, f->cfg.loops)].sim;
	struct log_disk_io io = { .cb = lf_list_done };
	sim_disk_io(sim)->ops->list(sim_disk_io(sim), &io, dir, &out);
	while (sim_disk_inflight(sim) > 0)
		sim_disk_step(sim);
	uint32_t n = 0;
	for (uint32_t i = 0; i < out.count; i++)
		n += strncmp(names[i], prefix, strlen(prefix)) == 0;
	return n;
}

bool lf_snapshot_running(struct lf *f)
{
	for (uint32_t i = 0; f->set != NULL && i < f->cfg.lanes; i++)
		if (f->set->lanes[i].snap != NULL)
			return true;
	return false;
}

uint64_t lf_steps(const struct lf *f)
{
	return f->steps;
}

void lf_lane_path(uint32_t lane, const char *file, char *buf, size_t cap)
{
	char dir[LOG_PATH_MAX];
	ASSERT(log_lane_dir(LF_DATA_DIR, lane, dir, sizeof(dir)) == 0);
	int n = snprintf(buf, cap, "%s%s%s", dir, file[0] ? "/" : "", file);
	ASSERT(n > 0 && (size_t)n < cap);
}

/* ---- Checking a recovered lane against the writes it was sent ---- */

static bool lf_op_is_error(const struct lf_op *op)
{
	return op->reply_len > 0 && op->reply[0] == '-';
}

/* A write that may be in the log: not refused before the crash. */
static bool lf_op_maybe_logged(const struct lf_op *op)
{
	return op->write && (!op->done || op->after_crash || !lf_op_is_error(op));
}

bool lf_op_acked(const struct lf_op *op)
{
	return op->write && op->done && !op->after_crash && !lf_op_is_error(op);
}

/* The writes of lane from boot `boot` that may be in its log, in the order they were sent
 * (a single loop sent them all, so that is their order in the log). */
static uint32_t lf_lane_writes(struct lf *f, uint32_t boot, uint32_t lane, struct lf_op **out)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < f->nops; i++) {
		struct lf_op *op = f->ops[i];
		if (op->boot == boot && op->req.lane == lane && lf_op_maybe_logged(op))
			out[n++] = op;
	}
	return n;
}

/* Checks the lane's recovered state: it must equal base followed by the first k writes for
 * a k at an entry boundary (writes sent in the same turn share an entry) that covers every
 * acknowledged write; the acknowledged writes must be a prefix, answered in order, with the
 * replies the model gives. */
void lf_check_lane(struct lf *f, const struct lm *base, uint32_t boot, uint32_t lane,
		       struct lm *out)
{
	struct lf_op **w = calloc(f->nops + 1, sizeof(*w));
	uint32_t n = lf_lane_writes(f, boot, lane, w), acked = 0;
	while (acked < n && lf_op_acked(w[acked]))
		acked++;
	for (uint32_t i = acked; i < n; i++)
		if (lf_op_acked(w[i]))
			fail_msg("lane %u: write %u acknowledged after an unacknowledged one", lane, w[i]->id);
	for (uint32_t i = 1; i < acked; i++)
		assert_true(w[i]->done_seq > w[i - 1]->done_seq);
	struct lm m;
	lm_init(&m);
	lm_copy(&m, base);
	char why[LF_WHY_BYTES], reply[LM_REPLY_BYTES_MAX];
	int64_t now = LF_NOW_MS;
	bool found = false;
	for (uint32_t k = 0; k <= n && !found; k++) {
		bool boundary = k == 0 || k == n || w[k]->turn != w[k - 1]->turn;
		if (k >= acked && boundary && lm_matches_db(&m, lf_db(f, lane), now, why, sizeof(why)))
			found = true;
		if (found || k == n)
			break;
		assert_int_equal(lm_apply(&m, w[k]->argc, w[k]->argv, now, reply, sizeof(reply)), 0);
		if (k < acked && strcmp(reply, w[k]->reply) != 0)
			fail_msg("lane %u: write %u answered %s, the model says %s", lane, w[k]->id,
				 w[k]->reply, reply);
	}
	if (!found)
		fail_msg("lane %u: the recovered state is no prefix of its %u writes holding the %u "
			 "acknowledged (at the full prefix: %s)", lane, n, acked, why);
	if (out != NULL)
		lm_copy(out, &m);
	lm_free(&m);
	free(w);
}
