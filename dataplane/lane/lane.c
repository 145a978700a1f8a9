/* Lanes and the movement of requests between loops: a request for a lane of another loop
 * travels there on the message ring (loop_msg_post: never refused, never reordered) with a
 * copy of its arguments, runs, and comes back with its reply. */
#define LOG_COMPONENT "lane"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/panic.h"

#define LANE_REQS_FREE_MAX 4096

#include "lane/lane_priv.h"

/* ---- Requests ---- */

struct lane_req *lane_req_get(struct lane_set *set, struct loop *here)
{
	struct lane_loop *ll = lane_loop_of_loop(set, here);
	struct lane_req *req = ll->free_reqs;
	if (req != NULL) {
		ll->free_reqs = (struct lane_req *)(void *)req->node.next;
		ll->free_count--;
	} else {
		req = malloc(sizeof(*req));
		if (req == NULL)
			return NULL;
	}
	memset(req, 0, sizeof(*req));
	return req;
}

void lane_req_put(struct lane_set *set, struct loop *here, struct lane_req *req)
{
	struct lane_loop *ll = lane_loop_of_loop(set, here);
	ASSERT(req->own.head == NULL);
	free(req->args);
	if (ll->free_count >= LANE_REQS_FREE_MAX) {
		free(req);
		return;
	}
	req->node.next = (struct list_node *)(void *)ll->free_reqs;
	ll->free_reqs = req;
	ll->free_count++;
}

int lane_req_copy_args(struct lane_req *req)
{
	if (req->args != NULL)
		return 0;
	size_t bytes = req->argc * sizeof(struct resp_arg);
	for (uint32_t i = 0; i < req->argc; i++)
		bytes += req->argv[i].len;
	req->args = malloc(bytes);
	if (req->args == NULL)
		return -ENOMEM;
	char *p = (char *)(req->args + req->argc);
	for (uint32_t i = 0; i < req->argc; i++) {
		memcpy(p, req->argv[i].ptr, req->argv[i].len);
		req->args[i].ptr = p;
		req->args[i].len = req->argv[i].len;
		p += req->argv[i].len;
	}
	req->argv = req->args;
	return 0;
}

/* ---- Running a request on its lane ---- */

static void lane_count(struct lane *lane, const struct kv_cmd *cmd)
{
	if (cmd->kind & KV_CMD_WRITE)
		atomic_fetch_add_explicit(&lane->counters.writes, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&lane->counters.reads, 1, memory_order_relaxed);
}

/* Runs req on its lane, on the owning loop, writing the reply to out. Returns true when the
 * reply is complete; durable lanes answer writes once their entry is applied, and reads
 * that need the applied state to catch up or a round of acknowledgements later. */
bool lane_exec_here(struct lane *lane, struct lane_req *req, struct resp_out *out)
{
	if (req->cmd->kind & KV_CMD_WRITE)
		return lane_write_begin(lane, req, out);
	return lane_read_begin(lane, req, out);
}

static bool lane_run(struct lane *lane, struct lane_req *req, struct resp_out *out)
{
	lane_count(lane, req->cmd);
	if (!lane->set->cfg.durable) {
		kv_cmd_exec(req->cmd, lane->db, req->argc, req->argv, loop_wall_ms(lane->owner), out);
		return true;
	}
	bool write = req->cmd->kind & KV_CMD_WRITE;
	if (!write && req->stale_ok && lane->state == LANE_SERVING) {
		/* READONLY: this replica's applied state, as Redis Cluster replicas serve it. */
		kv_cmd_exec(req->cmd, lane->db, req->argc, req->argv, MAX(loop_wall_ms(lane->owner), lane->last_time_ms), out);
		return true;
	}
	if (lane->state == LANE_SERVING && !lane->is_primary && lane_set_replicated(lane->set))
		return lane_fwd_begin(lane, req, out);
	return lane_exec_here(lane, req, out);
}

