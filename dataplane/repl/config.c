/* Configurations and epochs. Mode A: the control plane's configuration (epoch, primary,
 * members), promises (PREPARE), and the planned handoff to another primary. Mode B: the
 * membership as CONFIG entries in the log, in force as soon as they are appended, one
 * uncommitted change at a time. */
#include "repl/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- Mode A: promises ---- */

static void promise_fill(struct repl *r, uint64_t epoch, struct repl_promise *out)
{
	memset(out, 0, sizeof(*out));
	out->epoch = epoch;
	out->last_index = r->durable_index;
	bool known = repl_epoch_at(r, r->durable_index, &out->last_epoch);
	ASSERT(known);
	out->damaged = r->meta.repair_index > r->durable_index;
	out->was_primary = r->promise_was_primary;
}

int repl_promise(struct repl *r, uint64_t epoch, struct repl_promise *out)
{
	if (r->failed)
		return -EIO;
	if (r->o.mode != REPL_MODE_EXTERNAL || epoch == 0)
		return -EINVAL;
	if (epoch < r->meta.epoch || (epoch == r->meta.epoch && r->role == REPL_ROLE_PRIMARY)) {
		memset(out, 0, sizeof(*out));
		out->epoch = r->meta.epoch;
		return -ESTALE;
	}
	if (epoch > r->meta.epoch) {
		r->promise_was_primary = r->role == REPL_ROLE_PRIMARY;
		repl_epoch_adopt(r, epoch, REPL_NODE_NONE);
	}
	if (r->meta_durable.epoch >= epoch) {
		promise_fill(r, epoch, out);
		return 0;
	}
	r->promise_wanted = epoch;
	return -EINPROGRESS;
}

void repl_promise_flush(struct repl *r)
{
	uint64_t e = r->promise_wanted;
	if (e == 0 || r->meta_durable.epoch < e)
		return;
	r->promise_wanted = 0;
	if (r->meta.epoch != e)
		return; /* overtaken by a newer epoch */
	struct repl_promise p;
	promise_fill(r, e, &p);
	r->io.promised(r->io.ctx, &p);
}

/* ---- Mode A: configuration ---- */

static int config_check(const struct repl *r, const struct repl_config *cfg)
{
	if (r->o.mode != REPL_MODE_EXTERNAL || cfg->primary >= REPL_NODES_MAX)
		return -EINVAL;
	if (!(cfg->members.voters & REPL_BIT(cfg->primary)) ||
	    (cfg->members.voters & cfg->members.learners))
		return -EINVAL;
	if (cfg->epoch < r->meta.epoch || cfg->epoch == 0)
		return -ESTALE;
	if (cfg->epoch == r->meta.epoch && r->primary != REPL_NODE_NONE &&
	    r->primary != cfg->primary)
		return -EINVAL; /* epochs are issued once, with one primary */
	if (cfg->epoch == r->meta.epoch && r->role == REPL_ROLE_PRIMARY &&
	    __builtin_popcountll(cfg->members.voters ^ r->members.voters) > 1)
		return -EINVAL; /* one voter at a time, or majorities may not overlap */
	return 0;
}

/* A primary whose voters changed appends an entry under them: once it commits, every
 * committed entry is on a majority of the new voters. */
static void members_noop(struct repl *r)
{
	struct repl_entry noop = { .epoch = r->meta.epoch, .index = r->last_index + 1,
				   .type = REPL_ENTRY_NOOP };
	r->members_index = noop.index; /* even if the append fails: then never committed */
	(void)repl_log_append(r, &noop, 1);
}

int repl_config_set(struct repl *r, const struct repl_config *cfg)
{
	if (r->failed)
		return -EIO;
	int rc = config_check(r, cfg);
	if (rc != 0)
		return rc;
	if (cfg->epoch > r->meta.epoch)
		repl_epoch_adopt(r, cfg->epoch, cfg->primary == r->o.node_id ? REPL_NODE_NONE
									     : cfg->primary);
	uint64_t voters_before = r->members.voters;
	r->members = cfg->members;
	if (repl_peers_sync(r) != 0)
		return -ENOMEM;
	if (cfg->primary != r->o.node_id) {
		if (r->primary != cfg->primary)
			repl_become_follower(r, cfg->primary);
		return 0;
	}
	if (r->role == REPL_ROLE_PRIMARY) {
		if (voters_before != cfg->members.voters)
			members_noop(r);
		repl_commit_advance(r);
		repl_replicate_all(r);
		return 0;
	}
	/* Never primary twice in one epoch: a restarted node may have lost entries of it. */
	if (r->meta_durable.primary_epoch >= cfg->epoch && r->primary_wanted_epoch != cfg->epoch)
		return -ESTALE;
	/* Never primary with a damaged log: the appointment may rest on a promise made before
	 * the damage was found, and the log may lack committed entries. */
	if (r->meta.repair_index > r->durable_index)
		return -EUCLEAN;
	if (r->meta.primary_epoch < cfg->epoch) {
		r->meta.primary_epoch = cfg->epoch;
		repl_meta_save(r);
	}
	r->primary_wanted_epoch = cfg->epoch;
	repl_primary_wanted_flush(r);
	return 0;
}

