/* The admin socket (admin.h): a Unix stream socket spindlectl connects to. Each connection
 * carries one request line and gets one answer, after which the daemon closes it. Reading and
 * writing are non-blocking, driven by readiness on the loop; a command that waits for the
 * cluster to change keeps its connection until it is done or times out. */
#define LOG_COMPONENT "admin"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/panic.h"
#include "daemon/admin_priv.h"

#define ADMIN_BACKLOG 16

/* ---- Closing a client once the ring has handed back its watches ---- */

static void client_free(struct admin_client *c)
{
	list_unlink(&c->node);
	c->a->n_clients--;
	ctld_buf_free(&c->out);
	free(c->lanes);
	free(c);
}

static void client_release(struct admin_client *c)
{
	ASSERT(c->watches > 0);
	if (--c->watches == 0 && c->phase == ADMIN_CLOSING)
		client_free(c);
}

static void client_rw_stopped(struct ctld_watch *w)
{
	client_release(container_of(w, struct admin_client, rw));
}

static void client_ww_stopped(struct ctld_watch *w)
{
	client_release(container_of(w, struct admin_client, ww));
}

static void client_close(struct admin_client *c)
{
	if (c->phase == ADMIN_CLOSING)
		return;
	c->phase = ADMIN_CLOSING;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	bool stop_rw = c->rw.loop != NULL && !c->rw.stopping;
	bool stop_ww = c->ww.loop != NULL && !c->ww.stopping;
	if (c->watches == 0) {
		client_free(c);
		return;
	}
	/* The client goes with the last watch handed back, maybe during one of these calls. */
	if (stop_rw)
		ctld_watch_stop(&c->rw, client_rw_stopped);
	if (stop_ww)
		ctld_watch_stop(&c->ww, client_ww_stopped);
}

/* ---- Writing the answer ---- */

static void client_writable(struct ctld_watch *w, int revents);

static void client_write(struct admin_client *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (c->ww.loop == NULL) {
				c->watches++;
				ctld_watch_start(&c->ww, c->a->d->loop, c->fd, POLLOUT, false, client_writable);
			} else {
				ctld_watch_rearm(&c->ww);
			}
			return;
		}
		if (n <= 0)
			break; /* spindlectl went away */
		c->out_off += (size_t)n;
	}
	client_close(c);
}

static void client_writable(struct ctld_watch *w, int revents)
{
	(void)revents;
	struct admin_client *c = container_of(w, struct admin_client, ww);
	if (c->phase == ADMIN_WRITING)
		client_write(c);
}

void admin_answer(struct admin_client *c, enum ctld_admin_code code, const char *body)
{
	if (c->phase == ADMIN_CLOSING)
		return;
	ctld_buf_free(&c->out);
	if (code == CTLD_ADMIN_OK)
		ctld_buf_printf(&c->out, "OK\n%s", body);
	else if (c->r.json) {
		ctld_buf_printf(&c->out, "ERR %s\n{\"ok\":false,\"error\":\"%s\",\"message\":",
				ctld_admin_code_name(code), ctld_admin_code_name(code));
		ctld_buf_json_string(&c->out, body);
		ctld_buf_printf(&c->out, "}\n");
	} else {
		ctld_buf_printf(&c->out, "ERR %s\n%s%s", ctld_admin_code_name(code), body,
				body[0] && body[strlen(body) - 1] == '\n' ? "" : "\n");
	}
	if (code != CTLD_ADMIN_OK)
		LOG_INFO("request '%s': %s: %s", c->req, ctld_admin_code_name(code), body);
	c->phase = ADMIN_WRITING;
	c->out_off = 0;
	if (c->out.oom) {
		client_close(c);
		return;
	}
	client_write(c);
}

