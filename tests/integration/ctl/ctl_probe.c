/* A stand-in for spindle-control's end of the dataplane link, for tests: it connects to
 * spindled's control socket and speaks the real protocol (length-prefixed ctl_msg).
 *
 *   ctl_probe SOCKET heartbeats N          print N heartbeats as JSON lines
 *   ctl_probe SOCKET prepare LANE EPOCH    send PREPARE, print the PROMISE (5 s at most)
 *   ctl_probe SOCKET config LANE EPOCH PRIMARY VOTERS   send CONFIG (VOTERS: a bitmask)
 *
 * Exit status: 0, 1 on a timeout or a malformed message, 2 on bad usage. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/core/ctl.h"

#define PROBE_LANES_MAX 1024

static int probe_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int tries = 0; tries < 100; tries++) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		usleep(50000);
	}
	return -1;
}

static int probe_read_full(int fd, uint8_t *buf, size_t len, int timeout_ms)
{
	size_t got = 0;
	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0)
			return -EPIPE;
		got += (size_t)n;
	}
	return 0;
}

static struct ctl_lane_status status[PROBE_LANES_MAX];

static int probe_recv(int fd, struct ctl_msg *m, uint8_t *buf, size_t cap, int timeout_ms)
{
	uint8_t hdr[4];
	int rc = probe_read_full(fd, hdr, 4, timeout_ms);
	if (rc != 0)
		return rc;
	uint32_t len = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 | (uint32_t)hdr[3] << 24;
	if (len > cap)
		return -EMSGSIZE;
	rc = probe_read_full(fd, buf, len, timeout_ms);
	if (rc != 0)
		return rc;
	struct ctl_decode_space space = { .status = status, .cap = PROBE_LANES_MAX };
	return ctl_msg_decode(buf, len, m, &space);
}

static int probe_send(int fd, const struct ctl_msg *m)
{
	uint8_t buf[65536];
	ssize_t n = ctl_msg_encode(m, buf + 4, sizeof(buf) - 4);
	if (n < 0)
		return (int)n;
	for (int i = 0; i < 4; i++)
		buf[i] = (uint8_t)((uint64_t)n >> (8 * i));
	return write(fd, buf, (size_t)n + 4) == n + 4 ? 0 : -EIO;
}

static void probe_print_heartbeat(const struct ctl_msg *m)
{
	printf("{\"node\": %u, \"incarnation\": %llu, \"progress\": %llu, \"peers_heard\": %llu, \"lanes\": [",
	       m->node, (unsigned long long)m->hb.incarnation, (unsigned long long)m->hb.progress,
	       (unsigned long long)m->hb.peers_heard);
	for (uint32_t i = 0; i < m->hb.n_lanes; i++) {
		const struct ctl_lane_status *s = &m->hb.lanes[i];
		printf("%s{\"lane\": %u, \"epoch\": %llu, \"role\": %u, \"voters\": %llu, \"caught_up\": %llu}",
		       i ? ", " : "", s->lane, (unsigned long long)s->epoch, s->role,
		       (unsigned long long)s->voters, (unsigned long long)s->caught_up);
	}
	printf("]}\n");
}

static int probe_heartbeats(int fd, int n)
{
	static uint8_t buf[CTL_MSG_BYTES_MAX];
	for (int i = 0; i < n;) {
		struct ctl_msg m;
		if (probe_recv(fd, &m, buf, sizeof(buf), 5000) != 0)
			return 1;
		if (m.type == CTL_MSG_HEARTBEAT) {
			probe_print_heartbeat(&m);
			i++;
		}
	}
	return 0;
}

static int probe_prepare(int fd, uint32_t lane, uint64_t epoch)
{
	static uint8_t buf[CTL_MSG_BYTES_MAX];
	struct ctl_msg m = { .type = CTL_MSG_PREPARE };
	m.prepare.lane = lane;
	m.prepare.epoch = epoch;
	if (probe_send(fd, &m) != 0)
		return 1;
	for (int i = 0; i < 200; i++) {
		struct ctl_msg in;
		if (probe_recv(fd, &in, buf, sizeof(buf), 5000) != 0)
			return 1;
		if (in.type == CTL_MSG_PROMISE && in.promise.lane == lane) {
			const struct repl_promise *p = &in.promise.promise;
			printf("{\"node\": %u, \"lane\": %u, \"incarnation\": %llu, \"epoch\": %llu, "
			       "\"last_epoch\": %llu, \"last_index\": %llu, \"damaged\": %d, \"was_primary\": %d}\n",
			       in.node, lane, (unsigned long long)in.promise.incarnation,
			       (unsigned long long)p->epoch, (unsigned long long)p->last_epoch,
			       (unsigned long long)p->last_index, p->damaged, p->was_primary);
			return 0;
		}
	}
	return 1;
}

static int probe_config(int fd, uint32_t lane, uint64_t epoch, unsigned primary, uint64_t voters)
{
	struct repl_config cfg = { .epoch = epoch, .primary = primary,
				   .members = { .voters = voters, .learners = 0 } };
	struct ctl_msg m = { .type = CTL_MSG_CONFIG };
	m.config.n = 1;
	m.config.lanes_cfg = &cfg;
	m.config.lane_ids = &lane;
	if (probe_send(fd, &m) != 0)
		return 1;
	usleep(100000); /* let it be read before the connection closes */
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int fd = probe_connect(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "ctl_probe: cannot connect to %s\n", argv[1]);
		return 1;
	}
	if (strcmp(argv[2], "heartbeats") == 0 && argc == 4)
		return probe_heartbeats(fd, atoi(argv[3]));
	if (strcmp(argv[2], "prepare") == 0 && argc == 5)
		return probe_prepare(fd, (uint32_t)atoi(argv[3]), strtoull(argv[4], NULL, 10));
	if (strcmp(argv[2], "config") == 0 && argc == 7)
		return probe_config(fd, (uint32_t)atoi(argv[3]), strtoull(argv[4], NULL, 10),
				    (unsigned)atoi(argv[5]), strtoull(argv[6], NULL, 10));
	return 2;
}
