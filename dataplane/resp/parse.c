/* The request parser: RESP multibulk and inline commands, resumable at any byte.
 *
 * A waiting connection keeps only struct resp_parse_state and its unparsed bytes. The state
 * records where the scan stopped, so a call with the same bytes plus more looks only at the
 * new ones: a line's end is searched from where the last search gave up, and bulk data is
 * never looked at, only counted. argv belongs to the loop and other connections use it in
 * between, so the arguments of a command that arrived over several calls are collected once
 * more when it completes, by a walk over its header lines only (a few bytes per argument).
 * bytes_examined in struct resp_argv counts every byte looked at. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "base/panic.h"
#include "resp/resp.h"
#include "resp/resp_priv.h"

enum parse_phase {
	PHASE_START = 0,  /* at a command boundary: state is all zero */
	PHASE_COUNT,      /* "*<n>" line; scanned_bytes: where to resume looking for its CR */
	PHASE_BULK_LINE,  /* "$<len>" line starting at offset bulk_len; scanned_bytes as above */
	PHASE_BULK_DATA,  /* bulk data of bulk_len bytes starting at offset scanned_bytes */
	PHASE_INLINE,     /* inline line; scanned_bytes: where to resume looking for its LF */
};

#define ERR_MBULK_LEN "ERR Protocol error: invalid multibulk length"
#define ERR_BULK_LEN "ERR Protocol error: invalid bulk length"
#define ERR_MBULK_BIG "ERR Protocol error: too big mbulk count string"
#define ERR_BULK_BIG "ERR Protocol error: too big bulk count string"
#define ERR_BULK_CRLF "ERR Protocol error: bulk data not followed by CRLF"
#define ERR_INLINE_BIG "ERR Protocol error: too big inline request"
#define ERR_INLINE_QUOTES "ERR Protocol error: unbalanced quotes in request"
#define ERR_INLINE_ARGS "ERR Protocol error: too many arguments in inline request"
#define ERR_QUERY_LIMIT "ERR Protocol error: query buffer limit exceeded"
#define ERR_OOM "ERR out of memory"

/* The longest valid count or length line: "*", 20 characters of int64, CR LF. */
#define PARSE_NUM_LINE_BYTES_MAX 23

/* One call's view: the input and where results go. */
struct parse {
	struct resp_parse_state *st;
	const struct resp_limits *lim;
	const char *buf;
	size_t len;
	struct resp_argv *argv;
	const char **err;
	size_t end;         /* on DONE or EMPTY: bytes consumed */
	uint32_t first_new; /* arguments scanned before this call must be collected again */
};

void resp_limits_default(struct resp_limits *limits)
{
	limits->bulk_bytes_max = RESP_BULK_BYTES_MAX_DEFAULT;
	limits->args_max = RESP_ARGS_MAX_DEFAULT;
	limits->query_bytes_max = RESP_QUERY_BYTES_MAX_DEFAULT;
}

/* realloc with the test hook in front of it. */
static void *argv_realloc(struct resp_argv *argv, void *ptr, size_t bytes)
{
	if (resp_alloc_fault_hit(&argv->fault))
		return NULL;
	return realloc(ptr, bytes);
}

int resp_argv_init(struct resp_argv *argv)
{
	memset(argv, 0, sizeof(*argv));
	argv->argv = argv_realloc(argv, NULL, RESP_ARGV_CAP_INITIAL * sizeof(*argv->argv));
	if (argv->argv == NULL)
		return -ENOMEM;
	argv->cap = RESP_ARGV_CAP_INITIAL;
	return 0;
}

void resp_argv_free(struct resp_argv *argv)
{
	free(argv->argv);
	free(argv->inline_buf);
	argv->argv = NULL;
	argv->inline_buf = NULL;
	argv->cap = 0;
	argv->inline_cap = 0;
	argv->argc = 0;
}

/* Makes room for index i; doubles, but never past total. False when memory ran out. */
static bool argv_reserve(struct resp_argv *argv, uint32_t i, uint32_t total)
{
	if (likely(i < argv->cap))
		return true;
	ASSERT(i < total);
	uint64_t cap = MAX((uint64_t)argv->cap * 2, RESP_ARGV_CAP_INITIAL);
	cap = MIN(cap, total);
	struct resp_arg *a = argv_realloc(argv, argv->argv, cap * sizeof(*a));
	if (a == NULL)
		return false;
	argv->argv = a;
	argv->cap = (uint32_t)cap;
	return true;
}

