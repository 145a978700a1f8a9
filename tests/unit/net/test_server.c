/* The connection layer on a real loop and real loopback sockets, with a scripted command
 * handler: replies in order whatever finishes first, reads held behind unfinished writes,
 * protocol errors answered then closed, the client limit, the output limit (counting replies
 * that wait behind a deferred request), back-pressure when the receive buffer ring runs dry,
 * and connections closed while work is in flight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "base/clock.h"
#include "loop/loop.h"
#include "net/net.h"

/* ---- A scripted handler ----
 * PING             -> +PONG (OTHER, at once)
 * SETW k v         -> WRITE, deferred: applied and answered +OK two turns later
 * GET k            -> READ: answered from the table, held behind unfinished writes
 * BIG n            -> a bulk of n bytes
 * anything else    -> -ERR unknown */
#define KEYS_MAX 64
struct pending_write {
	struct net_req *req;
	char key[32], value[32];
	int turns_left;
};

struct fixture {
	struct loop *loop;
	struct net_loop *nl;
	uint16_t port;
	char keys[KEYS_MAX][32], values[KEYS_MAX][32];
	int nkeys;
	struct pending_write writes[1024];
	int nwrites;
	struct loop_poller writer;
	int bigs;                     /* BIG commands run */
};

static struct fixture *fx;

static bool arg_is(const struct resp_arg *a, const char *s)
{
	return a->len == strlen(s) && strncasecmp(a->ptr, s, a->len) == 0;
}

static const char *table_get(const char *key)
{
	for (int i = 0; i < fx->nkeys; i++)
		if (strcmp(fx->keys[i], key) == 0)
			return fx->values[i];
	return NULL;
}

static void table_set(const char *key, const char *value)
{
	int i = 0;
	while (i < fx->nkeys && strcmp(fx->keys[i], key) != 0)
		i++;
	if (i == fx->nkeys) {
		assert_true(fx->nkeys < KEYS_MAX);
		memcpy(fx->keys[fx->nkeys++], key, strlen(key) + 1);
	}
	memcpy(fx->values[i], value, strlen(value) + 1);
}

static void copy_arg(char *dst, const struct resp_arg *a)
{
	size_t n = a->len < 31 ? a->len : 31;
	memcpy(dst, a->ptr, n);
	dst[n] = '\0';
}

static void handle(void *ctx, struct net_conn *c, struct resp_argv *argv, struct net_reply *reply)
{
	(void)ctx;
	struct resp_arg *a = argv->argv;
	if (arg_is(&a[0], "PING")) {
		if (!net_conn_may_run(c, NET_CLASS_OTHER)) {
			net_reply_hold(reply, argv);
			return;
		}
		resp_add_simple(reply->out, "PONG");
	} else if (arg_is(&a[0], "SETW") && argv->argc == 3) {
		if (!net_conn_may_run(c, NET_CLASS_WRITE)) {
			net_reply_hold(reply, argv);
			return;
		}
		struct pending_write *w = &fx->writes[fx->nwrites++];
		copy_arg(w->key, &a[1]);
		copy_arg(w->value, &a[2]);
		w->turns_left = 2;
		w->req = net_reply_defer(reply, NET_CLASS_WRITE);
	} else if (arg_is(&a[0], "GET") && argv->argc == 2) {
		if (!net_conn_may_run(c, NET_CLASS_READ)) {
			net_reply_hold(reply, argv);
			return;
		}
		char key[32];
		copy_arg(key, &a[1]);
		const char *v = table_get(key);
		if (v)
			resp_add_bulk_str(reply->out, v);
		else
			resp_add_null(reply->out);
	} else if (arg_is(&a[0], "BIG") && argv->argc == 2) {
		char num[32];
		copy_arg(num, &a[1]); /* arguments are not NUL-terminated */
		size_t n = (size_t)strtoull(num, NULL, 10);
		fx->bigs++;
		char *buf = malloc(n);
		memset(buf, 'b', n);
		resp_add_bulk(reply->out, buf, n);
		free(buf);
	} else {
		resp_add_error(reply->out, "ERR unknown");
	}
}

/* Applies deferred writes after their turns, oldest first. */
static int writer_poll(void *arg)
{
	(void)arg;
	int done = 0;
	for (int i = 0; i < fx->nwrites; i++) {
		struct pending_write *w = &fx->writes[i];
		if (w->req == NULL || --w->turns_left > 0)
			continue;
		table_set(w->key, w->value);
		resp_add_simple(net_req_out(w->req), "OK");
		net_req_finish(w->req);
		w->req = NULL;
		done++;
	}
	if (done > 0) {
		int j = 0;
		for (int i = 0; i < fx->nwrites; i++)
			if (fx->writes[i].req != NULL)
				fx->writes[j++] = fx->writes[i];
		fx->nwrites = j;
	}
	return done;
}

static uint16_t port_next = 17900;

