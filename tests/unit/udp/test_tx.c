/* The UDP transport's send side, read by plain sockets standing where the peer would be:
 * what each datagram carries, fragments that make the message again, one SQE per datagram
 * submitted by the loop's turn, errors, and slots running out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "base/crc.h"
#include "frame/reasm.h"
#include "loop/loop.h"
#include "ufix.h"

#define SELF 1
#define PEER 2

struct tx_fixture {
	struct loop *loop;
	struct xport *x;
	int peer_fd[UFX_LANES];
	struct ufx_recorder rec;
};

static int setup_mtu(void **state, uint32_t mtu, uint32_t tx_slots)
{
	struct tx_fixture *f = calloc(1, sizeof(*f));
	f->loop = ufx_loop(0);
	const uint16_t peers[] = { PEER };
	struct udp_xport_config c = ufx_config(f->loop, SELF, peers, 1);
	c.mtu = mtu;
	c.tx_slots = tx_slots;
	f->x = udp_xport_create(&c, ufx_recv, &f->rec);
	assert_non_null(f->x);
	for (unsigned l = 0; l < UFX_LANES; l++)
		f->peer_fd[l] = ufx_socket(UFX_IP(PEER), (uint16_t)(UFX_PORT_BASE + l));
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_mtu(state, 1500, 0);
}

static int setup_jumbo_few_slots(void **state)
{
	/* 65 datagrams carry a largest message at this MTU: exactly one fits. */
	return setup_mtu(state, 65535, 65);
}

static int teardown(void **state)
{
	struct tx_fixture *f = *state;
	f->x->ops->destroy(f->x);
	ufx_turn(&f->loop, 1, 5); /* the loop hands back what was in flight; then it is freed */
	loop_destroy(f->loop);
	for (unsigned l = 0; l < UFX_LANES; l++)
		close(f->peer_fd[l]);
	free(f);
	return 0;
}

static const struct frame_filter peer_filter = {
	.cluster_id = UFX_CLUSTER, .self_node = PEER, .lanes = UFX_LANES, .peers_mask = 1u << SELF,
};

static void release_free(void *ctx, void *token)
{
	(void)ctx;
	free(token);
}

/* Reads n datagrams from the peer's socket of a lane and reassembles what they carry. */
static void peer_read(struct tx_fixture *f, unsigned lane, unsigned n, struct ufx_recorder *rec)
{
	struct frame_reasm_config rc = { .release = release_free };
	struct frame_reasm *r = frame_reasm_create(&rc);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *buf = malloc(65536);
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(f->peer_fd[lane], buf, 65536, 0, (struct sockaddr *)&from, &fl);
		assert_true(len > 0);
		assert_int_equal(ntohl(from.sin_addr.s_addr), UFX_IP(SELF));
		struct frame_hdr h;
		assert_int_equal(frame_hdr_decode(buf, (size_t)len, &peer_filter, &h), FRAME_RX_OK);
		assert_int_equal(h.lane, lane);
		if (h.frag_count == 1) {
			ufx_recv(rec, h.src_node, h.lane, buf + FRAME_HDR_BYTES, h.frag_len);
			free(buf);
		} else {
			frame_reasm_add(r, &h, buf + FRAME_HDR_BYTES, buf, 0, ufx_recv, rec);
		}
	}
	frame_reasm_destroy(r);
}

static void test_datagrams_on_the_wire(void **state)
{
	struct tx_fixture *f = *state;
	static uint8_t msg[10000];
	ufx_msg_fill(msg, sizeof(msg), 1);
	assert_int_equal(xport_send(f->x, PEER, 2, msg, 300), 0);
	assert_int_equal(xport_send(f->x, PEER, 3, msg, sizeof(msg)), 0);
	/* Nothing leaves before the loop submits; the flush reports the batch. */
	uint8_t probe[16];
	assert_int_equal(recv(f->peer_fd[2], probe, sizeof(probe), MSG_DONTWAIT), -1);
	uint32_t n = frame_frag_count(sizeof(msg), frame_stride_bytes(1500));
	assert_int_equal(xport_flush(f->x), 1 + n);
	ufx_turn(&f->loop, 1, 2);
	assert_int_equal(udp_xport_inflight(f->x), 0);
	struct ufx_recorder rec = { 0 };
	peer_read(f, 2, 1, &rec);
	peer_read(f, 3, n, &rec);
	assert_int_equal(rec.count, 2);
	assert_int_equal(rec.r[0].len, 300);
	assert_int_equal(rec.r[0].crc, crc32c(msg, 300));
	assert_int_equal(rec.r[1].crc, crc32c(msg, sizeof(msg)));
	struct udp_xport_stats s;
	udp_xport_stats_get(f->x, &s);
	assert_int_equal(s.xport.tx_msgs, 2);
	assert_int_equal(s.xport.tx_frames, 1 + n);
	assert_int_equal(s.tx_errors, 0);
}

static void test_errors(void **state)
{
	struct tx_fixture *f = *state;
	uint8_t msg[8] = { 0 };
	assert_int_equal(xport_send(f->x, PEER, 0, msg, XPORT_MSG_BYTES_MAX + 1), -EMSGSIZE);
	assert_int_equal(xport_send(f->x, 3, 0, msg, 8), -EHOSTUNREACH);
	assert_int_equal(xport_send(f->x, SELF, 0, msg, 8), -EHOSTUNREACH);
	assert_int_equal(xport_send(f->x, XPORT_NODES_MAX, 0, msg, 8), -EHOSTUNREACH);
#ifdef SPINDLE_FAULT_HOOKS
	assert_int_equal(xport_faults_set(f->x, "off"), 0);
#else
	assert_int_equal(xport_faults_set(f->x, "off"), -ENOTSUP);
#endif
}

static void test_slots_run_out_whole_messages_refused(void **state)
{
	struct tx_fixture *f = *state;
	uint8_t *msg = malloc(XPORT_MSG_BYTES_MAX);
	ufx_msg_fill(msg, XPORT_MSG_BYTES_MAX, 2);
	assert_int_equal(xport_send(f->x, PEER, 1, msg, XPORT_MSG_BYTES_MAX), 0);
	/* Every slot is taken until the loop has sent them: refused whole, counted. */
	assert_int_equal(xport_send(f->x, PEER, 1, msg, 1), -ENOBUFS);
	struct xport_stats s;
	f->x->ops->stats(f->x, &s);
	assert_int_equal(s.tx_dropped, 1);
	xport_flush(f->x);
	ufx_turn(&f->loop, 1, 3);
	assert_int_equal(udp_xport_inflight(f->x), 0);
	struct ufx_recorder rec = { 0 };
	peer_read(f, 1, 65, &rec);
	assert_int_equal(rec.count, 1);
	assert_int_equal(rec.r[0].len, XPORT_MSG_BYTES_MAX);
	assert_int_equal(rec.r[0].crc, crc32c(msg, XPORT_MSG_BYTES_MAX));
	assert_int_equal(xport_send(f->x, PEER, 1, msg, 1), 0);
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_datagrams_on_the_wire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots_run_out_whole_messages_refused,
						setup_jumbo_few_slots, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