static enum resp_parse_status parse_fail(struct parse *p, const char *msg)
{
	*p->err = msg;
	return RESP_PARSE_ERROR;
}

/* Looks for c in the line starting at start, resuming at *from. 1: found at *at; 0: not yet
 * (*from is where to resume); -1: the line is longer than RESP_INLINE_BYTES_MAX. */
static int line_find(struct parse *p, size_t start, uint64_t *from, char c, size_t *at)
{
	size_t limit = MIN(p->len, start + RESP_INLINE_BYTES_MAX + 1);
	ASSERT(*from >= start && *from <= p->len);
	if (*from < limit) {
		const char *hit = memchr(p->buf + *from, c, limit - *from);
		p->argv->bytes_examined += (hit != NULL ? (size_t)(hit - p->buf) + 1 : limit) - *from;
		if (hit != NULL) {
			*at = (size_t)(hit - p->buf);
			return 1;
		}
		*from = limit;
	}
	return p->len - start > RESP_INLINE_BYTES_MAX ? -1 : 0;
}

static enum resp_parse_status parse_count(struct parse *p)
{
	struct resp_parse_state *st = p->st;
	size_t cr;
	int found = line_find(p, 0, &st->scanned_bytes, '\r', &cr);
	if (found < 0)
		return parse_fail(p, ERR_MBULK_BIG);
	if (found == 0)
		return RESP_PARSE_MORE;
	if (cr + 1 >= p->len) {
		st->scanned_bytes = cr; /* the LF has not arrived: look at the CR again */
		return RESP_PARSE_MORE;
	}
	int64_t n;
	p->argv->bytes_examined++;
	if (p->buf[cr + 1] != '\n' || !resp_strict_ll(p->buf + 1, cr - 1, &n) ||
	    n > (int64_t)p->lim->args_max)
		return parse_fail(p, ERR_MBULK_LEN);
	if (n <= 0) {
		p->end = cr + 2;
		return RESP_PARSE_EMPTY;
	}
	st->args_left = (uint32_t)n;
	st->args_done = 0;
	st->phase = PHASE_BULK_LINE;
	st->bulk_len = cr + 2;
	st->scanned_bytes = cr + 2;
	return RESP_PARSE_DONE; /* this step is done; the caller goes on to the arguments */
}

static enum resp_parse_status expected_dollar(struct parse *p, char got)
{
	static const char prefix[] = "ERR Protocol error: expected '$', got '";
	char *e = p->argv->err_buf;
	STATIC_ASSERT(sizeof(prefix) + 2 <= RESP_ERR_BUF_BYTES, "error buffer too small");
	memcpy(e, prefix, sizeof(prefix) - 1);
	/* As Redis's error sanitising does: CR and LF become spaces (and NUL, which would end
	 * the text). */
	e[sizeof(prefix) - 1] = (got == '\r' || got == '\n' || got == '\0') ? ' ' : got;
	e[sizeof(prefix)] = '\'';
	e[sizeof(prefix) + 1] = '\0';
	return parse_fail(p, e);
}

static enum resp_parse_status parse_bulk_line(struct parse *p)
{
	struct resp_parse_state *st = p->st;
	size_t start = st->bulk_len, cr;
	int found = line_find(p, start, &st->scanned_bytes, '\r', &cr);
	if (found < 0)
		return parse_fail(p, ERR_BULK_BIG);
	if (found == 0)
		return RESP_PARSE_MORE;
	if (cr + 1 >= p->len) {
		st->scanned_bytes = cr;
		return RESP_PARSE_MORE;
	}
	p->argv->bytes_examined++; /* the LF; the line itself was searched */
	if (p->buf[start] != '$')
		return expected_dollar(p, p->buf[start]);
	int64_t n;
	if (p->buf[cr + 1] != '\n' || !resp_strict_ll(p->buf + start + 1, cr - start - 1, &n) ||
	    n < 0 || (uint64_t)n > p->lim->bulk_bytes_max)
		return parse_fail(p, ERR_BULK_LEN);
	st->phase = PHASE_BULK_DATA;
	st->scanned_bytes = cr + 2;
	st->bulk_len = (uint64_t)n;
	return RESP_PARSE_DONE;
}

