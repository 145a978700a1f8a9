/* Finding commands (a case-insensitive hash of the names, built once), Redis's texts for an
 * unknown command or a wrong number of arguments, key positions, and the entry points that
 * run a command's handlers. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

#include "base/compiler.h"
#include "base/panic.h"
#include "kv/cmds.h"
#include "kv/num.h"

#define CMD_HASH_SLOTS 256        /* a power of two, well above the number of commands */
#define CMD_NAME_BYTES_MAX 32     /* longer names are no command's */
#define CMD_ERR_NAME_BYTES 128    /* Redis quotes at most this much of a name or argument */

static const struct kv_cmd *cmd_hash[CMD_HASH_SLOTS];
static const struct kv_cmd *cmd_by_log[KV_LOG_COUNT];
static pthread_once_t cmd_once = PTHREAD_ONCE_INIT;

static inline unsigned char cmd_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* FNV-1a over the lower-cased name. */
static uint32_t cmd_name_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ cmd_lower((unsigned char)name[i])) * 16777619u;
	return h;
}

static void cmd_hash_add(const struct kv_cmd *cmd)
{
	size_t len = strlen(cmd->name);
	ASSERT(len <= CMD_NAME_BYTES_MAX);
	uint32_t i = cmd_name_hash(cmd->name, len) & (CMD_HASH_SLOTS - 1);
	while (cmd_hash[i] != NULL)
		i = (i + 1) & (CMD_HASH_SLOTS - 1);
	cmd_hash[i] = cmd;
}

static void cmd_log_add(const struct kv_cmd *cmd)
{
	if (cmd->log_id == KV_LOG_NONE)
		return;
	ASSERT(cmd->log_id < KV_LOG_COUNT && cmd_by_log[cmd->log_id] == NULL);
	ASSERT(cmd->exec != NULL && (cmd->kind & KV_CMD_WRITE));
	cmd_by_log[cmd->log_id] = cmd;
}

static void cmd_init(void)
{
	size_t n, ni;
	const struct kv_cmd *t = kv_cmd_table(&n), *internal = kv_cmd_internal_table(&ni);
	STATIC_ASSERT(CMD_HASH_SLOTS >= 128, "room for the table at a low load");
	ASSERT(n * 2 <= CMD_HASH_SLOTS);
	for (size_t i = 0; i < n; i++) {
		cmd_hash_add(&t[i]);
		cmd_log_add(&t[i]);
	}
	for (size_t i = 0; i < ni; i++)
		cmd_log_add(&internal[i]);
	for (unsigned id = 1; id < KV_LOG_COUNT; id++)
		ASSERT_MSG(cmd_by_log[id] != NULL, "log id %u has no command", id);
}

static bool cmd_name_eq(const char *name, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '\0' || name[i] != (char)cmd_lower((unsigned char)s[i]))
			return false;
	}
	return name[len] == '\0';
}

const struct kv_cmd *kv_cmd_lookup(const char *name, size_t len)
{
	pthread_once(&cmd_once, cmd_init);
	if (len > CMD_NAME_BYTES_MAX)
		return NULL;
	for (uint32_t i = cmd_name_hash(name, len) & (CMD_HASH_SLOTS - 1);;
	     i = (i + 1) & (CMD_HASH_SLOTS - 1)) {
		const struct kv_cmd *cmd = cmd_hash[i];
		if (cmd == NULL)
			return NULL;
		if (cmd_name_eq(cmd->name, name, len))
			return cmd;
	}
}

const struct kv_cmd *kv_cmd_by_log_id(uint64_t id)
{
	pthread_once(&cmd_once, cmd_init);
	return id < KV_LOG_COUNT ? cmd_by_log[id] : NULL;
}

/* A container's subcommand (few per container: a short scan is fine). */
static const struct kv_cmd *cmd_sub_lookup(const struct kv_cmd *parent, const char *name,
					   size_t len)
{
	for (uint16_t i = 0; i < parent->subs_count; i++) {
		if (cmd_name_eq(parent->subs[i].name, name, len))
			return &parent->subs[i];
	}
	return NULL;
}

bool kv_cmd_arity_ok(const struct kv_cmd *cmd, uint32_t argc)
{
	return cmd->arity > 0 ? argc == (uint32_t)cmd->arity : argc >= (uint32_t)-cmd->arity;
}

void kv_reply_wrong_arity(struct resp_out *out, const struct kv_cmd *cmd)
{
	resp_add_errorf(out, "ERR wrong number of arguments for '%s' command", cmd->fullname);
}

/* Appends "%.*s" of an argument as Redis's printf would: up to max bytes, and no further
 * than a NUL. Returns the bytes appended. */
static size_t cmd_quote_arg(char *dst, const struct resp_arg *a, size_t max)
{
	size_t n = MIN(a->len, max);
	const char *nul = memchr(a->ptr, '\0', n);
	if (nul != NULL)
		n = (size_t)(nul - a->ptr);
	memcpy(dst, a->ptr, n);
	return n;
}

