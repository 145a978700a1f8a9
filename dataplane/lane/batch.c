/* The write and read paths of a durable lane. A write is checked and made deterministic as
 * it arrives and joins the lane's open batch; once per loop turn the batch becomes one log
 * entry (its commands, after a header with the batch's time) proposed to the replication
 * core. When the entry is committed and applied, every command runs against the key-value
 * state at the batch's time, on every replica, and the primary answers the waiting clients
 * in command order. A read is served from the applied state while the primary holds its
 * lease, otherwise after a round of acknowledgements confirms it is still primary. */
#define LOG_COMPONENT "lane"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/panic.h"
#include "lane/lane_priv.h"

#define LANE_ERR_LOADING "LOADING spindle is loading the dataset in memory"
#define LANE_ERR_NOSPACE "MISCONF spindle cannot write to its log: no space left on device; " \
			 "writes resume once there is room, reads go on"
#define LANE_ERR_ABANDONED "TRYAGAIN the lane's primary changed before this write was " \
			   "acknowledged; it may or may not have been applied"
#define LANE_ERR_NOT_PRIMARY "TRYAGAIN this node is not the primary of the key's lane"
#define LANE_ERR_FAILED "ERR this lane stopped after a disk error; see the server log"

static void lane_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t lane_get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Answers a request whose reply is complete: on this loop directly, else sent home. */
static bool lane_refuse(struct resp_out *out, const char *err)
{
	resp_add_error(out, err);
	return true;
}

static const char *lane_unavailable(const struct lane *lane)
{
	if (lane->state == LANE_LOADING)
		return LANE_ERR_LOADING;
	if (lane->state == LANE_FAILED)
		return LANE_ERR_FAILED;
	if (!lane->is_primary)
		return LANE_ERR_NOT_PRIMARY;
	return NULL;
}

/* ---- Writes ---- */

static void lane_batch_drop_last(struct lane *lane, size_t len_before)
{
	lane->batch.len = len_before;
	lane->batch.count--;
}

bool lane_write_begin(struct lane *lane, struct lane_req *req, struct resp_out *out)
{
	const char *why = lane_unavailable(lane);
	if (why != NULL)
		return lane_refuse(out, why);
	if (lane->nospace || lane->log_nospace)
		return lane_refuse(out, LANE_ERR_NOSPACE);
	if (lane->batch.count == 0)
		lane->batch_time_ms = MAX(loop_wall_ms(lane->owner), lane->last_time_ms);
	uint32_t ordinal = lane->batch.count;
	size_t before = lane->batch.len;
	if (kv_cmd_prepare(req->cmd, req->argc, req->argv, lane->batch_time_ms, &lane->batch, out) != 0)
		return true;
	if (lane->batch.len > LANE_BATCH_BYTES_MAX) {
		lane_batch_drop_last(lane, before);
		if (before == 0)
			return lane_refuse(out, "ERR command too large for the write log");
		/* The batch is full: send it on its way and start the next with this command. */
		lane_batch_seal(lane);
		return lane_write_begin(lane, req, out);
	}
	req->ordinal = ordinal;
	req->reply = out;
	list_push_back(&lane->batch_waiters, &req->node);
	return false;
}

static void lane_waiters_fail(struct lane *lane, struct list_node *waiters, const char *err)
{
	struct list_node *n;
	while ((n = list_pop_front(waiters)) != NULL) {
		struct lane_req *req = list_entry(n, struct lane_req, node);
		resp_add_error(req->reply, err);
		lane_req_complete(lane, req);
	}
}

