/* The disk table on a real loop's io_uring, against real files: each operation completes
 * later, on the loop, with the kernel's result; O_DIRECT alignment is enforced where the
 * filesystem has it; and the whole log runs on it: open, append, flush, reopen, read back,
 * truncate, snapshot. Runs in a fresh directory under $TMPDIR (or /tmp), and again on
 * /dev/shm (tmpfs) where it exists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/clock.h"
#include "base/log.h"
#include "log/log.h"
#include "loop/loop.h"
#include "uring/disk.h"

struct env {
	struct loop *loop;
	struct uring_disk *ud;
	struct log_disk *disk;
	char dir[256];
};

struct op {
	struct log_disk_io io;
	bool done;
	int res;
};

static void op_cb(struct log_disk_io *io, int res)
{
	struct op *o = (struct op *)io;
	o->done = true;
	o->res = res;
}

static void wait_for(struct env *e, const bool *flag)
{
	uint64_t deadline = time_mono_ns() + 10ull * 1000000000ull;
	while (!*flag) {
		assert_true(time_mono_ns() < deadline);
		loop_run_once(e->loop);
	}
}

static int run_op(struct env *e, struct op *o)
{
	assert_false(o->done); /* never completed inside the call */
	wait_for(e, &o->done);
	return o->res;
}

static void rm_rf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int env_setup(void **state, const char *base)
{
	struct env *e = calloc(1, sizeof(*e));
	struct loop_config cfg = { .id = 0, .idle_sleep_us_max = 1000 };
	e->loop = loop_create(&cfg);
	e->ud = uring_disk_create(e->loop);
	e->disk = uring_disk_io(e->ud);
	snprintf(e->dir, sizeof(e->dir), "%s/spindle-uring-XXXXXX", base);
	if (!mkdtemp(e->dir))
		return -1;
	*state = e;
	return 0;
}

static int setup_tmp(void **state)
{
	const char *t = getenv("TMPDIR");
	return env_setup(state, t && *t ? t : "/tmp");
}

static int setup_shm(void **state)
{
	struct stat st;
	if (stat("/dev/shm", &st) != 0)
		return setup_tmp(state);
	return env_setup(state, "/dev/shm");
}

static int teardown(void **state)
{
	struct env *e = *state;
	rm_rf(e->dir);
	uring_disk_destroy(e->ud);
	loop_destroy(e->loop);
	free(e);
	return 0;
}

#define OP(e, call)                                          \
	({                                                   \
		struct op o_ = { .io = { .cb = op_cb } };    \
		(e)->disk->ops->call;                        \
		run_op((e), &o_);                            \
	})
#define IO (&o_.io)
#define D (e->disk)

static void test_file_operations(void **state)
{
	struct env *e = *state;
	char a[300], b[300], sub[300];
	snprintf(a, sizeof(a), "%s/a", e->dir);
	snprintf(b, sizeof(b), "%s/b", e->dir);
	snprintf(sub, sizeof(sub), "%s/sub", e->dir);
	assert_int_equal(OP(e, mkdir(D, IO, sub)), 0);
	assert_int_equal(OP(e, mkdir(D, IO, sub)), -EEXIST);
	int fh = OP(e, open(D, IO, a, LOG_DISK_O_CREATE));
	assert_true(fh >= 0);
	assert_int_equal(OP(e, open(D, IO, a, LOG_DISK_O_CREATE)), -EEXIST);
	assert_int_equal(OP(e, fallocate(D, IO, fh, 0, 1 << 20)), 0);
	uint64_t size = 0;
	assert_int_equal(OP(e, size(D, IO, fh, &size)), 0);
	assert_int_equal(size, 1 << 20);
	char msg[] = "durable bytes";
	assert_int_equal(OP(e, write(D, IO, fh, msg, sizeof(msg), 4096, 0)), (int)sizeof(msg));
	assert_int_equal(OP(e, write(D, IO, fh, msg, sizeof(msg), 8192, LOG_DISK_W_DSYNC)),
			 (int)sizeof(msg));
	assert_int_equal(OP(e, sync(D, IO, fh, LOG_DISK_SYNC_DATA)), 0);
	assert_int_equal(OP(e, sync(D, IO, fh, 0)), 0);
	char back[32] = { 0 };
	assert_int_equal(OP(e, read(D, IO, fh, back, sizeof(msg), 8192)), (int)sizeof(msg));
	assert_string_equal(back, msg);
	assert_int_equal(OP(e, read(D, IO, fh, back, 16, 2 << 20)), 0); /* past the end */
	assert_int_equal(OP(e, rename(D, IO, a, b)), 0);
	assert_int_equal(OP(e, rename(D, IO, a, b)), -ENOENT);
	int dh = OP(e, open(D, IO, e->dir, LOG_DISK_O_DIR | LOG_DISK_O_RDONLY));
	assert_true(dh >= 0);
	assert_int_equal(OP(e, sync(D, IO, dh, 0)), 0);
	char names[8][LOG_DISK_NAME_MAX];
	struct log_disk_names out = { .names = names, .cap = 8 };
	assert_int_equal(OP(e, list(D, IO, e->dir, &out)), 0);
	assert_int_equal(out.count, 2); /* b and sub */
	assert_false(out.truncated);
	out.cap = 1;
	assert_int_equal(OP(e, list(D, IO, e->dir, &out)), 0);
	assert_true(out.truncated);
	assert_int_equal(OP(e, list(D, IO, "/nonexistent-spindle", &out)), -ENOENT);
	assert_int_equal(OP(e, close(D, IO, fh)), 0);
	assert_int_equal(OP(e, close(D, IO, dh)), 0);
	assert_int_equal(OP(e, unlink(D, IO, b)), 0);
	assert_int_equal(OP(e, unlink(D, IO, b)), -ENOENT);
	assert_int_equal(OP(e, open(D, IO, b, 0)), -ENOENT);
}

