/* RESP, the Redis protocol: bytes in, arguments out (the request parser); replies out (the
 * reply writer and the chain of chunks that holds them until they are sent).
 *
 * The parser is resumable and keeps almost nothing per connection: a connection that waits
 * for the rest of a command holds only struct resp_parse_state (a few words) and its unparsed
 * bytes; the argument vector a finished command is returned in belongs to the loop (one
 * struct resp_argv per loop, reused for every command).
 *
 * The writer appends RESP2 or RESP3 encodings (per connection, after HELLO) to a struct
 * resp_out: a chain of fixed-size chunks drawn from a per-loop pool, so that an idle
 * connection holds no output memory and a large reply never needs one large copy. */
#ifndef SPINDLE_RESP_RESP_H
#define SPINDLE_RESP_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* ---- Limits, with Redis's defaults ---- */
#define RESP_BULK_BYTES_MAX_DEFAULT (512ull * 1024 * 1024)  /* proto-max-bulk-len */
#define RESP_ARGS_MAX_DEFAULT (1024u * 1024)               /* multibulk length bound */
#define RESP_INLINE_BYTES_MAX (64u * 1024)                  /* PROTO_INLINE_MAX_SIZE */
#define RESP_QUERY_BYTES_MAX_DEFAULT (1024ull * 1024 * 1024) /* client-query-buffer-limit */

/* Test hook for the module's allocations. Zero (the default) never fails; when armed,
 * allocs_left more allocations succeed and every later one fails, as on a full heap. */
struct resp_alloc_fault {
	bool armed;
	uint32_t allocs_left;
};

/* ---- Request parsing ---- */

struct resp_limits {
	uint64_t bulk_bytes_max;  /* a bulk argument longer than this: "invalid bulk length" */
	uint32_t args_max;        /* more arguments than this: "invalid multibulk length" */
	uint64_t query_bytes_max; /* a partial command larger than this closes the connection */
};

/* One argument of a parsed command. ptr points into the caller's buffer and is valid until
 * the caller changes or releases those bytes. Bulk arguments are not NUL-terminated. */
struct resp_arg {
	const char *ptr;
	size_t len;
};

#define RESP_ARGV_CAP_INITIAL 16u
#define RESP_ERR_BUF_BYTES 64u

/* The argument vector of one parsed command; one per loop, grown on demand up to
 * args_max entries and reused for every command. */
struct resp_argv {
	uint32_t argc;
	uint32_t cap;
	struct resp_arg *argv;
	/* Inline commands unquote into this scratch space (quotes and escapes are rewritten). */
	char *inline_buf;
	size_t inline_cap;
	/* An error text that quotes a byte of the input ("expected '$', got 'x'") lives here. */
	char err_buf[RESP_ERR_BUF_BYTES];
	/* Bytes the parser has looked at, over all commands: searched for a line end, checked,
	 * or walked again to fill argv. Statistics, and the tests' proof of linear work. */
	uint64_t bytes_examined;
	struct resp_alloc_fault fault; /* test hook, as in resp_chunk_pool */
};

/* Progress through a command that has not fully arrived. All zero = at a command boundary,
 * which is the state of every idle connection. It holds offsets from the command's first
 * byte, never pointers, so the caller may move the waiting bytes (grow or compact its buffer)
 * between calls as long as buf[0] is still that first byte. */
struct resp_parse_state {
	uint64_t scanned_bytes; /* where the scan resumes (or where the bulk data starts) */
	uint64_t bulk_len;      /* the bulk argument's length, or where its "$" line starts */
	uint32_t args_left;     /* arguments of the multibulk still to come */
	uint32_t args_done;     /* arguments already scanned */
	uint8_t phase;          /* private to the parser */
};

enum resp_parse_status {
	RESP_PARSE_DONE = 0,   /* one command is in argv; *used bytes consumed */
	RESP_PARSE_MORE = 1,   /* incomplete: keep buf[0..len) and call again with more */
	RESP_PARSE_EMPTY = 2,  /* only empty lines or an empty multibulk ("*0"): *used consumed */
	RESP_PARSE_ERROR = -1, /* protocol error: *err is Redis's text; close after replying */
};

