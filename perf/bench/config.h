/* spindle-bench's command line: every option, its default and its limits, parsed into one
 * struct bench_config that the rest of the program reads and never changes. Bad input gets
 * a message naming the option and the accepted range. */
#ifndef SPINDLE_BENCH_CONFIG_H
#define SPINDLE_BENCH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>

#define BENCH_CONNS_MAX (1u << 20)          /* active plus held, over all processes */
#define BENCH_THREADS_MAX 256
#define BENCH_PROCS_MAX 64
#define BENCH_PIPELINE_MAX 4096
#define BENCH_VALUE_BYTES_MAX (16u << 20)
#define BENCH_KEYSPACE_MAX (1ull << 40)
#define BENCH_SOURCES_MAX 256
#define BENCH_TIMEOUT_MS_MAX (3600u * 1000)
#define BENCH_WAIT_REPLICAS_MAX 100
#define BENCH_LABEL_BYTES_MAX 64
#define BENCH_DURATION_S_MAX (7 * 24 * 3600.0)
#define BENCH_PORTS_MAX 16                  /* servers of one cluster loaded at once */

enum bench_workload {
	BENCH_WORKLOAD_SET,
	BENCH_WORKLOAD_GET,
	BENCH_WORKLOAD_INCR,
	BENCH_WORKLOAD_MIXED,   /* GET with probability read_ratio, else SET */
	BENCH_WORKLOAD_CUSTOM,  /* the command after "--" */
};

enum bench_dist {
	BENCH_DIST_UNIFORM,
	BENCH_DIST_ZIPF,
	BENCH_DIST_SEQ,  /* each thread (or, checking, each connection) walks its keys in order */
};

struct bench_config {
	struct sockaddr_in target;                 /* the host and the first port */
	const char *host;
	uint32_t ports;                            /* connection g goes to port[g % ports] */
	uint16_t port[BENCH_PORTS_MAX];
	uint32_t sources;                          /* 0: let the kernel choose */
	struct in_addr source[BENCH_SOURCES_MAX];

	uint32_t conns;        /* active connections */
	uint32_t hold;         /* idle connections held open during the run */
	uint32_t threads;      /* over all processes */
	uint32_t procs;        /* 0: as many as the open-file limit needs */
	uint32_t pipeline;     /* requests in flight per connection */
	double rate;           /* requests per second in all; 0 = closed loop */

	enum bench_workload workload;
	bool workload_given;
	double read_ratio;
	uint32_t value_bytes;
	uint64_t keyspace;
	enum bench_dist dist;
	double zipf_theta;
	int32_t wait_replicas;  /* -1: no WAIT after writes */
	uint32_t wait_timeout_ms;
	bool check;
	int cmd_argc;
	const char *const *cmd_argv;

	uint64_t requests;      /* 0: bounded by duration only */
	double duration_s;      /* 0: bounded by requests only */
	double warmup_s;
	uint32_t timeout_ms;

	const char *json_path;
	const char *trace_path;  /* one line per finished request (bench/trace.h) */
	const char *ready_path;
	char label[BENCH_LABEL_BYTES_MAX];
	int progress;           /* -1: when the run lasts 3 s or more */
	bool quiet;
	uint64_t seed;
};

enum bench_config_status {
	BENCH_CONFIG_OK = 0,
	BENCH_CONFIG_HELP = 1,   /* --help: print the usage and exit 0 */
	BENCH_CONFIG_BAD = -1,   /* err says why */
};

void bench_config_default(struct bench_config *cfg);
/* Parses argv into cfg (which starts from the defaults). Keeps pointers into argv. */
enum bench_config_status bench_config_parse(struct bench_config *cfg, int argc, char **argv,
					    char *err, size_t err_len);
void bench_config_usage(FILE *f);
const char *bench_workload_name(enum bench_workload w);
const char *bench_dist_name(enum bench_dist d);
/* Whether a run of this workload writes (and so is followed by WAIT when asked). */
bool bench_workload_writes(enum bench_workload w);

#endif
