/* Connection and server commands with Redis 7.0's replies and error texts: HELLO, AUTH,
 * SELECT, QUIT, READONLY, READWRITE, CLIENT (ID, SETNAME, GETNAME, LIST, INFO), CONFIG GET,
 * COMMAND, and INFO (in info.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/panic.h"
#include "cmd/cmd_priv.h"

#define CMD_REDIS_VERSION "7.0.0" /* the Redis release whose behaviour spindle follows */

static bool cmd_password_ok(const struct cmd_loop *cl, const struct resp_arg *user,
			    const struct resp_arg *pass)
{
	const char *want = cl->srv->conf->requirepass;
	if (user != NULL && !resp_arg_equals(user, "default"))
		return false;
	return pass->len == strlen(want) && memcmp(pass->ptr, want, pass->len) == 0;
}

static void cmd_wrongpass(struct resp_out *out)
{
	resp_add_error(out, "WRONGPASS invalid username-password pair or user is disabled.");
}

static void cmd_auth(struct cmd_loop *cl, struct net_conn *c, uint32_t argc,
		     const struct resp_arg *argv, struct resp_out *out)
{
	if (argc > 3) {
		resp_add_error(out, RESP_ERR_SYNTAX);
		return;
	}
	if (cl->srv->conf->requirepass[0] == '\0' && argc == 2) {
		resp_add_error(out, "ERR AUTH <password> called without any password configured for "
			       "the default user. Are you sure your configuration is correct?");
		return;
	}
	const struct resp_arg *user = argc == 3 ? &argv[1] : NULL;
	if (cl->srv->conf->requirepass[0] == '\0' ? (user && !resp_arg_equals(user, "default"))
						 : !cmd_password_ok(cl, user, &argv[argc - 1])) {
		cmd_wrongpass(out);
		return;
	}
	net_conn_flags_set(c, NET_CONN_AUTHENTICATED, true);
	resp_add_simple(out, "OK");
}

static void cmd_hello_reply(struct cmd_loop *cl, struct net_conn *c, struct resp_out *out)
{
	(void)cl;
	resp_add_map(out, 7);
	resp_add_bulk_str(out, "server");
	resp_add_bulk_str(out, "redis");
	resp_add_bulk_str(out, "version");
	resp_add_bulk_str(out, CMD_REDIS_VERSION);
	resp_add_bulk_str(out, "proto");
	resp_add_int(out, net_conn_proto(c));
	resp_add_bulk_str(out, "id");
	resp_add_int(out, (int64_t)net_conn_id(c));
	resp_add_bulk_str(out, "mode");
	resp_add_bulk_str(out, "standalone");
	resp_add_bulk_str(out, "role");
	resp_add_bulk_str(out, "master");
	resp_add_bulk_str(out, "modules");
	resp_add_array(out, 0);
}

static bool cmd_name_valid(const struct resp_arg *name)
{
	for (size_t i = 0; i < name->len; i++)
		if (name->ptr[i] < '!' || name->ptr[i] > '~')
			return false;
	return true;
}

static void cmd_hello(struct cmd_loop *cl, struct net_conn *c, uint32_t argc,
		      const struct resp_arg *argv, struct resp_out *out)
{
	int64_t ver = net_conn_proto(c);
	if (argc >= 2) {
		if (resp_arg_to_int64(&argv[1], &ver) != 0) {
			resp_add_error(out, "ERR Protocol version is not an integer or out of range");
			return;
		}
		if (ver < 2 || ver > 3) {
			resp_add_error(out, "NOPROTO unsupported protocol version");
			return;
		}
	}
	const struct resp_arg *user = NULL, *pass = NULL, *name = NULL;
	for (uint32_t i = 2; i < argc; i++) {
		bool more = i + 1 < argc;
		if (resp_arg_equals(&argv[i], "AUTH") && i + 2 < argc) {
			user = &argv[i + 1];
			pass = &argv[i + 2];
			i += 2;
		} else if (resp_arg_equals(&argv[i], "SETNAME") && more) {
			name = &argv[++i];
			if (!cmd_name_valid(name)) {
				resp_add_error(out, "ERR Client names cannot contain spaces, newlines or special characters.");
				return;
			}
		} else {
			resp_add_errorf(out, "ERR Syntax error in HELLO option '%.*s'", (int)MIN(argv[i].len, 128u), argv[i].ptr);
			return;
		}
	}
	bool need_auth = cl->srv->conf->requirepass[0] != '\0' && !(net_conn_flags(c) & NET_CONN_AUTHENTICATED);
	if (pass != NULL) {
		if (!cmd_password_ok(cl, user, pass) && cl->srv->conf->requirepass[0] != '\0') {
			cmd_wrongpass(out);
			return;
		}
		net_conn_flags_set(c, NET_CONN_AUTHENTICATED, true);
	} else if (need_auth) {
		resp_add_error(out, "NOAUTH HELLO must be called with the client already authenticated, "
			       "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
			       "authenticate the client and select the RESP protocol version at the same time");
		return;
	}
	if (name != NULL)
		net_conn_name_set(c, name->ptr, name->len);
	net_conn_proto_set(c, (uint8_t)ver);
	out->proto = (uint8_t)ver;
	cmd_hello_reply(cl, c, out);
}

