/* The results of the checks and the two ways of showing them: text, one line per check with
 * its fix indented below, for people; JSON for machines. */
#include "preflight/preflight.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/panic.h"

static const char *const preflight_status_names[] = {
	[PREFLIGHT_PASS] = "PASS", [PREFLIGHT_WARN] = "WARN", [PREFLIGHT_FAIL] = "FAIL",
	[PREFLIGHT_SKIP] = "SKIP",
};

const char *preflight_status_name(enum preflight_status s)
{
	ASSERT((unsigned)s < ARRAY_SIZE(preflight_status_names));
	return preflight_status_names[s];
}

void preflight_add(struct preflight *pf, const char *name, enum preflight_status status,
		   const char *fix, const char *fmt, ...)
{
	ASSERT(pf->results_count < PREFLIGHT_RESULTS_MAX);
	ASSERT(strlen(name) < PREFLIGHT_NAME_BYTES);
	struct preflight_result *r = &pf->results[pf->results_count++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->status = status;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	if (fix != NULL && status != PREFLIGHT_PASS && status != PREFLIGHT_SKIP)
		snprintf(r->fix, sizeof(r->fix), "%s", fix);
}

uint32_t preflight_count(const struct preflight *pf, enum preflight_status s)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < pf->results_count; i++)
		n += pf->results[i].status == s;
	return n;
}

void preflight_report_text(const struct preflight *pf, void *stream)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	fprintf(stream, "spindle-preflight %s: host %s, configuration %s\n", SPINDLE_VERSION, host,
		pf->config_path);
	for (uint32_t i = 0; i < pf->results_count; i++) {
		const struct preflight_result *r = &pf->results[i];
		fprintf(stream, "%s  %-15s %s\n", preflight_status_name(r->status), r->name, r->detail);
		if (r->fix[0] != '\0')
			fprintf(stream, "      %-15s fix: %s\n", "", r->fix);
	}
	fprintf(stream, "%u checks: %u passed, %u warnings, %u failed, %u skipped\n",
		pf->results_count, preflight_count(pf, PREFLIGHT_PASS),
		preflight_count(pf, PREFLIGHT_WARN), preflight_count(pf, PREFLIGHT_FAIL),
		preflight_count(pf, PREFLIGHT_SKIP));
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void preflight_report_json(const struct preflight *pf, void *stream)
{
	FILE *f = stream;
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	fputs("{\"version\":", f);
	json_string(f, SPINDLE_VERSION);
	fputs(",\"host\":", f);
	json_string(f, host);
	fputs(",\"config\":", f);
	json_string(f, pf->config_path);
	fputs(",\"checks\":[", f);
	for (uint32_t i = 0; i < pf->results_count; i++) {
		const struct preflight_result *r = &pf->results[i];
		fprintf(f, "%s{\"name\":", i ? "," : "");
		json_string(f, r->name);
		fprintf(f, ",\"status\":\"%s\",\"detail\":", preflight_status_name(r->status));
		json_string(f, r->detail);
		fputs(",\"fix\":", f);
		json_string(f, r->fix);
		fputc('}', f);
	}
	fprintf(f, "],\"summary\":{\"pass\":%u,\"warn\":%u,\"fail\":%u,\"skip\":%u},\"ok\":%s}\n",
		preflight_count(pf, PREFLIGHT_PASS), preflight_count(pf, PREFLIGHT_WARN),
		preflight_count(pf, PREFLIGHT_FAIL), preflight_count(pf, PREFLIGHT_SKIP),
		preflight_count(pf, PREFLIGHT_FAIL) == 0 ? "true" : "false");
}
