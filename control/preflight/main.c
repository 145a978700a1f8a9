/* spindle-preflight: reads one node's configuration, runs every check against this host and
 * prints a line per check (or JSON). Exit code 0 when nothing failed, 1 when a check failed
 * (or warned, with --strict), 2 for a bad command line. */
#include "preflight/preflight.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PREFLIGHT_CONFIG_DEFAULT "/etc/spindle/spindled.conf"

struct preflight_args {
	const char *config;
	const char *root;
	bool json;
	bool strict;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: spindle-preflight [--config FILE] [--json] [--strict] [--root DIR]\n"
		"\n"
		"Checks this host against a spindled configuration file (default %s):\n"
		"hugepages, the NIC and its driver, the IOMMU, isolated cores, NUMA placement,\n"
		"limits, the data directory and its filesystem, the clock, io_uring, addresses.\n"
		"Prints PASS, WARN, FAIL or SKIP per check, with the fix for each WARN and FAIL.\n"
		"\n"
		"  --json      one JSON object instead of text\n"
		"  --strict    exit 1 on warnings too\n"
		"  --root DIR  read /proc and /sys under DIR (to check a description of a host)\n"
		"Exit code: 0 nothing failed, 1 a check failed, 2 bad usage.\n",
		PREFLIGHT_CONFIG_DEFAULT);
}

static int args_parse(int argc, char **argv, struct preflight_args *a)
{
	*a = (struct preflight_args){ .config = PREFLIGHT_CONFIG_DEFAULT, .root = "" };
	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "--config") == 0 && i + 1 < argc) {
			a->config = argv[++i];
		} else if (strcmp(s, "--root") == 0 && i + 1 < argc) {
			a->root = argv[++i];
		} else if (strcmp(s, "--json") == 0) {
			a->json = true;
		} else if (strcmp(s, "--strict") == 0) {
			a->strict = true;
		} else if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
			usage(stdout);
			return 1;
		} else if (strcmp(s, "--version") == 0) {
			printf("spindle-preflight %s\n", SPINDLE_VERSION);
			return 1;
		} else {
			fprintf(stderr, "spindle-preflight: unexpected argument '%s'\n", s);
			usage(stderr);
			return -EINVAL;
		}
	}
	if (strlen(a->root) >= PREFLIGHT_PATH_BYTES - 128) {
		fprintf(stderr, "spindle-preflight: --root path too long\n");
		return -EINVAL;
	}
	return 0;
}

/* The configuration as spindled reads it. Returns whether the other checks can run. */
static bool preflight_check_config(struct preflight *pf)
{
	char err[CONF_ERR_BYTES_MAX];
	struct conf *c = &pf->conf;
	conf_defaults(c);
	char fix[PREFLIGHT_TEXT_BYTES];
	snprintf(fix, sizeof(fix), "correct it; spindled --check-config --config %s prints the "
		 "effective configuration", pf->config_path);
	if (conf_load_file(c, pf->config_path, err, sizeof(err)) != 0 ||
	    conf_validate(c, err, sizeof(err)) != 0) {
		preflight_add(pf, "config", PREFLIGHT_FAIL, fix, "%s", err);
		return false;
	}
	static const char *const transports[] = { "none", "dpdk", "udp" };
	struct stat st;
	if (c->requirepass[0] != '\0' && stat(pf->config_path, &st) == 0 && (st.st_mode & S_IROTH)) {
		snprintf(fix, sizeof(fix), "chmod 640 %s", pf->config_path);
		preflight_add(pf, "config", PREFLIGHT_WARN, fix, "every user can read %s, and it "
			      "holds requirepass", pf->config_path);
		return true;
	}
	preflight_add(pf, "config", PREFLIGHT_PASS, NULL, "node %u of cluster %u: %u loops, %u "
		      "lanes, durability %s, transport %s, %u peers", c->node_id, c->cluster_id,
		      c->loops, c->lanes, c->durability == CONF_DURABILITY_DISK ? "disk" : "memory",
		      transports[c->transport], c->peers_count);
	return true;
}

static void preflight_run(struct preflight *pf)
{
	if (!preflight_check_config(pf))
		return;
	preflight_check_nic(pf);
	preflight_check_iommu(pf);
	preflight_check_cores(pf);
	preflight_check_numa(pf);
	preflight_check_hugepages(pf);
	preflight_check_hugetlbfs(pf);
	preflight_check_memlock(pf);
	preflight_check_nofile(pf);
	preflight_check_data_dir(pf);
	preflight_check_filesystem(pf);
	preflight_check_disk_space(pf);
	preflight_check_clock(pf);
	preflight_check_io_uring(pf);
	preflight_check_client_address(pf);
	preflight_check_repl_address(pf);
}

int main(int argc, char **argv)
{
	static struct preflight pf;
	struct preflight_args a;
	int rc = args_parse(argc, argv, &a);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	pf.config_path = a.config;
	snprintf(pf.root, sizeof(pf.root), "%s", strcmp(a.root, "/") == 0 ? "" : a.root);
	preflight_run(&pf);
	if (a.json)
		preflight_report_json(&pf, stdout);
	else
		preflight_report_text(&pf, stdout);
	bool failed = preflight_count(&pf, PREFLIGHT_FAIL) > 0 ||
		      (a.strict && preflight_count(&pf, PREFLIGHT_WARN) > 0);
	return failed ? 1 : 0;
}
