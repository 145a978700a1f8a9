/* The durable lane's test fixture: a lane_set in durable mode on one or two real loops,
 * each loop's lanes on their own simulated disk (drivers/sim/disk), all driven on the test's
 * thread one loop turn at a time, so that a run repeats exactly.
 *
 * Each loop has a poller that completes the simulated disk's operations (everything in
 * flight at the start of the turn) and moves the disk's clock on while it is idle. Between
 * the lanes and the simulated disk sits a pass-through table that can hold syncs back (to
 * see that nothing is answered before it is durable), stop the disk after a given number of
 * operations (to crash at every step of a workload), and, after a crash, fail whatever the
 * dead lane set still had in flight or starts, without touching the disk that the next boot
 * will recover from.
 *
 * Requests are built from command strings, submitted from a chosen loop with lane_submit(),
 * and their replies collected as RESP bytes. */
#ifndef SPINDLE_TESTS_LANE_FIXTURE_H
#define SPINDLE_TESTS_LANE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/clock.h"
#include "base/compiler.h"
#include "lane/lane.h"
#include "log/disk.h"
#include "loop/loop.h"
#include "repl/repl.h"
#include "sim/disk.h"

#define LF_LOOPS_MAX 2
#define LF_DATA_DIR "/data"
#define LF_ARGS_MAX 8
#define LF_TURNS_MAX 200000        /* a wait that takes longer than this is a failure */
#define LF_IDLE_ADVANCE_NS (10ull * 1000000)  /* disk clock moved per idle turn */
/* Small segments (the largest batch follows from them: about 1 MB), so that the simulated
 * disks, which hold every preallocated byte, stay small and fast. */
#define LF_SEGMENT_BYTES (2ull << 20)
#define LF_WHY_BYTES 512
#define LF_CMD_BYTES_MAX 32768    /* a command given as a string */
#define LF_FH_MAX 256             /* file handles the fixture tracks per disk */
/* Expiry times the tests use are far from the present, so results do not depend on it. */
#define LF_FUTURE_MS 4102444800000ll          /* 2100-01-01 */
#define LF_NOW_MS time_wall_ms()

struct lf;

/* A loop's disk: the simulated disk behind a pass-through operation table. */
struct lf_disk {
	struct log_disk base;          /* what the lanes of the loop are given */
	struct lf *f;
	struct sim_disk *sim;
	struct loop_poller poller;
	bool hold_syncs;               /* syncs wait in held[] until released */
	/* Once an operation names a path containing this, syncs of directories are held too
	 * (NULL: never). */
	const char *hold_dir_syncs_after;
	bool hold_dir_syncs;
	bool dir_fh[LF_FH_MAX];        /* handles of open directories */
	bool dead;                     /* after a crash: every operation fails with -EIO */
	struct log_disk_io **inflight; /* operations started and not completed */
	uint32_t ninflight, capinflight;
	struct lf_held *held;
	uint32_t nheld, capheld;
	struct log_disk_io **dead_q;   /* failures to report */
	uint32_t ndead, capdead;
	uint64_t syncs_done;
};

/* One request and its reply. */
struct lf_op {
	struct lane_req req;
	struct lf *f;
	uint32_t id;                   /* submission order, from 0 */
	uint32_t loop;                 /* the loop it was submitted on */
	uint32_t boot;                 /* the boot it was submitted in */
	uint64_t turn;                 /* turns of its lane's loop before it was submitted */
	bool write;
	bool done;
	bool after_crash;              /* answered while the dead lane set was taken down */
	uint64_t done_seq;
	char *reply;
	size_t reply_len;
	char *text;                    /* the arguments' bytes */
	uint32_t argc;
	struct resp_arg argv[LF_ARGS_MAX];
	struct resp_chunk_pool pool;
	struct resp_out out;
};

struct lf_config {
	uint32_t loops;
	uint32_t lanes;
	uint64_t seed;
	uint64_t segment_bytes;        /* 0: LF_SEGMENT_BYTES */
	uint64_t snapshot_every_bytes; /* 0: the log's default */
	uint64_t capacity_bytes;       /* of each disk; 0: unlimited */
	bool reorder;                  /* the disks complete operations in random order */
};

struct lf {
	struct lf_config cfg;
	struct loop *loops[LF_LOOPS_MAX];
	struct lf_disk disks[LF_LOOPS_MAX];
	struct lane_set *set;
	uint32_t boots;
	uint64_t turns[LF_LOOPS_MAX];
	/* Stepping: paused holds every operation; crash_at > 0 stops the disks before the
	 * operation that would be number crash_at (counted over all disks from the start of
	 * the count), and sets halted. */
	bool paused;
	uint64_t steps;
	uint64_t crash_at;
	bool halted;
	bool crashed;                  /* between a crash and the next boot */
	/* The lanes' fatal callback. */
	uint32_t fatal_calls;
	uint32_t fatal_lane;
	int fatal_err;
	char fatal_why[LF_WHY_BYTES];
	/* Requests. */
	struct lf_op **ops;
	uint32_t nops, capops;
	uint64_t done_count;
	/* A write whose reply came before the log said its entry was durable. */
	uint32_t early_acks;
	char label[128];               /* printed with the fixture's own failures */
};

