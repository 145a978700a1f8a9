/* COMMAND and its subcommands, generated from the command table in Redis 7.0's shapes (the
 * RESP3 aggregate types included, quirks and all: tips and key specs are sets, and an empty
 * subcommand list is a set while a full one is an array), so that redis-cli and client
 * libraries that read COMMAND find what they expect. */
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"
#include "base/panic.h"
#include "kv/cmds.h"

#define CMDINFO_KEYS_MAX 1024 /* keys COMMAND GETKEYS reports at most */

static const char *const redis_flag_names[KV_RF_COUNT] = {
	"write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
	"loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
	"may_replicate", "sentinel", "only_sentinel", "no_mandatory_keys", "protected",
	"module_getkeys", "module_no_cluster", "no_async_loading", "no_multi", "movablekeys",
	"allow_busy",
};

/* Flags Redis never shows in COMMAND. */
#define RF_HIDDEN (KV_BIT(KV_RF_MAY_REPLICATE) | KV_BIT(KV_RF_SENTINEL) | \
		   KV_BIT(KV_RF_ONLY_SENTINEL) | KV_BIT(KV_RF_PROTECTED) | \
		   KV_BIT(KV_RF_MODULE_GETKEYS) | KV_BIT(KV_RF_MODULE_NO_CLUSTER))

static const char *const acl_names[KV_ACL_COUNT] = {
	"keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
	"hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking",
	"dangerous", "connection", "transaction", "scripting",
};

static const char *const key_flag_names[KV_KF_COUNT] = {
	"RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key", "incomplete",
	"variable_flags",
};

/* A set of simple strings: the names of the bits set in bits. */
static void reply_bit_names(struct resp_out *out, uint32_t bits, const char *const *names,
			    unsigned count, const char *prefix)
{
	resp_add_set(out, (uint64_t)__builtin_popcount(bits));
	for (unsigned i = 0; i < count; i++) {
		if (!(bits & KV_BIT(i)))
			continue;
		char name[40];
		snprintf(name, sizeof(name), "%s%s", prefix, names[i]);
		resp_add_simple(out, name);
	}
}

static void reply_key_spec(struct resp_out *out, const struct kv_key_spec *spec)
{
	resp_add_map(out, spec->notes != NULL ? 4 : 3);
	if (spec->notes != NULL) {
		resp_add_bulk_str(out, "notes");
		resp_add_bulk_str(out, spec->notes);
	}
	resp_add_bulk_str(out, "flags");
	reply_bit_names(out, spec->flags, key_flag_names, KV_KF_COUNT, "");
	resp_add_bulk_str(out, "begin_search");
	resp_add_map(out, 2);
	resp_add_bulk_str(out, "type");
	resp_add_bulk_str(out, "index");
	resp_add_bulk_str(out, "spec");
	resp_add_map(out, 1);
	resp_add_bulk_str(out, "index");
	resp_add_int(out, spec->index);
	resp_add_bulk_str(out, "find_keys");
	resp_add_map(out, 2);
	resp_add_bulk_str(out, "type");
	resp_add_bulk_str(out, "range");
	resp_add_bulk_str(out, "spec");
	resp_add_map(out, 3);
	resp_add_bulk_str(out, "lastkey");
	resp_add_int(out, spec->lastkey);
	resp_add_bulk_str(out, "keystep");
	resp_add_int(out, spec->keystep);
	resp_add_bulk_str(out, "limit");
	resp_add_int(out, spec->limit);
}

