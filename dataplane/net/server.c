/* A loop's client side: the listener and accept, the provided receive buffer ring, the
 * receive path (framing commands and handing them to the command layer), the ordered reply
 * queue, batched sends, back-pressure, and closing. */
#define LOG_COMPONENT "net"
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/panic.h"

#define NET_BGID 0                   /* one buffer group per ring: every loop has its own ring */
#define NET_LISTEN_BACKLOG 65535
#define NET_ACCEPT_RETRY_NS (10 * 1000000ull)
#define NET_CHUNKS_FREE_MAX 4096
#define NET_REQS_FREE_MAX 4096
/* Reading pauses while this much output waits (a client that does not read its replies),
 * so output cannot grow without bound from pipelined commands. */
#define NET_OUTPUT_PAUSE_BYTES (4u * 1024 * 1024)

struct net_loop {
	struct loop *loop;
	struct net_config cfg;
	struct net_handler handler;
	int listen_fd;
	struct loop_uring_op accept_op;
	struct loop_timer accept_retry;
	bool accept_armed;
	bool shutting_down;
	/* Provided receive buffers. */
	struct io_uring_buf_ring *br;
	char *bufs;
	uint32_t br_mask;
	/* Connections. */
	struct list_node conns;
	struct list_node flush_list;
	struct list_node rearm_list;   /* connections whose recv stopped on ENOBUFS */
	struct loop_poller flusher;
	struct loop_poller rearmer;
	struct resp_chunk_pool chunks;
	struct resp_argv argv;
	struct net_req *free_reqs;     /* linked through node.next */
	uint32_t free_reqs_count;
	struct net_stats stats;
};

static atomic_uint net_connected_total;
static atomic_uint_fast64_t net_next_id = 1;

static void conn_recv_arm(struct net_conn *c);
static void conn_maybe_free(struct net_conn *c);
static void conn_input(struct net_conn *c, const char *data, size_t len);
static void conn_queue_drain(struct net_conn *c);

uint32_t net_clients_connected(void)
{
	return atomic_load_explicit(&net_connected_total, memory_order_relaxed);
}

void net_config_default(struct net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->bind_addr = "127.0.0.1";
	cfg->port = 6379;
	cfg->clients_max = NET_CLIENTS_MAX_DEFAULT;
	cfg->recv_buf_bytes = NET_RECV_BUF_BYTES_DEFAULT;
	cfg->recv_bufs = NET_RECV_BUFS_DEFAULT;
	cfg->output_bytes_max = NET_OUTPUT_BYTES_MAX_DEFAULT;
	cfg->inflight_max = NET_INFLIGHT_MAX_DEFAULT;
	resp_limits_default(&cfg->limits);
}

static uint32_t net_now_s(const struct net_loop *nl)
{
	return (uint32_t)(loop_now_ns(nl->loop) / 1000000000ull);
}

/* ---- Provided buffer ring ---- */

