/* Summary and JSON output of a run. Latencies are reported in microseconds. */
#include "bench/report.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/clock.h"

/* The percentiles every report carries, with their JSON names. */
static const struct { double p; const char *name; } report_pcts[] = {
	{ 50.0, "p50" }, { 90.0, "p90" }, { 99.0, "p99" }, { 99.9, "p999" },
};

void bench_machine_read(struct bench_machine *m)
{
	memset(m, 0, sizeof(*m));
	m->cores = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(m->model, sizeof(m->model), "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon) {
			colon += 1 + strspn(colon + 1, " \t");
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(m->model, sizeof(m->model), "%s", colon);
			break;
		}
	}
	if (f)
		fclose(f);
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof(m->kernel), "%s %s", u.sysname, u.release);
}

static double report_us(uint64_t ns)
{
	return (double)ns / (double)NS_PER_US;
}

static double report_window_s(const struct bench_result *r)
{
	if (r->last_done_ns <= r->measure_start_ns)
		return 0.0;
	return (double)(r->last_done_ns - r->measure_start_ns) / (double)NS_PER_SEC;
}

static void report_errors_print(FILE *f, const struct bench_result *r)
{
	static const struct { const char *name; size_t off; } kinds[] = {
		{ "connect", offsetof(struct bench_result, err_connect) },
		{ "closed", offsetof(struct bench_result, err_closed) },
		{ "dropped", offsetof(struct bench_result, err_dropped) },
		{ "timeout", offsetof(struct bench_result, err_timeout) },
		{ "protocol", offsetof(struct bench_result, err_protocol) },
		{ "check", offsetof(struct bench_result, err_check) },
		{ "wait", offsetof(struct bench_result, err_wait) },
		{ "other-replies", offsetof(struct bench_result, err_reply_other) },
	};
	fprintf(f, "  errors      %llu", (unsigned long long)bench_result_errors(r));
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		uint64_t n = *(const uint64_t *)(const void *)((const char *)r + kinds[i].off);
		if (n)
			fprintf(f, "  %s %llu", kinds[i].name, (unsigned long long)n);
	}
	for (uint32_t i = 0; i < r->err_prefixes; i++)
		fprintf(f, "  -%s %llu", r->err_prefix[i].text,
			(unsigned long long)r->err_prefix[i].count);
	if (r->held_failed || r->held_lost)
		fprintf(f, "  held-failed %u  held-lost %u", r->held_failed, r->held_lost);
	if (r->held_error[0])
		fprintf(f, "  (held: -%s)", r->held_error);
	if (r->connect_errno)
		fprintf(f, "  (connect: %s)", strerror(r->connect_errno));
	fputc('\n', f);
}

void bench_report_print(FILE *f, const struct bench_plan *plan, const struct bench_result *r,
			const struct bench_machine *m)
{
	const struct bench_config *cfg = plan->cfg;
	fprintf(f, "spindle-bench %s: %s, %s loop", cfg->label, bench_workload_name(cfg->workload),
		cfg->rate > 0 ? "open" : "closed");
	if (cfg->rate > 0)
		fprintf(f, " at %.0f req/s", cfg->rate);
	fprintf(f, ", %u connections x pipeline %u, %u threads in %u process%s", cfg->conns,
		cfg->pipeline, plan->threads, plan->procs, plan->procs > 1 ? "es" : "");
	if (cfg->hold)
		fprintf(f, ", %u held idle", r->held_open);
	fprintf(f, "\n  machine     %ld cores, %s, %s\n", m->cores, m->model, m->kernel);
	fprintf(f, "  requests    %llu in %.2f s: %.0f req/s\n", (unsigned long long)r->requests,
		report_window_s(r), bench_result_rps(r));
	fprintf(f, "  latency us ");
	for (size_t i = 0; i < ARRAY_SIZE(report_pcts); i++)
		fprintf(f, " %s %.1f ", report_pcts[i].name,
			report_us(bench_hist_percentile(&r->hist, report_pcts[i].p)));
	fprintf(f, " max %.1f  mean %.1f\n", report_us(r->hist.count ? r->hist.max : 0),
		bench_hist_mean(&r->hist) / (double)NS_PER_US);
	if (cfg->check)
		fprintf(f, "  check       %llu replies verified, %llu unverifiable, %llu wrong\n",
			(unsigned long long)r->check_verified,
			(unsigned long long)r->check_unverified, (unsigned long long)r->err_check);
	report_errors_print(f, r);
}

void bench_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)  /* bytes above ASCII as Latin-1: valid UTF-8 */
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void report_json_config(FILE *f, const struct bench_plan *plan)
{
	const struct bench_config *cfg = plan->cfg;
	fprintf(f, "  \"config\": {\"workload\": \"%s\", \"command\": ", bench_workload_name(cfg->workload));
	if (cfg->workload == BENCH_WORKLOAD_CUSTOM) {
		fputc('[', f);
		for (int i = 0; i < cfg->cmd_argc; i++) {
			fputs(i ? ", " : "", f);
			bench_json_string(f, cfg->cmd_argv[i]);
		}
		fputc(']', f);
	} else {
		fputs("null", f);
	}
	fprintf(f, ", \"mode\": \"%s\", \"rate\": %.3f, \"connections\": %u, \"hold\": %u, "
		"\"threads\": %u, \"procs\": %u, \"pipeline\": %u,\n", cfg->rate > 0 ? "open" : "closed",
		cfg->rate, cfg->conns, cfg->hold, plan->threads, plan->procs, cfg->pipeline);
	fprintf(f, "    \"value_bytes\": %u, \"keyspace\": %llu, \"dist\": \"%s\", \"zipf_theta\": %.4f, "
		"\"read_ratio\": %.4f, \"check\": %s, ", cfg->value_bytes,
		(unsigned long long)cfg->keyspace, bench_dist_name(cfg->dist), cfg->zipf_theta,
		cfg->read_ratio, cfg->check ? "true" : "false");
	if (cfg->wait_replicas >= 0)
		fprintf(f, "\"wait\": {\"replicas\": %d, \"timeout_ms\": %u},\n", cfg->wait_replicas,
			cfg->wait_timeout_ms);
	else
		fputs("\"wait\": null,\n", f);
	fprintf(f, "    \"requests\": %llu, \"duration_s\": %.3f, \"warmup_s\": %.3f, "
		"\"timeout_ms\": %u, \"seed\": %llu},\n", (unsigned long long)cfg->requests,
		cfg->duration_s, cfg->warmup_s, cfg->timeout_ms, (unsigned long long)cfg->seed);
}

