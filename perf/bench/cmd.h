/* Command templates and request encoding. A template is an argument vector whose arguments
 * may contain the placeholders __key__ and __value__ (e.g. SET key:__key__ __value__); each
 * request expands them and is written as a RESP multibulk straight into a connection's send
 * buffer. Keys are zero-padded to one width per run, so every request of a template has the
 * same size and buffers can be sized once. Values carry the key and a sequence number in
 * their first BENCH_VALUE_HEADER_BYTES, so that a checking run can tell whose write a read
 * returned. */
#ifndef SPINDLE_BENCH_CMD_H
#define SPINDLE_BENCH_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_CMD_ARGS_MAX 64
#define BENCH_CMD_SEGS_MAX 128
#define BENCH_CMD_TEXT_BYTES_MAX 4096
#define BENCH_KEY_BYTES_MAX 64
#define BENCH_KEY_NONCE_BYTES_MAX 24
#define BENCH_VALUE_HEADER_BYTES 32   /* 16 hex digits of sequence, 16 of key */
#define BENCH_CMD_PLACEHOLDER_KEY "__key__"
#define BENCH_CMD_PLACEHOLDER_VALUE "__value__"

enum bench_seg_kind { BENCH_SEG_TEXT, BENCH_SEG_KEY, BENCH_SEG_VALUE };

struct bench_seg {
	uint8_t kind;
	uint16_t off;  /* TEXT: bytes in cmd->text */
	uint16_t len;
};

struct bench_cmd {
	uint32_t argc;
	uint32_t nsegs;
	uint16_t arg_first[BENCH_CMD_ARGS_MAX];  /* first segment of each argument */
	uint16_t arg_nsegs[BENCH_CMD_ARGS_MAX];
	uint32_t keys, values;                   /* placeholders in the whole command */
	uint32_t text_len;
	struct bench_seg segs[BENCH_CMD_SEGS_MAX];
	char text[BENCH_CMD_TEXT_BYTES_MAX];
};

/* Builds a template from argv[0..argc). Returns 0, or -EINVAL with a message in err. */
int bench_cmd_parse(struct bench_cmd *cmd, int argc, const char *const argv[], char *err,
		    size_t err_len);
/* The encoded size of one request with keys of key_len bytes and values of value_len. */
size_t bench_cmd_bytes(const struct bench_cmd *cmd, size_t key_len, size_t value_len);
/* Writes one request into out; returns its size, or 0 if it does not fit in cap. */
size_t bench_cmd_encode(const struct bench_cmd *cmd, char *out, size_t cap, const char *key,
			size_t key_len, const char *value, size_t value_len);
/* Whether argument i of the template is exactly this text (case-insensitive). */
bool bench_cmd_arg_is(const struct bench_cmd *cmd, uint32_t i, const char *text);

/* Decimal digits needed to write keys below key_count. */
uint32_t bench_key_width(uint64_t key_count);
/* nonce, then key as width zero-padded digits. Returns the length (< BENCH_KEY_BYTES_MAX). */
size_t bench_key_format(char *out, const char *nonce, uint64_t key, uint32_t width);

/* Rewrites only the header of a value already filled for len >= BENCH_VALUE_HEADER_BYTES. */
void bench_value_header(char *out, uint64_t key, uint64_t seq);
/* A value of len bytes for (key, seq): a header with both when len allows, then filler. */
void bench_value_fill(char *out, size_t len, uint64_t key, uint64_t seq);
/* Whether got[0..got_len) is exactly bench_value_fill(len, key, seq). */
bool bench_value_matches(const char *got, size_t got_len, size_t len, uint64_t key,
			 uint64_t seq);

#endif
