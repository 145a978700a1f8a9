/* The command layer between the client connections and the lanes: it resolves each command
 * in kv's table, checks arity and authentication, decides when it may run (net's ordering
 * classes), runs connection and server commands itself (HELLO, AUTH, CLIENT, CONFIG, INFO,
 * COMMAND, ...), and routes keyspace commands to their lane: one lane directly, several
 * lanes gathered for reads (MGET, EXISTS) and refused with -CROSSSLOT for writes, every lane
 * for DBSIZE, KEYS, SCAN, FLUSHALL. */
#ifndef SPINDLE_CMD_CMD_H
#define SPINDLE_CMD_CMD_H

#include <stdint.h>

#include "conf/conf.h"
#include "lane/lane.h"
#include "loop/loop.h"
#include "net/net.h"

#define CMD_LOOPS_MAX LANE_LOOPS_MAX

struct cmd_server;
struct cmd_loop;

/* Process-wide state; conf and lanes must outlive it. */
struct cmd_server *cmd_server_create(const struct conf *conf, const char *config_file,
				     struct lane_set *lanes, uint32_t loops);
void cmd_server_destroy(struct cmd_server *srv);

/* The per-loop context handed to net as its handler's ctx. */
struct cmd_loop *cmd_loop_create(struct cmd_server *srv, struct loop *loop);
void cmd_loop_destroy(struct cmd_loop *cl);
void cmd_loop_net_set(struct cmd_loop *cl, struct net_loop *nl);
struct net_handler cmd_net_handler(struct cmd_loop *cl);

/* net's dispatch callback. */
void cmd_dispatch(void *ctx, struct net_conn *c, struct resp_argv *argv, struct net_reply *reply);

#endif
