/* The request trace: formatting one line, per-thread buffering, appending to the file. */
#include "bench/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/panic.h"

STATIC_ASSERT(BENCH_TRACE_BUF_BYTES > 4 * BENCH_TRACE_LINE_BYTES_MAX,
	      "a trace buffer holds several lines");

static const char *const trace_results[] = {
	[BENCH_TRACE_OK] = "ok", [BENCH_TRACE_ERROR] = "error", [BENCH_TRACE_CHECK] = "check",
	[BENCH_TRACE_WAIT] = "wait", [BENCH_TRACE_DROPPED] = "dropped",
	[BENCH_TRACE_TIMEOUT] = "timeout",
};

const char *bench_trace_result_name(enum bench_trace_result r)
{
	return (unsigned)r < ARRAY_SIZE(trace_results) ? trace_results[r] : "?";
}

int bench_trace_create(const char *path, const uint16_t *ports, uint32_t nports)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	char head[BENCH_TRACE_LINE_BYTES_MAX];
	size_t n = (size_t)snprintf(head, sizeof(head), "# spindle-bench trace: %s; ports",
				    BENCH_TRACE_FORMAT);
	for (uint32_t i = 0; i < nports && n < sizeof(head) - 8; i++)
		n += (size_t)snprintf(head + n, sizeof(head) - n, "%s%u", i ? "," : " ", ports[i]);
	head[n++] = '\n';
	if (write(fd, head, n) != (ssize_t)n) {
		int err = errno ? errno : EIO;
		close(fd);
		return -err;
	}
	return fd;
}

int bench_trace_init(struct bench_trace *t, int fd)
{
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	if (fd < 0)
		return 0;
	t->buf = malloc(BENCH_TRACE_BUF_BYTES);
	return t->buf ? 0 : -ENOMEM;
}

size_t bench_trace_format(char *out, size_t cap, const struct bench_trace_rec *rec)
{
	int n = snprintf(out, cap, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %u %s %s %" PRIu64 " %s",
			 rec->done_ns, rec->start_ns, rec->sent_ns, rec->conn, rec->op, rec->key,
			 rec->seq, bench_trace_result_name(rec->result));
	if (n < 0 || (size_t)n + 2 >= cap)
		return 0;
	size_t len = (size_t)n;
	size_t why = MIN(rec->why ? rec->why_len : 0, (size_t)BENCH_TRACE_WHY_BYTES);
	if (why > 0 && len + 1 + why + 1 < cap) {
		out[len++] = ' ';
		for (size_t i = 0; i < why; i++) {
			/* One line per request, whatever the server sent. */
			unsigned char ch = (unsigned char)rec->why[i];
			out[len++] = ch >= ' ' && ch < 127 ? (char)ch : '?';
		}
	}
	out[len++] = '\n';
	out[len] = '\0';
	return len;
}

int bench_trace_flush(struct bench_trace *t)
{
	size_t off = 0;
	while (t->fd >= 0 && t->error == 0 && off < t->len) {
		ssize_t w = write(t->fd, t->buf + off, t->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			t->error = w < 0 ? -errno : -EIO;
		else
			off += (size_t)w;
	}
	t->len = 0;
	return t->error;
}

void bench_trace_record(struct bench_trace *t, const struct bench_trace_rec *rec)
{
	if (t->fd < 0 || t->error)
		return;
	if (BENCH_TRACE_BUF_BYTES - t->len < BENCH_TRACE_LINE_BYTES_MAX)
		bench_trace_flush(t);
	size_t n = bench_trace_format(t->buf + t->len, BENCH_TRACE_LINE_BYTES_MAX, rec);
	ASSERT(n > 0);
	t->len += n;
	ASSERT(t->len < BENCH_TRACE_BUF_BYTES);
}

void bench_trace_free(struct bench_trace *t)
{
	free(t->buf);
	t->buf = NULL;
	t->len = 0;
}
