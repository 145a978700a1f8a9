/* Command-line parsing for spindle-bench (getopt_long), with range checks on every number. */
#include "bench/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/compiler.h"
#include "bench/cmd.h"

#define CONFIG_PORT_DEFAULT 6379
#define CONFIG_CONNS_DEFAULT 50
#define CONFIG_VALUE_BYTES_DEFAULT 32
#define CONFIG_KEYSPACE_DEFAULT 100000
#define CONFIG_DURATION_S_DEFAULT 10.0
#define CONFIG_TIMEOUT_MS_DEFAULT 10000
#define CONFIG_READ_RATIO_DEFAULT 0.9
#define CONFIG_ZIPF_THETA_DEFAULT 0.99

enum {
	OPT_PROCS = 1000, OPT_HOLD, OPT_DIST, OPT_ZIPF_THETA, OPT_WAIT, OPT_CHECK, OPT_WARMUP,
	OPT_TIMEOUT, OPT_SOURCES, OPT_JSON, OPT_LABEL, OPT_READY, OPT_PROGRESS, OPT_NO_PROGRESS,
	OPT_SEED, OPT_TRACE, OPT_HELP,
};

static const struct option config_options[] = {
	{ "host", required_argument, NULL, 'h' },
	{ "port", required_argument, NULL, 'p' },
	{ "source-addrs", required_argument, NULL, OPT_SOURCES },
	{ "connections", required_argument, NULL, 'c' },
	{ "threads", required_argument, NULL, 't' },
	{ "procs", required_argument, NULL, OPT_PROCS },
	{ "pipeline", required_argument, NULL, 'P' },
	{ "rate", required_argument, NULL, 'R' },
	{ "hold", required_argument, NULL, OPT_HOLD },
	{ "workload", required_argument, NULL, 'w' },
	{ "read-ratio", required_argument, NULL, 'r' },
	{ "value-bytes", required_argument, NULL, 'd' },
	{ "keyspace", required_argument, NULL, 'k' },
	{ "dist", required_argument, NULL, OPT_DIST },
	{ "zipf-theta", required_argument, NULL, OPT_ZIPF_THETA },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "requests", required_argument, NULL, 'n' },
	{ "duration", required_argument, NULL, 'D' },
	{ "warmup", required_argument, NULL, OPT_WARMUP },
	{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "ready-file", required_argument, NULL, OPT_READY },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

