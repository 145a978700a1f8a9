/* spindle-bench: parses the command line, splits the run over threads and (when the open-file
 * limit asks for it) worker processes, starts them all at one instant, prints progress, and
 * merges their results into the summary and the JSON file. The threads do the work; see
 * worker.c. */
#define LOG_COMPONENT "bench"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "bench/plan.h"
#include "bench/report.h"
#include "bench/trace.h"

#define MAIN_POLL_NS (20 * NS_PER_MS)
#define MAIN_GO_DELAY_NS (2 * NS_PER_MS)     /* lets every thread see go_ns before it passes */
#define MAIN_PROGRESS_AUTO_S 3               /* progress lines start after this long */
#define MAIN_EXIT_FAILED 1
#define MAIN_EXIT_USAGE 2
#define MAIN_EXIT_CHECK 3

static struct bench_shared *main_shared;

static void main_on_signal(int sig)
{
	(void)sig;
	if (main_shared)
		atomic_store(&main_shared->abort, 1);
}

static uint64_t main_nofile_raise(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_max == RLIM_INFINITY ? (1u << 20) : rl.rlim_max;
}

/* Marks a thread that never ran as done, so that nobody waits for it. */
static void main_slot_fail(uint32_t t, int err)
{
	main_shared->slot[t].error = err;
	atomic_fetch_add(&main_shared->ready, 1);
	atomic_fetch_sub(&main_shared->busy, 1);
	atomic_store(&main_shared->slot[t].finished, 1);
}

struct main_thread {
	pthread_t tid;
	const struct bench_plan *plan;
	uint32_t index;
	bool started;
};

static void *main_thread_run(void *arg)
{
	struct main_thread *t = arg;
	bench_worker_main(t->plan, main_shared, t->index);
	return NULL;
}

/* Runs the threads [first, last) of the plan in this process; with join, waits for them. */
static int main_threads_run(const struct bench_plan *plan, struct main_thread *threads,
			    uint32_t first, uint32_t last, bool join)
{
	int rc = 0;
	for (uint32_t t = first; t < last; t++) {
		threads[t] = (struct main_thread){ .plan = plan, .index = t };
		int err = pthread_create(&threads[t].tid, NULL, main_thread_run, &threads[t]);
		if (err) {
			LOG_ERROR("cannot start thread %u: %s", t, strerror(err));
			main_slot_fail(t, -err);
			rc = -err;
			continue;
		}
		threads[t].started = true;
	}
	for (uint32_t t = first; join && t < last; t++) {
		if (threads[t].started)
			pthread_join(threads[t].tid, NULL);
	}
	return rc;
}

static void main_threads_join(struct main_thread *threads, uint32_t n)
{
	for (uint32_t t = 0; t < n; t++) {
		if (threads[t].started)
			pthread_join(threads[t].tid, NULL);
	}
}

/* Forks one worker process per share of threads; returns how many started. */
static uint32_t main_procs_fork(const struct bench_plan *plan, struct main_thread *threads,
				pid_t *pids)
{
	for (uint32_t p = 0; p < plan->procs; p++) {
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			int rc = main_threads_run(plan, threads, plan->proc_first_thread[p],
						  plan->proc_first_thread[p + 1], true);
			_exit(rc ? MAIN_EXIT_FAILED : 0);
		}
		if (pid < 0) {
			LOG_ERROR("cannot fork worker process %u: %s", p, strerror(errno));
			atomic_store(&main_shared->abort, 1);
			for (uint32_t t = plan->proc_first_thread[p]; t < plan->threads; t++)
				main_slot_fail(t, -errno);
			return p;
		}
		pids[p] = pid;
	}
	return plan->procs;
}

static void main_sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NS_PER_SEC), .tv_nsec = (long)(ns % NS_PER_SEC) };
	nanosleep(&ts, NULL);
}

/* Notices a worker process that died before finishing its threads: the run is aborted and
 * its threads count as failed. */
