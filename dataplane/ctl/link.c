/* The control link on loop 0: a Unix listener (multishot accept; a new connection replaces
 * the old one), a receive buffer that frames messages by their length prefix, a send queue
 * with one send in flight, the heartbeat timer, and the lane operations the messages ask
 * for, each run on its lane's loop through lane_visit(). */
#define LOG_COMPONENT "ctl"
#include "ctl/ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/panic.h"
#include "control/core/ctl.h"

#define LINK_RBUF_BYTES_INITIAL (64u * 1024)
#define LINK_FRAME_HEADER_BYTES 4

struct link_out {
	struct list_node node;
	size_t len, sent;
	uint8_t data[];
};

struct ctl_link {
	struct ctl_link_config cfg;
	uint64_t incarnation;
	int listen_fd;
	int fd;                       /* the control daemon's connection, or -1 */
	struct loop_uring_op accept_op, recv_op, send_op;
	bool accept_armed, recv_armed, send_inflight;
	uint8_t *rbuf;
	size_t rlen, rcap;
	struct list_node outq;        /* struct link_out */
	struct loop_timer hb_timer;
	/* Progress: turns of every loop at the last heartbeat. */
	uint64_t *turns_seen;
	uint64_t progress;
	/* A heartbeat being gathered from the lanes. */
	struct ctl_lane_status *status;
	uint32_t status_pending;
	bool hb_gathering;
	/* Decoding space for incoming messages. */
	struct repl_config *cfg_space;
	uint32_t *ids_space;
	uint32_t space_cap;
};

static struct ctl_link *link_the; /* for promises, which arrive on lane loops */

uint64_t ctl_link_incarnation(const struct ctl_link *link)
{
	return link->incarnation;
}

/* ---- Sending ---- */

static void link_send_next(struct ctl_link *link);

static void link_on_send(struct loop *loop, struct loop_uring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct ctl_link *link = container_of(op, struct ctl_link, send_op);
	link->send_inflight = false;
	if (list_empty(&link->outq))
		return;
	struct link_out *o = list_entry(link->outq.next, struct link_out, node);
	if (cqe->res <= 0) {
		/* The daemon went away: what is queued goes with it (it resyncs on reconnect). */
		struct list_node *n;
		while ((n = list_pop_front(&link->outq)) != NULL)
			free(list_entry(n, struct link_out, node));
		return;
	}
	o->sent += (size_t)cqe->res;
	if (o->sent == o->len) {
		list_unlink(&o->node);
		free(o);
	}
	link_send_next(link);
}

static void link_send_next(struct ctl_link *link)
{
	if (link->send_inflight || link->fd < 0 || list_empty(&link->outq))
		return;
	struct link_out *o = list_entry(link->outq.next, struct link_out, node);
	struct io_uring_sqe *sqe = loop_sqe_get(link->cfg.loop, &link->send_op);
	io_uring_prep_send(sqe, link->fd, o->data + o->sent, o->len - o->sent, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, &link->send_op);
	link->send_inflight = true;
}

static void link_send(struct ctl_link *link, const struct ctl_msg *m)
{
	if (link->fd < 0)
		return;
	size_t bytes = ctl_msg_encoded_bytes(m);
	struct link_out *o = malloc(sizeof(*o) + LINK_FRAME_HEADER_BYTES + bytes);
	if (o == NULL) {
		LOG_WARN("out of memory for a %u message to the control daemon", m->type);
		return;
	}
	ssize_t n = ctl_msg_encode(m, o->data + LINK_FRAME_HEADER_BYTES, bytes);
	ASSERT(n == (ssize_t)bytes);
	for (int i = 0; i < LINK_FRAME_HEADER_BYTES; i++)
		o->data[i] = (uint8_t)(bytes >> (8 * i));
	o->len = LINK_FRAME_HEADER_BYTES + bytes;
	o->sent = 0;
	list_push_back(&link->outq, &o->node);
	link_send_next(link);
}

/* ---- Lane operations ---- */

struct link_op {
	struct ctl_link *link;
	uint8_t type;
	uint32_t lane;
	uint64_t epoch;
	unsigned target;
	struct repl_config cfg;
	struct repl_promise promise;
	int rc;
};

static void link_op_visit(struct lane_set *set, uint32_t lane, struct kv_db *db, void *arg)
{
	(void)db;
	struct link_op *op = arg;
	switch (op->type) {
	case CTL_MSG_CONFIG:
		op->rc = lane_admin_config(set, lane, &op->cfg);
		break;
	case CTL_MSG_PREPARE:
		op->rc = lane_admin_promise(set, lane, op->epoch, &op->promise);
		break;
	case CTL_MSG_HANDOFF:
		op->rc = lane_admin_handoff(set, lane, op->target);
		break;
	}
}