static void reply_info(struct resp_out *out, const struct kv_cmd *cmd)
{
	resp_add_array(out, 10);
	resp_add_bulk_str(out, cmd->fullname);
	resp_add_int(out, cmd->arity);
	reply_bit_names(out, cmd->flags & ~RF_HIDDEN, redis_flag_names, KV_RF_COUNT, "");
	resp_add_int(out, cmd->key_first);
	resp_add_int(out, cmd->key_last);
	resp_add_int(out, cmd->key_step);
	reply_bit_names(out, cmd->acl, acl_names, KV_ACL_COUNT, "@");
	uint64_t tips = 0;
	while (cmd->tips != NULL && cmd->tips[tips] != NULL)
		tips++;
	resp_add_set(out, tips);
	for (uint64_t i = 0; i < tips; i++)
		resp_add_bulk_str(out, cmd->tips[i]);
	resp_add_set(out, cmd->key_spec != NULL);
	if (cmd->key_spec != NULL)
		reply_key_spec(out, cmd->key_spec);
	if (cmd->subs_count == 0) {
		resp_add_set(out, 0);
		return;
	}
	resp_add_array(out, cmd->subs_count);
	for (uint16_t i = 0; i < cmd->subs_count; i++)
		reply_info(out, &cmd->subs[i]);
}

static void reply_docs(struct resp_out *out, const struct kv_cmd *cmd, const char *group)
{
	uint64_t fields = 1 + (cmd->summary != NULL) + (cmd->since != NULL) + (cmd->subs_count > 0);
	resp_add_map(out, fields);
	if (cmd->summary != NULL) {
		resp_add_bulk_str(out, "summary");
		resp_add_bulk_str(out, cmd->summary);
	}
	if (cmd->since != NULL) {
		resp_add_bulk_str(out, "since");
		resp_add_bulk_str(out, cmd->since);
	}
	resp_add_bulk_str(out, "group");
	resp_add_bulk_str(out, group);
	if (cmd->subs_count > 0) {
		resp_add_bulk_str(out, "subcommands");
		resp_add_map(out, cmd->subs_count);
		for (uint16_t i = 0; i < cmd->subs_count; i++) {
			resp_add_bulk_str(out, cmd->subs[i].fullname);
			reply_docs(out, &cmd->subs[i], group);
		}
	}
}

/* lookupCommandBySds: "name" or "container|sub", any case; NULL if there is no such. */
static const struct kv_cmd *cmd_by_fullname(const struct resp_arg *a, const char **group)
{
	const char *bar = memchr(a->ptr, '|', a->len);
	size_t base_len = bar != NULL ? (size_t)(bar - a->ptr) : a->len;
	const struct kv_cmd *cmd = kv_cmd_lookup(a->ptr, base_len);
	if (cmd == NULL)
		return NULL;
	if (group != NULL)
		*group = cmd->group;
	if (bar == NULL)
		return cmd;
	struct resp_arg sub = { bar + 1, a->len - base_len - 1 };
	if (memchr(sub.ptr, '|', sub.len) != NULL)
		return NULL;
	for (uint16_t i = 0; i < cmd->subs_count; i++) {
		if (kv_arg_is(&sub, cmd->subs[i].name) && sub.len == strlen(cmd->subs[i].name))
			return &cmd->subs[i];
	}
	return NULL;
}

static void command_info(uint32_t argc, const struct resp_arg *argv, struct resp_out *out)
{
	size_t n;
	const struct kv_cmd *t = kv_cmd_table(&n);
	if (argc <= 2) {
		resp_add_array(out, n);
		for (size_t i = 0; i < n; i++)
			reply_info(out, &t[i]);
		return;
	}
	resp_add_array(out, argc - 2);
	for (uint32_t i = 2; i < argc; i++) {
		const struct kv_cmd *cmd = cmd_by_fullname(&argv[i], NULL);
		if (cmd == NULL)
			resp_add_null(out);
		else
			reply_info(out, cmd);
	}
}

