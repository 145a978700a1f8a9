/* spindled's end of the link to the local spindle-control: a Unix stream socket (spindled
 * listens, the control daemon connects and reconnects) carrying control messages
 * (control/core/ctl.h), each preceded by its length as 4 little-endian bytes.
 *
 * Up: HEARTBEAT every heartbeat interval (this run's incarnation; a progress counter that
 * grows only while every loop keeps turning, so a hung dataplane stops it; the nodes heard on
 * the replication network lately; every lane's status), and PROMISE once a promise asked for
 * is durable. Down: CONFIG (lane configurations to run with), PREPARE (promise an epoch) and
 * HANDOFF (prepare a planned switchover). Each lane operation runs on the lane's own loop;
 * the link itself lives on loop 0. */
#ifndef SPINDLE_CTL_CTL_H
#define SPINDLE_CTL_CTL_H

#include <stdint.h>

#include "lane/lane.h"
#include "loop/loop.h"

#define CTL_LINK_HEARD_FACTOR 4     /* a peer counts as heard within 4 heartbeat intervals */
#define CTL_LINK_CAUGHT_UP_LAG 8    /* a follower this close to its primary is caught up */

struct ctl_link;

struct ctl_link_config {
	const char *path;            /* the socket path; a stale socket file is replaced */
	unsigned node_id;
	uint32_t heartbeat_ms;
	struct loop *loop;           /* the link's own loop (loop 0) */
	struct loop **loops;         /* every loop, for the progress counter */
	uint32_t loops_count;
	struct lane_set *lanes;
};

/* Starts listening; on the link loop's thread. NULL (and a log line) on failure. */
struct ctl_link *ctl_link_create(const struct ctl_link_config *cfg);
void ctl_link_destroy(struct ctl_link *link);
/* A lane's promise became durable (the lane module calls this on the lane's loop). */
void ctl_link_promised(void *ctx, uint32_t lane, const struct repl_promise *p);
uint64_t ctl_link_incarnation(const struct ctl_link *link);

#endif
