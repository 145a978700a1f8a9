/* Keys to hash slots to lanes to loops. A key's slot is Redis Cluster's: CRC16 of the key,
 * or of its hash tag (the bytes between the first '{' and the next '}', when not empty),
 * mod 16384. Slots map to lanes in contiguous ranges, and lanes to loops round-robin, so
 * that the lanes of one loop are spread over the keyspace. */
#ifndef SPINDLE_LANE_SLOT_H
#define SPINDLE_LANE_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define LANE_SLOTS 16384u
#define LANE_COUNT_MAX 1024u

uint16_t lane_slot_of_key(const void *key, size_t len);

/* The lane that owns a slot when the keyspace has `lanes` lanes. */
static inline uint32_t lane_of_slot(uint16_t slot, uint32_t lanes)
{
	return (uint32_t)(((uint64_t)slot * lanes) / LANE_SLOTS);
}

/* The first slot of a lane (its range runs to the next lane's first slot). */
static inline uint16_t lane_first_slot(uint32_t lane, uint32_t lanes)
{
	return (uint16_t)(((uint64_t)lane * LANE_SLOTS + lanes - 1) / lanes);
}

static inline uint32_t lane_loop_of(uint32_t lane, uint32_t loops)
{
	return lane % loops;
}

#endif
