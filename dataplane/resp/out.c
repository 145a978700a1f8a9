/* The output chain: a connection's pending reply bytes, held in fixed-size chunks drawn from
 * a per-loop pool (a bounded free list in front of malloc), consumed from the head as the
 * connection layer sends them. A connection with nothing to send holds no chunk. */
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "base/panic.h"
#include "resp/resp.h"
#include "resp/resp_priv.h"

STATIC_ASSERT(RESP_CHUNK_BYTES <= UINT32_MAX, "chunk lengths are 32-bit");

void resp_chunk_pool_init(struct resp_chunk_pool *pool, uint32_t free_max)
{
	memset(pool, 0, sizeof(*pool));
	pool->free_max = free_max;
}

void resp_chunk_pool_destroy(struct resp_chunk_pool *pool)
{
	ASSERT_MSG(pool->chunks_out == 0, "resp pool destroyed with %llu chunks in use",
		   (unsigned long long)pool->chunks_out);
	while (pool->free) {
		struct resp_chunk *c = pool->free;
		pool->free = c->next;
		free(c);
	}
	pool->free_count = 0;
}

/* malloc with the test hook in front of it. */
static struct resp_chunk *chunk_malloc(struct resp_chunk_pool *pool, size_t cap)
{
	if (resp_alloc_fault_hit(&pool->fault))
		return NULL;
	struct resp_chunk *c = malloc(sizeof(*c) + cap);
	if (c == NULL)
		return NULL;
	pool->allocs++;
	c->cap = (uint32_t)cap;
	return c;
}

static struct resp_chunk *chunk_get(struct resp_chunk_pool *pool)
{
	struct resp_chunk *c = pool->free;
	if (c != NULL) {
		pool->free = c->next;
		pool->free_count--;
	} else {
		c = chunk_malloc(pool, RESP_CHUNK_BYTES);
		if (c == NULL)
			return NULL;
	}
	ASSERT(c->cap == RESP_CHUNK_BYTES);
	c->next = NULL;
	c->len = 0;
	pool->chunks_out++;
	return c;
}

/* Dedicated chunks (cap other than RESP_CHUNK_BYTES) are never pooled. */
static void chunk_put(struct resp_chunk_pool *pool, struct resp_chunk *c)
{
	ASSERT(pool->chunks_out > 0);
	pool->chunks_out--;
	if (c->cap == RESP_CHUNK_BYTES && pool->free_count < pool->free_max) {
		c->next = pool->free;
		pool->free = c;
		pool->free_count++;
	} else {
		free(c);
	}
}

void resp_out_init(struct resp_out *out, struct resp_chunk_pool *pool, uint8_t proto)
{
	ASSERT(proto == 2 || proto == 3);
	memset(out, 0, sizeof(*out));
	out->pool = pool;
	out->proto = proto;
}

void resp_out_reset(struct resp_out *out)
{
	while (out->head != NULL) {
		struct resp_chunk *c = out->head;
		out->head = c->next;
		chunk_put(out->pool, c);
	}
	out->tail = NULL;
	out->bytes = 0;
	out->head_off = 0;
	out->oom = false;
}

void resp_out_consume(struct resp_out *out, uint64_t n)
{
	ASSERT(n <= out->bytes);
	out->bytes -= n;
	while (n > 0) {
		struct resp_chunk *c = out->head;
		uint64_t avail = c->len - out->head_off;
		ASSERT(avail > 0);
		if (n < avail) {
			out->head_off += (uint32_t)n;
			break;
		}
		n -= avail;
		out->head = c->next;
		out->head_off = 0;
		chunk_put(out->pool, c);
	}
	if (out->head == NULL) {
		out->tail = NULL;
		ASSERT(out->bytes == 0);
	}
}

/* memcpy, except that an empty piece may come with a NULL pointer. */
static inline void copy_bytes(char *dst, const void *src, size_t len)
{
	if (len > 0)
		memcpy(dst, src, len);
}

static void out_link(struct resp_out *out, struct resp_chunk *c)
{
	if (out->tail != NULL)
		out->tail->next = c;
	else
		out->head = c;
	out->tail = c;
}

