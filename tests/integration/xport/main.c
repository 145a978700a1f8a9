/* xport_peer's entry: options, one thread (DPDK lcore or pthread) per loop, and the order of
 * set-up, run, report and tear-down (see peer.h).
 *
 *   xport_peer [EAL arguments] -- --driver dpdk|udp --role send|recv|ping|echo --node N
 *       --ip A.B.C.D --peer N=A.B.C.D ... [--to N] [--lanes 4] [--loops 1] [--mtu 1500]
 *       [--count N] [--expect N] [--sizes 100,4096,...] [--window W] [--window-bytes B]
 *       [--port-base 17500]
 *       [--duration-ms 20000] [--idle-exit-ms 1000] [--linger-ms 300]
 *       [--reasm-timeout-ms 250] [--seed S] [--cluster C]
 *
 * With --driver udp the EAL arguments are ignored (and may be left out with the "--"). */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "frame/frame.h"
#include "peer.h"

static void usage(void)
{
	fprintf(stderr, "usage: xport_peer [EAL args] -- --driver dpdk|udp --role "
			"send|recv|ping|echo --node N --ip ADDR --peer N=ADDR ... (see main.c)\n");
	exit(2);
}

static uint32_t parse_ip(const char *s)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		usage();
	return ntohl(a.s_addr);
}

static uint64_t parse_num(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	if (*s == '\0' || *end != '\0')
		usage();
	return v;
}

static void parse_sizes(struct peer_opts *o, char *s)
{
	o->sizes_count = 0;
	for (char *tok = strtok(s, ","); tok != NULL; tok = strtok(NULL, ",")) {
		uint64_t v = parse_num(tok);
		if (o->sizes_count == PEER_SIZES_MAX || v > XPORT_MSG_BYTES_MAX)
			usage();
		o->sizes[o->sizes_count++] = (uint32_t)v;
	}
}

static void parse_peer(struct peer_opts *o, const char *s)
{
	const char *eq = strchr(s, '=');
	if (eq == NULL || o->peers_count == XPORT_NODES_MAX)
		usage();
	char node[16];
	snprintf(node, sizeof(node), "%.*s", (int)(eq - s), s);
	o->peer_node[o->peers_count] = (uint16_t)parse_num(node);
	o->peer_ip[o->peers_count++] = parse_ip(eq + 1);
}

static const struct option long_opts[] = {
	{ "driver", 1, 0, 'd' }, { "role", 1, 0, 'r' }, { "node", 1, 0, 'n' },
	{ "ip", 1, 0, 'i' }, { "peer", 1, 0, 'p' }, { "to", 1, 0, 't' },
	{ "lanes", 1, 0, 'l' }, { "loops", 1, 0, 'L' }, { "mtu", 1, 0, 'm' },
	{ "count", 1, 0, 'c' }, { "expect", 1, 0, 'e' }, { "sizes", 1, 0, 's' },
	{ "window", 1, 0, 'w' }, { "window-bytes", 1, 0, 'W' }, { "port-base", 1, 0, 'P' }, { "duration-ms", 1, 0, 'D' },
	{ "idle-exit-ms", 1, 0, 'I' }, { "linger-ms", 1, 0, 'G' },
	{ "reasm-timeout-ms", 1, 0, 'R' }, { "seed", 1, 0, 'S' }, { "cluster", 1, 0, 'C' },
	{ 0, 0, 0, 0 },
};

static void parse_opt(struct peer_opts *o, int c, char *arg)
{
	switch (c) {
	case 'd': o->driver = strcmp(arg, "udp") == 0 ? PEER_UDP : PEER_DPDK; break;
	case 'r':
		o->role = strcmp(arg, "send") == 0 ? PEER_SEND : strcmp(arg, "recv") == 0 ? PEER_RECV
			: strcmp(arg, "ping") == 0 ? PEER_PING : strcmp(arg, "echo") == 0 ? PEER_ECHO
			: (usage(), PEER_SEND);
		break;
	case 'n': o->node = (uint16_t)parse_num(arg); break;
	case 'i': o->self_ip = parse_ip(arg); break;
	case 'p': parse_peer(o, arg); break;
	case 't': o->to = (uint16_t)parse_num(arg); break;
	case 'l': o->lanes = (uint16_t)parse_num(arg); break;
	case 'L': o->loops = (uint16_t)parse_num(arg); break;
	case 'm': o->mtu = (uint32_t)parse_num(arg); break;
	case 'c': o->count = parse_num(arg); break;
	case 'e': o->expect = parse_num(arg); break;
	case 's': parse_sizes(o, arg); break;
	case 'w': o->window = (uint32_t)parse_num(arg); break;
	case 'W': o->window_bytes = parse_num(arg); break;
	case 'P': o->port_base = (uint16_t)parse_num(arg); break;
	case 'D': o->duration_ms = (uint32_t)parse_num(arg); break;
	case 'I': o->idle_exit_ms = (uint32_t)parse_num(arg); break;
	case 'G': o->linger_ms = (uint32_t)parse_num(arg); break;
	case 'R': o->reasm_timeout_ms = (uint32_t)parse_num(arg); break;
	case 'S': o->fault_seed = parse_num(arg); break;
	case 'C': o->cluster_id = (uint32_t)parse_num(arg); break;
	default: usage();
	}
}

