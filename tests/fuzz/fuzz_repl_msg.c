/* libFuzzer target for the replication messages: the wire decoder, and the core that acts
 * on what it decodes.
 *
 * The input is decoded with repl_msg_decode(). An accepted message must encode back to the
 * very same bytes (the form is canonical: reserved bytes zero, booleans 0 or 1), and its
 * entry payloads must lie inside the input. Then the message is delivered, with its source
 * and destination made valid, to three replication cores of a small in-memory cluster: a
 * mode A follower and a mode A primary (each with a few entries, one of them compacted) and
 * a mode B node. Whatever a peer sends, the core must not crash, assert, or read out of
 * bounds; the I/O it starts is completed afterwards, as a host would. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "repl/repl.h"

#define FUZZ_LOG_MAX 4096
#define FUZZ_OPS_MAX 64

/* An I/O the core started, completed after its call returns. */
struct fuzz_op {
	uint8_t kind;
	uint64_t a, b;
	unsigned tag;
	struct repl_meta meta;
	struct repl_snapshot_meta snap;
	uint64_t off;
	size_t len;
	bool last;
};

struct fuzz_host {
	struct repl *r;
	unsigned id;
	uint64_t now;
	uint64_t epochs[FUZZ_LOG_MAX]; /* the log: an epoch per index, payloads empty */
	uint64_t last;
	struct fuzz_op ops[FUZZ_OPS_MAX];
	unsigned n_ops;
};

enum { OP_APPEND, OP_READ, OP_META, OP_SNAP_READ, OP_SNAP_WRITE };

