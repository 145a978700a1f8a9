/* xport_peer's transports: the EAL, the DPDK port and its dispatch hook built on the loops'
 * message rings, or UDP sockets on the loops' rings; running loops on lcores or threads; and
 * the transport's counters as JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dpdk/dpdk.h"
#include "peer.h"
#include "udp/udp.h"

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#define PEER_SOCK_BUF_BYTES (32u << 20)

int peer_transport_init(struct peer *p, int argc, char **argv)
{
	if (p->o.driver != PEER_DPDK)
		return 0;
	int used = rte_eal_init(argc, argv);
	if (used < 0) {
		fprintf(stderr, "EAL: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	if (rte_eth_dev_count_avail() == 0) {
		fprintf(stderr, "no DPDK port: pass --vdev=net_af_packet0,iface=... or -a PCI\n");
		return -1;
	}
	if (rte_lcore_count() < p->o.loops) {
		fprintf(stderr, "%u loops need as many lcores (EAL -l or --lcores)\n", p->o.loops);
		return -1;
	}
	struct dpdk_port_config c = { .port_id = 0, .queues = p->o.loops,
		.cluster_id = p->o.cluster_id, .self_node = p->o.node, .self_ip = p->o.self_ip,
		.port_base = p->o.port_base, .lanes = p->o.lanes, .mtu = p->o.mtu,
		.rx_desc = 1024, .tx_desc = 1024, .fault_seed = p->o.fault_seed,
		.reasm = { .timeout_ns = (uint64_t)p->o.reasm_timeout_ms * 1000000 } };
	for (uint16_t i = 0; i < p->o.peers_count; i++)
		c.peers[c.peers_count++] = (struct dpdk_peer){ .node = p->o.peer_node[i],
							       .ip = p->o.peer_ip[i] };
	p->dpdk_port = dpdk_port_create(&c);
	return p->dpdk_port ? used : -1;
}

/* The dispatch hook: a frame for another loop's lane travels on that loop's message ring.
 * The process has one peer, so the receiving side finds its transport by the loop's id. */
static struct peer *peer_dispatch_peer;

static void peer_frame_input(struct loop *loop, void *arg)
{
	dpdk_xport_input(peer_dispatch_peer->loops[loop_id(loop)].x, arg);
}

static int peer_dispatch(void *ctx, uint16_t queue, struct rte_mbuf *m)
{
	struct peer *p = ctx;
	return loop_msg_send(p->loops[queue].loop, peer_frame_input, m);
}

struct xport *peer_transport_create(struct peer *p, struct peer_loop *pl)
{
	if (p->o.driver == PEER_DPDK) {
		if (pl->index == 0) {
			peer_dispatch_peer = p;
			dpdk_port_dispatch_set(p->dpdk_port, peer_dispatch, p);
		}
		return dpdk_xport_create(p->dpdk_port, (uint16_t)pl->index, peer_recv, pl);
	}
	struct udp_xport_config c = { .loop = pl->loop, .cluster_id = p->o.cluster_id,
		.self_node = p->o.node, .self_ip = p->o.self_ip, .port_base = p->o.port_base,
		.lanes = p->o.lanes, .loops = p->o.loops, .loop_index = (uint16_t)pl->index,
		.mtu = p->o.mtu, .sock_buf_bytes = PEER_SOCK_BUF_BYTES, .fault_seed = p->o.fault_seed,
		.reasm = { .timeout_ns = (uint64_t)p->o.reasm_timeout_ms * 1000000 } };
	for (uint16_t i = 0; i < p->o.peers_count; i++)
		c.peers[c.peers_count++] = (struct udp_peer){ .node = p->o.peer_node[i],
							      .ip = p->o.peer_ip[i] };
	return udp_xport_create(&c, peer_recv, pl);
}

void peer_transport_destroy(struct peer *p, struct peer_loop *pl)
{
	if (pl->x == NULL)
		return;
	loop_poller_remove(pl->loop, &pl->poller);
	loop_poller_remove(pl->loop, &pl->flusher);
	pl->x->ops->destroy(pl->x);
	pl->x = NULL;
	/* The UDP transport frees itself once the loop hands back its operations. */
	for (int i = 0; p->o.driver == PEER_UDP && i < 10; i++)
		loop_run_once(pl->loop);
}

void peer_transport_fini(struct peer *p)
{
	if (p->o.driver != PEER_DPDK)
		return;
	dpdk_port_destroy(p->dpdk_port);
	rte_eal_cleanup();
}

static int peer_lcore_main(void *arg)
{
	struct peer_loop *pl = arg;
	pl->peer->loop_fn(pl);
	return 0;
}