static void command_docs(uint32_t argc, const struct resp_arg *argv, struct resp_out *out)
{
	size_t n;
	const struct kv_cmd *t = kv_cmd_table(&n);
	if (argc == 2) {
		resp_add_map(out, n);
		for (size_t i = 0; i < n; i++) {
			resp_add_bulk_str(out, t[i].fullname);
			reply_docs(out, &t[i], t[i].group);
		}
		return;
	}
	uint64_t found = 0;
	for (uint32_t i = 2; i < argc; i++)
		found += cmd_by_fullname(&argv[i], NULL) != NULL;
	resp_add_map(out, found);
	for (uint32_t i = 2; i < argc; i++) {
		const char *group = NULL;
		const struct kv_cmd *cmd = cmd_by_fullname(&argv[i], &group);
		if (cmd == NULL)
			continue;
		resp_add_bulk_str(out, cmd->fullname);
		reply_docs(out, cmd, group);
	}
}

enum list_filter { LIST_ALL, LIST_MODULE, LIST_ACLCAT, LIST_PATTERN };

struct list_ctx {
	enum list_filter filter;
	const struct resp_arg *arg;
	uint32_t acl; /* LIST_ACLCAT: the category's bit, 0 if there is no such category */
	struct resp_out *out; /* NULL: count only */
	uint64_t n;
};

static bool list_wants(const struct list_ctx *l, const struct kv_cmd *cmd)
{
	switch (l->filter) {
	case LIST_ALL: return true;
	case LIST_MODULE: return false; /* spindle has no modules */
	case LIST_ACLCAT: return (cmd->acl & l->acl) != 0;
	case LIST_PATTERN:
		return kv_match(l->arg->ptr, l->arg->len, cmd->fullname, strlen(cmd->fullname), true);
	}
	return false;
}

static void list_walk(struct list_ctx *l, const struct kv_cmd *cmds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (list_wants(l, &cmds[i])) {
			l->n++;
			if (l->out != NULL)
				resp_add_bulk_str(l->out, cmds[i].fullname);
		}
		list_walk(l, cmds[i].subs, cmds[i].subs_count);
	}
}

static void command_list(uint32_t argc, const struct resp_arg *argv, struct resp_out *out)
{
	struct list_ctx l = { .filter = LIST_ALL };
	if (argc != 2) {
		static const char *const kinds[] = { "module", "aclcat", "pattern" };
		if (argc != 5 || !kv_arg_is(&argv[2], "filterby")) {
			resp_add_error(out, RESP_ERR_SYNTAX);
			return;
		}
		for (unsigned k = 0; k < ARRAY_SIZE(kinds) && l.filter == LIST_ALL; k++)
			l.filter = kv_arg_is(&argv[3], kinds[k]) ? (enum list_filter)(k + 1) : LIST_ALL;
		if (l.filter == LIST_ALL) {
			resp_add_error(out, RESP_ERR_SYNTAX);
			return;
		}
		l.arg = &argv[4];
		for (unsigned c = 0; c < KV_ACL_COUNT; c++)
			l.acl |= kv_arg_is(l.arg, acl_names[c]) ? KV_BIT(c) : 0;
	}
	size_t n;
	const struct kv_cmd *t = kv_cmd_table(&n);
	list_walk(&l, t, n); /* count first: the array header comes before the names */
	resp_add_array(out, l.n);
	l.n = 0;
	l.out = out;
	list_walk(&l, t, n);
}

/* The key flags SET really has: RW access update with GET, else OW update (setGetKeys). */
static uint32_t getkeys_flags(const struct kv_cmd *cmd, uint32_t argc, const struct resp_arg *argv)
{
	uint32_t flags = cmd->key_spec->flags;
	if (!(flags & KV_BIT(KV_KF_VARIABLE_FLAGS)))
		return flags;
	for (uint32_t i = 3; i < argc; i++) {
		if (kv_arg_is(&argv[i], "get"))
			return KV_BIT(KV_KF_RW) | KV_BIT(KV_KF_ACCESS) | KV_BIT(KV_KF_UPDATE);
	}
	return KV_BIT(KV_KF_OW) | KV_BIT(KV_KF_UPDATE);
}