/* Proposes the open batch as one entry. Returns 1 if it did, 0 if there was nothing. */
int lane_batch_seal(struct lane *lane)
{
	if (lane->batch.count == 0)
		return 0;
	size_t len = LANE_ENTRY_HEADER_BYTES + lane->batch.len;
	if (len > lane->payload_cap) {
		uint8_t *p = realloc(lane->payload, len);
		ASSERT_MSG(p != NULL, "lane %u: out of memory for an entry", lane->id);
		lane->payload = p;
		lane->payload_cap = len;
	}
	lane->payload[0] = LANE_PAYLOAD_KIND_COMMANDS;
	lane_put64(lane->payload + 1, (uint64_t)lane->batch_time_ms);
	memcpy(lane->payload + LANE_ENTRY_HEADER_BYTES, lane->batch.buf, lane->batch.len);
	int64_t index = repl_propose(lane->repl, REPL_ENTRY_DATA, lane->payload, (uint32_t)len);
	if (index == -EAGAIN)
		return 0; /* the core's window is full: the batch stays open and grows */
	if (index < 0) {
		lane_waiters_fail(lane, &lane->batch_waiters, index == -ENOTCONN ? LANE_ERR_NOT_PRIMARY
									     : "ERR cannot log this write");
		kv_enc_reset(&lane->batch);
		return 1;
	}
	struct lane_batch *b = malloc(sizeof(*b));
	ASSERT_MSG(b != NULL, "lane %u: out of memory for a batch", lane->id);
	b->index = (uint64_t)index;
	list_init(&b->waiters);
	/* Move the waiters to the proposed batch. */
	if (!list_empty(&lane->batch_waiters)) {
		b->waiters.next = lane->batch_waiters.next;
		b->waiters.prev = lane->batch_waiters.prev;
		b->waiters.next->prev = &b->waiters;
		b->waiters.prev->next = &b->waiters;
		list_init(&lane->batch_waiters);
	}
	list_push_back(&lane->proposed, &b->node);
	lane->last_time_ms = lane->batch_time_ms;
	kv_enc_reset(&lane->batch);
	return 1;
}

/* ---- Applying committed entries ---- */

static void lane_apply_commands(struct lane *lane, const struct repl_entry *e, struct lane_batch *b)
{
	int64_t time_ms = (int64_t)lane_get64(e->payload + 1);
	lane->last_time_ms = MAX(lane->last_time_ms, time_ms);
	const uint8_t *cmds = e->payload + LANE_ENTRY_HEADER_BYTES;
	size_t len = e->len - LANE_ENTRY_HEADER_BYTES, pos = 0;
	struct resp_out discard;
	resp_out_init(&discard, &lane->discard_pool, 2);
	for (uint32_t i = 0;; i++) {
		int rc = kv_enc_next(&lane->dec, cmds, len, &pos);
		if (rc == 0)
			break;
		if (rc < 0) {
			lane_fail(lane, rc, "entry %llu does not decode: %s", (unsigned long long)e->index,
				  strerror(-rc));
			break;
		}
		struct lane_req *w = NULL;
		if (b != NULL && !list_empty(&b->waiters)) {
			struct lane_req *head = list_entry(b->waiters.next, struct lane_req, node);
			if (head->ordinal == i)
				w = head;
		}
		kv_cmd_exec(lane->dec.cmd, lane->db, lane->dec.argc, lane->dec.argv, time_ms,
			    w != NULL ? w->reply : &discard);
		resp_out_reset(&discard);
		if (w != NULL) {
			list_unlink(&w->node);
			lane_req_complete(lane, w);
		}
	}
	if (b != NULL)
		lane_waiters_fail(lane, &b->waiters, "ERR internal error: reply lost");
}

void lane_apply(void *ctx, const struct repl_entry *e)
{
	struct lane *lane = ctx;
	ASSERT(e->index == lane->applied_index + 1);
	lane->applied_index = e->index;
	struct lane_batch *b = NULL;
	if (!list_empty(&lane->proposed)) {
		struct lane_batch *head = list_entry(lane->proposed.next, struct lane_batch, node);
		if (head->index == e->index) {
			b = head;
			list_unlink(&b->node);
		}
	}
	if (e->type == REPL_ENTRY_DATA) {
		if (e->len < LANE_ENTRY_HEADER_BYTES || e->payload[0] != LANE_PAYLOAD_KIND_COMMANDS)
			lane_fail(lane, -EBADMSG, "entry %llu has an unknown payload", (unsigned long long)e->index);
		else
			lane_apply_commands(lane, e, b);
	}
	free(b);
	lane_epoch_applied(lane, e);
	lane_reads_serve(lane);
}

