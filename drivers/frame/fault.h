/* The transport's fault model for tests: per-peer loss, duplication, reordering and delay of
 * outgoing frames, decided by a seeded generator so that a run can be replayed. Pure (the
 * caller passes the time and owns the frames); the drivers call it only when built with
 * -Dfault_hooks=true (SPINDLE_FAULT_HOOKS), and the unit suite tests it in every build.
 *
 * A frame to peer p is, in this order: lost with probability loss_ppm/1e6; otherwise sent
 * twice with probability dup_ppm/1e6; each copy is held for delay_us, and with probability
 * reorder_ppm/1e6 for reorder_us more, so that frames sent after it overtake it.
 *
 * The text form, used by the SPINDLE_XPORT_FAULTS environment variable and the admin
 * command, is a list of clauses separated by ';' or spaces:
 *     seed=42; peer=*,loss_ppm=10000,dup_ppm=5000; peer=2,delay_us=300,reorder_ppm=20000
 * peer=* (or no peer=) sets every peer; later clauses override earlier ones per field given;
 * "off" clears everything. Fields: loss_ppm, dup_ppm, reorder_ppm, delay_us, reorder_us. */
#ifndef SPINDLE_FRAME_FAULT_H
#define SPINDLE_FRAME_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include "frame/frame.h"

#define FRAME_FAULT_PPM 1000000u
#define FRAME_FAULT_DELAY_US_MAX 1000000u   /* one second */
#define FRAME_FAULT_REORDER_US_DEFAULT 200u
#define FRAME_FAULT_SPEC_BYTES_MAX 1024

struct frame_fault_spec {
	uint32_t loss_ppm;
	uint32_t dup_ppm;
	uint32_t reorder_ppm;
	uint32_t delay_us;
	uint32_t reorder_us; /* extra hold of a reordered frame; 0 = FRAME_FAULT_REORDER_US_DEFAULT */
};

struct frame_fault {
	uint64_t rng;
	bool active;          /* some peer has a fault set: the drivers' fast check */
	struct frame_fault_spec peers[FRAME_NODES_MAX];
	/* What the faults did, for tests to check against. */
	uint64_t lost, duplicated, reordered, delayed;
};

/* The decision for one outgoing frame. */
struct frame_fault_verdict {
	uint8_t copies;       /* 0 (lost), 1 or 2 (duplicated) */
	uint64_t due_ns[2];   /* when each copy may go; now_ns = at once */
};

void frame_fault_init(struct frame_fault *f, uint64_t seed);
/* Sets peer's faults, or every peer's with peer == FRAME_NODES_MAX. -EINVAL if out of range. */
int frame_fault_set(struct frame_fault *f, unsigned peer, const struct frame_fault_spec *s);
/* Applies a text spec (see above); on -EINVAL f is left unchanged. */
int frame_fault_parse(struct frame_fault *f, const char *text);
void frame_fault_decide(struct frame_fault *f, uint16_t peer, uint64_t now_ns,
			struct frame_fault_verdict *out);

/* Frames held back by the faults, released in order of due time: a binary heap of fixed
 * capacity (ties go in the order pushed). */
struct frame_fault_held {
	void *frame;
	uint64_t due_ns;
	uint64_t seq;
};
struct frame_fault_heap {
	struct frame_fault_held *items;
	uint32_t cap;
	uint32_t count;
	uint64_t seq;
};
int frame_fault_heap_init(struct frame_fault_heap *h, uint32_t cap);
void frame_fault_heap_free(struct frame_fault_heap *h);
/* -ENOBUFS when full (the caller sends the frame at once or drops it). */
int frame_fault_heap_push(struct frame_fault_heap *h, void *frame, uint64_t due_ns);
/* The earliest frame due at or before now_ns, or NULL. */
void *frame_fault_heap_pop_due(struct frame_fault_heap *h, uint64_t now_ns);
/* Any frame, for draining at shutdown; NULL when empty. */
void *frame_fault_heap_pop_any(struct frame_fault_heap *h);

#endif
