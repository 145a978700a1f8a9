/* Internals shared by the resp module's source files (out.c, reply.c, parse.c); not part of
 * the API that other modules use. */
#ifndef SPINDLE_RESP_RESP_PRIV_H
#define SPINDLE_RESP_RESP_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resp/resp.h"

/* Appends a, b and c (any may be empty) as one unit: into the tail's free room and the
 * pooled chunks after it, or into one dedicated chunk of exact size when the three together
 * exceed RESP_CHUNK_BYTES. Sets out->oom and drops the bytes when memory runs out. */
void resp_out_write3(struct resp_out *out, const void *a, size_t a_len, const void *b,
		     size_t b_len, const void *c, size_t c_len);

/* Redis's string2ll: "-"? then digits, no leading zero unless the number is "0", no
 * overflow. True and *v on success. */

/* The test hook: true when this allocation must fail. */
static inline bool resp_alloc_fault_hit(struct resp_alloc_fault *f)
{
	if (!f->armed)
		return false;
	if (f->allocs_left == 0)
		return true;
	f->allocs_left--;
	return false;
}

#endif