static void link_promise_send(struct ctl_link *link, uint32_t lane, const struct repl_promise *p)
{
	struct ctl_msg m = { .type = CTL_MSG_PROMISE, .node = (uint8_t)link->cfg.node_id };
	m.promise.lane = lane;
	m.promise.incarnation = link->incarnation;
	m.promise.promise = *p;
	link_send(link, &m);
}

static void link_op_done(void *arg)
{
	struct link_op *op = arg;
	if (op->type == CTL_MSG_PREPARE && op->rc == 0)
		link_promise_send(op->link, op->lane, &op->promise);
	else if (op->rc != 0 && op->rc != -EINPROGRESS && op->rc != -ESTALE)
		LOG_WARN("lane %u: control %s refused: %s", op->lane,
			 op->type == CTL_MSG_CONFIG ? "configuration" :
			 op->type == CTL_MSG_PREPARE ? "prepare" : "handoff", strerror(-op->rc));
	free(op);
}

static void link_op_start(struct ctl_link *link, struct link_op *op)
{
	op->link = link;
	if (op->lane >= lane_set_count(link->cfg.lanes)) {
		LOG_WARN("control message for lane %u, which does not exist", op->lane);
		free(op);
		return;
	}
	lane_visit(link->cfg.lanes, link->cfg.loop, op->lane, link_op_visit, link_op_done, op);
}

/* A promise made durable later (repl_promise said -EINPROGRESS): from the lane's loop. */
struct link_promised {
	uint32_t lane;
	struct repl_promise p;
};

static void link_promised_arrive(struct loop *loop, void *arg)
{
	(void)loop;
	struct link_promised *lp = arg;
	if (link_the != NULL)
		link_promise_send(link_the, lp->lane, &lp->p);
	free(lp);
}

void ctl_link_promised(void *ctx, uint32_t lane, const struct repl_promise *p)
{
	struct ctl_link *link = ctx;
	struct link_promised *lp = malloc(sizeof(*lp));
	if (lp == NULL)
		return; /* the control daemon asks again */
	lp->lane = lane;
	lp->p = *p;
	struct loop *here = NULL;
	for (uint32_t i = 0; i < link->cfg.loops_count; i++)
		if (lane_is_local(link->cfg.lanes, lane, link->cfg.loops[i]))
			here = link->cfg.loops[i];
	ASSERT(here != NULL);
	if (here == link->cfg.loop)
		link_promised_arrive(here, lp);
	else
		loop_msg_post(here, link->cfg.loop, link_promised_arrive, lp);
}

/* ---- Receiving ---- */

static int link_space(struct ctl_link *link, uint32_t need)
{
	if (need <= link->space_cap)
		return 0;
	struct repl_config *c = realloc(link->cfg_space, need * sizeof(*c));
	if (c != NULL)
		link->cfg_space = c;
	uint32_t *ids = realloc(link->ids_space, need * sizeof(*ids));
	if (ids != NULL)
		link->ids_space = ids;
	if (c == NULL || ids == NULL)
		return -ENOMEM;
	link->space_cap = need;
	return 0;
}

static void link_handle(struct ctl_link *link, const uint8_t *buf, size_t len)
{
	struct ctl_msg m;
	struct ctl_decode_space space = { .cfg = link->cfg_space, .lane_ids = link->ids_space,
					  .cap = link->space_cap };
	int rc = ctl_msg_decode(buf, len, &m, &space);
	if (rc != 0) {
		LOG_WARN("dropped a malformed control message (%u bytes): %s", (unsigned)len,
			 strerror(-rc));
		return;
	}
	if (m.type == CTL_MSG_CONFIG) {
		for (uint32_t i = 0; i < m.config.n; i++) {
			struct link_op *op = calloc(1, sizeof(*op));
			if (op == NULL)
				return;
			op->type = CTL_MSG_CONFIG;
			op->lane = m.config.lane_ids[i];
			op->cfg = m.config.lanes_cfg[i];
			link_op_start(link, op);
		}
	} else if (m.type == CTL_MSG_PREPARE || m.type == CTL_MSG_HANDOFF) {
		struct link_op *op = calloc(1, sizeof(*op));
		if (op == NULL)
			return;
		op->type = m.type;
		op->lane = m.prepare.lane;
		op->epoch = m.prepare.epoch;
		op->target = m.prepare.target;
		link_op_start(link, op);
	} else {
		LOG_WARN("unexpected control message type %u from the control daemon", m.type);
	}
}

