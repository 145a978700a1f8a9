/* Helpers that command handlers apply to parsed arguments: case-insensitive name matching
 * and strict integer parsing with Redis's rules. */
#include <errno.h>
#include <string.h>

#include "base/panic.h"
#include "resp/resp.h"
#include "resp/resp_priv.h"

static inline unsigned char ascii_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

bool resp_arg_equals(const struct resp_arg *arg, const char *str)
{
	ASSERT(str != NULL);
	size_t i = 0;
	for (; i < arg->len; i++) {
		unsigned char want = (unsigned char)str[i];
		if (want == '\0' || ascii_lower((unsigned char)arg->ptr[i]) != ascii_lower(want))
			return false;
	}
	return str[i] == '\0';
}

bool resp_strict_ll(const char *s, size_t len, int64_t *v)
{
	size_t i = 0;
	bool negative = false;
	if (len == 0)
		return false;
	if (len == 1 && s[0] == '0') {
		*v = 0;
		return true;
	}
	if (s[0] == '-') {
		negative = true;
		i = 1;
	}
	/* The first digit is 1-9: this rejects "", "-", "-0", "007" and "+1". */
	if (i == len || s[i] < '1' || s[i] > '9')
		return false;
	uint64_t u = 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (u > (UINT64_MAX - d) / 10)
			return false;
		u = u * 10 + d;
	}
	if (negative) {
		if (u > (uint64_t)INT64_MAX + 1)
			return false;
		*v = (int64_t)(0 - u);
	} else {
		if (u > (uint64_t)INT64_MAX)
			return false;
		*v = (int64_t)u;
	}
	return true;
}

int resp_arg_to_int64(const struct resp_arg *arg, int64_t *v)
{
	ASSERT(arg->ptr != NULL || arg->len == 0);
	return resp_strict_ll(arg->ptr, arg->len, v) ? 0 : -EINVAL;
}
