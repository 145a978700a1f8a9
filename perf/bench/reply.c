/* RESP reply parser for the load generator: one element header at a time, with a small stack
 * of element counts for aggregates. Attributes (RESP3 "|") are read and dropped: they do not
 * count toward their parent, and at the top they precede the reply they annotate. Streamed
 * RESP3 types ("$?", "*?") are refused as bad input: Redis never sends them. */
#include "bench/reply.h"

#include <stdbool.h>
#include <string.h>

#include "base/panic.h"

/* One element's header, as read from the buffer. */
struct reply_elem {
	enum bench_reply_type type;
	bool aggregate;      /* followed by count elements */
	bool attribute;
	int64_t integer;
	int64_t count;       /* elements that follow an aggregate header (pairs count twice) */
	uint64_t str_off, str_len;
	uint64_t end;        /* offset just past the element (or past an aggregate's header) */
};

void bench_reply_parser_init(struct bench_reply_parser *p)
{
	memset(p, 0, sizeof(*p));
}

/* Finds the "\r\n" ending the line that starts at pos+1. */
static enum bench_reply_status reply_line(const char *buf, size_t len, uint64_t pos,
					  uint64_t *cr)
{
	const char *start = buf + pos + 1;
	size_t avail = len - pos - 1;
	size_t scan = MIN(avail, (size_t)BENCH_REPLY_LINE_BYTES_MAX + 1);
	const char *r = memchr(start, '\r', scan);
	if (r == NULL)
		return avail > BENCH_REPLY_LINE_BYTES_MAX ? BENCH_REPLY_BAD : BENCH_REPLY_MORE;
	if ((size_t)(r - buf) + 1 >= len)
		return BENCH_REPLY_MORE;
	if (r[1] != '\n')
		return BENCH_REPLY_BAD;
	*cr = (uint64_t)(r - buf);
	return BENCH_REPLY_DONE;
}