static int net_bufs_init(struct net_loop *nl)
{
	uint32_t n = nl->cfg.recv_bufs;
	ASSERT(IS_POW2(n));
	size_t ring_bytes = (size_t)n * sizeof(struct io_uring_buf);
	nl->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (nl->br == MAP_FAILED) {
		nl->br = NULL;
		return -ENOMEM;
	}
	/* Buffers are touched only when the kernel fills them, so memory grows with use. */
	nl->bufs = mmap(NULL, (size_t)n * nl->cfg.recv_buf_bytes, PROT_READ | PROT_WRITE,
			MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (nl->bufs == MAP_FAILED) {
		nl->bufs = NULL;
		return -ENOMEM;
	}
	io_uring_buf_ring_init(nl->br);
	struct io_uring_buf_reg reg = { .ring_addr = (uint64_t)(uintptr_t)nl->br,
					.ring_entries = n, .bgid = NET_BGID };
	int rc = io_uring_register_buf_ring(loop_uring(nl->loop), &reg, 0);
	if (rc < 0)
		return rc;
	nl->br_mask = (uint32_t)io_uring_buf_ring_mask(n);
	for (uint32_t i = 0; i < n; i++)
		io_uring_buf_ring_add(nl->br, nl->bufs + (size_t)i * nl->cfg.recv_buf_bytes,
				      nl->cfg.recv_buf_bytes, (unsigned short)i, (int)nl->br_mask, (int)i);
	io_uring_buf_ring_advance(nl->br, (int)n);
	return 0;
}

static void net_buf_return(struct net_loop *nl, uint16_t bid)
{
	io_uring_buf_ring_add(nl->br, nl->bufs + (size_t)bid * nl->cfg.recv_buf_bytes,
			      nl->cfg.recv_buf_bytes, bid, (int)nl->br_mask, 0);
	io_uring_buf_ring_advance(nl->br, 1);
}

/* ---- Requests ---- */

static struct net_req *net_req_alloc(struct net_loop *nl)
{
	struct net_req *req = nl->free_reqs;
	if (req != NULL) {
		nl->free_reqs = (struct net_req *)(void *)req->node.next;
		nl->free_reqs_count--;
	} else {
		req = malloc(sizeof(*req));
		if (req == NULL)
			return NULL;
	}
	memset(req, 0, sizeof(*req));
	resp_out_init(&req->out, &nl->chunks, 2);
	return req;
}

static void net_req_free(struct net_loop *nl, struct net_req *req)
{
	resp_out_reset(&req->out);
	free(req->held_args);
	if (nl->free_reqs_count >= NET_REQS_FREE_MAX) {
		free(req);
		return;
	}
	req->node.next = (struct list_node *)(void *)nl->free_reqs;
	nl->free_reqs = req;
	nl->free_reqs_count++;
}

static struct net_req *conn_req_enqueue(struct net_conn *c)
{
	struct net_req *req = net_req_alloc(c->nl);
	ASSERT_MSG(req != NULL, "out of memory for a request");
	req->conn = c;
	req->out.proto = c->out.proto;
	list_push_back(&c->queue, &req->node);
	c->pending++;
	return req;
}

static void conn_flush_schedule(struct net_conn *c);

/* A queued request's reply is complete. Until it reaches the head of the queue its bytes
 * count toward the connection's output, so that replies finished behind a slow one (reads
 * passing a deferred read) pause reading and meet the output limit as sent ones do. */
static void conn_req_finished(struct net_conn *c, struct net_req *req)
{
	ASSERT(!req->finished && req->queued_bytes == 0);
	req->finished = true;
	req->queued_bytes = req->out.bytes;
	c->queued_bytes += req->queued_bytes;
	if (!c->closing && c->out.bytes + c->queued_bytes > c->nl->cfg.output_bytes_max)
		conn_flush_schedule(c); /* net_flush closes it */
}

bool net_conn_may_run(const struct net_conn *c, enum net_class cls)
{
	/* Held requests are all behind the one at the head, which runs first. */
	if (c->held > 0 && !c->at_head)
		return false;
	switch (cls) {
	case NET_CLASS_READ:
		return c->unfinished[NET_CLASS_WRITE] == 0 && c->unfinished[NET_CLASS_OTHER] == 0;
	case NET_CLASS_WRITE:
		return c->unfinished[NET_CLASS_READ] == 0 && c->unfinished[NET_CLASS_OTHER] == 0;
	case NET_CLASS_OTHER:
		return c->unfinished[0] + c->unfinished[1] + c->unfinished[2] == 0;
	}
	return false;
}

struct net_req *net_reply_defer(struct net_reply *reply, enum net_class cls)
{
	ASSERT(!reply->held && !reply->deferred);
	if (reply->req == NULL) {
		ASSERT(reply->out == &reply->conn->out);
		reply->req = conn_req_enqueue(reply->conn);
		reply->out = &reply->req->out;
	}
	reply->req->cls = (uint8_t)cls;
	reply->conn->unfinished[cls]++;
	reply->deferred = true;
	return reply->req;
}

void net_reply_hold(struct net_reply *reply, const struct resp_argv *argv)
{
	struct net_req *req = reply->req;
	ASSERT(req != NULL && !reply->deferred);
	size_t bytes = argv->argc * sizeof(struct resp_arg);
	for (uint32_t i = 0; i < argv->argc; i++)
		bytes += argv->argv[i].len;
	struct resp_arg *args = malloc(bytes ? bytes : 1);
	ASSERT_MSG(args != NULL, "out of memory holding a command");
	char *p = (char *)(args + argv->argc);
	for (uint32_t i = 0; i < argv->argc; i++) {
		memcpy(p, argv->argv[i].ptr, argv->argv[i].len);
		args[i].ptr = p;
		args[i].len = argv->argv[i].len;
		p += argv->argv[i].len;
	}
	req->held_args = args;
	req->held_argc = argv->argc;
	req->held = true;
	reply->conn->held++;
	reply->held = true;
}

struct resp_out *net_req_out(struct net_req *req)
{
	return &req->out;
}

struct net_conn *net_req_conn(struct net_req *req)
{
	return req->conn;
}

bool net_conn_has_pending(const struct net_conn *c)
{
	return c->pending > 0;
}

void net_req_finish(struct net_req *req)
{
	ASSERT(!req->finished && !req->held);
	struct net_conn *c = req->conn;
	ASSERT(c->unfinished[req->cls] > 0);
	c->unfinished[req->cls]--;
	conn_req_finished(c, req);
	if (c->queue.next == &req->node)
		conn_queue_drain(c);
	if (c->closing)
		conn_maybe_free(c);
}

/* ---- Sending ---- */

static void conn_flush_schedule(struct net_conn *c)
{
	if (!list_linked(&c->flush_node))
		list_push_back(&c->nl->flush_list, &c->flush_node);
}

static bool conn_should_pause(const struct net_conn *c)
{
	uint64_t out = c->out.bytes + c->queued_bytes;
	return c->pending >= c->nl->cfg.inflight_max || out >= NET_OUTPUT_PAUSE_BYTES ||
	       out > c->nl->cfg.output_bytes_max;
}

static void conn_close(struct net_conn *c);

static void conn_resume(struct net_conn *c)
{
	if (!c->paused || c->closing || conn_should_pause(c))
		return;
	c->paused = false;
	if (c->qlen > 0) {
		/* Parse what arrived while paused, from a copy: conn_input may keep a new tail. */
		char *held = c->qbuf;
		uint32_t len = c->qlen;
		c->qbuf = NULL;
		c->qlen = c->qcap = 0;
		conn_input(c, held, len);
		free(held);
	}
	if (!c->paused && !c->closing && !c->recv_armed)
		conn_recv_arm(c);
}

static void conn_on_send(struct loop *loop, struct loop_uring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct net_conn *c = container_of(op, struct net_conn, send_op);
	c->send_inflight = false;
	if (cqe->res < 0) {
		conn_close(c);
		conn_maybe_free(c);
		return;
	}
	c->nl->stats.sent_bytes += (uint64_t)cqe->res;
	resp_out_consume(&c->out, (uint64_t)cqe->res);
	if (c->out.bytes > 0)
		conn_flush_schedule(c);
	else if ((c->flags & NET_CONN_CLOSE_AFTER_REPLY) && c->pending == 0)
		conn_close(c);
	conn_resume(c);
	conn_maybe_free(c);
}

static void conn_send(struct net_conn *c)
{
	if (c->send_inflight || c->out.bytes == 0 || c->closing)
		return;
	struct resp_chunk *head = c->out.head;
	ASSERT(head != NULL && head->len > c->out.head_off);
	c->send_len = head->len - c->out.head_off;
	struct io_uring_sqe *sqe = loop_sqe_get(c->nl->loop, &c->send_op);
	io_uring_prep_send(sqe, c->fd, head->data + c->out.head_off, c->send_len, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, &c->send_op);
	c->send_inflight = true;
}

static int net_flush(void *arg)
{
	struct net_loop *nl = arg;
	int n = 0;
	struct list_node *node;
	while ((node = list_pop_front(&nl->flush_list)) != NULL) {
		struct net_conn *c = list_entry(node, struct net_conn, flush_node);
		if (c->out.oom) {
			LOG_WARN("closing client id=%llu: out of memory for its replies",
				 (unsigned long long)c->id);
			conn_close(c);
			conn_maybe_free(c);
			continue;
		}
		if (c->out.bytes + c->queued_bytes > nl->cfg.output_bytes_max) {
			LOG_WARN("closing client id=%llu: output buffer %llu bytes over the limit %llu",
				 (unsigned long long)c->id,
				 (unsigned long long)(c->out.bytes + c->queued_bytes),
				 (unsigned long long)nl->cfg.output_bytes_max);
			nl->stats.output_limit_closes++;
			conn_close(c);
			conn_maybe_free(c);
			continue;
		}
		conn_send(c);
		n++;
	}
	return n;
}

/* Moves the replies of finished requests at the head of the queue to the output, in order,
 * and runs held commands that have reached the head. A command the client sent in full runs
 * even if the client has gone since (as in Redis); only its reply is dropped. */
static void conn_queue_drain(struct net_conn *c)
{
	while (!list_empty(&c->queue)) {
		struct net_req *req = list_entry(c->queue.next, struct net_req, node);
		if (req->held && !req->finished) {
			struct resp_argv held = { .argc = req->held_argc, .cap = req->held_argc,
						  .argv = req->held_args };
			struct net_reply reply = { .out = &req->out, .req = req, .conn = c };
			req->held = false;
			c->held--;
			c->at_head = true;
			c->nl->handler.dispatch(c->nl->handler.ctx, c, &held, &reply);
			c->at_head = false;
			ASSERT(!reply.held);
			if (reply.deferred)
				return;
			conn_req_finished(c, req);
		}
		if (!req->finished)
			return;
		list_unlink(&req->node);
		c->pending--;
		ASSERT(c->queued_bytes >= req->queued_bytes);
		c->queued_bytes -= req->queued_bytes;
		if (!c->closing)
			resp_out_splice(&c->out, &req->out);
		net_req_free(c->nl, req);
	}
	if (c->closing)
		return;
	conn_flush_schedule(c);
	conn_resume(c);
}

/* ---- Receiving ---- */

static void conn_dispatch(struct net_conn *c, struct resp_argv *argv)
{
	struct net_loop *nl = c->nl;
	nl->stats.commands++;
	c->last_cmd_s = net_now_s(nl);
	if (c->pending == 0) {
		/* Nothing earlier is waiting: the reply goes straight to the output, and a
		 * request is queued only if the handler defers. */
		struct net_reply reply = { .out = &c->out, .conn = c };
		nl->handler.dispatch(nl->handler.ctx, c, argv, &reply);
		ASSERT(!reply.held);
		conn_flush_schedule(c);
		return;
	}
	struct net_req *req = conn_req_enqueue(c);
	struct net_reply reply = { .out = &req->out, .req = req, .conn = c };
	nl->handler.dispatch(nl->handler.ctx, c, argv, &reply);
	if (!reply.deferred && !reply.held) {
		conn_req_finished(c, req);
		if (c->queue.next == &req->node)
			conn_queue_drain(c);
	}
}

static int conn_qbuf_append(struct net_conn *c, const char *data, size_t len)
{
	uint64_t need = (uint64_t)c->qlen + len;
	if (need > c->nl->cfg.limits.query_bytes_max || need > UINT32_MAX)
		return -E2BIG;
	if (need > c->qcap) {
		uint64_t cap = MAX(need, (uint64_t)c->qcap * 2);
		cap = MIN(cap, (uint64_t)UINT32_MAX);
		char *q = realloc(c->qbuf, cap);
		if (q == NULL)
			return -ENOMEM;
		c->qbuf = q;
		c->qcap = (uint32_t)cap;
	}
	memcpy(c->qbuf + c->qlen, data, len);
	c->qlen = (uint32_t)need;
	return 0;
}

static void conn_protocol_error(struct net_conn *c, const char *err)
{
	c->nl->stats.protocol_errors++;
	struct resp_out *out = &c->out;
	struct net_req *req = NULL;
	if (c->pending > 0) {
		req = conn_req_enqueue(c);
		out = &req->out;
	}
	resp_add_error(out, err);
	c->flags |= NET_CONN_CLOSE_AFTER_REPLY;
	if (req != NULL) {
		conn_req_finished(c, req);
		if (c->queue.next == &req->node)
			conn_queue_drain(c);
	}
	conn_flush_schedule(c);
}

/* Parses and dispatches every complete command in buf; returns the offset of the first
 * byte not consumed (the start of a partial command), or -1 if the stream is unusable. */
static ssize_t conn_parse(struct net_conn *c, const char *buf, size_t len)
{
	size_t off = 0;
	while (off < len && !c->closing && !(c->flags & NET_CONN_CLOSE_AFTER_REPLY)) {
		if (conn_should_pause(c)) {
			c->paused = true;
			break;
		}
		size_t used = 0;
		const char *err = NULL;
		enum resp_parse_status st = resp_parse_command(&c->ps, &c->nl->cfg.limits, buf + off,
								 len - off, &used, &c->nl->argv, &err);
		if (st == RESP_PARSE_MORE)
			break;
		if (st == RESP_PARSE_ERROR) {
			conn_protocol_error(c, err);
			return -1;
		}
		off += used;
		if (st == RESP_PARSE_DONE)
			conn_dispatch(c, &c->nl->argv);
	}
	return (ssize_t)off;
}

static void conn_input(struct net_conn *c, const char *data, size_t len)
{
	if (c->paused || (c->flags & NET_CONN_CLOSE_AFTER_REPLY)) {
		if (!(c->flags & NET_CONN_CLOSE_AFTER_REPLY) && conn_qbuf_append(c, data, len) != 0)
			conn_protocol_error(c, "ERR Protocol error: query buffer limit exceeded");
		return;
	}
	const char *buf = data;
	size_t buf_len = len;
	if (c->qlen > 0) {
		if (conn_qbuf_append(c, data, len) != 0) {
			conn_protocol_error(c, "ERR Protocol error: query buffer limit exceeded");
			return;
		}
		buf = c->qbuf;
		buf_len = c->qlen;
	}
	ssize_t off = conn_parse(c, buf, buf_len);
	if (off < 0) {
		c->qlen = 0;
		return;
	}
	size_t rest = buf_len - (size_t)off;
	if (buf == c->qbuf) {
		memmove(c->qbuf, c->qbuf + off, rest);
		c->qlen = (uint32_t)rest;
		if (rest == 0 && c->qcap > c->nl->cfg.recv_buf_bytes) {
			free(c->qbuf);
			c->qbuf = NULL;
			c->qcap = 0;
		}
	} else if (rest > 0 && conn_qbuf_append(c, buf + off, rest) != 0) {
		conn_protocol_error(c, "ERR Protocol error: query buffer limit exceeded");
	}
}

static void conn_on_recv(struct loop *loop, struct loop_uring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct net_conn *c = container_of(op, struct net_conn, recv_op);
	struct net_loop *nl = c->nl;
	if (!(cqe->flags & IORING_CQE_F_MORE))
		c->recv_armed = false;
	if (cqe->res > 0) {
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		ASSERT(cqe->flags & IORING_CQE_F_BUFFER);
		nl->stats.recv_bytes += (uint64_t)cqe->res;
		if (!c->closing)
			conn_input(c, nl->bufs + (size_t)bid * nl->cfg.recv_buf_bytes, (size_t)cqe->res);
		net_buf_return(nl, bid);
	} else if (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -ECANCELED)) {
		conn_close(c);
	} else if (cqe->res == -ENOBUFS) {
		nl->stats.recv_nobufs++;
		if (!c->recv_armed && !c->closing && !list_linked(&c->rearm_node))
			list_push_back(&nl->rearm_list, &c->rearm_node);
		conn_maybe_free(c);
		return;
	}
	if (!c->recv_armed && !c->closing && !c->paused)
		conn_recv_arm(c);
	conn_maybe_free(c);
}

