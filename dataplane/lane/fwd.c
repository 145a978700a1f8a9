/* Forwarding client commands to the node that holds a lane's primary, so that a client can
 * use any node. Each (origin node, lane) pair is one channel over the lossy replication
 * network, made reliable and ordered here: the origin numbers its requests and resends any
 * still unanswered after a timeout; the primary runs them exactly once, in number order
 * (early arrivals wait, duplicates get the kept reply), and keeps each reply until the origin
 * acknowledges it. When the lane's epoch changes, the origin fails what is in flight with an
 * answer that says the outcome is unknown (a retry of a write that did run would run it
 * twice), and both sides start a new channel. */
#define LOG_COMPONENT "lane"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/panic.h"
#include "lane/lane_priv.h"
#include "lane/wire.h"

/* Resend timeouts adapt to the primary's answer time (which includes its commit: a round of
 * replication and a flush), as TCP's do: rto = srtt + 4 * rttvar, within these bounds. */
#define FWD_RTO_MS_MIN 50
#define FWD_RTO_MS_MAX 1000
#define FWD_RTO_MS_INITIAL 200
#define FWD_GIVE_UP_MS 10000
#define FWD_EARLY_MAX 4096        /* requests held ahead of their turn per channel */
#define FWD_ERR_UNKNOWN "TRYAGAIN the forwarded command got no answer from the lane's primary; " \
			"it may or may not have been applied"
#define FWD_ERR_NO_PRIMARY "TRYAGAIN the key's lane has no primary right now"

struct fwd_pending {
	struct list_node node;
	uint64_t seq;
	struct lane_req *req;
	uint64_t first_ms, sent_ms, rto_ms, give_up_ms;
	bool resent;
	size_t len;
	uint8_t msg[];
};

struct fwd_done {
	struct list_node node;
	uint64_t seq;
	bool ready;
	uint8_t *reply;
	size_t len;
};

struct fwd_early {
	struct list_node node;
	uint64_t seq;
	size_t len;
	uint8_t msg[];
};

/* The primary's side of one origin's channel. */
struct lane_fwd_in {
	uint64_t incarnation;
	uint64_t next_seq;
	struct list_node done;        /* struct fwd_done, by seq */
	struct list_node early;       /* struct fwd_early, by seq */
	uint32_t early_count;
};

static uint64_t fwd_now_ms(void)
{
	return time_mono_ns() / 1000000;
}

/* Forwarding messages to one node leave together, once per loop turn (or sooner when much
 * has gathered): one frame carries many requests or replies. */
#define FWD_BATCH_BYTES_FLUSH (64u * 1024)

struct lane_fwd_out {
	uint8_t *buf;
	size_t len, cap;
};

static void fwd_out_flush(struct lane *lane, unsigned dst)
{
	struct lane_fwd_out *o = lane->fwd_out[dst];
	if (o == NULL || o->len <= LANE_WIRE_HEADER_BYTES)
		return;
	lane_send_raw(lane, dst, o->buf, o->len);
	o->len = LANE_WIRE_HEADER_BYTES;
}

void lane_fwd_flush(struct lane *lane)
{
	if (!lane->fwd_out_any)
		return;
	for (unsigned dst = 0; dst < REPL_NODES_MAX; dst++)
		fwd_out_flush(lane, dst);
	lane->fwd_out_any = false;
}

static void fwd_send(struct lane *lane, unsigned dst, const uint8_t *msg, size_t len)
{
	ASSERT(dst < REPL_NODES_MAX);
	struct lane_fwd_out *o = lane->fwd_out[dst];
	if (o == NULL) {
		o = lane->fwd_out[dst] = calloc(1, sizeof(*o));
		if (o == NULL)
			return; /* resent later */
		o->len = LANE_WIRE_HEADER_BYTES;
	}
	if (o->len + 4 + len > o->cap) {
		size_t cap = MAX(o->cap * 2, o->len + 4 + len + 4096);
		uint8_t *b = realloc(o->buf, cap);
		if (b == NULL)
			return;
		o->buf = b;
		o->cap = cap;
		lane_wire_header(o->buf, LANE_MSG_FWD_BATCH);
	}
	uint8_t *p = o->buf + o->len;
	p[0] = (uint8_t)len;
	p[1] = (uint8_t)(len >> 8);
	p[2] = (uint8_t)(len >> 16);
	p[3] = (uint8_t)(len >> 24);
	memcpy(p + 4, msg, len);
	o->len += 4 + len;
	lane->fwd_out_any = true;
	if (o->len >= FWD_BATCH_BYTES_FLUSH)
		fwd_out_flush(lane, dst);
}

