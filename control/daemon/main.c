/* spindle-control: set-up and launch. Reads the configuration, locks the data directory,
 * builds the loop (dataplane/loop: one io_uring, no DPDK EAL), the management socket, the
 * dataplane link, the admin socket and the metrics endpoint, recovers the control store and
 * starts the control group on it, then runs until SIGTERM or SIGINT. The modules do the
 * rest (ctld.h). */
#define LOG_COMPONENT "control"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/panic.h"
#include "daemon/ctld.h"
#include "log/log.h"
#include "uring/disk.h"

#define MAIN_CLOSE_WAIT_MS 2000

struct main_ctx {
	struct ctld d;
	struct log_datadir *datadir;
	struct uring_disk *udisk;
	struct loop_timer tick;
	struct loop_poller store_poller, flusher;
	struct ctld_watch sig_watch;
	int sig_fd;
	bool closed;
};

void ctld_fatal(struct ctld *d, int err, const char *why)
{
	d->fatal = true;
	LOG_ERROR("FATAL: %s (%s); stopping (fail-stop: restart this daemon, it recovers from its "
		  "disk and its peers)", why, strerror(err < 0 ? -err : err));
	_exit(3);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: spindle-control [--config FILE] [--KEY VALUE]...\n"
		"       spindle-control --check-config [--config FILE] [--KEY VALUE]...\n"
		"       spindle-control --help-config | --version | --help\n"
		"\n"
		"Every configuration key can be given as --KEY VALUE and overrides the file;\n"
		"`--member \"ID IP:PORT\"` adds a member. --help-config lists the keys.\n");
}

