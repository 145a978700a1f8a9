/* log_bench: the durable log's throughput and latency on this machine's disk.
 *
 * The log runs as in spindled: on a loop with its io_uring (the uring disk driver), with
 * appends made by a poller and one log_flush() per turn from a flusher. N simulated clients
 * each keep one write outstanding: a client appends an entry, waits until it is durable, and
 * appends the next. Group commit batches whatever the clients appended while the previous
 * write was in flight. Reported per configuration: entries per second, latency from append
 * to durable (p50, p99, max), writes per second and the mean batch.
 *
 * Configurations: O_DIRECT or buffered; write + fdatasync (the next write overlapping the
 * flush, or not) or RWF_DSYNC writes; segments preallocated with fallocate or also filled
 * with zeros. With --raw, the same with plain system calls and no log, to see the cost of
 * each flush method on fallocated and on zero-filled space. With --raw-streams 1,8, that many
 * threads each write and fdatasync their own file at once (one stream per lane, as lanes
 * flush their own segments): what the disk does with concurrent flushes. With --recover-gib
 * N, the time to open (recover) a log of N GiB.
 *
 *   log_bench [--dir DIR] [--seconds S] [--entry-bytes B] [--clients 1,8,64]
 *             [--raw] [--raw-streams 1,8] [--recover-gib N] [--spin] [--quick] */
#define LOG_COMPONENT "log_bench"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/compiler.h"
#include "base/log.h"
#include "base/panic.h"
#include "log/log.h"
#include "loop/loop.h"
#include "uring/disk.h"

#define BENCH_CLIENTS_MAX 4096
#define BENCH_SAMPLES_MAX (4u << 20)
#define BENCH_WARMUP_NS (500ull * NS_PER_MS)
#define BENCH_SETTLE_NS (1500ull * NS_PER_MS)
#define BENCH_ENTRY_BYTES_MAX (64u << 10)

struct bench_opts {
	char dir[320];
	double seconds;
	uint32_t entry_bytes;
	uint32_t clients[8];
	uint32_t nclients;
	bool raw, spin, quick;
	uint32_t streams[8];
	uint32_t nstreams;
	double recover_gib;
};

struct bench_variant {
	const char *name;
	bool buffered, zero_fill, serial;
	enum log_sync_mode sync;
};

struct bench {
	const struct bench_opts *o;
	struct loop *loop;
	struct uring_disk *ud;
	struct log *log;
	bool opened;
	int open_err;
	struct log_recovery rec;
	uint32_t clients;
	uint32_t ready;               /* clients with nothing outstanding */
	uint64_t submit_ns[BENCH_CLIENTS_MAX]; /* by index % clients: at most one each */
	uint64_t durable;
	uint64_t measured_from_ns;
	bool measuring;
	uint64_t done_entries;
	uint64_t *lat;
	uint32_t nlat;
	uint64_t writes_at_start;
	struct loop_poller poller, flusher;
	struct loop_timer timer;
	uint8_t payload[BENCH_ENTRY_BYTES_MAX];
	int fatal;
};

static void bench_durable(void *ctx, uint64_t index)
{
	struct bench *b = ctx;
	uint64_t now = time_mono_ns();
	for (uint64_t i = b->durable + 1; i <= index; i++) {
		if (b->measuring && b->nlat < BENCH_SAMPLES_MAX)
			b->lat[b->nlat++] = now - b->submit_ns[i % b->clients];
		b->done_entries += b->measuring;
		b->ready++;
	}
	b->durable = index;
}

static void bench_fatal(void *ctx, int err, const char *msg)
{
	struct bench *b = ctx;
	fprintf(stderr, "log_bench: fatal log error: %s (%s)\n", msg, strerror(-err));
	b->fatal = err;
	loop_stop(b->loop);
}

static void bench_opened(void *arg, struct log *log, int err, const struct log_recovery *rec)
{
	struct bench *b = arg;
	(void)log;
	b->opened = true;
	b->open_err = err;
	b->rec = *rec;
}

/* Every ready client appends its next entry. */
static int bench_poll(void *arg)
{
	struct bench *b = arg;
	int work = 0;
	while (b->ready > 0) {
		uint64_t index = log_last_index(b->log) + 1;
		struct log_entry e = { .epoch = 1, .index = index, .data = b->payload,
				       .len = b->o->entry_bytes };
		int err = log_append(b->log, &e);
		if (err == -EAGAIN)
			break;
		ASSERT_MSG(err == 0, "append: %s", strerror(-err));
		b->submit_ns[index % b->clients] = time_mono_ns();
		b->ready--;
		work++;
	}
	return work;
}