void bench_config_usage(FILE *f)
{
	fputs(
"usage: spindle-bench [options] [-- COMMAND ARG...]\n"
"Load generator for RESP servers (spindle, Redis) on io_uring.\n"
"\n"
"target:\n"
"  -h, --host ADDR          server IPv4 address or localhost (127.0.0.1)\n"
"  -p, --port PORT[,PORT]   server port (6379); with several (at most 16, e.g. the\n"
"                           nodes of a cluster), connection g goes to the (g mod N)th\n"
"      --source-addrs LIST  connect from these local addresses in turn: A,B,... or A+N\n"
"                           (N consecutive addresses from A, e.g. 127.0.0.1+8)\n"
"load:\n"
"  -c, --connections N      active connections (50)\n"
"  -t, --threads N          threads over all processes (one per core)\n"
"      --procs N            worker processes (as many as the open-file limit needs)\n"
"  -P, --pipeline N         requests in flight per connection (1)\n"
"  -R, --rate N             open loop: N requests/s in all, latency from the intended\n"
"                           send time; without it, closed loop as fast as possible\n"
"      --hold N             also hold N idle connections open (each answers one PING)\n"
"workload:\n"
"  -w, --workload NAME      set, get, incr or mixed (set); or a command after --,\n"
"                           where __key__ and __value__ are replaced per request\n"
"  -r, --read-ratio F       mixed: share of GETs, 0..1 (0.9)\n"
"  -d, --value-bytes N      value size (32)\n"
"  -k, --keyspace N         number of keys (100000)\n"
"      --dist NAME          uniform, zipf or seq (uniform)\n"
"      --zipf-theta F       skew of zipf, 0 < F < 1 (0.99)\n"
"      --wait N[:MS]        follow every write with WAIT N MS on its connection and\n"
"                           count the wait in the write's latency (MS defaults to 0)\n"
"      --check              verify every reply: each key belongs to one connection, a GET\n"
"                           must return that connection's last write, INCR must count\n"
"length:\n"
"  -n, --requests N         stop after N requests\n"
"  -D, --duration S         stop after S seconds (10 unless -n is given)\n"
"      --warmup S           leave the first S seconds out of the figures (0)\n"
"      --timeout-ms N       a request or connect taking longer fails (10000)\n"
"output:\n"
"      --json FILE          write the result as JSON\n"
"      --trace FILE         write a line per finished request (answered, failed, dropped\n"
"                           or timed out), in no particular order:\n"
"                             DONE_NS START_NS SENT_NS CONN OP KEY SEQ RESULT [MESSAGE]\n"
"                           times in CLOCK_MONOTONIC ns (START is the intended send\n"
"                           time in open loop), CONN the connection's number, OP set,\n"
"                           get, incr or cmd, KEY what replaced __key__ (SET and GET use\n"
"                           key:KEY, INCR counter:KEY), SEQ the value's sequence (with\n"
"                           --check: the SET's, or the one a GET or INCR expects; else 0),\n"
"                           RESULT ok, error, check, wait, dropped or timeout, MESSAGE\n"
"                           the start of an error reply; lines with # are comments.\n"
"                           Costs about a microsecond per request\n"
"      --label NAME         name of the target in the output\n"
"      --ready-file FILE    create FILE once all connections are open and the run starts\n"
"      --progress, --no-progress   a line per second on stderr (default: runs >= 3 s)\n"
"  -q, --quiet              no summary on stdout\n"
"      --seed N             random seed (fixed by default, so runs repeat)\n"
"\n"
"Numbers take k, m, g suffixes (x1000). Exit status: 0 run done, 1 run failed (nothing\n"
"connected or nothing answered), 2 bad usage, 3 a check failed.\n", f);
}

PRINTF_FMT(3, 4)
static enum bench_config_status config_bad(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return BENCH_CONFIG_BAD;
}

static int config_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end = NULL;
	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	uint64_t mult = 1;
	if (*end == 'k' || *end == 'K')
		mult = 1000;
	else if (*end == 'm' || *end == 'M')
		mult = 1000000;
	else if (*end == 'g' || *end == 'G')
		mult = 1000000000;
	if (mult != 1)
		end++;
	if (*end != '\0' || v > UINT64_MAX / mult)
		return -EINVAL;
	v *= mult;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static int config_double(const char *text, double min, double max, double *out)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(text, &end);
	if (errno || end == text || *end != '\0' || !isfinite(v))
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static bool config_name(const char *text, const char *const names[], size_t n, int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(text, names[i]) == 0) {
			*out = (int)i;
			return true;
		}
	}
	return false;
}

static const char *const config_workloads[] = { "set", "get", "incr", "mixed", "custom" };
static const char *const config_dists[] = { "uniform", "zipf", "seq" };

const char *bench_workload_name(enum bench_workload w)
{
	return (unsigned)w < ARRAY_SIZE(config_workloads) ? config_workloads[w] : "?";
}

const char *bench_dist_name(enum bench_dist d)
{
	return (unsigned)d < ARRAY_SIZE(config_dists) ? config_dists[d] : "?";
}

bool bench_workload_writes(enum bench_workload w)
{
	return w != BENCH_WORKLOAD_GET;
}

