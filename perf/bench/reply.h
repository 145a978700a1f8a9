/* The load generator's RESP reply parser: bytes in, one reply at a time out. It reads every
 * RESP2 and RESP3 type (nested aggregates, attributes, pushes) but returns only what the
 * harness checks: the type of the reply and, for a scalar at the top, its value.
 *
 * It is resumable and allocation-free: on BENCH_REPLY_MORE nothing is consumed and the parser
 * remembers how far into the reply it got as an offset from the reply's first byte, so the
 * caller may move the unconsumed bytes (e.g. to the front of a carry buffer) before calling
 * again with more. A bulk body is skipped by its length, never scanned. */
#ifndef SPINDLE_BENCH_REPLY_H
#define SPINDLE_BENCH_REPLY_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_REPLY_DEPTH_MAX 32                 /* nesting of aggregates */
#define BENCH_REPLY_LINE_BYTES_MAX (64u * 1024)  /* a header or simple line longer is bad */
#define BENCH_REPLY_BULK_BYTES_MAX (512ll * 1024 * 1024) /* Redis's proto-max-bulk-len */
#define BENCH_REPLY_COUNT_MAX (1ll << 32)        /* elements of one aggregate */

enum bench_reply_type {
	BENCH_REPLY_SIMPLE,     /* +OK */
	BENCH_REPLY_ERROR,      /* -ERR ... */
	BENCH_REPLY_INTEGER,    /* :n */
	BENCH_REPLY_BULK,       /* $n */
	BENCH_REPLY_NULL,       /* $-1, *-1, _ */
	BENCH_REPLY_ARRAY,      /* *n */
	BENCH_REPLY_MAP,        /* %n */
	BENCH_REPLY_SET,        /* ~n */
	BENCH_REPLY_PUSH,       /* >n: out of band, not the answer to a request */
	BENCH_REPLY_DOUBLE,     /* ,1.5 */
	BENCH_REPLY_BOOL,       /* #t */
	BENCH_REPLY_BIGNUM,     /* (123... */
	BENCH_REPLY_VERBATIM,   /* =n txt:... */
	BENCH_REPLY_BLOB_ERROR, /* !n */
};

/* A parsed reply. str points into the buffer passed to the call that returned DONE. */
struct bench_reply {
	enum bench_reply_type type;
	int64_t integer;  /* INTEGER; BOOL (0/1); element count of an aggregate */
	const char *str;  /* text of SIMPLE, ERROR, BULK, DOUBLE, BIGNUM, VERBATIM, BLOB_ERROR */
	size_t len;
};

/* Progress through one reply. All zero = between replies. */
struct bench_reply_parser {
	uint64_t scanned;        /* bytes of the reply consumed by finished elements */
	uint64_t str_off;        /* offset of the top-level text from the reply's first byte */
	int64_t top_integer;
	uint32_t depth;
	uint8_t top_set;         /* the top-level element's header has been read */
	uint8_t top_type;
	uint8_t frame_attr[BENCH_REPLY_DEPTH_MAX];    /* frame is an attribute (not counted) */
	int64_t frame_left[BENCH_REPLY_DEPTH_MAX];    /* elements still to come in each frame */
	uint64_t top_len;
};

enum bench_reply_status {
	BENCH_REPLY_DONE = 0,  /* *out holds a reply; *used bytes consumed */
	BENCH_REPLY_MORE = 1,  /* incomplete: keep buf and call again with more appended */
	BENCH_REPLY_BAD = -1,  /* not RESP: the stream cannot be resynced */
};

void bench_reply_parser_init(struct bench_reply_parser *p);
enum bench_reply_status bench_reply_parse(struct bench_reply_parser *p, const char *buf,
					  size_t len, size_t *used, struct bench_reply *out);
const char *bench_reply_type_name(enum bench_reply_type type);

#endif
