/* Routing keyspace commands to lanes: a command whose keys all live in one lane goes to that
 * lane; a read over several lanes is split into one command per lane and the replies are
 * merged (MGET in key order, EXISTS summed); a write over several lanes is refused with
 * -CROSSSLOT, as Redis Cluster refuses one over several slots. Commands over the whole
 * keyspace visit every lane. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/panic.h"
#include "cmd/cmd_priv.h"

uint32_t *cmd_key_positions(struct cmd_loop *cl, uint32_t count)
{
	if (count > cl->pos_cap) {
		uint32_t cap = MAX(count, cl->pos_cap * 2);
		uint32_t *p = realloc(cl->pos, cap * sizeof(*p));
		if (p == NULL)
			return NULL;
		cl->pos = p;
		cl->pos_cap = cap;
	}
	return cl->pos;
}

/* ---- One lane ---- */

static void route_one_done(struct lane_req *lr)
{
	struct cmd_loop *cl = lr->ctx;
	struct net_req *req = lr->ctx2;
	lane_req_put(cl->srv->lanes, cl->loop, lr);
	net_req_finish(req);
}

static void route_one(struct cmd_loop *cl, const struct kv_cmd *cmd, uint32_t argc,
		      const struct resp_arg *argv, uint32_t lane, struct net_reply *reply,
		      enum net_class cls, bool stale_ok)
{
	struct lane_set *lanes = cl->srv->lanes;
	struct lane_req *lr = lane_req_get(lanes, cl->loop);
	if (lr == NULL) {
		resp_add_error(reply->out, "ERR out of memory");
		return;
	}
	lr->cmd = cmd;
	lr->argc = argc;
	lr->argv = argv;
	lr->lane = lane;
	lr->out = reply->out;
	lr->done = route_one_done;
	lr->ctx = cl;
	lr->stale_ok = stale_ok;
	if (lane_submit(lanes, cl->loop, lr)) {
		lane_req_put(lanes, cl->loop, lr);
		return;
	}
	/* Nothing has been written yet: the reply will go to the deferred request. */
	struct net_req *req = net_reply_defer(reply, cls);
	lr->out = net_req_out(req);
	lr->ctx2 = req;
}

/* ---- Reads gathered over several lanes ---- */

struct gather_part {
	struct lane_req *lr;
	struct resp_out out;
	struct resp_arg *argv;        /* the command name, then this lane's keys */
	uint32_t argc;
	char *flat;                   /* the reply as one buffer, when merging */
	size_t flat_len, flat_off;
};

struct gather {
	struct cmd_loop *cl;
	struct net_req *req;
	struct resp_out *out;
	bool is_mget;
	uint32_t keys;
	uint32_t *part_of_key;        /* keys[i] -> index in parts */
	uint32_t parts_count;
	uint32_t pending;
	struct gather_part *parts;
};

static void gather_free(struct gather *g)
{
	for (uint32_t i = 0; i < g->parts_count; i++) {
		resp_out_reset(&g->parts[i].out);
		free(g->parts[i].argv);
		free(g->parts[i].flat);
	}
	free(g->parts);
	free(g->part_of_key);
	free(g);
}

static void gather_flatten(struct gather_part *p)
{
	p->flat = malloc(p->out.bytes + 1);
	ASSERT_MSG(p->flat != NULL, "out of memory merging a reply");
	struct iovec iov[16];
	while (p->out.bytes > 0) {
		size_t n = resp_out_iov(&p->out, iov, 16);
		uint64_t got = 0;
		for (size_t i = 0; i < n; i++) {
			memcpy(p->flat + p->flat_len, iov[i].iov_base, iov[i].iov_len);
			p->flat_len += iov[i].iov_len;
			got += iov[i].iov_len;
		}
		resp_out_consume(&p->out, got);
	}
	p->flat[p->flat_len] = '\0';
}

/* Length of the RESP element at s (a bulk, a null, an integer or an error line). */
static size_t gather_element_len(const char *s, size_t len)
{
	const char *crlf = memmem(s, len, "\r\n", 2);
	ASSERT(crlf != NULL);
	size_t line = (size_t)(crlf - s) + 2;
	if (s[0] == '$' && s[1] != '-') {
		long long n = strtoll(s + 1, NULL, 10);
		return line + (size_t)n + 2;
	}
	return line;
}