void bench_config_default(struct bench_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->target.sin_family = AF_INET;
	cfg->target.sin_port = htons(CONFIG_PORT_DEFAULT);
	cfg->ports = 1;
	cfg->port[0] = CONFIG_PORT_DEFAULT;
	cfg->target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfg->host = "127.0.0.1";
	cfg->conns = CONFIG_CONNS_DEFAULT;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	cfg->threads = (uint32_t)MIN(MAX(cores, 1L), (long)BENCH_THREADS_MAX);
	cfg->pipeline = 1;
	cfg->workload = BENCH_WORKLOAD_SET;
	cfg->read_ratio = CONFIG_READ_RATIO_DEFAULT;
	cfg->value_bytes = CONFIG_VALUE_BYTES_DEFAULT;
	cfg->keyspace = CONFIG_KEYSPACE_DEFAULT;
	cfg->dist = BENCH_DIST_UNIFORM;
	cfg->zipf_theta = CONFIG_ZIPF_THETA_DEFAULT;
	cfg->wait_replicas = -1;
	cfg->timeout_ms = CONFIG_TIMEOUT_MS_DEFAULT;
	cfg->progress = -1;
	cfg->seed = 1;
}

static enum bench_config_status config_sources(struct bench_config *cfg, const char *text,
					       char *err, size_t err_len)
{
	char buf[4096];
	if (strlen(text) >= sizeof(buf))
		return config_bad(err, err_len, "--source-addrs: list too long");
	strcpy(buf, text);
	char *plus = strchr(buf, '+');
	if (plus) {
		*plus = '\0';
		uint64_t n = 0;
		struct in_addr a;
		if (inet_pton(AF_INET, buf, &a) != 1 || config_u64(plus + 1, 1, BENCH_SOURCES_MAX, &n))
			return config_bad(err, err_len, "--source-addrs: '%s' is not ADDR+N with "
					  "N from 1 to %u", text, BENCH_SOURCES_MAX);
		for (uint64_t i = 0; i < n; i++)
			cfg->source[i].s_addr = htonl(ntohl(a.s_addr) + (uint32_t)i);
		cfg->sources = (uint32_t)n;
		return BENCH_CONFIG_OK;
	}
	cfg->sources = 0;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (cfg->sources == BENCH_SOURCES_MAX)
			return config_bad(err, err_len, "--source-addrs: more than %u addresses",
					  BENCH_SOURCES_MAX);
		if (inet_pton(AF_INET, tok, &cfg->source[cfg->sources]) != 1)
			return config_bad(err, err_len, "--source-addrs: '%s' is not an IPv4 address",
					  tok);
		cfg->sources++;
	}
	if (cfg->sources == 0)
		return config_bad(err, err_len, "--source-addrs: empty list");
	return BENCH_CONFIG_OK;
}

static enum bench_config_status config_wait(struct bench_config *cfg, const char *text,
					    char *err, size_t err_len)
{
	char buf[64];
	uint64_t n = 0, ms = 0;
	snprintf(buf, sizeof(buf), "%s", text);
	char *colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	if (strlen(text) >= sizeof(buf) || config_u64(buf, 0, BENCH_WAIT_REPLICAS_MAX, &n) ||
	    (colon && config_u64(colon + 1, 0, BENCH_TIMEOUT_MS_MAX, &ms)))
		return config_bad(err, err_len, "--wait: '%s' is not N[:MS] with N from 0 to %u "
				  "and MS from 0 to %u", text, BENCH_WAIT_REPLICAS_MAX,
				  BENCH_TIMEOUT_MS_MAX);
	cfg->wait_replicas = (int32_t)n;
	cfg->wait_timeout_ms = (uint32_t)ms;
	return BENCH_CONFIG_OK;
}

