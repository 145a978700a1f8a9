/* The simulated network (see net.h). Each message is copied once into its own block, which
 * the delivery event frees. */
#include "sim/net.h"

#include <stdlib.h>
#include <string.h>

#include "base/panic.h"

struct sim_packet {
	struct sim_net *net;
	enum sim_plane plane;
	unsigned src, dst;
	size_t len;
	uint8_t bytes[];
};

void sim_net_init(struct sim_net *net, struct sim_sched *sched, struct sim_rng *rng,
		  unsigned nodes, sim_net_deliver_fn deliver, void *ctx)
{
	ASSERT(nodes <= SIM_NET_NODES_MAX);
	memset(net, 0, sizeof(*net));
	net->sched = sched;
	net->rng = rng;
	net->nodes = nodes;
	net->deliver = deliver;
	net->ctx = ctx;
	for (unsigned p = 0; p < SIM_NET_PLANES; p++)
		sim_net_plane_set(net, p, 0, 0, 50, 200);
}

void sim_net_plane_set(struct sim_net *net, enum sim_plane plane, uint32_t drop_ppm,
		       uint32_t dup_ppm, uint32_t delay_us_min, uint32_t delay_us_max)
{
	for (unsigned s = 0; s < SIM_NET_NODES_MAX; s++) {
		for (unsigned d = 0; d < SIM_NET_NODES_MAX; d++) {
			struct sim_link *l = &net->link[plane][s][d];
			l->drop_ppm = drop_ppm;
			l->dup_ppm = dup_ppm;
			l->delay_us_min = delay_us_min;
			l->delay_us_max = delay_us_max;
		}
	}
}

void sim_net_block(struct sim_net *net, enum sim_plane plane, unsigned src, unsigned dst,
		   bool blocked)
{
	ASSERT(src < SIM_NET_NODES_MAX && dst < SIM_NET_NODES_MAX);
	net->link[plane][src][dst].blocked = blocked;
}

void sim_net_heal(struct sim_net *net)
{
	for (unsigned p = 0; p < SIM_NET_PLANES; p++)
		for (unsigned s = 0; s < SIM_NET_NODES_MAX; s++)
			for (unsigned d = 0; d < SIM_NET_NODES_MAX; d++)
				net->link[p][s][d].blocked = false;
}

static void deliver(void *arg, uint64_t a, uint64_t b)
{
	(void)a;
	(void)b;
	struct sim_packet *pkt = arg;
	struct sim_net *net = pkt->net;
	net->in_flight--;
	if (net->link[pkt->plane][pkt->src][pkt->dst].blocked) {
		net->stats.blocked++;
	} else {
		net->stats.delivered++;
		net->deliver(net->ctx, pkt->plane, pkt->src, pkt->dst, pkt->bytes, pkt->len);
	}
	free(pkt);
}

static void schedule(struct sim_net *net, const struct sim_link *l, enum sim_plane plane,
		     unsigned src, unsigned dst, const void *bytes, size_t len)
{
	struct sim_packet *pkt = malloc(sizeof(*pkt) + len);
	ASSERT(pkt);
	pkt->net = net;
	pkt->plane = plane;
	pkt->src = src;
	pkt->dst = dst;
	pkt->len = len;
	memcpy(pkt->bytes, bytes, len);
	uint64_t delay = sim_rng_range(net->rng, l->delay_us_min, l->delay_us_max);
	net->in_flight++;
	sim_sched_after(net->sched, delay, deliver, pkt, 0, 0);
}

void sim_net_send(struct sim_net *net, enum sim_plane plane, unsigned src, unsigned dst,
		  const void *bytes, size_t len)
{
	ASSERT(src < net->nodes && dst < net->nodes);
	const struct sim_link *l = &net->link[plane][src][dst];
	net->stats.sent++;
	if (l->blocked) {
		net->stats.blocked++;
		return;
	}
	if (sim_rng_ppm(net->rng, l->drop_ppm)) {
		net->stats.dropped++;
		return;
	}
	schedule(net, l, plane, src, dst, bytes, len);
	if (sim_rng_ppm(net->rng, l->dup_ppm)) {
		net->stats.duplicated++;
		schedule(net, l, plane, src, dst, bytes, len);
	}
}