static int setup(void **state, uint32_t clients_max, uint32_t recv_bufs, uint64_t output_max)
{
	fx = calloc(1, sizeof(*fx));
	struct loop_config lc = { .id = 0, .idle_spin_us = 1000 };
	fx->loop = loop_create(&lc);
	assert_non_null(fx->loop);
	struct net_config nc;
	net_config_default(&nc);
	nc.clients_max = clients_max;
	nc.recv_bufs = recv_bufs;
	nc.output_bytes_max = output_max;
	struct net_handler h = { .dispatch = handle, .ctx = NULL };
	for (int tries = 0; tries < 50 && fx->nl == NULL; tries++) {
		nc.port = port_next++;
		fx->nl = net_loop_create(fx->loop, &nc, &h);
	}
	assert_non_null(fx->nl);
	fx->port = nc.port;
	loop_poller_add(fx->loop, &fx->writer, "writer", writer_poll, NULL);
	*state = fx;
	return 0;
}

static int setup_default(void **state)
{
	return setup(state, 1000, 1024, 1ull << 30);
}

static int teardown(void **state)
{
	(void)state;
	net_loop_shutdown(fx->nl);
	for (int i = 0; i < 1000 && !net_loop_idle(fx->nl); i++)
		loop_run_once(fx->loop);
	assert_true(net_loop_idle(fx->nl));
	loop_poller_remove(fx->loop, &fx->writer);
	net_loop_destroy(fx->nl);
	loop_destroy(fx->loop);
	free(fx);
	return 0;
}

static int client_connect(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(fx->port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void client_send(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;
	while (off < len) {
		ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);
		if (n > 0)
			off += (size_t)n;
		else
			loop_run_once(fx->loop);
	}
}

/* Runs the loop until `want` bytes arrived (or the peer closed), within 5 s. */
static size_t client_read(int fd, char *buf, size_t want, bool *closed)
{
	size_t got = 0;
	uint64_t deadline = time_mono_ns() + 5 * NS_PER_SEC;
	*closed = false;
	while (got < want && time_mono_ns() < deadline) {
		loop_run_once(fx->loop);
		ssize_t n = recv(fd, buf + got, want - got, 0);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0) {
			*closed = true;
			break;
		}
	}
	return got;
}

static void expect_reply(int fd, const char *expect)
{
	size_t len = strlen(expect);
	char *buf = calloc(1, len + 1);
	bool closed;
	size_t got = client_read(fd, buf, len, &closed);
	if (got != len || memcmp(buf, expect, len) != 0)
		fail_msg("expected '%s' got %zu bytes '%.*s'", expect, got, (int)got, buf);
	free(buf);
}

static void expect_closed(int fd)
{
	char buf[256];
	bool closed = false;
	uint64_t deadline = time_mono_ns() + 5 * NS_PER_SEC;
	while (!closed && time_mono_ns() < deadline)
		client_read(fd, buf, sizeof(buf), &closed);
	assert_true(closed);
}

static void test_request_reply_and_pipelining(void **state)
{
	(void)state;
	int fd = client_connect();
	client_send(fd, "PING\r\n");
	expect_reply(fd, "+PONG\r\n");
	client_send(fd, "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\nNOPE\r\n");
	expect_reply(fd, "+PONG\r\n$-1\r\n-ERR unknown\r\n");
	/* A command split across sends. */
	client_send(fd, "*2\r\n$3\r\nGE");
	loop_run_once(fx->loop);
	client_send(fd, "T\r\n$1\r\nx\r");
	loop_run_once(fx->loop);
	client_send(fd, "\n");
	expect_reply(fd, "$-1\r\n");
	close(fd);
}

static void test_replies_stay_in_order_and_reads_wait_for_writes(void **state)
{
	(void)state;
	int fd = client_connect();
	/* The write finishes two turns later; the GET after it must see it, and PING after
	 * both must come last. */
	client_send(fd, "SETW k v1\r\nGET k\r\nPING\r\nSETW k v2\r\nSETW j w\r\nGET k\r\nGET j\r\n");
	expect_reply(fd, "+OK\r\n$2\r\nv1\r\n+PONG\r\n+OK\r\n+OK\r\n$2\r\nv2\r\n$1\r\nw\r\n");
	close(fd);
}

static void test_protocol_error_closes_after_earlier_replies(void **state)
{
	(void)state;
	int fd = client_connect();
	client_send(fd, "SETW a 1\r\n*1\r\n$-9\r\nPING\r\n");
	expect_reply(fd, "+OK\r\n-ERR Protocol error: invalid bulk length\r\n");
	expect_closed(fd);
	close(fd);
	int fd2 = client_connect();
	client_send(fd2, "GET a\r\n");
	expect_reply(fd2, "$1\r\n1\r\n");
	close(fd2);
}

static void test_close_with_work_in_flight(void **state)
{
	(void)state;
	for (int i = 0; i < 20; i++) {
		int fd = client_connect();
		client_send(fd, "SETW gone 1\r\nGET gone\r\nSETW gone 2\r\n");
		loop_run_once(fx->loop);
		close(fd);
	}
	for (int i = 0; i < 50; i++)
		loop_run_once(fx->loop);
	struct net_stats st;
	net_loop_stats(fx->nl, &st);
	assert_int_equal(st.connected, 0);
	assert_int_equal(st.closed, 20);
	assert_string_equal(table_get("gone"), "2");
}