static void report_json_latency(FILE *f, const struct bench_result *r)
{
	fprintf(f, "  \"latency_us\": {\"min\": %.3f, \"mean\": %.3f",
		report_us(r->hist.count ? r->hist.min : 0), bench_hist_mean(&r->hist) / NS_PER_US);
	for (size_t i = 0; i < ARRAY_SIZE(report_pcts); i++)
		fprintf(f, ", \"%s\": %.3f", report_pcts[i].name,
			report_us(bench_hist_percentile(&r->hist, report_pcts[i].p)));
	fprintf(f, ", \"max\": %.3f},\n", report_us(r->hist.count ? r->hist.max : 0));
	/* The histogram itself, as [highest value of the bucket in ns, count] for every bucket
	 * that has values: enough to merge runs or draw the whole distribution. */
	fputs("  \"histogram_ns\": [", f);
	bool first = true;
	for (uint32_t i = 0; i < BENCH_HIST_BUCKETS; i++) {
		if (r->hist.counts[i] == 0)
			continue;
		fprintf(f, "%s[%llu, %llu]", first ? "" : ", ",
			(unsigned long long)bench_hist_bucket_high(i),
			(unsigned long long)r->hist.counts[i]);
		first = false;
	}
	fputs("],\n", f);
}

static void report_json_errors(FILE *f, const struct bench_result *r)
{
	fprintf(f, "  \"errors\": {\"total\": %llu, \"replies\": {",
		(unsigned long long)bench_result_errors(r));
	for (uint32_t i = 0; i < r->err_prefixes; i++)
		fprintf(f, "%s\"%s\": %llu", i ? ", " : "", r->err_prefix[i].text,
			(unsigned long long)r->err_prefix[i].count);
	fprintf(f, "%s\"(other)\": %llu}, ", r->err_prefixes ? ", " : "",
		(unsigned long long)r->err_reply_other);
	fprintf(f, "\"connect\": %llu, \"closed\": %llu, \"dropped\": %llu, \"timeout\": %llu, "
		"\"protocol\": %llu, \"check\": %llu, \"wait\": %llu, \"held_failed\": %u, "
		"\"held_lost\": %u, \"connect_error\": ",
		(unsigned long long)r->err_connect, (unsigned long long)r->err_closed,
		(unsigned long long)r->err_dropped, (unsigned long long)r->err_timeout,
		(unsigned long long)r->err_protocol, (unsigned long long)r->err_check,
		(unsigned long long)r->err_wait, r->held_failed, r->held_lost);
	if (r->connect_errno)
		bench_json_string(f, strerror(r->connect_errno));
	else
		fputs("null", f);
	fputs(", \"held_error\": ", f);
	if (r->held_error[0])
		bench_json_string(f, r->held_error);
	else
		fputs("null", f);
	fputs("},\n", f);
}

int bench_report_json(FILE *f, const struct bench_plan *plan, const struct bench_result *r,
		      const struct bench_machine *m)
{
	const struct bench_config *cfg = plan->cfg;
	fprintf(f, "{\n  \"tool\": \"spindle-bench\", \"version\": \"%s\", \"label\": ", SPINDLE_VERSION);
	bench_json_string(f, cfg->label);
	fprintf(f, ",\n  \"target\": {\"host\": \"%s\", \"port\": %u, \"ports\": [",
		inet_ntoa(cfg->target.sin_addr), ntohs(cfg->target.sin_port));
	for (uint32_t i = 0; i < cfg->ports; i++)
		fprintf(f, "%s%u", i ? ", " : "", cfg->port[i]);
	fputs("]},\n", f);
	fputs("  \"machine\": {\"cores\": ", f);
	fprintf(f, "%ld, \"model\": ", m->cores);
	bench_json_string(f, m->model);
	fputs(", \"kernel\": ", f);
	bench_json_string(f, m->kernel);
	fputs("},\n", f);
	report_json_config(f, plan);
	fprintf(f, "  \"duration_s\": %.6f, \"requests\": %llu, \"issued\": %llu, "
		"\"throughput_rps\": %.3f,\n", report_window_s(r), (unsigned long long)r->requests,
		(unsigned long long)r->issued, bench_result_rps(r));
	fprintf(f, "  \"connections\": {\"active\": %u, \"held\": %u},\n", r->conns_open, r->held_open);
	fprintf(f, "  \"check\": {\"verified\": %llu, \"unverified\": %llu},\n",
		(unsigned long long)r->check_verified, (unsigned long long)r->check_unverified);
	report_json_errors(f, r);
	report_json_latency(f, r);
	fprintf(f, "  \"ok\": %s\n}\n", r->requests > 0 && bench_result_errors(r) == 0 ? "true" : "false");
	return ferror(f) ? -EIO : 0;
}
