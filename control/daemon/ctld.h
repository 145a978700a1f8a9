/* spindle-control's insides, shared by its source files:
 *
 *   group.c   the control group: the replication core in election mode on the store, the
 *             cluster state it applies, the leader's logic (control/core) and its I/O, the
 *             group's own membership, reports to the leader and the leader's VIEW
 *   link.c    the Unix stream socket to the local spindled (HEARTBEAT and PROMISE in;
 *             CONFIG, PREPARE and HANDOFF out) and the verdict on the dataplane
 *   mgmt.c    the management network: UDP datagrams between the control daemons
 *   admin.c   the admin socket spindlectl talks to, and its commands
 *   status.c  the status (text and JSON) and the metrics text, from a plain snapshot
 *   http.c    the metrics endpoint
 *   watch.c   readiness of a file descriptor through the loop's io_uring
 *   main.c    set-up, the loop, shutdown
 *
 * One thread runs everything on one loop (dataplane/loop): readiness and disk completions
 * arrive through its io_uring, and a timer ticks every CTLD_TICK_MS. */
#ifndef SPINDLE_CONTROL_DAEMON_CTLD_H
#define SPINDLE_CONTROL_DAEMON_CTLD_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "control/core/ctl.h"
#include "daemon/conf.h"
#include "daemon/status.h"
#include "daemon/store.h"
#include "daemon/wire.h"
#include "loop/loop.h"

#define CTLD_TICK_MS 5
#define CTLD_VIEW_MS 100            /* the leader broadcasts its view this often */
#define CTLD_VIEW_STALE_MS 1000     /* a view older than this is shown as stale */
#define CTLD_REPL_MSG_BYTES 16384u  /* control group APPEND payloads: one datagram each */
#define CTLD_SNAPSHOT_CHUNK_BYTES 32768u
#define CTLD_ADMIN_CLIENTS_MAX 64
#define CTLD_ADMIN_REQUEST_BYTES_MAX 1024
#define CTLD_HTTP_CLIENTS_MAX 16

struct ctld;
struct ctld_admin;
struct ctld_http;

/* ---- Readiness of a descriptor (watch.c) ---- */
struct ctld_watch;
typedef void (*ctld_watch_fn)(struct ctld_watch *w, int revents);
struct ctld_watch {
	struct loop_uring_op op;
	struct loop_uring_op remove_op; /* the poll's removal, after stop */
	struct loop *loop;
	int fd;
	unsigned events;
	bool multishot;
	bool armed;                  /* a poll is in flight */
	bool stopping;
	bool removing;               /* a removal is in flight */
	ctld_watch_fn fn;            /* readiness (never after stop) */
	void (*stopped)(struct ctld_watch *w); /* the last completion arrived after stop */
};
/* Starts watching fd for events (POLLIN, POLLOUT); multishot keeps watching. */
void ctld_watch_start(struct ctld_watch *w, struct loop *loop, int fd, unsigned events,
		      bool multishot, ctld_watch_fn fn);
/* Re-arms a one-shot watch after it fired. */
void ctld_watch_rearm(struct ctld_watch *w);
/* Cancels the watch; `stopped` runs once the ring has handed it back (at once if nothing is
 * in flight). The caller keeps the memory until then. */
void ctld_watch_stop(struct ctld_watch *w, void (*stopped)(struct ctld_watch *w));

/* ---- The dataplane link (link.c) ---- */
enum ctld_link_state { CTLD_LINK_DOWN = 0, CTLD_LINK_CONNECTING, CTLD_LINK_UP };

struct ctld_link_stats {
	uint64_t connects, disconnects, rx_msgs, rx_bad, tx_msgs, tx_dropped, heartbeats;
	uint64_t promises, configs_sent, prepares_sent, handoffs_sent, verdict_changes;
};

struct ctld_link {
	int fd;
	enum ctld_link_state state;
	struct ctld_watch watch;
	bool watch_busy;             /* waiting for a stopped watch before reusing it */
	struct ctld_framer rx;
	uint8_t *tx;
	size_t tx_len, tx_off;
	uint64_t next_try_ms;
	/* what the dataplane last said */
	bool have_hb;
	uint64_t hb_ms, progress_ms;
	uint64_t incarnation, progress, peers_heard;
	uint32_t n_lanes;
	struct ctl_lane_status *lanes;   /* CTLD_LANES_MAX */
	bool alive;                      /* the verdict */
	struct ctld_link_stats stats;
};

int ctld_link_init(struct ctld *d);
void ctld_link_fini(struct ctld *d);
/* Reconnects when due, judges the dataplane; call every tick. */
void ctld_link_tick(struct ctld *d, uint64_t now_ms);
/* Sends a message to the dataplane; false when the link is down or its buffer full. */
bool ctld_link_send(struct ctld *d, const struct ctl_msg *m);

/* ---- The management network (mgmt.c) ---- */
struct ctld_mgmt_stats {
	uint64_t tx[CTLD_KIND_MAX + 1], rx[CTLD_KIND_MAX + 1];
	uint64_t tx_errors, tx_no_addr, rx_bad, rx_foreign, rx_undecodable;
	uint64_t rx_version;         /* spindle-control datagrams of another wire version */
	uint64_t version_said_ms;    /* when the last of them was logged */
};