static void main_children_check(const struct bench_plan *plan, pid_t *pids)
{
	for (uint32_t p = 0; pids && p < plan->procs; p++) {
		int status = 0;
		if (pids[p] <= 0 || waitpid(pids[p], &status, WNOHANG) != pids[p])
			continue;
		pids[p] = -pids[p];
		bool unfinished = false;
		for (uint32_t t = plan->proc_first_thread[p]; t < plan->proc_first_thread[p + 1]; t++) {
			if (!atomic_load(&main_shared->slot[t].finished)) {
				unfinished = true;
				main_slot_fail(t, -ECHILD);
			}
		}
		if (unfinished || !WIFEXITED(status)) {
			LOG_ERROR("worker process %u ended early (%s %d)", p,
				  WIFSIGNALED(status) ? "signal" : "status",
				  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			atomic_store(&main_shared->abort, 1);
		}
	}
}

static bool main_all_finished(const struct bench_plan *plan)
{
	for (uint32_t t = 0; t < plan->threads; t++) {
		if (!atomic_load_explicit(&main_shared->slot[t].finished, memory_order_acquire))
			return false;
	}
	return true;
}

static void main_progress(const struct bench_plan *plan, uint64_t go_ns, uint64_t now,
			  uint64_t *last_ns, uint64_t *last_done)
{
	uint64_t done = 0, errors = 0;
	for (uint32_t t = 0; t < plan->threads; t++) {
		done += atomic_load_explicit(&main_shared->slot[t].done, memory_order_relaxed);
		errors += atomic_load_explicit(&main_shared->slot[t].errors, memory_order_relaxed);
	}
	double elapsed_s = (double)(now - go_ns) / (double)NS_PER_SEC;
	int mode = plan->cfg->progress;
	if (mode == 1 || (mode == -1 && elapsed_s >= MAIN_PROGRESS_AUTO_S))
		fprintf(stderr, "spindle-bench: %5.0f s %10.0f req/s %12llu done %8llu errors\n",
			elapsed_s, (double)(done - *last_done) * (double)NS_PER_SEC /
					   (double)(now - *last_ns),
			(unsigned long long)done, (unsigned long long)errors);
	*last_ns = now;
	*last_done = done;
}

static void main_ready_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		LOG_WARN("cannot create ready file %s: %s", path, strerror(errno));
		return;
	}
	ssize_t w = write(fd, "ready\n", 6);
	(void)w;
	close(fd);
}

/* Waits for every thread to open its connections, starts them, then follows the run. */
static void main_monitor(const struct bench_plan *plan, pid_t *pids)
{
	while (atomic_load(&main_shared->ready) < plan->threads && !atomic_load(&main_shared->abort)) {
		main_sleep_ns(MAIN_POLL_NS);
		main_children_check(plan, pids);
	}
	uint64_t go = time_mono_ns() + MAIN_GO_DELAY_NS;
	if (!atomic_load(&main_shared->abort)) {
		atomic_store(&main_shared->go_ns, go);
		if (plan->cfg->ready_path)
			main_ready_file(plan->cfg->ready_path);
	}
	uint64_t last_ns = go, last_done = 0;
	while (!main_all_finished(plan)) {
		main_sleep_ns(MAIN_POLL_NS);
		main_children_check(plan, pids);
		uint64_t now = time_mono_ns();
		if (now >= last_ns + NS_PER_SEC)
			main_progress(plan, go, now, &last_ns, &last_done);
	}
}

static void main_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = main_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Merges every thread's result; returns how many threads failed to run. */
static uint32_t main_merge(const struct bench_plan *plan, struct bench_result *total)
{
	uint32_t failed = 0;
	bench_result_init(total);
	for (uint32_t t = 0; t < plan->threads; t++) {
		const struct bench_slot *s = &main_shared->slot[t];
		bench_result_merge(total, &s->result);
		failed += s->error != 0 && s->error != -ECANCELED;
	}
	return failed;
}

