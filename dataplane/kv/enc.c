/* Encoded commands: the payload of log entries.
 *
 * An entry is a plain concatenation of commands, each
 *     varint log_id, varint argc - 1, then per argument: varint length, bytes
 * (argv[0], the name, is implied by the id). Decoding checks every length against the bytes
 * left, the id against the table and the count against the command's arity, so a corrupt
 * entry is an error, never an out-of-bounds read. */
#include <errno.h>
#include <string.h>

#include "base/compiler.h"
#include "base/mem.h"
#include "base/panic.h"
#include "kv/cmds.h"
#include "kv/varint.h"

#define ENC_CAP_MIN 256
#define DEC_ARGV_MIN 8

static int enc_reserve(struct kv_enc *enc, size_t more)
{
	if (enc->cap - enc->len >= more)
		return 0;
	size_t cap = MAX(enc->cap, (size_t)ENC_CAP_MIN);
	while (cap - enc->len < more)
		cap *= 2;
	uint8_t *buf = mem_arena_realloc(0, enc->buf, cap);
	if (buf == NULL)
		return -ENOMEM;
	enc->buf = buf;
	enc->cap = cap;
	return 0;
}

int kv_enc_append(struct kv_enc *enc, enum kv_log_id id, uint32_t argc,
		  const struct resp_arg *argv)
{
	ASSERT(id > KV_LOG_NONE && id < KV_LOG_COUNT && argc >= 1);
	size_t need = 2 * KV_VARINT_BYTES_MAX;
	for (uint32_t i = 1; i < argc; i++)
		need += KV_VARINT_BYTES_MAX + argv[i].len;
	if (enc_reserve(enc, need) != 0)
		return -ENOMEM;
	uint8_t *p = enc->buf + enc->len;
	p += kv_varint_put(p, id);
	p += kv_varint_put(p, argc - 1);
	for (uint32_t i = 1; i < argc; i++) {
		p += kv_varint_put(p, argv[i].len);
		memcpy(p, argv[i].ptr, argv[i].len);
		p += argv[i].len;
	}
	enc->len = (size_t)(p - enc->buf);
	enc->count++;
	return 0;
}

int kv_enc_oom_reply(struct resp_out *err)
{
	resp_add_error(err, "ERR out of memory");
	return -ENOMEM;
}

void kv_enc_reset(struct kv_enc *enc)
{
	enc->len = 0;
	enc->count = 0;
}

void kv_enc_free(struct kv_enc *enc)
{
	mem_arena_free(0, enc->buf);
	memset(enc, 0, sizeof(*enc));
}

int kv_enc_expired_key(struct kv_enc *enc, const char *key, size_t len)
{
	struct resp_arg argv[2] = { { "__expired", 9 }, { key, len } };
	return kv_enc_append(enc, KV_LOG_EXPIRED, 2, argv);
}

int kv_enc_flush(struct kv_enc *enc)
{
	struct resp_arg argv[1] = { { "__flush", 7 } };
	return kv_enc_append(enc, KV_LOG_FLUSH, 1, argv);
}

KV_PREPARE(verbatim)
{
	(void)now_ms;
	const struct kv_cmd *cmd = kv_cmd_lookup(argv[0].ptr, argv[0].len);
	ASSERT(cmd != NULL && cmd->log_id != KV_LOG_NONE);
	if (kv_enc_append(enc, cmd->log_id, argc, argv) != 0)
		return kv_enc_oom_reply(err);
	return 0;
}

void kv_dec_free(struct kv_dec *dec)
{
	mem_arena_free(0, dec->argv);
	memset(dec, 0, sizeof(*dec));
}

static int dec_reserve(struct kv_dec *dec, uint64_t argc)
{
	if (argc <= dec->argv_cap)
		return 0;
	uint64_t cap = MAX((uint64_t)DEC_ARGV_MIN, (uint64_t)dec->argv_cap);
	while (cap < argc)
		cap *= 2;
	struct resp_arg *argv = mem_arena_realloc(0, dec->argv, cap * sizeof(*argv));
	if (argv == NULL)
		return -ENOMEM;
	dec->argv = argv;
	dec->argv_cap = (uint32_t)cap;
	return 0;
}

int kv_enc_next(struct kv_dec *dec, const uint8_t *buf, size_t len, size_t *pos)
{
	size_t p = *pos;
	ASSERT(p <= len);
	if (p == len)
		return 0;
	uint64_t id, nargs;
	int r = kv_varint_get(buf + p, len - p, &id);
	if (r <= 0)
		return -EBADMSG;
	p += (size_t)r;
	const struct kv_cmd *cmd = kv_cmd_by_log_id(id);
	if (cmd == NULL)
		return -EBADMSG;
	r = kv_varint_get(buf + p, len - p, &nargs);
	/* Each argument takes at least one byte, which bounds argc by the bytes left. */
	if (r <= 0 || nargs > len - p - (size_t)r || nargs >= UINT32_MAX ||
	    !kv_cmd_arity_ok(cmd, (uint32_t)nargs + 1))
		return -EBADMSG;
	p += (size_t)r;
	if (dec_reserve(dec, nargs + 1) != 0)
		return -ENOMEM;
	dec->argv[0].ptr = cmd->name;
	dec->argv[0].len = strlen(cmd->name);
	for (uint64_t i = 1; i <= nargs; i++) {
		uint64_t alen;
		r = kv_varint_get(buf + p, len - p, &alen);
		if (r <= 0 || alen > len - p - (size_t)r)
			return -EBADMSG;
		p += (size_t)r;
		dec->argv[i].ptr = (const char *)buf + p;
		dec->argv[i].len = (size_t)alen;
		p += (size_t)alen;
	}
	dec->cmd = cmd;
	dec->argc = (uint32_t)nargs + 1;
	*pos = p;
	return 1;
}

int64_t kv_enc_check(const uint8_t *buf, size_t len)
{
	struct kv_dec dec = { 0 };
	size_t pos = 0;
	int64_t count = 0;
	int r;
	while ((r = kv_enc_next(&dec, buf, len, &pos)) == 1)
		count++;
	kv_dec_free(&dec);
	return r < 0 ? r : count;
}
