/* One simulation run: the parameters a seed decides, and the phases of a run (faults, then
 * healing and the progress probes, then quiet, then the final checks). */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lincheck.h"

void sim_params_from_seed(uint64_t seed, struct sim_params *p)
{
	struct sim_rng g;
	sim_rng_seed(&g, seed ^ 0x5eed5eed5eed5eedull);
	memset(p, 0, sizeof(*p));
	unsigned shape = (unsigned)sim_rng_below(&g, 10);
	p->nodes = shape < 5 ? 3 : shape < 8 ? 5 : 4;
	p->replace = p->nodes == 4; /* three nodes, and a spare that replaces one of them */
	p->lanes = (unsigned)sim_rng_range(&g, 1, 3);
	p->clients = (unsigned)sim_rng_range(&g, 2, 6);
	p->drop_ppm = sim_rng_below(&g, 3) ? (uint32_t)sim_rng_below(&g, 30000) : 0;
	p->dup_ppm = sim_rng_below(&g, 2) ? (uint32_t)sim_rng_below(&g, 20000) : 0;
	p->delay_us_min = (uint32_t)sim_rng_range(&g, 20, 200);
	p->delay_us_max = p->delay_us_min + (uint32_t)sim_rng_below(&g, 3000);
	p->drift_ppm_max = sim_rng_below(&g, 4) ? (int32_t)sim_rng_below(&g, 2000)
						: (int32_t)sim_rng_below(&g, 50000);
	p->faults_end_us = sim_rng_range(&g, 1500000, 3000000);
	p->progress_bound_us = 3000000;
	p->end_us = p->faults_end_us + p->progress_bound_us + 1500000;
	p->snapshot_every = sim_rng_below(&g, 3) ? (unsigned)sim_rng_range(&g, 8, 60) : 0;
	p->ctl_snapshot_every = (unsigned)sim_rng_range(&g, 3, 12);
	p->corruption = sim_rng_below(&g, 2);
	/* Leases from short to longer than failure detection, so that a failover that does not
	 * wait the lease out would show. */
	p->lease_ms = (uint32_t)sim_rng_range(&g, 100, 400);
	p->node_timeout_ms = (uint32_t)sim_rng_range(&g, 50, 150);
	p->heard_us = sim_rng_range(&g, 45000, 100000);
	p->read_permille = sim_rng_below(&g, 2) ? 500 : 800;
	const char *cp = getenv("SPINDLE_SIM_CONTROL");
	p->use_oracle = cp && strcmp(cp, "oracle") == 0;
	if (p->use_oracle && p->replace) {
		p->nodes = 3; /* the oracle does not do membership */
		p->replace = false;
	}
}

static struct sim_cluster *current;

const struct sim_cluster *sim_run_current(void);
const struct sim_cluster *sim_run_current(void)
{
	return current;
}

static void run_until(struct sim_cluster *c, uint64_t t_us)
{
	while (!c->failed && sim_sched_step(&c->sched, t_us))
		;
}

static bool all_progressed(const struct sim_cluster *c)
{
	for (unsigned k = 0; k < c->p.lanes; k++)
		if (!c->progress_ok[k])
			return false;
	return true;
}

