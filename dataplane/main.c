/* spindled: set-up and launch. Reads the configuration, starts DPDK's EAL, builds one loop per
 * worker lcore with its client listener and lanes, runs them, and shuts down cleanly on
 * SIGTERM or SIGINT. Everything else lives in the modules. */
#define LOG_COMPONENT "spindled"
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <stdatomic.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/panic.h"
#include "cmd/cmd.h"
#include "conf/conf.h"
#include "ctl/ctl.h"
#include "kv/kv.h"
#include "lane/lane.h"
#include "loop/loop.h"
#include "log/log.h"
#include "net/net.h"
#include "uring/disk.h"
#include "dpdk/dpdk.h"
#include "frame/frame.h"
#include "lane/xport.h"
#include "udp/udp.h"

#define EAL_ARGS_MAX 64
/* Kernel UDP transport: socket buffers that hold a burst of large entries' datagrams. */
#define NODE_UDP_SOCK_BUF_BYTES (8u << 20)
#define SHUTDOWN_TURNS_MAX 100000

struct node;
static struct node *node_the;

/* What one loop's thread sets up, runs and tears down. */
struct node_loop {
	struct node *node;
	uint32_t index;
	struct loop *loop;
	struct net_loop *net;
	struct cmd_loop *cmd;
	struct uring_disk *disk;
	struct xport *xport;
	unsigned lcore;
	int rc;
};

struct node {
	struct conf conf;
	char config_file[CONF_PATH_BYTES_MAX];
	uint32_t loops_count;
	struct node_loop loops[LANE_LOOPS_MAX];
	struct loop *loop_ptrs[LANE_LOOPS_MAX];
	struct lane_set *lanes;
	struct cmd_server *srv;
	struct log_datadir *datadir;
	struct dpdk_port *dpdk;
	struct ctl_link *ctl;         /* on loop 0, when a control socket is configured */
	atomic_uint serving;          /* loops that accept clients */
	atomic_bool stopping;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: spindled [--config FILE] [--KEY VALUE]... [-- EAL-ARGS...]\n"
		"       spindled --check-config [--config FILE] [--KEY VALUE]...\n"
		"       spindled --help-config | --version | --help\n"
		"\n"
		"Every configuration key can be given as --KEY VALUE and overrides the file,\n"
		"e.g. --port 7000 --loops 2 --lanes 16 --durability memory --data-dir DIR.\n"
		"Arguments after -- go to DPDK's EAL unchanged (eal-args in the file does the same).\n");
}

/* Parses the command line into node->conf. Returns 0 to run, 1 to exit with success, or a
 * negative errno. *eal_at is the index of the first EAL argument (argc if none). */
static int node_args(struct node *node, int argc, char **argv, bool *check_only, int *eal_at)
{
	char err[CONF_ERR_BYTES_MAX];
	conf_defaults(&node->conf);
	*eal_at = argc;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			snprintf(node->config_file, sizeof(node->config_file), "%s", argv[i + 1]);
			if (conf_load_file(&node->conf, argv[i + 1], err, sizeof(err)) != 0) {
				fprintf(stderr, "spindled: %s\n", err);
				return -EINVAL;
			}
			break;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			*eal_at = i + 1;
			break;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 1;
		} else if (strcmp(a, "--version") == 0) {
			printf("spindled %s\n", SPINDLE_VERSION);
			return 1;
		} else if (strcmp(a, "--help-config") == 0) {
			conf_reference_write(stdout);
			return 1;
		} else if (strcmp(a, "--check-config") == 0) {
			*check_only = true;
		} else if (strcmp(a, "--config") == 0) {
			i++;
		} else if (strncmp(a, "--", 2) == 0 && i + 1 < argc) {
			if (conf_set(&node->conf, a + 2, argv[++i], err, sizeof(err)) != 0) {
				fprintf(stderr, "spindled: %s: %s\n", a, err);
				return -EINVAL;
			}
		} else {
			fprintf(stderr, "spindled: unexpected argument '%s'\n", a);
			usage(stderr);
			return -EINVAL;
		}
	}
	if (conf_validate(&node->conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "spindled: configuration: %s\n", err);
		return -EINVAL;
	}
	return 0;
}

