/* The UDP transport's receive side, fed crafted datagrams from plain sockets: whole
 * messages delivered, every kind of foreign or corrupt datagram counted and dropped, the
 * provided buffers running out and the receive starting again, and reassembly timeouts
 * giving their buffers back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/crc.h"
#include "loop/loop.h"
#include "ufix.h"

#define SELF 1
#define PEER 2
#define STRIDE 1424

struct rx_fixture {
	struct loop *loop;
	struct xport *x;
	int peer_fd;     /* at the peer's address */
	int stranger_fd; /* at an address no node has */
	struct ufx_recorder rec;
};

static int setup_with(void **state, uint32_t rx_buffers, uint64_t timeout_ns)
{
	struct rx_fixture *f = calloc(1, sizeof(*f));
	f->loop = ufx_loop(0);
	const uint16_t peers[] = { PEER };
	struct udp_xport_config c = ufx_config(f->loop, SELF, peers, 1);
	c.rx_buffers = rx_buffers;
	c.tx_slots = 4096;
	c.reasm.timeout_ns = timeout_ns;
	if (rx_buffers != 0)
		c.reasm.frames_max = rx_buffers / 2;
	f->x = udp_xport_create(&c, ufx_recv, &f->rec);
	assert_non_null(f->x);
	f->peer_fd = ufx_socket(UFX_IP(PEER), 17790);
	f->stranger_fd = ufx_socket(UFX_IP(9), 17790);
	ufx_turn(&f->loop, 1, 1); /* submits the receives */
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 0, 20 * 1000 * 1000);
}

static int teardown(void **state)
{
	struct rx_fixture *f = *state;
	f->x->ops->destroy(f->x);
	ufx_turn(&f->loop, 1, 5);
	loop_destroy(f->loop);
	close(f->peer_fd);
	close(f->stranger_fd);
	free(f);
	return 0;
}

static void send_to_lane(int fd, unsigned lane, const void *buf, size_t len)
{
	ufx_sendto(fd, UFX_IP(SELF), (uint16_t)(UFX_PORT_BASE + lane), buf, len);
}

/* Loop turns as the loop module runs them: the transport's poller, the turn, its flusher. */
static void rx_turn(struct rx_fixture *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		xport_poll(f->x);
		loop_run_once(f->loop);
		xport_flush(f->x);
	}
}

/* Turns the loop until n more datagrams were handled, or a second passes. */
static void turn_until(struct rx_fixture *f, uint64_t frames)
{
	for (int i = 0; i < 1000; i++) {
		struct xport_stats s;
		f->x->ops->stats(f->x, &s);
		if (s.rx_frames >= frames)
			return;
		rx_turn(f, 1);
		if (i > 10)
			ufx_sleep_ms(1);
	}
	fail_msg("fewer than %lu datagrams arrived", (unsigned long)frames);
}

static void test_messages_delivered_whole(void **state)
{
	struct rx_fixture *f = *state;
	uint8_t frame[2048];
	static uint8_t msg[5000];
	ufx_msg_fill(msg, sizeof(msg), 1);
	size_t len = ufx_frame_build(frame, PEER, SELF, 1, 1, msg, 200, 0, STRIDE);
	send_to_lane(f->peer_fd, 1, frame, len);
	const uint32_t order[] = { 3, 1, 1, 2, 0 };
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		len = ufx_frame_build(frame, PEER, SELF, 3, 2, msg, sizeof(msg), order[i], STRIDE);
		send_to_lane(f->peer_fd, 3, frame, len);
	}
	turn_until(f, 6);
	assert_int_equal(f->rec.count, 2);
	assert_int_equal(f->rec.r[0].lane + f->rec.r[1].lane, 4);
	for (unsigned i = 0; i < 2; i++) {
		const struct ufx_record *r = &f->rec.r[i];
		assert_int_equal(r->src, PEER);
		assert_int_equal(r->crc, crc32c(msg, r->lane == 1 ? 200 : sizeof(msg)));
	}
	struct udp_xport_stats s;
	udp_xport_stats_get(f->x, &s);
	assert_int_equal(s.reasm.frags_dup, 1);
	assert_int_equal(s.reasm.frames_held, 0);
}

static void reseal(uint8_t *b, size_t len)
{
	uint32_t crc = crc32c_extend(crc32c(b, FRAME_HDR_CRC_OFFSET), b + FRAME_HDR_BYTES,
				     len - FRAME_HDR_BYTES);
	frame_put_le32(b + FRAME_HDR_CRC_OFFSET, crc);
}

