/* spindle-sim: runs the deterministic cluster simulation over a range of seeds.
 *
 *   SPINDLE_SIM_SEEDS=N        how many seeds (default 2000; 500 under AddressSanitizer,
 *                              whose runs are several times slower)
 *   SPINDLE_SIM_SEED_START=S   first seed (default 1)
 *   SPINDLE_SIM_SEED=S         replay one seed, with its summary
 *   SPINDLE_SIM_CONTROL=oracle use the scripted control plane instead of the control group
 *   SPINDLE_SIM_KEEP_GOING=1   count every failing seed instead of stopping at the first
 *
 * A failing seed prints the first violated check, the tail of its trace and the command
 * that replays it; the same seed replays exactly. */
#include "sim.h"

#include "base/log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SEEDS_DEFAULT 500
#else
#define SEEDS_DEFAULT 2000
#endif

const struct sim_cluster *sim_run_current(void);

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);
	return v && *v ? strtoull(v, NULL, 0) : def;
}

static volatile uint64_t seed_running;

/* An assertion in the code under test aborts: say which seed, and what led there. */
static void on_abort(int sig)
{
	(void)sig;
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "ABORTED in seed %llu; trace tail:\n",
			 (unsigned long long)seed_running);
	ssize_t w = write(2, buf, (size_t)n);
	(void)w;
	const struct sim_cluster *c = sim_run_current();
	if (c)
		sim_trace_dump(c, 2, 60);
	n = snprintf(buf, sizeof(buf), "replay: SPINDLE_SIM_SEED=%llu spindle-sim\n",
		     (unsigned long long)seed_running);
	w = write(2, buf, (size_t)n);
	signal(SIGABRT, SIG_DFL);
}

int main(void)
{
	signal(SIGABRT, on_abort);
	/* The cores log their fatal errors; here they are expected faults, reported in the
	 * trace. */
	log_level_min = (enum log_level)(LOG_LEVEL_ERROR + 1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("SPINDLE_SIM_SEED")) {
		seed_running = env_u64("SPINDLE_SIM_SEED", 1);
		return sim_run_seed(seed_running, true) ? 0 : 1;
	}
	uint64_t count = env_u64("SPINDLE_SIM_SEEDS", SEEDS_DEFAULT);
	uint64_t start = env_u64("SPINDLE_SIM_SEED_START", 1);
	bool keep_going = env_u64("SPINDLE_SIM_KEEP_GOING", 0) != 0;
	uint64_t failed = 0, first_failed = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t s = start; s < start + count; s++) {
		seed_running = s;
		if (sim_run_seed(s, false))
			continue;
		if (failed++ == 0)
			first_failed = s;
		printf("replay: SPINDLE_SIM_SEED=%llu spindle-sim\n", (unsigned long long)s);
		if (!keep_going)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("sim: seeds %llu..%llu: %llu failed (first: %llu) in %.1f s\n",
	       (unsigned long long)start, (unsigned long long)(start + count - 1),
	       (unsigned long long)failed, (unsigned long long)first_failed, secs);
	return failed ? 1 : 0;
}