static bool hugepages_free(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long free_pages = 0;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "HugePages_Free: %ld", &free_pages) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return free_pages >= 64;
}

/* EAL arguments: from the command line after --, else built from the configuration
 * (conf_eal_args_build: cores, NIC, memory from their keys, defaults for a shared host,
 * then eal-args). The text goes to store; -1 with the reason logged when it cannot. */
static int node_eal_args(struct node *node, int argc, char **argv, int eal_at, char **out,
			 char *store, size_t store_len)
{
	int n = 0;
	out[n++] = argv[0];
	if (eal_at < argc) {
		for (int i = eal_at; i < argc && n < EAL_ARGS_MAX - 1; i++)
			out[n++] = argv[i];
		out[n] = NULL;
		return n;
	}
	struct conf_eal_host host = { .cpus = sysconf(_SC_NPROCESSORS_ONLN),
				      .hugepages_free = hugepages_free() };
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
		for (int cpu = 0; cpu <= CONF_CPU_ID_MAX && cpu < CPU_SETSIZE; cpu++)
			if (CPU_ISSET(cpu, &allowed))
				host.allowed[cpu / 64] |= 1ull << (cpu % 64);
	if (conf_eal_args_build(&node->conf, &host, store, store_len) != 0) {
		LOG_ERROR("DPDK EAL arguments: %s", store);
		return -1;
	}
	LOG_INFO("DPDK EAL arguments: %s", store);
	char *save = NULL;
	for (char *t = strtok_r(store, " ", &save); t && n < EAL_ARGS_MAX - 1; t = strtok_r(NULL, " ", &save))
		out[n++] = t;
	out[n] = NULL;
	return n;
}

static int node_loops_create(struct node *node)
{
	unsigned lcore;
	uint32_t i = 0;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (i == node->conf.loops)
			break;
		struct loop_config lc = { .id = i, .spin = node->conf.spin,
					  .idle_sleep_us_max = node->conf.idle_sleep_us };
		struct node_loop *nl = &node->loops[i];
		nl->node = node;
		nl->index = i;
		nl->loop = loop_create(&lc);
		if (nl->loop == NULL)
			return -ENOMEM;
		node->loop_ptrs[i] = nl->loop;
		nl->lcore = lcore;
		i++;
	}
	if (i < node->conf.loops) {
		LOG_ERROR("%u loops need %u EAL worker lcores, got %u (give --lcores with one more "
			  "lcore than loops)", node->conf.loops, node->conf.loops, i);
		return -EINVAL;
	}
	node->loops_count = i;
	return 0;
}

static void node_net_config(const struct conf *c, struct net_config *nc)
{
	net_config_default(nc);
	nc->bind_addr = c->bind;
	nc->port = c->port;
	nc->clients_max = c->maxclients;
	nc->recv_buf_bytes = c->recv_buffer_bytes;
	nc->recv_bufs = c->recv_buffers;
	nc->output_bytes_max = c->client_output_max_bytes;
	nc->limits.bulk_bytes_max = c->proto_max_bulk_bytes;
	nc->limits.query_bytes_max = c->client_query_max_bytes;
}

/* ---- The replication transport ---- */

static uint32_t node_ip(const char *text)
{
	struct in_addr a;
	if (inet_pton(AF_INET, text, &a) != 1)
		return 0;
	return ntohl(a.s_addr);
}