static void test_foreign_and_corrupt_counted(void **state)
{
	struct rx_fixture *f = *state;
	uint8_t good[512], b[3000];
	uint8_t msg[100];
	ufx_msg_fill(msg, sizeof(msg), 2);
	size_t len = ufx_frame_build(good, PEER, SELF, 0, 9, msg, sizeof(msg), 0, STRIDE);
#define SEND(stmt, l, lane) do { memcpy(b, good, len); stmt; send_to_lane(f->peer_fd, lane, b, l); } while (0)
	SEND(b[0] = 'X', len, 0);                                                /* foreign */
	SEND((frame_put_le32(b + 8, UFX_CLUSTER + 1), reseal(b, len)), len, 0);   /* foreign */
	SEND(b[4] = FRAME_VERSION + 1, len, 0);                                  /* version */
	SEND(b[len - 1] ^= 1, len, 0);                                           /* checksum */
	SEND((void)0, len - 1, 0);                                               /* malformed */
	SEND((void)0, len, 1);                            /* malformed: lane 0's frame on lane 1 */
	SEND((frame_put_le16(b + 12, 5), reseal(b, len)), len, 0);  /* malformed: unknown node */
	SEND(memset(b + len, 0, 2000), 2000 + len, 0);    /* malformed: over the MTU's datagram */
#undef SEND
	send_to_lane(f->stranger_fd, 0, good, len); /* foreign: node 2's frame, another address */
	turn_until(f, 9);
	struct xport_stats s;
	f->x->ops->stats(f->x, &s);
	assert_int_equal(s.rx_drop_foreign, 3);
	assert_int_equal(s.rx_drop_version, 1);
	assert_int_equal(s.rx_drop_checksum, 1);
	assert_int_equal(s.rx_drop_malformed, 4);
	assert_int_equal(f->rec.count, 0);
	send_to_lane(f->peer_fd, 0, good, len);
	turn_until(f, 10);
	assert_int_equal(f->rec.count, 1);
}

static void test_buffers_run_out_and_receiving_resumes(void **state)
{
	struct rx_fixture *f = *state;
	uint8_t frame[256], msg[64];
	/* Many more datagrams than the 16 buffers, all waiting in the socket at once. */
	for (unsigned i = 0; i < 3000; i++) {
		ufx_msg_fill(msg, sizeof(msg), i);
		size_t len = ufx_frame_build(frame, PEER, SELF, 2, i, msg, sizeof(msg), 0, STRIDE);
		send_to_lane(f->peer_fd, 2, frame, len);
	}
	turn_until(f, 3000);
	assert_int_equal(f->rec.count, 3000);
	for (unsigned i = 0; i < 3000; i += 499) {
		ufx_msg_fill(msg, sizeof(msg), i);
		assert_int_equal(f->rec.r[i].crc, crc32c(msg, sizeof(msg)));
	}
	struct udp_xport_stats s;
	udp_xport_stats_get(f->x, &s);
	assert_true(s.rx_nobufs >= 1);
	assert_true(s.rx_rearms >= 1);
}

static void test_incomplete_messages_time_out(void **state)
{
	struct rx_fixture *f = *state;
	uint8_t frame[2048];
	static uint8_t msg[4000];
	ufx_msg_fill(msg, sizeof(msg), 3);
	for (uint32_t i = 0; i < 2; i++) {
		size_t len = ufx_frame_build(frame, PEER, SELF, 0, 77, msg, sizeof(msg), i, STRIDE);
		send_to_lane(f->peer_fd, 0, frame, len);
	}
	turn_until(f, 2);
	struct udp_xport_stats s;
	udp_xport_stats_get(f->x, &s);
	assert_int_equal(s.reasm.frames_held, 2);
	ufx_sleep_ms(35);
	rx_turn(f, 2);
	udp_xport_stats_get(f->x, &s);
	assert_int_equal(s.xport.rx_drop_reassembly, 1);
	assert_int_equal(s.reasm.frames_held, 0);
	assert_int_equal(f->rec.count, 0);
}

static int setup_few_buffers(void **state)
{
	return setup_with(state, 16, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_messages_delivered_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_and_corrupt_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffers_run_out_and_receiving_resumes,
						setup_few_buffers, teardown),
		cmocka_unit_test_setup_teardown(test_incomplete_messages_time_out, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
