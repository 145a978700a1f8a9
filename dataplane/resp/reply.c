/* The reply writer: every RESP2 and RESP3 element, encoded byte for byte as Redis 7.0 encodes
 * it, appended to a struct resp_out. Integers are written digit pair by digit pair from a
 * precomputed table (no printf on the hot path); only doubles and formatted errors use
 * snprintf. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "base/panic.h"
#include "resp/resp.h"
#include "resp/resp_priv.h"

#define REPLY_INT_BYTES_MAX 24     /* type byte, sign, 20 digits, CRLF */
#define REPLY_DOUBLE_BYTES_MAX 48  /* "%.17g" needs at most 24 */
#define REPLY_ERRORF_STACK_BYTES 256

static const char digit_pairs[] =
	"00010203040506070809"
	"10111213141516171819"
	"20212223242526272829"
	"30313233343536373839"
	"40414243444546474849"
	"50515253545556575859"
	"60616263646566676869"
	"70717273747576777879"
	"80818283848586878889"
	"90919293949596979899";

/* Writes v's decimal digits so that they end just before end; returns where they start. */
static char *u64_digits(char *end, uint64_t v)
{
	char *p = end;
	while (v >= 100) {
		unsigned i = (unsigned)(v % 100) * 2;
		v /= 100;
		*--p = digit_pairs[i + 1];
		*--p = digit_pairs[i];
	}
	if (v >= 10) {
		unsigned i = (unsigned)v * 2;
		*--p = digit_pairs[i + 1];
		*--p = digit_pairs[i];
	} else {
		*--p = (char)('0' + v);
	}
	return p;
}

static char *i64_digits(char *end, int64_t v)
{
	if (v >= 0)
		return u64_digits(end, (uint64_t)v);
	char *p = u64_digits(end, (uint64_t)0 - (uint64_t)v);
	*--p = '-';
	return p;
}

/* <type><v>\r\n: integers and every length prefix. */
static void add_prefixed_u64(struct resp_out *out, char type, uint64_t v)
{
	char buf[REPLY_INT_BYTES_MAX];
	char *end = buf + sizeof(buf) - 2;
	end[0] = '\r';
	end[1] = '\n';
	char *p = u64_digits(end, v);
	*--p = type;
	resp_out_write3(out, p, (size_t)(buf + sizeof(buf) - p), "", 0, "", 0);
}

void resp_add_int(struct resp_out *out, int64_t v)
{
	char buf[REPLY_INT_BYTES_MAX];
	char *end = buf + sizeof(buf) - 2;
	end[0] = '\r';
	end[1] = '\n';
	char *p = i64_digits(end, v);
	*--p = ':';
	resp_out_write3(out, p, (size_t)(buf + sizeof(buf) - p), "", 0, "", 0);
}

void resp_add_bulk(struct resp_out *out, const void *bytes, size_t len)
{
	ASSERT(bytes != NULL || len == 0);
	char buf[REPLY_INT_BYTES_MAX];
	char *end = buf + sizeof(buf) - 2;
	end[0] = '\r';
	end[1] = '\n';
	char *p = u64_digits(end, len);
	*--p = '$';
	resp_out_write3(out, p, (size_t)(buf + sizeof(buf) - p), bytes, len, "\r\n", 2);
}

void resp_add_bulk_str(struct resp_out *out, const char *str)
{
	resp_add_bulk(out, str, strlen(str));
}

void resp_add_bulk_int(struct resp_out *out, int64_t v)
{
	/* "$<n>\r\n<digits>\r\n" built right to left in one buffer. */
	char buf[2 * REPLY_INT_BYTES_MAX];
	char *end = buf + sizeof(buf) - 2;
	end[0] = '\r';
	end[1] = '\n';
	char *p = i64_digits(end, v);
	size_t digits = (size_t)(end - p);
	*--p = '\n';
	*--p = '\r';
	p = u64_digits(p, digits);
	*--p = '$';
	resp_out_write3(out, p, (size_t)(buf + sizeof(buf) - p), "", 0, "", 0);
}

void resp_add_array(struct resp_out *out, uint64_t n)
{
	add_prefixed_u64(out, '*', n);
}

void resp_add_map(struct resp_out *out, uint64_t n)
{
	ASSERT(n <= UINT64_MAX / 2);
	if (out->proto == 3)
		add_prefixed_u64(out, '%', n);
	else
		add_prefixed_u64(out, '*', 2 * n);
}

