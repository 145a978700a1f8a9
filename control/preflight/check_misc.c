/* Process and kernel checks: open files against maxclients, the clock's synchronisation,
 * io_uring with the set-up flags the loops use, and the client and replication addresses. */
#include "preflight/preflight.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <liburing.h>

#define CLOCK_MAXERROR_US_WARN (100 * 1000)  /* 100 ms: TTLs move by this much at failover */

void preflight_check_nofile(struct preflight *pf)
{
	const struct conf *c = &pf->conf;
	uint64_t need = (uint64_t)c->maxclients + (uint64_t)c->lanes * PREFLIGHT_FDS_PER_LANE +
			PREFLIGHT_FDS_BASE;
	long nr_open = 0;
	char fix[PREFLIGHT_TEXT_BYTES];
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (preflight_read_long(pf, "/proc/sys/fs/nr_open", &nr_open) == 0 && (uint64_t)nr_open < need) {
		snprintf(fix, sizeof(fix), "sysctl -w fs.nr_open=%llu (persist it in /etc/sysctl.d/), "
			 "or lower maxclients", (unsigned long long)need);
		preflight_add(pf, "nofile", PREFLIGHT_FAIL, fix, "the kernel caps a process at %ld "
			      "open files (fs.nr_open); maxclients %u needs %llu", nr_open,
			      c->maxclients, (unsigned long long)need);
	} else if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
		snprintf(fix, sizeof(fix), "ulimit -n %llu before starting spindled by hand (the "
			 "systemd unit sets LimitNOFILE=1048576)", (unsigned long long)need);
		preflight_add(pf, "nofile", PREFLIGHT_WARN, fix, "this shell's open-file limit %llu "
			      "is below the %llu that maxclients %u needs", (unsigned long long)rl.rlim_cur,
			      (unsigned long long)need, c->maxclients);
	} else {
		preflight_add(pf, "nofile", PREFLIGHT_PASS, NULL, "open-file limit %llu covers "
			      "maxclients %u (%llu with the log's files)",
			      (unsigned long long)rl.rlim_cur, c->maxclients, (unsigned long long)need);
	}
}

void preflight_check_clock(struct preflight *pf)
{
	struct timex tx = { .modes = 0 };
	int state = adjtimex(&tx);
	const char *fix = "apt install chrony && systemctl enable --now chrony (or systemd-timesyncd); "
			  "timedatectl then says 'System clock synchronized: yes'";
	if (state < 0) {
		preflight_add(pf, "clock", PREFLIGHT_WARN, fix, "adjtimex: %s", strerror(errno));
	} else if (state == TIME_ERROR || (tx.status & STA_UNSYNC)) {
		preflight_add(pf, "clock", PREFLIGHT_WARN, fix, "not synchronised (adjtimex: %s): "
			      "leases assume clock rates within drift-ppm %u, and expiry times move "
			      "with the clock's offset when a lane's primary changes",
			      state == TIME_ERROR ? "TIME_ERROR" : "STA_UNSYNC", pf->conf.drift_ppm);
	} else if (tx.maxerror > CLOCK_MAXERROR_US_WARN) {
		preflight_add(pf, "clock", PREFLIGHT_WARN, fix, "synchronised, but the kernel's "
			      "maximum error is %ld ms", tx.maxerror / 1000);
	} else {
		preflight_add(pf, "clock", PREFLIGHT_PASS, NULL, "synchronised: estimated error %ld us, "
			      "maximum error %ld us, frequency correction %.1f ppm", tx.esterror,
			      tx.maxerror, (double)tx.freq / 65536.0);
	}
}

/* A ring with the flags every loop asks for (dataplane/loop/loop.c). */
static int io_uring_probe(void)
{
	struct io_uring ring;
	struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
					      IORING_SETUP_SUBMIT_ALL };
	int rc = io_uring_queue_init_params(8, &ring, &p);
	if (rc == 0)
		io_uring_queue_exit(&ring);
	return rc;
}

