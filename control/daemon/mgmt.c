/* The management network: one UDP socket on mgmt-addr, one message per datagram (wire.h),
 * best effort (the control group's Raft and the leader's retries cope with loss,
 * duplication and reordering). A node's address comes from the configuration (`member`),
 * else from the cluster state (a node added with its address), else from the datagrams it
 * sent: a daemon that joins later is reached by the leader, and answers it, before it has
 * the state. */
#define LOG_COMPONENT "mgmt"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "base/log.h"
#include "base/panic.h"
#include "daemon/ctld.h"

#define MGMT_RX_BURST 64
#define MGMT_SOCK_BUF_BYTES (4u << 20)
#define MGMT_VERSION_SAY_MS 10000  /* datagrams of another version: one log line per 10 s */

bool ctld_mgmt_addr(const struct ctld *d, unsigned node, struct sockaddr_in *out)
{
	if (node >= CTL_NODES_MAX)
		return false;
	const struct ctld_member *m = ctld_conf_member(&d->conf, node);
	if (m != NULL && ctld_addr_parse(m->addr, out) == 0)
		return true;
	if (node == d->conf.node_id && ctld_addr_parse(d->conf.mgmt_addr, out) == 0)
		return true;
	const char *addr = d->state->nodes[node].mgmt_addr;
	if (d->state->nodes[node].state != CTL_NODE_NONE && addr[0] && ctld_addr_parse(addr, out) == 0)
		return true;
	if ((d->mgmt.learned_mask >> node) & 1) {
		*out = d->mgmt.learned[node];
		return true;
	}
	return false;
}

bool ctld_mgmt_send(struct ctld *d, unsigned node, uint8_t kind, const uint8_t *payload,
		    size_t len)
{
	struct ctld_mgmt *m = &d->mgmt;
	struct sockaddr_in to;
	if (!ctld_mgmt_addr(d, node, &to)) {
		m->stats.tx_no_addr++;
		return false;
	}
	struct ctld_dgram dg = { .kind = kind, .cluster_id = d->conf.cluster_id,
				 .src = (uint8_t)d->conf.node_id, .dst = (uint8_t)node,
				 .payload = payload, .len = (uint32_t)len };
	ssize_t n = len > CTLD_DGRAM_PAYLOAD_MAX ? -EMSGSIZE
						 : ctld_dgram_encode(&dg, m->tx_buf, CTLD_DGRAM_BYTES_MAX);
	if (n < 0) {
		m->stats.tx_errors++;
		LOG_WARN("message of kind %u for node %u does not fit a datagram (%zu bytes)", kind,
			 node, len);
		return false;
	}
	if (sendto(m->fd, m->tx_buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to)) < 0) {
		m->stats.tx_errors++;
		return false;
	}
	m->stats.tx[kind]++;
	return true;
}

static void mgmt_learn(struct ctld *d, unsigned src, const struct sockaddr_in *from)
{
	struct ctld_mgmt *m = &d->mgmt;
	struct sockaddr_in known;
	bool have = (m->learned_mask >> src) & 1;
	if (have && m->learned[src].sin_addr.s_addr == from->sin_addr.s_addr &&
	    m->learned[src].sin_port == from->sin_port)
		return;
	m->learned[src] = *from;
	m->learned_mask |= 1ull << src;
	if (!ctld_mgmt_addr(d, src, &known) || !have) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &from->sin_addr, ip, sizeof(ip));
		LOG_INFO("node %u's control daemon heard at %s:%u", src, ip, ntohs(from->sin_port));
	}
}

/* A datagram of another wire version: counted, and said at once, then at most once per
 * MGMT_VERSION_SAY_MS. */
static void mgmt_version_refused(struct ctld *d, uint8_t version, const struct sockaddr_in *from)
{
	struct ctld_mgmt *m = &d->mgmt;
	uint64_t now = ctld_now_ms();
	m->stats.rx_version++;
	if (m->stats.rx_version > 1 && now - m->stats.version_said_ms < MGMT_VERSION_SAY_MS)
		return;
	m->stats.version_said_ms = now;
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &from->sin_addr, ip, sizeof(ip));
	LOG_WARN("refused management datagrams of wire version %u from %s:%u (%llu so far): this "
		 "spindle-control speaks version %u; a control daemon of another release cannot "
		 "take part in the control group (docs/OPERATIONS.md, upgrading)", version, ip,
		 ntohs(from->sin_port), (unsigned long long)m->stats.rx_version, CTLD_WIRE_VERSION);
}

static void mgmt_datagram(struct ctld *d, const uint8_t *buf, size_t len,
			  const struct sockaddr_in *from)
{
	struct ctld_mgmt *m = &d->mgmt;
	struct ctld_dgram dg;
	int rc = ctld_dgram_decode(buf, len, d->conf.cluster_id, d->conf.node_id, &dg);
	if (rc == -EPROTONOSUPPORT) {
		mgmt_version_refused(d, buf[4], from);
		return;
	}
	if (rc == -EXDEV || rc == -EDESTADDRREQ) {
		m->stats.rx_foreign++;
		return;
	}
	if (rc != 0) {
		m->stats.rx_bad++;
		return;
	}
	m->stats.rx[dg.kind]++;
	mgmt_learn(d, dg.src, from);
	ctld_group_recv(d, dg.src, dg.kind, dg.payload, dg.len);
}

static void mgmt_readable(struct ctld_watch *w, int revents)
{
	(void)revents;
	struct ctld_mgmt *m = container_of(w, struct ctld_mgmt, watch);
	struct ctld *d = container_of(m, struct ctld, mgmt);
	for (int i = 0; i < MGMT_RX_BURST; i++) {
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(m->fd, m->rx_buf, CTLD_DGRAM_BYTES_MAX + 1, MSG_DONTWAIT,
				     (struct sockaddr *)&from, &flen);
		if (n < 0)
			break;
		if ((size_t)n > CTLD_DGRAM_BYTES_MAX || flen != sizeof(from)) {
			m->stats.rx_bad++;
			continue;
		}
		mgmt_datagram(d, m->rx_buf, (size_t)n, &from);
	}
	if (d->r != NULL)
		repl_flush(d->r);
}

int ctld_mgmt_init(struct ctld *d)
{
	struct ctld_mgmt *m = &d->mgmt;
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->tx_buf = malloc(CTLD_DGRAM_BYTES_MAX);
	m->rx_buf = malloc(CTLD_DGRAM_BYTES_MAX + 1);
	m->msg_buf = malloc(CTLD_DGRAM_BYTES_MAX);
	if (m->tx_buf == NULL || m->rx_buf == NULL || m->msg_buf == NULL)
		return -ENOMEM;
	struct sockaddr_in a;
	if (ctld_addr_parse(d->conf.mgmt_addr, &a) != 0)
		return -EINVAL;
	m->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0)
		return -errno;
	int size = MGMT_SOCK_BUF_BYTES;
	setsockopt(m->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(m->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(m->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int err = errno;
		LOG_ERROR("cannot bind the management socket to %s: %s", d->conf.mgmt_addr, strerror(err));
		return -err;
	}
	ctld_watch_start(&m->watch, d->loop, m->fd, POLLIN, true, mgmt_readable);
	return 0;
}

void ctld_mgmt_fini(struct ctld *d)
{
	struct ctld_mgmt *m = &d->mgmt;
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	free(m->tx_buf);
	free(m->rx_buf);
	free(m->msg_buf);
	m->tx_buf = m->rx_buf = m->msg_buf = NULL;
}