static void lane_on_return(struct loop *loop, void *arg)
{
	(void)loop;
	struct lane_req *req = arg;
	struct iovec iov[16];
	while (req->own.bytes > 0) {
		size_t n = resp_out_iov(&req->own, iov, 16);
		uint64_t copied = 0;
		for (size_t i = 0; i < n; i++) {
			resp_add_raw(req->out, iov[i].iov_base, iov[i].iov_len);
			copied += iov[i].iov_len;
		}
		resp_out_consume(&req->own, copied);
	}
	req->out->oom |= req->own.oom;
	resp_out_reset(&req->own);
	resp_chunk_pool_destroy(&req->own_pool);
	req->done(req);
}

static void lane_on_arrive(struct loop *loop, void *arg)
{
	struct lane_req *req = arg;
	struct lane *lane = &req->set->lanes[req->lane];
	ASSERT(lane->owner == loop);
	if (lane_run(lane, req, &req->own))
		loop_msg_post(loop, req->origin, lane_on_return, req);
}

void lane_req_complete(struct lane *lane, struct lane_req *req)
{
	if (req->origin == lane->owner)
		req->done(req);
	else
		loop_msg_post(lane->owner, req->origin, lane_on_return, req);
}

bool lane_submit(struct lane_set *set, struct loop *here, struct lane_req *req)
{
	ASSERT(req->lane < set->cfg.lanes && req->done != NULL && req->out != NULL);
	struct lane *lane = &set->lanes[req->lane];
	req->set = set;
	req->origin = here;
	if (lane->owner == here)
		return lane_run(lane, req, req->out);
	if (lane_req_copy_args(req) != 0) {
		resp_add_error(req->out, "ERR out of memory");
		return true;
	}
	/* The owning loop writes the reply with chunks of the request's own, which are freed
	 * on this loop when it comes back: no chunk moves between the loops' pools. */
	resp_chunk_pool_init(&req->own_pool, 0);
	resp_out_init(&req->own, &req->own_pool, req->out->proto);
	loop_msg_post(here, lane->owner, lane_on_arrive, req);
	return false;
}

/* ---- Visiting every lane ---- */

struct lane_visit_msg {
	struct lane_set *set;
	struct loop *origin;
	uint32_t lane;
	lane_visit_fn fn;
	void (*done)(void *arg);
	void *arg;
};

static void lane_visit_return(struct loop *loop, void *arg)
{
	(void)loop;
	struct lane_visit_msg *m = arg;
	m->done(m->arg);
	free(m);
}

static void lane_visit_arrive(struct loop *loop, void *arg)
{
	struct lane_visit_msg *m = arg;
	struct lane *lane = &m->set->lanes[m->lane];
	ASSERT(lane->owner == loop);
	m->fn(m->set, m->lane, lane->db, m->arg);
	loop_msg_post(loop, m->origin, lane_visit_return, m);
}

bool lane_visit(struct lane_set *set, struct loop *here, uint32_t lane_id, lane_visit_fn fn,
		void (*done)(void *arg), void *arg)
{
	struct lane *lane = &set->lanes[lane_id];
	if (lane->owner == here) {
		fn(set, lane_id, lane->db, arg);
		done(arg);
		return true;
	}
	struct lane_visit_msg *m = malloc(sizeof(*m));
	ASSERT_MSG(m != NULL, "out of memory visiting a lane");
	*m = (struct lane_visit_msg){ set, here, lane_id, fn, done, arg };
	loop_msg_post(here, lane->owner, lane_visit_arrive, m);
	return false;
}

/* ---- Per-turn work of a loop's lanes ---- */

static void lane_publish(struct lane *lane)
{
	struct kv_db_stats st;
	kv_db_stats_get(lane->db, &st);
	struct lane_counters *c = &lane->counters;
	atomic_store_explicit(&c->keys, kv_db_size(lane->db), memory_order_relaxed);
	atomic_store_explicit(&c->volatile_keys, kv_db_volatile_count(lane->db), memory_order_relaxed);
	atomic_store_explicit(&c->memory_bytes, kv_db_memory_bytes(lane->db), memory_order_relaxed);
	atomic_store_explicit(&c->expired_keys, st.expired_keys, memory_order_relaxed);
	atomic_store_explicit(&c->hits, st.keyspace_hits, memory_order_relaxed);
	atomic_store_explicit(&c->misses, st.keyspace_misses, memory_order_relaxed);
}