static void test_direct_io(void **state)
{
	struct env *e = *state;
	char a[300];
	snprintf(a, sizeof(a), "%s/d", e->dir);
	int fh = OP(e, open(D, IO, a, LOG_DISK_O_CREATE | LOG_DISK_O_DIRECT));
	if (fh == -EINVAL) {
		print_message("O_DIRECT refused in %s (the log falls back to buffered I/O)\n",
			      e->dir);
		return;
	}
	assert_true(fh >= 0);
	void *buf = NULL;
	assert_int_equal(posix_memalign(&buf, 4096, 8192), 0);
	memset(buf, 0x5a, 8192);
	assert_int_equal(OP(e, write(D, IO, fh, buf, 4096, 0, LOG_DISK_W_DSYNC)), 4096);
	assert_int_equal(OP(e, read(D, IO, fh, (char *)buf + 4096, 4096, 0)), 4096);
	assert_int_equal(memcmp(buf, (char *)buf + 4096, 4096), 0);
	int res = OP(e, write(D, IO, fh, (char *)buf + 1, 4096, 0, 0));
	print_message("a misaligned O_DIRECT write in %s: %d\n", e->dir, res);
	assert_int_equal(OP(e, close(D, IO, fh)), 0);
	free(buf);
}

/* ---- The log on it ---- */

struct lg {
	struct log *log;
	bool opened;
	int err;
	struct log_recovery rec;
	uint64_t durable;
	int fatal;
};

static void lg_open_cb(void *arg, struct log *log, int err, const struct log_recovery *rec)
{
	struct lg *l = arg;
	(void)log;
	l->opened = true;
	l->err = err;
	l->rec = *rec;
}

static void lg_durable(void *ctx, uint64_t index)
{
	((struct lg *)ctx)->durable = index;
}

static void lg_fatal(void *ctx, int err, const char *msg)
{
	(void)msg;
	((struct lg *)ctx)->fatal = err;
}

static void lg_open(struct env *e, struct lg *l, const struct log_config *cfg)
{
	memset(l, 0, sizeof(*l));
	struct log_callbacks cbs = { .durable = lg_durable, .fatal = lg_fatal, .ctx = l };
	l->log = log_open(cfg, e->disk, &cbs, lg_open_cb, l);
	assert_non_null(l->log);
	wait_for(e, &l->opened);
	assert_int_equal(l->err, 0);
	l->durable = log_durable_index(l->log);
}

static void lg_closed(void *arg)
{
	*(bool *)arg = true;
}

static void lg_close(struct env *e, struct lg *l)
{
	bool done = false;
	log_close(l->log, lg_closed, &done);
	wait_for(e, &done);
	log_destroy(l->log);
}

static void payload(uint64_t index, uint8_t *buf, uint32_t *len)
{
	*len = (uint32_t)(index % 300);
	for (uint32_t i = 0; i < *len; i++)
		buf[i] = (uint8_t)(index * 31 + i);
}

