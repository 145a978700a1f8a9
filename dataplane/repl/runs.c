/* Epoch runs: the log as a short list of (first index, epoch) pairs, one per change of
 * epoch, so that the core knows the epoch of every entry in the log (for the prev check of
 * APPEND, for the hint of a rejection, for commit) without keeping the entries in memory.
 * Epochs change only on failover, so the list stays short. */
#include "repl/internal.h"

#include <errno.h>
#include <stdlib.h>

int repl_runs_push(struct repl_runs *runs, uint64_t index, uint64_t epoch)
{
	if (runs->n > 0) {
		const struct repl_epoch_run *last = &runs->v[runs->n - 1];
		ASSERT(index > last->start_index && epoch >= last->epoch);
		if (last->epoch == epoch)
			return 0;
	}
	if (runs->n == runs->cap) {
		unsigned cap = runs->cap ? runs->cap * 2 : 8;
		struct repl_epoch_run *v = realloc(runs->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		runs->v = v;
		runs->cap = cap;
	}
	runs->v[runs->n].start_index = index;
	runs->v[runs->n].epoch = epoch;
	runs->n++;
	return 0;
}

void repl_runs_truncate(struct repl_runs *runs, uint64_t from_index)
{
	while (runs->n > 0 && runs->v[runs->n - 1].start_index >= from_index)
		runs->n--;
}

void repl_runs_drop_before(struct repl_runs *runs, uint64_t index)
{
	unsigned keep = 0;
	/* The last run starting at or before index still covers index. */
	while (keep + 1 < runs->n && runs->v[keep + 1].start_index <= index)
		keep++;
	if (keep == 0)
		goto clip;
	for (unsigned i = keep; i < runs->n; i++)
		runs->v[i - keep] = runs->v[i];
	runs->n -= keep;
clip:
	if (runs->n > 0 && runs->v[0].start_index < index)
		runs->v[0].start_index = index;
}