void lane_fwd_out_free(struct lane *lane)
{
	for (unsigned dst = 0; dst < REPL_NODES_MAX; dst++) {
		if (lane->fwd_out[dst] != NULL)
			free(lane->fwd_out[dst]->buf);
		free(lane->fwd_out[dst]);
		lane->fwd_out[dst] = NULL;
	}
}

/* ---- The origin ---- */

static void fwd_pending_fail(struct lane *lane, struct fwd_pending *p, const char *err)
{
	list_unlink(&p->node);
	resp_add_error(p->req->reply, err);
	lane_req_complete(lane, p->req);
	free(p);
}

/* A new channel: what was in flight on the old one has an unknown outcome. */
void lane_fwd_reset(struct lane *lane)
{
	struct list_node *n;
	while (!list_empty(&lane->fwd_pending)) {
		n = lane->fwd_pending.next;
		fwd_pending_fail(lane, list_entry(n, struct fwd_pending, node), FWD_ERR_UNKNOWN);
	}
	lane->fwd_incarnation = lane->set->incarnation + ((uint64_t)lane->fwd_resets++ << 48);
	lane->fwd_next_seq = 1;
}

static uint64_t fwd_ack_upto(const struct lane *lane)
{
	if (list_empty(&lane->fwd_pending))
		return lane->fwd_next_seq - 1;
	return list_entry(lane->fwd_pending.next, struct fwd_pending, node)->seq - 1;
}

static uint64_t lane_fwd_rto_ms(const struct lane *lane)
{
	if (lane->fwd_srtt_us == 0)
		return FWD_RTO_MS_INITIAL;
	uint64_t rto = (lane->fwd_srtt_us + 4 * lane->fwd_rttvar_us) / 1000;
	return MIN(MAX(rto, (uint64_t)FWD_RTO_MS_MIN), (uint64_t)FWD_RTO_MS_MAX);
}

/* Karn: only answers to requests sent once measure the round trip. */
static void fwd_rtt_sample(struct lane *lane, uint64_t rtt_us)
{
	if (lane->fwd_srtt_us == 0) {
		lane->fwd_srtt_us = rtt_us;
		lane->fwd_rttvar_us = rtt_us / 2;
		return;
	}
	uint64_t err = rtt_us > lane->fwd_srtt_us ? rtt_us - lane->fwd_srtt_us : lane->fwd_srtt_us - rtt_us;
	lane->fwd_rttvar_us = (3 * lane->fwd_rttvar_us + err) / 4;
	lane->fwd_srtt_us = (7 * lane->fwd_srtt_us + rtt_us) / 8;
}

/* Sends req to the primary; the reply completes it later. Returns false (answered at once)
 * when there is no primary to send to or the command does not fit a message. */
bool lane_fwd_begin(struct lane *lane, struct lane_req *req, struct resp_out *out)
{
	if (lane->primary_node == REPL_NODE_NONE || lane->primary_node == lane->set->cfg.node_id) {
		resp_add_error(out, FWD_ERR_NO_PRIMARY);
		return true;
	}
	struct lane_fwd_req m = { .incarnation = lane->fwd_incarnation, .epoch = lane->epoch,
				  .seq = lane->fwd_next_seq, .ack_upto = fwd_ack_upto(lane),
				  .proto = out->proto };
	size_t cap = 64;
	for (uint32_t i = 0; i < req->argc; i++)
		cap += 4 + req->argv[i].len;
	struct fwd_pending *p = malloc(sizeof(*p) + cap);
	if (p == NULL || cap > XPORT_MSG_BYTES_MAX) {
		free(p);
		resp_add_error(out, "ERR command too large to forward to the lane's primary");
		return true;
	}
	ssize_t len = lane_wire_fwd_req_encode(p->msg, cap, &m, req->argc, req->argv);
	ASSERT(len > 0);
	uint64_t now = fwd_now_ms();
	p->seq = lane->fwd_next_seq++;
	p->req = req;
	p->len = (size_t)len;
	p->first_ms = p->sent_ms = now;
	p->resent = false;
	p->rto_ms = lane_fwd_rto_ms(lane);
	p->give_up_ms = now + FWD_GIVE_UP_MS;
	req->reply = out;
	list_push_back(&lane->fwd_pending, &p->node);
	fwd_send(lane, lane->primary_node, p->msg, p->len);
	atomic_fetch_add_explicit(&lane->counters.forwarded, 1, memory_order_relaxed);
	return false;
}