static void conn_recv_arm(struct net_conn *c)
{
	ASSERT(!c->recv_armed && !c->closing);
	struct io_uring_sqe *sqe = loop_sqe_get(c->nl->loop, &c->recv_op);
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = NET_BGID;
	io_uring_sqe_set_data(sqe, &c->recv_op);
	c->recv_armed = true;
}

/* Connections whose recv ended because the buffer ring was empty try again next turn. */
static int net_rearm(void *arg)
{
	struct net_loop *nl = arg;
	int n = 0;
	struct list_node *node;
	while ((node = list_pop_front(&nl->rearm_list)) != NULL) {
		struct net_conn *c = list_entry(node, struct net_conn, rearm_node);
		if (!c->recv_armed && !c->closing && !c->paused)
			conn_recv_arm(c);
		n++;
	}
	return n;
}

/* ---- Connection lifecycle ---- */

static void conn_close(struct net_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->held > 0 && !list_empty(&c->queue) &&
	    list_entry(c->queue.next, struct net_req, node)->held)
		conn_queue_drain(c);
	if (c->recv_armed) {
		struct io_uring_sqe *sqe = loop_sqe_get(c->nl->loop, NULL);
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&c->recv_op, 0);
		io_uring_sqe_set_data(sqe, NULL);
		/* A cancel that meets the recv while it completes is refused (-EALREADY) and the
		 * recv stays armed; shutting the read side ends it in any case. */
		shutdown(c->fd, SHUT_RD);
	}
	if (list_linked(&c->flush_node))
		list_unlink(&c->flush_node);
	if (list_linked(&c->rearm_node))
		list_unlink(&c->rearm_node);
}

