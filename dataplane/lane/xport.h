/* The replication transport: how a loop sends messages to the same lane on other nodes and
 * receives theirs. The lane module consumes this interface; drivers/dpdk (raw NIC queues) and
 * drivers/udp (kernel UDP through io_uring) implement it, one instance per loop.
 *
 * A message is an opaque byte string of up to XPORT_MSG_BYTES_MAX; the driver frames it
 * (Ethernet + IPv4 + UDP + spindle header with cluster id, version, nodes, lane, lengths and
 * a checksum), splits it across frames when it is larger than one, reassembles it on the
 * other side, and drops (and counts) anything foreign, corrupt, truncated or of another
 * version. Delivery is best effort: messages may be lost, duplicated or reordered, and the
 * replication protocol above copes. */
#ifndef SPINDLE_LANE_XPORT_H
#define SPINDLE_LANE_XPORT_H

#include <stddef.h>
#include <stdint.h>

#define XPORT_MSG_BYTES_MAX (4u * 1024 * 1024) /* one replication message: a 3 MiB entry and its headers */
#define XPORT_NODES_MAX 64

struct xport;

/* Called for each complete, verified message, on the loop that polls the transport. msg is
 * valid only during the call. */
typedef void (*xport_recv_fn)(void *ctx, uint16_t src_node, uint16_t lane,
			      const uint8_t *msg, size_t len);

/* Bytes are message bytes (what send() was given, what recv gets), frames are frames. */
struct xport_stats {
	uint64_t tx_msgs, tx_frames, tx_bytes;
	uint64_t tx_dropped;          /* messages refused because the queue was full */
	uint64_t tx_unresolved;       /* messages refused because the peer's address is unknown yet */
	uint64_t rx_msgs, rx_frames, rx_bytes;
	uint64_t rx_drop_foreign;     /* not ours: other ethertype/port, other cluster id */
	uint64_t rx_drop_version;     /* spindle frame of another protocol version */
	uint64_t rx_drop_checksum;    /* bad checksum */
	uint64_t rx_drop_malformed;   /* truncated, impossible lengths, unknown node */
	uint64_t rx_drop_reassembly;  /* messages dropped in reassembly: a fragment lost or late,
				       * evicted for newer ones, or fragments that disagree */
};

struct xport_ops {
	/* Queues msg for the same lane on node dst; copies the bytes. Returns 0, -EMSGSIZE,
	 * -EHOSTUNREACH (unknown node), -ENOBUFS (queue full) or -EAGAIN (the peer's address is
	 * being resolved); on the last two the message is dropped and counted, and the protocol
	 * resends. */
	int (*send)(struct xport *x, uint16_t dst_node, uint16_t lane, const void *msg,
		    size_t len);
	/* Transmits what is queued; called at the end of each loop turn. Returns frames sent. */
	int (*flush)(struct xport *x);
	/* Receives a burst and delivers complete messages; returns the frames handled. */
	int (*poll)(struct xport *x);
	void (*stats)(const struct xport *x, struct xport_stats *out);
	/* Test builds (-Dfault_hooks=true): sets the per-peer loss, duplication, reordering and
	 * delay of outgoing frames from a text spec (drivers/frame/fault.h). Returns 0, -EINVAL
	 * for a bad spec, or -ENOTSUP in builds without the hooks. On the transport's loop. */
	int (*faults_set)(struct xport *x, const char *spec);
	/* On the transport's loop. drivers/udp frees itself only once the loop has handed back
	 * the operations it had in flight: keep the loop turning a few turns afterwards. */
	void (*destroy)(struct xport *x);
};

struct xport {
	const struct xport_ops *ops;
	xport_recv_fn recv;
	void *recv_ctx;
};

static inline int xport_send(struct xport *x, uint16_t dst, uint16_t lane, const void *msg,
			     size_t len)
{
	return x->ops->send(x, dst, lane, msg, len);
}

static inline int xport_flush(struct xport *x)
{
	return x->ops->flush(x);
}

static inline int xport_poll(struct xport *x)
{
	return x->ops->poll(x);
}

static inline int xport_faults_set(struct xport *x, const char *spec)
{
	return x->ops->faults_set(x, spec);
}

#endif
