/* Large arrays: arena memory below KV_BIG_MMAP_BYTES, anonymous mappings above. */
#include "kv/bigmem.h"

#include <string.h>
#include <sys/mman.h>

#include "base/mem.h"
#include "base/panic.h"

static bool big_mapped(size_t bytes)
{
	return bytes >= KV_BIG_MMAP_BYTES;
}

void *kv_big_alloc(unsigned arena, size_t bytes, bool zero)
{
	ASSERT(bytes > 0);
	if (big_mapped(bytes)) {
		void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	void *p = mem_arena_alloc(arena, bytes);
	if (p != NULL && zero)
		memset(p, 0, bytes);
	return p;
}

void *kv_big_realloc(unsigned arena, void *p, size_t old_bytes, size_t new_bytes)
{
	ASSERT(p != NULL && old_bytes > 0 && new_bytes > 0);
	if (big_mapped(old_bytes) && big_mapped(new_bytes)) {
		void *q = mremap(p, old_bytes, new_bytes, MREMAP_MAYMOVE);
		return q == MAP_FAILED ? NULL : q;
	}
	if (!big_mapped(old_bytes) && !big_mapped(new_bytes))
		return mem_arena_realloc(arena, p, new_bytes);
	/* Crossing the threshold: a new block of the other kind, and one copy. */
	void *q = kv_big_alloc(arena, new_bytes, false);
	if (q == NULL)
		return NULL;
	memcpy(q, p, old_bytes < new_bytes ? old_bytes : new_bytes);
	kv_big_free(arena, p, old_bytes);
	return q;
}

void kv_big_free(unsigned arena, void *p, size_t bytes)
{
	if (p == NULL)
		return;
	if (big_mapped(bytes)) {
		int rc = munmap(p, bytes);
		ASSERT(rc == 0);
		return;
	}
	mem_arena_free(arena, p);
}
