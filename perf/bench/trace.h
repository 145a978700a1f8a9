/* The request trace (--trace FILE): one text line per finished request, whatever its end
 * (answered, failed a check, error reply, dropped with its connection, timed out), so that a
 * run can be cut into windows afterwards: around a fault, per key, per connection. Each
 * thread fills its own buffer and appends it to the shared file in whole lines with one
 * write() on an O_APPEND descriptor (atomic for a regular file), so threads and worker
 * processes never lock each other; lines are in no particular order.
 *
 *   DONE_NS START_NS SENT_NS CONN OP KEY SEQ RESULT [MESSAGE]
 *
 * Times are CLOCK_MONOTONIC nanoseconds, comparable with any other process's clock reads on
 * the machine (e.g. the time a fault was injected). */
#ifndef SPINDLE_BENCH_TRACE_H
#define SPINDLE_BENCH_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_TRACE_BUF_BYTES (256u * 1024)  /* one thread's buffer, flushed when full */
#define BENCH_TRACE_LINE_BYTES_MAX 256       /* longest line, message included */
#define BENCH_TRACE_WHY_BYTES 64             /* kept of an error reply's text */
#define BENCH_TRACE_FORMAT "DONE_NS START_NS SENT_NS CONN OP KEY SEQ RESULT [MESSAGE]"

enum bench_trace_result {
	BENCH_TRACE_OK,
	BENCH_TRACE_ERROR,    /* an error reply; MESSAGE is its start */
	BENCH_TRACE_CHECK,    /* answered, but not what --check expected */
	BENCH_TRACE_WAIT,     /* WAIT counted fewer replicas than asked */
	BENCH_TRACE_DROPPED,  /* in flight on a connection that was lost */
	BENCH_TRACE_TIMEOUT,  /* unanswered after --timeout-ms, or at the end of the drain */
};

struct bench_trace_rec {
	uint64_t done_ns, start_ns, sent_ns;
	uint32_t conn;
	const char *op;
	const char *key;      /* NUL-terminated; "-" when the command has no key */
	uint64_t seq;
	enum bench_trace_result result;
	const char *why;      /* error text (not NUL-terminated), may be NULL */
	size_t why_len;
};

/* One thread's side of the trace. fd < 0: tracing is off and every call does nothing. */
struct bench_trace {
	int fd;
	int error;            /* the first failed write: negative errno; tracing stops */
	char *buf;
	size_t len;
};

/* Creates (truncates) the trace file with a comment line naming the fields and the ports.
 * Returns the descriptor or a negative errno. */
int bench_trace_create(const char *path, const uint16_t *ports, uint32_t nports);
/* Prepares t to append to fd (fd < 0: off). Returns 0 or -ENOMEM. */
int bench_trace_init(struct bench_trace *t, int fd);
void bench_trace_record(struct bench_trace *t, const struct bench_trace_rec *rec);
/* Writes out what is buffered; returns 0 or the first write error. */
int bench_trace_flush(struct bench_trace *t);
void bench_trace_free(struct bench_trace *t);
/* Formats one line (with its newline) into out; returns its length (< cap) or 0. */
size_t bench_trace_format(char *out, size_t cap, const struct bench_trace_rec *rec);
const char *bench_trace_result_name(enum bench_trace_result r);

#endif