/* LANE_TEST=pattern runs only the tests whose names match (cmocka's filter). */
void lf_test_filter(void);
void lf_init(struct lf *f, const struct lf_config *cfg);
void lf_fini(struct lf *f);

/* Starts a new lane set on the disks and runs until every lane serves, a lane fails, or the
 * disks halt. Returns 0 (serving), -EIO (a lane called the fatal callback) or -EINTR
 * (halted at crash_at). */
int lf_boot(struct lf *f);
/* Like lf_boot(), but gives up after max_turns with -EAGAIN (the lanes keep recovering;
 * lf_boot_wait() goes on). */
int lf_boot_turns(struct lf *f, uint64_t max_turns);
int lf_boot_wait(struct lf *f, uint64_t max_turns);
/* A clean stop: the lanes close their logs, the lane set is destroyed. */
void lf_shutdown(struct lf *f);
/* Power loss on every disk; the lane set is taken down without touching the disks again. */
void lf_crash(struct lf *f);

/* One turn of every loop; returns the work done. */
int lf_turn(struct lf *f);
/* Turns until nothing was done for a few turns in a row and no disk operation is left
 * that could complete (held ones stay held). */
void lf_settle(struct lf *f);
/* Turns until every given request is answered; fails the test after LF_TURNS_MAX. */
void lf_wait(struct lf *f, struct lf_op *const *ops, uint32_t n);
void lf_wait_one(struct lf *f, struct lf_op *op);
/* Turns until op is answered or max_turns have passed; returns whether it was answered. */
bool lf_wait_turns(struct lf *f, struct lf_op *op, uint64_t max_turns);
void lf_release_syncs(struct lf *f);

/* Submits a command ("SET k v", split at spaces) from loop to the lane of its key. */
struct lf_op *lf_submit(struct lf *f, uint32_t loop, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Submits argv[0..argc) (copied) from loop to lane (UINT32_MAX: the key's lane). */
struct lf_op *lf_submitv(struct lf *f, uint32_t loop, uint32_t lane, uint32_t argc,
			 const struct resp_arg *argv);
/* Submits and waits for the reply; returns it (valid while the fixture lives). */
const char *lf_call(struct lf *f, uint32_t loop, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool lf_reply_is(const struct lf_op *op, const char *want);
bool lf_reply_starts(const struct lf_op *op, const char *prefix);

/* A write answered without an error before any crash. */
bool lf_op_acked(const struct lf_op *op);
struct lm;
/* Checks a lane recovered after a crash against the writes boot `boot` sent it (from loop
 * 0 only, so that their order at the lane is known): its state must be base followed by a
 * whole prefix of them (writes sent between the same two turns share an entry) that holds
 * every acknowledged write; the acknowledged writes must be a prefix, answered in order, with
 * the model's replies. The model of the recovered state goes to out (if not NULL). A write
 * answered with an error before the crash counts as refused (never logged), so the workload
 * must send no write that fails only when it runs (WRONGTYPE, not an integer). */
void lf_check_lane(struct lf *f, const struct lm *base, uint32_t boot, uint32_t lane,
		   struct lm *out);
uint32_t lf_lane_of(const struct lf *f, const char *key);
/* The lane's key-value state (the fixture runs every loop on this thread). */
struct kv_db *lf_db(struct lf *f, uint32_t lane);
/* The epoch the lane started in at its last boot (white box). */
uint64_t lf_start_epoch(struct lf *f, uint32_t lane);
/* Decodes metadata slot `slot` (meta.0 or meta.1) of lane as the disk holds it now (after a
 * crash: what survived). Returns its sequence number, 0 if the slot holds no valid record,
 * or -ENOENT if the file does not exist. */
int64_t lf_meta_read(struct lf *f, uint32_t lane, int slot, uint64_t *epoch,
		     uint64_t *primary_epoch);
/* The newest valid metadata record of lane: its sequence number (0: none). */
int64_t lf_meta_newest(struct lf *f, uint32_t lane, uint64_t *primary_epoch);
/* Files in lane's directory whose names start with prefix, as the disk shows them now.
 * Call when the lanes are settled (it completes the disk's operations in flight). */
uint32_t lf_count_files(struct lf *f, uint32_t lane, const char *prefix);
/* Whether a lane is taking a snapshot right now (white box, for coverage checks). */
bool lf_snapshot_running(struct lf *f);
/* Operations the disks completed since the fixture started. */
uint64_t lf_steps(const struct lf *f);
/* The lane's directory on the simulated disk and the path of a file in it. */
void lf_lane_path(uint32_t lane, const char *file, char *buf, size_t cap);

#endif