/* Parses at most one command from buf[0..len). On RESP_PARSE_MORE nothing is consumed and
 * state remembers how far the bytes were checked, so calling again with the same bytes plus
 * more costs only the new bytes. On DONE, argv holds pointers into buf (or into
 * argv->inline_buf for inline commands) and state is back to zero. On ERROR, *err is the
 * error message without "-" and "\r\n" (e.g. "ERR Protocol error: invalid bulk length"),
 * state is back to zero, and the connection must be closed after the reply: the stream
 * cannot be resynchronised. *err stays valid until the next call with the same argv.
 *
 * The rules are Redis 7.0's (networking.c), with its error texts, except where noted:
 * - "*<n>\r\n" then n times "$<len>\r\n<len bytes>\r\n". Numbers follow string2ll (no
 *   sign but "-", no leading zeros, no spaces). n <= 0 is an empty command (EMPTY);
 *   n > args_max: "ERR Protocol error: invalid multibulk length" (Redis's bound is INT_MAX;
 *   ours is configurable and defaults to 1M). A "$" line with len < 0 or len >
 *   bulk_bytes_max: "ERR Protocol error: invalid bulk length". A line not starting with
 *   '$': "ERR Protocol error: expected '$', got 'X'" (CR, LF or NUL for X shows as a space).
 * - A count or length line longer than RESP_INLINE_BYTES_MAX before its CR:
 *   "ERR Protocol error: too big mbulk count string" / "... too big bulk count string".
 * - Stricter than Redis, which skips these bytes unread: a count or length line whose CR is
 *   not followed by LF is an invalid multibulk/bulk length, and bulk data not followed by
 *   CRLF is "ERR Protocol error: bulk data not followed by CRLF". Skipping could run a
 *   desynchronised stream's payload bytes as commands.
 * - Any other first byte starts an inline command: one line ending in LF (a CR before it is
 *   dropped), split as Redis's sdssplitargs splits ("double quotes" with \n \r \t \b \a
 *   \xHH and \<any> escapes, 'single quotes' with \', a closing quote followed by a
 *   space or the line's end). "ERR Protocol error: unbalanced quotes in request"; a line of
 *   more than RESP_INLINE_BYTES_MAX bytes before its LF: "ERR Protocol error: too big inline
 *   request" (Redis's own bound depends on how the bytes were read; ours does not); more
 *   than args_max words: "ERR Protocol error: too many arguments in inline request". A line
 *   of blanks only is EMPTY. A NUL byte is an ordinary byte here (Redis stops at it).
 * - A command still incomplete when len > query_bytes_max: "ERR Protocol error: query
 *   buffer limit exceeded" (Redis closes such a client without a reply). The limit bounds
 *   the whole command, since argv points into the caller's buffer.
 * - Growing argv or the inline scratch space failed: "ERR out of memory". */
enum resp_parse_status resp_parse_command(struct resp_parse_state *state,
					  const struct resp_limits *limits,
					  const char *buf, size_t len, size_t *used,
					  struct resp_argv *argv, const char **err);

void resp_limits_default(struct resp_limits *limits);
/* 0, or -ENOMEM. */
int resp_argv_init(struct resp_argv *argv);
void resp_argv_free(struct resp_argv *argv);

/* Helpers for command handlers. */
/* Whether arg equals str, ignoring ASCII case (command and option names). */
bool resp_arg_equals(const struct resp_arg *arg, const char *str);
/* Parses s[0..len) as a signed 64-bit integer by Redis's string2ll rules: an optional "-",
 * then digits with no leading zero (except "0" itself), nothing else (no "+", no spaces),
 * and no overflow. Returns whether it did (and set *v). */
bool resp_strict_ll(const char *s, size_t len, int64_t *v);
/* resp_strict_ll on an argument: 0 and *v set, or -EINVAL (reply RESP_ERR_NOT_INTEGER). */
int resp_arg_to_int64(const struct resp_arg *arg, int64_t *v);

/* ---- Reply output ---- */

#define RESP_CHUNK_BYTES (16u * 1024) /* payload bytes of a pooled chunk */
#define RESP_CHUNK_FREE_MAX_DEFAULT 1024u /* pooled chunks a loop keeps: 16 MiB */

struct resp_chunk {
	struct resp_chunk *next;
	uint32_t len;  /* bytes written */
	uint32_t cap;  /* payload capacity: RESP_CHUNK_BYTES, or more for one large bulk */
	char data[];
};

/* Free chunks of one loop. Not thread-safe: one per loop. */
struct resp_chunk_pool {
	struct resp_chunk *free;
	uint32_t free_count;
	uint32_t free_max;      /* chunks kept for reuse; the rest are freed */
	uint64_t chunks_out;    /* chunks handed out and not yet returned */
	uint64_t allocs;        /* chunks obtained from malloc (a free-list hit is not one) */
	struct resp_alloc_fault fault; /* test hook: make mallocs fail */
};

/* The pending output of one connection (or one reply being built). Zero-initialised plus a
 * pool pointer is a valid empty resp_out.
 *
 * Sending: the unsent bytes start at head->data + head_off and run to head->len, then through
 * every later chunk (resp_out_iov() fills an iovec array with exactly those ranges). After a
 * send of n bytes completes, resp_out_consume(out, n) advances head_off and returns every
 * chunk that was sent whole. Bytes already in the chain never move, so a send may be in
 * flight while writers append. Invariants: every chunk in the chain holds len > 0 bytes;
 * head_off < head->len; bytes == (sum of len) - head_off; an empty chain has head == tail ==
 * NULL and holds no memory. */
