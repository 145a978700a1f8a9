/* An active connection of the load generator: requests are encoded straight into its send
 * buffer (one send in flight at a time, appended to while it flies), replies are parsed from
 * the provided receive buffers (a reply cut at a buffer's end waits in a carry buffer), and
 * each reply is matched to the oldest request in flight and, when checking, verified. */
#define LOG_COMPONENT "bench"
#include "bench/worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/panic.h"

static uint32_t conn_pow2_at_least(uint32_t n)
{
	uint32_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

int conn_setup(struct bench_worker *w, struct bench_conn *c, uint32_t index, uint32_t global)
{
	const struct bench_plan *plan = w->plan;
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->state = CONN_NEW;
	c->index = index;
	c->global = global;
	list_init(&c->room_node);
	list_init(&c->dirty_node);
	list_init(&c->rearm_node);
	uint64_t want = (uint64_t)w->cfg->pipeline * plan->req_bytes_max;
	c->out_cap = (uint32_t)MAX(MIN(want, (uint64_t)WORKER_OUT_BYTES_MAX), plan->req_bytes_max);
	c->out = malloc(c->out_cap);
	uint32_t slots = conn_pow2_at_least(w->cfg->pipeline);
	c->fifo = calloc(slots, sizeof(*c->fifo));
	c->fifo_mask = slots - 1;
	if (w->cfg->check)
		c->key_state = calloc(plan->keys_per_conn, sizeof(*c->key_state));
	bool tracing = plan->trace_fd >= 0;
	if (tracing)
		c->why = malloc((size_t)slots * BENCH_TRACE_WHY_BYTES);
	if (!c->out || !c->fifo || (w->cfg->check && !c->key_state) || (tracing && !c->why))
		return -ENOMEM;
	return 0;
}

void conn_free(struct bench_conn *c)
{
	free(c->out);
	free(c->fifo);
	free(c->carry);
	free(c->key_state);
	free(c->why);
	c->why = NULL;
	c->out = NULL;
	c->fifo = NULL;
	c->carry = NULL;
	c->key_state = NULL;
}

bool conn_has_room(const struct bench_worker *w, const struct bench_conn *c)
{
	return c->state == CONN_READY && c->fifo_count < w->cfg->pipeline &&
	       c->out_cap - c->out_len >= w->plan->req_bytes_max;
}

static void conn_room_offer(struct bench_worker *w, struct bench_conn *c)
{
	if (w->issuing && !list_linked(&c->room_node) && conn_has_room(w, c))
		list_push_back(&w->room, &c->room_node);
}

static enum bench_op conn_op_pick(struct bench_worker *w)
{
	switch (w->cfg->workload) {
	case BENCH_WORKLOAD_SET: return BENCH_OP_SET;
	case BENCH_WORKLOAD_GET: return BENCH_OP_GET;
	case BENCH_WORKLOAD_INCR: return BENCH_OP_INCR;
	case BENCH_WORKLOAD_MIXED:
		return bench_rng_unit(&w->rng) < w->cfg->read_ratio ? BENCH_OP_GET : BENCH_OP_SET;
	case BENCH_WORKLOAD_CUSTOM: return BENCH_OP_CUSTOM;
	}
	PANIC("workload %d", (int)w->cfg->workload);
}

/* Draws a key: its number in the key names, and (checking) its index j among c's own. */
static uint64_t conn_key_pick(struct bench_worker *w, struct bench_conn *c, uint64_t *j)
{
	const struct bench_plan *plan = w->plan;
	uint64_t r;
	switch (w->cfg->dist) {
	case BENCH_DIST_ZIPF:
		r = bench_zipf_next(&plan->zipf, &w->rng);
		break;
	case BENCH_DIST_SEQ:
		if (w->cfg->check)
			r = c->key_walk++ % plan->key_range;
		else
			r = (w->seq_keys.first + w->seq_next++ % MAX(w->seq_keys.count, 1ull)) %
			    w->cfg->keyspace;
		break;
	default:
		r = bench_rng_below(&w->rng, plan->key_range);
		break;
	}
	*j = r;
	/* Checking: connection g owns keys g, g + C, g + 2C... so no other connection writes
	 * them and the expected value of every read is known. */
	return w->cfg->check ? c->global + (uint64_t)w->conns_total * r : r;
}

/* Prepares the value and the expectation of one request on key (K, j). */
static uint64_t conn_expect(struct bench_worker *w, struct bench_conn *c, enum bench_op op,
			    uint64_t key, uint64_t j)
{
	if (!w->cfg->check)
		return 0;
	uint64_t *state = &c->key_state[j];
	switch (op) {
	case BENCH_OP_SET:
		*state = ++c->seq_next;
		if (w->cfg->value_bytes >= BENCH_VALUE_HEADER_BYTES)
			bench_value_header(w->value, key, *state);
		return *state;
	case BENCH_OP_INCR:
		if (*state != BENCH_KEY_UNKNOWN)
			(*state)++;
		return *state;
	default:
		return *state;
	}
}

static void conn_encode(struct bench_worker *w, struct bench_conn *c, const struct bench_cmd *cmd,
			size_t key_len)
{
	size_t n = bench_cmd_encode(cmd, c->out + c->out_len, c->out_cap - c->out_len, w->key,
				    key_len, w->value, w->cfg->value_bytes);
	ASSERT(n > 0);
	c->out_len += (uint32_t)n;
}

void conn_issue(struct bench_worker *w, struct bench_conn *c, uint64_t start_ns, uint64_t now)
{
	ASSERT(conn_has_room(w, c));
	ASSERT(w->issuing);
	enum bench_op op = conn_op_pick(w);
	uint64_t j = 0;
	uint64_t key = conn_key_pick(w, c, &j);
	size_t key_len = bench_key_format(w->key, w->plan->nonce, key, w->plan->key_width);
	struct conn_req *req = &c->fifo[(c->fifo_head + c->fifo_count) & c->fifo_mask];
	req->expected = conn_expect(w, c, op, key, j);
	conn_encode(w, c, &w->plan->cmd[op], key_len);
	bool waits = w->cfg->wait_replicas >= 0 && w->plan->op_writes[op];
	if (waits)
		conn_encode(w, c, &w->plan->wait_cmd, 0);
	req->start_ns = start_ns;
	req->sent_ns = now;
	req->key_j = j;
	req->op = (uint8_t)op;
	req->waits = waits;
	req->replies_left = waits ? 2 : 1;
	req->failed = 0;
	c->fifo_count++;
	if (!list_linked(&c->dirty_node))
		list_push_back(&w->dirty, &c->dirty_node);
	w->issued++;
	w->outstanding++;
	if (w->issued >= w->quota)
		w->issuing = false;
}

void conn_send_kick(struct bench_worker *w, struct bench_conn *c)
{
	if (c->send_busy || c->state != CONN_READY || c->out_len == c->out_head)
		return;
	if (c->out_head > 0) {
		memmove(c->out, c->out + c->out_head, c->out_len - c->out_head);
		c->out_len -= c->out_head;
		c->out_head = 0;
	}
	struct io_uring_sqe *sqe = worker_sqe(w);
	io_uring_prep_send(sqe, c->fd, c->out, c->out_len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, worker_ud_pack(WORKER_UD_SEND, c->index));
	c->send_busy = true;
}

void conn_recv_arm(struct bench_worker *w, struct bench_conn *c)
{
	ASSERT(!c->recv_armed);
	worker_recv_prep(w, c->fd, WORKER_UD_RECV, c->index);
	c->recv_armed = true;
}

void conn_on_connect(struct bench_worker *w, struct bench_conn *c, int res)
{
	if (c->state != CONN_CONNECTING)
		return;  /* given up on at the set-up deadline */
	if (res < 0) {
		w->res->err_connect++;
		if (w->res->connect_errno == 0)
			w->res->connect_errno = res == -ECANCELED ? ETIMEDOUT : -res;
		close(c->fd);
		c->fd = -1;
		c->state = CONN_DEAD;
	} else {
		c->state = CONN_READY;
		w->res->conns_open++;
		w->conns_alive++;
		conn_recv_arm(w, c);
	}
	worker_setup_resolved(w);
}

void conn_on_send(struct bench_worker *w, struct bench_conn *c, int res)
{
	c->send_busy = false;
	if (c->state != CONN_READY)
		return;
	if (res <= 0) {
		w->res->err_closed++;
		conn_kill(w, c, false);
		return;
	}
	c->out_head += (uint32_t)res;
	ASSERT(c->out_head <= c->out_len);
	if (c->out_head == c->out_len)
		c->out_head = c->out_len = 0;
	else if (!list_linked(&c->dirty_node))
		list_push_back(&w->dirty, &c->dirty_node);
	conn_room_offer(w, c);
}

static const char *const conn_op_names[] = { "set", "get", "incr", "cmd" };
STATIC_ASSERT(ARRAY_SIZE(conn_op_names) == BENCH_OP_COUNT, "a name for every operation");

/* The number that replaced __key__ in req: with --check the key belongs to c. */
static uint64_t conn_key_of(const struct bench_worker *w, const struct bench_conn *c,
			    const struct conn_req *req)
{
	return w->cfg->check ? c->global + (uint64_t)w->conns_total * req->key_j : req->key_j;
}

static void conn_trace(struct bench_worker *w, const struct bench_conn *c, uint32_t slot,
		       enum bench_trace_result result, uint64_t now)
{
	const struct conn_req *req = &c->fifo[slot];
	char key[BENCH_KEY_BYTES_MAX] = "-";
	if (w->plan->cmd[req->op].keys > 0)
		bench_key_format(key, w->plan->nonce, conn_key_of(w, c, req), w->plan->key_width);
	struct bench_trace_rec rec = {
		.done_ns = now, .start_ns = req->start_ns, .sent_ns = req->sent_ns,
		.conn = c->global, .op = conn_op_names[req->op], .key = key,
		.seq = req->expected, .result = result,
		.why = result == BENCH_TRACE_ERROR ? c->why + (size_t)slot * BENCH_TRACE_WHY_BYTES
						   : NULL,
		.why_len = req->why_len,
	};
	bench_trace_record(&w->trace, &rec);
}

void conn_fifo_trace(struct bench_worker *w, const struct bench_conn *c,
		     enum bench_trace_result result, uint64_t now)
{
	if (w->trace.fd < 0)
		return;
	for (uint32_t k = 0; k < c->fifo_count; k++)
		conn_trace(w, c, (c->fifo_head + k) & c->fifo_mask, result, now);
}

void conn_kill(struct bench_worker *w, struct bench_conn *c, bool timed_out)
{
	if (c->state == CONN_DEAD)
		return;
	if (timed_out)
		w->res->err_timeout += c->fifo_count;
	else
		w->res->err_dropped += c->fifo_count;
	conn_fifo_trace(w, c, timed_out ? BENCH_TRACE_TIMEOUT : BENCH_TRACE_DROPPED,
			time_mono_ns());
	ASSERT(w->outstanding >= c->fifo_count);
	w->outstanding -= c->fifo_count;
	c->fifo_count = 0;
	list_unlink(&c->room_node);
	list_unlink(&c->dirty_node);
	list_unlink(&c->rearm_node);
	if (c->fd >= 0) {
		/* shutdown() ends the receive and send still in flight on the ring. */
		shutdown(c->fd, SHUT_RDWR);
		close(c->fd);
		c->fd = -1;
	}
	if (c->state == CONN_READY)
		w->conns_alive--;
	c->state = CONN_DEAD;
}

void conn_timeouts_check(struct bench_worker *w, uint64_t now)
{
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct bench_conn *c = &w->conns[i];
		if (c->state != CONN_READY || c->fifo_count == 0)
			continue;
		const struct conn_req *oldest = &c->fifo[c->fifo_head];
		if (now > oldest->sent_ns && now - oldest->sent_ns > w->plan->timeout_ns)
			conn_kill(w, c, true);
	}
}