void peer_loops_run(struct peer *p)
{
	unsigned i = 1;
	if (p->o.driver == PEER_DPDK) {
		unsigned lcore;
		RTE_LCORE_FOREACH_WORKER(lcore) {
			if (i >= p->o.loops)
				break;
			rte_eal_remote_launch(peer_lcore_main, &p->loops[i++], lcore);
		}
	} else {
		for (; i < p->o.loops; i++)
			pthread_create(&p->loops[i].thread, NULL, p->loop_fn, &p->loops[i]);
	}
	p->loop_fn(&p->loops[0]);
	if (p->o.driver == PEER_DPDK) {
		rte_eal_mp_wait_lcore();
	} else {
		for (i = 1; i < p->o.loops; i++)
			pthread_join(p->loops[i].thread, NULL);
	}
}

static void peer_dpdk_stats(struct peer_loop *pl, char *out, size_t size)
{
	struct dpdk_xport_stats s;
	dpdk_xport_stats_get(pl->x, &s);
	snprintf(out, size,
		 "{\"tx_msgs\": %lu, \"tx_frames\": %lu, \"tx_dropped\": %lu, \"tx_unresolved\": %lu, "
		 "\"rx_msgs\": %lu, \"rx_frames\": %lu, \"rx_drop_foreign\": %lu, "
		 "\"rx_drop_version\": %lu, \"rx_drop_checksum\": %lu, \"rx_drop_malformed\": %lu, "
		 "\"rx_drop_reassembly\": %lu, \"rx_arp\": %lu, \"tx_arp\": %lu, "
		 "\"rx_dispatched\": %lu, \"rx_drop_dispatch\": %lu, \"rx_drop_nic\": %lu, "
		 "\"tx_nomem\": %lu, \"frags_dup\": %lu, \"frags_late\": %lu, \"reasm_timeout\": %lu, "
		 "\"reasm_evicted\": %lu, \"reasm_inconsistent\": %lu, \"fault_lost\": %lu, "
		 "\"fault_duplicated\": %lu, \"fault_reordered\": %lu, \"fault_delayed\": %lu}",
		 s.xport.tx_msgs, s.xport.tx_frames, s.xport.tx_dropped, s.xport.tx_unresolved,
		 s.xport.rx_msgs, s.xport.rx_frames, s.xport.rx_drop_foreign, s.xport.rx_drop_version,
		 s.xport.rx_drop_checksum, s.xport.rx_drop_malformed, s.xport.rx_drop_reassembly,
		 s.rx_arp, s.tx_arp, s.rx_dispatched, s.rx_drop_dispatch, s.rx_drop_nic, s.tx_nomem,
		 s.reasm.frags_dup, s.reasm.frags_late, s.reasm.msgs_timeout, s.reasm.msgs_evicted,
		 s.reasm.msgs_inconsistent, s.fault_lost, s.fault_duplicated, s.fault_reordered,
		 s.fault_delayed);
}

static void peer_udp_stats(struct peer_loop *pl, char *out, size_t size)
{
	struct udp_xport_stats s;
	udp_xport_stats_get(pl->x, &s);
	snprintf(out, size,
		 "{\"tx_msgs\": %lu, \"tx_frames\": %lu, \"tx_dropped\": %lu, \"tx_errors\": %lu, "
		 "\"rx_msgs\": %lu, \"rx_frames\": %lu, \"rx_drop_foreign\": %lu, "
		 "\"rx_drop_version\": %lu, \"rx_drop_checksum\": %lu, \"rx_drop_malformed\": %lu, "
		 "\"rx_drop_reassembly\": %lu, \"rx_nobufs\": %lu, \"rx_rearms\": %lu, "
		 "\"frags_dup\": %lu, \"frags_late\": %lu, \"reasm_timeout\": %lu, "
		 "\"reasm_evicted\": %lu, \"reasm_inconsistent\": %lu, \"fault_lost\": %lu, "
		 "\"fault_duplicated\": %lu, \"fault_reordered\": %lu, \"fault_delayed\": %lu}",
		 s.xport.tx_msgs, s.xport.tx_frames, s.xport.tx_dropped, s.tx_errors, s.xport.rx_msgs,
		 s.xport.rx_frames, s.xport.rx_drop_foreign, s.xport.rx_drop_version,
		 s.xport.rx_drop_checksum, s.xport.rx_drop_malformed, s.xport.rx_drop_reassembly,
		 s.rx_nobufs, s.rx_rearms, s.reasm.frags_dup, s.reasm.frags_late,
		 s.reasm.msgs_timeout, s.reasm.msgs_evicted, s.reasm.msgs_inconsistent,
		 s.fault_lost, s.fault_duplicated, s.fault_reordered, s.fault_delayed);
}

void peer_transport_stats(struct peer *p, struct peer_loop *pl, char *out, size_t size)
{
	if (pl->x == NULL)
		snprintf(out, size, "null");
	else if (p->o.driver == PEER_DPDK)
		peer_dpdk_stats(pl, out, size);
	else
		peer_udp_stats(pl, out, size);
}
