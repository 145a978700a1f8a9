/* Read leases and read barriers on the primary. Each heartbeat round has a sequence number
 * and a send time; followers echo the highest round they have seen. When a majority of the
 * voters (the primary counting itself) have seen round s, no other primary can have been
 * appointed before round s was sent (appointing one needs a majority of promises, and a
 * replica that promised refuses this epoch), so:
 * - a read barrier that asked for round s is confirmed, and
 * - the primary holds a lease until send_time(s) + lease_ms - lease_drift_ms, the control
 *   plane (or, in mode B, every voter that heard the leader) waiting at least lease_ms
 *   before another primary can act; repl.h gives the exact inequality with clock drift. */
#include "repl/internal.h"

#include <errno.h>
#include <stdlib.h>

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The highest round that a majority of the voters have seen. */
static uint64_t quorum_seq(const struct repl *r)
{
	uint64_t v[REPL_NODES_MAX];
	unsigned n = 0;
	for (unsigned node = 0; node < REPL_NODES_MAX; node++) {
		if (!repl_is_voter(r, node))
			continue;
		if (node == r->o.node_id)
			v[n++] = r->hb_seq;
		else
			v[n++] = r->peers[node] ? r->peers[node]->acked_seq : 0;
	}
	unsigned need = repl_majority(r);
	if (n == 0 || need > n)
		return 0;
	qsort(v, n, sizeof(v[0]), cmp_desc);
	return v[need - 1];
}

void repl_lease_update(struct repl *r)
{
	if (r->role != REPL_ROLE_PRIMARY || r->o.lease_ms == 0)
		return;
	uint64_t s = quorum_seq(r);
	if (s == 0 || r->hb_seq - s >= REPL_SEQ_RING)
		return;
	uint64_t until = r->seq_sent_ms[s & (REPL_SEQ_RING - 1)] + r->o.lease_ms -
			 r->o.lease_drift_ms;
	if (until > r->lease_until_ms)
		r->lease_until_ms = until;
}

void repl_reads_confirm(struct repl *r)
{
	if (r->role != REPL_ROLE_PRIMARY)
		return;
	uint64_t s = quorum_seq(r);
	if (s <= r->read_confirmed_seq)
		return;
	r->read_confirmed_seq = s;
	r->io.read_confirmed(r->io.ctx, s);
}

bool repl_lease_valid(struct repl *r)
{
	return r->role == REPL_ROLE_PRIMARY && !r->failed && r->lease_until_ms > 0 &&
	       repl_now(r) < r->lease_until_ms;
}

int repl_read_begin(struct repl *r, uint64_t *read_index, uint64_t *seq)
{
	if (r->failed || r->role != REPL_ROLE_PRIMARY)
		return -ENOTCONN;
	*read_index = MAX(r->commit_index, r->epoch_start_index);
	if (repl_lease_valid(r) && r->commit_index >= r->epoch_start_index) {
		*seq = 0;
		return 0;
	}
	/* A round sent after this read arrived proves we were still primary when it did. */
	*seq = r->hb_seq + 1;
	r->round_wanted = true;
	return -EINPROGRESS;
}
