/* The metrics endpoint: a minimal HTTP/1.0 server on metrics-addr that answers
 * `GET /metrics` with the Prometheus text format (status.c) and anything else with 404.
 * One request per connection; the answer is written at once into a socket buffer sized for
 * it (a scrape that cannot take it in one go is cut and closed). */
#define LOG_COMPONENT "http"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/list.h"
#include "base/log.h"
#include "base/panic.h"
#include "daemon/ctld.h"

#define HTTP_REQUEST_BYTES_MAX 4096
#define HTTP_SNDBUF_BYTES (4u << 20)

struct http_client {
	struct ctld_watch w;
	struct list_node node;
	struct ctld_http *h;
	int fd;
	char req[HTTP_REQUEST_BYTES_MAX + 1];
	size_t len;
	bool done;
};

struct ctld_http {
	struct ctld *d;
	int fd;
	struct ctld_watch watch;
	unsigned clients;
	struct list_node list;           /* struct http_client, until handed back */
	uint64_t scrapes;
};

static void http_client_stopped(struct ctld_watch *w)
{
	struct http_client *c = container_of(w, struct http_client, w);
	c->h->clients--;
	list_unlink(&c->node);
	free(c);
}

static void http_client_close(struct http_client *c)
{
	if (c->done)
		return;
	c->done = true;
	close(c->fd);
	ctld_watch_stop(&c->w, http_client_stopped);
}

static void http_send(struct http_client *c, const char *status, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.0 %s\r\nContent-Type: text/plain; "
			 "version=0.0.4; charset=utf-8\r\nContent-Length: %zu\r\nConnection: close"
			 "\r\n\r\n", status, len);
	if (send(c->fd, head, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n && len > 0)
		(void)send(c->fd, body, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void http_answer(struct http_client *c)
{
	struct ctld_http *h = c->h;
	if (strncmp(c->req, "GET /metrics ", 13) != 0 && strncmp(c->req, "GET /metrics?", 13) != 0) {
		static const char nf[] = "not found: try /metrics\n";
		http_send(c, "404 Not Found", nf, sizeof(nf) - 1);
		return;
	}
	struct ctld_status *st = malloc(sizeof(*st));
	struct ctld_buf b = { 0 };
	if (st != NULL) {
		ctld_status_collect(h->d, ctld_now_ms(), st);
		ctld_metrics_render(st, &b);
		free(st);
	}
	if (st == NULL || b.oom)
		http_send(c, "500 Internal Server Error", "out of memory\n", 14);
	else
		http_send(c, "200 OK", b.p, b.len);
	ctld_buf_free(&b);
	h->scrapes++;
}

static void http_readable(struct ctld_watch *w, int revents)
{
	(void)revents;
	struct http_client *c = container_of(w, struct http_client, w);
	if (c->done)
		return;
	ssize_t n = recv(c->fd, c->req + c->len, HTTP_REQUEST_BYTES_MAX - c->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		http_client_close(c);
		return;
	}
	c->len += (size_t)n;
	c->req[c->len] = '\0';
	if (strstr(c->req, "\r\n\r\n") != NULL || strstr(c->req, "\n\n") != NULL ||
	    c->len == HTTP_REQUEST_BYTES_MAX) {
		http_answer(c);
		http_client_close(c);
	}
}

static void http_acceptable(struct ctld_watch *w, int revents)
{
	(void)revents;
	struct ctld_http *h = container_of(w, struct ctld_http, watch);
	for (;;) {
		int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct http_client *c = h->clients < CTLD_HTTP_CLIENTS_MAX ? calloc(1, sizeof(*c)) : NULL;
		if (c == NULL) {
			close(fd);
			continue;
		}
		int size = HTTP_SNDBUF_BYTES;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		c->h = h;
		c->fd = fd;
		h->clients++;
		list_push_back(&h->list, &c->node);
		ctld_watch_start(&c->w, h->d->loop, fd, POLLIN, true, http_readable);
	}
}

struct ctld_http *ctld_http_create(struct ctld *d, const char *addr)
{
	struct sockaddr_in sa;
	if (ctld_addr_parse(addr, &sa) != 0)
		return NULL;
	struct ctld_http *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->d = d;
	list_init(&h->list);
	h->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (h->fd < 0 || setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(h->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(h->fd, 16) != 0) {
		LOG_ERROR("metrics endpoint %s: %s", addr, strerror(errno));
		if (h->fd >= 0)
			close(h->fd);
		free(h);
		return NULL;
	}
	ctld_watch_start(&h->watch, d->loop, h->fd, POLLIN, true, http_acceptable);
	LOG_INFO("metrics on http://%s/metrics", addr);
	return h;
}

/* At exit, once the loop has stopped turning: nothing is handed back any more. */
void ctld_http_destroy(struct ctld_http *h)
{
	if (h == NULL)
		return;
	struct list_node *n;
	while ((n = list_pop_front(&h->list)) != NULL) {
		struct http_client *c = list_entry(n, struct http_client, node);
		if (!c->done)
			close(c->fd);
		free(c);
	}
	close(h->fd);
	free(h);
}