void kv_reply_unknown_command(struct resp_out *out, uint32_t argc, const struct resp_arg *argv)
{
	/* "ERR unknown command '<128>', with args beginning with: " + about 128 + quotes */
	char msg[64 + CMD_ERR_NAME_BYTES + 2 * CMD_ERR_NAME_BYTES + 16];
	size_t n = 0;
	n += (size_t)snprintf(msg, sizeof(msg), "ERR unknown command '");
	n += cmd_quote_arg(msg + n, &argv[0], CMD_ERR_NAME_BYTES);
	static const char mid[] = "', with args beginning with: ";
	memcpy(msg + n, mid, sizeof(mid) - 1);
	n += sizeof(mid) - 1;
	size_t args_start = n;
	for (uint32_t i = 1; i < argc && n - args_start < CMD_ERR_NAME_BYTES; i++) {
		msg[n++] = '\'';
		n += cmd_quote_arg(msg + n, &argv[i], CMD_ERR_NAME_BYTES - (n - 1 - args_start));
		msg[n++] = '\'';
		msg[n++] = ' ';
	}
	ASSERT(n < sizeof(msg));
	msg[n] = '\0';
	resp_add_error(out, msg);
}

static void cmd_reply_unknown_sub(struct resp_out *out, const struct resp_arg *argv)
{
	char name[CMD_NAME_BYTES_MAX + 1], sub[CMD_ERR_NAME_BYTES + 1];
	size_t n = cmd_quote_arg(name, &argv[0], CMD_NAME_BYTES_MAX);
	for (size_t i = 0; i < n; i++)
		name[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
	name[n] = '\0';
	sub[cmd_quote_arg(sub, &argv[1], CMD_ERR_NAME_BYTES)] = '\0';
	resp_add_errorf(out, "ERR unknown subcommand '%s'. Try %s HELP.", sub, name);
}

const struct kv_cmd *kv_cmd_resolve_or_reply(uint32_t argc, const struct resp_arg *argv,
					     struct resp_out *out)
{
	ASSERT(argc >= 1);
	const struct kv_cmd *cmd = kv_cmd_lookup(argv[0].ptr, argv[0].len);
	if (cmd == NULL) {
		kv_reply_unknown_command(out, argc, argv);
		return NULL;
	}
	if ((cmd->kind & KV_CMD_CONTAINER) && argc >= 2) {
		const struct kv_cmd *sub = cmd_sub_lookup(cmd, argv[1].ptr, argv[1].len);
		if (sub == NULL) {
			cmd_reply_unknown_sub(out, argv);
			return NULL;
		}
		cmd = sub;
	}
	if (!kv_cmd_arity_ok(cmd, argc)) {
		kv_reply_wrong_arity(out, cmd);
		return NULL;
	}
	return cmd;
}

/* Keys and values are at most KV_STRING_BYTES_MAX: the parser enforces its own (configurable)
 * bulk limit, and whatever it lets through must not reach the objects larger. */
static bool cmd_args_fit_or_reply(uint32_t argc, const struct resp_arg *argv,
				  struct resp_out *out)
{
	for (uint32_t i = 1; i < argc; i++) {
		if (argv[i].len > KV_STRING_BYTES_MAX) {
			resp_add_error(out, "ERR string exceeds maximum allowed size "
					    "(proto-max-bulk-len)");
			return false;
		}
	}
	return true;
}

void kv_cmd_exec(const struct kv_cmd *cmd, struct kv_db *db, uint32_t argc,
		 const struct resp_arg *argv, int64_t now_ms, struct resp_out *out)
{
	ASSERT_MSG(cmd->exec != NULL, "'%s' is not run by the kv module", cmd->fullname);
	ASSERT(db != NULL || (cmd->kind & KV_CMD_NO_DB));
	ASSERT(kv_cmd_arity_ok(cmd, argc));
	if (cmd_args_fit_or_reply(argc, argv, out))
		cmd->exec(db, argc, argv, now_ms, out);
}

int kv_cmd_prepare(const struct kv_cmd *cmd, uint32_t argc, const struct resp_arg *argv,
		   int64_t now_ms, struct kv_enc *enc, struct resp_out *err)
{
	ASSERT_MSG(cmd->prepare != NULL, "'%s' is not a logged write", cmd->fullname);
	ASSERT(kv_cmd_arity_ok(cmd, argc));
	if (!cmd_args_fit_or_reply(argc, argv, err))
		return -EINVAL;
	return cmd->prepare(argc, argv, now_ms, enc, err);
}

uint32_t kv_cmd_keys(const struct kv_cmd *cmd, uint32_t argc, uint32_t *pos, uint32_t max)
{
	const struct kv_key_spec *spec = cmd->key_spec;
	if (spec == NULL || (uint32_t)spec->index >= argc)
		return 0;
	int64_t first = spec->index;
	int64_t last = spec->lastkey >= 0 ? first + spec->lastkey : (int64_t)argc + spec->lastkey;
	uint32_t n = 0;
	for (int64_t i = first; i <= last && i < (int64_t)argc && n < max; i += spec->keystep)
		pos[n++] = (uint32_t)i;
	return n;
}

bool kv_arg_is(const struct resp_arg *a, const char *word)
{
	size_t len = a->len > 0 ? strnlen(a->ptr, a->len) : 0;
	return len == strlen(word) && strncasecmp(a->ptr, word, len) == 0;
}

bool kv_arg_ll_or_reply(const struct resp_arg *a, int64_t *v, struct resp_out *out)
{
	if (kv_num_parse_ll(a->ptr, a->len, v))
		return true;
	resp_add_error(out, RESP_ERR_NOT_INTEGER);
	return false;
}
