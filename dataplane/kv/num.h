/* Numbers in strings, parsed and printed exactly as Redis 7.0 does, since the replies and
 * the stored values must match it byte for byte. */
#ifndef SPINDLE_KV_NUM_H
#define SPINDLE_KV_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_LL_STR_BYTES 21      /* "-9223372036854775808" and a NUL */
#define KV_LD_STR_BYTES 5120    /* Redis's MAX_LONG_DOUBLE_CHARS: any long double fits */

/* A signed 64-bit decimal, strictly: no spaces, no '+', no leading zeros, no "-0", fewer
 * than 21 bytes (Redis's string2ll). */
bool kv_num_parse_ll(const char *s, size_t len, int64_t *v);
/* A long double as strtold() reads it, but the whole string, no leading space, no NaN, and
 * no overflow or underflow to zero ("inf" is accepted, as in Redis's string2ld). */
bool kv_num_parse_ld(const char *s, size_t len, long double *v);
/* An unsigned cursor as strtoul() reads it up to the first NUL, with no leading space and no
 * overflow (Redis's parseScanCursorOrReply). */
bool kv_num_parse_cursor(const char *s, size_t len, uint64_t *v);

/* Decimal text of v; returns the length (no NUL written beyond it). */
size_t kv_num_print_ll(char *buf, int64_t v);
/* Redis's "human friendly" long double: "%.17Lf" with trailing zeros (and a trailing '.')
 * removed, and "-0" written as "0". buf holds KV_LD_STR_BYTES. Returns the length. */
size_t kv_num_print_ld(char *buf, long double v);

#endif