void admin_answerf(struct admin_client *c, enum ctld_admin_code code, const char *fmt, ...)
{
	char body[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	admin_answer(c, code, body);
}

/* ---- Reading the request ---- */

static void client_request(struct admin_client *c)
{
	char err[256];
	ctld_watch_stop(&c->rw, client_rw_stopped); /* one request per connection */
	if (ctld_admin_parse(c->req, &c->r, err, sizeof(err)) != 0) {
		admin_answer(c, CTLD_ADMIN_USAGE, err);
		return;
	}
	LOG_DEBUG("request: %s", c->req);
	c->phase = ADMIN_WAITING;
	c->start_ms = ctld_now_ms();
	c->deadline_ms = c->start_ms + c->r.timeout_ms;
	admin_cmd_start(c);
}

static void client_readable(struct ctld_watch *w, int revents)
{
	(void)revents;
	struct admin_client *c = container_of(w, struct admin_client, rw);
	if (c->phase != ADMIN_READING)
		return;
	ssize_t n = recv(c->fd, c->req + c->req_len, CTLD_ADMIN_REQUEST_BYTES_MAX - c->req_len,
			 MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->req_len += (size_t)n;
	c->req[c->req_len] = '\0';
	char *nl = memchr(c->req, '\n', c->req_len);
	if (nl != NULL || memchr(c->req, '\0', c->req_len) != NULL) {
		if (nl != NULL)
			*nl = '\0';
		client_request(c);
	} else if (c->req_len == CTLD_ADMIN_REQUEST_BYTES_MAX) {
		c->req[0] = '\0';
		admin_answer(c, CTLD_ADMIN_USAGE, "request line too long");
	}
}

static void admin_acceptable(struct ctld_watch *w, int revents)
{
	(void)revents;
	struct ctld_admin *a = container_of(w, struct ctld_admin, watch);
	for (;;) {
		int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct admin_client *c = a->n_clients < CTLD_ADMIN_CLIENTS_MAX ? calloc(1, sizeof(*c)) : NULL;
		if (c == NULL) {
			LOG_WARN("admin: too many connections; refusing one");
			close(fd);
			continue;
		}
		c->a = a;
		c->fd = fd;
		c->phase = ADMIN_READING;
		list_push_back(&a->clients, &c->node);
		a->n_clients++;
		c->watches = 1;
		ctld_watch_start(&c->rw, a->d->loop, fd, POLLIN, true, client_readable);
	}
}

/* ---- The socket ---- */

struct ctld_admin *ctld_admin_create(struct ctld *d, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		LOG_ERROR("admin socket path too long: %s", path);
		return NULL;
	}
	struct ctld_admin *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->d = d;
	list_init(&a->clients);
	snprintf(a->path, sizeof(a->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path); /* a previous daemon's (the data directory lock says none runs) */
	a->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->fd < 0 || bind(a->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0660) != 0 || listen(a->fd, ADMIN_BACKLOG) != 0) {
		LOG_ERROR("admin socket %s: %s", path, strerror(errno));
		if (a->fd >= 0)
			close(a->fd);
		free(a);
		return NULL;
	}
	a->listening = true;
	ctld_watch_start(&a->watch, d->loop, a->fd, POLLIN, true, admin_acceptable);
	return a;
}

void ctld_admin_tick(struct ctld_admin *a, uint64_t now)
{
	a->changed = false;
	struct list_node *pos, *tmp;
	list_for_each_safe(pos, tmp, &a->clients) {
		struct admin_client *c = list_entry(pos, struct admin_client, node);
		if (c->phase == ADMIN_WAITING)
			admin_cmd_check(c, now);
	}
}

/* Called from the core's apply callback, which must not call back into the core: the
 * waiting commands look at the state at the next tick. */
void ctld_admin_state_changed(struct ctld_admin *a)
{
	a->changed = true;
}

/* At exit, once the loop has stopped turning: nothing is handed back any more. */
void ctld_admin_destroy(struct ctld_admin *a)
{
	if (a == NULL)
		return;
	struct list_node *n;
	while ((n = list_pop_front(&a->clients)) != NULL) {
		struct admin_client *c = list_entry(n, struct admin_client, node);
		if (c->fd >= 0)
			close(c->fd);
		ctld_buf_free(&c->out);
		free(c->lanes);
		free(c);
	}
	if (a->fd >= 0)
		close(a->fd);
	unlink(a->path);
	free(a);
}