/* Keeps how req failed (its first failed reply) for the trace. */
static void conn_fail(struct bench_conn *c, struct conn_req *req, bool wait_reply,
		      const struct bench_reply *reply)
{
	if (req->failed)
		return;
	bool error = reply->type == BENCH_REPLY_ERROR || reply->type == BENCH_REPLY_BLOB_ERROR;
	enum bench_trace_result result = error ? BENCH_TRACE_ERROR
				       : wait_reply ? BENCH_TRACE_WAIT : BENCH_TRACE_CHECK;
	req->failed = 1;
	req->result = (uint8_t)result;
	req->why_len = 0;
	if (result != BENCH_TRACE_ERROR || c->why == NULL || reply->str == NULL)
		return;
	size_t n = MIN(reply->len, (size_t)BENCH_TRACE_WHY_BYTES);
	uint32_t slot = (uint32_t)(req - c->fifo);
	memcpy(c->why + (size_t)slot * BENCH_TRACE_WHY_BYTES, reply->str, n);
	req->why_len = (uint8_t)n;
}

static void conn_mismatch_log(struct bench_worker *w, const struct bench_conn *c,
			      const struct conn_req *req, const struct bench_reply *reply)
{
	if (w->mismatches_logged++ >= WORKER_MISMATCH_LOG_MAX)
		return;
	static const char *const ops[] = { "SET", "GET", "INCR", "command" };
	uint64_t key = c->global + (uint64_t)w->conns_total * req->key_j;
	int shown = (int)MIN(reply->len, (size_t)48);
	LOG_WARN("check failed: %s %s%0*llu expected %s%llu, got %s \"%.*s\" (integer %lld)",
		 ops[req->op], w->plan->nonce, (int)w->plan->key_width,
		 (unsigned long long)key, req->op == BENCH_OP_INCR ? "" : "write #",
		 (unsigned long long)req->expected, bench_reply_type_name(reply->type),
		 reply->str && reply->type != BENCH_REPLY_INTEGER ? shown : 0,
		 reply->str ? reply->str : "", (long long)reply->integer);
}