static void gather_merge_mget(struct gather *g)
{
	resp_add_array(g->out, g->keys);
	for (uint32_t i = 0; i < g->parts_count; i++) {
		struct gather_part *p = &g->parts[i];
		gather_flatten(p);
		if (p->flat[0] != '*') {           /* an error from that lane: pass it on */
			resp_out_reset(g->out);
			resp_add_raw(g->out, p->flat, p->flat_len);
			return;
		}
		p->flat_off = gather_element_len(p->flat, p->flat_len); /* skip the array header */
	}
	for (uint32_t k = 0; k < g->keys; k++) {
		struct gather_part *p = &g->parts[g->part_of_key[k]];
		size_t n = gather_element_len(p->flat + p->flat_off, p->flat_len - p->flat_off);
		resp_add_raw(g->out, p->flat + p->flat_off, n);
		p->flat_off += n;
	}
}

static void gather_merge_sum(struct gather *g)
{
	int64_t sum = 0;
	for (uint32_t i = 0; i < g->parts_count; i++) {
		struct gather_part *p = &g->parts[i];
		gather_flatten(p);
		if (p->flat[0] != ':') {
			resp_add_raw(g->out, p->flat, p->flat_len);
			return;
		}
		sum += strtoll(p->flat + 1, NULL, 10);
	}
	resp_add_int(g->out, sum);
}

static void gather_finish(struct gather *g)
{
	if (g->is_mget)
		gather_merge_mget(g);
	else
		gather_merge_sum(g);
	struct net_req *req = g->req;
	gather_free(g);
	net_req_finish(req);
}

static void gather_part_done(struct lane_req *lr)
{
	struct gather *g = lr->ctx;
	lane_req_put(g->cl->srv->lanes, g->cl->loop, lr);
	if (--g->pending == 0)
		gather_finish(g);
}

/* Splits the keys by lane: parts[] gets one command per lane, part_of_key[] where each key
 * went. */
static int gather_split(struct gather *g, uint32_t argc, const struct resp_arg *argv,
			const uint32_t *lane_of, uint32_t nlanes)
{
	uint32_t *index_of_lane = malloc(nlanes * sizeof(uint32_t));
	g->parts = calloc(MIN(g->keys, nlanes), sizeof(*g->parts));
	g->part_of_key = malloc(g->keys * sizeof(uint32_t));
	if (index_of_lane == NULL || g->parts == NULL || g->part_of_key == NULL) {
		free(index_of_lane);
		return -ENOMEM;
	}
	memset(index_of_lane, 0xff, nlanes * sizeof(uint32_t));
	for (uint32_t k = 0; k < g->keys; k++) {
		uint32_t l = lane_of[k];
		if (index_of_lane[l] == UINT32_MAX) {
			index_of_lane[l] = g->parts_count;
			struct gather_part *p = &g->parts[g->parts_count++];
			p->argv = malloc((argc) * sizeof(struct resp_arg));
			if (p->argv == NULL) {
				free(index_of_lane);
				return -ENOMEM;
			}
			p->argv[p->argc++] = argv[0];
			p->lr = NULL;
		}
		struct gather_part *p = &g->parts[index_of_lane[l]];
		p->argv[p->argc++] = argv[k + 1];
		g->part_of_key[k] = index_of_lane[l];
	}
	free(index_of_lane);
	return 0;
}

static void gather_start(struct cmd_loop *cl, const struct kv_cmd *cmd, uint32_t argc,
			 const struct resp_arg *argv, const uint32_t *lane_of,
			 struct net_reply *reply, bool stale_ok)
{
	struct lane_set *lanes = cl->srv->lanes;
	struct gather *g = calloc(1, sizeof(*g));
	if (g == NULL) {
		resp_add_error(reply->out, "ERR out of memory");
		return;
	}
	g->cl = cl;
	g->keys = argc - 1;
	g->is_mget = strcmp(cmd->fullname, "mget") == 0;
	if (gather_split(g, argc, argv, lane_of, lane_set_count(lanes)) != 0) {
		gather_free(g);
		resp_add_error(reply->out, "ERR out of memory");
		return;
	}
	g->req = net_reply_defer(reply, NET_CLASS_READ);
	g->out = net_req_out(g->req);
	g->pending = g->parts_count + 1; /* +1 until every part is submitted */
	struct resp_chunk_pool *pool = net_loop_chunk_pool(cl->nl);
	for (uint32_t i = 0; i < g->parts_count; i++) {
		struct gather_part *p = &g->parts[i];
		resp_out_init(&p->out, pool, g->out->proto);
		struct lane_req *lr = lane_req_get(lanes, cl->loop);
		ASSERT_MSG(lr != NULL, "out of memory gathering a reply");
		lr->cmd = cmd;
		lr->argc = p->argc;
		lr->argv = p->argv;
		lr->lane = lane_of_key(lanes, p->argv[1].ptr, p->argv[1].len);
		lr->out = &p->out;
		lr->done = gather_part_done;
		lr->ctx = g;
		lr->stale_ok = stale_ok;
		if (lane_submit(lanes, cl->loop, lr))
			gather_part_done(lr);
	}
	if (--g->pending == 0)
		gather_finish(g);
}

