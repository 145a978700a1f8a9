/* Memory for key-value data. In normal builds each loop allocates from its own jemalloc arena
 * (no lock contention between loops, and memory can be accounted per loop); sanitizer builds
 * fall back to malloc so that ASan sees every allocation. */
#ifndef SPINDLE_BASE_MEM_H
#define SPINDLE_BASE_MEM_H

#include <stddef.h>

/* Arena 0 is the process default; mem_arena_create() returns a new one, or 0 if jemalloc is
 * not linked in. */
unsigned mem_arena_create(void);
void *mem_arena_alloc(unsigned arena, size_t bytes);
void *mem_arena_realloc(unsigned arena, void *ptr, size_t bytes);
void mem_arena_free(unsigned arena, void *ptr);
/* Bytes actually reserved for ptr (jemalloc's size class), for memory accounting. */
size_t mem_usable_bytes(const void *ptr);
/* Bytes the allocator has handed out to the application in all arenas. */
size_t mem_allocated_bytes(void);

#endif
