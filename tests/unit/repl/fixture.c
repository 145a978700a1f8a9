/* The in-memory host of the replication core's unit tests (see fixture.h). */
#include "fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/compiler.h"

/* ---- The I/O table ---- */

static void io_send(void *ctx, unsigned dst, const struct repl_msg *m)
{
	struct fx_node *n = ctx;
	assert_true(n->n_msgs < FX_MSGS_MAX);
	size_t cap = repl_msg_encoded_bytes(m);
	struct fx_msg *out = &n->msgs[n->n_msgs++];
	out->bytes = malloc(cap);
	assert_non_null(out->bytes);
	ssize_t len = repl_msg_encode(m, out->bytes, cap);
	assert_true(len == (ssize_t)cap);
	out->len = (uint32_t)len;
	out->dst = dst;
	assert_int_equal(m->dst, dst);
	assert_int_equal(m->src, n->id);
}

static struct fx_op *op_add(struct fx_node *n, enum fx_op_kind kind)
{
	assert_true(n->n_ops < FX_OPS_MAX);
	struct fx_op *op = &n->ops[n->n_ops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	return op;
}

static void io_append(void *ctx, const struct repl_entry *e, unsigned count)
{
	struct fx_node *n = ctx;
	assert_true(count > 0);
	for (unsigned i = 0; i < count; i++) {
		assert_int_equal(e[i].index, n->last + 1);
		assert_true(e[i].index < FX_LOG_MAX && e[i].len <= FX_PAYLOAD_MAX);
		struct fx_entry *d = &n->log[e[i].index];
		d->epoch = e[i].epoch;
		d->type = e[i].type;
		d->len = e[i].len;
		if (e[i].len)
			memcpy(d->payload, e[i].payload, e[i].len);
		n->last = e[i].index;
	}
	struct fx_op *op = op_add(n, FX_OP_APPEND);
	op->a = e[0].index;
	op->b = e[count - 1].index;
	op->epoch = e[count - 1].epoch;
}

static void io_truncate(void *ctx, uint64_t from)
{
	struct fx_node *n = ctx;
	assert_true(from >= n->log_start && from <= n->last);
	n->last = from - 1;
	n->durable = MIN(n->durable, n->last);
	struct fx_op *op = op_add(n, FX_OP_TRUNCATE);
	op->a = from;
}

static void io_read(void *ctx, unsigned tag, uint64_t from, uint64_t to, size_t max_bytes)
{
	struct fx_node *n = ctx;
	assert_true(from <= to && max_bytes > 0);
	struct fx_op *op = op_add(n, FX_OP_READ);
	n->n_reads++;
	op->tag = tag;
	op->a = from;
	op->b = to;
	op->max_bytes = max_bytes;
}

static void io_meta_save(void *ctx, const struct repl_meta *meta)
{
	struct fx_op *op = op_add(ctx, FX_OP_META);
	op->meta = *meta;
}

static void io_snapshot_read(void *ctx, unsigned tag, uint64_t offset, size_t max_bytes)
{
	struct fx_op *op = op_add(ctx, FX_OP_SNAP_READ);
	op->tag = tag;
	op->offset = offset;
	op->max_bytes = max_bytes;
}

static void io_snapshot_write(void *ctx, const struct repl_snapshot_meta *meta, uint64_t offset,
			      const uint8_t *data, size_t len, bool last)
{
	struct fx_op *op = op_add(ctx, FX_OP_SNAP_WRITE);
	assert_true(len <= FX_SNAPSHOT_BYTES_MAX);
	op->snap = *meta;
	op->offset = offset;
	op->len = (uint32_t)len;
	op->last = last;
	if (len)
		memcpy(op->data, data, len);
}

static uint64_t io_now_ms(void *ctx)
{
	return ((struct fx_node *)ctx)->now_ms;
}

static uint64_t io_random(void *ctx)
{
	struct fx_node *n = ctx;
	n->rand_state = n->rand_state * 6364136223846793005ull + 1442695040888963407ull;
	return n->rand_state >> 33;
}

static void io_apply(void *ctx, const struct repl_entry *e)
{
	struct fx_node *n = ctx;
	assert_int_equal(e->index, n->applied_last + 1);
	assert_true(e->index < FX_LOG_MAX);
	n->applied[e->index] = e->epoch;
	n->applied_last = e->index;
	n->n_applied++;
}

static void io_abandon(void *ctx, uint64_t from)
{
	struct fx_node *n = ctx;
	n->abandoned_from = from;
	n->n_abandon++;
}

static void io_role(void *ctx, enum repl_role role, uint64_t epoch, unsigned primary)
{
	struct fx_node *n = ctx;
	n->role = role;
	n->role_epoch = epoch;
	n->role_primary = primary;
	n->n_role++;
}

static void io_read_confirmed(void *ctx, uint64_t seq)
{
	struct fx_node *n = ctx;
	assert_true(seq > n->confirmed_seq);
	n->confirmed_seq = seq;
}

static void io_promised(void *ctx, const struct repl_promise *p)
{
	struct fx_node *n = ctx;
	n->promised = *p;
	n->n_promised++;
}

static void io_fatal(void *ctx, int err, uint64_t index)
{
	struct fx_node *n = ctx;
	n->fatal_err = err;
	n->fatal_index = index;
}

static const struct repl_io fx_io = {
	.send = io_send, .append = io_append, .truncate = io_truncate, .read = io_read,
	.meta_save = io_meta_save, .snapshot_read = io_snapshot_read,
	.snapshot_write = io_snapshot_write, .now_ms = io_now_ms, .random = io_random,
	.apply = io_apply, .abandon = io_abandon, .role = io_role,
	.read_confirmed = io_read_confirmed, .promised = io_promised, .fatal = io_fatal,
};

/* ---- Nodes ---- */

void fx_node_init(struct fx_node *n, unsigned id, enum repl_mode mode)
{
	memset(n, 0, sizeof(*n));
	n->id = id;
	n->now_ms = 1000;
	n->rand_state = 12345 + id;
	n->log_start = 1;
	n->meta_saved.vote = REPL_NODE_NONE;
	repl_options_default(&n->opts, id, mode);
	n->opts.heartbeat_ms = 10;
	n->opts.resend_ms = 50;
	n->opts.lease_ms = 100;
	n->opts.lease_drift_ms = 10;
	n->opts.election_ms = 100;
	n->opts.handoff_ms = 200;
	n->opts.cache_bytes = 4096;
	n->opts.cache_entries = 64;
	n->opts.snapshot_chunk_bytes = 100;
	n->role_primary = REPL_NODE_NONE;
}

static struct repl *node_create(struct fx_node *n, const struct repl_boot *boot)
{
	struct repl_io io = fx_io;
	io.ctx = n;
	return repl_create(&n->opts, &io, boot);
}

void fx_node_start(struct fx_node *n, const struct repl_boot *boot)
{
	struct repl_boot empty = { .meta = n->meta_saved };
	n->r = node_create(n, boot ? boot : &empty);
	assert_non_null(n->r);
}

void fx_node_free(struct fx_node *n)
{
	repl_destroy(n->r);
	n->r = NULL;
	fx_msgs_clear(n);
}

void fx_node_restart(struct fx_node *n)
{
	repl_destroy(n->r);
	fx_msgs_clear(n);
	n->n_ops = 0;
	n->last = n->durable;
	struct repl_epoch_run runs[FX_LOG_MAX];
	unsigned n_runs = 0;
	for (uint64_t i = n->log_start; i <= n->last; i++) {
		if (n_runs == 0 || runs[n_runs - 1].epoch != n->log[i].epoch) {
			runs[n_runs].start_index = i;
			runs[n_runs].epoch = n->log[i].epoch;
			n_runs++;
		}
	}
	struct repl_boot boot = { .meta = n->meta_saved, .snapshot = n->snap,
				  .last_index = n->last, .runs = runs, .n_runs = n_runs,
				  .members = n->boot_members };
	memset(n->applied, 0, sizeof(n->applied));
	n->applied_last = n->snap.index;
	n->r = node_create(n, &boot);
	assert_non_null(n->r);
}

/* ---- Messages ---- */

unsigned fx_msgs(const struct fx_node *n)
{
	return n->n_msgs;
}

void fx_msg_get(const struct fx_node *n, unsigned i, struct fx_decoded *out)
{
	assert_true(i < n->n_msgs);
	int rc = repl_msg_decode(n->msgs[i].bytes, n->msgs[i].len, &out->m, out->entries,
				 REPL_MSG_ENTRIES_MAX);
	assert_int_equal(rc, 0);
}

unsigned fx_msg_dst(const struct fx_node *n, unsigned i)
{
	return n->msgs[i].dst;
}

void fx_msgs_clear(struct fx_node *n)
{
	for (unsigned i = 0; i < n->n_msgs; i++)
		free(n->msgs[i].bytes);
	n->n_msgs = 0;
}

unsigned fx_msgs_count(const struct fx_node *n, unsigned type, unsigned dst)
{
	unsigned count = 0;
	for (unsigned i = 0; i < n->n_msgs; i++) {
		if (n->msgs[i].bytes[1] == type && (dst == REPL_NODE_NONE || n->msgs[i].dst == dst))
			count++;
	}
	return count;
}

bool fx_msg_last(const struct fx_node *n, unsigned type, unsigned dst, struct fx_decoded *out)
{
	for (unsigned i = n->n_msgs; i-- > 0;) {
		if (n->msgs[i].bytes[1] == type && (dst == REPL_NODE_NONE || n->msgs[i].dst == dst)) {
			fx_msg_get(n, i, out);
			return true;
		}
	}
	return false;
}

/* ---- I/O completion ---- */

unsigned fx_ops_count(const struct fx_node *n, enum fx_op_kind kind)
{
	unsigned count = 0;
	for (unsigned i = 0; i < n->n_ops; i++)
		count += n->ops[i].kind == kind;
	return count;
}

static void complete_read(struct fx_node *n, const struct fx_op *op)
{
	struct repl_entry e[64];
	unsigned count = 0;
	size_t bytes = 0;
	if (op->a < n->log_start || op->a > n->last) {
		repl_read_done(n->r, op->tag, NULL, 0, -ENOENT);
		return;
	}
	for (uint64_t i = op->a; i <= MIN(op->b, n->last) && count < 64; i++) {
		if (count > 0 && bytes + n->log[i].len > op->max_bytes)
			break;
		if (i == n->corrupt_index) {
			repl_read_done(n->r, op->tag, e, count, -EBADMSG);
			return;
		}
		e[count].index = i;
		e[count].epoch = n->log[i].epoch;
		e[count].type = n->log[i].type;
		e[count].len = n->log[i].len;
		e[count].payload = n->log[i].payload;
		bytes += n->log[i].len;
		count++;
	}
	repl_read_done(n->r, op->tag, e, count, 0);
}

static void complete_snap_read(struct fx_node *n, const struct fx_op *op)
{
	uint64_t off = MIN(op->offset, n->snap.total_bytes);
	size_t len = MIN(op->max_bytes, n->snap.total_bytes - off);
	repl_snapshot_read_done(n->r, op->tag, &n->snap, off, n->snap_data + off, len, 0);
}

static void complete_snap_write(struct fx_node *n, const struct fx_op *op)
{
	static uint8_t staging[FX_SNAPSHOT_BYTES_MAX];
	assert_true(op->offset + op->len <= FX_SNAPSHOT_BYTES_MAX);
	memcpy(staging + op->offset, op->data, op->len);
	if (op->last) {
		n->snap = op->snap;
		memcpy(n->snap_data, staging, op->snap.total_bytes);
		n->last = n->durable = op->snap.index;
		n->log_start = op->snap.index + 1;
		n->applied_last = op->snap.index;
	}
	repl_snapshot_write_done(n->r, &op->snap, op->offset, op->len, 0);
}

static void complete(struct fx_node *n, const struct fx_op *op)
{
	switch (op->kind) {
	case FX_OP_APPEND:
		if (op->b <= n->last && n->log[op->b].epoch == op->epoch)
			n->durable = MAX(n->durable, op->b);
		repl_append_done(n->r, op->b, op->epoch, 0);
		break;
	case FX_OP_TRUNCATE:
		break;
	case FX_OP_READ:
		complete_read(n, op);
		break;
	case FX_OP_META:
		n->meta_saved = op->meta;
		repl_meta_done(n->r, &op->meta, 0);
		break;
	case FX_OP_SNAP_READ:
		complete_snap_read(n, op);
		break;
	case FX_OP_SNAP_WRITE:
		complete_snap_write(n, op);
		break;
	}
}

bool fx_op_complete(struct fx_node *n, enum fx_op_kind kind)
{
	for (unsigned i = 0; i < n->n_ops; i++) {
		if (n->ops[i].kind != kind)
			continue;
		static struct fx_op op;
		op = n->ops[i];
		memmove(&n->ops[i], &n->ops[i + 1], (n->n_ops - i - 1) * sizeof(op));
		n->n_ops--;
		complete(n, &op);
		return true;
	}
	return false;
}

void fx_complete_all(struct fx_node *n)
{
	while (n->n_ops > 0)
		fx_op_complete(n, n->ops[0].kind);
}

struct repl_entry fx_entry(uint64_t epoch, uint64_t index, const char *payload)
{
	struct repl_entry e = { .epoch = epoch, .index = index, .type = REPL_ENTRY_DATA,
				.payload = (const uint8_t *)payload,
				.len = (uint32_t)strlen(payload) };
	return e;
}

void fx_config(struct fx_node *n, uint64_t epoch, unsigned primary, uint64_t voters,
	       uint64_t learners)
{
	struct repl_config cfg = { .epoch = epoch, .primary = primary,
				   .members = { .voters = voters, .learners = learners } };
	assert_int_equal(repl_config_set(n->r, &cfg), 0);
}

/* ---- Clusters ---- */

void fx_cluster_init(struct fx_cluster *c, unsigned count, enum repl_mode mode)
{
	assert_true(count <= FX_NODES_MAX);
	memset(c, 0, sizeof(*c));
	c->count = count;
	/* Mode B starts from a configuration of every node as a voter. */
	struct repl_boot boot = { .meta = { .vote = REPL_NODE_NONE } };
	if (mode == REPL_MODE_ELECTION)
		boot.members.voters = (1ull << count) - 1;
	for (unsigned i = 0; i < count; i++) {
		fx_node_init(&c->node[i], i, mode);
		fx_node_start(&c->node[i], &boot);
	}
}

void fx_cluster_free(struct fx_cluster *c)
{
	for (unsigned i = 0; i < c->count; i++)
		fx_node_free(&c->node[i]);
}

void fx_cluster_config(struct fx_cluster *c, uint64_t epoch, unsigned primary)
{
	uint64_t voters = (1ull << c->count) - 1;
	for (unsigned i = 0; i < c->count; i++)
		fx_config(&c->node[i], epoch, primary, voters, 0);
}

static bool deliver_one_round(struct fx_cluster *c)
{
	bool moved = false;
	for (unsigned i = 0; i < c->count; i++) {
		struct fx_node *n = &c->node[i];
		if (n->n_ops > 0) {
			fx_complete_all(n);
			moved = true;
		}
	}
	for (unsigned i = 0; i < c->count; i++) {
		struct fx_node *n = &c->node[i];
		unsigned count = n->n_msgs;
		struct fx_msg *msgs = malloc(count * sizeof(*msgs) + 1);
		memcpy(msgs, n->msgs, count * sizeof(*msgs));
		n->n_msgs = 0;
		for (unsigned k = 0; k < count; k++) {
			unsigned dst = msgs[k].dst;
			uint64_t off = c->down | c->cut;
			if (dst < c->count && !((off >> dst) & 1) && !((off >> i) & 1)) {
				struct fx_decoded d;
				int rc = repl_msg_decode(msgs[k].bytes, msgs[k].len, &d.m, d.entries,
							 REPL_MSG_ENTRIES_MAX);
				assert_int_equal(rc, 0);
				repl_recv(c->node[dst].r, &d.m);
				c->delivered++;
			}
			free(msgs[k].bytes);
			moved = true;
		}
		free(msgs);
	}
	return moved;
}

void fx_cluster_settle(struct fx_cluster *c)
{
	for (unsigned round = 0; round < 10000 && deliver_one_round(c); round++)
		;
}

void fx_cluster_run(struct fx_cluster *c, uint64_t ms)
{
	for (uint64_t t = 0; t < ms; t++) {
		for (unsigned i = 0; i < c->count; i++) {
			c->node[i].now_ms++;
			if (!((c->down >> i) & 1))
				repl_tick(c->node[i].r);
		}
		fx_cluster_settle(c);
	}
}

int fx_cluster_primary(const struct fx_cluster *c)
{
	int found = -1;
	for (unsigned i = 0; i < c->count; i++) {
		struct repl_state s;
		repl_state_get(c->node[i].r, &s);
		if (s.role == REPL_ROLE_PRIMARY && !((c->down >> i) & 1))
			found = (int)i;
	}
	return found;
}

uint64_t fx_cluster_check_applied(const struct fx_cluster *c)
{
	uint64_t low = UINT64_MAX;
	for (unsigned i = 0; i < c->count; i++)
		low = MIN(low, c->node[i].applied_last);
	for (unsigned i = 1; i < c->count; i++) {
		for (uint64_t k = 1; k <= low; k++) {
			uint64_t a = c->node[0].applied[k], b = c->node[i].applied[k];
			if (a && b)
				assert_int_equal(a, b);
		}
	}
	return low;
}

void fx_node_compact(struct fx_node *n)
{
	uint64_t at = n->applied_last;
	assert_true(at >= n->log_start);
	n->snap.index = at;
	n->snap.epoch = n->log[at].epoch;
	n->snap.total_bytes = 250; /* three chunks of 100 */
	for (unsigned i = 0; i < 250; i++)
		n->snap_data[i] = (uint8_t)(at + i);
	n->log_start = at + 1;
	repl_log_compacted(n->r, at, at + 1, NULL);
}
