/* The deterministic cluster simulation: N nodes, each with L lanes (mode A replication
 * groups on simulated storage) and a control daemon (a mode B group running the control
 * logic), a client workload of register reads and writes, faults on a schedule drawn from
 * the seed, and the checks. One seed decides everything; the same seed replays exactly. */
#ifndef SPINDLE_TESTS_SIM_SIM_H
#define SPINDLE_TESTS_SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "base/compiler.h"
#include "base/panic.h"
#include "repl/repl.h"
#include "sim/net.h"
#include "sim/rng.h"
#include "sim/sched.h"
#include "sim/store.h"

struct ctl_lane_status;

#define SIM_NODES_MAX 5
#define SIM_LANES_MAX 4
#define SIM_KEYS_PER_LANE 3
#define SIM_CLIENTS_MAX 10
#define SIM_BATCH_MAX 16         /* client writes in one log entry */
#define SIM_TRACE_LINES 256
#define SIM_TICK_US 1000
#define SIM_CLIENT_TIMEOUT_US 250000

/* ---- What a seed decides ---- */
struct sim_params {
	unsigned nodes, lanes, clients;
	uint32_t drop_ppm, dup_ppm, delay_us_min, delay_us_max;
	int32_t drift_ppm_max;        /* clocks drift at most this (rate, parts per million) */
	uint64_t faults_end_us;       /* no new fault starts after this; all heal by it */
	uint64_t progress_bound_us;   /* after healing, every lane commits a write within this */
	uint64_t end_us;
	unsigned snapshot_every;      /* a lane compacts after this many applied entries */
	unsigned ctl_snapshot_every;  /* the control group compacts after this many commands */
	bool corruption;              /* inject corrupt records */
	uint32_t lease_ms;            /* the lanes' read lease */
	uint32_t read_permille;       /* share of reads in the workload */
	uint32_t node_timeout_ms;     /* the control plane's failure detector */
	uint64_t heard_us;            /* a peer heard within this is reachable */
	bool use_oracle;              /* scripted control plane instead of the control group */
	bool replace;                 /* the last node is a spare that replaces another one */
};

/* ---- The client history ---- */
enum sim_op_state { SIM_OP_PENDING, SIM_OP_OK, SIM_OP_OPEN, SIM_OP_VOID };

struct sim_op {
	unsigned client;
	unsigned key;         /* global key: lane = key / SIM_KEYS_PER_LANE */
	uint8_t kind;         /* LIN_READ, LIN_WRITE */
	uint64_t value;
	uint64_t call_us, ret_us;
	uint8_t state;
};

/* ---- A lane on a node: the core, its storage, and the host around it ---- */
struct sim_write {
	uint64_t op;          /* history index */
	uint8_t key;          /* key within the lane */
	uint64_t value;
	uint64_t index, epoch; /* once proposed */
};

struct sim_read {
	uint64_t op;
	uint8_t key;
	uint64_t read_index;
	uint64_t seq;         /* barrier round needed; 0 when served under the lease */
};

struct sim_node;
struct sim_cluster;

struct sim_lane {
	struct sim_cluster *c;
	struct sim_node *node;
	unsigned lane;
	struct repl *r;
	struct sim_store store;
	uint64_t kv[SIM_KEYS_PER_LANE];
	uint64_t applied;
	uint64_t applied_since_snapshot;
	struct sim_write batch[SIM_BATCH_MAX];
	unsigned n_batch;
	bool turn_pending;
	struct sim_write *waiting;  /* proposed writes waiting to be applied */
	unsigned n_waiting, cap_waiting;
	struct sim_read *reads;
	unsigned n_reads, cap_reads;
	uint64_t confirmed_seq;
};

struct sim_node {
	struct sim_cluster *c;
	unsigned id;
	bool up;
	bool hung;                /* dataplane paused: no ticks, no messages handled */
	uint64_t incarnation;
	struct sim_clock clock;
	struct sim_lane lane[SIM_LANES_MAX];
	uint64_t progress;        /* dataplane progress counter, for the control daemon */
	uint64_t heard_us[SIM_NODES_MAX]; /* last frame from each peer, replication network */
	struct sim_ctl *ctl;      /* the control daemon (NULL with the oracle) */
};

#define SIM_PING_LANE 0xff        /* the dataplane's keepalive frame between nodes */
#define SIM_PING_US 20000
#define SIM_CONTROL_SLOT SIM_LANES_MAX /* the control group's slot in the checks */

/* ---- Clients ---- */
struct sim_client {
	unsigned id;
	uint64_t op;              /* current operation (history index), or UINT64_MAX */
	unsigned target[SIM_LANES_MAX]; /* the node believed primary for each lane */
	uint64_t next_value;
	bool probe;               /* after healing: writes to one lane until one succeeds */
	unsigned probe_lane;
};

/* ---- The control plane, as the nodes see it ---- */
struct sim_cp_ops {
	void (*promised)(struct sim_cluster *c, unsigned node, unsigned lane,
			 const struct repl_promise *p);
	void (*node_crashed)(struct sim_cluster *c, unsigned node);
	void (*node_started)(struct sim_cluster *c, unsigned node);
	/* a message on the management network */
	void (*deliver)(struct sim_cluster *c, unsigned src, unsigned dst, const uint8_t *bytes,
			size_t len);
	void (*free)(struct sim_cluster *c);
};

