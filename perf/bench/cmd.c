/* Command templates: parsing the placeholders once, then encoding requests with no
 * allocation and no formatting beyond the lengths in the RESP headers. */
#include "bench/cmd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/panic.h"

static int cmd_seg_add(struct bench_cmd *cmd, uint8_t kind, const char *text, size_t len,
		       char *err, size_t err_len)
{
	if (cmd->nsegs == BENCH_CMD_SEGS_MAX) {
		snprintf(err, err_len, "command has more than %u parts", BENCH_CMD_SEGS_MAX);
		return -EINVAL;
	}
	struct bench_seg *s = &cmd->segs[cmd->nsegs++];
	s->kind = kind;
	s->off = 0;
	s->len = 0;
	if (kind != BENCH_SEG_TEXT)
		return 0;
	if (cmd->text_len + len > BENCH_CMD_TEXT_BYTES_MAX) {
		snprintf(err, err_len, "command is longer than %u bytes", BENCH_CMD_TEXT_BYTES_MAX);
		return -EINVAL;
	}
	memcpy(cmd->text + cmd->text_len, text, len);
	s->off = (uint16_t)cmd->text_len;
	s->len = (uint16_t)len;
	cmd->text_len += (uint32_t)len;
	return 0;
}

/* Splits one argument into text and placeholder segments. */
static int cmd_arg_parse(struct bench_cmd *cmd, const char *arg, char *err, size_t err_len)
{
	static const size_t key_len = sizeof(BENCH_CMD_PLACEHOLDER_KEY) - 1;
	static const size_t value_len = sizeof(BENCH_CMD_PLACEHOLDER_VALUE) - 1;
	const char *p = arg;
	int rc = 0;
	while (*p && rc == 0) {
		const char *k = strstr(p, BENCH_CMD_PLACEHOLDER_KEY);
		const char *v = strstr(p, BENCH_CMD_PLACEHOLDER_VALUE);
		const char *next = (k && (!v || k < v)) ? k : v;
		if (next == NULL) {
			rc = cmd_seg_add(cmd, BENCH_SEG_TEXT, p, strlen(p), err, err_len);
			break;
		}
		if (next > p)
			rc = cmd_seg_add(cmd, BENCH_SEG_TEXT, p, (size_t)(next - p), err, err_len);
		if (rc == 0 && next == k) {
			rc = cmd_seg_add(cmd, BENCH_SEG_KEY, NULL, 0, err, err_len);
			cmd->keys++;
			p = k + key_len;
		} else if (rc == 0) {
			rc = cmd_seg_add(cmd, BENCH_SEG_VALUE, NULL, 0, err, err_len);
			cmd->values++;
			p = v + value_len;
		}
	}
	return rc;
}

int bench_cmd_parse(struct bench_cmd *cmd, int argc, const char *const argv[], char *err,
		    size_t err_len)
{
	memset(cmd, 0, sizeof(*cmd));
	if (argc <= 0) {
		snprintf(err, err_len, "empty command");
		return -EINVAL;
	}
	if (argc > BENCH_CMD_ARGS_MAX) {
		snprintf(err, err_len, "command has more than %u arguments", BENCH_CMD_ARGS_MAX);
		return -EINVAL;
	}
	for (int i = 0; i < argc; i++) {
		cmd->arg_first[i] = (uint16_t)cmd->nsegs;
		int rc = cmd_arg_parse(cmd, argv[i], err, err_len);
		if (rc)
			return rc;
		cmd->arg_nsegs[i] = (uint16_t)(cmd->nsegs - cmd->arg_first[i]);
	}
	cmd->argc = (uint32_t)argc;
	return 0;
}

static size_t cmd_decimal_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static size_t cmd_arg_len(const struct bench_cmd *cmd, uint32_t i, size_t key_len,
			  size_t value_len)
{
	size_t len = 0;
	for (uint32_t s = cmd->arg_first[i]; s < cmd->arg_first[i] + cmd->arg_nsegs[i]; s++) {
		const struct bench_seg *seg = &cmd->segs[s];
		len += seg->kind == BENCH_SEG_TEXT ? seg->len
		     : seg->kind == BENCH_SEG_KEY ? key_len : value_len;
	}
	return len;
}

