/* The per-core loop: one turn = a bounded batch of messages, the ring's completions, every
 * poller, the due timers, the end-of-turn flushers, then one submit. Idle turns back off into
 * a blocking io_uring wait with a timeout that a message from another loop cuts short
 * through an eventfd. */
#define LOG_COMPONENT "loop"
#include "loop/loop.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rte_ring.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/panic.h"

#define LOOP_CQE_BATCH_MAX 256
#define LOOP_TIMERS_INITIAL 64
#define LOOP_IDLE_SPIN_US_DEFAULT 50
#define LOOP_IDLE_SLEEP_US_MAX_DEFAULT 1000

struct loop_msg {
	loop_msg_fn fn;
	void *arg;
};

/* A posted message waiting for room in its target's ring. */
struct loop_backlog_msg {
	struct list_node node;
	struct loop *to;
	struct loop_msg msg;
};

struct loop {
	struct io_uring ring;
	struct rte_ring *msgs;
	uint64_t now_ns;
	int64_t wall_ms;
	uint64_t last_busy_ns;
	bool last_turn_busy;          /* busy time is counted at the next turn's clock read */
	struct list_node pollers;
	struct list_node flushers;
	struct list_node backlog;   /* struct loop_backlog_msg, oldest first */
	struct loop_timer **timers; /* min-heap on due_ns, 1-based */
	uint32_t timers_count;
	uint32_t timers_cap;
	struct loop_config cfg;
	struct loop_stats stats;
	bool ring_enabled;
	/* Cross-thread fields on their own cache line. */
	CACHE_ALIGNED atomic_bool sleeping;
	atomic_uint_fast64_t turns_published;
	atomic_bool stop_requested;
	int wake_fd;
	uint64_t wake_buf;
	struct loop_uring_op wake_op;
};

static void loop_wake_arm(struct loop *loop);
static void loop_ring_enable(struct loop *loop);

static void loop_wake_cb(struct loop *loop, struct loop_uring_op *op,
			 const struct io_uring_cqe *cqe)
{
	(void)op;
	if (cqe->res < 0 && cqe->res != -EAGAIN && cqe->res != -EINTR)
		PANIC("loop %u: eventfd read failed: %s", loop->cfg.id, strerror(-cqe->res));
	loop_wake_arm(loop);
}

static void loop_wake_arm(struct loop *loop)
{
	struct io_uring_sqe *sqe = loop_sqe_get(loop, &loop->wake_op);
	io_uring_prep_read(sqe, loop->wake_fd, &loop->wake_buf, sizeof(loop->wake_buf), 0);
	io_uring_sqe_set_data(sqe, &loop->wake_op);
}

static int loop_uring_init(struct loop *loop)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	/* SINGLE_ISSUER: only this loop's thread submits, so the kernel can skip locking.
	 * DEFER_TASKRUN: completions are posted only when this thread asks for events, once
	 * per turn, instead of interrupting it at arbitrary times. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
	/* R_DISABLED: the loop is built on the main thread but runs on its own; the ring's one
	 * issuer becomes the thread that enables it, at the loop's first turn. */
	p.flags |= IORING_SETUP_R_DISABLED;
	/* Room for many multishot completions per turn without overflowing the CQ. */
	p.flags |= IORING_SETUP_CQSIZE;
	p.cq_entries = loop->cfg.uring_entries * 4;
	int rc = io_uring_queue_init_params(loop->cfg.uring_entries, &loop->ring, &p);
	if (rc < 0) {
		LOG_ERROR("loop %u: io_uring setup failed: %s", loop->cfg.id, strerror(-rc));
		return rc;
	}
	return 0;
}

