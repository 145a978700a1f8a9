/* The simulated network: messages between nodes on separate planes (the replication
 * network, the management network, client connections), each directed link with its own
 * loss, duplication and delay (random delays reorder), and partitions that block a link in
 * one direction or both. Delivery happens through the scheduler; a link blocked at send or
 * at delivery time loses the message. */
#ifndef SPINDLE_SIM_NET_H
#define SPINDLE_SIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/rng.h"
#include "sim/sched.h"

#define SIM_NET_NODES_MAX 8
#define SIM_NET_PLANES 3

enum sim_plane { SIM_PLANE_REPL = 0, SIM_PLANE_MGMT = 1, SIM_PLANE_CLIENT = 2 };

struct sim_link {
	uint32_t drop_ppm;
	uint32_t dup_ppm;
	uint32_t delay_us_min, delay_us_max;
	bool blocked;
};

/* Called for each delivered message; bytes are valid only during the call. */
typedef void (*sim_net_deliver_fn)(void *ctx, enum sim_plane plane, unsigned src,
				   unsigned dst, const uint8_t *bytes, size_t len);

struct sim_net_stats {
	uint64_t sent, delivered, dropped, duplicated, blocked;
};

struct sim_net {
	struct sim_sched *sched;
	struct sim_rng *rng;
	unsigned nodes;
	struct sim_link link[SIM_NET_PLANES][SIM_NET_NODES_MAX][SIM_NET_NODES_MAX];
	sim_net_deliver_fn deliver;
	void *ctx;
	struct sim_net_stats stats;
	uint64_t in_flight;
};

void sim_net_init(struct sim_net *net, struct sim_sched *sched, struct sim_rng *rng,
		  unsigned nodes, sim_net_deliver_fn deliver, void *ctx);
/* Sets every link of a plane to the same behaviour (partitions are kept). */
void sim_net_plane_set(struct sim_net *net, enum sim_plane plane, uint32_t drop_ppm,
		       uint32_t dup_ppm, uint32_t delay_us_min, uint32_t delay_us_max);
/* Blocks or unblocks src -> dst on a plane. */
void sim_net_block(struct sim_net *net, enum sim_plane plane, unsigned src, unsigned dst,
		   bool blocked);
/* Unblocks every link of every plane. */
void sim_net_heal(struct sim_net *net);
void sim_net_send(struct sim_net *net, enum sim_plane plane, unsigned src, unsigned dst,
		  const void *bytes, size_t len);

#endif
