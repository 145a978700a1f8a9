/* The entry of every client command: resolve it, check arity and authentication in Redis's
 * order, pick its ordering class, hold it if earlier commands must finish first, and run it
 * where it belongs. Also the process-wide and per-loop state of the command layer. */
#define LOG_COMPONENT "cmd"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/panic.h"
#include "cmd/cmd_priv.h"

static enum net_class cmd_class(const struct kv_cmd *cmd)
{
	if (cmd->kind & KV_CMD_CONN)
		return NET_CLASS_OTHER;
	if (cmd->flags & (1u << KV_RF_WRITE))
		return NET_CLASS_WRITE;
	return NET_CLASS_READ;
}

void cmd_dispatch(void *ctx, struct net_conn *c, struct resp_argv *av, struct net_reply *reply)
{
	struct cmd_loop *cl = ctx;
	uint32_t argc = av->argc;
	const struct resp_arg *argv = av->argv;
	ASSERT(argc > 0);
	const struct kv_cmd *cmd = kv_cmd_resolve_or_reply(argc, argv, reply->out);
	if (cmd == NULL)
		return;
	net_conn_last_command_set(c, cmd->fullname);
	atomic_fetch_add_explicit(&cl->srv->commands, 1, memory_order_relaxed);
	if (cl->srv->conf->requirepass[0] != '\0' &&
	    !(net_conn_flags(c) & NET_CONN_AUTHENTICATED) && !(cmd->flags & (1u << KV_RF_NO_AUTH))) {
		resp_add_error(reply->out, "NOAUTH Authentication required.");
		return;
	}
	if (cmd->kind & KV_CMD_NO_DB) {
		/* PING, ECHO: no state to order against; the reply still waits its turn. */
		kv_cmd_exec(cmd, NULL, argc, argv, loop_wall_ms(cl->loop), reply->out);
		return;
	}
	enum net_class cls = cmd_class(cmd);
	if (!net_conn_may_run(c, cls)) {
		net_reply_hold(reply, av);
		return;
	}
	if (cmd->kind & KV_CMD_CONN)
		cmd_conn_exec(cl, c, cmd, argc, argv, reply);
	else if (cmd->kind & KV_CMD_ALL_LANES)
		cmd_all_lanes(cl, c, cmd, argc, argv, reply, cls);
	else
		cmd_route(cl, c, cmd, argc, argv, reply, cls);
}

/* ---- Visiting every loop ---- */

struct loops_visit {
	struct cmd_loop *origin;
	cmd_loop_visit_fn fn;
	void (*done)(void *arg);
	void *arg;
	uint32_t pending;
};

struct loops_visit_msg {
	struct loops_visit *v;
	struct cmd_loop *target;
	unsigned index;
};

static void loops_visit_back(struct loop *loop, void *arg)
{
	(void)loop;
	struct loops_visit_msg *m = arg;
	struct loops_visit *v = m->v;
	free(m);
	if (--v->pending == 0) {
		v->done(v->arg);
		free(v);
	}
}

static void loops_visit_arrive(struct loop *loop, void *arg)
{
	struct loops_visit_msg *m = arg;
	m->v->fn(m->target, m->v->arg, m->index);
	loop_msg_post(loop, m->v->origin->loop, loops_visit_back, m);
}

void cmd_loops_visit(struct cmd_loop *here, cmd_loop_visit_fn fn, void (*done)(void *arg), void *arg)
{
	struct cmd_server *srv = here->srv;
	struct loops_visit *v = malloc(sizeof(*v));
	ASSERT_MSG(v != NULL, "out of memory visiting loops");
	*v = (struct loops_visit){ here, fn, done, arg, srv->loops_count + 1 };
	for (uint32_t i = 0; i < srv->loops_count; i++) {
		struct cmd_loop *target = srv->loops[i];
		if (target == here) {
			fn(target, arg, i);
			v->pending--;
			continue;
		}
		struct loops_visit_msg *m = malloc(sizeof(*m));
		ASSERT_MSG(m != NULL, "out of memory visiting loops");
		*m = (struct loops_visit_msg){ v, target, i };
		loop_msg_post(here->loop, target->loop, loops_visit_arrive, m);
	}
	if (--v->pending == 0) {
		done(arg);
		free(v);
	}
}

/* ---- Set-up ---- */

struct cmd_server *cmd_server_create(const struct conf *conf, const char *config_file,
				     struct lane_set *lanes, uint32_t loops)
{
	ASSERT(loops >= 1 && loops <= CMD_LOOPS_MAX);
	struct cmd_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return NULL;
	srv->conf = conf;
	snprintf(srv->config_file, sizeof(srv->config_file), "%s", config_file ? config_file : "");
	srv->lanes = lanes;
	srv->loops_count = loops;
	srv->start_ms = time_wall_ms();
	return srv;
}

void cmd_server_destroy(struct cmd_server *srv)
{
	free(srv);
}

struct cmd_loop *cmd_loop_create(struct cmd_server *srv, struct loop *loop)
{
	unsigned id = loop_id(loop);
	ASSERT(id < srv->loops_count && srv->loops[id] == NULL);
	struct cmd_loop *cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		return NULL;
	cl->srv = srv;
	cl->loop = loop;
	cl->id = id;
	srv->loops[id] = cl;
	return cl;
}

void cmd_loop_destroy(struct cmd_loop *cl)
{
	if (cl == NULL)
		return;
	cl->srv->loops[cl->id] = NULL;
	free(cl->pos);
	free(cl);
}

void cmd_loop_net_set(struct cmd_loop *cl, struct net_loop *nl)
{
	cl->nl = nl;
}

struct net_handler cmd_net_handler(struct cmd_loop *cl)
{
	return (struct net_handler){ .dispatch = cmd_dispatch, .ctx = cl };
}