void lane_abandon(void *ctx, uint64_t from_index)
{
	struct lane *lane = ctx;
	struct list_node *pos, *tmp;
	list_for_each_safe(pos, tmp, &lane->proposed) {
		struct lane_batch *b = list_entry(pos, struct lane_batch, node);
		if (b->index < from_index)
			continue;
		list_unlink(&b->node);
		lane_waiters_fail(lane, &b->waiters, LANE_ERR_ABANDONED);
		free(b);
	}
	lane_waiters_fail(lane, &lane->batch_waiters, LANE_ERR_NOT_PRIMARY);
	kv_enc_reset(&lane->batch);
	list_for_each_safe(pos, tmp, &lane->reads) {
		struct lane_read *r = list_entry(pos, struct lane_read, node);
		list_unlink(&r->node);
		resp_add_error(r->req->reply, LANE_ERR_NOT_PRIMARY);
		lane_req_complete(lane, r->req);
		free(r);
	}
}

/* ---- Reads ---- */

static void lane_read_exec(struct lane *lane, struct lane_req *req, struct resp_out *out)
{
	kv_cmd_exec(req->cmd, lane->db, req->argc, req->argv, MAX(loop_wall_ms(lane->owner), lane->last_time_ms), out);
}

bool lane_read_begin(struct lane *lane, struct lane_req *req, struct resp_out *out)
{
	const char *why = lane_unavailable(lane);
	if (why != NULL)
		return lane_refuse(out, why);
	uint64_t read_index = 0, seq = 0;
	int rc = repl_read_begin(lane->repl, &read_index, &seq);
	if (rc == -ENOTCONN)
		return lane_refuse(out, LANE_ERR_NOT_PRIMARY);
	if (rc == 0 && lane->applied_index >= read_index) {
		lane_read_exec(lane, req, out);
		return true;
	}
	struct lane_read *r = malloc(sizeof(*r));
	if (r == NULL || lane_req_copy_args(req) != 0) {
		free(r);
		return lane_refuse(out, "ERR out of memory");
	}
	req->reply = out;
	r->req = req;
	r->read_index = read_index;
	r->seq = rc == 0 ? 0 : seq;
	list_push_back(&lane->reads, &r->node);
	return false;
}

void lane_read_confirmed(void *ctx, uint64_t seq)
{
	struct lane *lane = ctx;
	struct list_node *pos;
	list_for_each(pos, &lane->reads) {
		struct lane_read *r = list_entry(pos, struct lane_read, node);
		if (r->seq != 0 && r->seq <= seq)
			r->seq = 0;
	}
	lane_reads_serve(lane);
}

/* Serves, in arrival order, the waiting reads whose conditions hold. */
void lane_reads_serve(struct lane *lane)
{
	struct list_node *pos, *tmp;
	list_for_each_safe(pos, tmp, &lane->reads) {
		struct lane_read *r = list_entry(pos, struct lane_read, node);
		if (r->seq != 0 || lane->applied_index < r->read_index)
			continue;
		list_unlink(&r->node);
		lane_read_exec(lane, r->req, r->req->reply);
		lane_req_complete(lane, r->req);
		free(r);
	}
}

/* ---- Epochs ---- */

/* A node on its own (no replication peers) is the primary of each of its lanes. Each start
 * is a new epoch, above every epoch its log or metadata has seen, so that entries a crash
 * may have lost from an earlier run can never be confused with new ones. */
void lane_start_epoch(struct lane *lane)
{
	const struct repl_meta *m = lane_meta_get(lane->meta);
	uint64_t epoch = MAX(m->epoch, MAX(m->primary_epoch, log_last_epoch(lane->log))) + 1;
	unsigned self = lane->set->cfg.node_id;
	struct repl_config cfg = { .epoch = epoch, .primary = self,
				   .members = { .voters = 1ull << self, .learners = 0 } };
	lane->start_epoch = epoch;
	int rc = repl_config_set(lane->repl, &cfg);
	if (rc != 0)
		lane_fail(lane, rc, "cannot start epoch %llu: %s", (unsigned long long)epoch, strerror(-rc));
}

/* The lane serves once its new epoch's first entry is applied: everything recovered from
 * the log has been replayed into the key-value state by then. */
void lane_epoch_applied(struct lane *lane, const struct repl_entry *e)
{
	if (lane->state != LANE_LOADING || e->type != REPL_ENTRY_NOOP || e->epoch != lane->start_epoch)
		return;
	lane->state = LANE_SERVING;
	atomic_fetch_sub(&lane->set->loading, 1);
	LOG_INFO("lane %u: serving from epoch %llu after replaying to entry %llu", lane->id,
		 (unsigned long long)e->epoch, (unsigned long long)e->index);
}
