/* Large arrays of the keyspace (hash table slots, the volatile index). Small ones come from
 * the db's jemalloc arena; from KV_BIG_MMAP_BYTES up they are anonymous mappings, because a
 * fresh mapping is zero without a memset (a table of millions of slots is ready at once, its
 * pages zeroed by the kernel as they are first touched) and mremap() grows one without
 * copying. Callers pass the size back, so no header is needed. */
#ifndef SPINDLE_KV_BIGMEM_H
#define SPINDLE_KV_BIGMEM_H

#include <stdbool.h>
#include <stddef.h>

#define KV_BIG_MMAP_BYTES (2u * 1024 * 1024)

/* Returns NULL if memory is short. zero: the bytes read as zero. */
void *kv_big_alloc(unsigned arena, size_t bytes, bool zero);
/* Resizes keeping min(old, new) bytes; the bytes beyond old are not initialised. NULL (and
 * p untouched) if memory is short. */
void *kv_big_realloc(unsigned arena, void *p, size_t old_bytes, size_t new_bytes);
void kv_big_free(unsigned arena, void *p, size_t bytes);

#endif