/* ---- Checks ---- */
struct sim_applied {
	uint64_t epoch;
	uint64_t hash;
	bool set;
};

struct sim_ack {
	unsigned lane;
	uint64_t index, epoch;
};

struct sim_cluster {
	uint64_t seed;
	struct sim_params p;
	struct sim_rng rng;
	struct sim_sched sched;
	struct sim_net net;
	struct sim_node node[SIM_NODES_MAX];
	struct sim_client client[SIM_CLIENTS_MAX];
	struct sim_store_latency lat;
	struct repl_options lane_opts;
	uint64_t heal_us;         /* when the last fault healed */
	bool healed;
	bool clients_stop;

	struct sim_op *ops;
	uint64_t n_ops, cap_ops;

	struct sim_applied *applied[SIM_LANES_MAX + 1];   /* lanes, then the control group */
	uint64_t cap_applied[SIM_LANES_MAX + 1];
	unsigned *primary_of[SIM_LANES_MAX + 1]; /* per epoch: node + 1 (0 = none) */
	uint64_t cap_primary[SIM_LANES_MAX + 1];
	struct sim_ack *acks;
	uint64_t n_acks, cap_acks;
	uint64_t progress_ok[SIM_LANES_MAX]; /* a probe write committed after healing, when */

	/* The control plane of the lanes: the scripted oracle, or the control group. */
	const struct sim_cp_ops *cp;
	struct sim_oracle *oracle;
	struct sim_control *control;

	bool trace_stream;        /* SPINDLE_SIM_TRACE=1: print every trace line as it happens */
	char trace[SIM_TRACE_LINES][160];
	unsigned trace_next;
	bool failed;
	char failure[512];
	struct sim_stats {
		uint64_t writes_ok, reads_ok, ops_open, ops_void, failovers, crashes, partitions;
		uint64_t corruptions, sync_failures, hangs, snapshots, installs, ctl_installs;
	} stats;
};

/* cluster.c */
void sim_cluster_init(struct sim_cluster *c, uint64_t seed, const struct sim_params *p);
void sim_cluster_free(struct sim_cluster *c);
void sim_node_crash(struct sim_node *n);
void sim_node_restart(struct sim_node *n);
/* The node stops itself (a fatal I/O error) and its supervisor restarts it later. */
void sim_node_fail_stop(struct sim_node *n);
void sim_lane_config(struct sim_lane *l, const struct repl_config *cfg);
bool sim_node_alive(const struct sim_node *n);
/* client requests arriving at a node */
void sim_node_client_write(struct sim_node *n, unsigned client, uint64_t op, unsigned key,
			   uint64_t value);
void sim_node_client_read(struct sim_node *n, unsigned client, uint64_t op, unsigned key);
void sim_lane_tick_all(struct sim_cluster *c);

/* client.c */
enum sim_reply { SIM_REPLY_OK, SIM_REPLY_NOT_PRIMARY, SIM_REPLY_FAILED, SIM_REPLY_UNKNOWN };
void sim_clients_start(struct sim_cluster *c);
void sim_clients_probe(struct sim_cluster *c);
/* A node answers op (a response travels back to the client). */
void sim_reply(struct sim_cluster *c, unsigned client, uint64_t op, enum sim_reply reply,
	       uint64_t value, unsigned hint);

/* faults.c */
void sim_faults_schedule(struct sim_cluster *c);

/* oracle.c: the scripted control plane; control.c: the control group on every node.
 * Each sets c->cp. */
void sim_oracle_start(struct sim_cluster *c);
void sim_control_start(struct sim_cluster *c);

/* control.c: the lanes' members at the end of the run (all nodes with the oracle) */
uint64_t sim_control_members(struct sim_cluster *c, unsigned lane, bool voters_only);
void sim_control_check_final(struct sim_cluster *c);
void sim_control_print(struct sim_cluster *c);

/* check.c */
void sim_check_apply(struct sim_cluster *c, unsigned lane, unsigned node,
		     const struct repl_entry *e);
void sim_check_primary(struct sim_cluster *c, unsigned lane, uint64_t epoch, unsigned node);
void sim_check_ack(struct sim_cluster *c, unsigned lane, uint64_t index, uint64_t epoch);
void sim_check_final(struct sim_cluster *c);
PRINTF_FMT(2, 3) void sim_fail(struct sim_cluster *c, const char *fmt, ...);
PRINTF_FMT(2, 3) void sim_trace(struct sim_cluster *c, const char *fmt, ...);
/* Writes the last `lines` lines of the trace. */
void sim_trace_dump(const struct sim_cluster *c, int fd, unsigned lines);
uint64_t sim_hash(const void *p, size_t len);

/* cluster.c: what a node's dataplane tells its control daemon about a lane */
void sim_lane_status(struct sim_lane *l, struct ctl_lane_status *out);

/* run.c */
void sim_params_from_seed(uint64_t seed, struct sim_params *p);
/* Runs one seed; returns true if every check passed. */
bool sim_run_seed(uint64_t seed, bool verbose);

#endif