static int lane_durable_work(struct lane *lane, int64_t now_ms)
{
	(void)now_ms;
	if (lane->state == LANE_FAILED || lane->log == NULL)
		return 0;
	int work = lane_store_flush(lane);
	if (lane->repl == NULL)
		return work;
	/* The log prepares the next segment ahead of need: once that fails for lack of room,
	 * new writes are refused before they are proposed, rather than waiting for room. */
	log_tick(lane->log);
	struct log_stats st;
	log_stats_get(lane->log, &st);
	if (st.nospace != lane->log_nospace) {
		lane->log_nospace = st.nospace;
		LOG_AT(st.nospace ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "lane %u: %s", lane->id,
		       st.nospace ? "the disk is full: refusing writes, serving reads"
				  : "the disk has room again: writes resume");
	}
	work += lane_store_reads_retry(lane);
	work += lane_fwd_tick(lane);
	work += lane_snapshot_work(lane);
	work += lane_snapshot_maybe(lane);
	return work;
}

static int lane_loop_work(void *arg)
{
	struct lane_loop *ll = arg;
	int work = 0;
	int64_t now_ms = loop_wall_ms(ll->loop);
	/* Counters for INFO are published a few hundred times a second, not every turn. */
	bool publish = loop_now_ns(ll->loop) - ll->published_ns >= LANE_PUBLISH_NS;
	if (publish)
		ll->published_ns = loop_now_ns(ll->loop);
	for (uint32_t i = 0; i < ll->lanes_count; i++) {
		struct lane *lane = &ll->set->lanes[ll->lanes[i]];
		work += (int)kv_db_work(lane->db, LANE_WORK_BUDGET);
		if (!ll->set->cfg.durable)
			work += (int)kv_db_expire_cycle(lane->db, now_ms, LANE_EXPIRE_BUDGET);
		else
			work += lane_durable_work(lane, now_ms);
		if (publish)
			lane_publish(lane);
	}
	return work;
}

/* End of turn: each lane's open batch becomes one entry, the core sends what it must, and
 * each log writes and flushes what the turn appended, once (group commit). */
static int lane_loop_flush(void *arg)
{
	struct lane_loop *ll = arg;
	int work = 0;
	for (uint32_t i = 0; i < ll->lanes_count; i++) {
		struct lane *lane = &ll->set->lanes[ll->lanes[i]];
		if (lane->repl == NULL || lane->state == LANE_FAILED)
			continue;
		work += lane_batch_seal(lane);
		repl_flush(lane->repl);
		lane_fwd_flush(lane);
		if (lane->flush_needed) {
			lane->flush_needed = false;
			int rc = log_flush(lane->log);
			if (rc != 0 && rc != -EAGAIN)
				lane_fail(lane, rc, "log flush refused: %s", strerror(-rc));
		}
	}
	if (ll->xport != NULL)
		work += xport_flush(ll->xport);
	return work;
}

static int lane_loop_xport_poll(void *arg)
{
	struct lane_loop *ll = arg;
	return xport_poll(ll->xport);
}

void lane_set_xport_set(struct lane_set *set, struct loop *loop, struct xport *x)
{
	struct lane_loop *ll = lane_loop_of_loop(set, loop);
	ll->xport = x;
	ll->txbuf = malloc(LANE_TXBUF_BYTES);
	ASSERT_MSG(ll->txbuf != NULL, "out of memory for the replication send buffer");
	loop_poller_add(loop, &ll->xport_poller, "xport", lane_loop_xport_poll, ll);
}

bool lane_set_replicated(const struct lane_set *set)
{
	return set->cfg.peers_count > 0;
}

bool lane_set_durable(const struct lane_set *set)
{
	return set->cfg.durable;
}

uint32_t lane_set_peers(const struct lane_set *set)
{
	return set->cfg.peers_count;
}