static enum bench_config_status config_ports(struct bench_config *cfg, const char *text,
					     char *err, size_t err_len)
{
	char buf[BENCH_PORTS_MAX * 8];
	if (strlen(text) >= sizeof(buf))
		return config_bad(err, err_len, "--port: list too long");
	strcpy(buf, text);
	uint32_t n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t v = 0;
		if (n == BENCH_PORTS_MAX)
			return config_bad(err, err_len, "--port: more than %u ports", BENCH_PORTS_MAX);
		if (config_u64(tok, 1, 65535, &v))
			return config_bad(err, err_len, "--port: '%s' is not a port from 1 to 65535",
					  tok);
		cfg->port[n++] = (uint16_t)v;
	}
	if (n == 0 || text[strlen(text) - 1] == ',' || text[0] == ',' || strstr(text, ",,"))
		return config_bad(err, err_len, "--port: '%s' is not PORT[,PORT...]", text);
	cfg->ports = n;
	cfg->target.sin_port = htons(cfg->port[0]);
	return BENCH_CONFIG_OK;
}

static enum bench_config_status config_host(struct bench_config *cfg, const char *text,
					    char *err, size_t err_len)
{
	cfg->host = text;
	if (strcmp(text, "localhost") == 0)
		text = "127.0.0.1";
	if (inet_pton(AF_INET, text, &cfg->target.sin_addr) != 1)
		return config_bad(err, err_len, "--host: '%s' is not an IPv4 address", cfg->host);
	return BENCH_CONFIG_OK;
}

/* A numeric option: its long name, range and destination. */
struct config_num {
	int opt;
	const char *name;
	uint64_t min, max;
	size_t off;
	uint8_t width;  /* 4 or 8 bytes */
};

static const struct config_num config_nums[] = {
	{ 'c', "connections", 1, BENCH_CONNS_MAX, offsetof(struct bench_config, conns), 4 },
	{ 't', "threads", 1, BENCH_THREADS_MAX, offsetof(struct bench_config, threads), 4 },
	{ OPT_PROCS, "procs", 1, BENCH_PROCS_MAX, offsetof(struct bench_config, procs), 4 },
	{ 'P', "pipeline", 1, BENCH_PIPELINE_MAX, offsetof(struct bench_config, pipeline), 4 },
	{ OPT_HOLD, "hold", 0, BENCH_CONNS_MAX, offsetof(struct bench_config, hold), 4 },
	{ 'd', "value-bytes", 1, BENCH_VALUE_BYTES_MAX, offsetof(struct bench_config, value_bytes), 4 },
	{ 'k', "keyspace", 1, BENCH_KEYSPACE_MAX, offsetof(struct bench_config, keyspace), 8 },
	{ 'n', "requests", 1, UINT64_MAX / 2, offsetof(struct bench_config, requests), 8 },
	{ OPT_TIMEOUT, "timeout-ms", 1, BENCH_TIMEOUT_MS_MAX, offsetof(struct bench_config, timeout_ms), 4 },
	{ OPT_SEED, "seed", 0, UINT64_MAX, offsetof(struct bench_config, seed), 8 },
};

static enum bench_config_status config_num_apply(struct bench_config *cfg, int opt,
						 const char *arg, char *err, size_t err_len,
						 bool *handled)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_nums); i++) {
		const struct config_num *n = &config_nums[i];
		if (n->opt != opt)
			continue;
		*handled = true;
		uint64_t v = 0;
		if (config_u64(arg, n->min, n->max, &v))
			return config_bad(err, err_len, "--%s: '%s' is not a number from %llu to %llu",
					  n->name, arg, (unsigned long long)n->min,
					  (unsigned long long)n->max);
		if (n->width == 4)
			*(uint32_t *)(void *)((char *)cfg + n->off) = (uint32_t)v;
		else
			*(uint64_t *)(void *)((char *)cfg + n->off) = v;
		return BENCH_CONFIG_OK;
	}
	*handled = false;
	return BENCH_CONFIG_OK;
}

/* A real-valued option: its long name, range and destination. */
struct config_real {
	int opt;
	const char *name;
	double min, max;
	size_t off;
};