static void cmd_select(const struct resp_arg *arg, struct resp_out *out)
{
	int64_t db;
	if (resp_arg_to_int64(arg, &db) != 0)
		resp_add_error(out, RESP_ERR_NOT_INTEGER);
	else if (db != 0)
		resp_add_error(out, "ERR DB index is out of range");
	else
		resp_add_simple(out, "OK");
}

/* ---- CLIENT ---- */

/* One CLIENT LIST line, in Redis 7.0's field order. */
static void cmd_client_line(struct net_conn *c, char *buf, size_t len)
{
	char peer[80], local[80];
	net_conn_addrs(c, peer, sizeof(peer), local, sizeof(local));
	uint32_t flags = net_conn_flags(c);
	snprintf(buf, len,
		 "id=%llu addr=%s laddr=%s fd=-1 name=%s age=%llu idle=%llu flags=%s db=0 sub=0 "
		 "psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 "
		 "obl=0 oll=%u omem=%llu tot-mem=0 events=r cmd=%s user=default redir=-1 resp=%u\n",
		 (unsigned long long)net_conn_id(c), peer, local, net_conn_name(c),
		 (unsigned long long)net_conn_age_s(c), (unsigned long long)net_conn_idle_s(c),
		 (flags & NET_CONN_READONLY) ? "r" : "N", net_conn_pending_count(c),
		 (unsigned long long)net_conn_output_bytes(c), net_conn_last_command(c),
		 net_conn_proto(c));
}

struct client_list {
	struct net_req *req;
	struct resp_out *out;
	char **parts;                 /* per loop: its lines */
	size_t *parts_len;
	uint32_t loops;
	uint64_t only_id;             /* CLIENT LIST ID n (one id), or 0 */
};

struct client_list_ctx {
	char *buf;
	size_t len, cap;
	uint64_t only_id;
};

static void client_list_one(struct net_conn *c, void *arg)
{
	struct client_list_ctx *x = arg;
	if (x->only_id != 0 && net_conn_id(c) != x->only_id)
		return;
	char line[640];
	cmd_client_line(c, line, sizeof(line));
	size_t n = strlen(line);
	if (x->len + n > x->cap) {
		size_t cap = MAX(x->cap * 2, x->len + n + 4096);
		char *b = realloc(x->buf, cap);
		if (b == NULL)
			return;
		x->buf = b;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, line, n);
	x->len += n;
}

static void client_list_visit(struct cmd_loop *cl, void *arg, unsigned index)
{
	struct client_list *l = arg;
	struct client_list_ctx x = { .only_id = l->only_id };
	net_loop_conn_foreach(cl->nl, client_list_one, &x);
	l->parts[index] = x.buf;
	l->parts_len[index] = x.len;
}

static void client_list_done(void *arg)
{
	struct client_list *l = arg;
	size_t total = 0;
	for (uint32_t i = 0; i < l->loops; i++)
		total += l->parts_len[i];
	char *all = malloc(total + 1);
	size_t off = 0;
	for (uint32_t i = 0; i < l->loops; i++) {
		if (all != NULL && l->parts_len[i] > 0)
			memcpy(all + off, l->parts[i], l->parts_len[i]);
		off += l->parts_len[i];
		free(l->parts[i]);
	}
	if (all == NULL)
		resp_add_error(l->out, "ERR out of memory");
	else
		resp_add_verbatim(l->out, "txt", all, total);
	free(all);
	struct net_req *req = l->req;
	free(l->parts);
	free(l->parts_len);
	free(l);
	net_req_finish(req);
}

