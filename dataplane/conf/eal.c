/* DPDK's EAL command line from spindled's configuration: the keys cores, main-core, nic,
 * hugepage-bytes and numa-node become --lcores, -a/--vdev and -m/--socket-mem; what they
 * leave open gets a default that suits a shared host; eal-args comes last, and an option
 * it names replaces spindled's own (giving the same thing through a key and eal-args is
 * refused by conf_eal_conflicts, so that neither is silently ignored). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"
#include "conf/conf.h"

#define EAL_MIB (1024ull * 1024)
#define EAL_NO_HUGE_MIB 256 /* memory without hugepages: DPDK's heap for the mbuf pool */

/* Options of one kind, as eal-args may spell them. */
static const char *const eal_opt_lcores[] = { "-l", "-c", "--lcores", "--coremask", NULL };
static const char *const eal_opt_main[] = { "--main-lcore", NULL };
static const char *const eal_opt_device[] = { "-a", "-b", "-w", "--allow", "--block",
					      "--vdev", "--no-pci", NULL };
static const char *const eal_opt_memory[] = { "-m", "--socket-mem", "--no-huge", NULL };
static const char *const eal_opt_socket_mem[] = { "--socket-mem", NULL };
static const char *const eal_opt_in_memory[] = { "--in-memory", NULL };
static const char *const eal_opt_prefix[] = { "--file-prefix", NULL };
static const char *const eal_opt_telemetry[] = { "--telemetry", "--no-telemetry", NULL };
static const char *const eal_opt_log[] = { "--log-level", NULL };

/* Does token spell opt: "--opt", "--opt=value", "-o", or "-ovalue"? */
static bool eal_token_is(const char *token, const char *opt)
{
	size_t n = strlen(opt);
	if (strncmp(token, opt, n) != 0)
		return false;
	if (opt[1] == '-')
		return token[n] == '\0' || token[n] == '=';
	return true; /* a short option, its value attached or in the next token */
}

/* Does eal-args name any of opts? */
static bool eal_args_name(const char *eal_args, const char *const *opts)
{
	const char *p = eal_args;
	char token[CONF_EAL_BYTES_MAX];
	while (*p != '\0') {
		p += strspn(p, " \t");
		size_t n = strcspn(p, " \t");
		if (n == 0)
			break;
		snprintf(token, sizeof(token), "%.*s", (int)n, p);
		p += n;
		if (token[0] != '-')
			continue; /* a value */
		for (unsigned i = 0; opts[i] != NULL; i++)
			if (eal_token_is(token, opts[i]))
				return true;
	}
	return false;
}

static int eal_conflict(char *err, size_t err_len, const char *key, const char *what)
{
	snprintf(err, err_len, "%s is set and eal-args also gives %s: give it in one place "
		 "(the key, or eal-args alone)", key, what);
	return -EINVAL;
}

int conf_eal_conflicts(const struct conf *c, char *err, size_t err_len)
{
	const char *e = c->eal_args;
	if (c->cores_count != 0 && eal_args_name(e, eal_opt_lcores))
		return eal_conflict(err, err_len, "cores", "the lcores (-l, -c or --lcores)");
	if (c->main_core != CONF_AUTO &&
	    (eal_args_name(e, eal_opt_lcores) || eal_args_name(e, eal_opt_main)))
		return eal_conflict(err, err_len, "main-core", "the lcores or --main-lcore");
	if (c->nic[0] != '\0' && eal_args_name(e, eal_opt_device))
		return eal_conflict(err, err_len, "nic", "devices (-a, -b, --vdev or --no-pci)");
	if (c->hugepage_bytes != 0 && eal_args_name(e, eal_opt_memory))
		return eal_conflict(err, err_len, "hugepage-bytes", "memory (-m, --socket-mem or --no-huge)");
	if (c->numa_node != CONF_AUTO && eal_args_name(e, eal_opt_socket_mem))
		return eal_conflict(err, err_len, "numa-node", "--socket-mem");
	return 0;
}

struct eal_out {
	char *buf;
	size_t len, used;
	bool full;
};

static void PRINTF_FMT(2, 3) eal_add(struct eal_out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->used)
		o->full = true;
	else
		o->used += (size_t)n;
}

/* The CPUs the process may use: its affinity mask, or the first cpus when none is known. */
static void eal_cpus_allowed(const struct conf_eal_host *host, uint64_t *mask)
{
	bool any = false;
	for (unsigned w = 0; w < CONF_CPU_WORDS; w++) {
		mask[w] = host->allowed[w];
		any |= mask[w] != 0;
	}
	if (any)
		return;
	for (long cpu = 0; cpu < MAX(host->cpus, 1) && cpu <= CONF_CPU_ID_MAX; cpu++)
		mask[cpu / 64] |= 1ull << (cpu % 64);
}

static bool eal_mask_has(const uint64_t *mask, long cpu)
{
	return cpu <= CONF_CPU_ID_MAX && (mask[cpu / 64] >> (cpu % 64) & 1);
}