static const struct config_real config_reals[] = {
	{ 'R', "rate", 1e-3, 1e9, offsetof(struct bench_config, rate) },
	{ 'r', "read-ratio", 0.0, 1.0, offsetof(struct bench_config, read_ratio) },
	{ OPT_ZIPF_THETA, "zipf-theta", 1e-6, 1.0 - 1e-6, offsetof(struct bench_config, zipf_theta) },
	{ 'D', "duration", 1e-3, BENCH_DURATION_S_MAX, offsetof(struct bench_config, duration_s) },
	{ OPT_WARMUP, "warmup", 0.0, BENCH_DURATION_S_MAX, offsetof(struct bench_config, warmup_s) },
};

static enum bench_config_status config_real_apply(struct bench_config *cfg, int opt,
						  const char *arg, char *err, size_t err_len,
						  bool *handled)
{
	for (size_t i = 0; i < ARRAY_SIZE(config_reals); i++) {
		const struct config_real *r = &config_reals[i];
		if (r->opt != opt)
			continue;
		*handled = true;
		double v = 0;
		if (config_double(arg, r->min, r->max, &v))
			return config_bad(err, err_len, "--%s: '%s' is not a number from %g to %g",
					  r->name, arg, r->min, r->max);
		*(double *)(void *)((char *)cfg + r->off) = v;
		return BENCH_CONFIG_OK;
	}
	*handled = false;
	return BENCH_CONFIG_OK;
}

static enum bench_config_status config_other_apply(struct bench_config *cfg, int opt,
						   const char *arg, char *err, size_t err_len)
{
	int idx = 0;
	switch (opt) {
	case 'h': return config_host(cfg, arg, err, err_len);
	case 'p': return config_ports(cfg, arg, err, err_len);
	case OPT_SOURCES: return config_sources(cfg, arg, err, err_len);
	case OPT_WAIT: return config_wait(cfg, arg, err, err_len);
	case 'w':
		if (!config_name(arg, config_workloads, ARRAY_SIZE(config_workloads) - 1, &idx))
			return config_bad(err, err_len, "--workload: '%s' is not set, get, incr or "
					  "mixed (give any other command after --)", arg);
		cfg->workload = (enum bench_workload)idx;
		cfg->workload_given = true;
		return BENCH_CONFIG_OK;
	case OPT_DIST:
		if (!config_name(arg, config_dists, ARRAY_SIZE(config_dists), &idx))
			return config_bad(err, err_len, "--dist: '%s' is not uniform, zipf or seq", arg);
		cfg->dist = (enum bench_dist)idx;
		return BENCH_CONFIG_OK;
	case OPT_CHECK: cfg->check = true; return BENCH_CONFIG_OK;
	case OPT_JSON: cfg->json_path = arg; return BENCH_CONFIG_OK;
	case OPT_TRACE: cfg->trace_path = arg; return BENCH_CONFIG_OK;
	case OPT_READY: cfg->ready_path = arg; return BENCH_CONFIG_OK;
	case OPT_PROGRESS: cfg->progress = 1; return BENCH_CONFIG_OK;
	case OPT_NO_PROGRESS: cfg->progress = 0; return BENCH_CONFIG_OK;
	case 'q': cfg->quiet = true; return BENCH_CONFIG_OK;
	case OPT_LABEL:
		if (strlen(arg) >= BENCH_LABEL_BYTES_MAX || strpbrk(arg, "\"\\\n\r\t"))
			return config_bad(err, err_len, "--label: at most %u characters, without "
					  "quotes, backslashes or control characters",
					  BENCH_LABEL_BYTES_MAX - 1);
		snprintf(cfg->label, sizeof(cfg->label), "%s", arg);
		return BENCH_CONFIG_OK;
	}
	return config_bad(err, err_len, "unknown option (see --help)");
}