static bool reply_int_parse(const char *s, size_t len, int64_t *out)
{
	bool neg = len > 0 && s[0] == '-';
	size_t i = neg ? 1 : 0;
	if (i == len)
		return false;
	uint64_t v = 0;
	uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (limit - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* A big number: an optional sign and at least one digit, of any length. */
static bool reply_digits_valid(const char *s, size_t len)
{
	size_t sign = len > 0 && s[0] == '-';
	if (len == sign)
		return false;
	for (size_t i = sign; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

/* Bulk-like elements: "$n\r\n<n bytes>\r\n", also "!" (blob error) and "=" (verbatim). */
static enum bench_reply_status reply_bulk(const char *buf, size_t len, uint64_t cr,
					  struct reply_elem *e)
{
	int64_t n = e->integer;
	e->integer = 0;
	if (n == -1 && e->type == BENCH_REPLY_BULK) {
		e->type = BENCH_REPLY_NULL;
		return BENCH_REPLY_DONE;
	}
	if (n < 0 || n > BENCH_REPLY_BULK_BYTES_MAX)
		return BENCH_REPLY_BAD;
	uint64_t body = cr + 2;
	if (body + (uint64_t)n + 2 > len)
		return BENCH_REPLY_MORE;
	if (buf[body + (uint64_t)n] != '\r' || buf[body + (uint64_t)n + 1] != '\n')
		return BENCH_REPLY_BAD;
	if (e->type == BENCH_REPLY_VERBATIM && (n < 4 || buf[body + 3] != ':'))
		return BENCH_REPLY_BAD;
	e->str_off = body;
	e->str_len = (uint64_t)n;
	e->end = body + (uint64_t)n + 2;
	return BENCH_REPLY_DONE;
}

/* Aggregates: "*n", "%n" (pairs), "~n", ">n" (push), "|n" (attribute pairs). */
static enum bench_reply_status reply_aggregate(char tag, struct reply_elem *e)
{
	int64_t n = e->integer;
	if (n == -1 && tag == '*') {
		e->type = BENCH_REPLY_NULL;
		e->integer = 0;
		return BENCH_REPLY_DONE;
	}
	if (n < 0 || n > BENCH_REPLY_COUNT_MAX)
		return BENCH_REPLY_BAD;
	e->aggregate = true;
	e->attribute = tag == '|';
	e->count = (tag == '%' || tag == '|') ? 2 * n : n;
	return BENCH_REPLY_DONE;
}

static bool reply_type_of(char tag, enum bench_reply_type *type)
{
	static const struct { char tag; enum bench_reply_type type; } table[] = {
		{ '+', BENCH_REPLY_SIMPLE }, { '-', BENCH_REPLY_ERROR },
		{ ':', BENCH_REPLY_INTEGER }, { '$', BENCH_REPLY_BULK },
		{ '_', BENCH_REPLY_NULL }, { '*', BENCH_REPLY_ARRAY },
		{ '%', BENCH_REPLY_MAP }, { '~', BENCH_REPLY_SET },
		{ '>', BENCH_REPLY_PUSH }, { '|', BENCH_REPLY_MAP },
		{ ',', BENCH_REPLY_DOUBLE }, { '#', BENCH_REPLY_BOOL },
		{ '(', BENCH_REPLY_BIGNUM }, { '=', BENCH_REPLY_VERBATIM },
		{ '!', BENCH_REPLY_BLOB_ERROR },
	};
	for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
		if (table[i].tag == tag) {
			*type = table[i].type;
			return true;
		}
	}
	return false;
}

/* Reads the element starting at pos. */
static enum bench_reply_status reply_elem_read(const char *buf, size_t len, uint64_t pos,
					       struct reply_elem *e)
{
	uint64_t cr = 0;
	if (pos >= len)
		return BENCH_REPLY_MORE;
	memset(e, 0, sizeof(*e));
	char tag = buf[pos];
	if (!reply_type_of(tag, &e->type))
		return BENCH_REPLY_BAD;
	enum bench_reply_status st = reply_line(buf, len, pos, &cr);
	if (st != BENCH_REPLY_DONE)
		return st;
	const char *line = buf + pos + 1;
	size_t line_len = (size_t)(cr - pos - 1);
	e->end = cr + 2;
	e->str_off = pos + 1;
	e->str_len = line_len;
	switch (tag) {
	case '+': case '-':
		return BENCH_REPLY_DONE;
	case ',':
		return line_len > 0 ? BENCH_REPLY_DONE : BENCH_REPLY_BAD;
	case '(':
		return reply_digits_valid(line, line_len) ? BENCH_REPLY_DONE : BENCH_REPLY_BAD;
	case '#':
		if (line_len != 1 || (line[0] != 't' && line[0] != 'f'))
			return BENCH_REPLY_BAD;
		e->integer = line[0] == 't';
		return BENCH_REPLY_DONE;
	case '_':
		return line_len == 0 ? BENCH_REPLY_DONE : BENCH_REPLY_BAD;
	}
	e->str_len = 0;
	if (!reply_int_parse(line, line_len, &e->integer))
		return BENCH_REPLY_BAD;
	if (tag == ':')
		return BENCH_REPLY_DONE;
	if (tag == '$' || tag == '!' || tag == '=')
		return reply_bulk(buf, len, cr, e);
	return reply_aggregate(tag, e);
}

/* An element ended at the current depth: count it in the open frames, closing those that are
 * complete. A closed attribute frame is not an element of its parent. */
static void reply_elem_finished(struct bench_reply_parser *p, bool counts)
{
	while (counts && p->depth > 0) {
		uint32_t top = p->depth - 1;
		ASSERT(p->frame_left[top] > 0);
		if (--p->frame_left[top] > 0)
			return;
		counts = !p->frame_attr[top];
		p->depth--;
	}
}

static void reply_top_set(struct bench_reply_parser *p, const struct reply_elem *e)
{
	p->top_set = 1;
	p->top_type = (uint8_t)e->type;
	p->top_integer = e->aggregate ? (e->type == BENCH_REPLY_MAP ? e->count / 2 : e->count)
				      : e->integer;
	p->str_off = e->str_off;
	p->top_len = e->str_len;
}

enum bench_reply_status bench_reply_parse(struct bench_reply_parser *p, const char *buf,
					  size_t len, size_t *used, struct bench_reply *out)
{
	uint64_t pos = p->scanned;
	for (;;) {
		struct reply_elem e;
		enum bench_reply_status st = reply_elem_read(buf, len, pos, &e);
		if (st == BENCH_REPLY_BAD)
			bench_reply_parser_init(p);
		if (st != BENCH_REPLY_DONE)
			return st;
		if (p->depth == 0 && !p->top_set && !e.attribute)
			reply_top_set(p, &e);
		pos = e.end;
		p->scanned = pos;
		if (e.aggregate && e.count > 0) {
			if (p->depth == BENCH_REPLY_DEPTH_MAX) {
				bench_reply_parser_init(p);
				return BENCH_REPLY_BAD;
			}
			p->frame_left[p->depth] = e.count;
			p->frame_attr[p->depth] = e.attribute;
			p->depth++;
			continue;
		}
		reply_elem_finished(p, !e.attribute);
		if (p->depth == 0 && p->top_set)
			break;
	}
	out->type = (enum bench_reply_type)p->top_type;
	out->integer = p->top_integer;
	out->str = buf + p->str_off;
	out->len = (size_t)p->top_len;
	*used = (size_t)pos;
	bench_reply_parser_init(p);
	return BENCH_REPLY_DONE;
}

const char *bench_reply_type_name(enum bench_reply_type type)
{
	static const char *const names[] = {
		[BENCH_REPLY_SIMPLE] = "simple", [BENCH_REPLY_ERROR] = "error",
		[BENCH_REPLY_INTEGER] = "integer", [BENCH_REPLY_BULK] = "bulk",
		[BENCH_REPLY_NULL] = "null", [BENCH_REPLY_ARRAY] = "array",
		[BENCH_REPLY_MAP] = "map", [BENCH_REPLY_SET] = "set",
		[BENCH_REPLY_PUSH] = "push", [BENCH_REPLY_DOUBLE] = "double",
		[BENCH_REPLY_BOOL] = "bool", [BENCH_REPLY_BIGNUM] = "bignum",
		[BENCH_REPLY_VERBATIM] = "verbatim", [BENCH_REPLY_BLOB_ERROR] = "blob-error",
	};
	return (unsigned)type < ARRAY_SIZE(names) ? names[type] : "unknown";
}