static int loop_msgs_init(struct loop *loop)
{
	ssize_t bytes = rte_ring_get_memsize_elem(sizeof(struct loop_msg), loop->cfg.msg_ring_slots);
	if (bytes < 0)
		return (int)bytes;
	loop->msgs = aligned_alloc(CACHE_LINE_BYTES, ALIGN_UP((size_t)bytes, CACHE_LINE_BYTES));
	if (loop->msgs == NULL)
		return -ENOMEM;
	/* Any loop may send (multi-producer); only the owner receives (single consumer). */
	return rte_ring_init(loop->msgs, "loop", loop->cfg.msg_ring_slots, RING_F_SC_DEQ);
}

static void loop_config_defaults(struct loop_config *cfg)
{
	if (cfg->uring_entries == 0)
		cfg->uring_entries = LOOP_URING_ENTRIES_DEFAULT;
	if (cfg->msg_ring_slots == 0)
		cfg->msg_ring_slots = LOOP_MSG_RING_DEFAULT;
	if (cfg->idle_spin_us == 0)
		cfg->idle_spin_us = LOOP_IDLE_SPIN_US_DEFAULT;
	if (cfg->idle_sleep_us_max == 0)
		cfg->idle_sleep_us_max = LOOP_IDLE_SLEEP_US_MAX_DEFAULT;
}

struct loop *loop_create(const struct loop_config *cfg)
{
	struct loop *loop = aligned_alloc(CACHE_LINE_BYTES, ALIGN_UP(sizeof(*loop), CACHE_LINE_BYTES));
	if (loop == NULL)
		return NULL;
	memset(loop, 0, sizeof(*loop));
	loop->cfg = *cfg;
	loop_config_defaults(&loop->cfg);
	ASSERT(IS_POW2(loop->cfg.msg_ring_slots));
	list_init(&loop->pollers);
	list_init(&loop->flushers);
	list_init(&loop->backlog);
	loop->wake_fd = -1;
	loop->timers_cap = LOOP_TIMERS_INITIAL;
	loop->timers = calloc(loop->timers_cap + 1, sizeof(*loop->timers));
	if (loop->timers == NULL || loop_msgs_init(loop) != 0 || loop_uring_init(loop) != 0) {
		LOG_ERROR("loop %u: cannot create", cfg->id);
		free(loop->timers);
		free(loop->msgs);
		free(loop);
		return NULL;
	}
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0) {
		LOG_ERROR("loop %u: eventfd: %s", cfg->id, strerror(errno));
		loop_destroy(loop);
		return NULL;
	}
	loop->wake_op.cb = loop_wake_cb;
	loop_wake_arm(loop);
	loop->now_ns = time_mono_ns();
	loop->wall_ms = time_wall_ms();
	loop->last_busy_ns = loop->now_ns;
	return loop;
}

void loop_destroy(struct loop *loop)
{
	if (loop == NULL)
		return;
	struct list_node *n;
	while ((n = list_pop_front(&loop->backlog)) != NULL)
		free(list_entry(n, struct loop_backlog_msg, node));
	io_uring_queue_exit(&loop->ring);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	free(loop->timers);
	free(loop->msgs);
	free(loop);
}

unsigned loop_id(const struct loop *loop)
{
	return loop->cfg.id;
}

uint64_t loop_now_ns(const struct loop *loop)
{
	return loop->now_ns;
}

int64_t loop_wall_ms(const struct loop *loop)
{
	return loop->wall_ms;
}

struct io_uring *loop_uring(struct loop *loop)
{
	return &loop->ring;
}

void loop_stats_get(const struct loop *loop, struct loop_stats *out)
{
	*out = loop->stats;
}

uint64_t loop_turns_get(const struct loop *loop)
{
	return atomic_load_explicit(&((struct loop *)loop)->turns_published, memory_order_relaxed);
}

void loop_stop(struct loop *loop)
{
	atomic_store(&loop->stop_requested, true);
	if (atomic_exchange(&loop->sleeping, false)) {
		uint64_t one = 1;
		ssize_t w = write(loop->wake_fd, &one, sizeof(one));
		(void)w;
	}
}

/* ---- Pollers ---- */

