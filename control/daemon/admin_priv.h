/* What the admin socket's two files share: admin.c (the socket, its clients, reading
 * requests and writing answers) and admin_cmd.c (carrying out the commands). */
#ifndef SPINDLE_CONTROL_DAEMON_ADMIN_PRIV_H
#define SPINDLE_CONTROL_DAEMON_ADMIN_PRIV_H

#include "base/list.h"
#include "daemon/admin.h"
#include "daemon/ctld.h"

#define ADMIN_REPROPOSE_MS 1000  /* a command that has not shown up is proposed again */

enum admin_phase { ADMIN_READING, ADMIN_WAITING, ADMIN_WRITING, ADMIN_CLOSING };

/* Per lane of a failover: where it started, where it should go, when it got there. */
struct admin_lane {
	uint64_t epoch;
	uint8_t primary, target;
	bool wanted, done;
	uint64_t done_ms;
	uint64_t cancel_ms;          /* node drain: when a switchover to the node was cancelled */
};

struct admin_client {
	struct list_node node;
	struct ctld_admin *a;
	int fd;
	struct ctld_watch rw, ww;
	int watches;                 /* started and not yet handed back */
	enum admin_phase phase;
	char req[CTLD_ADMIN_REQUEST_BYTES_MAX + 1];
	size_t req_len;
	struct ctld_admin_req r;
	struct ctld_buf out;
	size_t out_off;
	/* a command in progress */
	uint64_t start_ms, deadline_ms, proposed_ms;
	int stage;                   /* node replace: 0 adding, 1 removing */
	uint32_t n_lanes;
	struct admin_lane *lanes;
};

struct ctld_admin {
	struct ctld *d;
	int fd;
	struct ctld_watch watch;
	bool listening;
	bool changed;                /* the state changed since the last tick */
	struct list_node clients;
	unsigned n_clients;
	char path[CTLD_PATH_BYTES_MAX];
};

/* admin.c */
/* Finishes the command with an answer: the status line for code, then the body (text, or
 * JSON under --json: an error becomes {"ok":false,"error":CODE,"message":...}). */
void admin_answer(struct admin_client *c, enum ctld_admin_code code, const char *body);
void admin_answerf(struct admin_client *c, enum ctld_admin_code code, const char *fmt, ...)
	PRINTF_FMT(3, 4);

/* admin_cmd.c */
void admin_cmd_start(struct admin_client *c);
/* Looks whether a waiting command is done (or timed out); answers it if so. */
void admin_cmd_check(struct admin_client *c, uint64_t now_ms);

#endif