/* A closing connection is freed once no completion can refer to it: its recv has ended,
 * no send is in flight, and no request is being answered elsewhere. */
static void conn_maybe_free(struct net_conn *c)
{
	if (!c->closing || c->recv_armed || c->send_inflight)
		return;
	struct list_node *pos, *tmp;
	list_for_each_safe(pos, tmp, &c->queue) {
		struct net_req *req = list_entry(pos, struct net_req, node);
		if (!req->finished)
			return; /* deferred or held work still refers to the connection */
	}
	struct net_loop *nl = c->nl;
	list_for_each_safe(pos, tmp, &c->queue) {
		list_unlink(pos);
		net_req_free(nl, list_entry(pos, struct net_req, node));
	}
	if (list_linked(&c->flush_node))
		list_unlink(&c->flush_node);
	list_unlink(&c->all_node);
	close(c->fd);
	resp_out_reset(&c->out);
	free(c->qbuf);
	free(c->name);
	free(c);
	nl->stats.closed++;
	nl->stats.connected--;
	atomic_fetch_sub_explicit(&net_connected_total, 1, memory_order_relaxed);
}

static void net_accept_reject(struct net_loop *nl, int fd)
{
	static const char msg[] = "-ERR max number of clients reached\r\n";
	ssize_t w = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	close(fd);
	nl->stats.rejected_max_clients++;
}