static enum resp_parse_status parse_bulk_data(struct parse *p)
{
	struct resp_parse_state *st = p->st;
	size_t data = st->scanned_bytes;
	if (p->len - data < st->bulk_len + 2)
		return RESP_PARSE_MORE;
	size_t crlf = data + st->bulk_len;
	p->argv->bytes_examined += 2;
	if (p->buf[crlf] != '\r' || p->buf[crlf + 1] != '\n')
		return parse_fail(p, ERR_BULK_CRLF);
	uint32_t i = st->args_done;
	if (!argv_reserve(p->argv, i, i + st->args_left))
		return parse_fail(p, ERR_OOM);
	p->argv->argv[i].ptr = p->buf + data;
	p->argv->argv[i].len = st->bulk_len;
	st->args_done++;
	st->args_left--;
	st->phase = PHASE_BULK_LINE;
	st->bulk_len = crlf + 2;
	st->scanned_bytes = crlf + 2;
	return RESP_PARSE_DONE;
}

/* Collects the first n arguments again, from lines already checked by earlier calls. */
static void collect_scanned_args(struct parse *p, uint32_t n)
{
	if (n == 0)
		return;
	const char *buf = p->buf;
	const char *cr = memchr(buf, '\r', MIN(p->len, (size_t)PARSE_NUM_LINE_BYTES_MAX));
	ASSERT(cr != NULL);
	size_t pos = (size_t)(cr - buf) + 2;
	for (uint32_t i = 0; i < n; i++) {
		ASSERT(buf[pos] == '$');
		size_t j = pos + 1;
		uint64_t len = 0;
		for (; buf[j] != '\r'; j++)
			len = len * 10 + (uint64_t)(buf[j] - '0');
		p->argv->argv[i].ptr = buf + j + 2;
		p->argv->argv[i].len = len;
		p->argv->bytes_examined += j + 2 - pos;
		pos = j + 2 + len + 2;
	}
}

static bool is_blank(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r'); /* isspace() in the C locale */
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char unescape(char c)
{
	switch (c) {
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'b': return '\b';
	case 'a': return '\a';
	default: return c;
	}
}

/* Reads one double-quoted word body from line[*i] (just past the opening quote). */
static bool inline_dquoted(const char *line, size_t n, size_t *pi, char **pout)
{
	size_t i = *pi;
	char *out = *pout;
	for (;;) {
		if (i == n)
			return false;
		char c = line[i];
		if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && hex_value(line[i + 2]) >= 0 &&
		    hex_value(line[i + 3]) >= 0) {
			*out++ = (char)(hex_value(line[i + 2]) * 16 + hex_value(line[i + 3]));
			i += 4;
		} else if (c == '\\' && i + 1 < n) {
			*out++ = unescape(line[i + 1]);
			i += 2;
		} else if (c == '"') {
			/* A closing quote is followed by a blank or the end of the line. */
			if (i + 1 < n && !is_blank(line[i + 1]))
				return false;
			*pi = i + 1;
			*pout = out;
			return true;
		} else {
			*out++ = c;
			i++;
		}
	}
}

static bool inline_squoted(const char *line, size_t n, size_t *pi, char **pout)
{
	size_t i = *pi;
	char *out = *pout;
	for (;;) {
		if (i == n)
			return false;
		char c = line[i];
		if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
			*out++ = '\'';
			i += 2;
		} else if (c == '\'') {
			if (i + 1 < n && !is_blank(line[i + 1]))
				return false;
			*pi = i + 1;
			*pout = out;
			return true;
		} else {
			*out++ = c;
			i++;
		}
	}
}

/* Unquotes one word at line[*i] into *out, as sdssplitargs does: a quote may open in the
 * middle of a word, and the word ends at a closing quote. False on unbalanced quotes. */
static bool inline_word(const char *line, size_t n, size_t *pi, char **pout)
{
	size_t i = *pi;
	while (i < n) {
		char c = line[i++];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			break;
		if (c == '"' || c == '\'') {
			*pi = i;
			return c == '"' ? inline_dquoted(line, n, pi, pout)
					: inline_squoted(line, n, pi, pout);
		}
		*(*pout)++ = c;
	}
	*pi = i;
	return true;
}