static void loop_poller_init(struct loop_poller *p, const char *name, loop_poller_fn fn, void *arg)
{
	p->fn = fn;
	p->arg = arg;
	p->name = name;
	p->busy_turns = 0;
}

void loop_poller_add(struct loop *loop, struct loop_poller *p, const char *name,
		     loop_poller_fn fn, void *arg)
{
	loop_poller_init(p, name, fn, arg);
	list_push_back(&loop->pollers, &p->node);
}

void loop_flusher_add(struct loop *loop, struct loop_poller *p, const char *name,
		      loop_poller_fn fn, void *arg)
{
	loop_poller_init(p, name, fn, arg);
	list_push_back(&loop->flushers, &p->node);
}

void loop_poller_remove(struct loop *loop, struct loop_poller *p)
{
	(void)loop;
	ASSERT(list_linked(&p->node));
	list_unlink(&p->node);
}

static int loop_pollers_run(struct list_node *head)
{
	int work = 0;
	struct list_node *pos, *tmp;
	list_for_each_safe(pos, tmp, head) {
		struct loop_poller *p = list_entry(pos, struct loop_poller, node);
		int rc = p->fn(p->arg);
		if (rc > 0) {
			p->busy_turns++;
			work += rc;
		}
	}
	return work;
}

/* ---- Messages ---- */

int loop_msg_send(struct loop *to, loop_msg_fn fn, void *arg)
{
	struct loop_msg m = { .fn = fn, .arg = arg };
	if (rte_ring_mp_enqueue_bulk_elem(to->msgs, &m, sizeof(m), 1, NULL) != 1) {
		__atomic_fetch_add(&to->stats.msgs_refused, 1, __ATOMIC_RELAXED);
		return -ENOBUFS;
	}
	if (atomic_exchange(&to->sleeping, false)) {
		uint64_t one = 1;
		ssize_t w = write(to->wake_fd, &one, sizeof(one));
		(void)w;
	}
	return 0;
}

void loop_msg_post(struct loop *from, struct loop *to, loop_msg_fn fn, void *arg)
{
	if (list_empty(&from->backlog) && loop_msg_send(to, fn, arg) == 0)
		return;
	struct loop_backlog_msg *m = malloc(sizeof(*m));
	ASSERT_MSG(m != NULL, "loop %u: out of memory queueing a message", from->cfg.id);
	m->to = to;
	m->msg.fn = fn;
	m->msg.arg = arg;
	list_push_back(&from->backlog, &m->node);
	from->stats.msgs_backlogged++;
}

static int loop_backlog_run(struct loop *loop)
{
	int sent = 0;
	while (!list_empty(&loop->backlog)) {
		struct loop_backlog_msg *m = list_entry(loop->backlog.next, struct loop_backlog_msg, node);
		if (loop_msg_send(m->to, m->msg.fn, m->msg.arg) != 0)
			break;
		list_unlink(&m->node);
		free(m);
		sent++;
	}
	return sent;
}

static int loop_msgs_run(struct loop *loop)
{
	struct loop_msg batch[LOOP_MSG_BATCH_MAX];
	unsigned n = rte_ring_sc_dequeue_burst_elem(loop->msgs, batch, sizeof(batch[0]),
						    LOOP_MSG_BATCH_MAX, NULL);
	for (unsigned i = 0; i < n; i++)
		batch[i].fn(loop, batch[i].arg);
	loop->stats.msgs += n;
	return (int)n;
}

/* ---- Timers: a binary min-heap of armed timers ---- */

static void loop_heap_place(struct loop *loop, uint32_t i, struct loop_timer *t)
{
	loop->timers[i] = t;
	t->heap_index = i;
}

static void loop_heap_up(struct loop *loop, uint32_t i)
{
	struct loop_timer *t = loop->timers[i];
	while (i > 1 && loop->timers[i / 2]->due_ns > t->due_ns) {
		loop_heap_place(loop, i, loop->timers[i / 2]);
		i /= 2;
	}
	loop_heap_place(loop, i, t);
}

