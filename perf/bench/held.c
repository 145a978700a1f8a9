/* Idle connections for the connection-scaling runs: each is opened, sends one PING and waits
 * for +PONG (so the server has surely accepted it, not just the kernel's backlog), then holds
 * still until the end of the run with a multishot receive armed, which costs it no buffer.
 * A held connection the server closes during the run is counted as lost. */
#include "bench/worker.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char held_ping[] = "*1\r\n$4\r\nPING\r\n";
static const char held_pong[] = "+PONG\r\n";

void held_kill(struct bench_worker *w, struct bench_held *h)
{
	(void)w;
	if (h->fd >= 0) {
		shutdown(h->fd, SHUT_RDWR);
		close(h->fd);
		h->fd = -1;
	}
	h->state = CONN_DEAD;
}

static void held_fail(struct bench_worker *w, struct bench_held *h)
{
	w->res->held_failed++;
	held_kill(w, h);
	worker_setup_resolved(w);
}

static uint32_t held_index(const struct bench_worker *w, const struct bench_held *h)
{
	return (uint32_t)(h - w->held);
}

void held_on_connect(struct bench_worker *w, struct bench_held *h, int res)
{
	if (h->state != CONN_CONNECTING)
		return;
	if (res < 0) {
		if (w->res->connect_errno == 0)
			w->res->connect_errno = res == -ECANCELED ? ETIMEDOUT : -res;
		held_fail(w, h);
		return;
	}
	h->state = CONN_PINGING;
	struct io_uring_sqe *sqe = worker_sqe(w);
	io_uring_prep_send(sqe, h->fd, held_ping, sizeof(held_ping) - 1, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, worker_ud_pack(WORKER_UD_HELD_SEND, held_index(w, h)));
	worker_recv_prep(w, h->fd, WORKER_UD_HELD_RECV, held_index(w, h));
	h->recv_armed = true;
}

void held_on_send(struct bench_worker *w, struct bench_held *h, int res)
{
	if (h->state == CONN_PINGING && res != (int)sizeof(held_ping) - 1)
		held_fail(w, h);
}

/* Compares the bytes with the rest of "+PONG\r\n"; true once all of it has arrived. */
static bool held_pong_match(struct bench_held *h, const char *data, size_t n, bool *bad)
{
	size_t want = sizeof(held_pong) - 1 - h->pong_matched;
	size_t m = n < want ? n : want;
	if (memcmp(data, held_pong + h->pong_matched, m) != 0) {
		*bad = true;
		return false;
	}
	h->pong_matched = (uint8_t)(h->pong_matched + m);
	return h->pong_matched == sizeof(held_pong) - 1;
}

/* Keeps the first error reply to a PING (e.g. "DENIED Redis is running in protected mode",
 * "ERR max number of clients reached"), so the report says why holding failed. */
static void held_error_note(struct bench_worker *w, const char *msg, size_t len)
{
	const char *eol = memchr(msg, '\r', len);
	bench_result_held_error(w->res, msg, eol ? (size_t)(eol - msg) : len);
}

void held_on_recv(struct bench_worker *w, struct bench_held *h, int res, const char *data,
		  bool more)
{
	if (!more)
		h->recv_armed = false;
	if (h->state == CONN_PINGING) {
		bool bad = false;
		if (res > 0 && held_pong_match(h, data, (size_t)res, &bad)) {
			h->state = CONN_HELD;
			w->res->held_open++;
			worker_setup_resolved(w);
		} else if (bad || (res <= 0 && res != -ENOBUFS)) {
			if (bad && data[0] == '-' && h->pong_matched == 0)
				held_error_note(w, data + 1, (size_t)res - 1);
			held_fail(w, h);
			return;
		}
	} else if (h->state == CONN_HELD && res <= 0 && res != -ENOBUFS) {
		w->res->held_lost++;
		held_kill(w, h);
		return;
	}
	if ((h->state == CONN_PINGING || h->state == CONN_HELD) && !h->recv_armed) {
		worker_recv_prep(w, h->fd, WORKER_UD_HELD_RECV, held_index(w, h));
		h->recv_armed = true;
	}
}