static int bench_flush(void *arg)
{
	struct bench *b = arg;
	log_flush(b->log);
	return 0;
}

static void bench_tick(struct loop *loop, struct loop_timer *t)
{
	struct bench *b = t->arg;
	if (!b->measuring) {
		b->measuring = true;
		b->measured_from_ns = time_mono_ns();
		struct log_stats st;
		log_stats_get(b->log, &st);
		b->writes_at_start = st.writes;
		loop_timer_start(loop, t, (uint64_t)(b->o->seconds * 1e9), bench_tick, b);
		return;
	}
	loop_stop(loop);
}

static void bench_run_until(struct bench *b, const bool *flag)
{
	while (!*flag)
		loop_run_once(b->loop);
}

static int bench_open(struct bench *b, const struct log_config *cfg)
{
	struct log_callbacks cbs = { .durable = bench_durable, .fatal = bench_fatal, .ctx = b };
	b->opened = false;
	b->log = log_open(cfg, uring_disk_io(b->ud), &cbs, bench_opened, b);
	if (!b->log)
		return -EINVAL;
	bench_run_until(b, &b->opened);
	if (b->open_err) {
		log_destroy(b->log);
		b->log = NULL;
	}
	b->durable = b->log ? log_durable_index(b->log) : 0;
	return b->open_err;
}

static void bench_closed(void *arg)
{
	*(bool *)arg = true;
}

static void bench_close(struct bench *b)
{
	bool done = false;
	log_close(b->log, bench_closed, &done);
	bench_run_until(b, &done);
	log_destroy(b->log);
	b->log = NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *v, uint32_t n, double p)
{
	if (!n)
		return 0;
	uint32_t i = (uint32_t)(p / 100.0 * (n - 1) + 0.5);
	return v[MIN(i, n - 1)];
}

static void bench_config(const struct bench_opts *o, const struct bench_variant *v,
			 const char *dir, struct log_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dir = dir;
	cfg->lane = 0;
	cfg->entry_bytes_max = BENCH_ENTRY_BYTES_MAX;
	cfg->write_buf_bytes = 8u << 20;
	cfg->buffered = v->buffered;
	cfg->zero_fill = v->zero_fill;
	cfg->serial_flush = v->serial;
	cfg->sync_mode = v->sync;
	(void)o;
}

static void rm_rf(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "log_bench: could not remove %s\n", dir);
}

/* One configuration with n clients: a fresh log, warm-up, then the measured seconds. */
static void bench_one(struct bench *b, const struct bench_variant *v, uint32_t n)
{
	char dir[400];
	snprintf(dir, sizeof(dir), "%s/lane-bench", b->o->dir);
	rm_rf(dir);
	struct log_config cfg;
	bench_config(b->o, v, dir, &cfg);
	if (bench_open(b, &cfg) != 0) {
		printf("%-24s %8u  open failed\n", v->name, n);
		return;
	}
	/* Let the open's own work (the next segment, zero-filled or not) finish first. */
	for (uint64_t until = time_mono_ns() + BENCH_SETTLE_NS; time_mono_ns() < until;)
		if (loop_run_once(b->loop) == 0)
			usleep(1000);
	b->clients = b->ready = n;
	b->nlat = 0;
	b->done_entries = 0;
	b->measuring = false;
	loop_poller_add(b->loop, &b->poller, "bench", bench_poll, b);
	loop_flusher_add(b->loop, &b->flusher, "bench-flush", bench_flush, b);
	loop_timer_start(b->loop, &b->timer, BENCH_WARMUP_NS, bench_tick, b);
	loop_run(b->loop);
	double secs = (double)(time_mono_ns() - b->measured_from_ns) / 1e9;
	loop_poller_remove(b->loop, &b->poller);
	loop_poller_remove(b->loop, &b->flusher);
	struct log_stats st;
	log_stats_get(b->log, &st);
	uint64_t writes = st.writes - b->writes_at_start;
	qsort(b->lat, b->nlat, sizeof(*b->lat), cmp_u64);
	printf("%-24s %8u %10.0f %9.1f %9.1f %9.1f %9.0f %8.1f %6s\n", v->name, n,
	       (double)b->done_entries / secs, pct(b->lat, b->nlat, 50) / 1e3,
	       pct(b->lat, b->nlat, 99) / 1e3, b->nlat ? b->lat[b->nlat - 1] / 1e3 : 0.0,
	       (double)writes / secs, writes ? (double)b->done_entries / (double)writes : 0.0,
	       st.direct_io ? "direct" : "buffer");
	fflush(stdout);
	bench_close(b);
	rm_rf(dir);
}