static void fwd_reply_recv(struct lane *lane, unsigned src, const uint8_t *buf, size_t len)
{
	struct lane_fwd_reply m;
	if (lane_wire_fwd_reply_decode(buf, len, &m) != 0 || m.incarnation != lane->fwd_incarnation ||
	    src != lane->primary_node) {
		lane->fwd_dropped++;
		return;
	}
	struct list_node *pos;
	list_for_each(pos, &lane->fwd_pending) {
		struct fwd_pending *p = list_entry(pos, struct fwd_pending, node);
		if (p->seq != m.seq)
			continue;
		if (m.status == LANE_FWD_NOT_PRIMARY) {
			/* Not run, and its number not taken: the node we believe primary has not
			 * taken over yet (or the epoch moves on, which resets the channel). Keep it
			 * and send it again; completing it here would leave a gap in the numbers
			 * that the primary would wait on forever. */
			return;
		}
		if (!p->resent)
			fwd_rtt_sample(lane, (time_mono_ns() / 1000) - p->first_ms * 1000);
		resp_add_raw(p->req->reply, m.reply, m.len);
		list_unlink(&p->node);
		lane_req_complete(lane, p->req);
		free(p);
		if (list_empty(&lane->fwd_pending)) {
			uint8_t ack[64];
			struct lane_fwd_ack a = { .incarnation = lane->fwd_incarnation,
						  .ack_upto = fwd_ack_upto(lane) };
			ssize_t n = lane_wire_fwd_ack_encode(ack, sizeof(ack), &a);
			fwd_send(lane, src, ack, (size_t)n);
		}
		return;
	}
}

/* Resends what is overdue; gives up on what has waited too long. */
int lane_fwd_tick(struct lane *lane)
{
	uint64_t now = fwd_now_ms();
	int work = 0;
	struct list_node *pos, *tmp;
	list_for_each_safe(pos, tmp, &lane->fwd_pending) {
		struct fwd_pending *p = list_entry(pos, struct fwd_pending, node);
		if (now >= p->give_up_ms) {
			/* The primary may never have had it, and would hold every later number
			 * behind the gap for good: all in flight is of unknown outcome, and a new
			 * channel starts, as when the epoch changes. */
			lane_fwd_reset(lane);
			return work + 1;
		} else if (now - p->sent_ms >= p->rto_ms) {
			fwd_send(lane, lane->primary_node, p->msg, p->len);
			p->sent_ms = now;
			p->resent = true;
			p->rto_ms = MIN(p->rto_ms * 2, (uint64_t)FWD_RTO_MS_MAX);
			lane->fwd_resent++;
			work++;
		}
	}
	return work;
}

/* ---- The primary ---- */

static struct lane_fwd_in *fwd_in_get(struct lane *lane, unsigned origin, uint64_t incarnation)
{
	struct lane_fwd_in *ch = lane->fwd_in[origin];
	if (ch != NULL && ch->incarnation == incarnation)
		return ch;
	if (ch == NULL) {
		ch = calloc(1, sizeof(*ch));
		if (ch == NULL)
			return NULL;
		lane->fwd_in[origin] = ch;
	} else {
		lane_fwd_in_clear(ch);
	}
	ch->incarnation = incarnation;
	ch->next_seq = 1;
	list_init(&ch->done);
	list_init(&ch->early);
	return ch;
}

void lane_fwd_in_clear(struct lane_fwd_in *ch)
{
	struct list_node *n;
	while ((n = list_pop_front(&ch->done)) != NULL) {
		struct fwd_done *d = list_entry(n, struct fwd_done, node);
		/* A request still running keeps its record: it is freed when it completes. */
		if (d->ready) {
			free(d->reply);
			free(d);
		} else {
			list_init(&d->node);
		}
	}
	while ((n = list_pop_front(&ch->early)) != NULL)
		free(list_entry(n, struct fwd_early, node));
	ch->early_count = 0;
}