struct xport *lane_set_xport(struct lane_set *set, struct loop *loop)
{
	return lane_loop_of_loop(set, loop)->xport;
}

static void lane_loop_tick(struct loop *loop, struct loop_timer *t)
{
	struct lane_loop *ll = t->arg;
	if (ll->set->cfg.peers_count > 0 && ll->xport != NULL && ll->lanes_count > 0 &&
	    ll->lanes[0] == 0)
		lane_ping_peers(ll->set, &ll->set->lanes[0]);
	for (uint32_t i = 0; i < ll->lanes_count; i++) {
		struct lane *lane = &ll->set->lanes[ll->lanes[i]];
		if (lane->repl != NULL && lane->state != LANE_FAILED)
			repl_tick(lane->repl);
	}
	loop_timer_start(loop, t, LANE_TICK_NS, lane_loop_tick, ll);
}

/* ---- Set-up ---- */

struct lane_set *lane_set_create(const struct lane_set_config *cfg, struct loop **loops)
{
	ASSERT(cfg->loops >= 1 && cfg->loops <= LANE_LOOPS_MAX);
	ASSERT(cfg->lanes >= cfg->loops && cfg->lanes <= LANE_COUNT_MAX);
	struct lane_set *set = calloc(1, sizeof(*set));
	if (set == NULL)
		return NULL;
	set->cfg = *cfg;
	set->lanes = aligned_alloc(CACHE_LINE_BYTES, ALIGN_UP(cfg->lanes * sizeof(struct lane), CACHE_LINE_BYTES));
	if (set->lanes == NULL) {
		free(set);
		return NULL;
	}
	memset(set->lanes, 0, cfg->lanes * sizeof(struct lane));
	for (uint32_t l = 0; l < cfg->loops; l++) {
		struct lane_loop *ll = &set->per_loop[l];
		ll->loop = loops[l];
		ll->set = set;
		ll->arena = mem_arena_create();
		ll->lanes = calloc(cfg->lanes / cfg->loops + 1, sizeof(uint32_t));
		ASSERT_MSG(ll->lanes != NULL, "out of memory creating lanes");
	}
	for (uint32_t i = 0; i < cfg->lanes; i++) {
		struct lane_loop *ll = &set->per_loop[lane_loop_of(i, cfg->loops)];
		struct lane *lane = &set->lanes[i];
		lane->id = i;
		lane->set = set;
		lane->owner = ll->loop;
		lane->state = cfg->durable ? LANE_LOADING : LANE_SERVING;
		list_init(&lane->batch_waiters);
		list_init(&lane->proposed);
		list_init(&lane->reads);
		list_init(&lane->appends);
		list_init(&lane->fwd_pending);
		lane->primary_node = REPL_NODE_NONE;
		resp_argv_init(&lane->fwd_argv);
		resp_chunk_pool_init(&lane->discard_pool, 4);
		lane->db = kv_db_create(ll->arena);
		if (lane->db == NULL) {
			LOG_ERROR("out of memory creating lane %u", i);
			lane_set_destroy(set);
			return NULL;
		}
		ll->lanes[ll->lanes_count++] = i;
	}
	if (cfg->durable)
		atomic_store(&set->loading, cfg->lanes);
	set->incarnation = (time_mono_ns() ^ ((uint64_t)getpid() << 20)) & ((1ull << 48) - 1);
	for (uint32_t i = 0; i < cfg->lanes; i++)
		lane_fwd_reset(&set->lanes[i]);
	return set;
}

void lane_set_attach_loop(struct lane_set *set, struct loop *loop, struct log_disk *disk)
{
	struct lane_loop *ll = lane_loop_of_loop(set, loop);
	ASSERT(ll->loop == loop);
	ll->disk = disk;
	loop_poller_add(loop, &ll->work, "lanes", lane_loop_work, ll);
	if (!set->cfg.durable)
		return;
	ASSERT(disk != NULL);
	loop_flusher_add(loop, &ll->flusher, "lanes-flush", lane_loop_flush, ll);
	loop_timer_start(loop, &ll->tick, LANE_TICK_NS, lane_loop_tick, ll);
	for (uint32_t i = 0; i < ll->lanes_count; i++)
		lane_store_open(&set->lanes[ll->lanes[i]]);
}

