/* What lanes send each other over the replication transport: replication messages, and the
 * forwarding of client requests to the node that holds a lane's primary. Each message starts
 * with a version byte and a kind byte; everything after is little-endian with explicit
 * lengths, and decoding checks every length against the buffer (these bytes come from the
 * network: a malformed message is counted and dropped, never trusted). */
#ifndef SPINDLE_LANE_WIRE_H
#define SPINDLE_LANE_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "resp/resp.h"

#define LANE_WIRE_VERSION 1
#define LANE_WIRE_HEADER_BYTES 2

enum lane_msg_kind {
	LANE_MSG_REPL = 1,      /* a replication message (repl_msg_encode) */
	LANE_MSG_FWD_REQ = 2,   /* a client command for the primary */
	LANE_MSG_FWD_REPLY = 3, /* its reply */
	LANE_MSG_FWD_ACK = 4,   /* replies received: the primary may forget them */
	LANE_MSG_FWD_BATCH = 5, /* several forwarding messages: (u32 length, message) each */
	LANE_MSG_PING = 6,      /* nothing: shows the link works (reachability for the control plane) */
};

enum lane_fwd_status {
	LANE_FWD_OK = 0,          /* reply holds the command's reply */
	LANE_FWD_NOT_PRIMARY = 1, /* not executed: this node is not the lane's primary */
};

/* A forwarded command. Requests of one channel (origin node, lane, incarnation) run on the
 * primary in seq order, exactly once; ack_upto lets the primary drop replies already had. */
struct lane_fwd_req {
	uint64_t incarnation;
	uint64_t epoch;           /* the epoch the origin believes the primary has */
	uint64_t seq;
	uint64_t ack_upto;
	uint8_t proto;            /* the client's protocol: 2 or 3 */
	uint32_t argc;
	const uint8_t *args;      /* argc times: u32 length, bytes */
	size_t args_len;
};

struct lane_fwd_reply {
	uint64_t incarnation;
	uint64_t seq;
	uint8_t status;           /* enum lane_fwd_status */
	const uint8_t *reply;
	size_t len;
};

struct lane_fwd_ack {
	uint64_t incarnation;
	uint64_t ack_upto;
};

/* Returns the kind (and checks the version), or -EPROTONOSUPPORT / -EBADMSG. */
int lane_wire_kind(const uint8_t *buf, size_t len);
void lane_wire_header(uint8_t *buf, enum lane_msg_kind kind);

/* Encoders return the bytes written, or -EMSGSIZE when cap is too small. */
ssize_t lane_wire_fwd_req_encode(uint8_t *buf, size_t cap, const struct lane_fwd_req *m,
				 uint32_t argc, const struct resp_arg *argv);
ssize_t lane_wire_fwd_reply_encode(uint8_t *buf, size_t cap, const struct lane_fwd_reply *m);
ssize_t lane_wire_fwd_ack_encode(uint8_t *buf, size_t cap, const struct lane_fwd_ack *m);

/* The next message of a FWD_BATCH at pos (start with LANE_WIRE_HEADER_BYTES): 1 with
 * msg and msg_len set, 0 at the end, -EBADMSG when the batch is malformed. */
int lane_wire_batch_next(const uint8_t *buf, size_t len, size_t *pos, const uint8_t **msg,
			 size_t *msg_len);

/* Decoders return 0 or -EBADMSG; pointers in the result point into buf. */
int lane_wire_fwd_req_decode(const uint8_t *buf, size_t len, struct lane_fwd_req *m);
int lane_wire_fwd_reply_decode(const uint8_t *buf, size_t len, struct lane_fwd_reply *m);
int lane_wire_fwd_ack_decode(const uint8_t *buf, size_t len, struct lane_fwd_ack *m);
/* The arguments of a decoded request into argv (grown as needed): 0, -EBADMSG, -ENOMEM. */
int lane_wire_fwd_args(const struct lane_fwd_req *m, struct resp_argv *argv);

#endif
