/* The simulated disk (drivers/sim/disk.c) keeps the promises the log's crash tests rely on:
 * a write is durable only after a sync that started after it completed; a crash lands each
 * sector of an unsynced write or not, never part of a sector; directory changes need a
 * directory sync; a failed sync forgets what it covered; capacity, alignment, faults. (Its
 * tests live here because tests/unit/sim/ belongs to the simulator.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sim/disk.h"

struct op {
	struct log_disk_io io;
	int res;
	bool done;
};

static void op_cb(struct log_disk_io *io, int res)
{
	struct op *o = (struct op *)io;
	o->res = res;
	o->done = true;
}

static struct sim_disk *disk_new(uint64_t seed)
{
	struct sim_disk_config c = { .seed = seed };
	struct sim_disk *d = sim_disk_create(&c);
	assert_int_equal(sim_disk_mkdir(d, "/d"), 0);
	return d;
}

/* Runs one operation to completion; returns its result. */
#define RUN(d, call)                                                  \
	({                                                            \
		struct op o_ = { .io = { .cb = op_cb } };             \
		struct log_disk *b_ = sim_disk_io(d);                 \
		b_->ops->call;                                        \
		sim_disk_run(d);                                      \
		assert_true(o_.done);                                 \
		o_.res;                                               \
	})
#define IO (&o_.io)
#define B b_

static int open_file(struct sim_disk *d, const char *path, unsigned flags)
{
	return RUN(d, open(B, IO, path, flags));
}

static void test_completion_is_never_inline(void **state)
{
	(void)state;
	struct sim_disk *d = disk_new(1);
	struct op o = { .io = { .cb = op_cb } };
	sim_disk_io(d)->ops->open(sim_disk_io(d), &o.io, "/d/a", LOG_DISK_O_CREATE);
	assert_false(o.done);
	assert_int_equal(sim_disk_inflight(d), 1);
	assert_int_equal(sim_disk_step(d), 1);
	assert_true(o.done);
	assert_true(o.res >= 0);
	assert_int_equal(sim_disk_step(d), 0);
	sim_disk_destroy(d);
}

static void test_sync_makes_durable(void **state)
{
	(void)state;
	struct sim_disk *d = disk_new(2);
	int fh = open_file(d, "/d/a", LOG_DISK_O_CREATE);
	int dh = open_file(d, "/d", LOG_DISK_O_DIR);
	assert_int_equal(RUN(d, sync(B, IO, dh, 0)), 0);
	uint8_t data[4096];
	memset(data, 0xAB, sizeof(data));
	assert_int_equal(RUN(d, write(B, IO, fh, data, sizeof(data), 0, 0)), 4096);
	assert_int_equal(RUN(d, sync(B, IO, fh, LOG_DISK_SYNC_DATA)), 0);
	memset(data, 0xCD, sizeof(data));
	assert_int_equal(RUN(d, write(B, IO, fh, data, sizeof(data), 0, 0)), 4096);
	sim_disk_crash(d);
	/* Each 512-byte sector is wholly old or wholly new. */
	uint8_t back[4096];
	assert_int_equal(sim_disk_file_read(d, "/d/a", 0, back, sizeof(back)), 4096);
	for (int s = 0; s < 8; s++)
		for (int i = 1; i < 512; i++)
			assert_int_equal(back[s * 512 + i], back[s * 512]);
	for (int s = 0; s < 8; s++)
		assert_true(back[s * 512] == 0xAB || back[s * 512] == 0xCD);
	sim_disk_destroy(d);
}

static void test_sync_covers_only_earlier_writes(void **state)
{
	(void)state;
	struct sim_disk *d = disk_new(3);
	int fh = open_file(d, "/d/a", LOG_DISK_O_CREATE);
	int dh = open_file(d, "/d", LOG_DISK_O_DIR);
	assert_int_equal(RUN(d, sync(B, IO, dh, 0)), 0);
	uint8_t a[512], b[512];
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	struct log_disk *io = sim_disk_io(d);
	struct op s = { .io = { .cb = op_cb } }, w = { .io = { .cb = op_cb } };
	assert_int_equal(RUN(d, write(B, IO, fh, a, 512, 0, 0)), 512);
	io->ops->sync(io, &s.io, fh, 0);            /* covers a */
	io->ops->write(io, &w.io, fh, b, 512, 512, 0); /* not covered: completes after */
	sim_disk_run(d);
	assert_int_equal(s.res, 0);
	assert_int_equal(w.res, 512);
	/* Over many crashes of the same history, b sometimes survives and sometimes not, a
	 * always does. */
	sim_disk_destroy(d);
	int lost = 0, kept = 0;
	for (uint64_t seed = 0; seed < 40; seed++) {
		d = disk_new(seed);
		fh = open_file(d, "/d/a", LOG_DISK_O_CREATE);
		dh = open_file(d, "/d", LOG_DISK_O_DIR);
		RUN(d, sync(B, IO, dh, 0));
		RUN(d, write(B, IO, fh, a, 512, 0, 0));
		io = sim_disk_io(d);
		io->ops->sync(io, &s.io, fh, 0);
		io->ops->write(io, &w.io, fh, b, 512, 512, 0);
		sim_disk_run(d);
		sim_disk_crash(d);
		uint8_t back[1024] = { 0 };
		int n = sim_disk_file_read(d, "/d/a", 0, back, sizeof(back));
		assert_true(n >= 512);
		assert_int_equal(back[0], 1);
		if (n == 1024 && back[512] == 2)
			kept++;
		else
			lost++;
		sim_disk_destroy(d);
	}
	assert_true(lost > 0 && kept > 0);
}