/* Whether a reply is the right answer to req (checking) or at least not an error. */
static bool conn_reply_check(struct bench_worker *w, struct bench_conn *c,
			     const struct conn_req *req, const struct bench_reply *reply)
{
	if (reply->type == BENCH_REPLY_ERROR || reply->type == BENCH_REPLY_BLOB_ERROR) {
		bench_result_error_reply(w->res, reply->str, reply->len);
		if (w->cfg->check && w->plan->op_writes[req->op] && req->op != BENCH_OP_CUSTOM)
			c->key_state[req->key_j] = BENCH_KEY_UNKNOWN;
		return false;
	}
	if (!w->cfg->check || req->op == BENCH_OP_CUSTOM)
		return true;
	if (req->op != BENCH_OP_SET && (req->expected == BENCH_KEY_UNKNOWN ||
					c->key_state[req->key_j] == BENCH_KEY_UNKNOWN)) {
		w->res->check_unverified++;
		return true;
	}
	bool ok;
	uint64_t key = c->global + (uint64_t)w->conns_total * req->key_j;
	if (req->op == BENCH_OP_SET)
		ok = reply->type == BENCH_REPLY_SIMPLE && reply->len == 2 &&
		     memcmp(reply->str, "OK", 2) == 0;
	else if (req->op == BENCH_OP_INCR)
		ok = reply->type == BENCH_REPLY_INTEGER && (uint64_t)reply->integer == req->expected;
	else if (req->expected == 0)
		ok = reply->type == BENCH_REPLY_NULL;
	else
		ok = reply->type == BENCH_REPLY_BULK &&
		     bench_value_matches(reply->str, reply->len, w->cfg->value_bytes, key,
					 req->expected);
	if (ok) {
		w->res->check_verified++;
	} else {
		w->res->err_check++;
		conn_mismatch_log(w, c, req, reply);
	}
	return ok;
}

