/* The link to the local spindled: a Unix stream socket to its control-socket, connected (and
 * reconnected after either side restarts) by this daemon. Messages are length-prefixed
 * ctl_msg encodings (wire.h). In: HEARTBEAT (liveness, progress, whom it hears, its lanes)
 * and PROMISE. Out: CONFIG, PREPARE, HANDOFF.
 *
 * The verdict on the dataplane: alive while the link is up and heartbeats arrive with a
 * growing progress counter, each within dataplane-timeout-ms. A closed link (spindled
 * killed) counts at once; a hung spindled (SIGSTOP, a stuck loop) once its heartbeats stop
 * or stop showing progress. */
#define LOG_COMPONENT "link"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "base/panic.h"
#include "daemon/ctld.h"

#define LINK_TX_BYTES (CTLD_LINK_FRAME_BYTES_MAX + 4096)

struct link_space {
	struct ctl_lane_status status[CTLD_LANES_MAX];
	struct repl_config cfg[CTLD_LANES_MAX];
	uint32_t ids[CTLD_LANES_MAX];
};
static struct link_space link_rx_space;

int ctld_link_init(struct ctld *d)
{
	struct ctld_link *l = &d->link;
	memset(l, 0, sizeof(*l));
	l->fd = -1;
	l->tx = malloc(LINK_TX_BYTES);
	l->lanes = calloc(CTLD_LANES_MAX, sizeof(*l->lanes));
	if (l->tx == NULL || l->lanes == NULL)
		return -ENOMEM;
	return ctld_framer_init(&l->rx, CTLD_LINK_FRAME_BYTES_MAX);
}

static void link_watch_stopped(struct ctld_watch *w)
{
	struct ctld_link *l = container_of(w, struct ctld_link, watch);
	l->watch_busy = false;
}

static void link_down(struct ctld *d, const char *why)
{
	struct ctld_link *l = &d->link;
	if (l->state == CTLD_LINK_UP) {
		LOG_WARN("dataplane link down: %s", why);
		l->stats.disconnects++;
		l->watch_busy = true;
		ctld_watch_stop(&l->watch, link_watch_stopped);
	}
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	l->state = CTLD_LINK_DOWN;
	l->have_hb = false;
	l->tx_len = l->tx_off = 0;
	ctld_framer_reset(&l->rx);
	l->next_try_ms = ctld_now_ms() + d->conf.reconnect_ms;
}

void ctld_link_fini(struct ctld *d)
{
	struct ctld_link *l = &d->link;
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	ctld_framer_free(&l->rx);
	free(l->tx);
	free(l->lanes);
	l->tx = NULL;
	l->lanes = NULL;
}

/* ---- Receiving ---- */

static void link_heartbeat(struct ctld *d, const struct ctl_msg_heartbeat *hb, uint64_t now)
{
	struct ctld_link *l = &d->link;
	if (l->have_hb && hb->incarnation != l->incarnation)
		LOG_WARN("dataplane restarted: incarnation %llx -> %llx",
			 (unsigned long long)l->incarnation, (unsigned long long)hb->incarnation);
	if (!l->have_hb || hb->incarnation != l->incarnation || hb->progress != l->progress)
		l->progress_ms = now;
	l->have_hb = true;
	l->hb_ms = now;
	l->incarnation = hb->incarnation;
	l->progress = hb->progress;
	l->peers_heard = hb->peers_heard;
	l->n_lanes = MIN(hb->n_lanes, CTLD_LANES_MAX);
	memcpy(l->lanes, hb->lanes, l->n_lanes * sizeof(*l->lanes));
	l->stats.heartbeats++;
}

static void link_message(struct ctld *d, const uint8_t *bytes, uint32_t len)
{
	struct ctld_link *l = &d->link;
	struct ctl_msg m;
	struct ctl_decode_space sp = { .status = link_rx_space.status, .cfg = link_rx_space.cfg,
				       .lane_ids = link_rx_space.ids, .cap = CTLD_LANES_MAX };
	int rc = ctl_msg_decode(bytes, len, &m, &sp);
	if (rc != 0 || (m.type != CTL_MSG_HEARTBEAT && m.type != CTL_MSG_PROMISE) ||
	    m.node != d->conf.node_id) {
		l->stats.rx_bad++;
		LOG_WARN("dataplane sent an unexpected message (%d bytes, type %u, node %u: %s)",
			 (int)len, m.type, m.node, rc ? strerror(-rc) : "not for this daemon");
		return;
	}
	l->stats.rx_msgs++;
	if (m.type == CTL_MSG_HEARTBEAT) {
		link_heartbeat(d, &m.hb, ctld_now_ms());
		return;
	}
	l->stats.promises++;
	ctld_group_dataplane(d, &m);
}

