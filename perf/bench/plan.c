/* Building a run's plan, and the memory the parent shares with its worker processes. */
#include "bench/plan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/panic.h"

struct bench_share bench_plan_share(uint64_t total, uint32_t parts, uint32_t part)
{
	ASSERT(parts > 0 && part < parts);
	uint64_t lo = (uint64_t)((unsigned __int128)total * part / parts);
	uint64_t hi = (uint64_t)((unsigned __int128)total * (part + 1) / parts);
	return (struct bench_share){ .first = lo, .count = hi - lo };
}

uint32_t bench_plan_proc_of(const struct bench_plan *plan, uint32_t thread)
{
	ASSERT(thread < plan->threads);
	uint32_t p = 0;
	while (plan->proc_first_thread[p + 1] <= thread)
		p++;
	return p;
}

/* The most connections any one process of this split would open. */
static uint64_t plan_conns_per_proc_max(const struct bench_config *cfg, uint32_t threads,
					uint32_t procs)
{
	uint64_t most = 0;
	for (uint32_t p = 0; p < procs; p++) {
		struct bench_share ts = bench_plan_share(threads, procs, p);
		uint64_t n = 0;
		for (uint64_t t = ts.first; t < ts.first + ts.count; t++)
			n += bench_plan_share(cfg->conns, threads, (uint32_t)t).count +
			     bench_plan_share(cfg->hold, threads, (uint32_t)t).count;
		most = MAX(most, n);
	}
	return most;
}

static int plan_split(struct bench_plan *plan, const struct bench_config *cfg,
		      uint64_t nofile_max, char *err, size_t err_len)
{
	uint64_t budget = nofile_max > BENCH_FD_RESERVE ? nofile_max - BENCH_FD_RESERVE : 1;
	uint64_t total = (uint64_t)cfg->conns + cfg->hold;
	uint32_t procs = cfg->procs ? cfg->procs : (uint32_t)MIN((total + budget - 1) / budget,
								 (uint64_t)BENCH_PROCS_MAX);
	procs = MAX(procs, 1u);
	uint32_t threads = MAX(cfg->threads, procs);
	while (plan_conns_per_proc_max(cfg, threads, procs) > budget) {
		if (cfg->procs || procs == BENCH_PROCS_MAX) {
			snprintf(err, err_len, "%llu connections in %u processes exceed the open-file "
				 "limit of %llu per process; use more --procs",
				 (unsigned long long)total, procs, (unsigned long long)nofile_max);
			return -EINVAL;
		}
		procs++;
		threads = MAX(threads, procs);
	}
	plan->procs = procs;
	plan->threads = threads;
	for (uint32_t p = 0; p <= procs; p++)
		plan->proc_first_thread[p] = p < procs
			? (uint32_t)bench_plan_share(threads, procs, p).first : threads;
	return 0;
}

static int plan_templates(struct bench_plan *plan, const struct bench_config *cfg, char *err,
			  size_t err_len)
{
	static const char *const set[] = { "SET", ("key:" BENCH_CMD_PLACEHOLDER_KEY),
					   BENCH_CMD_PLACEHOLDER_VALUE };
	static const char *const get[] = { "GET", ("key:" BENCH_CMD_PLACEHOLDER_KEY) };
	static const char *const incr[] = { "INCR", ("counter:" BENCH_CMD_PLACEHOLDER_KEY) };
	int rc = bench_cmd_parse(&plan->cmd[BENCH_OP_SET], 3, set, err, err_len);
	rc = rc ? rc : bench_cmd_parse(&plan->cmd[BENCH_OP_GET], 2, get, err, err_len);
	rc = rc ? rc : bench_cmd_parse(&plan->cmd[BENCH_OP_INCR], 2, incr, err, err_len);
	if (rc == 0 && cfg->workload == BENCH_WORKLOAD_CUSTOM)
		rc = bench_cmd_parse(&plan->cmd[BENCH_OP_CUSTOM], cfg->cmd_argc, cfg->cmd_argv, err,
				   err_len);
	plan->op_writes[BENCH_OP_SET] = plan->op_writes[BENCH_OP_INCR] = true;
	plan->op_writes[BENCH_OP_CUSTOM] = true;  /* unknown: WAIT follows each, if asked */
	if (rc == 0 && cfg->wait_replicas >= 0) {
		char n[16], ms[16];
		snprintf(n, sizeof(n), "%d", cfg->wait_replicas);
		snprintf(ms, sizeof(ms), "%u", cfg->wait_timeout_ms);
		const char *const wait[] = { "WAIT", n, ms };
		rc = bench_cmd_parse(&plan->wait_cmd, 3, wait, err, err_len);
	}
	return rc;
}