static void net_conn_open(struct net_loop *nl, int fd)
{
	unsigned total = atomic_fetch_add_explicit(&net_connected_total, 1, memory_order_relaxed);
	if (total >= nl->cfg.clients_max || nl->shutting_down) {
		atomic_fetch_sub_explicit(&net_connected_total, 1, memory_order_relaxed);
		net_accept_reject(nl, fd);
		return;
	}
	struct net_conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		atomic_fetch_sub_explicit(&net_connected_total, 1, memory_order_relaxed);
		LOG_WARN("refusing a client: out of memory");
		close(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->nl = nl;
	c->id = atomic_fetch_add_explicit(&net_next_id, 1, memory_order_relaxed);
	c->recv_op.cb = conn_on_recv;
	c->send_op.cb = conn_on_send;
	c->created_s = c->last_cmd_s = net_now_s(nl);
	resp_out_init(&c->out, &nl->chunks, 2);
	list_init(&c->queue);
	list_init(&c->flush_node);
	list_init(&c->rearm_node);
	list_push_back(&nl->conns, &c->all_node);
	nl->stats.accepted++;
	nl->stats.connected++;
	conn_recv_arm(c);
}

static void net_accept_arm(struct net_loop *nl);

static void net_accept_retry(struct loop *loop, struct loop_timer *t)
{
	(void)loop;
	net_accept_arm(t->arg);
}

static void net_on_accept(struct loop *loop, struct loop_uring_op *op, const struct io_uring_cqe *cqe)
{
	struct net_loop *nl = container_of(op, struct net_loop, accept_op);
	bool more = cqe->flags & IORING_CQE_F_MORE;
	if (!more)
		nl->accept_armed = false;
	if (cqe->res >= 0) {
		net_conn_open(nl, cqe->res);
	} else if (cqe->res != -ECANCELED && !nl->shutting_down) {
		/* Out of file descriptors or memory: wait a little instead of spinning. */
		LOG_WARN("accept failed: %s", strerror(-cqe->res));
		if (!more && !loop_timer_armed(&nl->accept_retry))
			loop_timer_start(loop, &nl->accept_retry, NET_ACCEPT_RETRY_NS, net_accept_retry, nl);
		return;
	}
	if (!nl->accept_armed && !nl->shutting_down)
		net_accept_arm(nl);
}

static void net_accept_arm(struct net_loop *nl)
{
	if (nl->accept_armed || nl->shutting_down)
		return;
	struct io_uring_sqe *sqe = loop_sqe_get(nl->loop, &nl->accept_op);
	io_uring_prep_multishot_accept(sqe, nl->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data(sqe, &nl->accept_op);
	nl->accept_armed = true;
}

static int net_listen(const struct net_config *cfg)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t sl;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, cfg->bind_addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(cfg->port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, cfg->bind_addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(cfg->port);
		sl = sizeof(*s6);
	} else {
		LOG_ERROR("bind address %s is not an IPv4 or IPv6 address", cfg->bind_addr);
		return -EINVAL;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* One listener per loop on the same port: the kernel spreads connections over them. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, NET_LISTEN_BACKLOG) != 0) {
		int err = errno;
		LOG_ERROR("cannot listen on %s:%u: %s", cfg->bind_addr, cfg->port, strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

struct net_loop *net_loop_create(struct loop *loop, const struct net_config *cfg,
				 const struct net_handler *handler)
{
	struct net_loop *nl = calloc(1, sizeof(*nl));
	if (nl == NULL)
		return NULL;
	nl->loop = loop;
	nl->cfg = *cfg;
	nl->handler = *handler;
	nl->listen_fd = -1;
	list_init(&nl->conns);
	list_init(&nl->flush_list);
	list_init(&nl->rearm_list);
	resp_chunk_pool_init(&nl->chunks, NET_CHUNKS_FREE_MAX);
	int rc = resp_argv_init(&nl->argv);
	if (rc == 0)
		rc = net_bufs_init(nl);
	if (rc == 0) {
		nl->listen_fd = net_listen(cfg);
		rc = nl->listen_fd < 0 ? nl->listen_fd : 0;
	}
	if (rc != 0) {
		LOG_ERROR("loop %u: client listener not started: %s", loop_id(loop), strerror(-rc));
		net_loop_destroy(nl);
		return NULL;
	}
	nl->accept_op.cb = net_on_accept;
	loop_poller_add(loop, &nl->rearmer, "net-rearm", net_rearm, nl);
	loop_flusher_add(loop, &nl->flusher, "net-flush", net_flush, nl);
	net_accept_arm(nl);
	return nl;
}

void net_loop_shutdown(struct net_loop *nl)
{
	nl->shutting_down = true;
	loop_timer_stop(nl->loop, &nl->accept_retry);
	if (nl->accept_armed) {
		struct io_uring_sqe *sqe = loop_sqe_get(nl->loop, NULL);
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&nl->accept_op, 0);
		io_uring_sqe_set_data(sqe, NULL);
	}
	struct list_node *pos, *tmp;
	list_for_each_safe(pos, tmp, &nl->conns) {
		struct net_conn *c = list_entry(pos, struct net_conn, all_node);
		conn_close(c);
		conn_maybe_free(c);
	}
}

bool net_loop_idle(const struct net_loop *nl)
{
	return !nl->accept_armed && list_empty(&nl->conns);
}

void net_loop_destroy(struct net_loop *nl)
{
	if (nl == NULL)
		return;
	ASSERT(list_empty(&nl->conns));
	if (nl->listen_fd >= 0) {
		close(nl->listen_fd);
		loop_poller_remove(nl->loop, &nl->rearmer);
		loop_poller_remove(nl->loop, &nl->flusher);
	}
	if (nl->br != NULL) {
		io_uring_unregister_buf_ring(loop_uring(nl->loop), NET_BGID);
		munmap(nl->br, (size_t)nl->cfg.recv_bufs * sizeof(struct io_uring_buf));
	}
	if (nl->bufs != NULL)
		munmap(nl->bufs, (size_t)nl->cfg.recv_bufs * nl->cfg.recv_buf_bytes);
	while (nl->free_reqs != NULL) {
		struct net_req *req = nl->free_reqs;
		nl->free_reqs = (struct net_req *)(void *)req->node.next;
		free(req);
	}
	resp_argv_free(&nl->argv);
	resp_chunk_pool_destroy(&nl->chunks);
	free(nl);
}

void net_loop_stats(const struct net_loop *nl, struct net_stats *out)
{
	*out = nl->stats;
}

struct loop *net_loop_get_loop(const struct net_loop *nl)
{
	return nl->loop;
}

struct resp_chunk_pool *net_loop_chunk_pool(struct net_loop *nl)
{
	return &nl->chunks;
}

void net_loop_conn_foreach(struct net_loop *nl, void (*fn)(struct net_conn *c, void *arg), void *arg)
{
	struct list_node *pos;
	list_for_each(pos, &nl->conns) {
		struct net_conn *c = list_entry(pos, struct net_conn, all_node);
		if (!c->closing)
			fn(c, arg);
	}
}

/* ---- Connection accessors ---- */

uint64_t net_conn_id(const struct net_conn *c)
{
	return c->id;
}

uint32_t net_conn_flags(const struct net_conn *c)
{
	return c->flags;
}

void net_conn_flags_set(struct net_conn *c, uint32_t flags, bool on)
{
	if (on)
		c->flags |= flags;
	else
		c->flags &= ~flags;
}

uint8_t net_conn_proto(const struct net_conn *c)
{
	return c->out.proto;
}

void net_conn_proto_set(struct net_conn *c, uint8_t proto)
{
	ASSERT(proto == 2 || proto == 3);
	/* Runs only when every earlier command is answered (HELLO is NET_CLASS_OTHER), so the
	 * requests still queued are this one and later ones: they answer in the new protocol. */
	c->out.proto = proto;
	struct list_node *pos;
	list_for_each(pos, &c->queue)
		list_entry(pos, struct net_req, node)->out.proto = proto;
}

const char *net_conn_name(const struct net_conn *c)
{
	return c->name ? c->name : "";
}

int net_conn_name_set(struct net_conn *c, const char *name, size_t len)
{
	if (len > NET_NAME_BYTES_MAX)
		return -ENAMETOOLONG;
	char *copy = NULL;
	if (len > 0) {
		copy = malloc(len + 1);
		if (copy == NULL)
			return -ENOMEM;
		memcpy(copy, name, len);
		copy[len] = '\0';
	}
	free(c->name);
	c->name = copy;
	return 0;
}

struct net_loop *net_conn_loop(const struct net_conn *c)
{
	return c->nl;
}

uint64_t net_conn_age_s(const struct net_conn *c)
{
	return net_now_s(c->nl) - c->created_s;
}

uint64_t net_conn_idle_s(const struct net_conn *c)
{
	return net_now_s(c->nl) - c->last_cmd_s;
}

static void net_addr_format(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
	}
	snprintf(out, len, "%s:%u", host, port);
}

void net_conn_addrs(const struct net_conn *c, char *peer, size_t peer_len, char *local,
		    size_t local_len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	getpeername(c->fd, (struct sockaddr *)&ss, &sl);
	net_addr_format(&ss, peer, peer_len);
	sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	getsockname(c->fd, (struct sockaddr *)&ss, &sl);
	net_addr_format(&ss, local, local_len);
}

uint64_t net_conn_output_bytes(const struct net_conn *c)
{
	return c->out.bytes;
}

uint32_t net_conn_pending_count(const struct net_conn *c)
{
	return c->pending;
}

const char *net_conn_last_command(const struct net_conn *c)
{
	return c->last_command ? c->last_command : "NULL";
}

void net_conn_last_command_set(struct net_conn *c, const char *name)
{
	c->last_command = name;
}

void net_conn_close_after_reply(struct net_conn *c)
{
	c->flags |= NET_CONN_CLOSE_AFTER_REPLY;
	if (c->out.bytes == 0 && c->pending == 0) {
		conn_close(c);
		conn_maybe_free(c);
	} else {
		conn_flush_schedule(c);
	}
}