static void test_names_need_directory_sync(void **state)
{
	(void)state;
	int vanished = 0;
	for (uint64_t seed = 0; seed < 30; seed++) {
		struct sim_disk *d = disk_new(seed);
		int fh = open_file(d, "/d/t.tmp", LOG_DISK_O_CREATE);
		uint8_t x[512] = { 7 };
		RUN(d, write(B, IO, fh, x, sizeof(x), 0, 0));
		RUN(d, sync(B, IO, fh, 0));
		assert_int_equal(RUN(d, rename(B, IO, "/d/t.tmp", "/d/t")), 0);
		sim_disk_crash(d);
		bool tmp = sim_disk_exists(d, "/d/t.tmp"), fin = sim_disk_exists(d, "/d/t");
		assert_false(tmp && fin);
		vanished += !tmp && !fin;
		sim_disk_destroy(d);
	}
	assert_true(vanished > 0);
	for (uint64_t seed = 0; seed < 30; seed++) {
		struct sim_disk *d = disk_new(seed);
		int fh = open_file(d, "/d/t.tmp", LOG_DISK_O_CREATE);
		uint8_t x[512] = { 7 };
		RUN(d, write(B, IO, fh, x, sizeof(x), 0, 0));
		RUN(d, sync(B, IO, fh, 0));
		RUN(d, rename(B, IO, "/d/t.tmp", "/d/t"));
		int dh = open_file(d, "/d", LOG_DISK_O_DIR);
		RUN(d, sync(B, IO, dh, 0));
		sim_disk_crash(d);
		assert_true(sim_disk_exists(d, "/d/t"));
		assert_false(sim_disk_exists(d, "/d/t.tmp"));
		uint8_t back[1];
		assert_int_equal(sim_disk_file_read(d, "/d/t", 0, back, 1), 1);
		assert_int_equal(back[0], 7);
		sim_disk_destroy(d);
	}
}

static void test_failed_sync_forgets(void **state)
{
	(void)state;
	struct sim_disk *d = disk_new(4);
	int fh = open_file(d, "/d/a", LOG_DISK_O_CREATE);
	int dh = open_file(d, "/d", LOG_DISK_O_DIR);
	RUN(d, sync(B, IO, dh, 0));
	uint8_t x[512];
	memset(x, 9, sizeof(x));
	RUN(d, write(B, IO, fh, x, sizeof(x), 0, 0));
	sim_disk_fail(d, SIM_DISK_SYNC, "/d/a", -EIO, 1);
	assert_int_equal(RUN(d, sync(B, IO, fh, 0)), -EIO);
	/* The retried sync succeeds and lies: the data was never made durable. */
	assert_int_equal(RUN(d, sync(B, IO, fh, 0)), 0);
	sim_disk_crash(d);
	uint64_t size = 1;
	assert_int_equal(sim_disk_file_size(d, "/d/a", &size), 0);
	assert_int_equal(size, 0);
	sim_disk_destroy(d);
}

