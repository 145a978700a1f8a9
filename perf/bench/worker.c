/* One load-generator thread from start to end: set up its io_uring and connections, open
 * them all, meet the other threads at the start barrier, then run turns (issue requests,
 * send, wait for completions, handle them) until the run's length is reached and the replies
 * in flight are in, and leave its result in shared memory for the parent. */
#define LOG_COMPONENT "bench"
#include "bench/worker.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/panic.h"

struct io_uring_sqe *worker_sqe(struct bench_worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
	while (sqe == NULL) {
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

int worker_socket(struct bench_worker *w, uint32_t global)
{
	const struct bench_config *cfg = w->cfg;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (cfg->sources > 0) {
		/* Choose the port at connect time, per (source, destination) pair, so that each
		 * source address brings its own range of ephemeral ports. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		struct sockaddr_in src = { .sin_family = AF_INET,
					   .sin_addr = cfg->source[global % cfg->sources] };
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			int err = errno;
			close(fd);
			return -err;
		}
	}
	return fd;
}

void worker_connect_prep(struct bench_worker *w, int fd, enum worker_ud op, uint32_t index,
			 uint32_t global)
{
	if (io_uring_sq_space_left(&w->ring) < 2)
		io_uring_submit(&w->ring);
	struct io_uring_sqe *sqe = worker_sqe(w);
	const struct sockaddr_in *to = &w->addr[global % w->cfg->ports];
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)to, sizeof(*to));
	io_uring_sqe_set_data64(sqe, worker_ud_pack(op, index));
	sqe->flags |= IOSQE_IO_LINK;
	/* Both must sit in the same submission, or the link is cut. */
	sqe = io_uring_get_sqe(&w->ring);
	ASSERT(sqe != NULL);
	io_uring_prep_link_timeout(sqe, &w->connect_ts, 0);
	io_uring_sqe_set_data64(sqe, worker_ud_pack(WORKER_UD_LINK_TIMEOUT, 0));
	w->connects_inflight++;
}

void worker_recv_prep(struct bench_worker *w, int fd, enum worker_ud op, uint32_t index)
{
	struct io_uring_sqe *sqe = worker_sqe(w);
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = WORKER_BUF_GROUP;
	io_uring_sqe_set_data64(sqe, worker_ud_pack(op, index));
}

void worker_setup_resolved(struct bench_worker *w)
{
	ASSERT(w->setup_pending > 0);
	w->setup_pending--;
	w->setup_progress_ns = time_mono_ns();
}

static void worker_buf_return(struct bench_worker *w, uint32_t bid)
{
	ASSERT(bid < WORKER_BUFS);
	io_uring_buf_ring_add(w->br, w->bufs + (size_t)bid * WORKER_BUF_BYTES, WORKER_BUF_BYTES,
			      (unsigned short)bid, io_uring_buf_ring_mask(WORKER_BUFS),
			      (int)w->br_pending);
	w->br_pending++;
}

static void worker_cqe(struct bench_worker *w, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	uint32_t i = worker_ud_index(ud);
	const char *data = NULL;
	bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
	if (cqe->flags & IORING_CQE_F_BUFFER)
		data = w->bufs + (size_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) * WORKER_BUF_BYTES;
	switch (worker_ud_op(ud)) {
	case WORKER_UD_CONNECT:
		w->connects_inflight--;
		conn_on_connect(w, &w->conns[i], cqe->res);
		break;
	case WORKER_UD_HELD_CONNECT:
		w->connects_inflight--;
		held_on_connect(w, &w->held[i], cqe->res);
		break;
	case WORKER_UD_SEND:
		conn_on_send(w, &w->conns[i], cqe->res);
		break;
	case WORKER_UD_HELD_SEND:
		held_on_send(w, &w->held[i], cqe->res);
		break;
	case WORKER_UD_RECV:
		conn_on_recv(w, &w->conns[i], cqe->res, data, more);
		break;
	case WORKER_UD_HELD_RECV:
		held_on_recv(w, &w->held[i], cqe->res, data, more);
		break;
	case WORKER_UD_LINK_TIMEOUT:
		break;
	default:
		PANIC("unknown completion user_data=%llx", (unsigned long long)ud);
	}
	if (cqe->flags & IORING_CQE_F_BUFFER)
		worker_buf_return(w, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
}

static void worker_reap(struct bench_worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	io_uring_for_each_cqe(&w->ring, head, cqe) {
		worker_cqe(w, cqe);
		n++;
	}
	io_uring_cq_advance(&w->ring, n);
	if (w->br_pending) {
		io_uring_buf_ring_advance(w->br, (int)w->br_pending);
		w->br_pending = 0;
	}
}

/* Submits what is queued and waits up to wait_ns for a completion. */
static void worker_wait(struct bench_worker *w, uint64_t wait_ns)
{
	if (io_uring_cq_ready(&w->ring) > 0 || wait_ns == 0) {
		io_uring_submit_and_get_events(&w->ring);
		return;
	}
	struct __kernel_timespec ts = { .tv_sec = (long long)(wait_ns / NS_PER_SEC),
					.tv_nsec = (long long)(wait_ns % NS_PER_SEC) };
	struct io_uring_cqe *cqe = NULL;
	int rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
	ASSERT_MSG(rc >= 0 || rc == -ETIME || rc == -EINTR || rc == -EBUSY,
		   "io_uring wait failed: %s", strerror(-rc));
}

static int worker_ring_init(struct bench_worker *w)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	/* SINGLE_ISSUER: only this thread submits, which lets the kernel skip locking.
	 * DEFER_TASKRUN: completions are produced only when this thread asks for them, in one
	 * batch per turn, instead of interrupting it whenever a packet lands.
	 * CQSIZE: multishot receives on thousands of connections can finish all at once. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
	p.cq_entries = WORKER_CQ_ENTRIES;
	int rc = io_uring_queue_init_params(WORKER_URING_ENTRIES, &w->ring, &p);
	if (rc < 0)
		return rc;
	w->ring_ok = true;
	size_t ring_bytes = WORKER_BUFS * sizeof(struct io_uring_buf);
	void *br = NULL;
	if (posix_memalign(&br, 4096, ALIGN_UP(ring_bytes, (size_t)4096)))
		return -ENOMEM;
	w->br = br;
	w->bufs = malloc((size_t)WORKER_BUFS * WORKER_BUF_BYTES);
	if (w->bufs == NULL)
		return -ENOMEM;
	struct io_uring_buf_reg reg = { .ring_addr = (uint64_t)(uintptr_t)br,
					.ring_entries = WORKER_BUFS, .bgid = WORKER_BUF_GROUP };
	rc = io_uring_register_buf_ring(&w->ring, &reg, 0);
	if (rc < 0)
		return rc;
	io_uring_buf_ring_init(w->br);
	for (uint32_t b = 0; b < WORKER_BUFS; b++)
		worker_buf_return(w, b);
	io_uring_buf_ring_advance(w->br, (int)w->br_pending);
	w->br_pending = 0;
	return 0;
}

static int worker_conns_init(struct bench_worker *w)
{
	const struct bench_config *cfg = w->cfg;
	const struct bench_plan *plan = w->plan;
	struct bench_share cs = bench_plan_share(cfg->conns, plan->threads, w->thread);
	struct bench_share hs = bench_plan_share(cfg->hold, plan->threads, w->thread);
	w->conns_total = cfg->conns;
	w->nconns = (uint32_t)cs.count;
	w->nheld = (uint32_t)hs.count;
	w->held_global_first = cfg->conns + (uint32_t)hs.first;
	w->conns = calloc(MAX(w->nconns, 1u), sizeof(*w->conns));
	w->held = calloc(MAX(w->nheld, 1u), sizeof(*w->held));
	if (!w->conns || !w->held)
		return -ENOMEM;
	for (uint32_t i = 0; i < w->nconns; i++)
		w->conns[i].fd = -1;  /* so that a failed set-up closes nothing it did not open */
	for (uint32_t i = 0; i < w->nconns; i++) {
		int rc = conn_setup(w, &w->conns[i], i, (uint32_t)cs.first + i);
		if (rc)
			return rc;
	}
	for (uint32_t i = 0; i < w->nheld; i++)
		w->held[i].fd = -1;
	/* Requests, rate and sequential keys are shared in proportion to connections. */
	uint64_t c_lo = cs.first, c_hi = cs.first + cs.count;
	if (cfg->requests) {
		w->quota = (uint64_t)((unsigned __int128)cfg->requests * c_hi / cfg->conns) -
			   (uint64_t)((unsigned __int128)cfg->requests * c_lo / cfg->conns);
	} else {
		w->quota = UINT64_MAX;
	}
	if (cfg->rate > 0 && cs.count > 0)
		w->interval_ns = (double)NS_PER_SEC * (double)cfg->conns / (cfg->rate * (double)cs.count);
	uint64_t k_lo = (uint64_t)((unsigned __int128)cfg->keyspace * c_lo / cfg->conns);
	uint64_t k_hi = (uint64_t)((unsigned __int128)cfg->keyspace * c_hi / cfg->conns);
	w->seq_keys = (struct bench_share){ .first = k_lo, .count = k_hi - k_lo };
	return 0;
}

static int worker_init(struct bench_worker *w, const struct bench_plan *plan,
		       struct bench_shared *shared, uint32_t t)
{
	w->plan = plan;
	w->cfg = plan->cfg;
	w->trace.fd = -1;
	w->shared = shared;
	w->slot = &shared->slot[t];
	w->res = &w->slot->result;
	w->thread = t;
	list_init(&w->room);
	list_init(&w->dirty);
	list_init(&w->rearm);
	bench_rng_seed(&w->rng, w->cfg->seed * 0x9e3779b97f4a7c15ull + t);
	w->value = malloc(w->cfg->value_bytes);
	if (w->value == NULL)
		return -ENOMEM;
	bench_value_fill(w->value, w->cfg->value_bytes, 0, 0);
	ASSERT(w->cfg->ports >= 1 && w->cfg->ports <= BENCH_PORTS_MAX);
	for (uint32_t i = 0; i < w->cfg->ports; i++) {
		w->addr[i] = w->cfg->target;
		w->addr[i].sin_port = htons(w->cfg->port[i]);
	}
	int rc = bench_trace_init(&w->trace, plan->trace_fd);
	if (rc == 0)
		rc = worker_ring_init(w);
	if (rc == 0)
		rc = worker_conns_init(w);
	return rc;
}

/* Starts connects until WORKER_CONNECTS_INFLIGHT_MAX handshakes are under way. */
static void worker_connect_next(struct bench_worker *w)
{
	while (w->connects_inflight < WORKER_CONNECTS_INFLIGHT_MAX &&
	       w->connect_next < w->nconns + w->nheld) {
		uint32_t i = w->connect_next++;
		bool active = i < w->nconns;
		uint32_t hi = i - w->nconns;
		int fd = worker_socket(w, active ? w->conns[i].global : w->held_global_first + hi);
		if (fd < 0) {
			if (w->res->connect_errno == 0)
				w->res->connect_errno = -fd;
			if (active) {
				w->res->err_connect++;
				w->conns[i].state = CONN_DEAD;
			} else {
				w->res->held_failed++;
				w->held[hi].state = CONN_DEAD;
			}
			worker_setup_resolved(w);
			continue;
		}
		if (active) {
			w->conns[i].fd = fd;
			w->conns[i].state = CONN_CONNECTING;
			worker_connect_prep(w, fd, WORKER_UD_CONNECT, i, w->conns[i].global);
		} else {
			w->held[hi].fd = fd;
			w->held[hi].state = CONN_CONNECTING;
			worker_connect_prep(w, fd, WORKER_UD_HELD_CONNECT, hi,
					    w->held_global_first + hi);
		}
	}
}

/* Nothing moved for a whole timeout: give up on every connection still opening. */
static void worker_setup_expire(struct bench_worker *w)
{
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct bench_conn *c = &w->conns[i];
		if (c->state != CONN_CONNECTING)
			continue;
		w->res->err_connect++;
		if (w->res->connect_errno == 0)
			w->res->connect_errno = ETIMEDOUT;
		conn_kill(w, c, false);
		worker_setup_resolved(w);
	}
	for (uint32_t i = 0; i < w->nheld; i++) {
		struct bench_held *h = &w->held[i];
		if (h->state != CONN_CONNECTING && h->state != CONN_PINGING)
			continue;
		w->res->held_failed++;
		held_kill(w, h);
		worker_setup_resolved(w);
	}
}

static int worker_setup(struct bench_worker *w)
{
	w->connect_ts.tv_sec = (long long)(w->plan->timeout_ns / NS_PER_SEC);
	w->connect_ts.tv_nsec = (long long)(w->plan->timeout_ns % NS_PER_SEC);
	w->setup_pending = w->nconns + w->nheld;
	w->setup_progress_ns = time_mono_ns();
	while (w->setup_pending > 0) {
		worker_connect_next(w);
		worker_wait(w, WORKER_TICK_NS);
		worker_reap(w);
		if (atomic_load(&w->shared->abort))
			return -ECANCELED;
		if (time_mono_ns() - w->setup_progress_ns > w->plan->timeout_ns)
			worker_setup_expire(w);
	}
	return 0;
}

static int worker_wait_go(struct bench_worker *w)
{
	uint64_t go;
	while ((go = atomic_load(&w->shared->go_ns)) == 0) {
		if (atomic_load(&w->shared->abort))
			return -ECANCELED;
		worker_wait(w, NS_PER_MS);
		worker_reap(w);
	}
	uint64_t now;
	while ((now = time_mono_ns()) < go) {
		worker_wait(w, go - now);
		worker_reap(w);
	}
	w->go_ns = go;
	return 0;
}

static void worker_start(struct bench_worker *w)
{
	w->measure_ns = w->go_ns + w->plan->warmup_ns;
	w->end_ns = w->plan->run_ns ? w->measure_ns + w->plan->run_ns : UINT64_MAX;
	w->res->measure_start_ns = w->measure_ns;
	w->running = true;
	w->issuing = w->quota > 0 && w->conns_alive > 0;
	w->next_ns = w->go_ns;
	w->next_tick_ns = w->go_ns + WORKER_TICK_NS;
	for (uint32_t i = 0; i < w->nconns; i++) {
		struct bench_conn *c = &w->conns[i];
		if (conn_has_room(w, c))
			list_push_back(&w->room, &c->room_node);
	}
}

static void worker_issue(struct bench_worker *w, uint64_t now)
{
	if (w->cfg->rate == 0) {
		/* Closed loop: top every connection up to its pipeline depth. */
		while (w->issuing && !list_empty(&w->room)) {
			struct bench_conn *c = list_entry(w->room.next, struct bench_conn, room_node);
			while (w->issuing && conn_has_room(w, c))
				conn_issue(w, c, now, now);
			list_unlink(&c->room_node);
		}
		return;
	}
	/* Open loop: every request has an intended time on a fixed schedule; one that waits
	 * for a free connection keeps it, so its wait counts in its latency. */
	while (w->issuing && w->next_ns <= now && !list_empty(&w->room)) {
		struct bench_conn *c = list_entry(w->room.next, struct bench_conn, room_node);
		list_unlink(&c->room_node);
		if (!conn_has_room(w, c))
			continue;
		conn_issue(w, c, w->next_ns, now);
		w->sched_k++;
		w->next_ns = w->go_ns + (uint64_t)((double)w->sched_k * w->interval_ns);
		if (conn_has_room(w, c))
			list_push_back(&w->room, &c->room_node);
		if (w->next_ns >= w->end_ns)
			w->issuing = false;
	}
}

static void worker_flush(struct bench_worker *w)
{
	struct list_node *n;
	while ((n = list_pop_front(&w->dirty)) != NULL)
		conn_send_kick(w, list_entry(n, struct bench_conn, dirty_node));
	while ((n = list_pop_front(&w->rearm)) != NULL) {
		struct bench_conn *c = list_entry(n, struct bench_conn, rearm_node);
		if (c->state == CONN_READY && !c->recv_armed)
			conn_recv_arm(w, c);
	}
}

static uint64_t worker_wait_ns(const struct bench_worker *w, uint64_t now)
{
	uint64_t until = w->next_tick_ns;
	if (w->issuing) {
		until = MIN(until, w->end_ns);
		if (w->cfg->rate > 0 && !list_empty(&w->room))
			until = MIN(until, w->next_ns);
	} else {
		until = MIN(until, w->drain_ns);
	}
	return until > now ? until - now : 0;
}

static void worker_live_update(struct bench_worker *w)
{
	atomic_store_explicit(&w->slot->done, w->res->requests, memory_order_relaxed);
	atomic_store_explicit(&w->slot->errors, bench_result_errors(w->res), memory_order_relaxed);
}

static void worker_run(struct bench_worker *w)
{
	worker_start(w);
	for (;;) {
		uint64_t now = time_mono_ns();
		if (w->issuing && (now >= w->end_ns || atomic_load(&w->shared->abort)))
			w->issuing = false;
		if (w->issuing)
			worker_issue(w, now);
		if (!w->issuing && w->drain_ns == 0)
			w->drain_ns = atomic_load(&w->shared->abort) ? now : now + w->plan->timeout_ns;
		worker_flush(w);
		if (!w->issuing && (w->outstanding == 0 || now >= w->drain_ns))
			break;
		if (w->conns_alive == 0)
			break;
		worker_wait(w, worker_wait_ns(w, now));
		worker_reap(w);
		now = time_mono_ns();
		if (now >= w->next_tick_ns) {
			conn_timeouts_check(w, now);
			worker_live_update(w);
			w->next_tick_ns = now + WORKER_TICK_NS;
		}
	}
	/* Whatever is still unanswered after the drain timed out. */
	for (uint32_t i = 0; w->outstanding > 0 && i < w->nconns; i++)
		conn_fifo_trace(w, &w->conns[i], BENCH_TRACE_TIMEOUT, time_mono_ns());
	w->res->err_timeout += w->outstanding;
	w->outstanding = 0;
	w->running = false;
}

/* Keeps this thread's held connections open until no thread loads the server any more, so
 * that the run is measured with all of them open even when threads end at different times
 * (a request-bounded run, or a thread that has only held connections). */
static void worker_hold(struct bench_worker *w)
{
	while (w->nheld > 0 && atomic_load(&w->shared->busy) > 0 &&
	       !atomic_load(&w->shared->abort)) {
		worker_wait(w, 10 * NS_PER_MS);
		worker_reap(w);
	}
}

static void worker_finish(struct bench_worker *w)
{
	w->res->issued = w->issued;
	w->res->trace_errno = -bench_trace_flush(&w->trace);
	bench_trace_free(&w->trace);
	worker_live_update(w);
	for (uint32_t i = 0; w->conns && i < w->nconns; i++) {
		if (w->conns[i].fd >= 0)
			close(w->conns[i].fd);
		conn_free(&w->conns[i]);
	}
	for (uint32_t i = 0; w->held && i < w->nheld; i++) {
		if (w->held[i].fd >= 0)
			close(w->held[i].fd);
	}
	if (w->ring_ok)
		io_uring_queue_exit(&w->ring);
	free(w->conns);
	free(w->held);
	free(w->bufs);
	free(w->br);
	free(w->value);
}

int bench_worker_main(const struct bench_plan *plan, struct bench_shared *shared, uint32_t t)
{
	ASSERT(t < plan->threads);
	struct bench_slot *slot = &shared->slot[t];
	struct bench_worker *w = calloc(1, sizeof(*w));
	int rc = w ? worker_init(w, plan, shared, t) : -ENOMEM;
	if (rc)
		LOG_ERROR("thread %u cannot start: %s", t, strerror(-rc));
	if (rc == 0)
		rc = worker_setup(w);
	atomic_fetch_add(&shared->ready, 1);
	if (rc == 0)
		rc = worker_wait_go(w);
	if (rc == 0)
		worker_run(w);
	atomic_fetch_sub(&shared->busy, 1);
	if (rc == 0)
		worker_hold(w);
	if (w)
		worker_finish(w);
	free(w);
	slot->error = rc;
	atomic_store_explicit(&slot->finished, 1, memory_order_release);
	return rc;
}
