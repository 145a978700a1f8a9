/* Readiness of a descriptor through the loop's io_uring: a poll (multishot for sockets that
 * stay readable, one-shot for a pending write) whose completions wake the loop from its idle
 * wait, so the daemon sleeps until something arrives. The I/O itself is done with plain
 * non-blocking calls by the owner. A stopped watch is handed back by the ring before its
 * memory may go: `stopped` says when. */
#define LOG_COMPONENT "control"
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "base/log.h"
#include "base/panic.h"
#include "daemon/ctld.h"

static void watch_submit(struct ctld_watch *w);

static void watch_cb(struct loop *loop, struct loop_uring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct ctld_watch *w = container_of(op, struct ctld_watch, op);
	bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
	if (!more)
		w->armed = false;
	if (w->stopping) {
		/* The last completion ends the watch, once the removal has answered too: the
		 * owner may free the watch in stopped(). */
		if (!w->armed && !w->removing && w->stopped != NULL)
			w->stopped(w);
		return;
	}
	if (cqe->res < 0) {
		if (cqe->res != -ECANCELED)
			LOG_WARN("poll on fd %d failed: %s", w->fd, strerror(-cqe->res));
		if (w->multishot && !w->armed)
			watch_submit(w); /* e.g. the completion queue overflowed: watch again */
		return;
	}
	if (w->multishot && !w->armed)
		watch_submit(w);
	w->fn(w, cqe->res);
}

static void watch_submit(struct ctld_watch *w)
{
	ASSERT(!w->armed);
	struct io_uring_sqe *sqe = loop_sqe_get(w->loop, &w->op);
	if (w->multishot)
		io_uring_prep_poll_multishot(sqe, w->fd, w->events);
	else
		io_uring_prep_poll_add(sqe, w->fd, w->events);
	io_uring_sqe_set_data(sqe, &w->op);
	w->armed = true;
}

void ctld_watch_start(struct ctld_watch *w, struct loop *loop, int fd, unsigned events,
		      bool multishot, ctld_watch_fn fn)
{
	ASSERT(fd >= 0 && fn != NULL);
	memset(w, 0, sizeof(*w));
	w->op.cb = watch_cb;
	w->loop = loop;
	w->fd = fd;
	w->events = events;
	w->multishot = multishot;
	w->fn = fn;
	watch_submit(w);
}

void ctld_watch_rearm(struct ctld_watch *w)
{
	if (!w->armed && !w->stopping)
		watch_submit(w);
}

static void watch_remove_submit(struct ctld_watch *w);

/* The removal's own completion. -EALREADY: the poll was being completed at that moment and
 * stays armed (a multishot poll on a socket the peer closed may never fire again), so ask
 * again; -ENOENT: its last completion is already on its way. */
static void watch_remove_cb(struct loop *loop, struct loop_uring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct ctld_watch *w = container_of(op, struct ctld_watch, remove_op);
	w->removing = false;
	if (w->armed) {
		if (cqe->res == -EALREADY)
			watch_remove_submit(w);
		return;
	}
	if (w->stopped != NULL)
		w->stopped(w);
}

static void watch_remove_submit(struct ctld_watch *w)
{
	w->removing = true;
	w->remove_op.cb = watch_remove_cb;
	struct io_uring_sqe *sqe = loop_sqe_get(w->loop, &w->remove_op);
	io_uring_prep_poll_remove(sqe, (uint64_t)(uintptr_t)&w->op);
	io_uring_sqe_set_data(sqe, &w->remove_op);
}

void ctld_watch_stop(struct ctld_watch *w, void (*stopped)(struct ctld_watch *w))
{
	ASSERT(!w->stopping);
	w->stopping = true;
	w->stopped = stopped;
	if (!w->armed) {
		if (stopped != NULL)
			stopped(w);
		return;
	}
	watch_remove_submit(w);
}
