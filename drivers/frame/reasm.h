/* Reassembly of messages split across frames. Pure: no I/O, no clock (the caller passes the
 * time), all memory allocated at creation.
 *
 * The reassembler does not copy fragments as they arrive: it keeps a reference to each one
 * (its payload and an opaque token, e.g. the mbuf or the provided buffer holding it) and,
 * once every fragment of a message is there, copies them into one contiguous buffer,
 * checks the CRC32C of the whole message, delivers it and releases the tokens. A fragment
 * that turns out to be useless (a duplicate, part of a message that is dropped) is released
 * at once. So a frame is held at most until its message completes, is evicted or times out.
 *
 * Bounds, all from the configuration: messages in reassembly in total and per peer, bytes
 * (message lengths reserved when their first fragment arrives), frames held, and the age of
 * an incomplete message. A new message that does not fit evicts the oldest incomplete ones
 * (the newest data is the most useful to the protocol above, which resends what is lost).
 * A message is delivered whole and checked, or not at all: loss of any fragment, a
 * fragment that contradicts the others, or a bad message CRC drops it and counts it. */
#ifndef SPINDLE_FRAME_REASM_H
#define SPINDLE_FRAME_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "frame/frame.h"

#define FRAME_REASM_RECENT 16 /* completed message ids remembered per peer, to drop late duplicates */
#define FRAME_REASM_MSGS_DEFAULT 64
#define FRAME_REASM_MSGS_PER_PEER_DEFAULT 8
#define FRAME_REASM_BYTES_DEFAULT (32u * 1024 * 1024)
#define FRAME_REASM_FRAMES_DEFAULT 8192
#define FRAME_REASM_TIMEOUT_NS_DEFAULT (2000ull * 1000 * 1000)

struct frame_reasm;

/* Releases a frame the reassembler no longer needs (frees the mbuf, returns the buffer). */
typedef void (*frame_reasm_release_fn)(void *ctx, void *token);
/* Receives a complete, verified message; msg is valid only during the call. */
typedef void (*frame_reasm_deliver_fn)(void *ctx, uint16_t src_node, uint16_t lane,
				       const uint8_t *msg, size_t len);

struct frame_reasm_config {
	uint32_t msgs_max;          /* messages in reassembly at once; 0 = default */
	uint32_t msgs_per_peer_max; /* 0 = default */
	uint64_t bytes_max;         /* sum of their lengths; 0 = default */
	uint32_t frames_max;        /* frames held; 0 = default */
	uint64_t timeout_ns;        /* an incomplete message older than this is dropped; 0 = default */
	frame_reasm_release_fn release;
	void *release_ctx;
};

struct frame_reasm_stats {
	uint64_t msgs_done;          /* delivered */
	uint64_t msgs_timeout;       /* dropped: a fragment never came in time */
	uint64_t msgs_evicted;       /* dropped to make room for newer messages */
	uint64_t msgs_inconsistent;  /* dropped: fragments disagree (lengths, CRC, layout) */
	uint64_t msgs_too_big;       /* refused: larger than the byte or frame budget */
	uint64_t frags_dup;          /* duplicate fragments ignored */
	uint64_t frags_late;         /* fragments of a message already delivered, ignored */
	/* Gauges. */
	uint32_t msgs_held;
	uint32_t frames_held;
	uint64_t bytes_reserved;
};

/* Returns NULL (and logs why) if the configuration is impossible or memory is short. */
struct frame_reasm *frame_reasm_create(const struct frame_reasm_config *cfg);
/* Releases every frame still held. */
void frame_reasm_destroy(struct frame_reasm *r);

/* Offers one fragment of a multi-fragment message whose header frame_hdr_decode() accepted
 * (so h->frag_count > 1); payload holds its h->frag_len bytes and stays valid until token is
 * released. Calls deliver before returning if this fragment completes a message. Every
 * token is released exactly once, during this call or a later one. Returns the number of
 * messages this call dropped (0 or more). */
unsigned frame_reasm_add(struct frame_reasm *r, const struct frame_hdr *h, const uint8_t *payload,
			 void *token, uint64_t now_ns, frame_reasm_deliver_fn deliver, void *ctx);
/* Drops the incomplete messages older than the timeout; returns how many. */
unsigned frame_reasm_expire(struct frame_reasm *r, uint64_t now_ns);
void frame_reasm_stats_get(const struct frame_reasm *r, struct frame_reasm_stats *out);
/* Drops everything held for src_node (e.g. when the peer restarts or leaves); returns how
 * many messages. */
unsigned frame_reasm_peer_drop(struct frame_reasm *r, uint16_t src_node);

#endif