static void test_capacity_alignment_faults(void **state)
{
	(void)state;
	struct sim_disk *d = disk_new(5);
	sim_disk_capacity_set(d, 8192);
	int fh = open_file(d, "/d/a", LOG_DISK_O_CREATE | LOG_DISK_O_DIRECT);
	assert_int_equal(RUN(d, fallocate(B, IO, fh, 0, 16384)), -ENOSPC);
	assert_int_equal(RUN(d, fallocate(B, IO, fh, 0, 8192)), 0);
	assert_int_equal(sim_disk_used_bytes(d), 8192);
	static uint8_t buf[8192] __attribute__((aligned(4096)));
	assert_int_equal(RUN(d, write(B, IO, fh, buf + 1, 512, 0, 0)), -EINVAL);
	assert_int_equal(RUN(d, write(B, IO, fh, buf, 100, 0, 0)), -EINVAL);
	assert_int_equal(RUN(d, write(B, IO, fh, buf, 512, 8192, 0)), -ENOSPC);
	assert_int_equal(RUN(d, write(B, IO, fh, buf, 512, 512, LOG_DISK_W_DSYNC)), 512);
	uint64_t size = 0;
	assert_int_equal(RUN(d, size(B, IO, fh, &size)), 0);
	assert_int_equal(size, 8192);
	sim_disk_fail(d, SIM_DISK_WRITE, NULL, -EIO, 2);
	assert_int_equal(RUN(d, write(B, IO, fh, buf, 512, 0, 0)), -EIO);
	assert_int_equal(RUN(d, write(B, IO, fh, buf, 512, 0, 0)), -EIO);
	assert_int_equal(RUN(d, write(B, IO, fh, buf, 512, 0, 0)), 512);
	assert_int_equal(RUN(d, close(B, IO, fh)), 0);
	assert_int_equal(RUN(d, write(B, IO, fh, buf, 512, 0, 0)), -EBADF);
	assert_int_equal(RUN(d, unlink(B, IO, "/d/a")), 0);
	assert_int_equal(sim_disk_used_bytes(d), 0);
	assert_int_equal(RUN(d, unlink(B, IO, "/d/a")), -ENOENT);
	assert_int_equal(RUN(d, mkdir(B, IO, "/d")), -EEXIST);
	assert_int_equal(RUN(d, mkdir(B, IO, "/x/y")), -ENOENT);
	sim_disk_destroy(d);
	struct sim_disk_config c = { .seed = 1, .no_direct = true };
	d = sim_disk_create(&c);
	assert_int_equal(sim_disk_mkdir(d, "/d"), 0);
	assert_int_equal(open_file(d, "/d/a", LOG_DISK_O_CREATE | LOG_DISK_O_DIRECT), -EINVAL);
	sim_disk_destroy(d);
}

static void test_list_and_corrupt(void **state)
{
	(void)state;
	struct sim_disk *d = disk_new(6);
	assert_true(open_file(d, "/d/x", LOG_DISK_O_CREATE) >= 0);
	assert_true(open_file(d, "/d/y", LOG_DISK_O_CREATE) >= 0);
	assert_int_equal(sim_disk_mkdir(d, "/d/sub"), 0);
	char names[4][LOG_DISK_NAME_MAX];
	struct log_disk_names out = { .names = names, .cap = 4 };
	assert_int_equal(RUN(d, list(B, IO, "/d", &out)), 0);
	assert_int_equal(out.count, 3);
	out.cap = 2;
	assert_int_equal(RUN(d, list(B, IO, "/d", &out)), 0);
	assert_true(out.truncated);
	assert_int_equal(sim_disk_file_write(d, "/d/x", 0, "hello", 5), 5);
	assert_int_equal(sim_disk_corrupt(d, "/d/x", 1, 2, 0x20), 0);
	char back[6] = { 0 };
	assert_int_equal(sim_disk_file_read(d, "/d/x", 0, back, 5), 5);
	assert_string_equal(back, "hELlo");
	assert_int_equal(sim_disk_corrupt(d, "/d/none", 0, 1, 1), -ENOENT);
	sim_disk_destroy(d);
}

static void test_reorder(void **state)
{
	(void)state;
	struct sim_disk_config c = { .seed = 7, .reorder = true };
	struct sim_disk *d = sim_disk_create(&c);
	assert_int_equal(sim_disk_mkdir(d, "/d"), 0);
	struct op ops[16];
	int order[16], n = 0;
	(void)order;
	for (int i = 0; i < 16; i++) {
		ops[i] = (struct op){ .io = { .cb = op_cb } };
		sim_disk_io(d)->ops->mkdir(sim_disk_io(d), &ops[i].io, "/d");
	}
	bool out_of_order = false;
	while (sim_disk_step(d)) {
		int done_count = 0;
		for (int i = 0; i < 16; i++)
			done_count += ops[i].done;
		n = done_count;
		for (int i = 0; i < 16; i++)
			if (ops[i].done && i >= n)
				out_of_order = true;
	}
	assert_int_equal(n, 16);
	assert_true(out_of_order);
	sim_disk_destroy(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_completion_is_never_inline),
		cmocka_unit_test(test_sync_makes_durable),
		cmocka_unit_test(test_sync_covers_only_earlier_writes),
		cmocka_unit_test(test_names_need_directory_sync),
		cmocka_unit_test(test_failed_sync_forgets),
		cmocka_unit_test(test_capacity_alignment_faults),
		cmocka_unit_test(test_list_and_corrupt),
		cmocka_unit_test(test_reorder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
