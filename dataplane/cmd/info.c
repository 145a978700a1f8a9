/* INFO: Redis's sections (server, clients, memory, persistence, stats, replication, cpu,
 * keyspace) with the fields clients and tools read, plus spindle's own (loops, lanes). The
 * figures of each loop are read on that loop, by a visit, so no loop's counters are read
 * while it writes them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/mem.h"
#include "base/panic.h"
#include "cmd/cmd_priv.h"
#include "lane/xport.h"
#include "log/log.h"

#define INFO_SECTIONS_MAX 16

struct info_loop_figures {
	struct net_stats net;
	struct loop_stats loop;
	struct xport_stats xport;
	bool has_xport;
};

struct info_req {
	struct cmd_loop *cl;
	struct net_req *req;
	uint32_t sections;            /* bit per enum info_section */
	struct info_loop_figures *loops;
	struct lane_repl_info *lanes; /* filled by each lane's loop */
	struct log_stats *logs;       /* likewise */
	bool *has_log;
};

enum info_section {
	INFO_SERVER, INFO_CLIENTS, INFO_MEMORY, INFO_PERSISTENCE, INFO_STATS, INFO_REPLICATION,
	INFO_CPU, INFO_KEYSPACE, INFO_SPINDLE, INFO_SECTION_COUNT
};

static const char *const info_section_names[INFO_SECTION_COUNT] = {
	"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "keyspace",
	"spindle",
};

struct info_buf {
	char *text;
	size_t len, cap;
};

PRINTF_FMT(2, 3)
static void info_add(struct info_buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->text + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)(n > 0 ? n : 0) + 256;
		char *t = realloc(b->text, cap);
		ASSERT_MSG(t != NULL, "out of memory writing INFO");
		b->text = t;
		b->cap = cap;
	}
}

static void info_human(char *out, size_t len, uint64_t bytes)
{
	const char *units = "BKMGT";
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%lluB", (unsigned long long)bytes);
	else
		snprintf(out, len, "%.2f%c", v, units[u]);
}