static void link_readable(struct ctld_watch *w, int revents)
{
	(void)revents;
	struct ctld_link *l = container_of(w, struct ctld_link, watch);
	struct ctld *d = container_of(l, struct ctld, link);
	for (;;) {
		size_t room;
		uint8_t *p = ctld_framer_space(&l->rx, &room);
		ssize_t n = recv(l->fd, p, room, MSG_DONTWAIT);
		if (n == 0) {
			link_down(d, "spindled closed it");
			break;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				link_down(d, strerror(errno));
			break;
		}
		ctld_framer_filled(&l->rx, (size_t)n);
		const uint8_t *msg;
		uint32_t len;
		int rc = 0;
		while (l->state == CTLD_LINK_UP && (rc = ctld_framer_take(&l->rx, &msg, &len)) == 1)
			link_message(d, msg, len);
		if (l->state == CTLD_LINK_UP && rc < 0)
			link_down(d, "a message longer than the protocol allows");
		if (l->state != CTLD_LINK_UP)
			break;
	}
}

/* ---- Sending ---- */

static void link_tx_flush(struct ctld *d)
{
	struct ctld_link *l = &d->link;
	while (l->state == CTLD_LINK_UP && l->tx_off < l->tx_len) {
		ssize_t n = send(l->fd, l->tx + l->tx_off, l->tx_len - l->tx_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				link_down(d, strerror(errno));
			return; /* the rest goes out at the next tick */
		}
		l->tx_off += (size_t)n;
	}
	if (l->tx_off == l->tx_len)
		l->tx_off = l->tx_len = 0;
}

bool ctld_link_send(struct ctld *d, const struct ctl_msg *m)
{
	struct ctld_link *l = &d->link;
	if (l->state != CTLD_LINK_UP)
		return false;
	if (l->tx_off > 0 && l->tx_off == l->tx_len)
		l->tx_off = l->tx_len = 0;
	if (l->tx_off > 0) {
		memmove(l->tx, l->tx + l->tx_off, l->tx_len - l->tx_off);
		l->tx_len -= l->tx_off;
		l->tx_off = 0;
	}
	ssize_t n = ctld_link_frame_encode(m, l->tx + l->tx_len, LINK_TX_BYTES - l->tx_len);
	if (n < 0) {
		l->stats.tx_dropped++; /* full: CONFIG is pushed again, PREPARE sent again */
		return false;
	}
	l->tx_len += (size_t)n;
	l->stats.tx_msgs++;
	link_tx_flush(d);
	return true;
}

/* ---- Connecting and judging ---- */

static void link_connect(struct ctld *d, uint64_t now)
{
	struct ctld_link *l = &d->link;
	l->next_try_ms = now + d->conf.reconnect_ms;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", d->conf.dataplane_socket);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd); /* not listening yet: try again later */
		return;
	}
	l->fd = fd;
	l->state = CTLD_LINK_UP;
	l->have_hb = false;
	l->stats.connects++;
	ctld_framer_reset(&l->rx);
	ctld_watch_start(&l->watch, d->loop, fd, POLLIN, true, link_readable);
	LOG_INFO("dataplane link up: %s", d->conf.dataplane_socket);
	ctld_group_dataplane_changed(d);
}

static bool link_verdict(const struct ctld *d, uint64_t now)
{
	const struct ctld_link *l = &d->link;
	uint32_t t = d->conf.dataplane_timeout_ms;
	return l->state == CTLD_LINK_UP && l->have_hb && now - l->hb_ms <= t &&
	       now - l->progress_ms <= t;
}

void ctld_link_tick(struct ctld *d, uint64_t now)
{
	struct ctld_link *l = &d->link;
	if (d->conf.dataplane_socket[0] == '\0')
		return;
	if (l->state == CTLD_LINK_DOWN && !l->watch_busy && now >= l->next_try_ms)
		link_connect(d, now);
	link_tx_flush(d);
	bool alive = link_verdict(d, now);
	if (alive == l->alive)
		return;
	l->alive = alive;
	l->stats.verdict_changes++;
	if (alive)
		LOG_INFO("verdict: dataplane alive (incarnation %llx, %u lanes)",
			 (unsigned long long)l->incarnation, l->n_lanes);
	else if (l->state != CTLD_LINK_UP)
		LOG_WARN("verdict: dataplane dead: the link is down");
	else if (!l->have_hb)
		LOG_WARN("verdict: dataplane dead: no heartbeat yet");
	else if (now - l->hb_ms > d->conf.dataplane_timeout_ms)
		LOG_WARN("verdict: dataplane dead: no heartbeat for %llu ms",
			 (unsigned long long)(now - l->hb_ms));
	else
		LOG_WARN("verdict: dataplane dead: no progress for %llu ms (a loop is stuck)",
			 (unsigned long long)(now - l->progress_ms));
	ctld_group_dataplane_changed(d);
}