/* Frames and handles every complete message in the receive buffer. */
static void link_parse(struct ctl_link *link)
{
	size_t off = 0;
	while (link->rlen - off >= LINK_FRAME_HEADER_BYTES) {
		const uint8_t *p = link->rbuf + off;
		uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		if (len > CTL_MSG_BYTES_MAX) {
			LOG_WARN("control message of %u bytes is over the limit: closing the link", len);
			close(link->fd);
			link->fd = -1;
			link->rlen = 0;
			return;
		}
		if (link->rlen - off - LINK_FRAME_HEADER_BYTES < len)
			break;
		link_handle(link, p + LINK_FRAME_HEADER_BYTES, len);
		off += LINK_FRAME_HEADER_BYTES + len;
	}
	memmove(link->rbuf, link->rbuf + off, link->rlen - off);
	link->rlen -= off;
}

static void link_recv_arm(struct ctl_link *link);

static void link_on_recv(struct loop *loop, struct loop_uring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct ctl_link *link = container_of(op, struct ctl_link, recv_op);
	link->recv_armed = false;
	if (cqe->res <= 0) {
		if (link->fd >= 0) {
			LOG_INFO("control daemon disconnected");
			close(link->fd);
			link->fd = -1;
		}
		link->rlen = 0;
		return;
	}
	link->rlen += (size_t)cqe->res;
	link_parse(link);
	if (link->fd >= 0)
		link_recv_arm(link);
}

static void link_recv_arm(struct ctl_link *link)
{
	if (link->recv_armed || link->fd < 0)
		return;
	if (link->rcap - link->rlen < LINK_RBUF_BYTES_INITIAL / 2) {
		size_t cap = MIN(link->rcap * 2, (size_t)CTL_MSG_BYTES_MAX + LINK_FRAME_HEADER_BYTES);
		uint8_t *b = cap > link->rcap ? realloc(link->rbuf, cap) : NULL;
		if (b != NULL) {
			link->rbuf = b;
			link->rcap = cap;
		}
	}
	struct io_uring_sqe *sqe = loop_sqe_get(link->cfg.loop, &link->recv_op);
	io_uring_prep_recv(sqe, link->fd, link->rbuf + link->rlen, link->rcap - link->rlen, 0);
	io_uring_sqe_set_data(sqe, &link->recv_op);
	link->recv_armed = true;
}

static void link_accept_arm(struct ctl_link *link);

static void link_on_accept(struct loop *loop, struct loop_uring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct ctl_link *link = container_of(op, struct ctl_link, accept_op);
	if (!(cqe->flags & IORING_CQE_F_MORE))
		link->accept_armed = false;
	if (cqe->res >= 0 && link->fd >= 0) {
		/* One control daemon per node: a second one waits until the first is gone. */
		LOG_WARN("refused a second control daemon connection while one is connected");
		close(cqe->res);
	} else if (cqe->res >= 0) {
		link->fd = cqe->res;
		link->rlen = 0;
		LOG_INFO("control daemon connected");
		link_recv_arm(link);
	}
	if (!link->accept_armed)
		link_accept_arm(link);
}

static void link_accept_arm(struct ctl_link *link)
{
	struct io_uring_sqe *sqe = loop_sqe_get(link->cfg.loop, &link->accept_op);
	io_uring_prep_multishot_accept(sqe, link->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data(sqe, &link->accept_op);
	link->accept_armed = true;
}

/* ---- Heartbeats ---- */

/* Progress grows only when every loop has turned since the last heartbeat. */
static uint64_t link_progress(struct ctl_link *link)
{
	bool all = true;
	for (uint32_t i = 0; i < link->cfg.loops_count; i++) {
		uint64_t t = loop_turns_get(link->cfg.loops[i]);
		if (t == link->turns_seen[i])
			all = false;
		link->turns_seen[i] = t;
	}
	if (all)
		link->progress++;
	return link->progress;
}

static void link_status_visit(struct lane_set *set, uint32_t lane, struct kv_db *db, void *arg)
{
	(void)db;
	struct ctl_link *link = arg;
	struct lane_repl_info info;
	lane_repl_info_get(set, lane, &info);
	struct ctl_lane_status *s = &link->status[lane];
	memset(s, 0, sizeof(*s));
	s->lane = lane;
	s->epoch = info.rs.epoch;
	s->role = (uint8_t)info.rs.role;
	s->voters = info.rs.members.voters;
	s->caught_up = info.rs.role == REPL_ROLE_PRIMARY ? info.caught_up : 0;
	s->handoff_ready = info.rs.handoff_ready;
	s->damaged = info.rs.damaged;
	s->config_committed = info.rs.members_committed;
}

static void link_status_done(void *arg)
{
	struct ctl_link *link = arg;
	if (--link->status_pending > 0)
		return;
	link->hb_gathering = false;
	struct ctl_msg m = { .type = CTL_MSG_HEARTBEAT, .node = (uint8_t)link->cfg.node_id };
	m.hb.incarnation = link->incarnation;
	m.hb.progress = link_progress(link);
	m.hb.peers_heard = lane_set_peers_heard(link->cfg.lanes,
						(uint64_t)link->cfg.heartbeat_ms * CTL_LINK_HEARD_FACTOR);
	m.hb.n_lanes = lane_set_count(link->cfg.lanes);
	m.hb.lanes = link->status;
	link_send(link, &m);
}

static void link_heartbeat(struct loop *loop, struct loop_timer *t)
{
	struct ctl_link *link = t->arg;
	loop_timer_start(loop, t, (uint64_t)link->cfg.heartbeat_ms * NS_PER_MS, link_heartbeat, link);
	if (link->fd < 0 || link->hb_gathering)
		return;
	uint32_t n = lane_set_count(link->cfg.lanes);
	link->hb_gathering = true;
	link->status_pending = n + 1;
	for (uint32_t l = 0; l < n; l++)
		lane_visit(link->cfg.lanes, loop, l, link_status_visit, link_status_done, link);
	link_status_done(link);
}

/* ---- Set-up ---- */

static int link_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* a socket left by an earlier run */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4) != 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