static void command_getkeys(uint32_t argc, const struct resp_arg *argv, bool with_flags,
			    struct resp_out *out)
{
	const struct resp_arg *args = argv + 2;
	uint32_t n = argc - 2;
	const struct kv_cmd *cmd = kv_cmd_lookup(args[0].ptr, args[0].len);
	if (cmd != NULL && (cmd->kind & KV_CMD_CONTAINER) && n >= 2) {
		const struct kv_cmd *sub = NULL;
		for (uint16_t i = 0; i < cmd->subs_count && sub == NULL; i++) {
			if (kv_arg_is(&args[1], cmd->subs[i].name) &&
			    args[1].len == strlen(cmd->subs[i].name))
				sub = &cmd->subs[i];
		}
		cmd = sub;
	}
	if (cmd == NULL) {
		resp_add_error(out, "ERR Invalid command specified");
		return;
	}
	if (cmd->key_spec == NULL) {
		resp_add_error(out, "ERR The command has no key arguments");
		return;
	}
	if (!kv_cmd_arity_ok(cmd, n)) {
		resp_add_error(out, "ERR Invalid number of arguments specified for command");
		return;
	}
	uint32_t pos[CMDINFO_KEYS_MAX];
	uint32_t keys = kv_cmd_keys(cmd, n, pos, CMDINFO_KEYS_MAX);
	if (keys == 0) {
		resp_add_error(out, "ERR Invalid arguments specified for command");
		return;
	}
	uint32_t flags = getkeys_flags(cmd, n, args);
	resp_add_array(out, keys);
	for (uint32_t i = 0; i < keys; i++) {
		if (with_flags)
			resp_add_array(out, 2);
		resp_add_bulk(out, args[pos[i]].ptr, args[pos[i]].len);
		if (with_flags)
			reply_bit_names(out, flags, key_flag_names, KV_KF_COUNT, "");
	}
}

static void command_help(struct resp_out *out)
{
	static const char *const lines[] = {
		"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"(no subcommand)",
		"    Return details about every command.",
		"COUNT",
		"    Return the number of commands.",
		"LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
		"    Return the names of the commands, all of them or those the filter selects.",
		"INFO [<command-name> ...]",
		"    Return details about the named commands, or about every command.",
		"DOCS [<command-name> ...]",
		"    Return documentation about the named commands, or about every command.",
		"GETKEYS <full-command>",
		"    Return the keys of a full command.",
		"GETKEYSANDFLAGS <full-command>",
		"    Return the keys of a full command and how the command uses each of them.",
		"HELP",
		"    Print this help.",
	};
	resp_add_array(out, ARRAY_SIZE(lines));
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
		resp_add_simple(out, lines[i]);
}

void kv_command_reply(uint32_t argc, const struct resp_arg *argv, struct resp_out *out)
{
	const struct kv_cmd *cmd = kv_cmd_resolve_or_reply(argc, argv, out);
	if (cmd == NULL)
		return;
	ASSERT(cmd->exec == kv_exec_command);
	size_t n;
	if (argc == 1)
		command_info(argc, argv, out);
	else if (strcmp(cmd->name, "count") == 0)
		resp_add_int(out, (int64_t)(kv_cmd_table(&n), n));
	else if (strcmp(cmd->name, "info") == 0)
		command_info(argc, argv, out);
	else if (strcmp(cmd->name, "docs") == 0)
		command_docs(argc, argv, out);
	else if (strcmp(cmd->name, "list") == 0)
		command_list(argc, argv, out);
	else if (strcmp(cmd->name, "getkeys") == 0)
		command_getkeys(argc, argv, false, out);
	else if (strcmp(cmd->name, "getkeysandflags") == 0)
		command_getkeys(argc, argv, true, out);
	else
		command_help(out);
}

KV_EXEC(command)
{
	(void)db;
	(void)now_ms;
	kv_command_reply(argc, argv, out);
}
