/* Commit and apply. The primary's commit index is the highest index held durably by a
 * majority of the voters, counting directly only entries of its own epoch (older entries
 * commit with them, as in Raft); a follower learns the commit index from the primary's
 * APPENDs. Every replica applies committed entries in order, from the cache or, when they
 * are no longer there (after a restart), from the log through the read I/O. */
#include "repl/internal.h"

#include <stdlib.h>

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* The highest index that `need` voters hold durably. */
static uint64_t quorum_match(const struct repl *r, unsigned need)
{
	uint64_t v[REPL_NODES_MAX];
	unsigned n = 0;
	for (unsigned node = 0; node < REPL_NODES_MAX; node++) {
		if (!repl_is_voter(r, node))
			continue;
		if (node == r->o.node_id)
			v[n++] = r->durable_index;
		else
			v[n++] = r->peers[node] ? r->peers[node]->match : 0;
	}
	if (n == 0 || need == 0 || need > n)
		return 0;
	qsort(v, n, sizeof(v[0]), cmp_desc);
	return v[need - 1];
}

void repl_commit_advance(struct repl *r)
{
	if (r->role != REPL_ROLE_PRIMARY)
		return;
	unsigned need = repl_majority(r);
#ifdef SPINDLE_PLANTED_BUG_COMMIT_WITHOUT_MAJORITY
	/* Planted bug (simulator only): one acknowledgement short of a majority. */
	need = need > 1 ? need - 1 : 1;
#endif
	uint64_t c = quorum_match(r, need);
	uint64_t epoch;
	if (c <= r->commit_index || !repl_epoch_at(r, c, &epoch) || epoch != r->meta.epoch)
		return;
	r->commit_index = c;
	if (r->o.mode == REPL_MODE_ELECTION)
		repl_configs_commit(r);
	repl_apply(r);
}

void repl_commit_follow(struct repl *r, uint64_t commit)
{
	commit = MIN(commit, r->last_index);
	if (commit <= r->commit_index)
		return;
	r->commit_index = commit;
	if (r->o.mode == REPL_MODE_ELECTION)
		repl_configs_commit(r);
	repl_apply(r);
}

static void apply_one(struct repl *r, const struct repl_entry *e)
{
	ASSERT(e->index == r->applied_index + 1 && e->index <= r->commit_index);
	r->applied_index = e->index;
	r->io.apply(r->io.ctx, e);
}

void repl_apply(struct repl *r)
{
	while (r->applied_index < r->commit_index && !r->failed) {
		struct repl_entry e;
		if (repl_cache_get(&r->cache, r->applied_index + 1, &e)) {
			apply_one(r, &e);
			continue;
		}
		if (!r->apply_read_pending) {
			r->apply_read_pending = true;
			r->io.read(r->io.ctx, REPL_READ_TAG_APPLY, r->applied_index + 1,
				   r->commit_index, r->o.read_bytes);
		}
		return;
	}
}

/* Entries read back for applying: each must still be the entry our log has there. */
void repl_apply_entries(struct repl *r, const struct repl_entry *e, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t epoch;
		if (e[i].index != r->applied_index + 1 || e[i].index > r->commit_index)
			return;
		if (!repl_epoch_at(r, e[i].index, &epoch) || epoch != e[i].epoch)
			return;
		apply_one(r, &e[i]);
	}
}