static void append_flush(struct env *e, struct lg *l, uint64_t epoch, uint64_t from,
			 uint64_t to)
{
	uint8_t buf[300];
	for (uint64_t i = from; i <= to; i++) {
		struct log_entry en = { .epoch = epoch, .index = i, .data = buf };
		payload(i, buf, &en.len);
		int err;
		while ((err = log_append(l->log, &en)) == -EAGAIN) {
			log_flush(l->log);
			loop_run_once(e->loop);
		}
		assert_int_equal(err, 0);
		if (i % 50 == 0)
			log_flush(l->log);
	}
	assert_int_equal(log_flush(l->log), 0);
	uint64_t deadline = time_mono_ns() + 10ull * 1000000000ull;
	while (l->durable < to) {
		assert_true(time_mono_ns() < deadline);
		loop_run_once(e->loop);
	}
}

struct rd {
	struct log_read r;
	bool done;
	int err;
	uint64_t next;
	bool bad;
};

static void rd_cb(struct log_read *r, int err, const struct log_entry *en, uint32_t count)
{
	struct rd *x = (struct rd *)r;
	x->done = true;
	x->err = err;
	uint8_t want[300];
	for (uint32_t i = 0; i < count; i++) {
		uint32_t len;
		payload(en[i].index, want, &len);
		if (en[i].index != x->next || en[i].len != len ||
		    memcmp(en[i].data, want, len) != 0)
			x->bad = true;
		x->next++;
	}
}

static void read_all(struct env *e, struct lg *l, uint64_t from, uint64_t to)
{
	struct rd x = { .next = from };
	while (x.next <= to) {
		x.r = (struct log_read){ .from_index = x.next, .budget_bytes = 16384, .cb = rd_cb };
		x.done = false;
		assert_int_equal(log_read(l->log, &x.r), 0);
		wait_for(e, &x.done);
		assert_int_equal(x.err, 0);
		assert_false(x.bad);
	}
}

static ssize_t snap_src(void *arg, uint8_t *buf, size_t cap)
{
	uint64_t *left = arg;
	size_t n = MIN((size_t)*left, MIN(cap, (size_t)1000));
	memset(buf, 0x33, n);
	*left -= n;
	return (ssize_t)n;
}

struct snap_wait {
	bool done;
	int err;
};

static void snap_done(void *arg, int err, const struct log_snapshot_info *info)
{
	struct snap_wait *w = arg;
	(void)info;
	w->done = true;
	w->err = err;
}

static void test_log_on_io_uring(void **state)
{
	struct env *e = *state;
	char lane[300];
	assert_int_equal(log_lane_dir(e->dir, 3, lane, sizeof(lane)), 0);
	struct log_config cfg = { .dir = lane, .lane = 3, .segment_bytes = 256 << 10,
				  .entry_bytes_max = 4096, .write_buf_bytes = 64 << 10 };
	struct lg l;
	lg_open(e, &l, &cfg);
	append_flush(e, &l, 1, 1, 5000);
	struct log_stats st;
	log_stats_get(l.log, &st);
	assert_true(st.segments >= 2);
	assert_true(st.flushes > 0);
	print_message("%s: direct I/O %s, %llu writes, flush avg %llu us max %llu us\n",
		      e->dir, st.direct_io ? "on" : "off", (unsigned long long)st.writes,
		      (unsigned long long)st.flush_ns_avg / 1000,
		      (unsigned long long)st.flush_ns_max / 1000);
	lg_close(e, &l);
	lg_open(e, &l, &cfg);
	assert_int_equal(log_last_index(l.log), 5000);
	assert_false(l.rec.tail_cut);
	read_all(e, &l, 1, 5000);
	assert_int_equal(log_truncate(l.log, 4000), 0);
	append_flush(e, &l, 2, 4001, 4100);
	uint64_t left = 300000;
	struct snap_wait sw = { 0 };
	assert_int_equal(log_snapshot_take(l.log, 3000, snap_src, &left, snap_done, &sw), 0);
	wait_for(e, &sw.done);
	assert_int_equal(sw.err, 0);
	lg_close(e, &l);
	lg_open(e, &l, &cfg);
	assert_int_equal(l.rec.snapshot_index, 3000);
	assert_int_equal(l.rec.snapshot_bytes, 300000);
	assert_int_equal(log_last_index(l.log), 4100);
	assert_int_equal(log_last_epoch(l.log), 2);
	read_all(e, &l, log_first_index(l.log), 4000);
	assert_int_equal(l.fatal, 0);
	lg_close(e, &l);
}

int main(void)
{
	log_level_min = LOG_LEVEL_WARN;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_operations, setup_tmp, teardown),
		cmocka_unit_test_setup_teardown(test_direct_io, setup_tmp, teardown),
		cmocka_unit_test_setup_teardown(test_log_on_io_uring, setup_tmp, teardown),
		cmocka_unit_test_setup_teardown(test_direct_io, setup_shm, teardown),
		cmocka_unit_test_setup_teardown(test_log_on_io_uring, setup_shm, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