static uint64_t info_rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long long size = 0, rss = 0;
	if (f != NULL) {
		if (fscanf(f, "%llu %llu", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void info_server(struct info_req *r, struct info_buf *b)
{
	const struct cmd_server *srv = r->cl->srv;
	struct utsname u;
	uname(&u);
	int64_t now = time_wall_ms();
	int64_t up = (now - srv->start_ms) / 1000;
	char exe[256] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	info_add(b, "# Server\r\nredis_version:" "7.0.0" "\r\nspindle_version:%s\r\n"
		 "redis_mode:standalone\r\nos:%s %s %s\r\narch_bits:64\r\n"
		 "multiplexing_api:io_uring\r\nprocess_id:%d\r\ntcp_port:%u\r\n"
		 "server_time_usec:%lld\r\nuptime_in_seconds:%lld\r\nuptime_in_days:%lld\r\n"
		 "executable:%s\r\nconfig_file:%s\r\n\r\n",
		 SPINDLE_VERSION, u.sysname, u.release, u.machine, (int)getpid(), srv->conf->port,
		 (long long)now * 1000, (long long)up, (long long)up / 86400, exe, srv->config_file);
}

static void info_clients(struct info_req *r, struct info_buf *b)
{
	info_add(b, "# Clients\r\nconnected_clients:%u\r\nmaxclients:%u\r\nblocked_clients:0\r\n"
		 "tracking_clients:0\r\n\r\n", net_clients_connected(), r->cl->srv->conf->maxclients);
}

static uint64_t info_lanes_sum(const struct cmd_server *srv, size_t field_offset)
{
	uint64_t sum = 0;
	for (uint32_t l = 0; l < lane_set_count(srv->lanes); l++) {
		const struct lane_counters *c = lane_counters_get(srv->lanes, l);
		const atomic_uint_fast64_t *f = (const atomic_uint_fast64_t *)(const void *)((const char *)c + field_offset);
		sum += atomic_load_explicit(f, memory_order_relaxed);
	}
	return sum;
}

#define LANES_SUM(srv, field) info_lanes_sum(srv, offsetof(struct lane_counters, field))

static void info_memory(struct info_req *r, struct info_buf *b)
{
	uint64_t used = mem_allocated_bytes(), rss = info_rss_bytes();
	char used_h[32], rss_h[32];
	info_human(used_h, sizeof(used_h), used);
	info_human(rss_h, sizeof(rss_h), rss);
	info_add(b, "# Memory\r\nused_memory:%llu\r\nused_memory_human:%s\r\nused_memory_rss:%llu\r\n"
		 "used_memory_rss_human:%s\r\nused_memory_dataset:%llu\r\nmaxmemory:0\r\n"
		 "maxmemory_policy:noeviction\r\nmem_allocator:%s\r\n\r\n",
		 (unsigned long long)used, used_h, (unsigned long long)rss, rss_h,
		 (unsigned long long)LANES_SUM(r->cl->srv, memory_bytes),
#ifdef SPINDLE_JEMALLOC
		 "jemalloc"
#else
		 "libc"
#endif
	);
}

/* The whole node's log figures: sums, the worst flush latency, the newest snapshot. */
static void info_persistence_totals(struct info_req *r, struct info_buf *b, uint32_t lanes)
{
	uint64_t bytes = 0, segs = 0, flushes = 0, appends = 0, snap_bytes = 0, refusals = 0;
	uint64_t p50 = 0, p99 = 0, max = 0, avg_sum = 0, avg_n = 0;
	int64_t snap_ms = 0;
	bool nospace = false, direct = true;
	for (uint32_t l = 0; l < lanes; l++) {
		if (!r->has_log[l])
			continue;
		const struct log_stats *s = &r->logs[l];
		bytes += s->log_bytes;
		segs += s->segments;
		flushes += s->flushes;
		appends += s->appends;
		snap_bytes += s->snapshot_bytes;
		refusals += s->nospace_refusals;
		p50 = MAX(p50, s->flush_ns_p50);
		p99 = MAX(p99, s->flush_ns_p99);
		max = MAX(max, s->flush_ns_max);
		if (s->flushes > 0) {
			avg_sum += s->flush_ns_avg;
			avg_n++;
		}
		snap_ms = MAX(snap_ms, s->snapshot_wall_ms);
		nospace |= s->nospace;
		direct &= s->direct_io;
	}
	info_add(b, "spindle_log_bytes:%llu\r\nspindle_log_segments:%llu\r\nspindle_log_appends:%llu\r\n"
		 "spindle_log_flushes:%llu\r\nspindle_flush_us_avg:%llu\r\nspindle_flush_us_p50_max:%llu\r\n"
		 "spindle_flush_us_p99_max:%llu\r\nspindle_flush_us_max:%llu\r\nspindle_snapshot_bytes:%llu\r\n"
		 "spindle_last_snapshot_time:%lld\r\nspindle_disk_full:%d\r\nspindle_nospace_refusals:%llu\r\n"
		 "spindle_direct_io:%d\r\n",
		 (unsigned long long)bytes, (unsigned long long)segs, (unsigned long long)appends,
		 (unsigned long long)flushes, (unsigned long long)(avg_n ? avg_sum / avg_n / 1000 : 0),
		 (unsigned long long)(p50 / 1000), (unsigned long long)(p99 / 1000),
		 (unsigned long long)(max / 1000), (unsigned long long)snap_bytes,
		 (long long)(snap_ms / 1000), nospace, (unsigned long long)refusals, direct);
}

static void info_persistence(struct info_req *r, struct info_buf *b)
{
	bool disk = r->cl->srv->conf->durability == CONF_DURABILITY_DISK;
	uint32_t lanes = lane_set_count(r->cl->srv->lanes);
	info_add(b, "# Persistence\r\nloading:0\r\nasync_loading:0\r\ndurability:%s\r\n"
		 "aof_enabled:0\r\nrdb_bgsave_in_progress:0\r\n", disk ? "disk" : "memory");
	if (disk) {
		info_persistence_totals(r, b, lanes);
		for (uint32_t l = 0; l < lanes; l++) {
			if (!r->has_log[l])
				continue;
			const struct log_stats *s = &r->logs[l];
			info_add(b, "lane%u_log:first=%llu,last=%llu,durable=%llu,bytes=%llu,segments=%u,"
				 "snapshot_index=%llu,snapshot_bytes=%llu,flush_us_p50=%llu,flush_us_p99=%llu\r\n",
				 l, (unsigned long long)s->first_index, (unsigned long long)s->last_index,
				 (unsigned long long)s->durable_index, (unsigned long long)s->log_bytes,
				 s->segments, (unsigned long long)s->snapshot_index,
				 (unsigned long long)s->snapshot_bytes,
				 (unsigned long long)(s->flush_ns_p50 / 1000),
				 (unsigned long long)(s->flush_ns_p99 / 1000));
		}
	}
	info_add(b, "\r\n");
}

static void info_stats(struct info_req *r, struct info_buf *b)
{
	uint64_t accepted = 0, rejected = 0, in = 0, out = 0, perr = 0, olim = 0;
	for (uint32_t i = 0; i < r->cl->srv->loops_count; i++) {
		const struct net_stats *s = &r->loops[i].net;
		accepted += s->accepted;
		rejected += s->rejected_max_clients;
		in += s->recv_bytes;
		out += s->sent_bytes;
		perr += s->protocol_errors;
		olim += s->output_limit_closes;
	}
	const struct cmd_server *srv = r->cl->srv;
	info_add(b, "# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n"
		 "total_net_input_bytes:%llu\r\ntotal_net_output_bytes:%llu\r\n"
		 "rejected_connections:%llu\r\nexpired_keys:%llu\r\nkeyspace_hits:%llu\r\n"
		 "keyspace_misses:%llu\r\nclient_output_buffer_limit_disconnections:%llu\r\n"
		 "protocol_errors:%llu\r\n\r\n",
		 (unsigned long long)accepted,
		 (unsigned long long)atomic_load_explicit(&srv->commands, memory_order_relaxed),
		 (unsigned long long)in, (unsigned long long)out, (unsigned long long)rejected,
		 (unsigned long long)LANES_SUM(srv, expired_keys), (unsigned long long)LANES_SUM(srv, hits),
		 (unsigned long long)LANES_SUM(srv, misses), (unsigned long long)olim,
		 (unsigned long long)perr);
}

static void info_cpu(struct info_buf *b)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	info_add(b, "# CPU\r\nused_cpu_sys:%ld.%06ld\r\nused_cpu_user:%ld.%06ld\r\n\r\n",
		 (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec, (long)ru.ru_utime.tv_sec,
		 (long)ru.ru_utime.tv_usec);
}

static void info_keyspace(struct info_req *r, struct info_buf *b)
{
	uint64_t keys = LANES_SUM(r->cl->srv, keys);
	info_add(b, "# Keyspace\r\n");
	if (keys > 0)
		info_add(b, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n", (unsigned long long)keys,
			 (unsigned long long)LANES_SUM(r->cl->srv, volatile_keys));
	info_add(b, "\r\n");
}

static void info_spindle(struct info_req *r, struct info_buf *b)
{
	const struct cmd_server *srv = r->cl->srv;
	info_add(b, "# Spindle\r\nspindle_loops:%u\r\nspindle_lanes:%u\r\n", srv->loops_count,
		 lane_set_count(srv->lanes));
	for (uint32_t i = 0; i < srv->loops_count; i++) {
		const struct loop_stats *ls = &r->loops[i].loop;
		info_add(b, "loop%u:turns=%llu,busy_turns=%llu,busy_ms=%llu,sleeps=%llu,msgs=%llu,"
			 "msgs_refused=%llu,msgs_backlogged=%llu,cqes=%llu,clients=%llu,commands=%llu,"
			 "recv_nobufs=%llu\r\n", i,
			 (unsigned long long)ls->turns, (unsigned long long)ls->busy_turns,
			 (unsigned long long)(ls->busy_ns / 1000000), (unsigned long long)ls->sleeps,
			 (unsigned long long)ls->msgs, (unsigned long long)ls->msgs_refused,
			 (unsigned long long)ls->msgs_backlogged, (unsigned long long)ls->cqes,
			 (unsigned long long)r->loops[i].net.connected,
			 (unsigned long long)r->loops[i].net.commands,
			 (unsigned long long)r->loops[i].net.recv_nobufs);
	}
	for (uint32_t l = 0; l < lane_set_count(srv->lanes); l++) {
		const struct lane_counters *c = lane_counters_get(srv->lanes, l);
		info_add(b, "lane%u:loop=%u,first_slot=%u,keys=%llu,reads=%llu,writes=%llu\r\n", l,
			 lane_loop_of(l, srv->loops_count), lane_first_slot(l, lane_set_count(srv->lanes)),
			 (unsigned long long)atomic_load_explicit(&c->keys, memory_order_relaxed),
			 (unsigned long long)atomic_load_explicit(&c->reads, memory_order_relaxed),
			 (unsigned long long)atomic_load_explicit(&c->writes, memory_order_relaxed));
	}
	info_add(b, "\r\n");
}

static void info_visit(struct cmd_loop *cl, void *arg, unsigned index)
{
	struct info_req *r = arg;
	struct lane_set *set = cl->srv->lanes;
	net_loop_stats(cl->nl, &r->loops[index].net);
	loop_stats_get(cl->loop, &r->loops[index].loop);
	struct xport *x = lane_set_xport(set, cl->loop);
	if (x != NULL) {
		x->ops->stats(x, &r->loops[index].xport);
		r->loops[index].has_xport = true;
	}
	if (!lane_set_durable(set))
		return;
	for (uint32_t l = 0; l < lane_set_count(set); l++) {
		if (!lane_is_local(set, l, cl->loop))
			continue;
		if (r->sections & (1u << INFO_REPLICATION))
			lane_repl_info_get(set, l, &r->lanes[l]);
		if (r->sections & (1u << INFO_PERSISTENCE))
			r->has_log[l] = lane_log_stats_get(set, l, &r->logs[l]);
	}
}

static const char *info_role_name(const struct lane_repl_info *i)
{
	if (i->rs.failed)
		return "failed";
	return i->rs.role == REPL_ROLE_PRIMARY ? "primary" : "follower";
}

static void info_replication(struct info_req *r, struct info_buf *b)
{
	struct lane_set *set = r->cl->srv->lanes;
	uint32_t lanes = lane_set_count(set), primaries = 0;
	bool durable = lane_set_durable(set);
	for (uint32_t l = 0; durable && l < lanes; l++)
		primaries += r->lanes[l].rs.role == REPL_ROLE_PRIMARY;
	/* Redis clients read role; spindle has a primary per lane, and every node takes writes. */
	info_add(b, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
		 "spindle_replicas:%u\r\nspindle_primary_lanes:%u\r\n",
		 lane_set_replicated(set) ? lane_set_peers(set) : 0, durable ? primaries : lanes);
	for (uint32_t l = 0; durable && l < lanes; l++) {
		const struct lane_repl_info *i = &r->lanes[l];
		uint64_t lag_max = 0;
		for (unsigned p = 0; p < i->peers; p++)
			lag_max = MAX(lag_max, i->peer[p].lag);
		info_add(b, "lane%u_repl:role=%s,epoch=%llu,primary=%d,commit=%llu,applied=%llu,"
			 "durable=%llu,last=%llu,lag_max=%llu,forwarded=%llu,fwd_resent=%llu,"
			 "rejected_stale=%llu,resends=%llu,snapshots_sent=%llu,snapshots_installed=%llu",
			 l, info_role_name(i), (unsigned long long)i->rs.epoch,
			 i->rs.primary == REPL_NODE_NONE ? -1 : (int)i->rs.primary,
			 (unsigned long long)i->rs.commit_index, (unsigned long long)i->rs.applied_index,
			 (unsigned long long)i->rs.durable_index, (unsigned long long)i->rs.last_index,
			 (unsigned long long)lag_max, (unsigned long long)i->forwarded,
			 (unsigned long long)i->fwd_resent,
			 (unsigned long long)i->rs.counters[REPL_CNT_REJECT_STALE],
			 (unsigned long long)i->rs.counters[REPL_CNT_RESENDS],
			 (unsigned long long)i->rs.counters[REPL_CNT_SNAPSHOTS_SENT],
			 (unsigned long long)i->rs.counters[REPL_CNT_SNAPSHOTS_INSTALLED]);
		for (unsigned p = 0; p < i->peers; p++)
			info_add(b, ",peer%u_match=%llu,peer%u_lag=%llu", i->peer[p].node,
				 (unsigned long long)i->peer[p].match_index, i->peer[p].node,
				 (unsigned long long)i->peer[p].lag);
		info_add(b, "\r\n");
	}
	for (uint32_t k = 0; k < r->cl->srv->loops_count; k++) {
		const struct info_loop_figures *f = &r->loops[k];
		if (!f->has_xport)
			continue;
		const struct xport_stats *x = &f->xport;
		info_add(b, "loop%u_xport:tx_msgs=%llu,tx_frames=%llu,tx_dropped=%llu,rx_msgs=%llu,"
			 "rx_frames=%llu,drop_foreign=%llu,drop_version=%llu,drop_checksum=%llu,"
			 "drop_malformed=%llu,drop_reassembly=%llu\r\n", k,
			 (unsigned long long)x->tx_msgs, (unsigned long long)x->tx_frames,
			 (unsigned long long)x->tx_dropped, (unsigned long long)x->rx_msgs,
			 (unsigned long long)x->rx_frames, (unsigned long long)x->rx_drop_foreign,
			 (unsigned long long)x->rx_drop_version, (unsigned long long)x->rx_drop_checksum,
			 (unsigned long long)x->rx_drop_malformed, (unsigned long long)x->rx_drop_reassembly);
	}
	info_add(b, "\r\n");
}

static void info_done(void *arg)
{
	struct info_req *r = arg;
	struct info_buf b = { .text = malloc(4096), .len = 0, .cap = 4096 };
	ASSERT_MSG(b.text != NULL, "out of memory writing INFO");
	if (r->sections & (1u << INFO_SERVER)) info_server(r, &b);
	if (r->sections & (1u << INFO_CLIENTS)) info_clients(r, &b);
	if (r->sections & (1u << INFO_MEMORY)) info_memory(r, &b);
	if (r->sections & (1u << INFO_PERSISTENCE)) info_persistence(r, &b);
	if (r->sections & (1u << INFO_STATS)) info_stats(r, &b);
	if (r->sections & (1u << INFO_REPLICATION))
		info_replication(r, &b);
	if (r->sections & (1u << INFO_CPU)) info_cpu(&b);
	if (r->sections & (1u << INFO_KEYSPACE)) info_keyspace(r, &b);
	if (r->sections & (1u << INFO_SPINDLE)) info_spindle(r, &b);
	if (b.len >= 2)
		b.len -= 2; /* Redis ends without the blank line */
	resp_add_verbatim(net_req_out(r->req), "txt", b.text, b.len);
	free(b.text);
	struct net_req *req = r->req;
	free(r->loops);
	free(r->lanes);
	free(r->logs);
	free(r->has_log);
	free(r);
	net_req_finish(req);
}

static uint32_t info_sections_parse(uint32_t argc, const struct resp_arg *argv)
{
	uint32_t all = (1u << INFO_SECTION_COUNT) - 1;
	if (argc == 1)
		return all;
	uint32_t mask = 0;
	for (uint32_t i = 1; i < argc; i++) {
		if (resp_arg_equals(&argv[i], "all") || resp_arg_equals(&argv[i], "everything") ||
		    resp_arg_equals(&argv[i], "default"))
			return all;
		for (unsigned s = 0; s < INFO_SECTION_COUNT; s++)
			if (resp_arg_equals(&argv[i], info_section_names[s]))
				mask |= 1u << s;
	}
	return mask;
}

void cmd_info(struct cmd_loop *cl, struct net_conn *c, uint32_t argc, const struct resp_arg *argv,
	      struct net_reply *reply)
{
	(void)c;
	struct info_req *r = calloc(1, sizeof(*r));
	if (r != NULL) {
		r->loops = calloc(cl->srv->loops_count, sizeof(*r->loops));
		r->lanes = calloc(lane_set_count(cl->srv->lanes), sizeof(*r->lanes));
		r->logs = calloc(lane_set_count(cl->srv->lanes), sizeof(*r->logs));
		r->has_log = calloc(lane_set_count(cl->srv->lanes), sizeof(*r->has_log));
	}
	if (r == NULL || r->loops == NULL || r->lanes == NULL || r->logs == NULL || r->has_log == NULL) {
		if (r != NULL) {
			free(r->loops);
			free(r->lanes);
			free(r->logs);
			free(r->has_log);
		}
		free(r);
		resp_add_error(reply->out, "ERR out of memory");
		return;
	}
	r->cl = cl;
	r->sections = info_sections_parse(argc, argv);
	r->req = net_reply_defer(reply, NET_CLASS_OTHER);
	cmd_loops_visit(cl, info_visit, info_done, r);
}