static void loop_heap_down(struct loop *loop, uint32_t i)
{
	struct loop_timer *t = loop->timers[i];
	for (;;) {
		uint32_t c = i * 2;
		if (c > loop->timers_count)
			break;
		if (c + 1 <= loop->timers_count && loop->timers[c + 1]->due_ns < loop->timers[c]->due_ns)
			c++;
		if (loop->timers[c]->due_ns >= t->due_ns)
			break;
		loop_heap_place(loop, i, loop->timers[c]);
		i = c;
	}
	loop_heap_place(loop, i, t);
}

bool loop_timer_armed(const struct loop_timer *t)
{
	return t->heap_index != 0;
}

void loop_timer_stop(struct loop *loop, struct loop_timer *t)
{
	uint32_t i = t->heap_index;
	if (i == 0)
		return;
	ASSERT(i <= loop->timers_count && loop->timers[i] == t);
	struct loop_timer *last = loop->timers[loop->timers_count--];
	t->heap_index = 0;
	if (last == t)
		return;
	loop_heap_place(loop, i, last);
	loop_heap_down(loop, i);
	loop_heap_up(loop, last->heap_index);
}

void loop_timer_start(struct loop *loop, struct loop_timer *t, uint64_t delay_ns,
		      loop_timer_fn fn, void *arg)
{
	loop_timer_stop(loop, t);
	if (loop->timers_count == loop->timers_cap) {
		uint32_t cap = loop->timers_cap * 2;
		struct loop_timer **grown = realloc(loop->timers, (cap + 1) * sizeof(*grown));
		ASSERT_MSG(grown != NULL, "loop %u: out of memory for timers", loop->cfg.id);
		loop->timers = grown;
		loop->timers_cap = cap;
	}
	t->due_ns = loop->now_ns + delay_ns;
	t->fn = fn;
	t->arg = arg;
	loop->timers[++loop->timers_count] = t;
	loop_heap_up(loop, loop->timers_count);
}

static int loop_timers_run(struct loop *loop)
{
	int fired = 0;
	while (loop->timers_count > 0 && loop->timers[1]->due_ns <= loop->now_ns) {
		struct loop_timer *t = loop->timers[1];
		loop_timer_stop(loop, t);
		t->fn(loop, t);
		fired++;
	}
	return fired;
}

/* ---- io_uring ---- */

struct io_uring_sqe *loop_sqe_get(struct loop *loop, struct loop_uring_op *op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&loop->ring);
	if (sqe == NULL) {
		if (unlikely(!loop->ring_enabled))
			loop_ring_enable(loop);
		int rc = io_uring_submit(&loop->ring);
		ASSERT_MSG(rc >= 0, "loop %u: io_uring submit failed: %s", loop->cfg.id, strerror(-rc));
		sqe = io_uring_get_sqe(&loop->ring);
		ASSERT(sqe != NULL);
	}
	io_uring_sqe_set_data(sqe, op);
	return sqe;
}

static int loop_cqes_run(struct loop *loop)
{
	struct io_uring_cqe *cqes[LOOP_CQE_BATCH_MAX];
	int total = 0;
	for (;;) {
		unsigned n = io_uring_peek_batch_cqe(&loop->ring, cqes, LOOP_CQE_BATCH_MAX);
		for (unsigned i = 0; i < n; i++) {
			struct loop_uring_op *op = io_uring_cqe_get_data(cqes[i]);
			/* user_data 0 marks completions nobody waits for (cancels, link heads). */
			if (op != NULL)
				op->cb(loop, op, cqes[i]);
			io_uring_cqe_seen(&loop->ring, cqes[i]);
		}
		total += (int)n;
		if (n < LOOP_CQE_BATCH_MAX)
			break;
	}
	loop->stats.cqes += (uint64_t)total;
	return total;
}