/* "(0-3,6)": the allowed CPUs, less the loops' cores when skip_cores; all of the allowed
 * ones when that leaves none. */
static void eal_add_cpus(struct eal_out *o, const struct conf *c,
			 const struct conf_eal_host *host, bool skip_cores)
{
	uint64_t mask[CONF_CPU_WORDS];
	eal_cpus_allowed(host, mask);
	if (skip_cores) {
		uint64_t left = 0;
		for (uint32_t i = 0; i < c->cores_count; i++)
			if (c->cores[i] <= CONF_CPU_ID_MAX)
				mask[c->cores[i] / 64] &= ~(1ull << (c->cores[i] % 64));
		for (unsigned w = 0; w < CONF_CPU_WORDS; w++)
			left |= mask[w];
		if (left == 0)
			eal_cpus_allowed(host, mask);
	}
	eal_add(o, "(");
	const char *sep = "";
	for (long cpu = 0; cpu <= CONF_CPU_ID_MAX; cpu++) {
		if (!eal_mask_has(mask, cpu))
			continue;
		long end = cpu;
		while (eal_mask_has(mask, end + 1))
			end++;
		if (end == cpu)
			eal_add(o, "%s%ld", sep, cpu);
		else
			eal_add(o, "%s%ld-%ld", sep, cpu, end);
		sep = ",";
		cpu = end;
	}
	eal_add(o, ")");
}

/* lcore 0 is the main thread; lcores 1..loops are the loops, pinned to cores in order or
 * floating over every CPU the process may use. The main thread: main-core, else every such
 * CPU the loops do not have, else all of them. */
static void eal_add_lcores(struct eal_out *o, const struct conf *c,
			   const struct conf_eal_host *host)
{
	eal_add(o, " --lcores=");
	if (c->cores_count == 0 && c->main_core == CONF_AUTO) {
		eal_add(o, "(0-%u)@", c->loops);
		eal_add_cpus(o, c, host, false);
		return;
	}
	eal_add(o, "0@");
	if (c->main_core != CONF_AUTO)
		eal_add(o, "%d", c->main_core);
	else
		eal_add_cpus(o, c, host, true);
	if (c->cores_count == 0) {
		eal_add(o, ",(1-%u)@", c->loops);
		eal_add_cpus(o, c, host, false);
		return;
	}
	for (uint32_t i = 0; i < c->cores_count; i++)
		eal_add(o, ",%u@%u", i + 1, c->cores[i]);
}

static void eal_add_memory(struct eal_out *o, const struct conf *c, bool hugepages_free)
{
	bool in_memory = eal_args_name(c->eal_args, eal_opt_in_memory);
	if (c->hugepage_bytes != 0) {
		uint64_t mib = (c->hugepage_bytes + EAL_MIB - 1) / EAL_MIB;
		if (c->numa_node != CONF_AUTO) {
			eal_add(o, " --socket-mem=");
			for (int32_t n = 0; n < c->numa_node; n++)
				eal_add(o, "0,");
			eal_add(o, "%llu", (unsigned long long)mib);
		} else {
			eal_add(o, " -m %llu", (unsigned long long)mib);
		}
		if (!in_memory)
			eal_add(o, " --in-memory");
	} else if (hugepages_free) {
		if (!in_memory)
			eal_add(o, " --in-memory");
	} else {
		eal_add(o, " --no-huge -m %u", EAL_NO_HUGE_MIB);
	}
}

int conf_eal_args_build(const struct conf *c, const struct conf_eal_host *host, char *out,
			size_t out_len)
{
	struct eal_out o = { .buf = out, .len = out_len };
	const char *e = c->eal_args;
	if (out_len == 0)
		return -ENOSPC;
	out[0] = '\0';
	int rc = conf_eal_conflicts(c, out, out_len);
	if (rc != 0)
		return rc;
	if (!eal_args_name(e, eal_opt_lcores))
		eal_add_lcores(&o, c, host);
	if (c->nic[0] != '\0')
		eal_add(&o, conf_nic_is_pci(c->nic) ? " -a %s" : " --vdev=%s", c->nic);
	else if (!eal_args_name(e, eal_opt_device))
		eal_add(&o, " --no-pci");
	if (!eal_args_name(e, eal_opt_memory))
		eal_add_memory(&o, c, host->hugepages_free);
	if (!eal_args_name(e, eal_opt_prefix))
		eal_add(&o, " --file-prefix=spindled-%u-%u", c->node_id, c->port);
	if (!eal_args_name(e, eal_opt_telemetry))
		eal_add(&o, " --no-telemetry");
	if (!eal_args_name(e, eal_opt_log))
		eal_add(&o, " --log-level=lib.eal:warning");
	if (e[0] != '\0')
		eal_add(&o, " %s", e);
	if (o.full) {
		snprintf(out, out_len, "the EAL arguments exceed %zu bytes", out_len - 1);
		return -ENOSPC;
	}
	if (out[0] == ' ')
		memmove(out, out + 1, o.used); /* includes the terminator */
	return 0;
}
