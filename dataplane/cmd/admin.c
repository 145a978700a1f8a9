/* SPINDLE: the replication administration the control plane uses (and an operator, when no
 * control plane runs): PROMISE an epoch on a lane, set a lane's CONFIG (epoch, primary,
 * voters, learners), HANDOFF primacy, list the LANES, and set transport FAULTS in test
 * builds. And WAIT, answered from what replication already guarantees. Each lane operation
 * runs on the loop that owns the lane. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/panic.h"
#include "cmd/cmd_priv.h"
#include "lane/xport.h"

struct admin_op {
	struct cmd_loop *cl;
	struct net_req *req;
	const char *sub;
	uint32_t lane;
	uint64_t epoch;
	unsigned target;
	struct repl_config cfg;
	int rc;
	struct repl_promise promise;
	struct lane_repl_info *infos;  /* LANES: one per lane */
	uint32_t pending;
};

static int admin_u64(const struct resp_arg *a, uint64_t max, uint64_t *out)
{
	int64_t v;
	if (resp_arg_to_int64(a, &v) != 0 || v < 0 || (uint64_t)v > max)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

/* "1,2,3" -> a bitmap of node ids; "-" is the empty set. */
static int admin_nodes(const struct resp_arg *a, uint64_t *out)
{
	*out = 0;
	if (a->len == 1 && a->ptr[0] == '-')
		return 0;
	size_t i = 0;
	while (i < a->len) {
		unsigned v = 0, digits = 0;
		while (i < a->len && a->ptr[i] >= '0' && a->ptr[i] <= '9' && digits < 3) {
			v = v * 10 + (unsigned)(a->ptr[i++] - '0');
			digits++;
		}
		if (digits == 0 || v >= REPL_NODES_MAX)
			return -EINVAL;
		*out |= 1ull << v;
		if (i < a->len && a->ptr[i++] != ',')
			return -EINVAL;
	}
	return *out != 0 ? 0 : -EINVAL;
}

static void admin_visit(struct lane_set *set, uint32_t lane, struct kv_db *db, void *arg)
{
	(void)db;
	struct admin_op *op = arg;
	if (strcmp(op->sub, "promise") == 0)
		op->rc = lane_admin_promise(set, lane, op->epoch, &op->promise);
	else if (strcmp(op->sub, "config") == 0)
		op->rc = lane_admin_config(set, lane, &op->cfg);
	else if (strcmp(op->sub, "handoff") == 0)
		op->rc = lane_admin_handoff(set, lane, op->target);
	else
		lane_repl_info_get(set, lane, &op->infos[lane]);
}

static void admin_reply_lanes(struct admin_op *op, struct resp_out *out)
{
	uint32_t n = lane_set_count(op->cl->srv->lanes);
	resp_add_array(out, n);
	for (uint32_t l = 0; l < n; l++) {
		const struct lane_repl_info *i = &op->infos[l];
		const struct repl_state *rs = &i->rs;
		resp_add_map(out, 10);
		resp_add_bulk_str(out, "lane");
		resp_add_int(out, l);
		resp_add_bulk_str(out, "role");
		resp_add_bulk_str(out, rs->role == REPL_ROLE_PRIMARY ? "primary" : "follower");
		resp_add_bulk_str(out, "epoch");
		resp_add_int(out, (int64_t)rs->epoch);
		resp_add_bulk_str(out, "primary");
		resp_add_int(out, rs->primary == REPL_NODE_NONE ? -1 : (int64_t)rs->primary);
		resp_add_bulk_str(out, "voters");
		resp_add_int(out, (int64_t)rs->members.voters);
		resp_add_bulk_str(out, "learners");
		resp_add_int(out, (int64_t)rs->members.learners);
		resp_add_bulk_str(out, "commit");
		resp_add_int(out, (int64_t)rs->commit_index);
		resp_add_bulk_str(out, "applied");
		resp_add_int(out, (int64_t)rs->applied_index);
		resp_add_bulk_str(out, "durable");
		resp_add_int(out, (int64_t)rs->durable_index);
		resp_add_bulk_str(out, "last");
		resp_add_int(out, (int64_t)rs->last_index);
	}
}

static void admin_reply(struct admin_op *op, struct resp_out *out)
{
	if (strcmp(op->sub, "lanes") == 0) {
		admin_reply_lanes(op, out);
	} else if (op->rc == -EINPROGRESS) {
		resp_add_error(out, "INPROGRESS the promise is being made durable; ask again");
	} else if (op->rc == -ESTALE && strcmp(op->sub, "promise") == 0) {
		resp_add_errorf(out, "STALE this lane promised epoch %llu already",
				(unsigned long long)op->promise.epoch);
	} else if (op->rc != 0) {
		resp_add_errorf(out, "ERR %s refused: %s", op->sub, strerror(-op->rc));
	} else if (strcmp(op->sub, "promise") == 0) {
		resp_add_array(out, 5);
		resp_add_int(out, (int64_t)op->promise.epoch);
		resp_add_int(out, (int64_t)op->promise.last_epoch);
		resp_add_int(out, (int64_t)op->promise.last_index);
		resp_add_int(out, op->promise.damaged);
		resp_add_int(out, op->promise.was_primary);
	} else {
		resp_add_simple(out, "OK");
	}
}

static void admin_done(void *arg)
{
	struct admin_op *op = arg;
	if (--op->pending > 0)
		return;
	admin_reply(op, net_req_out(op->req));
	struct net_req *req = op->req;
	free(op->infos);
	free(op);
	net_req_finish(req);
}

/* Parses the lane operation's arguments; writes the error and returns -EINVAL if bad. */
static int admin_parse(struct admin_op *op, uint32_t argc, const struct resp_arg *argv,
		       uint32_t lanes, struct resp_out *out)
{
	uint64_t v;
	if (strcmp(op->sub, "lanes") == 0)
		return 0;
	if (admin_u64(&argv[2], lanes - 1, &v) != 0) {
		resp_add_errorf(out, "ERR lane must be 0 to %u", lanes - 1);
		return -EINVAL;
	}
	op->lane = (uint32_t)v;
	if (strcmp(op->sub, "handoff") == 0) {
		if (admin_u64(&argv[3], REPL_NODES_MAX - 1, &v) != 0)
			goto bad;
		op->target = (unsigned)v;
		return 0;
	}
	if (admin_u64(&argv[3], UINT64_MAX >> 1, &op->epoch) != 0 || op->epoch == 0)
		goto bad;
	if (strcmp(op->sub, "promise") == 0)
		return 0;
	/* CONFIG lane epoch primary voters [learners] */
	if (argc > 7 || admin_u64(&argv[4], REPL_NODES_MAX - 1, &v) != 0 ||
	    admin_nodes(&argv[5], &op->cfg.members.voters) != 0 ||
	    (argc == 7 && admin_nodes(&argv[6], &op->cfg.members.learners) != 0))
		goto bad;
	op->cfg.epoch = op->epoch;
	op->cfg.primary = (unsigned)v;
	return 0;
bad:
	resp_add_errorf(out, "ERR usage: SPINDLE PROMISE lane epoch | SPINDLE CONFIG lane epoch "
			"primary voters [learners] | SPINDLE HANDOFF lane node | SPINDLE LANES "
			"(nodes as 1,2,3)");
	return -EINVAL;
}

struct faults_op {
	struct net_req *req;
	char text[512];
	int rc;
};

/* On each loop: its transport takes the fault settings (test builds only). */
static void faults_visit(struct cmd_loop *cl, void *arg, unsigned index)
{
	(void)index;
	struct faults_op *op = arg;
	struct xport *x = lane_set_xport(cl->srv->lanes, cl->loop);
	int rc = x == NULL ? -ENOTCONN : xport_faults_set(x, op->text);
	if (rc != 0 && op->rc == 0)
		op->rc = rc;
}

static void faults_done(void *arg)
{
	struct faults_op *op = arg;
	struct resp_out *out = net_req_out(op->req);
	if (op->rc == -ENOTSUP)
		resp_add_error(out, "ERR this build has no fault hooks (build with -Dfault_hooks=true)");
	else if (op->rc == -ENOTCONN)
		resp_add_error(out, "ERR this node has no replication transport");
	else if (op->rc != 0)
		resp_add_errorf(out, "ERR faults refused: %s", strerror(-op->rc));
	else
		resp_add_simple(out, "OK");
	struct net_req *req = op->req;
	free(op);
	net_req_finish(req);
}

static void admin_faults(struct cmd_loop *cl, const struct resp_arg *spec, struct net_reply *reply)
{
	struct faults_op *op = calloc(1, sizeof(*op));
	if (op == NULL || spec->len >= sizeof(op->text)) {
		free(op);
		resp_add_error(reply->out, "ERR fault specification too long");
		return;
	}
	memcpy(op->text, spec->ptr, spec->len);
	op->req = net_reply_defer(reply, NET_CLASS_OTHER);
	cmd_loops_visit(cl, faults_visit, faults_done, op);
}

void cmd_spindle(struct cmd_loop *cl, const char *sub, uint32_t argc, const struct resp_arg *argv,
		 struct net_reply *reply)
{
	struct lane_set *lanes = cl->srv->lanes;
	if (strcmp(sub, "faults") == 0) {
		admin_faults(cl, &argv[2], reply);
		return;
	}
	if (!lane_set_replicated(lanes) && strcmp(sub, "lanes") != 0) {
		resp_add_error(reply->out, "ERR this node runs without replication peers");
		return;
	}
	if (!lane_set_durable(lanes)) {
		resp_add_error(reply->out, "ERR lanes are in memory: there is no replication to administer");
		return;
	}
	struct admin_op *op = calloc(1, sizeof(*op));
	if (op == NULL) {
		resp_add_error(reply->out, "ERR out of memory");
		return;
	}
	op->cl = cl;
	op->sub = sub;
	if (admin_parse(op, argc, argv, lane_set_count(lanes), reply->out) != 0) {
		free(op);
		return;
	}
	bool all = strcmp(sub, "lanes") == 0;
	uint32_t n = lane_set_count(lanes);
	if (all && (op->infos = calloc(n, sizeof(*op->infos))) == NULL) {
		free(op);
		resp_add_error(reply->out, "ERR out of memory");
		return;
	}
	op->req = net_reply_defer(reply, NET_CLASS_OTHER);
	op->pending = (all ? n : 1) + 1;
	for (uint32_t l = all ? 0 : op->lane; l < (all ? n : op->lane + 1); l++)
		lane_visit(lanes, cl->loop, l, admin_visit, admin_done, op);
	admin_done(op);
}

/* WAIT numreplicas timeout. A write is acknowledged only once a majority of the replicas hold
 * it durably, so every write this connection was answered for is already on majority - 1
 * other nodes: that is the answer, at once. */
void cmd_wait(struct cmd_loop *cl, uint32_t argc, const struct resp_arg *argv, struct resp_out *out)
{
	(void)argc;
	int64_t n, timeout;
	if (resp_arg_to_int64(&argv[1], &n) != 0) {
		resp_add_error(out, RESP_ERR_NOT_INTEGER);
		return;
	}
	if (resp_arg_to_int64(&argv[2], &timeout) != 0 || timeout < 0) {
		resp_add_error(out, "ERR timeout is negative");
		return;
	}
	uint32_t nodes = lane_set_replicated(cl->srv->lanes) ? lane_set_peers(cl->srv->lanes) + 1 : 1;
	resp_add_int(out, lane_set_durable(cl->srv->lanes) ? (int64_t)(nodes / 2) : 0);
}
