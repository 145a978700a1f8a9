/* libFuzzer target for the control plane's wire forms: the first byte picks what the rest
 * is. 0: a control message (CONFIG, HEARTBEAT, REPORT, PREPARE, PROMISE, HANDOFF); 1: a
 * command of the control group's log, which is then applied to a bootstrapped state; 2: a
 * snapshot of the whole state. Everything accepted must encode back to the same bytes (the
 * forms are canonical), arrays must stay within the caller's space, and applying any
 * command must leave a state that still encodes, decodes and keeps its invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/core/ctl.h"
#include "fuzz.h"

#define FUZZ_SPACE 64

static void check_msg(const uint8_t *data, size_t size)
{
	static struct ctl_lane_status status[FUZZ_SPACE];
	static struct repl_config cfg[FUZZ_SPACE];
	static uint32_t ids[FUZZ_SPACE];
	const struct ctl_decode_space space = { .status = status, .cfg = cfg, .lane_ids = ids,
						.cap = FUZZ_SPACE };
	struct ctl_msg m;
	if (ctl_msg_decode(data, size, &m, &space) != 0)
		return;
	uint8_t *back = malloc(size ? size : 1);
	if (!back || ctl_msg_encode(&m, back, size) != (ssize_t)size || memcmp(back, data, size))
		abort();
	free(back);
}

static void check_state(const struct ctl_state *s)
{
	for (uint32_t k = 0; k < s->n_lanes; k++) {
		const struct ctl_lane *l = &s->lanes[k];
		if ((l->members.voters & l->members.learners) ||
		    (l->epoch && (l->primary >= CTL_NODES_MAX || !((l->members.voters >> l->primary) & 1))) ||
		    (l->prep_epoch && l->prep_epoch <= l->epoch))
			abort(); /* voters and learners apart; the primary a voter; epochs grow */
	}
	size_t n = ctl_state_encoded_bytes(s);
	uint8_t *buf = malloc(n);
	static struct ctl_state copy;
	if (!buf || ctl_state_encode(s, buf, n) != (ssize_t)n || ctl_state_decode(buf, n, &copy))
		abort();
	free(buf);
}

static void check_cmd(const uint8_t *data, size_t size)
{
	struct ctl_cmd c;
	if (ctl_cmd_decode(data, size, &c) != 0)
		return;
	uint8_t back[256];
	if (ctl_cmd_encode(&c, back, sizeof(back)) != (ssize_t)size || memcmp(back, data, size))
		abort();
	static struct ctl_state s;
	ctl_state_init(&s);
	struct ctl_cmd boot = { .type = CTL_CMD_BOOTSTRAP, .n_lanes = 4, .members = { .voters = 7 } };
	struct ctl_cmd prep = { .type = CTL_CMD_LANE_PREPARE, .lane = 1, .epoch = 2 };
	ctl_state_apply(&s, 1, &boot);
	ctl_state_apply(&s, 2, &prep);
	ctl_state_apply(&s, 3, &c);
	check_state(&s);
}

static void check_snapshot(const uint8_t *data, size_t size)
{
	static struct ctl_state s;
	if (ctl_state_decode(data, size, &s) != 0)
		return;
	size_t n = ctl_state_encoded_bytes(&s);
	uint8_t *back = malloc(n);
	if (!back || n != size || ctl_state_encode(&s, back, n) != (ssize_t)n ||
	    memcmp(back, data, n) != 0)
		abort(); /* canonical: it encodes back to the same bytes */
	free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		check_msg(data + 1, size - 1);
		break;
	case 1:
		check_cmd(data + 1, size - 1);
		break;
	case 2:
		check_snapshot(data + 1, size - 1);
		break;
	}
	return 0;
}