static int main_output(const struct bench_plan *plan, const struct bench_result *r)
{
	struct bench_machine m;
	bench_machine_read(&m);
	if (!plan->cfg->quiet)
		bench_report_print(stdout, plan, r, &m);
	if (plan->cfg->json_path == NULL)
		return 0;
	FILE *f = fopen(plan->cfg->json_path, "w");
	if (f == NULL) {
		LOG_ERROR("cannot write %s: %s", plan->cfg->json_path, strerror(errno));
		return -errno;
	}
	int rc = bench_report_json(f, plan, r, &m);
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc)
		LOG_ERROR("cannot write %s: %s", plan->cfg->json_path, strerror(-rc));
	return rc;
}

static int main_run(const struct bench_plan *plan)
{
	struct main_thread *threads = calloc(plan->threads, sizeof(*threads));
	pid_t *pids = calloc(plan->procs, sizeof(*pids));
	if (!threads || !pids) {
		LOG_ERROR("out of memory");
		return MAIN_EXIT_FAILED;
	}
	if (plan->procs == 1) {
		main_threads_run(plan, threads, 0, plan->threads, false);
		main_monitor(plan, NULL);
		main_threads_join(threads, plan->threads);
	} else {
		uint32_t started = main_procs_fork(plan, threads, pids);
		main_monitor(plan, pids);
		for (uint32_t p = 0; p < started; p++) {
			if (pids[p] > 0)
				waitpid(pids[p], NULL, 0);
		}
	}
	free(threads);
	free(pids);
	static struct bench_result total;
	uint32_t failed = main_merge(plan, &total);
	int out = main_output(plan, &total);
	if (total.trace_errno)
		LOG_ERROR("cannot write the trace %s: %s", plan->cfg->trace_path,
			  strerror(total.trace_errno));
	if (total.conns_open == 0)
		LOG_ERROR("no connection to %s could be opened: %s", plan->cfg->label,
			  strerror(total.connect_errno ? total.connect_errno : ECONNREFUSED));
	if (plan->cfg->check && total.err_check > 0)
		return MAIN_EXIT_CHECK;
	if (failed || out || total.trace_errno || total.requests == 0 ||
	    atomic_load(&main_shared->abort))
		return MAIN_EXIT_FAILED;
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench_config cfg;
	static struct bench_plan plan;
	char err[512];
	log_process_name_set("spindle-bench");
	enum bench_config_status st = bench_config_parse(&cfg, argc, argv, err, sizeof(err));
	if (st == BENCH_CONFIG_HELP) {
		bench_config_usage(stdout);
		return 0;
	}
	if (st != BENCH_CONFIG_OK) {
		fprintf(stderr, "spindle-bench: %s\n", err);
		return MAIN_EXIT_USAGE;
	}
	uint64_t nofile = main_nofile_raise();
	if (bench_plan_build(&plan, &cfg, nofile, err, sizeof(err))) {
		fprintf(stderr, "spindle-bench: %s\n", err);
		return MAIN_EXIT_USAGE;
	}
	if (cfg.trace_path) {
		plan.trace_fd = bench_trace_create(cfg.trace_path, cfg.port, cfg.ports);
		if (plan.trace_fd < 0) {
			fprintf(stderr, "spindle-bench: --trace: cannot create %s: %s\n",
				cfg.trace_path, strerror(-plan.trace_fd));
			return MAIN_EXIT_FAILED;
		}
	}
	main_shared = bench_shared_map(plan.threads);
	if (main_shared == NULL) {
		LOG_ERROR("cannot map shared memory: %s", strerror(errno));
		return MAIN_EXIT_FAILED;
	}
	main_signals();
	int rc = main_run(&plan);
	bench_shared_unmap(main_shared, plan.threads);
	if (plan.trace_fd >= 0 && close(plan.trace_fd) != 0 && rc == 0) {
		LOG_ERROR("cannot write the trace %s: %s", cfg.trace_path, strerror(errno));
		rc = MAIN_EXIT_FAILED;
	}
	return rc;
}
