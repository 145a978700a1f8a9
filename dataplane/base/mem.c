/* Arena-aware allocation on jemalloc's non-standard API, or on plain malloc without it. */
#include "base/mem.h"
#include "base/panic.h"

#include <stdlib.h>

#ifdef SPINDLE_JEMALLOC
#include <jemalloc/jemalloc.h>
#include <stdint.h>

unsigned mem_arena_create(void)
{
	unsigned arena = 0;
	size_t len = sizeof(arena);
	if (mallctl("arenas.create", &arena, &len, NULL, 0) != 0)
		return 0;
	return arena;
}

static int mem_flags(unsigned arena)
{
	/* The thread cache would mix arenas; key-value memory is accounted per loop. */
	return arena ? (int)(MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE) : 0;
}

void *mem_arena_alloc(unsigned arena, size_t bytes)
{
	return mallocx(bytes ? bytes : 1, mem_flags(arena));
}

void *mem_arena_realloc(unsigned arena, void *ptr, size_t bytes)
{
	if (ptr == NULL)
		return mem_arena_alloc(arena, bytes);
	return rallocx(ptr, bytes ? bytes : 1, mem_flags(arena));
}

void mem_arena_free(unsigned arena, void *ptr)
{
	if (ptr)
		dallocx(ptr, mem_flags(arena));
}

size_t mem_usable_bytes(const void *ptr)
{
	return ptr ? sallocx((void *)ptr, 0) : 0;
}

size_t mem_allocated_bytes(void)
{
	uint64_t epoch = 1;
	size_t len = sizeof(epoch);
	mallctl("epoch", &epoch, &len, &epoch, len);
	size_t allocated = 0;
	len = sizeof(allocated);
	if (mallctl("stats.allocated", &allocated, &len, NULL, 0) != 0)
		return 0;
	return allocated;
}
#else
#include <malloc.h>

unsigned mem_arena_create(void)
{
	return 0;
}

void *mem_arena_alloc(unsigned arena, size_t bytes)
{
	(void)arena;
	return malloc(bytes ? bytes : 1);
}

void *mem_arena_realloc(unsigned arena, void *ptr, size_t bytes)
{
	(void)arena;
	return realloc(ptr, bytes ? bytes : 1);
}

void mem_arena_free(unsigned arena, void *ptr)
{
	(void)arena;
	free(ptr);
}

size_t mem_usable_bytes(const void *ptr)
{
	return ptr ? malloc_usable_size((void *)ptr) : 0;
}

size_t mem_allocated_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}
#endif