static const struct bench_variant bench_variants[] = {
	{ "direct fdatasync", false, false, false, LOG_SYNC_FDATASYNC },
	{ "direct fdatasync serial", false, false, true, LOG_SYNC_FDATASYNC },
	{ "direct dsync", false, false, false, LOG_SYNC_DSYNC },
	{ "buffered fdatasync", true, false, false, LOG_SYNC_FDATASYNC },
	{ "buffered dsync", true, false, false, LOG_SYNC_DSYNC },
	{ "direct fdatasync zeroed", false, true, false, LOG_SYNC_FDATASYNC },
	{ "direct dsync zeroed", false, true, false, LOG_SYNC_DSYNC },
};

static void bench_matrix(struct bench *b)
{
	printf("# entry %u bytes, %.1f s per row after %.1f s warm-up, loop %s\n",
	       b->o->entry_bytes, b->o->seconds, BENCH_WARMUP_NS / 1e9,
	       b->o->spin ? "spinning" : "sleeping when idle");
	printf("%-24s %8s %10s %9s %9s %9s %9s %8s %6s\n", "config", "clients", "entries/s",
	       "p50 us", "p99 us", "max us", "writes/s", "batch", "io");
	for (size_t v = 0; v < ARRAY_SIZE(bench_variants); v++) {
		if (b->o->quick && v >= 3)
			break;
		for (uint32_t c = 0; c < b->o->nclients; c++)
			bench_one(b, &bench_variants[v], b->o->clients[c]);
	}
}

/* ---- Raw system calls: what a flush costs on fallocated and on zero-filled space ---- */

/* A new file at path for O_DIRECT writes, with size bytes fallocated. */
static int raw_file_create(const char *path, uint64_t size)
{
	unlink(path);
	int fd = open(path, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
	ASSERT_MSG(fd >= 0, "open %s: %s", path, strerror(errno));
	ASSERT(fallocate(fd, 0, 0, (off_t)size) == 0);
	return fd;
}

static void raw_one(const char *dir, bool zeroed, bool dsync, double seconds)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/raw", dir);
	uint64_t size = 256ull << 20;
	int fd = raw_file_create(path, size);
	void *buf = NULL;
	ASSERT(posix_memalign(&buf, 4096, 1 << 20) == 0);
	memset(buf, 0, 1 << 20);
	if (zeroed) {
		for (uint64_t off = 0; off < size; off += 1 << 20)
			ASSERT(pwrite(fd, buf, 1 << 20, (off_t)off) == 1 << 20);
		ASSERT(fsync(fd) == 0);
	}
	memset(buf, 0x42, 4096);
	uint64_t start = time_mono_ns(), end = start + (uint64_t)(seconds * 1e9), n = 0;
	uint64_t off = 0;
	while (time_mono_ns() < end && off + 4096 <= size) {
		struct iovec iov = { .iov_base = buf, .iov_len = 4096 };
		ssize_t w = pwritev2(fd, &iov, 1, (off_t)off, dsync ? RWF_DSYNC : 0);
		ASSERT(w == 4096);
		if (!dsync)
			ASSERT(fdatasync(fd) == 0);
		off += 4096;
		n++;
	}
	double secs = (double)(time_mono_ns() - start) / 1e9;
	printf("%-28s %10.0f %10.1f\n",
	       zeroed ? (dsync ? "zeroed, RWF_DSYNC" : "zeroed, write+fdatasync") :
			(dsync ? "fallocated, RWF_DSYNC" : "fallocated, write+fdatasync"),
	       (double)n / secs, secs * 1e6 / (double)n);
	close(fd);
	unlink(path);
	free(buf);
}

static void bench_raw(const struct bench_opts *o)
{
	printf("# raw: sequential 4 KiB O_DIRECT writes, each made durable before the next\n");
	printf("%-28s %10s %10s\n", "space, flush", "writes/s", "us each");
	for (int z = 0; z < 2; z++)
		for (int d = 0; d < 2; d++)
			raw_one(o->dir, z, d, o->seconds);
}

/* ---- Raw concurrent flushes: one file and one thread per stream ---- */

#define RAW_STREAM_SAMPLES (1u << 20)

struct raw_stream {
	const char *dir;
	uint32_t id;
	uint64_t end_ns;
	uint64_t *lat;     /* ns per write + fdatasync */
	uint32_t n;
};