static void node_mac(const char *text, uint8_t mac[6])
{
	unsigned b[6] = { 0 };
	sscanf(text, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
}

static struct node_loop *node_loop_of(struct loop *loop);

/* The DPDK port, after EAL: one queue per loop where the device has them. */
static int node_dpdk_port(struct node *node)
{
	const struct conf *c = &node->conf;
	struct dpdk_port_config pc = { .port_id = 0, .queues = (uint16_t)node->loops_count,
				       .rx_desc = (uint16_t)c->nic_rx_desc,
				       .tx_desc = (uint16_t)c->nic_tx_desc, .pool_mbufs = c->mbufs,
				       .cluster_id = c->cluster_id, .self_node = c->node_id,
				       .self_ip = node_ip(c->repl_ip), .port_base = c->repl_udp_port,
				       .lanes = (uint16_t)c->lanes, .mtu = c->mtu,
				       .fault_seed = time_mono_ns() };
	for (uint32_t i = 0; i < c->peers_count; i++) {
		struct dpdk_peer *p = &pc.peers[pc.peers_count++];
		p->node = c->peers[i].node_id;
		p->ip = node_ip(c->peers[i].ip);
		p->mac_static = c->peers[i].mac[0] != '\0';
		if (p->mac_static)
			node_mac(c->peers[i].mac, p->mac);
	}
	node->dpdk = dpdk_port_create(&pc);
	if (node->dpdk == NULL) {
		LOG_ERROR("no DPDK port for replication: give the NIC in nic (a PCI address, or a "
			  "virtual device such as net_af_packet0,iface=IF) or in eal-args");
		return -ENODEV;
	}
	struct dpdk_port_info info;
	dpdk_port_info_get(node->dpdk, &info);
	LOG_INFO("replication port: %u rx queues, %s, mtu %u, %u mbufs", info.rx_queues,
		 info.steered ? "lanes steered to loops by rte_flow" : "software dispatch between loops",
		 info.mtu, info.pool_mbufs);
	return 0;
}

/* Software dispatch: a frame for another loop's lane crosses over on that loop's ring. */
static void node_dpdk_input(struct loop *loop, void *arg)
{
	struct node_loop *nl = node_loop_of(loop);
	dpdk_xport_input(nl->xport, arg);
}

static int node_dpdk_dispatch(void *ctx, uint16_t queue, struct rte_mbuf *frame)
{
	struct node *node = ctx;
	return loop_msg_send(node->loops[queue].loop, node_dpdk_input, frame);
}

static int node_xport_create(struct node_loop *nl)
{
	struct node *node = nl->node;
	const struct conf *c = &node->conf;
	if (c->transport == CONF_TRANSPORT_NONE)
		return 0;
	if (c->transport == CONF_TRANSPORT_DPDK) {
		nl->xport = dpdk_xport_create(node->dpdk, (uint16_t)nl->index, lane_xport_recv, node->lanes);
	} else {
		struct udp_xport_config uc = { .loop = nl->loop, .cluster_id = c->cluster_id,
					       .self_node = c->node_id, .self_ip = node_ip(c->repl_ip),
					       .port_base = c->repl_udp_port, .lanes = (uint16_t)c->lanes,
					       .loops = (uint16_t)node->loops_count,
					       .loop_index = (uint16_t)nl->index, .mtu = c->mtu,
					       .sock_buf_bytes = NODE_UDP_SOCK_BUF_BYTES,
					       .fault_seed = time_mono_ns() + nl->index };
		for (uint32_t i = 0; i < c->peers_count; i++)
			uc.peers[uc.peers_count++] = (struct udp_peer){ .node = c->peers[i].node_id,
									.ip = node_ip(c->peers[i].ip) };
		nl->xport = udp_xport_create(&uc, lane_xport_recv, node->lanes);
	}
	if (nl->xport == NULL)
		return -ENODEV;
	lane_set_xport_set(node->lanes, nl->loop, nl->xport);
	return 0;
}

/* A lane stopped for good: fail-stop. Nothing more is acknowledged; the operator restarts the
 * node, which recovers from its disk (and later its peers). */
static void node_lane_fatal(void *ctx, uint32_t lane, int err, const char *why)
{
	(void)ctx;
	LOG_ERROR("FATAL lane %u: %s (%s); stopping the node", lane, why, strerror(err < 0 ? -err : err));
	_exit(3);
}

static struct node_loop *node_loop_of(struct loop *loop)
{
	return &node_the->loops[loop_id(loop)];
}

static int node_build(struct node *node)
{
	int rc = node_loops_create(node);
	if (rc != 0)
		return rc;
	const struct conf *c = &node->conf;
	if (c->transport == CONF_TRANSPORT_DPDK) {
		rc = node_dpdk_port(node);
		if (rc != 0)
			return rc;
		if (node->loops_count > 1)
			dpdk_port_dispatch_set(node->dpdk, node_dpdk_dispatch, node);
	}
	struct lane_set_config lsc = {
		.lanes = c->lanes, .loops = node->loops_count,
		.durable = c->durability == CONF_DURABILITY_DISK,
		.data_dir = c->data_dir, .node_id = c->node_id, .segment_bytes = c->segment_bytes,
		.snapshot_every_bytes = c->snapshot_every_bytes, .lease_ms = c->lease_ms,
		.heartbeat_ms = c->heartbeat_ms, .drift_ppm = c->drift_ppm,
		.bootstrap_primary = c->bootstrap_primary,
		.bootstrap_control = c->bootstrap == CONF_BOOTSTRAP_CONTROL,
		.fatal = node_lane_fatal, .fatal_ctx = node,
	};
	for (uint32_t i = 0; i < c->peers_count; i++)
		lsc.peers[lsc.peers_count++] = c->peers[i].node_id;
	if (lsc.peers_count > 0 && !lsc.durable) {
		LOG_ERROR("replication needs durability disk (peers are configured)");
		return -EINVAL;
	}
	node->lanes = lane_set_create(&lsc, node->loop_ptrs);
	node->srv = cmd_server_create(&node->conf, node->config_file, node->lanes, node->loops_count);
	if (node->lanes == NULL || node->srv == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < node->loops_count; i++) {
		node->loops[i].cmd = cmd_loop_create(node->srv, node->loops[i].loop);
		if (node->loops[i].cmd == NULL)
			return -ENOMEM;
	}
	return 0;
}

/* Loops whose clients are not all gone yet. Every loop keeps turning until this is zero,
 * because a client of one loop may wait for a request running on another's lane. */
static atomic_uint node_draining;

/* On each loop: close its clients, then run until every loop's clients are gone. */
static void node_loop_drain(struct node_loop *nl)
{
	lane_set_quiesce(nl->node->lanes, nl->loop);
	if (nl->net != NULL)
		net_loop_shutdown(nl->net);
	bool mine_done = false;
	for (int i = 0; i < SHUTDOWN_TURNS_MAX; i++) {
		if (!mine_done && (nl->net == NULL || net_loop_idle(nl->net))) {
			mine_done = true;
			atomic_fetch_sub(&node_draining, 1);
		}
		if (mine_done && atomic_load(&node_draining) == 0)
			return;
		if (loop_run_once(nl->loop) == 0)
			usleep(100);
	}
	LOG_WARN("loop %u: clients still open at shutdown", nl->index);
	if (!mine_done)
		atomic_fetch_sub(&node_draining, 1);
}

/* Recovers this loop's lanes, then opens its client listener once every lane of the node
 * serves, so that no client ever sees a lane still loading. */
static int node_loop_start(struct node_loop *nl)
{
	struct node *node = nl->node;
	struct log_disk *disk = NULL;
	if (node->conf.durability == CONF_DURABILITY_DISK) {
		nl->disk = uring_disk_create(nl->loop);
		if (nl->disk == NULL)
			return -ENOMEM;
		disk = uring_disk_io(nl->disk);
	}
	int rc = node_xport_create(nl);
	if (rc != 0) {
		LOG_ERROR("loop %u: no replication transport", nl->index);
		return rc;
	}
	lane_set_attach_loop(node->lanes, nl->loop, disk);
	while (lane_set_loading(node->lanes) > 0 && !atomic_load(&node->stopping)) {
		if (loop_run_once(nl->loop) == 0)
			usleep(200);
	}
	struct net_config nc;
	node_net_config(&node->conf, &nc);
	struct net_handler h = cmd_net_handler(nl->cmd);
	nl->net = net_loop_create(nl->loop, &nc, &h);
	if (nl->net == NULL)
		return -EADDRINUSE;
	cmd_loop_net_set(nl->cmd, nl->net);
	if (nl->index == 0 && node->conf.control_socket[0] != '\0') {
		struct ctl_link_config lc = { .path = node->conf.control_socket,
					      .node_id = node->conf.node_id,
					      .heartbeat_ms = node->conf.heartbeat_ms, .loop = nl->loop,
					      .loops = node->loop_ptrs, .loops_count = node->loops_count,
					      .lanes = node->lanes };
		node->ctl = ctl_link_create(&lc);
		if (node->ctl == NULL)
			return -EADDRINUSE;
	}
	atomic_fetch_add(&node->serving, 1);
	return 0;
}

static int node_loop_main(void *arg)
{
	struct node_loop *nl = arg;
	nl->rc = node_loop_start(nl);
	if (nl->rc == 0)
		loop_run(nl->loop);
	node_loop_drain(nl);
	if (nl->index == 0 && nl->node->ctl != NULL) {
		ctl_link_destroy(nl->node->ctl);
		nl->node->ctl = NULL;
	}
	lane_set_detach_loop(nl->node->lanes, nl->loop);
	if (nl->xport != NULL) {
		/* The transport frees itself once the loop has handed back what is in flight. */
		nl->xport->ops->destroy(nl->xport);
		for (int i = 0; i < 100; i++)
			loop_run_once(nl->loop);
		nl->xport = NULL;
	}
	if (nl->disk != NULL)
		uring_disk_destroy(nl->disk);
	nl->disk = NULL;
	return nl->rc;
}

static void node_stop(struct node *node)
{
	atomic_store(&node->stopping, true);
	for (uint32_t i = 0; i < node->loops_count; i++)
		loop_stop(node->loops[i].loop);
}

/* Runs the loops until a signal; reports readiness once every loop serves. */
static int node_run(struct node *node, sigset_t *signals)
{
	atomic_store(&node_draining, node->loops_count);
	for (uint32_t i = 0; i < node->loops_count; i++)
		rte_eal_remote_launch(node_loop_main, &node->loops[i], node->loops[i].lcore);
	bool ready = false;
	int rc = 0;
	for (;;) {
		struct timespec wait = { .tv_sec = 0, .tv_nsec = 100 * 1000 * 1000 };
		int sig = sigtimedwait(signals, NULL, &wait);
		if (sig > 0) {
			LOG_INFO("signal %d: shutting down", sig);
			break;
		}
		bool failed = false;
		for (uint32_t i = 0; i < node->loops_count; i++)
			failed |= node->loops[i].rc != 0;
		if (failed) {
			LOG_ERROR("a loop could not start; shutting down");
			rc = 1;
			break;
		}
		if (!ready && atomic_load(&node->serving) == node->loops_count) {
			ready = true;
			LOG_INFO("ready: port=%u loops=%u lanes=%u durability=%s", node->conf.port,
				 node->loops_count, node->conf.lanes,
				 node->conf.durability == CONF_DURABILITY_DISK ? "disk" : "memory");
		}
	}
	node_stop(node);
	rte_eal_mp_wait_lcore();
	return rc;
}

static void node_destroy(struct node *node)
{
	for (uint32_t i = 0; i < node->loops_count; i++) {
		/* A loop whose clients would not close in time keeps them: the process exits. */
		if (node->loops[i].net != NULL && net_loop_idle(node->loops[i].net))
			net_loop_destroy(node->loops[i].net);
		cmd_loop_destroy(node->loops[i].cmd);
	}
	cmd_server_destroy(node->srv);
	lane_set_destroy(node->lanes);
	for (uint32_t i = 0; i < node->loops_count; i++)
		loop_destroy(node->loops[i].loop);
	if (node->dpdk != NULL)
		dpdk_port_destroy(node->dpdk);
	if (node->datadir != NULL)
		log_datadir_close(node->datadir);
}

/* The lane count is fixed for a cluster's life (keys are placed by it): the data directory
 * records it at creation and a start with another count is refused, not served wrongly. */
static int node_lanes_check(const struct node *node)
{
	char path[CONF_PATH_BYTES_MAX + 16];
	snprintf(path, sizeof(path), "%s/LANES", node->conf.data_dir);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		f = fopen(path, "w");
		if (f == NULL || fprintf(f, "%u\n", node->conf.lanes) < 0 || fflush(f) != 0 ||
		    fsync(fileno(f)) != 0) {
			LOG_ERROR("cannot write %s: %s", path, strerror(errno));
			if (f != NULL)
				fclose(f);
			return -EIO;
		}
		fclose(f);
		return 0;
	}
	unsigned lanes = 0;
	int n = fscanf(f, "%u", &lanes);
	fclose(f);
	if (n != 1 || lanes != node->conf.lanes) {
		LOG_ERROR("data directory %s was created with %u lanes but lanes is %u: the lane "
			  "count is fixed for the cluster's life (keys are placed by it); start with "
			  "lanes %u", node->conf.data_dir, lanes, node->conf.lanes, lanes);
		return -EINVAL;
	}
	return 0;
}