size_t bench_cmd_bytes(const struct bench_cmd *cmd, size_t key_len, size_t value_len)
{
	size_t n = 1 + cmd_decimal_len(cmd->argc) + 2;
	for (uint32_t i = 0; i < cmd->argc; i++) {
		size_t len = cmd_arg_len(cmd, i, key_len, value_len);
		n += 1 + cmd_decimal_len(len) + 2 + len + 2;
	}
	return n;
}

/* Writes "<tag><v>\r\n" at out. */
static char *cmd_put_header(char *out, char tag, uint64_t v)
{
	char digits[24];
	size_t n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	*out++ = tag;
	while (n)
		*out++ = digits[--n];
	*out++ = '\r';
	*out++ = '\n';
	return out;
}

size_t bench_cmd_encode(const struct bench_cmd *cmd, char *out, size_t cap, const char *key,
			size_t key_len, const char *value, size_t value_len)
{
	ASSERT(cmd->argc > 0);
	size_t need = bench_cmd_bytes(cmd, key_len, value_len);
	if (need > cap)
		return 0;
	char *p = cmd_put_header(out, '*', cmd->argc);
	for (uint32_t i = 0; i < cmd->argc; i++) {
		p = cmd_put_header(p, '$', cmd_arg_len(cmd, i, key_len, value_len));
		for (uint32_t s = cmd->arg_first[i]; s < cmd->arg_first[i] + cmd->arg_nsegs[i]; s++) {
			const struct bench_seg *seg = &cmd->segs[s];
			if (seg->kind == BENCH_SEG_TEXT) {
				memcpy(p, cmd->text + seg->off, seg->len);
				p += seg->len;
			} else if (seg->kind == BENCH_SEG_KEY) {
				memcpy(p, key, key_len);
				p += key_len;
			} else {
				memcpy(p, value, value_len);
				p += value_len;
			}
		}
		*p++ = '\r';
		*p++ = '\n';
	}
	ASSERT((size_t)(p - out) == need);
	return need;
}

bool bench_cmd_arg_is(const struct bench_cmd *cmd, uint32_t i, const char *text)
{
	if (i >= cmd->argc || cmd->arg_nsegs[i] != 1)
		return false;
	const struct bench_seg *seg = &cmd->segs[cmd->arg_first[i]];
	return seg->kind == BENCH_SEG_TEXT && seg->len == strlen(text) &&
	       strncasecmp(cmd->text + seg->off, text, seg->len) == 0;
}

uint32_t bench_key_width(uint64_t key_count)
{
	return (uint32_t)cmd_decimal_len(key_count > 0 ? key_count - 1 : 0);
}

size_t bench_key_format(char *out, const char *nonce, uint64_t key, uint32_t width)
{
	size_t n = strlen(nonce);
	ASSERT(n <= BENCH_KEY_NONCE_BYTES_MAX && width <= 20);
	memcpy(out, nonce, n);
	for (uint32_t i = width; i > 0; i--) {
		out[n + i - 1] = (char)('0' + key % 10);
		key /= 10;
	}
	ASSERT(key == 0);
	return n + width;
}

static void value_hex16(char *out, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--) {
		out[i] = hex[v & 15];
		v >>= 4;
	}
}

static char value_filler(size_t i)
{
	return (char)('a' + i % 26);
}

void bench_value_header(char *out, uint64_t key, uint64_t seq)
{
	value_hex16(out, seq);
	value_hex16(out + 16, key);
}

void bench_value_fill(char *out, size_t len, uint64_t key, uint64_t seq)
{
	size_t i = 0;
	if (len >= BENCH_VALUE_HEADER_BYTES) {
		bench_value_header(out, key, seq);
		i = BENCH_VALUE_HEADER_BYTES;
	}
	for (; i < len; i++)
		out[i] = value_filler(i);
}

bool bench_value_matches(const char *got, size_t got_len, size_t len, uint64_t key,
			 uint64_t seq)
{
	if (got_len != len)
		return false;
	size_t i = 0;
	if (len >= BENCH_VALUE_HEADER_BYTES) {
		char header[BENCH_VALUE_HEADER_BYTES];
		bench_value_header(header, key, seq);
		if (memcmp(got, header, sizeof(header)) != 0)
			return false;
		i = BENCH_VALUE_HEADER_BYTES;
	}
	for (; i < len; i++) {
		if (got[i] != value_filler(i))
			return false;
	}
	return true;
}