static void cmd_client_list(struct cmd_loop *cl, uint32_t argc, const struct resp_arg *argv,
			    struct net_reply *reply)
{
	uint64_t only_id = 0;
	if (argc == 4 && resp_arg_equals(&argv[2], "ID")) {
		int64_t id;
		if (resp_arg_to_int64(&argv[3], &id) != 0 || id <= 0) {
			resp_add_error(reply->out, "ERR Invalid client ID");
			return;
		}
		only_id = (uint64_t)id;
	} else if (argc == 4 && resp_arg_equals(&argv[2], "TYPE")) {
		if (!resp_arg_equals(&argv[3], "normal")) {
			resp_add_verbatim(reply->out, "txt", "", 0);
			return;
		}
	} else if (argc != 2) {
		resp_add_error(reply->out, RESP_ERR_SYNTAX);
		return;
	}
	struct client_list *l = calloc(1, sizeof(*l));
	uint32_t loops = cl->srv->loops_count;
	if (l != NULL) {
		l->parts = calloc(loops, sizeof(char *));
		l->parts_len = calloc(loops, sizeof(size_t));
	}
	if (l == NULL || l->parts == NULL || l->parts_len == NULL) {
		if (l != NULL) {
			free(l->parts);
			free(l->parts_len);
		}
		free(l);
		resp_add_error(reply->out, "ERR out of memory");
		return;
	}
	l->loops = loops;
	l->only_id = only_id;
	l->req = net_reply_defer(reply, NET_CLASS_OTHER);
	l->out = net_req_out(l->req);
	cmd_loops_visit(cl, client_list_visit, client_list_done, l);
}

static void cmd_client(struct cmd_loop *cl, struct net_conn *c, const char *sub, uint32_t argc,
		       const struct resp_arg *argv, struct net_reply *reply)
{
	struct resp_out *out = reply->out;
	if (strcmp(sub, "id") == 0) {
		resp_add_int(out, (int64_t)net_conn_id(c));
	} else if (strcmp(sub, "setname") == 0) {
		if (!cmd_name_valid(&argv[2])) {
			resp_add_error(out, "ERR Client names cannot contain spaces, newlines or special characters.");
		} else if (net_conn_name_set(c, argv[2].ptr, argv[2].len) != 0) {
			resp_add_error(out, "ERR client name too long");
		} else {
			resp_add_simple(out, "OK");
		}
	} else if (strcmp(sub, "getname") == 0) {
		if (net_conn_name(c)[0] == '\0')
			resp_add_null(out);
		else
			resp_add_bulk_str(out, net_conn_name(c));
	} else if (strcmp(sub, "info") == 0) {
		char line[640];
		cmd_client_line(c, line, sizeof(line));
		resp_add_verbatim(out, "txt", line, strlen(line));
	} else if (strcmp(sub, "list") == 0) {
		cmd_client_list(cl, argc, argv, reply);
	} else {
		resp_add_errorf(out, "ERR unknown subcommand '%s'. Try CLIENT HELP.", sub);
	}
}

/* ---- CONFIG GET ---- */

/* Redis parameters clients and tools ask about, answered for this server. */
static void cmd_config_redis_value(const struct conf *conf, const char *name, char *out, size_t len)
{
	bool disk = conf->durability == CONF_DURABILITY_DISK;
	if (strcmp(name, "save") == 0) snprintf(out, len, "%s", "");
	else if (strcmp(name, "appendonly") == 0) snprintf(out, len, "%s", disk ? "yes" : "no");
	else if (strcmp(name, "appendfsync") == 0) snprintf(out, len, "%s", disk ? "always" : "no");
	else if (strcmp(name, "databases") == 0) snprintf(out, len, "1");
	else if (strcmp(name, "maxclients") == 0) snprintf(out, len, "%u", conf->maxclients);
	else if (strcmp(name, "port") == 0) snprintf(out, len, "%u", conf->port);
	else if (strcmp(name, "bind") == 0) snprintf(out, len, "%s", conf->bind);
	else if (strcmp(name, "maxmemory") == 0) snprintf(out, len, "0");
	else if (strcmp(name, "maxmemory-policy") == 0) snprintf(out, len, "noeviction");
	else if (strcmp(name, "timeout") == 0) snprintf(out, len, "0");
	else if (strcmp(name, "cluster-enabled") == 0) snprintf(out, len, "no");
	else if (strcmp(name, "proto-max-bulk-len") == 0) snprintf(out, len, "%llu", (unsigned long long)conf->proto_max_bulk_bytes);
	else if (strcmp(name, "client-query-buffer-limit") == 0) snprintf(out, len, "%llu", (unsigned long long)conf->client_query_max_bytes);
	else if (strcmp(name, "requirepass") == 0) snprintf(out, len, "%s", conf->requirepass);
	else if (strcmp(name, "dir") == 0) snprintf(out, len, "%s", conf->data_dir);
}