static bool inline_reserve(struct resp_argv *argv, size_t n)
{
	if (n <= argv->inline_cap)
		return true;
	size_t cap = MIN(MAX(n, argv->inline_cap * 2), (size_t)RESP_INLINE_BYTES_MAX);
	char *b = argv_realloc(argv, argv->inline_buf, cap);
	if (b == NULL)
		return false;
	argv->inline_buf = b;
	argv->inline_cap = cap;
	return true;
}

/* Splits line[0..n) into argv, unquoting into argv->inline_buf. */
static enum resp_parse_status inline_split(struct parse *p, const char *line, size_t n)
{
	struct resp_argv *argv = p->argv;
	if (!inline_reserve(argv, n))
		return parse_fail(p, ERR_OOM);
	argv->bytes_examined += n;
	char *out = argv->inline_buf;
	uint32_t argc = 0;
	size_t i = 0;
	for (;;) {
		while (i < n && is_blank(line[i]))
			i++;
		if (i == n)
			break;
		char *word = out;
		if (!inline_word(line, n, &i, &out))
			return parse_fail(p, ERR_INLINE_QUOTES);
		if (argc >= p->lim->args_max)
			return parse_fail(p, ERR_INLINE_ARGS);
		if (!argv_reserve(argv, argc, p->lim->args_max))
			return parse_fail(p, ERR_OOM);
		argv->argv[argc].ptr = word;
		argv->argv[argc].len = (size_t)(out - word);
		argc++;
	}
	ASSERT((size_t)(out - argv->inline_buf) <= n);
	argv->argc = argc;
	return argc > 0 ? RESP_PARSE_DONE : RESP_PARSE_EMPTY;
}

static enum resp_parse_status parse_inline(struct parse *p)
{
	size_t lf;
	int found = line_find(p, 0, &p->st->scanned_bytes, '\n', &lf);
	if (found < 0)
		return parse_fail(p, ERR_INLINE_BIG);
	if (found == 0)
		return RESP_PARSE_MORE;
	size_t n = lf;
	if (n > 0 && p->buf[n - 1] == '\r')
		n--;
	p->end = lf + 1;
	return inline_split(p, p->buf, n);
}

static enum resp_parse_status parse_multibulk(struct parse *p)
{
	struct resp_parse_state *st = p->st;
	enum resp_parse_status r;
	if (st->phase == PHASE_COUNT) {
		r = parse_count(p);
		if (r != RESP_PARSE_DONE)
			return r;
	}
	while (st->args_left > 0) {
		if (st->phase == PHASE_BULK_LINE) {
			r = parse_bulk_line(p);
			if (r != RESP_PARSE_DONE)
				return r;
		}
		r = parse_bulk_data(p);
		if (r != RESP_PARSE_DONE)
			return r;
	}
	uint32_t argc = st->args_done;
	/* The array was sized while scanning, so it holds argc entries already. */
	ASSERT(argc <= p->argv->cap);
	collect_scanned_args(p, p->first_new);
	p->argv->argc = argc;
	p->end = st->bulk_len;
	return RESP_PARSE_DONE;
}

enum resp_parse_status resp_parse_command(struct resp_parse_state *state,
					  const struct resp_limits *limits,
					  const char *buf, size_t len, size_t *used,
					  struct resp_argv *argv, const char **err)
{
	ASSERT(buf != NULL || len == 0);
	ASSERT(state->scanned_bytes <= len);
	*used = 0;
	if (state->phase == PHASE_START) {
		if (len == 0)
			return RESP_PARSE_MORE;
		state->phase = buf[0] == '*' ? PHASE_COUNT : PHASE_INLINE;
	}
	struct parse p = {
		.st = state, .lim = limits, .buf = buf, .len = len, .argv = argv, .err = err,
		.first_new = state->phase == PHASE_BULK_LINE || state->phase == PHASE_BULK_DATA
				     ? state->args_done : 0,
	};
	enum resp_parse_status r = state->phase == PHASE_INLINE ? parse_inline(&p)
								: parse_multibulk(&p);
	if (r == RESP_PARSE_MORE && len > limits->query_bytes_max)
		r = parse_fail(&p, ERR_QUERY_LIMIT);
	if (r == RESP_PARSE_MORE)
		return r;
	if (r != RESP_PARSE_ERROR)
		*used = p.end;
	memset(state, 0, sizeof(*state));
	return r;
}
