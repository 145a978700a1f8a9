/* Fixtures for the DPDK transport's unit tests: the EAL in memory (no hugepages, no shared
 * files), ethdev ports made of rte_rings with DPDK's ring PMD, either joined in pairs (what
 * one port sends the other receives) or open to the test (it reads what the port sends and
 * writes what it receives), and a recorder of delivered messages. */
#ifndef SPINDLE_TESTS_DPDK_FIXTURE_H
#define SPINDLE_TESTS_DPDK_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "dpdk/dpdk.h"
#include "frame/frame.h"

struct rte_ring;
struct rte_mbuf;
struct rte_mempool;

#define FX_CLUSTER 0x51u
#define FX_PORT_BASE 17600
#define FX_LANES 4
#define FX_QUEUES_MAX 2
#define FX_IP(n) (0x0a630000u | (n)) /* 10.99.0.n */
#define FX_RECORDS_MAX 256

/* Starts the EAL once per test program. */
void fx_eal_init(void);

/* A port whose rings the test holds: tx[q] is what the port sent, rx[q] what it receives. */
struct fx_tap {
	uint16_t port_id;
	unsigned queues;
	struct rte_ring *rx[FX_QUEUES_MAX];
	struct rte_ring *tx[FX_QUEUES_MAX];
};
void fx_tap_create(struct fx_tap *t, const char *name, unsigned queues, unsigned ring_slots);
void fx_tap_free(struct fx_tap *t);
/* Frames the port sent on queue q, up to max; returns how many (the caller frees them). */
unsigned fx_tap_take(struct fx_tap *t, unsigned q, struct rte_mbuf **out, unsigned max);
/* Puts bytes into the port's receive ring q as one frame. */
void fx_tap_inject(struct fx_tap *t, unsigned q, const void *frame, size_t len);
void fx_tap_drop_all(struct fx_tap *t);

/* Two ports joined by rings: what a sends on queue q, b receives on queue q, and back. */
void fx_pair_create(uint16_t *a, uint16_t *b, const char *name, unsigned queues,
		    struct rte_ring **rings /* 4 * queues, freed by fx_rings_free */);
void fx_rings_free(struct rte_ring **rings, unsigned n);

/* A configuration for node self on port_id, knowing the given peers by static MACs
 * 02:00:00:00:00:<node> (mac_static false for the nodes in arp_mask). */
struct dpdk_port_config fx_config(uint16_t port_id, uint16_t self, unsigned queues,
				  const uint16_t *peers, unsigned npeers, uint64_t arp_mask);
void fx_mac(uint16_t node, uint8_t mac[6]);

/* Builds, on the wire, fragment index of a message from src to dst (for injection). */
size_t fx_frame_build(uint8_t *buf, uint16_t src, uint16_t dst, uint16_t lane, uint64_t msg_id,
		      const uint8_t *msg, uint32_t msg_len, uint32_t index, uint32_t stride);

/* Records what a transport delivers. */
struct fx_record {
	uint16_t src, lane;
	size_t len;
	uint32_t crc;
};
struct fx_recorder {
	unsigned count;
	struct fx_record r[FX_RECORDS_MAX];
};
void fx_recv(void *ctx, uint16_t src, uint16_t lane, const uint8_t *msg, size_t len);

/* A deterministic test message. */
void fx_msg_fill(uint8_t *buf, size_t len, unsigned seed);

#endif