static const char *const cmd_config_redis_names[] = {
	"save", "appendonly", "appendfsync", "databases", "maxclients", "port", "bind", "maxmemory",
	"maxmemory-policy", "timeout", "cluster-enabled", "proto-max-bulk-len",
	"client-query-buffer-limit", "requirepass", "dir",
};

struct config_match {
	const struct conf *conf;
	const struct resp_arg *patterns;
	uint32_t npatterns;
	struct resp_out body;
	uint64_t count;
};

static void config_try(struct config_match *m, const char *name, const char *value)
{
	for (uint32_t i = 0; i < m->npatterns; i++) {
		if (kv_match(m->patterns[i].ptr, m->patterns[i].len, name, strlen(name), true)) {
			resp_add_bulk_str(&m->body, name);
			resp_add_bulk_str(&m->body, value);
			m->count++;
			return;
		}
	}
}

static void config_try_spindle_key(const char *key, void *arg)
{
	struct config_match *m = arg;
	char value[1024];
	if (conf_get_text(m->conf, key, value, sizeof(value)) == 0)
		config_try(m, key, value);
}

static void cmd_config_get(struct cmd_loop *cl, uint32_t argc, const struct resp_arg *argv,
			   struct resp_out *out)
{
	struct config_match m = { .conf = cl->srv->conf, .patterns = argv + 2, .npatterns = argc - 2 };
	resp_out_init(&m.body, out->pool, out->proto);
	char value[1024];
	for (size_t i = 0; i < ARRAY_SIZE(cmd_config_redis_names); i++) {
		value[0] = '\0';
		cmd_config_redis_value(cl->srv->conf, cmd_config_redis_names[i], value, sizeof(value));
		config_try(&m, cmd_config_redis_names[i], value);
	}
	conf_keys_foreach(config_try_spindle_key, &m);
	resp_add_map(out, m.count);
	resp_out_splice(out, &m.body);
}

static void cmd_config(struct cmd_loop *cl, const char *sub, uint32_t argc,
		       const struct resp_arg *argv, struct resp_out *out)
{
	if (strcmp(sub, "get") == 0)
		cmd_config_get(cl, argc, argv, out);
	else if (strcmp(sub, "resetstat") == 0)
		resp_add_simple(out, "OK");
	else
		resp_add_errorf(out, "ERR CONFIG %s is not supported: spindle is configured by its "
			       "file and restarted", sub);
}

void cmd_conn_exec(struct cmd_loop *cl, struct net_conn *c, const struct kv_cmd *cmd,
		   uint32_t argc, const struct resp_arg *argv, struct net_reply *reply)
{
	const char *name = cmd->fullname;
	struct resp_out *out = reply->out;
	if (strcmp(name, "hello") == 0) {
		cmd_hello(cl, c, argc, argv, out);
	} else if (strcmp(name, "auth") == 0) {
		cmd_auth(cl, c, argc, argv, out);
	} else if (strcmp(name, "select") == 0) {
		cmd_select(&argv[1], out);
	} else if (strcmp(name, "quit") == 0) {
		resp_add_simple(out, "OK");
		net_conn_close_after_reply(c);
	} else if (strcmp(name, "readonly") == 0 || strcmp(name, "readwrite") == 0) {
		net_conn_flags_set(c, NET_CONN_READONLY, name[4] == 'o');
		resp_add_simple(out, "OK");
	} else if (strncmp(name, "client|", 7) == 0) {
		cmd_client(cl, c, name + 7, argc, argv, reply);
	} else if (strncmp(name, "config|", 7) == 0) {
		cmd_config(cl, name + 7, argc, argv, out);
	} else if (strcmp(name, "command") == 0 || strncmp(name, "command|", 8) == 0) {
		kv_command_reply(argc, argv, out);
	} else if (strcmp(name, "info") == 0) {
		cmd_info(cl, c, argc, argv, reply);
	} else if (strncmp(name, "spindle|", 8) == 0) {
		cmd_spindle(cl, name + 8, argc, argv, reply);
	} else if (strcmp(name, "wait") == 0) {
		cmd_wait(cl, argc, argv, out);
	} else {
		resp_add_errorf(out, "ERR command '%s' is not available", name);
	}
}
