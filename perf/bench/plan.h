/* A run's plan: everything the worker threads share read-only, computed once from the
 * configuration before any process is forked (command templates, key layout, how threads,
 * connections and requests are split over processes), and the memory shared between the
 * parent and its worker processes (start barrier, live counters, each thread's result). */
#ifndef SPINDLE_BENCH_PLAN_H
#define SPINDLE_BENCH_PLAN_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/compiler.h"
#include "bench/cmd.h"
#include "bench/config.h"
#include "bench/keys.h"
#include "bench/result.h"

#define BENCH_FD_RESERVE 64  /* descriptors a process keeps for itself besides connections */
#define BENCH_KEY_UNKNOWN UINT64_MAX

enum bench_op { BENCH_OP_SET, BENCH_OP_GET, BENCH_OP_INCR, BENCH_OP_CUSTOM, BENCH_OP_COUNT };

/* A share [first, first + count) of some total. */
struct bench_share {
	uint64_t first;
	uint64_t count;
};

struct bench_plan {
	const struct bench_config *cfg;
	uint32_t procs;
	uint32_t threads;                               /* over all processes */
	uint32_t proc_first_thread[BENCH_PROCS_MAX + 1];
	struct bench_cmd cmd[BENCH_OP_COUNT];
	bool op_writes[BENCH_OP_COUNT];
	struct bench_cmd wait_cmd;
	char nonce[BENCH_KEY_NONCE_BYTES_MAX + 1];      /* key prefix of a checking run */
	uint32_t key_width;
	size_t key_bytes;
	uint64_t keys_per_conn;                         /* checking: keys each connection owns */
	uint64_t key_range;                             /* keys a draw picks from */
	struct bench_zipf zipf;                         /* over key_range */
	size_t req_bytes_max;                           /* largest request, WAIT included */
	uint64_t run_ns;                                /* 0: bounded by requests */
	uint64_t warmup_ns;
	uint64_t timeout_ns;
	int trace_fd;                                   /* --trace: the file; else -1 */
};

/* One thread's live counters and final result, in memory shared with the parent. */
struct bench_slot {
	_Atomic uint64_t done;      /* answered requests so far, for the progress line */
	_Atomic uint64_t errors;
	_Atomic uint32_t finished;  /* result is final */
	int32_t error;              /* the thread could not run: negative errno */
	struct bench_result result;
} CACHE_ALIGNED;

struct bench_shared {
	_Atomic uint32_t ready;     /* threads that have opened their connections */
	_Atomic uint32_t abort;
	_Atomic int32_t busy;       /* threads still loading the server; held connections stay
				     * open until it is 0, whichever thread holds them */
	_Atomic uint64_t go_ns;     /* CLOCK_MONOTONIC start of the run; 0 until then */
	struct bench_slot slot[];
};

/* Fills plan from cfg; nofile_max is the per-process open-file limit. Returns 0, or
 * -EINVAL with a message in err. */
int bench_plan_build(struct bench_plan *plan, const struct bench_config *cfg,
		     uint64_t nofile_max, char *err, size_t err_len);
struct bench_share bench_plan_share(uint64_t total, uint32_t parts, uint32_t part);
/* The process that runs thread t. */
uint32_t bench_plan_proc_of(const struct bench_plan *plan, uint32_t thread);

struct bench_shared *bench_shared_map(uint32_t threads);
void bench_shared_unmap(struct bench_shared *shared, uint32_t threads);

/* Runs thread t of the plan to the end: open connections, wait for go_ns, run, report into
 * shared->slot[t]. Returns 0 or a negative errno (also left in the slot). */
int bench_worker_main(const struct bench_plan *plan, struct bench_shared *shared, uint32_t t);

#endif