struct resp_out {
	struct resp_chunk *head, *tail;
	uint64_t bytes;         /* unsent bytes queued in the chain */
	uint32_t head_off;      /* bytes at the start of head already sent (consumed) */
	struct resp_chunk_pool *pool;
	uint8_t proto;          /* 2 or 3 */
	bool oom;               /* an allocation failed; the connection must be closed */
};

void resp_chunk_pool_init(struct resp_chunk_pool *pool, uint32_t free_max);
/* Frees the pooled chunks; every chunk handed out must have been returned. */
void resp_chunk_pool_destroy(struct resp_chunk_pool *pool);
void resp_out_init(struct resp_out *out, struct resp_chunk_pool *pool, uint8_t proto);
/* Returns every chunk to the pool and empties out (proto is kept, oom is cleared). */
void resp_out_reset(struct resp_out *out);
/* Drops the first n bytes (they were sent), returning emptied chunks to the pool;
 * n <= out->bytes. */
void resp_out_consume(struct resp_out *out, uint64_t n);
/* Moves all of src's bytes to the end of dst and leaves src empty. Chunks are relinked, not
 * copied, except that a src small enough to fit in the free room of dst's last chunk is
 * copied there (a short reply then costs no extra chunk). Both must use the same pool (one
 * loop's); src must not be partly sent unless dst is empty. dst->oom |= src->oom. */
void resp_out_splice(struct resp_out *dst, struct resp_out *src);
/* Fills iov[0..return) with the unsent byte ranges, in order, at most iov_max of them. */
size_t resp_out_iov(const struct resp_out *out, struct iovec *iov, size_t iov_max);

/* Writers. Each appends one complete RESP element (or an aggregate's header, after which the
 * caller appends exactly that many elements), encoded for out->proto exactly as Redis 7.0
 * does. They never fail: on allocation failure they set out->oom and drop the bytes, and once
 * oom is set they write nothing more (the stream is no longer whole; close the connection).
 * Bytes of one append that do not fit a pooled chunk go into one dedicated chunk of exact
 * size (a large bulk is never split). Simple strings and errors have any CR or LF replaced
 * by a space, so that no text can break the framing. */
void resp_add_raw(struct resp_out *out, const void *bytes, size_t len);
void resp_add_simple(struct resp_out *out, const char *str);           /* +OK */
void resp_add_error(struct resp_out *out, const char *msg);            /* -ERR ... (no "-") */
void resp_add_errorf(struct resp_out *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void resp_add_int(struct resp_out *out, int64_t v);                    /* :v */
void resp_add_bulk(struct resp_out *out, const void *bytes, size_t len);/* $len bytes */
void resp_add_bulk_str(struct resp_out *out, const char *str);
void resp_add_bulk_int(struct resp_out *out, int64_t v);               /* integer as a bulk */
void resp_add_null(struct resp_out *out);                 /* RESP2 $-1, RESP3 _ */
void resp_add_null_array(struct resp_out *out);           /* RESP2 *-1, RESP3 _ */
/* An aggregate whose count is known only at the end (KEYS, SCAN): write the elements into a
 * scratch resp_out on the same pool, then the header into the real one, then splice. */
void resp_add_array(struct resp_out *out, uint64_t n);    /* *n */
void resp_add_map(struct resp_out *out, uint64_t n);      /* RESP3 %n, RESP2 *2n */
void resp_add_set(struct resp_out *out, uint64_t n);      /* RESP3 ~n, RESP2 *n */
/* "%.17g" as Redis 7.0 writes it: RESP3 ,v; RESP2 a bulk. inf, -inf and nan are spelled so
 * in both (any NaN is "nan"). */
void resp_add_double(struct resp_out *out, double v);
void resp_add_bool(struct resp_out *out, bool v);         /* RESP3 #t/#f; RESP2 :1/:0 */
/* RESP3 verbatim string (=len txt:...), a plain bulk in RESP2; format is 3 letters (a
 * shorter one is padded with spaces, as Redis does). */
void resp_add_verbatim(struct resp_out *out, const char *format, const void *bytes, size_t len);

/* Shared error texts, as Redis words them. */
#define RESP_ERR_SYNTAX "ERR syntax error"
#define RESP_ERR_NOT_INTEGER "ERR value is not an integer or out of range"
#define RESP_ERR_NOT_FLOAT "ERR value is not a valid float"
#define RESP_ERR_OVERFLOW "ERR increment or decrement would overflow"
#define RESP_ERR_WRONGTYPE "WRONGTYPE Operation against a key holding the wrong kind of value"
#define RESP_ERR_CROSSSLOT "CROSSSLOT Keys in request don't hash to the same slot"

#endif