static int setup_small_limits(void **state)
{
	return setup(state, 3, 16, 256 * 1024);
}

static void test_client_limit(void **state)
{
	(void)state;
	int fds[3];
	for (int i = 0; i < 3; i++) {
		fds[i] = client_connect();
		client_send(fds[i], "PING\r\n");
		expect_reply(fds[i], "+PONG\r\n");
	}
	int extra = client_connect();
	expect_reply(extra, "-ERR max number of clients reached\r\n");
	expect_closed(extra);
	close(extra);
	close(fds[0]);
	for (int i = 0; i < 20; i++)
		loop_run_once(fx->loop);
	int again = client_connect();
	client_send(again, "PING\r\n");
	expect_reply(again, "+PONG\r\n");
	close(again);
	close(fds[1]);
	close(fds[2]);
}

static void test_output_limit_closes(void **state)
{
	(void)state;
	int fd = client_connect();
	client_send(fd, "BIG 100\r\n");
	char buf[200];
	bool closed;
	assert_int_equal(client_read(fd, buf, 107, &closed), 107);
	client_send(fd, "BIG 1000000\r\n");
	expect_closed(fd);
	close(fd);
	struct net_stats st;
	net_loop_stats(fx->nl, &st);
	assert_int_equal(st.output_limit_closes, 1);
}

static void send_writes_then_bigs(int fd, int bigs)
{
	size_t len = 16 + (size_t)bigs * 12 + 1;
	char *cmds = malloc(len);
	size_t off = (size_t)snprintf(cmds, len, "SETW a 1\r\n");
	for (int i = 0; i < bigs; i++)
		off += (size_t)snprintf(cmds + off, len - off, "BIG 100000\r\n");
	client_send(fd, cmds);
	free(cmds);
}

/* Found by the bad-clients test: replies finished behind a deferred request (reads passing
 * a slow read) did not count toward the output, so a client that pipelined reads and never
 * read the replies made the node hold thousands of them before the limit saw any. */
static void test_output_limit_counts_queued_replies(void **state)
{
	(void)state;
	int fd = client_connect();
	send_writes_then_bigs(fd, 60); /* 6 MB of replies behind a deferred write */
	expect_closed(fd);
	close(fd);
	assert_in_range(fx->bigs, 1, 256 * 1024 / 100000 + 2);
	struct net_stats st;
	net_loop_stats(fx->nl, &st);
	assert_int_equal(st.output_limit_closes, 1);
}

/* Under a large limit, queued replies pause reading at NET_OUTPUT_PAUSE_BYTES, and reading
 * resumes as they drain: every reply arrives, in order. */
static void test_queued_replies_pause_and_resume(void **state)
{
	(void)state;
	int fd = client_connect();
	send_writes_then_bigs(fd, 100);
	size_t one = 9 + 100000 + 2, want = 5 + 100 * one;
	char *buf = malloc(want);
	bool closed;
	size_t got = 0;
	uint64_t deadline = time_mono_ns() + 20 * NS_PER_SEC;
	while (got < want && time_mono_ns() < deadline)
		got += client_read(fd, buf + got, want - got, &closed);
	assert_int_equal(got, want);
	assert_memory_equal(buf, "+OK\r\n$100000\r\nbbbb", 18);
	assert_memory_equal(buf + want - one, "$100000\r\nbbbb", 13);
	assert_int_equal(fx->bigs, 100);
	free(buf);
	close(fd);
}

static void test_buffer_ring_exhaustion(void **state)
{
	(void)state;
	/* 16 receive buffers; three connections each send a stream of commands at once, in
	 * pieces, more often than buffers come back within one turn. */
	int fds[3];
	for (int i = 0; i < 3; i++)
		fds[i] = client_connect();
	for (int round = 0; round < 200; round++)
		for (int i = 0; i < 3; i++)
			client_send(fds[i], "PING\r\n");
	char *want = malloc(200 * 7 + 1);
	for (int r = 0; r < 200; r++)
		memcpy(want + r * 7, "+PONG\r\n", 7);
	want[200 * 7] = '\0';
	for (int i = 0; i < 3; i++)
		expect_reply(fds[i], want);
	free(want);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_request_reply_and_pipelining, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_replies_stay_in_order_and_reads_wait_for_writes,
						setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_protocol_error_closes_after_earlier_replies,
						setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_close_with_work_in_flight, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_client_limit, setup_small_limits, teardown),
		cmocka_unit_test_setup_teardown(test_output_limit_closes, setup_small_limits, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_ring_exhaustion, setup_small_limits, teardown),
		cmocka_unit_test_setup_teardown(test_output_limit_counts_queued_replies,
						setup_small_limits, teardown),
		cmocka_unit_test_setup_teardown(test_queued_replies_pause_and_resume, setup_default,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