uint32_t lane_set_loading(const struct lane_set *set)
{
	return atomic_load((atomic_uint *)&set->loading);
}

void lane_set_quiesce(struct lane_set *set, struct loop *loop)
{
	struct lane_loop *ll = lane_loop_of_loop(set, loop);
	if (!set->cfg.durable)
		return;
	for (uint32_t i = 0; i < ll->lanes_count; i++) {
		struct lane *lane = &set->lanes[ll->lanes[i]];
		lane_fwd_reset(lane);
		lane_abandon(lane, 0);
	}
}

static void lane_log_closed(void *arg)
{
	struct lane *lane = arg;
	lane->log_closing = false;
}

void lane_set_detach_loop(struct lane_set *set, struct loop *loop)
{
	struct lane_loop *ll = lane_loop_of_loop(set, loop);
	loop_poller_remove(loop, &ll->work);
	if (!set->cfg.durable)
		return;
	loop_poller_remove(loop, &ll->flusher);
	loop_timer_stop(loop, &ll->tick);
	if (ll->xport != NULL)
		loop_poller_remove(loop, &ll->xport_poller);
	for (uint32_t i = 0; i < ll->lanes_count; i++) {
		struct lane *lane = &set->lanes[ll->lanes[i]];
		lane_snapshot_close(lane);
		lane_store_close(lane);
		if (lane->log != NULL) {
			lane->log_closing = true;
			log_close(lane->log, lane_log_closed, lane);
		}
	}
	/* Let the I/O in flight complete, so that nothing refers to the lanes any more. */
	for (int turns = 0; turns < 100000; turns++) {
		bool closing = false;
		for (uint32_t i = 0; i < ll->lanes_count; i++)
			closing |= set->lanes[ll->lanes[i]].log_closing;
		if (!closing)
			break;
		loop_run_once(loop);
	}
	for (uint32_t i = 0; i < ll->lanes_count; i++) {
		struct lane *lane = &set->lanes[ll->lanes[i]];
		if (lane->log != NULL)
			log_destroy(lane->log);
		lane->log = NULL;
		lane_snapshot_abandon(lane);
	}
}

void lane_set_destroy(struct lane_set *set)
{
	if (set == NULL)
		return;
	for (uint32_t i = 0; i < set->cfg.lanes; i++) {
		struct lane *lane = &set->lanes[i];
		if (lane->db != NULL)
			kv_db_destroy(lane->db);
		kv_enc_free(&lane->batch);
		kv_dec_free(&lane->dec);
		lane_fwd_in_reset_all(lane);
		lane_fwd_out_free(lane);
		resp_argv_free(&lane->fwd_argv);
		free(lane->payload);
		resp_chunk_pool_destroy(&lane->discard_pool);
	}
	for (uint32_t l = 0; l < set->cfg.loops; l++) {
		struct lane_loop *ll = &set->per_loop[l];
		while (ll->free_reqs != NULL) {
			struct lane_req *req = ll->free_reqs;
			ll->free_reqs = (struct lane_req *)(void *)req->node.next;
			free(req);
		}
		free(ll->lanes);
		free(ll->txbuf);
	}
	free(set->lanes);
	free(set);
}

uint32_t lane_set_count(const struct lane_set *set)
{
	return set->cfg.lanes;
}

uint32_t lane_of_key(const struct lane_set *set, const void *key, size_t len)
{
	return lane_of_slot(lane_slot_of_key(key, len), set->cfg.lanes);
}

bool lane_is_local(const struct lane_set *set, uint32_t lane, const struct loop *loop)
{
	return set->lanes[lane].owner == loop;
}

const struct lane_counters *lane_counters_get(const struct lane_set *set, uint32_t lane)
{
	return &set->lanes[lane].counters;
}

struct kv_db *lane_db(struct lane_set *set, uint32_t lane)
{
	return set->lanes[lane].db;
}