static int node_datadir_open(struct node *node)
{
	if (node->conf.durability != CONF_DURABILITY_DISK)
		return 0;
	char err[256];
	int rc = log_datadir_open(node->conf.data_dir, &node->datadir, err, sizeof(err));
	if (rc != 0) {
		LOG_ERROR("data directory %s: %s", node->conf.data_dir, err);
		return rc;
	}
	return node_lanes_check(node);
}

#ifdef SPINDLE_FAULT_HOOKS
/* spindled-faults only: SPINDLE_FRAME_VERSION makes this node speak another replication frame
 * version, as a node of another release would (tests/integration/upgrade). */
static int node_frame_version_env(void)
{
	const char *v = getenv("SPINDLE_FRAME_VERSION");
	if (v == NULL)
		return 0;
	char *end;
	unsigned long n = strtoul(v, &end, 10);
	if (v[0] == '\0' || *end != '\0' || n > UINT8_MAX || frame_version_set((unsigned)n) != 0) {
		LOG_ERROR("SPINDLE_FRAME_VERSION: '%s' is not a frame version (1-255)", v);
		return -EINVAL;
	}
	LOG_WARN("speaking replication frame version %u (SPINDLE_FRAME_VERSION, a test build)",
		 frame_version_get());
	return 0;
}
#endif

