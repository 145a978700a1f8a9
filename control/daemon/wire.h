/* The bytes spindle-control exchanges, as pure functions (no I/O) that the unit tests and the
 * fuzzer can reach:
 *
 * - Management datagrams between control daemons (UDP, one message per datagram): a 24-byte
 *   header, then the payload. Every field little-endian:
 *
 *     off len field
 *       0   4 magic "SPCT"
 *       4   1 version (CTLD_WIRE_VERSION)
 *       5   1 kind (enum ctld_kind)
 *       6   2 zero
 *       8   4 cluster id
 *      12   1 source node
 *      13   1 destination node
 *      14   2 zero
 *      16   4 payload length
 *      20   4 CRC32C of bytes 0..19 and of the payload
 *
 *   A datagram of another cluster, for another node, of another version, or with a bad
 *   checksum is counted and dropped.
 *
 * - The dataplane link (the Unix stream socket to spindled): each message is a 4-byte
 *   little-endian length, then one ctl_msg_encode() encoding (control/core/ctl.h). The framer
 *   cuts a byte stream into messages.
 *
 * - The leader's VIEW, broadcast to every daemon so that each one can show the cluster's
 *   health (spindlectl status, metrics) without asking the leader:
 *
 *     u64 term, u8 leader, u8[7] 0, u64 healthy, u64 reporting, u64 alive,
 *     u64 failovers_started, failovers_done, switchovers, members_changes, prepares_sent,
 *     u32 n_nodes, u32 n_lanes,
 *     n_nodes x (u8 node, u8[3] 0, u32 report_age_ms, u64 peers_heard, u64 incarnation),
 *     n_lanes x (u64 caught_up, u8 flags (1 acting, 2 handoff_ready, 4 damaged), u8[7] 0)
 */
#ifndef SPINDLE_CONTROL_DAEMON_WIRE_H
#define SPINDLE_CONTROL_DAEMON_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control/core/ctl.h"

#define CTLD_WIRE_VERSION 1
#define CTLD_DGRAM_HDR_BYTES 24
/* One datagram carries one message: below IPv4's largest UDP payload (65507 bytes). */
#define CTLD_DGRAM_BYTES_MAX 65000u
#define CTLD_DGRAM_PAYLOAD_MAX (CTLD_DGRAM_BYTES_MAX - CTLD_DGRAM_HDR_BYTES)
#define CTLD_LINK_LEN_BYTES 4
#define CTLD_LINK_FRAME_BYTES_MAX (CTLD_LINK_LEN_BYTES + CTL_MSG_BYTES_MAX)
/* Lanes the daemon handles: spindled's limit, and a REPORT of that many fits a datagram. */
#define CTLD_LANES_MAX 1024u

enum ctld_kind {
	CTLD_KIND_RAFT = 1,    /* a control group message (repl_msg_encode) */
	CTLD_KIND_CTL = 2,     /* REPORT, PREPARE, PROMISE, HANDOFF (ctl_msg_encode) */
	CTLD_KIND_PROPOSE = 3, /* a command for the leader to propose (ctl_cmd_encode) */
	CTLD_KIND_VIEW = 4,    /* the leader's view (ctld_view_encode) */
};
#define CTLD_KIND_MAX 4

struct ctld_dgram {
	uint8_t kind;
	uint32_t cluster_id;
	uint8_t src, dst;
	const uint8_t *payload; /* decode: points into the datagram */
	uint32_t len;
};

/* Writes header and payload into buf; returns the datagram's length, or -EMSGSIZE. */
ssize_t ctld_dgram_encode(const struct ctld_dgram *d, uint8_t *buf, size_t cap);
/* Checks a received datagram meant for (cluster_id, self). Returns 0, -EPROTONOSUPPORT
 * (our magic, another version: buf[4]), -EBADMSG (truncated, another magic, bad checksum,
 * bad kind or node),
 * -EXDEV (another cluster) or -EDESTADDRREQ (another destination). */
int ctld_dgram_decode(const uint8_t *buf, size_t len, uint32_t cluster_id, unsigned self,
		      struct ctld_dgram *out);

/* ---- The dataplane link ---- */

/* Writes the 4-byte length and m's encoding; returns the bytes, or a negative errno. */
ssize_t ctld_link_frame_encode(const struct ctl_msg *m, uint8_t *buf, size_t cap);

/* Cuts a byte stream into messages. The caller reads into the space it is given, then takes
 * whole messages out. */
struct ctld_framer {
	uint8_t *buf;
	size_t cap;     /* at least CTLD_LINK_FRAME_BYTES_MAX */
	size_t start;   /* first byte not yet taken */
	size_t end;     /* bytes received */
};
int ctld_framer_init(struct ctld_framer *f, size_t cap);
void ctld_framer_free(struct ctld_framer *f);
void ctld_framer_reset(struct ctld_framer *f);
/* Room to receive into (moves what is left to the front first); never 0 bytes. */
uint8_t *ctld_framer_space(struct ctld_framer *f, size_t *room);
void ctld_framer_filled(struct ctld_framer *f, size_t n);
/* Returns 1 with the next whole message in *msg and *len (valid until the next call), 0 when
 * more bytes are needed, or -EMSGSIZE when the stream announces a message longer than
 * CTL_MSG_BYTES_MAX (the stream cannot be trusted any more: drop the link). */
int ctld_framer_take(struct ctld_framer *f, const uint8_t **msg, uint32_t *len);

/* ---- The leader's view ---- */

enum ctld_view_lane_flag {
	CTLD_VIEW_ACTING = 1,        /* the primary reports itself primary in the lane's epoch */
	CTLD_VIEW_HANDOFF_READY = 2,
	CTLD_VIEW_DAMAGED = 4,       /* a replica reports a damaged log */
};

struct ctld_view_node {
	uint32_t report_age_ms;
	uint64_t peers_heard;
	uint64_t incarnation;
};

struct ctld_view {
	uint64_t term;
	uint8_t leader;
	uint64_t healthy;       /* the failure detector's verdict */
	uint64_t reporting;     /* nodes whose daemon reported recently */
	uint64_t alive;         /* ... and said its dataplane is alive */
	struct ctl_leader_stats stats;
	struct ctld_view_node node[CTL_NODES_MAX]; /* for the nodes in `reporting` */
	uint32_t n_lanes;
	uint64_t caught_up[CTLD_LANES_MAX];
	uint8_t lane_flags[CTLD_LANES_MAX];
};

size_t ctld_view_encoded_bytes(const struct ctld_view *v);
ssize_t ctld_view_encode(const struct ctld_view *v, uint8_t *buf, size_t cap);
/* Returns 0 or -EBADMSG (truncated, trailing bytes, impossible counts or ids). */
int ctld_view_decode(const uint8_t *buf, size_t len, struct ctld_view *out);

#endif