static struct fuzz_op *op_add(struct fuzz_host *h, uint8_t kind)
{
	if (h->n_ops == FUZZ_OPS_MAX)
		abort(); /* the core starts a bounded amount of I/O per message */
	struct fuzz_op *op = &h->ops[h->n_ops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	return op;
}

static void io_send(void *ctx, unsigned dst, const struct repl_msg *m)
{
	static uint8_t buf[REPL_MSG_BYTES_MAX];
	(void)ctx;
	if (dst >= REPL_NODES_MAX || repl_msg_encode(m, buf, sizeof(buf)) < 0)
		abort(); /* the core only sends what it can encode */
}

static void io_append(void *ctx, const struct repl_entry *e, unsigned n)
{
	struct fuzz_host *h = ctx;
	for (unsigned i = 0; i < n; i++) {
		if (e[i].index != h->last + 1 || e[i].index >= FUZZ_LOG_MAX)
			abort();
		h->epochs[e[i].index] = e[i].epoch;
		h->last = e[i].index;
	}
	struct fuzz_op *op = op_add(h, OP_APPEND);
	op->a = h->last;
	op->b = h->epochs[h->last];
}

static void io_truncate(void *ctx, uint64_t from)
{
	struct fuzz_host *h = ctx;
	if (from == 0 || from > h->last)
		abort();
	h->last = from - 1;
}

static void io_read(void *ctx, unsigned tag, uint64_t from, uint64_t to, size_t max)
{
	struct fuzz_host *h = ctx;
	(void)max;
	struct fuzz_op *op = op_add(h, OP_READ);
	op->tag = tag;
	op->a = from;
	op->b = to;
}

static void io_meta_save(void *ctx, const struct repl_meta *meta)
{
	struct fuzz_host *h = ctx;
	op_add(h, OP_META)->meta = *meta;
}

static void io_snapshot_read(void *ctx, unsigned tag, uint64_t off, size_t max)
{
	struct fuzz_host *h = ctx;
	struct fuzz_op *op = op_add(h, OP_SNAP_READ);
	op->tag = tag;
	op->off = off;
	op->len = max;
}

static void io_snapshot_write(void *ctx, const struct repl_snapshot_meta *m, uint64_t off,
			      const uint8_t *data, size_t len, bool last)
{
	struct fuzz_host *h = ctx;
	(void)data;
	struct fuzz_op *op = op_add(h, OP_SNAP_WRITE);
	op->snap = *m;
	op->off = off;
	op->len = len;
	op->last = last;
	if (last && m->index < FUZZ_LOG_MAX)
		h->last = m->index; /* installed: the log restarts after it */
}

static uint64_t io_now_ms(void *ctx)
{
	return ((struct fuzz_host *)ctx)->now;
}

static uint64_t io_random(void *ctx)
{
	(void)ctx;
	return 4; /* chosen by a fair dice roll */
}

static void io_apply(void *ctx, const struct repl_entry *e)
{
	(void)ctx;
	(void)e;
}

static void io_abandon(void *ctx, uint64_t from)
{
	(void)ctx;
	(void)from;
}

static void io_role(void *ctx, enum repl_role role, uint64_t epoch, unsigned primary)
{
	(void)ctx;
	(void)role;
	(void)epoch;
	(void)primary;
}

static void io_read_confirmed(void *ctx, uint64_t seq)
{
	(void)ctx;
	(void)seq;
}

static void io_promised(void *ctx, const struct repl_promise *p)
{
	(void)ctx;
	(void)p;
}

static void io_fatal(void *ctx, int err, uint64_t index)
{
	(void)ctx;
	(void)err;
	(void)index;
}

/* Completes the I/O the core started, in order, as a host would after the call returned. */
static void complete(struct fuzz_host *h)
{
	static const uint8_t snap_bytes[16];
	for (unsigned round = 0; round < 8 && h->n_ops > 0; round++) {
		unsigned n = h->n_ops;
		struct fuzz_op ops[FUZZ_OPS_MAX];
		memcpy(ops, h->ops, n * sizeof(ops[0]));
		h->n_ops = 0;
		for (unsigned i = 0; i < n; i++) {
			switch (ops[i].kind) {
			case OP_APPEND:
				repl_append_done(h->r, ops[i].a, ops[i].b, 0);
				break;
			case OP_READ: {
				struct repl_entry e[4];
				unsigned k = 0;
				for (uint64_t x = ops[i].a; x <= ops[i].b && x <= h->last && k < 4; x++)
					e[k++] = (struct repl_entry){ .epoch = h->epochs[x], .index = x,
								      .type = REPL_ENTRY_NOOP };
				repl_read_done(h->r, ops[i].tag, e, k, k ? 0 : -ENOENT);
				break;
			}
			case OP_META:
				repl_meta_done(h->r, &ops[i].meta, 0);
				break;
			case OP_SNAP_READ: {
				struct repl_snapshot_meta m = { .index = 2, .epoch = 1, .total_bytes = 16 };
				uint64_t off = ops[i].off < 16 ? ops[i].off : 16;
				size_t len = 16 - off < ops[i].len ? 16 - off : ops[i].len;
				repl_snapshot_read_done(h->r, ops[i].tag, &m, off, snap_bytes + off, len, 0);
				break;
			}
			case OP_SNAP_WRITE:
				repl_snapshot_write_done(h->r, &ops[i].snap, ops[i].off, ops[i].len, 0);
				break;
			}
		}
	}
}

static const struct repl_io fuzz_io = {
	.send = io_send, .append = io_append, .truncate = io_truncate, .read = io_read,
	.meta_save = io_meta_save, .snapshot_read = io_snapshot_read,
	.snapshot_write = io_snapshot_write, .now_ms = io_now_ms, .random = io_random,
	.apply = io_apply, .abandon = io_abandon, .role = io_role,
	.read_confirmed = io_read_confirmed, .promised = io_promised, .fatal = io_fatal,
};

/* A node with entries 1..6 (epochs 1,1,2,2,2,3), a snapshot at 2 and the log from 3. */
static void host_start(struct fuzz_host *h, unsigned id, enum repl_mode mode)
{
	memset(h, 0, sizeof(*h));
	h->id = id;
	h->now = 1000;
	const uint64_t epochs[] = { 0, 1, 1, 2, 2, 2, 3 };
	memcpy(h->epochs, epochs, sizeof(epochs));
	h->last = 6;
	static const struct repl_epoch_run runs[] = { { 3, 2 }, { 6, 3 } };
	struct repl_boot boot = { .meta = { .epoch = 3, .vote = REPL_NODE_NONE },
				  .snapshot = { .index = 2, .epoch = 1, .total_bytes = 16,
						.members = { .voters = 0x7 } },
				  .last_index = 6, .runs = runs, .n_runs = 2,
				  .members = { .voters = 0x7 } };
	struct repl_options o;
	repl_options_default(&o, id, mode);
	o.cache_entries = 8;
	o.cache_bytes = 4096;
	o.snapshot_chunk_bytes = 8;
	struct repl_io io = fuzz_io;
	io.ctx = h;
	h->r = repl_create(&o, &io, &boot);
	if (!h->r)
		abort();
	if (mode == REPL_MODE_EXTERNAL) {
		struct repl_config cfg = { .epoch = 3, .primary = 0, .members = { .voters = 0x7 } };
		if (repl_config_set(h->r, &cfg) != 0)
			abort();
	}
	complete(h); /* node 0 becomes primary of epoch 3 once its metadata is saved */
}

static void deliver(struct fuzz_host *h, const struct repl_msg *in)
{
	struct repl_msg m = *in;
	m.dst = (uint8_t)h->id;
	m.src = (uint8_t)((h->id + 1 + (in->src & 1)) % 3); /* one of the two others */
	repl_recv(h->r, &m);
	repl_flush(h->r);
	complete(h);
	h->now += 7;
	repl_tick(h->r);
	complete(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct repl_entry entries[REPL_MSG_ENTRIES_MAX];
	struct repl_msg m;
	if (repl_msg_decode(data, size, &m, entries, REPL_MSG_ENTRIES_MAX) != 0)
		return 0;
	uint8_t *back = malloc(size ? size : 1);
	if (!back || repl_msg_encode(&m, back, size) != (ssize_t)size || memcmp(back, data, size))
		abort(); /* the wire form is canonical */
	free(back);
	if (m.type == REPL_MSG_APPEND) {
		for (uint32_t i = 0; i < m.append.n_entries; i++) {
			const struct repl_entry *e = &m.append.entries[i];
			if (e->payload < data || e->payload + e->len > data + size)
				abort();
		}
	}
	static struct fuzz_host follower, primary, elector;
	host_start(&follower, 1, REPL_MODE_EXTERNAL);
	host_start(&primary, 0, REPL_MODE_EXTERNAL);
	host_start(&elector, 2, REPL_MODE_ELECTION);
	deliver(&follower, &m);
	deliver(&primary, &m);
	deliver(&elector, &m);
	repl_destroy(follower.r);
	repl_destroy(primary.r);
	repl_destroy(elector.r);
	return 0;
}