int main(int argc, char **argv)
{
	static struct node node;
	node_the = &node;
	bool check_only = false;
	int eal_at;
	log_process_name_set("spindled");
	int rc = node_args(&node, argc, argv, &check_only, &eal_at);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	enum log_level level;
	if (log_level_parse(node.conf.log_level, &level) != 0) {
		fprintf(stderr, "spindled: log-level: '%s' is not debug, info, warn or error\n", node.conf.log_level);
		return 2;
	}
	log_level_min = level;
#ifdef SPINDLE_FAULT_HOOKS
	if (node_frame_version_env() != 0)
		return 2;
#endif
	if (check_only) {
		conf_dump(&node.conf, stdout);
		return 0;
	}
	/* Signals are taken by the main thread only: block them before EAL starts threads. */
	sigset_t signals;
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	char *eal_argv[EAL_ARGS_MAX];
	static char eal_store[CONF_EAL_BYTES_MAX + 8192];
	int eal_argc = node_eal_args(&node, argc, argv, eal_at, eal_argv, eal_store, sizeof(eal_store));
	if (eal_argc < 0)
		return 2;
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		LOG_ERROR("DPDK EAL initialisation failed: %s", rte_strerror(rte_errno));
		return 1;
	}
	kv_seed_set(((uint64_t)getpid() << 32) ^ time_mono_ns());
	rc = node_datadir_open(&node);
	if (rc == 0)
		rc = node_build(&node);
	if (rc != 0) {
		LOG_ERROR("start-up failed: %s", strerror(-rc));
		node_destroy(&node);
		rte_eal_cleanup();
		return 1;
	}
	rc = node_run(&node, &signals);
	node_destroy(&node);
	rte_eal_cleanup();
	LOG_INFO("stopped");
	return rc;
}