struct ctl_link *ctl_link_create(const struct ctl_link_config *cfg)
{
	struct ctl_link *link = calloc(1, sizeof(*link));
	uint32_t lanes = lane_set_count(cfg->lanes);
	if (link == NULL)
		return NULL;
	link->cfg = *cfg;
	link->fd = -1;
	list_init(&link->outq);
	link->rcap = LINK_RBUF_BYTES_INITIAL;
	link->rbuf = malloc(link->rcap);
	link->turns_seen = calloc(cfg->loops_count, sizeof(uint64_t));
	link->status = calloc(lanes, sizeof(*link->status));
	if (link->rbuf == NULL || link->turns_seen == NULL || link->status == NULL ||
	    link_space(link, lanes) != 0) {
		ctl_link_destroy(link);
		return NULL;
	}
	link->listen_fd = link_listen(cfg->path);
	if (link->listen_fd < 0) {
		LOG_ERROR("control socket %s: %s", cfg->path, strerror(-link->listen_fd));
		link->listen_fd = -1;
		ctl_link_destroy(link);
		return NULL;
	}
	link->incarnation = time_mono_ns() ^ ((uint64_t)getpid() << 40) ^ (uint64_t)time_wall_ms() << 10;
	link->accept_op.cb = link_on_accept;
	link->recv_op.cb = link_on_recv;
	link->send_op.cb = link_on_send;
	link_accept_arm(link);
	loop_timer_start(cfg->loop, &link->hb_timer, (uint64_t)cfg->heartbeat_ms * NS_PER_MS,
			 link_heartbeat, link);
	lane_set_promised_set(cfg->lanes, ctl_link_promised, link);
	link_the = link;
	LOG_INFO("control socket %s: waiting for spindle-control (incarnation %llx)", cfg->path,
		 (unsigned long long)link->incarnation);
	return link;
}

static void link_cancel(struct ctl_link *link, struct loop_uring_op *op)
{
	struct io_uring_sqe *sqe = loop_sqe_get(link->cfg.loop, NULL);
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

void ctl_link_destroy(struct ctl_link *link)
{
	if (link == NULL)
		return;
	if (link_the == link)
		link_the = NULL;
	if (link->listen_fd >= 0) {
		/* On the link's loop: cancel what is in flight and turn until it has ended, so no
		 * completion can reach freed memory. */
		loop_timer_stop(link->cfg.loop, &link->hb_timer);
		if (link->fd >= 0)
			shutdown(link->fd, SHUT_RDWR);
		shutdown(link->listen_fd, SHUT_RDWR); /* ends the accept even if its cancel is refused */
		if (link->accept_armed)
			link_cancel(link, &link->accept_op);
		if (link->recv_armed)
			link_cancel(link, &link->recv_op);
		for (int i = 0; i < 10000 && (link->accept_armed || link->recv_armed || link->send_inflight); i++)
			loop_run_once(link->cfg.loop);
		close(link->listen_fd);
		unlink(link->cfg.path);
	}
	if (link->fd >= 0)
		close(link->fd);
	struct list_node *n;
	while ((n = list_pop_front(&link->outq)) != NULL)
		free(list_entry(n, struct link_out, node));
	free(link->rbuf);
	free(link->turns_seen);
	free(link->status);
	free(link->cfg_space);
	free(link->ids_space);
	free(link);
}