static void parse_args(struct peer_opts *o, int argc, char **argv)
{
	*o = (struct peer_opts){ .driver = PEER_DPDK, .role = PEER_RECV, .lanes = 4, .loops = 1,
		.port_base = 17500, .cluster_id = 0x5350, .mtu = FRAME_MTU_DEFAULT, .count = 1000,
		.sizes = { 100 }, .sizes_count = 1, .duration_ms = 20000, .idle_exit_ms = 1000,
		.linger_ms = 300, .reasm_timeout_ms = 250 };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1)
		parse_opt(o, c, optarg);
	if (o->self_ip == 0 || o->peers_count == 0 || o->loops == 0 ||
	    o->loops > PEER_LOOPS_MAX || o->lanes < o->loops)
		usage();
	if (o->window_bytes != 0 && o->window == 0)
		o->window = UINT32_MAX; /* acknowledgements are needed for a byte window too */
	for (unsigned i = 0; i < o->sizes_count; i++)
		o->sizes_sum += o->sizes[i];
}

static void *peer_loop_main(void *arg)
{
	struct peer_loop *pl = arg;
	struct peer *p = pl->peer;
	struct loop_config lc = { .id = pl->index };
	pl->loop = loop_create(&lc);
	pl->x = pl->loop ? peer_transport_create(p, pl) : NULL;
	if (pl->x == NULL) {
		fprintf(stderr, "loop %u: cannot set up\n", pl->index);
		exit(2);
	}
	if (pl->index == 0 && p->o.role == PEER_PING)
		pl->rtt_ns = calloc(PEER_RTT_SAMPLES_MAX, sizeof(*pl->rtt_ns));
	loop_poller_add(pl->loop, &pl->poller, "peer", peer_poll, pl);
	loop_flusher_add(pl->loop, &pl->flusher, "xport", peer_flush, pl);
	pthread_barrier_wait(&p->ready);
	if (pl->index == 0) {
		fprintf(stderr, "ready\n"); /* the tests wait for this line */
		fflush(stderr);
		p->start_ns = time_mono_ns();
		loop_timer_start(pl->loop, &pl->tick, 10 * NS_PER_MS, peer_tick, p);
	}
	loop_run(pl->loop);
	pthread_barrier_wait(&p->stopped);
	if (pl->index == 0)
		peer_report(p);
	pthread_barrier_wait(&p->reported);
	peer_transport_destroy(p, pl);
	loop_destroy(pl->loop);
	free(pl->rtt_ns);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct peer p;
	int split = argc;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			split = i;
			break;
		}
	}
	char **app_argv = split < argc ? argv + split : argv;
	int app_argc = split < argc ? argc - split : argc;
	parse_args(&p.o, app_argc, app_argv);
	if (peer_transport_init(&p, split, argv) < 0)
		return 1;
	p.pattern = malloc(XPORT_MSG_BYTES_MAX + 512);
	uint32_t x = 2463534242u;
	for (uint32_t i = 0; i < XPORT_MSG_BYTES_MAX + 512; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p.pattern[i] = (uint8_t)x;
	}
	for (unsigned i = 0; i < p.o.loops; i++)
		p.loops[i] = (struct peer_loop){ .peer = &p, .index = i };
	pthread_barrier_init(&p.ready, NULL, p.o.loops);
	pthread_barrier_init(&p.stopped, NULL, p.o.loops);
	pthread_barrier_init(&p.reported, NULL, p.o.loops);
	p.loop_fn = peer_loop_main;
	peer_loops_run(&p);
	peer_transport_fini(&p);
	free(p.pattern);
	return 0;
}