static bool conn_wait_check(struct bench_worker *w, const struct bench_reply *reply)
{
	if (reply->type == BENCH_REPLY_ERROR || reply->type == BENCH_REPLY_BLOB_ERROR) {
		bench_result_error_reply(w->res, reply->str, reply->len);
		return false;
	}
	if (reply->type != BENCH_REPLY_INTEGER || reply->integer < w->cfg->wait_replicas) {
		w->res->err_wait++;
		return false;
	}
	return true;
}

/* Matches one reply to the oldest request in flight. Returns false if c was closed. */
static bool conn_reply(struct bench_worker *w, struct bench_conn *c,
		       const struct bench_reply *reply, uint64_t now)
{
	if (reply->type == BENCH_REPLY_PUSH)
		return true;  /* out of band (RESP3), answers no request */
	if (c->fifo_count == 0) {
		/* A reply nobody asked for; an error here is the server refusing the connection
		 * (e.g. Redis's protected mode), so keep its kind. */
		if (reply->type == BENCH_REPLY_ERROR)
			bench_result_error_reply(w->res, reply->str, reply->len);
		w->res->err_protocol++;
		conn_kill(w, c, false);
		return false;
	}
	struct conn_req *req = &c->fifo[c->fifo_head];
	bool last = req->replies_left == 1;
	bool wait_reply = last && req->waits;
	bool ok = wait_reply ? conn_wait_check(w, reply) : conn_reply_check(w, c, req, reply);
	if (!ok)
		conn_fail(c, req, wait_reply, reply);
	if (!last) {
		req->replies_left--;
		return true;
	}
	if (!req->failed && req->start_ns >= w->measure_ns && w->running) {
		bench_hist_record(&w->res->hist, now > req->start_ns ? now - req->start_ns : 0);
		w->res->requests++;
		w->res->last_done_ns = now;
	}
	if (w->trace.fd >= 0)
		conn_trace(w, c, c->fifo_head, req->failed ? req->result : BENCH_TRACE_OK, now);
	c->fifo_head = (c->fifo_head + 1) & c->fifo_mask;
	c->fifo_count--;
	w->outstanding--;
	conn_room_offer(w, c);
	return true;
}