/* host:port, or host:port,port,... while that fits, else the first port and a count. */
static void config_label_default(struct bench_config *cfg)
{
	size_t n = (size_t)snprintf(cfg->label, sizeof(cfg->label), "%s:%u", cfg->host,
				    cfg->port[0]);
	for (uint32_t i = 1; i < cfg->ports && n < sizeof(cfg->label); i++)
		n += (size_t)snprintf(cfg->label + n, sizeof(cfg->label) - n, ",%u", cfg->port[i]);
	if (n >= sizeof(cfg->label))
		snprintf(cfg->label, sizeof(cfg->label), "%.32s:%u+%u ports", cfg->host,
			 cfg->port[0], cfg->ports - 1);
}

static enum bench_config_status config_validate(struct bench_config *cfg, char *err,
						size_t err_len)
{
	if ((uint64_t)cfg->conns + cfg->hold > BENCH_CONNS_MAX)
		return config_bad(err, err_len, "--connections plus --hold exceed %u",
				  BENCH_CONNS_MAX);
	if (cfg->requests == 0 && cfg->duration_s == 0)
		cfg->duration_s = CONFIG_DURATION_S_DEFAULT;
	if (cfg->duration_s > 0 && cfg->warmup_s >= cfg->duration_s)
		return config_bad(err, err_len, "--warmup must be shorter than --duration");
	if (cfg->procs > cfg->threads)
		cfg->threads = cfg->procs;
	if (cfg->threads > cfg->conns + cfg->hold)
		cfg->threads = cfg->conns + cfg->hold;
	if (cfg->procs > cfg->threads)
		return config_bad(err, err_len, "--procs %u needs at least as many connections",
				  cfg->procs);
	bool sets = cfg->workload == BENCH_WORKLOAD_SET || cfg->workload == BENCH_WORKLOAD_MIXED;
	if (cfg->check && sets && cfg->value_bytes < BENCH_VALUE_HEADER_BYTES)
		return config_bad(err, err_len, "--check needs --value-bytes of at least %u, to "
				  "tell every write apart", BENCH_VALUE_HEADER_BYTES);
	if (cfg->check && cfg->workload == BENCH_WORKLOAD_GET)
		return config_bad(err, err_len, "--check with --workload get reads keys nobody "
				  "wrote; use mixed");
	if (cfg->label[0] == '\0')
		config_label_default(cfg);
	return BENCH_CONFIG_OK;
}

static enum bench_config_status config_apply(struct bench_config *cfg, int opt,
					     const char *arg, char *err, size_t err_len)
{
	bool handled = false;
	enum bench_config_status st = config_num_apply(cfg, opt, arg, err, err_len, &handled);
	if (!handled)
		st = config_real_apply(cfg, opt, arg, err, err_len, &handled);
	if (!handled)
		st = config_other_apply(cfg, opt, arg, err, err_len);
	return st;
}

enum bench_config_status bench_config_parse(struct bench_config *cfg, int argc, char **argv,
					    char *err, size_t err_len)
{
	bench_config_default(cfg);
	optind = 0;  /* GNU getopt: start over, so that tests can parse several times */
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "+h:p:c:t:P:R:w:r:d:k:n:D:q", config_options,
				  NULL)) != -1) {
		if (opt == OPT_HELP)
			return BENCH_CONFIG_HELP;
		if (opt == '?' || opt == ':')
			return config_bad(err, err_len, "bad option '%s' (see --help)",
					  argv[optind - 1]);
		enum bench_config_status st = config_apply(cfg, opt, optarg, err, err_len);
		if (st != BENCH_CONFIG_OK)
			return st;
	}
	if (optind < argc) {
		if (cfg->workload_given)
			return config_bad(err, err_len, "give either --workload or a command, not both");
		cfg->workload = BENCH_WORKLOAD_CUSTOM;
		cfg->cmd_argc = argc - optind;
		cfg->cmd_argv = (const char *const *)(argv + optind);
		struct bench_cmd cmd;
		char why[128];
		if (bench_cmd_parse(&cmd, cfg->cmd_argc, cfg->cmd_argv, why, sizeof(why)))
			return config_bad(err, err_len, "command: %s", why);
	}
	return config_validate(cfg, err, err_len);
}
