/* The outputs of a run: the summary on stdout, the JSON result file, and the description of
 * the machine that both carry (cores, CPU model, kernel), so that figures are never read
 * without knowing where they were measured. */
#ifndef SPINDLE_BENCH_REPORT_H
#define SPINDLE_BENCH_REPORT_H

#include <stdio.h>

#include "bench/plan.h"

struct bench_machine {
	long cores;
	char model[128];
	char kernel[160];
};

void bench_machine_read(struct bench_machine *m);
void bench_report_print(FILE *f, const struct bench_plan *plan, const struct bench_result *r,
			const struct bench_machine *m);
/* Returns 0 or a negative errno. */
int bench_report_json(FILE *f, const struct bench_plan *plan, const struct bench_result *r,
		      const struct bench_machine *m);
/* Writes s as a JSON string literal. */
void bench_json_string(FILE *f, const char *s);

#endif