static void plan_keys(struct bench_plan *plan, const struct bench_config *cfg)
{
	uint64_t key_count = cfg->keyspace;
	plan->key_range = cfg->keyspace;
	if (cfg->check) {
		/* A fresh prefix per run: every key starts out missing, so every read has a
		 * known answer from the first request on. */
		uint32_t r = (uint32_t)(time_wall_ms() ^ ((uint64_t)getpid() << 20) ^ time_mono_ns());
		snprintf(plan->nonce, sizeof(plan->nonce), "%08x:", r);
		plan->keys_per_conn = MAX(cfg->keyspace / cfg->conns, 1ull);
		plan->key_range = plan->keys_per_conn;
		key_count = plan->keys_per_conn * cfg->conns;
	}
	plan->key_width = bench_key_width(key_count);
	plan->key_bytes = strlen(plan->nonce) + plan->key_width;
}

static void plan_sizes(struct bench_plan *plan, const struct bench_config *cfg)
{
	static const enum bench_op ops_of[][2] = {
		[BENCH_WORKLOAD_SET] = { BENCH_OP_SET, BENCH_OP_SET },
		[BENCH_WORKLOAD_GET] = { BENCH_OP_GET, BENCH_OP_GET },
		[BENCH_WORKLOAD_INCR] = { BENCH_OP_INCR, BENCH_OP_INCR },
		[BENCH_WORKLOAD_MIXED] = { BENCH_OP_SET, BENCH_OP_GET },
		[BENCH_WORKLOAD_CUSTOM] = { BENCH_OP_CUSTOM, BENCH_OP_CUSTOM },
	};
	size_t wait_bytes = cfg->wait_replicas >= 0 ? bench_cmd_bytes(&plan->wait_cmd, 0, 0) : 0;
	for (int i = 0; i < 2; i++) {
		enum bench_op op = ops_of[cfg->workload][i];
		size_t n = bench_cmd_bytes(&plan->cmd[op], plan->key_bytes, cfg->value_bytes);
		plan->req_bytes_max = MAX(plan->req_bytes_max, n + wait_bytes);
	}
	plan->run_ns = (uint64_t)(cfg->duration_s * (double)NS_PER_SEC);
	plan->warmup_ns = (uint64_t)(cfg->warmup_s * (double)NS_PER_SEC);
	plan->timeout_ns = (uint64_t)cfg->timeout_ms * NS_PER_MS;
}

int bench_plan_build(struct bench_plan *plan, const struct bench_config *cfg,
		     uint64_t nofile_max, char *err, size_t err_len)
{
	memset(plan, 0, sizeof(*plan));
	plan->cfg = cfg;
	plan->trace_fd = -1;
	int rc = plan_split(plan, cfg, nofile_max, err, err_len);
	if (rc == 0)
		rc = plan_templates(plan, cfg, err, err_len);
	if (rc)
		return rc;
	plan_keys(plan, cfg);
	if (cfg->dist == BENCH_DIST_ZIPF &&
	    bench_zipf_init(&plan->zipf, plan->key_range, cfg->zipf_theta)) {
		snprintf(err, err_len, "--dist zipf draws from at most %llu keys, not %llu",
			 (unsigned long long)BENCH_ZIPF_KEYS_MAX,
			 (unsigned long long)plan->key_range);
		return -EINVAL;
	}
	plan_sizes(plan, cfg);
	return 0;
}

static size_t shared_bytes(uint32_t threads)
{
	return sizeof(struct bench_shared) + (size_t)threads * sizeof(struct bench_slot);
}

struct bench_shared *bench_shared_map(uint32_t threads)
{
	void *p = mmap(NULL, shared_bytes(threads), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	struct bench_shared *s = p;
	atomic_store(&s->busy, (int32_t)threads);
	for (uint32_t t = 0; t < threads; t++)
		bench_result_init(&s->slot[t].result);
	return s;
}

void bench_shared_unmap(struct bench_shared *shared, uint32_t threads)
{
	munmap(shared, shared_bytes(threads));
}