/* Copies bytes into the tail's free room and as many new pooled chunks as they need. */
static void out_copy(struct resp_out *out, const char *src, size_t len)
{
	while (len > 0 && !out->oom) {
		struct resp_chunk *t = out->tail;
		if (t == NULL || t->len == t->cap) {
			t = chunk_get(out->pool);
			if (t == NULL) {
				out->oom = true;
				return;
			}
			out_link(out, t);
		}
		size_t n = MIN(len, (size_t)(t->cap - t->len));
		memcpy(t->data + t->len, src, n);
		t->len += (uint32_t)n;
		out->bytes += n;
		src += n;
		len -= n;
	}
}

static void out_write_dedicated(struct resp_out *out, const void *a, size_t a_len,
				const void *b, size_t b_len, const void *c, size_t c_len)
{
	size_t total = a_len + b_len + c_len;
	struct resp_chunk *d = total <= UINT32_MAX ? chunk_malloc(out->pool, total) : NULL;
	if (d == NULL) {
		out->oom = true;
		return;
	}
	out->pool->chunks_out++;
	d->next = NULL;
	copy_bytes(d->data, a, a_len);
	copy_bytes(d->data + a_len, b, b_len);
	copy_bytes(d->data + a_len + b_len, c, c_len);
	d->len = (uint32_t)total;
	out_link(out, d);
	out->bytes += total;
}

void resp_out_write3(struct resp_out *out, const void *a, size_t a_len, const void *b,
		     size_t b_len, const void *c, size_t c_len)
{
	if (unlikely(out->oom))
		return;
	size_t total = a_len + b_len + c_len;
	struct resp_chunk *t = out->tail;
	if (likely(t != NULL && total <= (size_t)(t->cap - t->len))) {
		/* The common case: a short element into the room left in the tail. */
		char *p = t->data + t->len;
		copy_bytes(p, a, a_len);
		copy_bytes(p + a_len, b, b_len);
		copy_bytes(p + a_len + b_len, c, c_len);
		t->len += (uint32_t)total;
		out->bytes += total;
		return;
	}
	if (total > RESP_CHUNK_BYTES) {
		out_write_dedicated(out, a, a_len, b, b_len, c, c_len);
		return;
	}
	out_copy(out, a, a_len);
	out_copy(out, b, b_len);
	out_copy(out, c, c_len);
}

/* Copies src's unsent bytes to the end of dst's tail, which has room for them. */
static void out_splice_copy(struct resp_out *dst, struct resp_out *src)
{
	uint32_t off = src->head_off;
	for (struct resp_chunk *c = src->head; c != NULL; c = c->next) {
		out_copy(dst, c->data + off, c->len - off);
		off = 0;
	}
	resp_out_reset(src);
}

void resp_out_splice(struct resp_out *dst, struct resp_out *src)
{
	ASSERT(dst->pool == src->pool);
	ASSERT(dst != src);
	dst->oom |= src->oom;
	if (src->head == NULL || dst->oom) {
		resp_out_reset(src);
		return;
	}
	struct resp_chunk *t = dst->tail;
	if (t != NULL && src->bytes <= (uint64_t)(t->cap - t->len)) {
		out_splice_copy(dst, src);
		return;
	}
	if (dst->head == NULL) {
		dst->head = src->head;
		dst->head_off = src->head_off;
	} else {
		ASSERT_MSG(src->head_off == 0, "splicing a partly sent output after other bytes");
		dst->tail->next = src->head;
	}
	dst->tail = src->tail;
	dst->bytes += src->bytes;
	src->head = src->tail = NULL;
	src->bytes = 0;
	src->head_off = 0;
}

size_t resp_out_iov(const struct resp_out *out, struct iovec *iov, size_t iov_max)
{
	size_t n = 0;
	uint32_t off = out->head_off;
	for (struct resp_chunk *c = out->head; c != NULL && n < iov_max; c = c->next) {
		iov[n].iov_base = c->data + off;
		iov[n].iov_len = c->len - off;
		n++;
		off = 0;
	}
	return n;
}

void resp_add_raw(struct resp_out *out, const void *bytes, size_t len)
{
	resp_out_write3(out, bytes, len, "", 0, "", 0);
}
