/* Test driver for the request parser: feeds an input in pieces of a chosen size, the way a
 * connection delivers bytes, and writes what came out as a transcript string, so that
 * whole-buffer, byte-at-a-time and random splits can be compared with each other and with
 * the expected result. Each call gets a private copy of exactly the bytes delivered, so that
 * ASan catches any read past them. */
#ifndef SPINDLE_TESTS_RESP_PARSE_UTIL_H
#define SPINDLE_TESTS_RESP_PARSE_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/compiler.h"
#include "resp/resp.h"

struct sbuf {
	char *p;
	size_t len, cap;
};

static inline void sbuf_add(struct sbuf *s, const char *bytes, size_t n)
{
	if (s->len + n + 1 > s->cap) {
		s->cap = (s->len + n + 1) * 2;
		s->p = realloc(s->p, s->cap);
		assert_non_null(s->p);
	}
	memcpy(s->p + s->len, bytes, n);
	s->len += n;
	s->p[s->len] = '\0';
}

static inline void sbuf_str(struct sbuf *s, const char *str)
{
	sbuf_add(s, str, strlen(str));
}

/* [arg,arg,...] with non-printable bytes, ',', '[', ']' and '\\' as \xHH. */
static inline void sbuf_argv(struct sbuf *s, const struct resp_argv *argv)
{
	sbuf_str(s, "[");
	for (uint32_t i = 0; i < argv->argc; i++) {
		if (i > 0)
			sbuf_str(s, ",");
		for (size_t j = 0; j < argv->argv[i].len; j++) {
			unsigned char c = (unsigned char)argv->argv[i].ptr[j];
			char esc[8];
			if (c < 0x20 || c >= 0x7f || c == ',' || c == '[' || c == ']' || c == '\\') {
				snprintf(esc, sizeof(esc), "\\x%02x", c);
				sbuf_str(s, esc);
			} else {
				sbuf_add(s, (const char *)&c, 1);
			}
		}
	}
	sbuf_str(s, "]");
}

static inline bool arg_inside(const struct resp_arg *a, const char *base, size_t len)
{
	return a->ptr >= base && a->ptr + a->len <= base + len;
}

/* Feeds in[0..len) step bytes at a time (step 0: all at once). Returns the transcript:
 * commands as [a,b], "E" for EMPTY, the error text for ERROR (which ends the stream), and
 * "MORE" if bytes were left waiting at the end. *calls counts parser calls. */
static inline char *parse_transcript(const struct resp_limits *lim, struct resp_argv *argv,
				     const char *in, size_t len, size_t step, size_t *calls)
{
	struct sbuf s = { 0 };
	struct resp_parse_state st = { 0 };
	size_t pos = 0, avail = step == 0 ? len : 0;
	sbuf_str(&s, "");
	for (;;) {
		size_t n = avail - pos;
		char *copy = malloc(n + 1);
		assert_non_null(copy);
		memcpy(copy, in + pos, n);
		size_t used = 12345;
		const char *err = NULL;
		enum resp_parse_status r = resp_parse_command(&st, lim, copy, n, &used, argv, &err);
		if (calls != NULL)
			(*calls)++;
		if (r == RESP_PARSE_DONE) {
			assert_true(used > 0 && used <= n);
			for (uint32_t i = 0; i < argv->argc; i++)
				assert_true(arg_inside(&argv->argv[i], copy, used) ||
					    arg_inside(&argv->argv[i], argv->inline_buf, argv->inline_cap));
			sbuf_argv(&s, argv);
		} else if (r == RESP_PARSE_EMPTY) {
			assert_true(used > 0 && used <= n);
			sbuf_str(&s, "E");
		} else if (r == RESP_PARSE_ERROR) {
			assert_non_null(err);
			sbuf_str(&s, err);
		} else {
			assert_int_equal(r, RESP_PARSE_MORE);
			assert_int_equal(used, 0);
		}
		free(copy);
		if (r != RESP_PARSE_MORE) {
			/* Every outcome but MORE leaves the state at a command boundary. */
			struct resp_parse_state zero = { 0 };
			assert_memory_equal(&st, &zero, sizeof(st));
		}
		if (r == RESP_PARSE_ERROR)
			break;
		if (r == RESP_PARSE_MORE) {
			if (avail == len) {
				if (pos < len)
					sbuf_str(&s, "MORE");
				break;
			}
			avail = MIN(len, avail + step);
			continue;
		}
		pos += used;
		sbuf_str(&s, " ");
	}
	return s.p;
}

#endif
