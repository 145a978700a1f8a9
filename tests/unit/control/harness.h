/* A fake control daemon around the leader's logic for its unit tests: proposals and sent
 * messages are recorded; the test commits proposals into the state by hand and feeds
 * reports and promises. */
#ifndef SPINDLE_TESTS_CONTROL_HARNESS_H
#define SPINDLE_TESTS_CONTROL_HARNESS_H

#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "control/core/ctl.h"

#define H_MAX 256

struct harness {
	struct ctl_state *st;
	struct ctl_leader *l;
	struct ctl_leader_options o;
	struct ctl_cmd props[H_MAX];
	unsigned n_props;
	struct { unsigned node; struct ctl_msg m; } sent[H_MAX];
	unsigned n_sent;
	uint64_t idx;
	uint64_t now;
};

static struct harness h;

static UNUSED void h_propose(void *ctx, const struct ctl_cmd *c)
{
	(void)ctx;
	assert_true(h.n_props < H_MAX);
	h.props[h.n_props++] = *c;
}

static UNUSED void h_send(void *ctx, unsigned node, const struct ctl_msg *m)
{
	(void)ctx;
	assert_true(h.n_sent < H_MAX);
	h.sent[h.n_sent].node = node;
	h.sent[h.n_sent++].m = *m;
}

/* n nodes (0..n-1), lanes lanes, bootstrapped; the leader just reset at t = 1000. */
static UNUSED void h_init(unsigned n, uint32_t lanes)
{
	memset(&h.props, 0, sizeof(h.props));
	h.n_props = h.n_sent = 0;
	h.idx = 0;
	h.now = 1000;
	h.st = malloc(sizeof(*h.st));
	ctl_state_init(h.st);
	struct ctl_cmd boot = { .type = CTL_CMD_BOOTSTRAP, .n_lanes = lanes,
				.members = { .voters = (1ull << n) - 1 } };
	assert_int_equal(ctl_state_apply(h.st, ++h.idx, &boot), 0);
	ctl_leader_options_default(&h.o);
	h.o.balance_every_ms = 0;
	struct ctl_leader_io io = { .propose = h_propose, .send = h_send };
	h.l = ctl_leader_create(&h.o, &io, h.st);
	assert_non_null(h.l);
	ctl_leader_reset(h.l, h.now);
}

static UNUSED void h_free(void)
{
	ctl_leader_destroy(h.l);
	free(h.st);
}

/* Commits (applies) every proposal recorded so far, in order; returns how many applied. */
static UNUSED unsigned h_commit(void)
{
	unsigned ok = 0;
	for (unsigned i = 0; i < h.n_props; i++)
		ok += ctl_state_apply(h.st, ++h.idx, &h.props[i]) == 0;
	h.n_props = 0;
	return ok;
}

/* A report from node: alive, hearing `peers`, with lane statuses from `lanes`. */
static UNUSED void h_report(unsigned node, bool alive, uint64_t peers,
		     const struct ctl_lane_status *lanes, uint32_t n_lanes)
{
	struct ctl_msg_heartbeat hb = { .incarnation = 1, .progress = h.now, .peers_heard = peers,
					.alive = alive, .n_lanes = n_lanes, .lanes = lanes };
	ctl_leader_report(h.l, h.now, node, &hb);
}

/* Every node in `alive` reports alive, hearing each other, each lane as the state says. */
static UNUSED void h_report_all(uint64_t alive, unsigned nodes)
{
	for (unsigned i = 0; i < nodes; i++) {
		if (!((alive >> i) & 1))
			continue;
		struct ctl_lane_status lanes[16];
		uint32_t n = h.st->n_lanes < 16 ? h.st->n_lanes : 16;
		for (uint32_t k = 0; k < n; k++) {
			const struct ctl_lane *cl = &h.st->lanes[k];
			lanes[k] = (struct ctl_lane_status){ .lane = k, .epoch = cl->epoch,
				.role = cl->primary == i ? REPL_ROLE_PRIMARY : REPL_ROLE_FOLLOWER,
				.voters = cl->members.voters, .caught_up = alive };
		}
		h_report(i, true, alive, lanes, n);
	}
}

static UNUSED void h_promise(unsigned node, uint32_t lane, uint64_t epoch, uint64_t last_epoch,
		      uint64_t last_index, bool damaged, bool was_primary)
{
	struct ctl_msg_promise p = { .lane = lane, .incarnation = 1, .promise = { .epoch = epoch,
		.last_epoch = last_epoch, .last_index = last_index, .damaged = damaged,
		.was_primary = was_primary } };
	ctl_leader_promise(h.l, h.now, node, &p);
}

static UNUSED unsigned h_count_sent(uint8_t type)
{
	unsigned n = 0;
	for (unsigned i = 0; i < h.n_sent; i++)
		n += h.sent[i].m.type == type;
	return n;
}

#endif