/* Routes a READ or WRITE keyspace command. */
void cmd_route(struct cmd_loop *cl, struct net_conn *c, const struct kv_cmd *cmd, uint32_t argc,
	       const struct resp_arg *argv, struct net_reply *reply, enum net_class cls)
{
	struct lane_set *lanes = cl->srv->lanes;
	uint32_t *pos = cmd_key_positions(cl, argc * 2);
	if (pos == NULL) {
		resp_add_error(reply->out, "ERR out of memory");
		return;
	}
	uint32_t n = kv_cmd_keys(cmd, argc, pos, argc);
	uint32_t first = n > 0 ? lane_of_key(lanes, argv[pos[0]].ptr, argv[pos[0]].len) : 0;
	bool one_lane = true;
	uint32_t *lane_of = pos + argc;
	for (uint32_t i = 0; i < n; i++) {
		lane_of[i] = lane_of_key(lanes, argv[pos[i]].ptr, argv[pos[i]].len);
		one_lane &= lane_of[i] == first;
	}
	bool stale_ok = cls == NET_CLASS_READ && (net_conn_flags(c) & NET_CONN_READONLY);
	if (one_lane) {
		route_one(cl, cmd, argc, argv, first, reply, cls, stale_ok);
		return;
	}
	bool gatherable = cls == NET_CLASS_READ && cmd->key_step == 1 && cmd->key_first == 1 &&
			  cmd->key_last == -1 && n == argc - 1 &&
			  (strcmp(cmd->fullname, "mget") == 0 || strcmp(cmd->fullname, "exists") == 0);
	if (!gatherable) {
		resp_add_error(reply->out, RESP_ERR_CROSSSLOT);
		return;
	}
	gather_start(cl, cmd, argc, argv, lane_of, reply, stale_ok);
}

/* ---- Every lane: DBSIZE, KEYS, SCAN, FLUSHALL, FLUSHDB ----
 * Each lane's visit runs on that lane's loop and writes only into its own part (its own
 * chunk pool); the origin merges the parts once every visit is back. */

enum all_kind { ALL_DBSIZE, ALL_KEYS, ALL_SCAN, ALL_FLUSH };

struct all_lanes;

struct all_part {
	struct all_lanes *all;
	uint64_t count;
	uint64_t cursor;              /* SCAN: the lane's next cursor */
	struct resp_chunk_pool pool;
	struct resp_out out;          /* KEYS and SCAN: the elements, no array header */
};

struct all_lanes {
	struct cmd_loop *cl;
	struct net_req *req;
	enum all_kind kind;
	uint32_t first, count;        /* the lanes visited */
	uint32_t pending;
	struct resp_arg pattern;      /* KEYS: a copy */
	struct kv_scan_args scan;     /* SCAN: match points into a copy */
	uint32_t nlanes;
	struct all_part parts[];
};

static void all_visit(struct lane_set *set, uint32_t lane, struct kv_db *db, void *arg)
{
	(void)set;
	(void)lane;
	struct all_part *p = arg;
	struct all_lanes *a = p->all;
	int64_t now_ms = time_wall_ms();
	switch (a->kind) {
	case ALL_DBSIZE:
		p->count = kv_db_size(db);
		break;
	case ALL_FLUSH:
		kv_db_flush(db);
		break;
	case ALL_KEYS:
		p->count = kv_db_keys(db, a->pattern.ptr, a->pattern.len, now_ms, &p->out);
		break;
	case ALL_SCAN:
		p->cursor = kv_db_scan(db, p->cursor, &a->scan, now_ms, &p->out, &p->count);
		break;
	}
}

static void all_copy_out(struct resp_out *dst, struct resp_out *src)
{
	struct iovec iov[16];
	while (src->bytes > 0) {
		size_t n = resp_out_iov(src, iov, 16);
		uint64_t got = 0;
		for (size_t i = 0; i < n; i++) {
			resp_add_raw(dst, iov[i].iov_base, iov[i].iov_len);
			got += iov[i].iov_len;
		}
		resp_out_consume(src, got);
	}
	dst->oom |= src->oom;
}

