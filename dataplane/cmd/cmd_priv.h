/* Shared between the files of the command layer. */
#ifndef SPINDLE_CMD_PRIV_H
#define SPINDLE_CMD_PRIV_H

#include <stdatomic.h>

#include "cmd/cmd.h"

struct cmd_loop {
	struct cmd_server *srv;
	struct loop *loop;
	struct net_loop *nl;
	unsigned id;
	uint32_t *pos;          /* key positions of the command being routed */
	uint32_t pos_cap;
};

struct cmd_server {
	const struct conf *conf;
	char config_file[CONF_PATH_BYTES_MAX];
	struct lane_set *lanes;
	uint32_t loops_count;
	struct cmd_loop *loops[CMD_LOOPS_MAX];
	int64_t start_ms;
	atomic_uint_fast64_t commands;
};

/* A request to every loop, gathered: fn runs on each loop, then done on the origin. */
typedef void (*cmd_loop_visit_fn)(struct cmd_loop *cl, void *arg, unsigned index);
void cmd_loops_visit(struct cmd_loop *here, cmd_loop_visit_fn fn, void (*done)(void *arg),
		     void *arg);

/* Connection and server commands (conncmd.c). Each answers into reply or defers it. */
void cmd_conn_exec(struct cmd_loop *cl, struct net_conn *c, const struct kv_cmd *cmd,
		   uint32_t argc, const struct resp_arg *argv, struct net_reply *reply);
/* SPINDLE and WAIT (admin.c). */
void cmd_spindle(struct cmd_loop *cl, const char *sub, uint32_t argc, const struct resp_arg *argv,
		 struct net_reply *reply);
void cmd_wait(struct cmd_loop *cl, uint32_t argc, const struct resp_arg *argv, struct resp_out *out);
/* INFO (info.c). */
void cmd_info(struct cmd_loop *cl, struct net_conn *c, uint32_t argc, const struct resp_arg *argv,
	      struct net_reply *reply);

/* Keyspace routing (route.c). */
void cmd_route(struct cmd_loop *cl, struct net_conn *c, const struct kv_cmd *cmd, uint32_t argc,
	       const struct resp_arg *argv, struct net_reply *reply, enum net_class cls);
void cmd_all_lanes(struct cmd_loop *cl, struct net_conn *c, const struct kv_cmd *cmd,
		   uint32_t argc, const struct resp_arg *argv, struct net_reply *reply,
		   enum net_class cls);

/* Per-loop scratch for key positions. */
uint32_t *cmd_key_positions(struct cmd_loop *cl, uint32_t count);

#endif
