/* Redis-exact number parsing and printing (see num.h). */
#include "kv/num.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/panic.h"
#include "resp/resp.h"

bool kv_num_parse_ll(const char *s, size_t len, int64_t *v)
{
	return resp_strict_ll(s, len, v);
}

static bool num_isspace(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

bool kv_num_parse_ld(const char *s, size_t len, long double *v)
{
	char buf[KV_LD_STR_BYTES];
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (num_isspace(buf[0]))
		return false;
	char *end;
	errno = 0;
	long double value = strtold(buf, &end);
	if (end != buf + len || isnan(value))
		return false;
	if (errno == ERANGE && (isinf(value) || fpclassify(value) == FP_ZERO))
		return false;
	*v = value;
	return true;
}

bool kv_num_parse_cursor(const char *s, size_t len, uint64_t *v)
{
	const char *nul = memchr(s, '\0', len);
	if (nul != NULL)
		len = (size_t)(nul - s);
	if (len > 0 && num_isspace(s[0]))
		return false;
	size_t i = 0;
	bool negative = false;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		negative = s[i++] == '-';
	if (i == len) {
		/* No digits: strtoul stops at the start, so only an empty string is valid. */
		*v = 0;
		return len == 0;
	}
	uint64_t u = 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (u > (UINT64_MAX - d) / 10)
			return false;
		u = u * 10 + d;
	}
	*v = negative ? (uint64_t)0 - u : u;
	return true;
}

size_t kv_num_print_ll(char *buf, int64_t v)
{
	char tmp[KV_LL_STR_BYTES];
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	size_t len = 0;
	if (v < 0)
		buf[len++] = '-';
	while (n > 0)
		buf[len++] = tmp[--n];
	return len;
}

size_t kv_num_print_ld(char *buf, long double v)
{
	if (isinf(v)) {
		memcpy(buf, v > 0 ? "inf" : "-inf", v > 0 ? 3 : 4);
		return v > 0 ? 3 : 4;
	}
	int n = snprintf(buf, KV_LD_STR_BYTES, "%.17Lf", v);
	ASSERT(n > 0 && n < KV_LD_STR_BYTES);
	size_t len = (size_t)n;
	if (memchr(buf, '.', len) != NULL) {
		while (buf[len - 1] == '0')
			len--;
		if (buf[len - 1] == '.')
			len--;
	}
	if (len == 2 && buf[0] == '-' && buf[1] == '0') {
		buf[0] = '0';
		len = 1;
	}
	return len;
}