/* Returns 0 to run, 1 to exit with success, or -EINVAL. */
static int main_args(struct ctld_conf *c, int argc, char **argv, bool *check_only)
{
	char err[CTLD_CONF_ERR_BYTES_MAX];
	ctld_conf_defaults(c);
	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 &&
		    ctld_conf_load_file(c, argv[i + 1], err, sizeof(err)) != 0) {
			fprintf(stderr, "spindle-control: %s\n", err);
			return -EINVAL;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 1;
		} else if (strcmp(a, "--version") == 0) {
			printf("spindle-control %s\n", SPINDLE_VERSION);
			return 1;
		} else if (strcmp(a, "--help-config") == 0) {
			ctld_conf_reference_write(stdout);
			return 1;
		} else if (strcmp(a, "--check-config") == 0) {
			*check_only = true;
		} else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
			i++;
		} else if (strncmp(a, "--", 2) == 0 && i + 1 < argc) {
			if (ctld_conf_set(c, a + 2, argv[++i], err, sizeof(err)) != 0) {
				fprintf(stderr, "spindle-control: %s: %s\n", a, err);
				return -EINVAL;
			}
		} else {
			fprintf(stderr, "spindle-control: unexpected argument '%s'\n", a);
			usage(stderr);
			return -EINVAL;
		}
	}
	if (ctld_conf_validate(c, err, sizeof(err)) != 0) {
		fprintf(stderr, "spindle-control: configuration: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

/* ---- The store's callbacks ---- */

static void main_store_opened(void *ctx, int err, const char *why, const struct repl_boot *boot)
{
	struct ctld *d = ctx;
	if (err != 0)
		ctld_fatal(d, err, why);
	if (ctld_group_start(d, boot) != 0)
		ctld_fatal(d, -EINVAL, "cannot start the control group from the recovered log");
	LOG_INFO("ready: node %u, management %s, %s", d->conf.node_id, d->conf.mgmt_addr,
		 d->state->n_lanes ? "bootstrapped" : "not bootstrapped yet");
}

static int main_store_installed(void *ctx, const struct repl_snapshot_meta *m,
				const uint8_t *bytes, size_t len)
{
	struct ctld *d = ctx;
	struct ctl_state *s = malloc(sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	int rc = ctl_state_decode(bytes, len, s);
	if (rc == 0) {
		memcpy(d->state, s, sizeof(*s));
		d->applied_index = m->index;
		d->group_members = m->members;
		d->pushed_ms = 0;
	}
	free(s);
	return rc;
}

static void main_store_fatal(void *ctx, int err, const char *why)
{
	ctld_fatal(ctx, err, why);
}

/* ---- The loop's work ---- */

static void main_tick(struct loop *loop, struct loop_timer *t)
{
	struct main_ctx *m = t->arg;
	struct ctld *d = &m->d;
	uint64_t now = ctld_now_ms();
	ctld_link_tick(d, now);
	ctld_group_tick(d, now);
	if (d->admin != NULL)
		ctld_admin_tick(d->admin, now);
	loop_timer_start(loop, t, CTLD_TICK_MS * NS_PER_MS, main_tick, m);
}

static int main_store_work(void *arg)
{
	struct main_ctx *m = arg;
	return m->d.store != NULL ? ctld_store_work(m->d.store) : 0;
}

/* End of turn: everything proposed or appended this turn goes out and to disk together. */
static int main_flush(void *arg)
{
	struct main_ctx *m = arg;
	if (m->d.r != NULL)
		repl_flush(m->d.r);
	return m->d.store != NULL ? ctld_store_flush(m->d.store) : 0;
}

static void main_signal(struct ctld_watch *w, int revents)
{
	(void)revents;
	struct main_ctx *m = container_of(w, struct main_ctx, sig_watch);
	struct signalfd_siginfo si;
	if (read(m->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		LOG_INFO("signal %u: shutting down", si.ssi_signo);
		loop_stop(m->d.loop);
	}
}

static int main_signals(struct main_ctx *m)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	m->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m->sig_fd < 0)
		return -errno;
	ctld_watch_start(&m->sig_watch, m->d.loop, m->sig_fd, POLLIN, true, main_signal);
	return 0;
}

/* ---- Set-up and teardown ---- */

static int main_build(struct main_ctx *m)
{
	struct ctld *d = &m->d;
	char err[256], path[CTLD_PATH_BYTES_MAX + 16];
	if (log_datadir_open(d->conf.data_dir, &m->datadir, err, sizeof(err)) != 0)
		return -EINVAL;
	struct loop_config lc = { .id = 0, .idle_spin_us = 50,
				  .idle_sleep_us_max = CTLD_TICK_MS * 1000 };
	d->loop = loop_create(&lc);
	d->state = malloc(sizeof(*d->state));
	if (d->loop == NULL || d->state == NULL || (m->udisk = uring_disk_create(d->loop)) == NULL)
		return -ENOMEM;
	ctl_state_init(d->state);
	d->leader_node = REPL_NODE_NONE;
	d->start_ms = ctld_now_ms();
	int rc = ctld_link_init(d);
	if (rc == 0)
		rc = ctld_mgmt_init(d);
	if (rc == 0)
		rc = ctld_lead_create(d);
	if (rc == 0)
		rc = main_signals(m);
	if (rc != 0)
		return rc;
	if (d->conf.admin_socket[0])
		snprintf(path, sizeof(path), "%s", d->conf.admin_socket);
	else
		snprintf(path, sizeof(path), "%s/admin.sock", d->conf.data_dir);
	if ((d->admin = ctld_admin_create(d, path)) == NULL)
		return -EADDRINUSE;
	if (d->conf.metrics_addr[0] && (d->http = ctld_http_create(d, d->conf.metrics_addr)) == NULL)
		return -EADDRINUSE;
	struct ctld_store_config sc = { .dir = d->conf.data_dir,
					.segment_bytes = d->conf.segment_bytes,
					.snapshot_every_bytes = d->conf.snapshot_every_bytes };
	for (uint32_t i = 0; i < d->conf.members_count; i++)
		sc.members.voters |= 1ull << d->conf.members[i].id;
	struct ctld_store_callbacks cbs = { .ctx = d, .opened = main_store_opened,
					    .installed = main_store_installed,
					    .fatal = main_store_fatal };
	d->disk = uring_disk_io(m->udisk);
	if ((d->store = ctld_store_open(&sc, d->disk, &cbs, d->state)) == NULL)
		return -EINVAL;
	loop_poller_add(d->loop, &m->store_poller, "store", main_store_work, m);
	loop_flusher_add(d->loop, &m->flusher, "flush", main_flush, m);
	loop_timer_start(d->loop, &m->tick, CTLD_TICK_MS * NS_PER_MS, main_tick, m);
	return 0;
}

static void main_closed(void *arg)
{
	((struct main_ctx *)arg)->closed = true;
}

static void main_teardown(struct main_ctx *m)
{
	struct ctld *d = &m->d;
	if (d->store != NULL && d->loop != NULL) {
		ctld_store_close(d->store, main_closed, m);
		uint64_t deadline = ctld_now_ms() + MAIN_CLOSE_WAIT_MS;
		while (!m->closed && ctld_now_ms() < deadline)
			if (loop_run_once(d->loop) == 0)
				usleep(1000);
	}
	ctld_group_stop(d);
	ctld_admin_destroy(d->admin);
	ctld_http_destroy(d->http);
	ctld_store_destroy(d->store);
	ctld_lead_destroy(d);
	ctld_mgmt_fini(d);
	ctld_link_fini(d);
	if (m->udisk != NULL)
		uring_disk_destroy(m->udisk);
	if (d->loop != NULL)
		loop_destroy(d->loop);
	if (m->sig_fd >= 0)
		close(m->sig_fd);
	free(d->state);
	if (m->datadir != NULL)
		log_datadir_close(m->datadir);
}

int main(int argc, char **argv)
{
	static struct main_ctx m;
	bool check_only = false;
	log_process_name_set("spindle-control");
	int rc = main_args(&m.d.conf, argc, argv, &check_only);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	enum log_level level;
	if (log_level_parse(m.d.conf.log_level, &level) != 0) {
		fprintf(stderr, "spindle-control: log-level '%s' is not debug, info, warn or error\n",
			m.d.conf.log_level);
		return 2;
	}
	log_level_min = level;
	if (check_only) {
		ctld_conf_dump(&m.d.conf, stdout);
		return 0;
	}
	m.sig_fd = -1;
	m.d.link.fd = -1;
	m.d.mgmt.fd = -1;
	rc = main_build(&m);
	if (rc != 0) {
		LOG_ERROR("start-up failed: %s", strerror(-rc));
		main_teardown(&m);
		return 1;
	}
	loop_run(m.d.loop);
	main_teardown(&m);
	LOG_INFO("stopped");
	return 0;
}
