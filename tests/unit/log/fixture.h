/* Shared set-up for the log's tests: a log on a simulated disk, driven step by step, with
 * the callbacks recorded, and entries whose payload is a function of (epoch, index) so that
 * what comes back can be checked byte for byte. */
#ifndef SPINDLE_TESTS_LOG_FIXTURE_H
#define SPINDLE_TESTS_LOG_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log/log.h"
#include "sim/disk.h"

#define FX_DIR "/data/lane-007"
#define FX_PAYLOAD_MAX 3000

struct fx {
	struct sim_disk *disk;
	struct log *log;
	struct log_config cfg;
	bool opened;
	int open_err;
	struct log_recovery rec;
	uint64_t durable;
	uint32_t durable_calls;
	int fatal_err;
	uint32_t fatal_calls;
	char fatal_msg[256];
	uint8_t payload[FX_PAYLOAD_MAX];
};

static inline uint32_t fx_len(uint64_t epoch, uint64_t index)
{
	return (uint32_t)((index * 2654435761u + epoch * 40503u) % 700);
}

/* The payload of entry (epoch, index): its bytes depend on both. */
static inline uint32_t fx_payload(uint64_t epoch, uint64_t index, uint8_t *out)
{
	uint32_t len = fx_len(epoch, index);
	uint64_t x = index * 0x9E3779B97F4A7C15ull ^ (epoch << 40) ^ 0x5bd1e995;
	for (uint32_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[i] = (uint8_t)x;
	}
	return len;
}

static inline void fx_durable_cb(void *ctx, uint64_t index)
{
	struct fx *f = ctx;
	f->durable = index;
	f->durable_calls++;
}

static inline void fx_fatal_cb(void *ctx, int err, const char *msg)
{
	struct fx *f = ctx;
	f->fatal_err = err;
	f->fatal_calls++;
	snprintf(f->fatal_msg, sizeof(f->fatal_msg), "%s", msg);
}

static inline void fx_open_cb(void *arg, struct log *log, int err,
			      const struct log_recovery *rec)
{
	struct fx *f = arg;
	(void)log;
	f->opened = true;
	f->open_err = err;
	f->rec = *rec;
}

static inline void fx_config_default(struct log_config *c)
{
	memset(c, 0, sizeof(*c));
	c->dir = FX_DIR;
	c->lane = 7;
	c->segment_bytes = 64 * 1024;
	c->entry_bytes_max = 4096;
	c->write_buf_bytes = 16 * 1024;
	c->read_bytes_max = 8 * 1024;
	c->nospace_retry_ms = 10;
}

static inline void fx_disk_new(struct fx *f, uint64_t seed)
{
	struct sim_disk_config dc = { .seed = seed };
	f->disk = sim_disk_create(&dc);
	assert_non_null(f->disk);
	assert_int_equal(sim_disk_mkdir(f->disk, "/data"), 0);
	fx_config_default(&f->cfg);
}

/* Opens the log and runs the disk until the open is reported; returns the error. */
static inline int fx_open(struct fx *f)
{
	f->opened = false;
	f->fatal_calls = 0;
	struct log_callbacks cbs = { .durable = fx_durable_cb, .fatal = fx_fatal_cb, .ctx = f };
	f->log = log_open(&f->cfg, sim_disk_io(f->disk), &cbs, fx_open_cb, f);
	assert_non_null(f->log);
	while (!f->opened && sim_disk_step(f->disk))
		;
	assert_true(f->opened);
	if (f->open_err) {
		sim_disk_run(f->disk);
		log_destroy(f->log);
		f->log = NULL;
	} else {
		/* Let the open's own I/O (the first BASE record, the next segment) settle. */
		sim_disk_run(f->disk);
		f->durable = log_durable_index(f->log);
	}
	return f->open_err;
}

static inline void fx_close_done(void *arg)
{
	*(bool *)arg = true;
}

static inline void fx_close(struct fx *f)
{
	bool done = false;
	log_close(f->log, fx_close_done, &done);
	sim_disk_run(f->disk);
	assert_true(done);
	log_destroy(f->log);
	f->log = NULL;
	assert_int_equal(sim_disk_open_files(f->disk), 0); /* no handle leaked */
}

/* Power loss: the log object is abandoned (nothing can complete any more). */
static inline void fx_crash(struct fx *f)
{
	sim_disk_crash(f->disk);
	log_destroy(f->log);
	f->log = NULL;
}

static inline int fx_append(struct fx *f, uint64_t epoch, uint64_t index)
{
	uint32_t len = fx_payload(epoch, index, f->payload);
	struct log_entry e = { .epoch = epoch, .index = index, .data = f->payload, .len = len,
			       .type = (uint16_t)(index % 3) };
	return log_append(f->log, &e);
}

/* Appends (epoch, from..to), retrying through the disk when the log pushes back. */
static inline void fx_append_range(struct fx *f, uint64_t epoch, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i <= to; i++) {
		int err;
		while ((err = fx_append(f, epoch, i)) == -EAGAIN) {
			assert_int_equal(log_flush(f->log), 0);
			assert_true(sim_disk_step(f->disk));
		}
		assert_int_equal(err, 0);
	}
}

static inline void fx_flush_all(struct fx *f)
{
	assert_int_equal(log_flush(f->log), 0);
	sim_disk_run(f->disk);
}

struct fx_read {
	struct log_read rd;
	bool done;
	int err;
	uint32_t count;
	uint64_t first, last;
	bool bad_payload;
};

static inline void fx_read_cb(struct log_read *rd, int err, const struct log_entry *e,
			      uint32_t count)
{
	struct fx_read *r = (struct fx_read *)rd;
	uint8_t want[FX_PAYLOAD_MAX];
	r->done = true;
	r->err = err;
	r->count = count;
	r->first = count ? e[0].index : 0;
	r->last = count ? e[count - 1].index : 0;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t len = fx_payload(e[i].epoch, e[i].index, want);
		if (len != e[i].len || memcmp(want, e[i].data, len) != 0 ||
		    e[i].type != e[i].index % 3 || (i && e[i].index != e[i - 1].index + 1))
			r->bad_payload = true;
	}
	(void)rd->arg;
}

/* Reads every entry in [from, to] back and checks it against the generator with the epoch
 * log_epoch_at() gives. Returns the entries read. */
static inline uint64_t fx_read_check(struct fx *f, uint64_t from, uint64_t to)
{
	uint64_t next = from, n = 0;
	while (next <= to) {
		struct fx_read r = { .rd = { .from_index = next, .budget_bytes = 4096,
					     .cb = fx_read_cb } };
		assert_int_equal(log_read(f->log, &r.rd), 0);
		sim_disk_run(f->disk);
		assert_true(r.done);
		assert_int_equal(r.err, 0);
		assert_false(r.bad_payload);
		assert_int_equal(r.first, next);
		assert_true(r.count > 0);
		n += r.count;
		next = r.last + 1;
	}
	return n;
}

#endif
