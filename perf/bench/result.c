/* Result accounting and merging. */
#include "bench/result.h"

#include <string.h>

#include "base/clock.h"
#include "base/panic.h"

void bench_result_init(struct bench_result *r)
{
	memset(r, 0, sizeof(*r) - sizeof(r->hist));
	r->measure_start_ns = UINT64_MAX;
	bench_hist_init(&r->hist);
}

static void result_prefix_add(struct bench_result *r, const char *text, size_t len,
			      uint64_t count)
{
	ASSERT(len < BENCH_ERR_PREFIX_BYTES);
	for (uint32_t i = 0; i < r->err_prefixes; i++) {
		struct bench_err_prefix *p = &r->err_prefix[i];
		if (strlen(p->text) == len && memcmp(p->text, text, len) == 0) {
			p->count += count;
			return;
		}
	}
	if (r->err_prefixes == BENCH_ERR_PREFIXES_MAX) {
		r->err_reply_other += count;
		return;
	}
	struct bench_err_prefix *p = &r->err_prefix[r->err_prefixes++];
	memcpy(p->text, text, len);
	p->text[len] = '\0';
	p->count = count;
}

void bench_result_error_reply(struct bench_result *r, const char *msg, size_t len)
{
	size_t n = 0;
	while (n < len && n < BENCH_ERR_PREFIX_BYTES - 1 && msg[n] > ' ' && msg[n] < 127 &&
	       msg[n] != '"' && msg[n] != '\\')
		n++;
	if (n == 0)
		result_prefix_add(r, "(empty)", 7, 1);
	else
		result_prefix_add(r, msg, n, 1);
}

void bench_result_held_error(struct bench_result *r, const char *msg, size_t len)
{
	if (r->held_error[0] != '\0')
		return;
	size_t n = 0;
	for (; n < len && n < BENCH_HELD_ERROR_BYTES - 1; n++) {
		/* Printable ASCII only: the text goes into JSON and onto a terminal. */
		unsigned char ch = (unsigned char)msg[n];
		r->held_error[n] = (ch >= ' ' && ch < 127 && ch != '"' && ch != '\\') ? (char)ch : '?';
	}
	r->held_error[n] = '\0';
}

void bench_result_merge(struct bench_result *dst, const struct bench_result *src)
{
	dst->requests += src->requests;
	dst->issued += src->issued;
	dst->measure_start_ns = MIN(dst->measure_start_ns, src->measure_start_ns);
	dst->last_done_ns = MAX(dst->last_done_ns, src->last_done_ns);
	dst->err_connect += src->err_connect;
	dst->err_closed += src->err_closed;
	dst->err_dropped += src->err_dropped;
	dst->err_timeout += src->err_timeout;
	dst->err_protocol += src->err_protocol;
	dst->err_check += src->err_check;
	dst->err_wait += src->err_wait;
	dst->err_reply_other += src->err_reply_other;
	for (uint32_t i = 0; i < src->err_prefixes; i++)
		result_prefix_add(dst, src->err_prefix[i].text, strlen(src->err_prefix[i].text),
				  src->err_prefix[i].count);
	if (dst->connect_errno == 0)
		dst->connect_errno = src->connect_errno;
	if (dst->trace_errno == 0)
		dst->trace_errno = src->trace_errno;
	if (dst->held_error[0] == '\0')
		memcpy(dst->held_error, src->held_error, sizeof(dst->held_error));
	dst->check_verified += src->check_verified;
	dst->check_unverified += src->check_unverified;
	dst->conns_open += src->conns_open;
	dst->held_open += src->held_open;
	dst->held_failed += src->held_failed;
	dst->held_lost += src->held_lost;
	bench_hist_merge(&dst->hist, &src->hist);
}

uint64_t bench_result_errors(const struct bench_result *r)
{
	uint64_t n = r->err_connect + r->err_closed + r->err_dropped + r->err_timeout +
		     r->err_protocol + r->err_check + r->err_wait + r->err_reply_other +
		     r->held_failed + r->held_lost;
	for (uint32_t i = 0; i < r->err_prefixes; i++)
		n += r->err_prefix[i].count;
	return n;
}

double bench_result_rps(const struct bench_result *r)
{
	if (r->requests == 0 || r->last_done_ns <= r->measure_start_ns)
		return 0.0;
	return (double)r->requests * (double)NS_PER_SEC /
	       (double)(r->last_done_ns - r->measure_start_ns);
}