/* Becomes primary once the metadata saying so is durable. */
void repl_primary_wanted_flush(struct repl *r)
{
	uint64_t e = r->primary_wanted_epoch;
	if (e == 0 || r->meta_durable.primary_epoch < e || r->meta_durable.epoch < e)
		return;
	r->primary_wanted_epoch = 0;
	if (r->meta.epoch != e || r->role == REPL_ROLE_PRIMARY || !repl_is_voter(r, r->o.node_id) ||
	    r->meta.repair_index > r->durable_index)
		return;
	r->promise_was_primary = false;
	repl_become_primary(r);
}

/* ---- Mode A: planned handoff ---- */

int repl_handoff(struct repl *r, unsigned target)
{
	if (r->failed || r->role != REPL_ROLE_PRIMARY || r->o.mode != REPL_MODE_EXTERNAL)
		return -ENOTCONN;
	if (target == r->o.node_id || !repl_is_voter(r, target) || !r->peers[target])
		return -EINVAL;
	r->handoff = true;
	r->handoff_target = target;
	r->handoff_deadline_ms = repl_now(r) + r->o.handoff_ms;
	r->handoff_ready = r->peers[target]->match == r->last_index &&
			   r->durable_index == r->last_index;
	repl_replicate_peer(r, target);
	return 0;
}

void repl_handoff_tick(struct repl *r, uint64_t now)
{
	if (r->handoff && now >= r->handoff_deadline_ms) {
		r->handoff = false; /* the control plane did not follow up: take writes again */
		r->handoff_ready = false;
	}
}

/* ---- Mode B: membership in the log ---- */

void repl_members_encode(const struct repl_members *m, uint8_t out[REPL_MEMBERS_BYTES])
{
	for (unsigned i = 0; i < 8; i++) {
		out[i] = (uint8_t)(m->voters >> (8 * i));
		out[8 + i] = (uint8_t)(m->learners >> (8 * i));
	}
}

bool repl_members_decode(const uint8_t *p, uint32_t len, struct repl_members *out)
{
	if (len != REPL_MEMBERS_BYTES)
		return false;
	out->voters = out->learners = 0;
	for (unsigned i = 0; i < 8; i++) {
		out->voters |= (uint64_t)p[i] << (8 * i);
		out->learners |= (uint64_t)p[8 + i] << (8 * i);
	}
	return out->voters != 0 && (out->voters & out->learners) == 0;
}

void repl_configs_push(struct repl *r, uint64_t index, const struct repl_members *m)
{
	if (r->n_configs == r->configs_cap) {
		unsigned cap = r->configs_cap ? r->configs_cap * 2 : 4;
		struct repl_config_entry *v = realloc(r->configs, cap * sizeof(*v));
		ASSERT(v); /* a handful of small entries; out of memory here is fatal */
		r->configs = v;
		r->configs_cap = cap;
	}
	r->configs[r->n_configs].index = index;
	r->configs[r->n_configs].members = *m;
	r->n_configs++;
	r->members = *m;
	repl_peers_sync(r);
}

/* The latest configuration in the log is in force; cutting it reverts to the one before. */
void repl_configs_truncate(struct repl *r, uint64_t from_index)
{
	unsigned before = r->n_configs;
	while (r->n_configs > 0 && r->configs[r->n_configs - 1].index >= from_index)
		r->n_configs--;
	if (r->n_configs == before)
		return;
	r->members = r->n_configs ? r->configs[r->n_configs - 1].members : r->snap_members;
	repl_peers_sync(r);
}

/* Keeps only the newest committed configuration (and any after it); a leader that is no
 * longer a voter steps down once its removal is committed. */
void repl_configs_commit(struct repl *r)
{
	unsigned keep = 0;
	while (keep + 1 < r->n_configs && r->configs[keep + 1].index <= r->commit_index)
		keep++;
	if (keep > 0) {
		memmove(r->configs, r->configs + keep, (r->n_configs - keep) * sizeof(*r->configs));
		r->n_configs -= keep;
	}
	if (r->role == REPL_ROLE_PRIMARY && !repl_is_voter(r, r->o.node_id) && r->n_configs > 0 &&
	    r->configs[r->n_configs - 1].index <= r->commit_index)
		repl_become_follower(r, REPL_NODE_NONE);
}

int repl_members_change(struct repl *r, const struct repl_members *m)
{
	if (r->failed || r->role != REPL_ROLE_PRIMARY || r->o.mode != REPL_MODE_ELECTION)
		return -ENOTCONN;
	if (m->voters == 0 || (m->voters & m->learners) ||
	    __builtin_popcountll(m->voters ^ r->members.voters) > 1)
		return -EINVAL;
	if (r->commit_index < r->epoch_start_index ||
	    (r->n_configs > 0 && r->configs[r->n_configs - 1].index > r->commit_index))
		return -EBUSY;
	uint8_t buf[REPL_MEMBERS_BYTES];
	repl_members_encode(m, buf);
	int64_t idx = repl_propose(r, REPL_ENTRY_CONFIG, buf, sizeof(buf));
	return idx < 0 ? (int)idx : 0;
}
