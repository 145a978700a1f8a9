/* What one thread measured, and the merge of all threads of all processes into one result.
 * A thread's result lives in memory shared with the parent process, so worker processes hand
 * theirs over without any serialisation. Errors are kept by kind: error replies by their
 * first word (ERR, WRONGTYPE, MOVED...), connection failures, connections lost with the
 * requests they held, timeouts, protocol errors, failed checks and short WAITs. */
#ifndef SPINDLE_BENCH_RESULT_H
#define SPINDLE_BENCH_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "bench/hist.h"

#define BENCH_ERR_PREFIXES_MAX 16
#define BENCH_ERR_PREFIX_BYTES 32
#define BENCH_HELD_ERROR_BYTES 96

struct bench_err_prefix {
	char text[BENCH_ERR_PREFIX_BYTES];
	uint64_t count;
};

struct bench_result {
	uint64_t requests;          /* answered without error, inside the measured window */
	uint64_t issued;
	uint64_t measure_start_ns;  /* CLOCK_MONOTONIC; the merge keeps the earliest */
	uint64_t last_done_ns;      /* the merge keeps the latest */

	uint64_t err_connect;       /* connections that could not be opened */
	uint64_t err_closed;        /* connections lost during the run */
	uint64_t err_dropped;       /* requests in flight on a connection when it was lost */
	uint64_t err_timeout;       /* requests unanswered after --timeout-ms */
	uint64_t err_protocol;      /* replies that are not RESP, or not asked for */
	uint64_t err_check;         /* replies that failed --check */
	uint64_t err_wait;          /* WAIT answered with fewer replicas than asked */
	uint64_t err_reply_other;   /* error replies beyond BENCH_ERR_PREFIXES_MAX kinds */
	uint32_t err_prefixes;
	struct bench_err_prefix err_prefix[BENCH_ERR_PREFIXES_MAX];
	int32_t connect_errno;      /* the first connect error, for the message */
	int32_t trace_errno;        /* the first failed write of the trace file */
	char held_error[BENCH_HELD_ERROR_BYTES];  /* the first error reply to a held PING */

	uint64_t check_verified;    /* replies compared with the expected value */
	uint64_t check_unverified;  /* reads of keys whose last write failed */

	uint32_t conns_open;        /* active connections opened */
	uint32_t held_open;         /* idle connections opened and answered PING */
	uint32_t held_failed;
	uint32_t held_lost;         /* held connections the server closed during the run */

	struct bench_hist hist;     /* latency of the requests counted in .requests, in ns */
};

void bench_result_init(struct bench_result *r);
void bench_result_merge(struct bench_result *dst, const struct bench_result *src);
/* Counts one error reply by its first word; msg is the text after '-', len bytes. */
void bench_result_error_reply(struct bench_result *r, const char *msg, size_t len);
/* Keeps the first error a held connection's PING got (text after '-', len bytes). */
void bench_result_held_error(struct bench_result *r, const char *msg, size_t len);
uint64_t bench_result_errors(const struct bench_result *r);
/* Requests per second over the measured window; 0 if nothing was measured. */
double bench_result_rps(const struct bench_result *r);

#endif
