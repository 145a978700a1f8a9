/* The keyspace's hash function: seeded, fast on short keys, with full 64-bit avalanche.
 *
 * Built on the 64x64->128 multiply-and-fold mixer ("mum"): each 16 bytes of input are folded
 * into the running state with one wide multiply, and the tail and length are mixed twice at
 * the end. A per-db seed keeps a client from choosing keys that all collide. */
#ifndef SPINDLE_KV_HASH_H
#define SPINDLE_KV_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t kv_hash(uint64_t seed, const void *key, size_t len);

#endif