static void all_finish(struct all_lanes *a)
{
	struct resp_out *out = net_req_out(a->req);
	uint64_t total = 0;
	for (uint32_t i = 0; i < a->count; i++)
		total += a->parts[i].count;
	switch (a->kind) {
	case ALL_DBSIZE:
		resp_add_int(out, (int64_t)total);
		break;
	case ALL_FLUSH:
		resp_add_simple(out, "OK");
		break;
	case ALL_KEYS:
	case ALL_SCAN:
		if (a->kind == ALL_SCAN) {
			/* Next: the same lane while it has more, then the next lane, then 0. */
			uint64_t lane_next = a->parts[0].cursor, next = 0;
			if (lane_next != 0)
				next = ((uint64_t)a->first << 48) | lane_next;
			else if (a->first + 1 < a->nlanes)
				next = (uint64_t)(a->first + 1) << 48;
			resp_add_array(out, 2);
			resp_add_bulk_int(out, (int64_t)next);
		}
		resp_add_array(out, total);
		for (uint32_t i = 0; i < a->count; i++)
			all_copy_out(out, &a->parts[i].out);
		break;
	}
	for (uint32_t i = 0; i < a->count; i++) {
		resp_out_reset(&a->parts[i].out);
		resp_chunk_pool_destroy(&a->parts[i].pool);
	}
	struct net_req *req = a->req;
	free((void *)a->pattern.ptr);
	free((void *)a->scan.match);
	free(a);
	net_req_finish(req);
}

static void all_done(void *arg)
{
	struct all_part *p = arg;
	struct all_lanes *a = p->all;
	if (--a->pending == 0)
		all_finish(a);
}

static bool all_dup(struct resp_arg *dst, const char *src, size_t len)
{
	char *s = malloc(len + 1);
	if (s == NULL)
		return false;
	memcpy(s, src, len);
	s[len] = '\0';
	dst->ptr = s;
	dst->len = len;
	return true;
}

/* Parses the arguments; writes an error reply and returns false if they are wrong. */
static bool all_prepare(struct all_lanes *a, const char *name, uint32_t argc,
			const struct resp_arg *argv, struct resp_out *out)
{
	if (strcmp(name, "dbsize") == 0) {
		a->kind = ALL_DBSIZE;
	} else if (strcmp(name, "keys") == 0) {
		a->kind = ALL_KEYS;
		return all_dup(&a->pattern, argv[1].ptr, argv[1].len);
	} else if (strcmp(name, "scan") == 0) {
		a->kind = ALL_SCAN;
		uint64_t cursor;
		if (kv_scan_args_parse_or_reply(argc, argv, &cursor, &a->scan, out) != 0)
			return false;
		if ((cursor >> 48) >= a->nlanes) {
			resp_add_error(out, "ERR invalid cursor");
			return false;
		}
		struct resp_arg m = { NULL, 0 };
		if (a->scan.match != NULL && !all_dup(&m, a->scan.match, a->scan.match_len))
			return false;
		a->scan.match = m.ptr;
		a->first = (uint32_t)(cursor >> 48);
		a->count = 1;
		a->parts[0].cursor = cursor & KV_SCAN_CURSOR_MAX;
	} else if (strcmp(name, "flushall") == 0 || strcmp(name, "flushdb") == 0) {
		a->kind = ALL_FLUSH;
		/* FLUSHALL [ASYNC|SYNC]: memory is given back incrementally either way. */
		if (argc > 2 || (argc == 2 && !resp_arg_equals(&argv[1], "async") &&
				 !resp_arg_equals(&argv[1], "sync"))) {
			resp_add_error(out, RESP_ERR_SYNTAX);
			return false;
		}
	} else {
		PANIC("command %s is not an all-lanes command", name);
	}
	return true;
}

void cmd_all_lanes(struct cmd_loop *cl, struct net_conn *c, const struct kv_cmd *cmd,
		   uint32_t argc, const struct resp_arg *argv, struct net_reply *reply,
		   enum net_class cls)
{
	(void)c;
	struct lane_set *lanes = cl->srv->lanes;
	uint32_t nlanes = lane_set_count(lanes);
	struct all_lanes *a = calloc(1, sizeof(*a) + nlanes * sizeof(struct all_part));
	if (a == NULL) {
		resp_add_error(reply->out, "ERR out of memory");
		return;
	}
	a->cl = cl;
	a->nlanes = nlanes;
	a->count = nlanes;
	if (!all_prepare(a, cmd->fullname, argc, argv, reply->out)) {
		free((void *)a->pattern.ptr);
		free((void *)a->scan.match);
		free(a);
		return;
	}
	for (uint32_t i = 0; i < a->count; i++) {
		a->parts[i].all = a;
		resp_chunk_pool_init(&a->parts[i].pool, 0);
		resp_out_init(&a->parts[i].out, &a->parts[i].pool, reply->out->proto);
	}
	a->req = net_reply_defer(reply, cls);
	/* One more than the visits, so that visits completing inline cannot finish (and free)
	 * the request while this loop still walks the lanes. */
	uint32_t count = a->count;
	a->pending = count + 1;
	for (uint32_t i = 0; i < count; i++)
		lane_visit(lanes, cl->loop, a->first + i, all_visit, all_done, &a->parts[i]);
	all_done(&a->parts[0]);
}
