/* Reading the host's facts from /proc and /sys under the preflight's root: small files,
 * numbers, link targets, CPU lists and the NUMA node of a CPU. */
#include "preflight/preflight.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/panic.h"

const char *preflight_path(const struct preflight *pf, const char *path, char *buf, size_t cap)
{
	ASSERT(path[0] == '/');
	int n = snprintf(buf, cap, "%s%s", pf->root, path);
	ASSERT(n > 0 && (size_t)n < cap); /* --root is bounded, and so are the paths asked for */
	return buf;
}

int preflight_read(const struct preflight *pf, const char *path, char *buf, size_t cap)
{
	char full[PREFLIGHT_PATH_BYTES];
	ASSERT(cap > 0);
	int fd = open(preflight_path(pf, path, full, sizeof(full)), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, cap - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return -e;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return (int)n;
}

int preflight_read_long(const struct preflight *pf, const char *path, long *out)
{
	char buf[64];
	int rc = preflight_read(pf, path, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	char *end;
	errno = 0;
	long v = strtol(buf, &end, 0);
	if (end == buf || errno != 0)
		return -EINVAL;
	*out = v;
	return 0;
}

bool preflight_exists(const struct preflight *pf, const char *path)
{
	char full[PREFLIGHT_PATH_BYTES];
	return access(preflight_path(pf, path, full, sizeof(full)), F_OK) == 0;
}

int preflight_link_name(const struct preflight *pf, const char *path, char *buf, size_t cap)
{
	char full[PREFLIGHT_PATH_BYTES], target[PREFLIGHT_PATH_BYTES];
	ssize_t n = readlink(preflight_path(pf, path, full, sizeof(full)), target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	const char *slash = strrchr(target, '/');
	snprintf(buf, cap, "%s", slash ? slash + 1 : target);
	return 0;
}

int preflight_cpulist_parse(const char *text, bool *set, size_t bits)
{
	memset(set, 0, bits * sizeof(*set));
	const char *p = text;
	while (*p != '\0' && !isspace((unsigned char)*p)) {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;
		if (end == p)
			return -EINVAL;
		if (*end == '-') {
			p = end + 1;
			hi = strtoul(p, &end, 10);
			if (end == p || hi < lo)
				return -EINVAL;
		}
		for (unsigned long c = lo; c <= hi && c < bits; c++)
			set[c] = true;
		p = end;
		if (*p == ',')
			p++;
		else if (*p != '\0' && !isspace((unsigned char)*p))
			return -EINVAL;
	}
	return 0;
}

int preflight_cpulist_read(const struct preflight *pf, const char *path, bool *set, size_t bits)
{
	char buf[4096];
	int rc = preflight_read(pf, path, buf, sizeof(buf));
	if (rc == -ENOENT) {
		memset(set, 0, bits * sizeof(*set));
		return 0;
	}
	return rc < 0 ? rc : preflight_cpulist_parse(buf, set, bits);
}

void preflight_cpulist_text(const bool *set, size_t bits, char *out, size_t cap)
{
	size_t off = 0;
	out[0] = '\0';
	for (size_t c = 0; c < bits && off < cap; c++)
		if (set[c])
			off += (size_t)snprintf(out + off, cap - off, "%s%zu", off ? "," : "", c);
}

int preflight_cpu_node(const struct preflight *pf, unsigned cpu)
{
	char path[128];
	bool cpus[PREFLIGHT_CPUS_MAX];
	for (int node = 0; node < PREFLIGHT_NODES_MAX; node++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", node);
		if (!preflight_exists(pf, path))
			continue;
		if (preflight_cpulist_read(pf, path, cpus, PREFLIGHT_CPUS_MAX) == 0 &&
		    cpu < PREFLIGHT_CPUS_MAX && cpus[cpu])
			return node;
	}
	return -1;
}

void preflight_bytes_text(uint64_t bytes, char *out, size_t cap)
{
	static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;
	double v = (double)bytes;
	while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1024;
		u++;
	}
	if (u == 0 || v == (double)(uint64_t)v)
		snprintf(out, cap, "%llu %s", (unsigned long long)v, units[u]);
	else
		snprintf(out, cap, "%.1f %s", v, units[u]);
}