void resp_add_set(struct resp_out *out, uint64_t n)
{
	add_prefixed_u64(out, out->proto == 3 ? '~' : '*', n);
}

void resp_add_null(struct resp_out *out)
{
	if (out->proto == 3)
		resp_out_write3(out, "_\r\n", 3, "", 0, "", 0);
	else
		resp_out_write3(out, "$-1\r\n", 5, "", 0, "", 0);
}

void resp_add_null_array(struct resp_out *out)
{
	if (out->proto == 3)
		resp_out_write3(out, "_\r\n", 3, "", 0, "", 0);
	else
		resp_out_write3(out, "*-1\r\n", 5, "", 0, "", 0);
}

void resp_add_bool(struct resp_out *out, bool v)
{
	if (out->proto == 3)
		resp_out_write3(out, v ? "#t\r\n" : "#f\r\n", 4, "", 0, "", 0);
	else
		resp_out_write3(out, v ? ":1\r\n" : ":0\r\n", 4, "", 0, "", 0);
}

void resp_add_double(struct resp_out *out, double v)
{
	char num[REPLY_DOUBLE_BYTES_MAX];
	int len;
	if (isnan(v))
		len = snprintf(num, sizeof(num), "nan");
	else if (isinf(v))
		len = snprintf(num, sizeof(num), "%s", v > 0 ? "inf" : "-inf");
	else
		len = snprintf(num, sizeof(num), "%.17g", v);
	ASSERT(len > 0 && (size_t)len < sizeof(num));
	if (out->proto == 3)
		resp_out_write3(out, ",", 1, num, (size_t)len, "\r\n", 2);
	else
		resp_add_bulk(out, num, (size_t)len);
}

void resp_add_verbatim(struct resp_out *out, const char *format, const void *bytes,
		       size_t len)
{
	if (out->proto != 3) {
		resp_add_bulk(out, bytes, len);
		return;
	}
	ASSERT(bytes != NULL || len == 0);
	char buf[REPLY_INT_BYTES_MAX + 4];
	char *fmt = buf + sizeof(buf) - 4;
	for (int i = 0; i < 3; i++)
		fmt[i] = *format != '\0' ? *format++ : ' ';
	fmt[3] = ':';
	char *p = fmt - 2;
	p[0] = '\r';
	p[1] = '\n';
	p = u64_digits(p, (uint64_t)len + 4);
	*--p = '=';
	resp_out_write3(out, p, (size_t)(buf + sizeof(buf) - p), bytes, len, "\r\n", 2);
}

/* <type><text>\r\n with every CR and LF of text turned into a space. */
static void add_line(struct resp_out *out, char type, const char *text)
{
	size_t len = strlen(text);
	if (likely(strpbrk(text, "\r\n") == NULL)) {
		resp_out_write3(out, &type, 1, text, len, "\r\n", 2);
		return;
	}
	char *clean = malloc(len);
	if (clean == NULL) {
		out->oom = true;
		return;
	}
	for (size_t i = 0; i < len; i++)
		clean[i] = (text[i] == '\r' || text[i] == '\n') ? ' ' : text[i];
	resp_out_write3(out, &type, 1, clean, len, "\r\n", 2);
	free(clean);
}

void resp_add_simple(struct resp_out *out, const char *str)
{
	add_line(out, '+', str);
}

void resp_add_error(struct resp_out *out, const char *msg)
{
	/* Tolerate a caller that already put the "-" in. */
	if (msg[0] == '-')
		msg++;
	ASSERT_MSG(msg[0] != '\0', "an error reply needs a text");
	add_line(out, '-', msg);
}

void resp_add_errorf(struct resp_out *out, const char *fmt, ...)
{
	char stack[REPLY_ERRORF_STACK_BYTES];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(stack, sizeof(stack), fmt, ap);
	va_end(ap);
	ASSERT(len >= 0);
	if ((size_t)len < sizeof(stack)) {
		resp_add_error(out, stack);
		return;
	}
	char *heap = malloc((size_t)len + 1);
	if (heap == NULL) {
		out->oom = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(heap, (size_t)len + 1, fmt, ap);
	va_end(ap);
	resp_add_error(out, heap);
	free(heap);
}