static void *raw_stream_run(void *arg)
{
	struct raw_stream *st = arg;
	char path[400];
	snprintf(path, sizeof(path), "%s/stream-%u", st->dir, st->id);
	uint64_t size = 64ull << 20;
	int fd = raw_file_create(path, size);
	void *buf = NULL;
	ASSERT(posix_memalign(&buf, 4096, 4096) == 0);
	memset(buf, 0x42, 4096);
	for (uint64_t off = 0; time_mono_ns() < st->end_ns && off + 4096 <= size &&
			       st->n < RAW_STREAM_SAMPLES; off += 4096) {
		uint64_t t = time_mono_ns();
		ASSERT(pwrite(fd, buf, 4096, (off_t)off) == 4096);
		ASSERT(fdatasync(fd) == 0);
		st->lat[st->n++] = time_mono_ns() - t;
	}
	close(fd);
	unlink(path);
	free(buf);
	return NULL;
}

static void raw_streams_one(const char *dir, uint32_t streams, double seconds)
{
	struct raw_stream *st = calloc(streams, sizeof(*st));
	pthread_t *th = calloc(streams, sizeof(*th));
	ASSERT(st && th);
	uint64_t start = time_mono_ns(), end = start + (uint64_t)(seconds * 1e9);
	for (uint32_t i = 0; i < streams; i++) {
		st[i] = (struct raw_stream){ .dir = dir, .id = i, .end_ns = end,
					     .lat = malloc(RAW_STREAM_SAMPLES * sizeof(uint64_t)) };
		ASSERT(st[i].lat);
		ASSERT(pthread_create(&th[i], NULL, raw_stream_run, &st[i]) == 0);
	}
	uint64_t total = 0;
	for (uint32_t i = 0; i < streams; i++) {
		ASSERT(pthread_join(th[i], NULL) == 0);
		total += st[i].n;
	}
	double secs = (double)(time_mono_ns() - start) / 1e9;
	uint64_t *all = malloc((total ? total : 1) * sizeof(uint64_t));
	ASSERT(all);
	uint64_t k = 0;
	for (uint32_t i = 0; i < streams; i++) {
		memcpy(all + k, st[i].lat, st[i].n * sizeof(uint64_t));
		k += st[i].n;
		free(st[i].lat);
	}
	qsort(all, total, sizeof(uint64_t), cmp_u64);
	if (total > 0)
		printf("%8u %12.0f %8.0f %8.0f %8.0f %8.0f\n", streams, (double)total / secs,
		       (double)all[total / 2] / 1e3, (double)all[total * 99 / 100] / 1e3,
		       (double)all[total * 999 / 1000] / 1e3, (double)all[total - 1] / 1e3);
	free(all);
	free(st);
	free(th);
}

static void bench_raw_streams(const struct bench_opts *o)
{
	printf("# raw streams: each its own file, sequential 4 KiB O_DIRECT writes + fdatasync\n");
	printf("%8s %12s %8s %8s %8s %8s\n", "streams", "flushes/s", "p50 us", "p99 us",
	       "p999 us", "max us");
	for (uint32_t i = 0; i < o->nstreams; i++)
		raw_streams_one(o->dir, o->streams[i], o->seconds);
}

/* ---- Recovery of a large log ---- */

static void bench_fill(struct bench *b, uint64_t bytes)
{
	uint64_t entries = bytes / (b->o->entry_bytes + 40);
	b->clients = b->ready = 512;
	b->measuring = false;
	while (b->durable < entries && !b->fatal) {
		bench_poll(b);
		log_flush(b->log);
		loop_run_once(b->loop);
		b->ready = (uint32_t)MIN((uint64_t)512, entries - log_last_index(b->log));
	}
}

static void bench_recover(struct bench *b)
{
	char dir[400];
	snprintf(dir, sizeof(dir), "%s/lane-recover", b->o->dir);
	rm_rf(dir);
	uint64_t bytes = (uint64_t)(b->o->recover_gib * (1ull << 30));
	printf("# recovery: open a log of %.2f GiB (%u-byte entries)\n", b->o->recover_gib,
	       b->o->entry_bytes);
	for (int buffered = 0; buffered < 2; buffered++) {
		struct bench_variant v = { "", buffered != 0, false, false, LOG_SYNC_FDATASYNC };
		struct log_config cfg;
		bench_config(b->o, &v, dir, &cfg);
		ASSERT(bench_open(b, &cfg) == 0);
		if (buffered == 0) {
			uint64_t t0 = time_mono_ns();
			bench_fill(b, bytes);
			printf("wrote %llu entries in %.1f s\n", (unsigned long long)b->durable,
			       (double)(time_mono_ns() - t0) / 1e9);
		}
		bench_close(b);
		ASSERT(bench_open(b, &cfg) == 0);
		printf("%-10s open: %8.1f ms for %llu entries, %u segments, %.2f GiB (%s I/O)\n",
		       buffered ? "buffered" : "direct", b->rec.duration_ns / 1e6,
		       (unsigned long long)b->rec.last_index, b->rec.segments,
		       b->rec.log_bytes / (double)(1ull << 30),
		       b->rec.direct_io ? "direct, from the device" : "through the page cache");
		bench_close(b);
	}
	rm_rf(dir);
}