/* Parses and handles every complete reply in buf. Returns the bytes consumed, or -1 if c
 * was closed. */
static int64_t conn_consume(struct bench_worker *w, struct bench_conn *c, const char *buf,
			    size_t len, uint64_t now)
{
	size_t off = 0;
	for (;;) {
		struct bench_reply reply;
		size_t used = 0;
		enum bench_reply_status st = bench_reply_parse(&c->parser, buf + off, len - off,
							       &used, &reply);
		if (st == BENCH_REPLY_MORE)
			return (int64_t)off;
		if (st == BENCH_REPLY_BAD) {
			w->res->err_protocol++;
			conn_kill(w, c, false);
			return -1;
		}
		if (!conn_reply(w, c, &reply, now))
			return -1;
		off += used;
	}
}

static int conn_carry_reserve(struct bench_conn *c, size_t need)
{
	if (need <= c->carry_cap)
		return 0;
	if (need > WORKER_CARRY_BYTES_MAX)
		return -EMSGSIZE;
	size_t cap = MAX((size_t)c->carry_cap * 2, (size_t)WORKER_BUF_BYTES);
	while (cap < need)
		cap *= 2;
	cap = MIN(cap, (size_t)WORKER_CARRY_BYTES_MAX);
	char *p = realloc(c->carry, cap);
	if (p == NULL)
		return -ENOMEM;
	c->carry = p;
	c->carry_cap = (uint32_t)cap;
	return 0;
}

/* Bytes arrived: parse them where they are when no reply is pending, else after the pending
 * part; whatever ends in the middle of a reply moves to the carry buffer. */
static void conn_input(struct bench_worker *w, struct bench_conn *c, const char *data, size_t n)
{
	uint64_t now = time_mono_ns();
	const char *buf = data;
	size_t len = n;
	if (c->carry_len > 0) {
		if (conn_carry_reserve(c, (size_t)c->carry_len + n)) {
			w->res->err_protocol++;
			conn_kill(w, c, false);
			return;
		}
		memcpy(c->carry + c->carry_len, data, n);
		c->carry_len += (uint32_t)n;
		buf = c->carry;
		len = c->carry_len;
	}
	int64_t used = conn_consume(w, c, buf, len, now);
	if (used < 0)
		return;
	size_t rest = len - (size_t)used;
	if (rest > 0 && conn_carry_reserve(c, rest)) {
		w->res->err_protocol++;
		conn_kill(w, c, false);
		return;
	}
	if (rest > 0)
		memmove(c->carry, buf + used, rest);
	c->carry_len = (uint32_t)rest;
}

void conn_on_recv(struct bench_worker *w, struct bench_conn *c, int res, const char *data,
		  bool more)
{
	if (!more)
		c->recv_armed = false;
	if (c->state != CONN_READY)
		return;
	if (res > 0) {
		conn_input(w, c, data, (size_t)res);
	} else if (res != -ENOBUFS) {
		w->res->err_closed++;
		conn_kill(w, c, false);
	}
	if (c->state == CONN_READY && !more && !list_linked(&c->rearm_node))
		list_push_back(&w->rearm, &c->rearm_node);
}
