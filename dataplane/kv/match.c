/* Glob matching with Redis's semantics (stringmatchlen): '*' any run of bytes, '?' one
 * byte, '[abc]' '[^abc]' '[a-z]' classes (a reversed range is swapped; a class left open
 * runs to the end of the pattern), '\x' the byte x, anything else itself.
 *
 * Redis matches recursively at each '*'; this walks the pattern once and, on a mismatch,
 * backtracks to the last '*' only (letting it swallow one more byte). Every element but '*'
 * consumes exactly one byte, so the last star is the only choice worth revisiting: the
 * result is the same, in O(pattern x string) time at worst and without recursion, so no
 * pattern can exhaust the stack. Ranges compare bytes as signed chars, as Redis does on the
 * platforms it runs on. */
#include "kv/kv.h"

static inline int match_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Matches c against the class that starts after '[' at p[*i]; *i ends after the class. */
static bool match_class(const char *p, size_t plen, size_t *i, char c, bool nocase)
{
	size_t k = *i;
	bool negate = k < plen && p[k] == '^';
	bool match = false;
	if (negate)
		k++;
	for (; k < plen; k++) {
		if (p[k] == '\\' && plen - k >= 2) {
			k++;
			if (p[k] == c)
				match = true;
		} else if (p[k] == ']') {
			k++;
			break;
		} else if (plen - k >= 3 && p[k + 1] == '-') {
			int start = (signed char)p[k], end = (signed char)p[k + 2];
			int ch = (signed char)c;
			if (start > end) {
				int t = start;
				start = end;
				end = t;
			}
			if (nocase) {
				start = match_lower(start);
				end = match_lower(end);
				ch = match_lower(ch);
			}
			k += 2;
			if (ch >= start && ch <= end)
				match = true;
		} else if (nocase ? match_lower((unsigned char)p[k]) == match_lower((unsigned char)c)
				  : p[k] == c) {
			match = true;
		}
	}
	*i = k;
	return negate ? !match : match;
}

/* Matches one byte against the pattern element at p[*i] (not '*'); *i ends after it. */
static bool match_one(const char *p, size_t plen, size_t *i, char c, bool nocase)
{
	size_t k = *i;
	char want = p[k];
	if (want == '?') {
		*i = k + 1;
		return true;
	}
	if (want == '[') {
		*i = k + 1;
		return match_class(p, plen, i, c, nocase);
	}
	if (want == '\\' && plen - k >= 2)
		want = p[++k];
	*i = k + 1;
	if (nocase)
		return match_lower((unsigned char)want) == match_lower((unsigned char)c);
	return want == c;
}

bool kv_match(const char *pattern, size_t pattern_len, const char *str, size_t str_len,
	      bool nocase)
{
	const char *p = pattern;
	size_t plen = pattern_len, pi = 0, si = 0;
	size_t star_pi = SIZE_MAX, star_si = 0; /* after the last '*', and where it began */
	/* Redis's loop never starts on an empty string, so only the empty pattern matches it
	 * (KEYS and SCAN treat a lone "*" as "everything" before matching). */
	if (str_len == 0)
		return pattern_len == 0;
	while (si < str_len) {
		if (pi < plen && p[pi] == '*') {
			while (pi < plen && p[pi] == '*')
				pi++;
			if (pi == plen)
				return true;
			star_pi = pi;
			star_si = si;
			continue;
		}
		size_t next = pi;
		if (pi < plen && match_one(p, plen, &next, str[si], nocase)) {
			pi = next;
			si++;
			continue;
		}
		if (star_pi == SIZE_MAX)
			return false;
		pi = star_pi;
		si = ++star_si;
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}