void preflight_check_io_uring(struct preflight *pf)
{
	long disabled = 0;
	struct utsname u;
	uname(&u);
	if (preflight_read_long(pf, "/proc/sys/kernel/io_uring_disabled", &disabled) == 0 && disabled != 0) {
		preflight_add(pf, "io_uring", PREFLIGHT_FAIL, "sysctl -w kernel.io_uring_disabled=0 "
			      "(persist it in /etc/sysctl.d/)", "io_uring is disabled "
			      "(kernel.io_uring_disabled=%ld)", disabled);
		return;
	}
	int rc = io_uring_probe();
	if (rc != 0)
		preflight_add(pf, "io_uring", PREFLIGHT_FAIL, "run Linux 6.1 or later (Debian 12's "
			      "kernel is)", "a ring with SINGLE_ISSUER | DEFER_TASKRUN cannot be set "
			      "up on kernel %s: %s", u.release, strerror(-rc));
	else
		preflight_add(pf, "io_uring", PREFLIGHT_PASS, NULL, "kernel %s sets up rings with "
			      "SINGLE_ISSUER | DEFER_TASKRUN", u.release);
}

/* Binds a socket of type to addr:port as a probe. Returns 0 or -errno. */
static int addr_probe(const char *addr, uint16_t port, int type)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		len = sizeof(*v4);
	} else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		len = sizeof(*v6);
	} else {
		return -EINVAL;
	}
	int fd = socket(ss.ss_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int rc = bind(fd, (struct sockaddr *)&ss, len) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

void preflight_check_client_address(struct preflight *pf)
{
	const struct conf *c = &pf->conf;
	char fix[PREFLIGHT_TEXT_BYTES];
	int rc = addr_probe(c->bind, c->port, SOCK_STREAM);
	if (rc == -EADDRNOTAVAIL) {
		preflight_add(pf, "client-address", PREFLIGHT_FAIL, "set bind to an address of this "
			      "host (ip -br addr)", "bind %s is not an address of this host", c->bind);
	} else if (rc == -EADDRINUSE) {
		snprintf(fix, sizeof(fix), "ss -ltnp 'sport = :%u' shows who listens; stop it or "
			 "change port", c->port);
		preflight_add(pf, "client-address", PREFLIGHT_WARN, fix, "%s port %u is in use "
			      "(a running spindled?)", c->bind, c->port);
	} else if (rc == -EACCES) {
		preflight_add(pf, "client-address", PREFLIGHT_WARN, "run spindled as root or with "
			      "CAP_NET_BIND_SERVICE", "port %u needs privileges this user lacks", c->port);
	} else if (rc != 0) {
		preflight_add(pf, "client-address", PREFLIGHT_FAIL, NULL, "cannot bind %s port %u: %s",
			      c->bind, c->port, strerror(-rc));
	} else {
		preflight_add(pf, "client-address", PREFLIGHT_PASS, NULL, "%s port %u is free",
			      c->bind, c->port);
	}
}

void preflight_check_repl_address(struct preflight *pf)
{
	const struct conf *c = &pf->conf;
	char fix[PREFLIGHT_TEXT_BYTES];
	bool vdev = strncmp(c->nic, "net_", 4) == 0;
	if (c->transport == CONF_TRANSPORT_NONE || (c->transport == CONF_TRANSPORT_DPDK && vdev)) {
		preflight_add(pf, "repl-address", PREFLIGHT_SKIP, NULL, "%s",
			      c->transport == CONF_TRANSPORT_NONE ? "transport is none"
								 : "a virtual device shares a kernel interface");
		return;
	}
	int rc = addr_probe(c->repl_ip, c->repl_udp_port, SOCK_DGRAM);
	bool local = rc != -EADDRNOTAVAIL;
	if (c->transport == CONF_TRANSPORT_UDP && !local) {
		preflight_add(pf, "repl-address", PREFLIGHT_FAIL, "give repl-ip an address of this "
			      "host's replication interface (ip -br addr)", "repl-ip %s is not an "
			      "address of this host", c->repl_ip);
	} else if (c->transport == CONF_TRANSPORT_UDP && rc != 0) {
		preflight_add(pf, "repl-address", PREFLIGHT_WARN, "ss -lunp shows who holds it",
			      "UDP %s:%u: %s", c->repl_ip, c->repl_udp_port, strerror(-rc));
	} else if (c->transport == CONF_TRANSPORT_DPDK && local) {
		snprintf(fix, sizeof(fix), "ip addr del %s/PREFIX dev IFACE (the DPDK port owns it)",
			 c->repl_ip);
		preflight_add(pf, "repl-address", PREFLIGHT_WARN, fix, "repl-ip %s is also on a "
			      "kernel interface: the kernel and the DPDK port would both answer for it",
			      c->repl_ip);
	} else {
		preflight_add(pf, "repl-address", PREFLIGHT_PASS, NULL, "repl-ip %s %s", c->repl_ip,
			      c->transport == CONF_TRANSPORT_UDP ? "is an address of this host"
								 : "belongs to the DPDK port alone");
	}
}
