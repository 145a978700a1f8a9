/* Client connections of one loop on its io_uring: a SO_REUSEPORT listener with multishot
 * accept, multishot recv into a provided buffer ring (an idle connection holds no receive
 * buffer), RESP framing, replies kept in request order, and sends batched once per turn.
 *
 * What a command means is not decided here: each parsed command goes to the handler given
 * at creation (the command layer), which answers at once into the reply it is handed, or
 * defers the answer (the reply is then finished later, possibly from another loop's work),
 * or holds the command until every earlier command of the connection has been answered. */
#ifndef SPINDLE_NET_NET_H
#define SPINDLE_NET_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "base/list.h"
#include "loop/loop.h"
#include "resp/resp.h"

#define NET_RECV_BUF_BYTES_DEFAULT (16u * 1024)
#define NET_RECV_BUFS_DEFAULT 1024u          /* per loop; a power of two */
#define NET_OUTPUT_BYTES_MAX_DEFAULT (256ull * 1024 * 1024)
#define NET_INFLIGHT_MAX_DEFAULT 4096u      /* queued replies per connection before reading pauses */
#define NET_CLIENTS_MAX_DEFAULT 10000u
#define NET_NAME_BYTES_MAX 64

struct net_loop;
struct net_conn;
struct net_req;

/* What a command does, for ordering within a connection: a command runs at once only if no
 * unfinished earlier command could see or change what it touches in another order. Reads may
 * pass reads and writes may pass writes (the lane keeps writes in order), anything else
 * waits for what came before. */
enum net_class {
	NET_CLASS_READ = 0,
	NET_CLASS_WRITE = 1,
	NET_CLASS_OTHER = 2,   /* connection state, server-wide commands */
};

/* Where a command's reply goes. out is valid during dispatch; to answer later, call
 * net_reply_defer() during dispatch and net_req_finish() once the reply is in the request's
 * out. */
struct net_reply {
	struct resp_out *out;
	struct net_req *req;   /* the queued request, if the reply is not written in place */
	struct net_conn *conn;
	bool deferred;
	bool held;
};

struct net_handler {
	/* Runs one command. argv points into receive buffers and is valid only during the
	 * call; a deferred or held command that needs its arguments later must copy them (held
	 * ones are copied by net_reply_hold()). */
	void (*dispatch)(void *ctx, struct net_conn *c, struct resp_argv *argv,
			 struct net_reply *reply);
	void *ctx;
};

struct net_config {
	const char *bind_addr;          /* IPv4 or IPv6 literal */
	uint16_t port;
	uint32_t clients_max;           /* for the whole process */
	uint32_t recv_buf_bytes;
	uint32_t recv_bufs;
	uint64_t output_bytes_max;      /* per connection; beyond it the connection is closed */
	uint32_t inflight_max;
	struct resp_limits limits;
};

struct net_stats {
	uint64_t accepted;
	uint64_t rejected_max_clients;
	uint64_t closed;
	uint64_t commands;
	uint64_t protocol_errors;
	uint64_t output_limit_closes;
	uint64_t recv_bytes;
	uint64_t sent_bytes;
	uint64_t recv_nobufs;           /* recv found the buffer ring empty: backpressure */
	uint64_t connected;             /* current, this loop */
};

/* Connection state visible to the command layer. */
enum net_conn_flag {
	NET_CONN_AUTHENTICATED = 1u << 0,
	NET_CONN_READONLY = 1u << 1,    /* READONLY: stale reads from the local replica allowed */
	NET_CONN_CLOSE_AFTER_REPLY = 1u << 2,
};

void net_config_default(struct net_config *cfg);
/* Binds a SO_REUSEPORT listener and arms accept on loop. Returns NULL and logs why. */
struct net_loop *net_loop_create(struct loop *loop, const struct net_config *cfg,
				 const struct net_handler *handler);
/* Stops accepting and closes every connection; call on the loop's thread, then run the
 * loop until net_loop_idle() before destroying. */
void net_loop_shutdown(struct net_loop *nl);
bool net_loop_idle(const struct net_loop *nl);
void net_loop_destroy(struct net_loop *nl);
void net_loop_stats(const struct net_loop *nl, struct net_stats *out);
struct loop *net_loop_get_loop(const struct net_loop *nl);
struct resp_chunk_pool *net_loop_chunk_pool(struct net_loop *nl);
/* Calls fn for every open connection of this loop (CLIENT LIST). */
void net_loop_conn_foreach(struct net_loop *nl, void (*fn)(struct net_conn *c, void *arg),
			   void *arg);
/* Connections open in the whole process. */
uint32_t net_clients_connected(void);

/* ---- For the command layer ---- */
/* Whether a command of this class may run now, given the connection's unfinished commands;
 * if not, the dispatcher holds it. */
bool net_conn_may_run(const struct net_conn *c, enum net_class cls);
/* Answer later: returns the request whose out the reply goes to (reply->out is updated to
 * it); finish it with net_req_finish() from this loop. Call it before writing any reply. */
struct net_req *net_reply_defer(struct net_reply *reply, enum net_class cls);
/* Run this command only after every earlier one on the connection has been answered: its
 * arguments are copied and dispatch is called again with them then. Only when
 * net_conn_may_run() said no. */
void net_reply_hold(struct net_reply *reply, const struct resp_argv *argv);
struct resp_out *net_req_out(struct net_req *req);
struct net_conn *net_req_conn(struct net_req *req);
void net_req_finish(struct net_req *req);
bool net_conn_has_pending(const struct net_conn *c);

uint64_t net_conn_id(const struct net_conn *c);
uint32_t net_conn_flags(const struct net_conn *c);
void net_conn_flags_set(struct net_conn *c, uint32_t flags, bool on);
uint8_t net_conn_proto(const struct net_conn *c);
void net_conn_proto_set(struct net_conn *c, uint8_t proto);
const char *net_conn_name(const struct net_conn *c);  /* "" when unnamed */
int net_conn_name_set(struct net_conn *c, const char *name, size_t len);
struct net_loop *net_conn_loop(const struct net_conn *c);
/* Seconds since the connection was opened and since its last command. */
uint64_t net_conn_age_s(const struct net_conn *c);
uint64_t net_conn_idle_s(const struct net_conn *c);
/* "ip:port" of the peer and of the local end. */
void net_conn_addrs(const struct net_conn *c, char *peer, size_t peer_len, char *local,
		    size_t local_len);
uint64_t net_conn_output_bytes(const struct net_conn *c);
uint32_t net_conn_pending_count(const struct net_conn *c);
const char *net_conn_last_command(const struct net_conn *c);
/* name must be static (a command table entry's). */
void net_conn_last_command_set(struct net_conn *c, const char *name);
/* Marks the connection to close once the replies queued so far have been sent. */
void net_conn_close_after_reply(struct net_conn *c);

#endif