static void loop_submit(struct loop *loop)
{
	/* With DEFER_TASKRUN this is also what lets the kernel post our completions. */
	int rc = io_uring_submit_and_get_events(&loop->ring);
	ASSERT_MSG(rc >= 0 || rc == -EINTR || rc == -EBUSY || rc == -EAGAIN,
		   "loop %u: io_uring submit failed: %s", loop->cfg.id, strerror(-rc));
}

/* ---- The turn ---- */

/* liburing 2.3 declares io_uring_enable_rings() but its library does not export it, so the
 * registration is made directly. */
static void loop_ring_enable(struct loop *loop)
{
	long rc = syscall(__NR_io_uring_register, loop->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS,
			  NULL, 0);
	ASSERT_MSG(rc == 0, "loop %u: cannot enable io_uring: %s", loop->cfg.id, strerror(errno));
	loop->ring_enabled = true;
}

int loop_run_once(struct loop *loop)
{
	if (unlikely(!loop->ring_enabled))
		loop_ring_enable(loop);
	uint64_t start = time_mono_ns();
	if (loop->last_turn_busy)
		loop->stats.busy_ns += start - loop->now_ns;
	loop->now_ns = start;
	loop->wall_ms = time_wall_ms();
	int work = loop_backlog_run(loop);
	work += loop_msgs_run(loop);
	work += loop_cqes_run(loop);
	work += loop_pollers_run(&loop->pollers);
	work += loop_timers_run(loop);
	work += loop_pollers_run(&loop->flushers);
	loop_submit(loop);
	loop->stats.turns++;
	atomic_store_explicit(&loop->turns_published, loop->stats.turns, memory_order_relaxed);
	loop->last_turn_busy = work > 0;
	if (work > 0) {
		loop->stats.busy_turns++;
		loop->last_busy_ns = start;
	}
	return work;
}

static uint64_t loop_sleep_budget_ns(const struct loop *loop)
{
	uint64_t ns = (uint64_t)loop->cfg.idle_sleep_us_max * NS_PER_US;
	if (loop->timers_count > 0) {
		uint64_t due = loop->timers[1]->due_ns;
		uint64_t until = due > loop->now_ns ? due - loop->now_ns : 0;
		ns = MIN(ns, until);
	}
	return ns;
}

/* Blocks in the kernel until a completion, a wake-up from another loop, or the timeout. The
 * sleeping flag is raised before the last look at the message ring, so a sender that enqueues
 * after that look sees the flag and writes the eventfd. */
static void loop_idle_sleep(struct loop *loop)
{
	uint64_t ns = loop_sleep_budget_ns(loop);
	if (ns == 0)
		return;
	if (!list_empty(&loop->backlog))
		return; /* posted messages wait for room in another loop's ring: keep trying */
	atomic_store(&loop->sleeping, true);
	if (rte_ring_count(loop->msgs) > 0 || atomic_load(&loop->stop_requested)) {
		atomic_store(&loop->sleeping, false);
		return;
	}
	struct __kernel_timespec ts = { .tv_sec = (long long)(ns / NS_PER_SEC),
					.tv_nsec = (long long)(ns % NS_PER_SEC) };
	struct io_uring_cqe *cqe = NULL;
	int rc = io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, &ts, NULL);
	ASSERT_MSG(rc >= 0 || rc == -ETIME || rc == -EINTR || rc == -EBUSY || rc == -EAGAIN,
		   "loop %u: io_uring wait failed: %s", loop->cfg.id, strerror(-rc));
	atomic_store(&loop->sleeping, false);
	loop->stats.sleeps++;
}

int loop_run(struct loop *loop)
{
	while (!atomic_load_explicit(&loop->stop_requested, memory_order_relaxed)) {
		int work = loop_run_once(loop);
		if (work > 0 || loop->cfg.spin)
			continue;
		if (loop->now_ns - loop->last_busy_ns >= (uint64_t)loop->cfg.idle_spin_us * NS_PER_US)
			loop_idle_sleep(loop);
	}
	atomic_store(&loop->stop_requested, false);
	return 0;
}
