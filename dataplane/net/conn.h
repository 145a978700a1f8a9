/* The layout of a connection and of a queued request, shared by the files of the net
 * module (and by its unit tests); the rest of the dataplane sees only net.h.
 *
 * A connection is kept small (about 200 bytes) because tens of thousands of them sit idle:
 * no receive buffer (the loop's provided buffer ring lends one per completion), no output
 * buffer (chunks come from the loop's pool only while replies wait to be sent), and a query
 * buffer only while a command is split across receives. */
#ifndef SPINDLE_NET_CONN_H
#define SPINDLE_NET_CONN_H

#include "net/net.h"

struct net_req {
	struct list_node node;        /* in the connection's queue, oldest first */
	struct net_conn *conn;
	struct resp_out out;
	bool finished;
	bool held;
	uint8_t cls;                  /* enum net_class while deferred */
	uint64_t queued_bytes;        /* its reply's bytes, counted in the connection's once finished */
	uint32_t held_argc;
	struct resp_arg *held_args;   /* one allocation: the array, then the bytes */
};

struct net_conn {
	struct loop_uring_op recv_op;
	struct loop_uring_op send_op;
	struct net_loop *nl;
	struct resp_out out;          /* replies ready to send, in order */
	struct list_node queue;       /* requests not yet answered, in order */
	struct list_node flush_node;  /* on the loop's flush list while output waits */
	struct list_node all_node;    /* on the loop's list of connections */
	struct list_node rearm_node;  /* on the loop's re-arm list after ENOBUFS */
	struct resp_parse_state ps;
	char *qbuf;                   /* bytes of a command split across receives */
	uint32_t qlen, qcap;
	uint64_t id;
	const char *last_command;     /* static name, for CLIENT LIST */
	char *name;                   /* CLIENT SETNAME, or NULL */
	int fd;
	uint32_t flags;               /* enum net_conn_flag */
	uint32_t pending;             /* requests in queue */
	uint64_t queued_bytes;        /* replies of finished requests waiting in queue */
	uint16_t unfinished[3];       /* deferred requests by enum net_class */
	uint16_t held;                /* held requests in queue */
	uint32_t send_len;            /* bytes of the send in flight */
	uint32_t created_s, last_cmd_s;
	bool recv_armed;
	bool send_inflight;
	bool closing;
	bool paused;                  /* reading stopped: too much queued work or output */
	bool at_head;                 /* a held request at the head of the queue is running */
};

#endif