/* ---- Options ---- */

static void bench_usage(void)
{
	fprintf(stderr, "usage: log_bench [--dir DIR] [--seconds S] [--entry-bytes B] "
		"[--clients 1,8,64] [--raw] [--raw-streams 1,8] [--recover-gib N] [--spin] "
		"[--quick]\n");
	exit(2);
}

static void bench_parse(int argc, char **argv, struct bench_opts *o)
{
	static const struct option longs[] = {
		{ "dir", 1, NULL, 'd' }, { "seconds", 1, NULL, 's' },
		{ "entry-bytes", 1, NULL, 'e' }, { "clients", 1, NULL, 'c' },
		{ "raw", 0, NULL, 'r' }, { "raw-streams", 1, NULL, 't' },
		{ "recover-gib", 1, NULL, 'g' },
		{ "spin", 0, NULL, 'p' }, { "quick", 0, NULL, 'q' }, { NULL, 0, NULL, 0 },
	};
	*o = (struct bench_opts){ .seconds = 3, .entry_bytes = 128, .clients = { 1, 8, 64, 512 },
				  .nclients = 4 };
	snprintf(o->dir, sizeof(o->dir), "%s", "/var/tmp");
	int c;
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'd': snprintf(o->dir, sizeof(o->dir), "%s", optarg); break;
		case 's': o->seconds = atof(optarg); break;
		case 'e': o->entry_bytes = (uint32_t)atoi(optarg); break;
		case 'r': o->raw = true; break;
		case 'g': o->recover_gib = atof(optarg); break;
		case 'p': o->spin = true; break;
		case 'q': o->quick = true; break;
		case 't':
			o->nstreams = 0;
			for (char *t = strtok(optarg, ","); t && o->nstreams < 8; t = strtok(NULL, ","))
				o->streams[o->nstreams++] = (uint32_t)atoi(t);
			break;
		case 'c':
			o->nclients = 0;
			for (char *t = strtok(optarg, ","); t && o->nclients < 8; t = strtok(NULL, ","))
				o->clients[o->nclients++] = (uint32_t)atoi(t);
			break;
		default: bench_usage();
		}
	}
	if (o->seconds <= 0 || o->entry_bytes == 0 || o->entry_bytes > BENCH_ENTRY_BYTES_MAX)
		bench_usage();
	for (uint32_t i = 0; i < o->nclients; i++)
		if (o->clients[i] == 0 || o->clients[i] > BENCH_CLIENTS_MAX)
			bench_usage();
	for (uint32_t i = 0; i < o->nstreams; i++)
		if (o->streams[i] == 0 || o->streams[i] > 64)
			bench_usage();
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	bench_parse(argc, argv, &o);
	log_level_min = LOG_LEVEL_WARN;
	char base[300];
	if (strlen(o.dir) > 200)
		bench_usage();
	snprintf(base, sizeof(base), "%s/spindle-logbench-XXXXXX", o.dir);
	if (!mkdtemp(base)) {
		fprintf(stderr, "log_bench: cannot make a directory in %s: %s\n", o.dir,
			strerror(errno));
		return 1;
	}
	snprintf(o.dir, sizeof(o.dir), "%s", base);
	struct bench *b = calloc(1, sizeof(*b));
	ASSERT(b);
	b->o = &o;
	b->lat = malloc(BENCH_SAMPLES_MAX * sizeof(*b->lat));
	memset(b->payload, 0x5a, sizeof(b->payload));
	struct loop_config lc = { .id = 0, .spin = o.spin, .idle_spin_us = 20,
				  .idle_sleep_us_max = 1000 };
	b->loop = loop_create(&lc);
	b->ud = uring_disk_create(b->loop);
	ASSERT(b->loop && b->ud && b->lat);
	printf("# log_bench in %s\n", o.dir);
	if (o.raw || o.nstreams) {
		if (o.raw)
			bench_raw(&o);
		if (o.nstreams)
			bench_raw_streams(&o);
	} else if (o.recover_gib > 0) {
		bench_recover(b);
	} else {
		bench_matrix(b);
	}
	uring_disk_destroy(b->ud);
	loop_destroy(b->loop);
	rm_rf(o.dir);
	free(b->lat);
	free(b);
	return 0;
}