struct ctld_mgmt {
	int fd;
	struct ctld_watch watch;
	struct sockaddr_in learned[CTL_NODES_MAX]; /* from datagrams, for nodes we know no address of */
	uint64_t learned_mask;
	uint8_t *tx_buf, *rx_buf, *msg_buf;
	struct ctld_mgmt_stats stats;
};

int ctld_mgmt_init(struct ctld *d);
void ctld_mgmt_fini(struct ctld *d);
/* Sends one message of kind to node; false when it could not go out. */
bool ctld_mgmt_send(struct ctld *d, unsigned node, uint8_t kind, const uint8_t *payload,
		    size_t len);
/* Where node's daemon listens: the configuration, else the cluster state, else learned. */
bool ctld_mgmt_addr(const struct ctld *d, unsigned node, struct sockaddr_in *out);

/* ---- The control group (group.c) ---- */
struct ctld_report {                 /* the leader's copy of a node's last report */
	bool have;
	uint64_t at_ms;
	struct ctl_msg_heartbeat hb;     /* hb.lanes points into lanes */
	struct ctl_lane_status *lanes;   /* CTLD_LANES_MAX */
};

struct ctld_group_stats {
	uint64_t applied, rejected, proposals, proposals_forwarded, leader_changes;
	uint64_t failovers, switchovers_done, views_sent, views_received, reports_sent;
	uint64_t reports_received, promises_relayed;
};

/* Starts the group once the store has recovered. */
int ctld_group_start(struct ctld *d, const struct repl_boot *boot);
void ctld_group_stop(struct ctld *d);
void ctld_group_tick(struct ctld *d, uint64_t now_ms);
/* A datagram of the control group or of the control messages. */
void ctld_group_recv(struct ctld *d, unsigned src, uint8_t kind, const uint8_t *p, size_t len);
/* A message from the dataplane. */
void ctld_group_dataplane(struct ctld *d, const struct ctl_msg *m);
/* The dataplane's verdict changed, or the link came up: report and push at once. */
void ctld_group_dataplane_changed(struct ctld *d);
/* Proposes cmd through the leader (here, or forwarded); false without a known leader. */
bool ctld_group_propose(struct ctld *d, const struct ctl_cmd *cmd);
/* PREPARE or HANDOFF for this node's dataplane (from the leader, here or remote). */
void ctld_group_deliver(struct ctld *d, const struct ctl_msg *m);

/* ---- The leader's half (lead.c) ---- */
int ctld_lead_create(struct ctld *d);
void ctld_lead_destroy(struct ctld *d);
/* This daemon became leader: observations start over. */
void ctld_lead_reset(struct ctld *d, uint64_t now_ms);
/* A REPORT or PROMISE from node src (this node's own come through here too). */
void ctld_lead_handle(struct ctld *d, unsigned src, const struct ctl_msg *m);
/* Appends a command to the control log (leader only), with a log line saying why. */
void ctld_lead_propose(struct ctld *d, const struct ctl_cmd *cmd);
void ctld_lead_tick(struct ctld *d, uint64_t now_ms);

/* Collects what spindlectl status and the metrics show. */
void ctld_status_collect(const struct ctld *d, uint64_t now_ms, struct ctld_status *st);

/* ---- The admin socket (admin.c) and metrics endpoint (http.c) ---- */
struct ctld_admin *ctld_admin_create(struct ctld *d, const char *path);
void ctld_admin_tick(struct ctld_admin *a, uint64_t now_ms);
/* The state changed (a command applied): pending commands look again. */
void ctld_admin_state_changed(struct ctld_admin *a);
void ctld_admin_destroy(struct ctld_admin *a);
struct ctld_http *ctld_http_create(struct ctld *d, const char *addr);
void ctld_http_destroy(struct ctld_http *h);

/* ---- The daemon ---- */
struct ctld {
	struct ctld_conf conf;
	struct loop *loop;
	struct log_disk *disk;
	struct ctld_store *store;
	struct repl *r;
	bool started;                    /* the group runs */
	struct ctl_state *state;
	struct ctl_leader *leader;
	struct ctl_leader_options lopts;
	bool is_leader;
	unsigned leader_node;            /* REPL_NODE_NONE when unknown */
	uint64_t term;
	uint64_t leader_since_ms;
	struct ctld_link link;
	struct ctld_mgmt mgmt;
	struct ctld_admin *admin;
	struct ctld_http *http;
	uint64_t reported_ms, pushed_ms, pushed_index, view_sent_ms, members_ms;
	bool push_lanes_warned;
	struct ctld_view view;           /* the leader's, as last received (or our own) */
	uint64_t view_ms;                /* when it arrived; 0: none */
	struct ctld_report reports[CTL_NODES_MAX];
	struct repl_members group_members; /* as last applied */
	uint64_t applied_index;          /* the control group's, as applied here */
	struct ctld_group_stats stats;
	uint64_t start_ms;
	bool fatal;
};

uint64_t ctld_now_ms(void);
/* Stops the daemon after a fatal error (storage, the group): logs why and exits. */
void ctld_fatal(struct ctld *d, int err, const char *why);

#endif