static void print_summary(const struct sim_cluster *c)
{
	uint64_t ok = 0, open = 0, voids = 0;
	for (uint64_t i = 0; i < c->n_ops; i++) {
		ok += c->ops[i].state == SIM_OP_OK;
		open += c->ops[i].state == SIM_OP_OPEN;
		voids += c->ops[i].state == SIM_OP_VOID;
	}
	printf("seed %llu: nodes %u lanes %u clients %u%s%s: ops %llu ok %llu open %llu refused %llu;"
	       " failovers %llu crashes %llu partitions %llu hangs %llu corruptions %llu sync "
	       "failures %llu snapshots %llu installs %llu (control %llu); events %llu\n",
	       (unsigned long long)c->seed, c->p.nodes, c->p.lanes, c->p.clients,
	       c->p.use_oracle ? " (oracle)" : "", c->p.replace ? " (replace)" : "",
	       (unsigned long long)c->n_ops,
	       (unsigned long long)ok, (unsigned long long)open, (unsigned long long)voids,
	       (unsigned long long)c->stats.failovers, (unsigned long long)c->stats.crashes,
	       (unsigned long long)c->stats.partitions, (unsigned long long)c->stats.hangs,
	       (unsigned long long)c->stats.corruptions,
	       (unsigned long long)c->stats.sync_failures, (unsigned long long)c->stats.snapshots,
	       (unsigned long long)c->stats.installs, (unsigned long long)c->stats.ctl_installs,
	       (unsigned long long)c->sched.events_run);
}

static void print_state(const struct sim_cluster *c)
{
	for (unsigned k = 0; k < c->p.lanes; k++) {
		for (unsigned i = 0; i < c->p.nodes; i++) {
			const struct sim_lane *l = &c->node[i].lane[k];
			if (!c->node[i].up || !l->r) {
				printf("  lane %u node %u: down\n", k, i);
				continue;
			}
			struct repl_state s;
			repl_state_get(l->r, &s);
			printf("  lane %u node %u: role %d epoch %llu primary %d commit %llu applied %llu "
			       "durable %llu last %llu log_start %llu snap %llu%s%s pending %u\n", k, i,
			       s.role, (unsigned long long)s.epoch,
			       s.primary == REPL_NODE_NONE ? -1 : (int)s.primary,
			       (unsigned long long)s.commit_index, (unsigned long long)s.applied_index,
			       (unsigned long long)s.durable_index, (unsigned long long)s.last_index,
			       (unsigned long long)s.log_start, (unsigned long long)s.snapshot_index,
			       s.damaged ? " damaged" : "", s.failed ? " failed" : "",
			       sim_store_pending(&l->store));
			for (unsigned p = 0; p < c->p.nodes && s.role == REPL_ROLE_PRIMARY; p++) {
				struct repl_peer_info pi;
				if (repl_peer_get(l->r, p, &pi) == 0)
					printf("    peer %u: match %llu next %llu snapshot %d last ack %llu\n",
					       p, (unsigned long long)pi.match_index,
					       (unsigned long long)pi.next_index, pi.snapshot,
					       (unsigned long long)pi.last_ack_ms);
			}
		}
	}
}

bool sim_run_seed(uint64_t seed, bool verbose)
{
	struct sim_params p;
	sim_params_from_seed(seed, &p);
	struct sim_cluster *c = malloc(sizeof(*c));
	ASSERT(c);
	current = c;
	sim_cluster_init(c, seed, &p);
	c->trace_stream = verbose && getenv("SPINDLE_SIM_TRACE");
	if (!p.use_oracle)
		sim_control_start(c);
	else
		sim_oracle_start(c);
	sim_clients_start(c);
	sim_faults_schedule(c);
	run_until(c, p.faults_end_us);
	uint64_t deadline = p.faults_end_us + p.progress_bound_us;
	while (!c->failed && c->sched.now_us < deadline && !all_progressed(c))
		run_until(c, c->sched.now_us + 10000);
	c->clients_stop = true;
	run_until(c, c->sched.now_us + 1500000);
	if (!c->failed)
		sim_check_final(c);
	bool ok = !c->failed;
	if (verbose || !ok)
		print_summary(c);
	if (!ok) {
		printf("FAILED seed %llu: %s\nstate:\n", (unsigned long long)seed, c->failure);
		print_state(c);
		sim_control_print(c);
		printf("trace tail:\n");
		fflush(stdout);
		sim_trace_dump(c, 1, verbose ? SIM_TRACE_LINES : 40);
	}
	current = NULL;
	sim_cluster_free(c);
	free(c);
	return ok;
}