static void fwd_reply_send(struct lane *lane, unsigned dst, uint64_t incarnation, uint64_t seq,
			   uint8_t status, const uint8_t *reply, size_t len)
{
	size_t cap = len + 64;
	uint8_t small[256];
	uint8_t *buf = cap <= sizeof(small) ? small : malloc(cap);
	if (buf == NULL)
		return; /* the origin resends and gets the kept reply */
	struct lane_fwd_reply m = { .incarnation = incarnation, .seq = seq, .status = status,
				    .reply = reply, .len = len };
	ssize_t n = lane_wire_fwd_reply_encode(buf, cap, &m);
	ASSERT(n > 0);
	fwd_send(lane, dst, buf, (size_t)n);
	if (buf != small)
		free(buf);
}

/* A forwarded request finished on this (primary) node: keep the reply and send it. */
static void fwd_exec_done(struct lane_req *req)
{
	struct lane *lane = req->ctx;
	struct fwd_done *d = req->ctx2;
	unsigned origin = req->fwd_origin;
	uint64_t incarnation = req->fwd_incarnation;
	d->len = req->own.bytes;
	d->reply = malloc(d->len ? d->len : 1);
	size_t off = 0;
	struct iovec iov[16];
	while (d->reply != NULL && req->own.bytes > 0) {
		size_t n = resp_out_iov(&req->own, iov, 16);
		uint64_t got = 0;
		for (size_t i = 0; i < n; i++) {
			memcpy(d->reply + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
			got += iov[i].iov_len;
		}
		resp_out_consume(&req->own, got);
	}
	resp_out_reset(&req->own);
	resp_chunk_pool_destroy(&req->own_pool);
	lane_req_put(lane->set, lane->owner, req);
	d->ready = d->reply != NULL;
	if (!list_linked(&d->node)) { /* its channel was reset meanwhile */
		free(d->reply);
		free(d);
		return;
	}
	if (d->ready)
		fwd_reply_send(lane, origin, incarnation, d->seq, LANE_FWD_OK, d->reply, d->len);
}

static void fwd_exec(struct lane *lane, unsigned origin, struct lane_fwd_in *ch,
		     const struct lane_fwd_req *m)
{
	struct fwd_done *d = calloc(1, sizeof(*d));
	struct lane_req *req = lane_req_get(lane->set, lane->owner);
	if (d == NULL || req == NULL || lane_wire_fwd_args(m, &lane->fwd_argv) != 0) {
		free(d);
		if (req != NULL)
			lane_req_put(lane->set, lane->owner, req);
		return; /* not run: the origin resends */
	}
	d->seq = m->seq;
	list_push_back(&ch->done, &d->node);
	ch->next_seq++;
	resp_chunk_pool_init(&req->own_pool, 0);
	resp_out_init(&req->own, &req->own_pool, m->proto);
	const struct resp_argv *av = &lane->fwd_argv;
	req->cmd = kv_cmd_lookup(av->argv[0].ptr, av->argv[0].len);
	req->argc = av->argc;
	req->argv = av->argv;
	req->lane = lane->id;
	req->set = lane->set;
	req->origin = lane->owner;
	req->out = &req->own;
	req->done = fwd_exec_done;
	req->ctx = lane;
	req->ctx2 = d;
	req->fwd_origin = origin;
	req->fwd_incarnation = m->incarnation;
	if (req->cmd == NULL || !(req->cmd->kind & (KV_CMD_READ | KV_CMD_WRITE)) ||
	    !kv_cmd_arity_ok(req->cmd, req->argc)) {
		resp_add_error(&req->own, "ERR command cannot be forwarded");
		fwd_exec_done(req);
		return;
	}
	if (lane_exec_here(lane, req, &req->own))
		fwd_exec_done(req);
}

/* Forgets the replies the origin has confirmed (every one up to ack_upto). */
static void fwd_done_trim(struct lane_fwd_in *ch, uint64_t ack_upto)
{
	while (!list_empty(&ch->done)) {
		struct fwd_done *d = list_entry(ch->done.next, struct fwd_done, node);
		if (d->seq > ack_upto || !d->ready)
			break;
		list_unlink(&d->node);
		free(d->reply);
		free(d);
	}
}

static void fwd_req_recv(struct lane *lane, unsigned src, const uint8_t *buf, size_t len)
{
	struct lane_fwd_req m;
	if (lane_wire_fwd_req_decode(buf, len, &m) != 0 || src >= REPL_NODES_MAX) {
		lane->fwd_dropped++;
		return;
	}
	if (!lane->is_primary || m.epoch != lane->epoch) {
		static const char err[] = "-TRYAGAIN this node is not the primary of the key's lane\r\n";
		fwd_reply_send(lane, src, m.incarnation, m.seq, LANE_FWD_NOT_PRIMARY,
			       (const uint8_t *)err, sizeof(err) - 1);
		return;
	}
	struct lane_fwd_in *ch = fwd_in_get(lane, src, m.incarnation);
	if (ch == NULL)
		return;
	fwd_done_trim(ch, m.ack_upto);
	if (m.seq < ch->next_seq) { /* a duplicate: answer again if the reply is kept */
		struct list_node *pos;
		list_for_each(pos, &ch->done) {
			struct fwd_done *d = list_entry(pos, struct fwd_done, node);
			if (d->seq == m.seq && d->ready)
				fwd_reply_send(lane, src, m.incarnation, d->seq, LANE_FWD_OK, d->reply, d->len);
		}
		return;
	}
	if (m.seq > ch->next_seq) {
		lane_fwd_early_keep(ch, &m, buf, len);
		return;
	}
	fwd_exec(lane, src, ch, &m);
	lane_fwd_early_run(lane, src, ch);
}

/* Keeps a request that arrived ahead of its turn (bounded; beyond it the origin resends). */
void lane_fwd_early_keep(struct lane_fwd_in *ch, const struct lane_fwd_req *m, const uint8_t *buf,
			 size_t len)
{
	if (ch->early_count >= FWD_EARLY_MAX)
		return;
	struct list_node *pos;
	list_for_each(pos, &ch->early) {
		struct fwd_early *e = list_entry(pos, struct fwd_early, node);
		if (e->seq == m->seq)
			return;
		if (e->seq > m->seq)
			break;
	}
	struct fwd_early *e = malloc(sizeof(*e) + len);
	if (e == NULL)
		return;
	e->seq = m->seq;
	e->len = len;
	memcpy(e->msg, buf, len);
	list_insert_between(&e->node, pos->prev, pos);
	ch->early_count++;
}

/* Runs the kept requests whose turn has come. */
void lane_fwd_early_run(struct lane *lane, unsigned src, struct lane_fwd_in *ch)
{
	while (!list_empty(&ch->early)) {
		struct fwd_early *e = list_entry(ch->early.next, struct fwd_early, node);
		if (e->seq > ch->next_seq)
			return;
		list_unlink(&e->node);
		ch->early_count--;
		struct lane_fwd_req m;
		if (e->seq == ch->next_seq && lane_wire_fwd_req_decode(e->msg, e->len, &m) == 0)
			fwd_exec(lane, src, ch, &m);
		free(e);
	}
}

static void fwd_ack_recv(struct lane *lane, unsigned src, const uint8_t *buf, size_t len)
{
	struct lane_fwd_ack m;
	if (lane_wire_fwd_ack_decode(buf, len, &m) != 0 || src >= REPL_NODES_MAX) {
		lane->fwd_dropped++;
		return;
	}
	struct lane_fwd_in *ch = lane->fwd_in[src];
	if (ch == NULL || ch->incarnation != m.incarnation)
		return;
	fwd_done_trim(ch, m.ack_upto);
}

void lane_fwd_recv(struct lane *lane, unsigned src, int kind, const uint8_t *buf, size_t len)
{
	if (kind == LANE_MSG_FWD_BATCH) {
		size_t pos = LANE_WIRE_HEADER_BYTES;
		const uint8_t *msg;
		size_t msg_len;
		int rc;
		while ((rc = lane_wire_batch_next(buf, len, &pos, &msg, &msg_len)) == 1)
			lane_fwd_recv(lane, src, msg[1], msg, msg_len);
		if (rc < 0)
			lane->fwd_dropped++;
		return;
	}
	switch (kind) {
	case LANE_MSG_FWD_REQ:
		fwd_req_recv(lane, src, buf, len);
		break;
	case LANE_MSG_FWD_REPLY:
		fwd_reply_recv(lane, src, buf, len);
		break;
	case LANE_MSG_FWD_ACK:
		fwd_ack_recv(lane, src, buf, len);
		break;
	default:
		lane->fwd_dropped++;
	}
}

/* The lane's epoch changed: channels into this node start over. */
void lane_fwd_in_reset_all(struct lane *lane)
{
	for (unsigned i = 0; i < REPL_NODES_MAX; i++) {
		if (lane->fwd_in[i] != NULL) {
			lane_fwd_in_clear(lane->fwd_in[i]);
			free(lane->fwd_in[i]);
			lane->fwd_in[i] = NULL;
		}
	}
}
