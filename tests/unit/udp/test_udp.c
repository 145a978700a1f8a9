/* UDP transports end to end on loopback: messages of every size both ways at the default and
 * the loopback MTU, lanes owned by different loops, configurations refused, tearing down
 * with operations in flight, and (this test links the fault-hook build) loss, duplication
 * and delay. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/crc.h"
#include "loop/loop.h"
#include "ufix.h"

#define NODE_A 1
#define NODE_B 2

struct pair {
	struct loop *loops[3];   /* A's, B's first, B's second */
	struct xport *xa, *xb[2];
	struct ufx_recorder ra, rb[2];
	unsigned b_loops;
};

static void pair_open(struct pair *p, uint32_t mtu, unsigned b_loops)
{
	memset(p, 0, sizeof(*p));
	p->b_loops = b_loops;
	for (unsigned i = 0; i < 1 + b_loops; i++)
		p->loops[i] = ufx_loop(i);
	const uint16_t pa[] = { NODE_B }, pb[] = { NODE_A };
	struct udp_xport_config ca = ufx_config(p->loops[0], NODE_A, pa, 1);
	ca.mtu = mtu;
	ca.fault_seed = 9;
	p->xa = udp_xport_create(&ca, ufx_recv, &p->ra);
	assert_non_null(p->xa);
	for (unsigned i = 0; i < b_loops; i++) {
		struct udp_xport_config cb = ufx_config(p->loops[1 + i], NODE_B, pb, 1);
		cb.mtu = mtu;
		cb.loops = (uint16_t)b_loops;
		cb.loop_index = (uint16_t)i;
		cb.reasm.timeout_ns = 2000ull * 1000 * 1000; /* generous: a loaded host pauses */
		p->xb[i] = udp_xport_create(&cb, ufx_recv, &p->rb[i]);
		assert_non_null(p->xb[i]);
	}
}

static void pair_close(struct pair *p)
{
	if (p->xa == NULL)
		return;
	p->xa->ops->destroy(p->xa);
	for (unsigned i = 0; i < p->b_loops; i++)
		p->xb[i]->ops->destroy(p->xb[i]);
	ufx_turn(p->loops, 1 + p->b_loops, 5);
	for (unsigned i = 0; i < 1 + p->b_loops; i++)
		loop_destroy(p->loops[i]);
}

/* Loop turns on every side, as the loop module runs them: flush at the end of the turn. */
static void pump(struct pair *p, unsigned turns)
{
	for (unsigned t = 0; t < turns; t++) {
		xport_poll(p->xa);
		for (unsigned i = 0; i < p->b_loops; i++)
			xport_poll(p->xb[i]);
		xport_flush(p->xa);
		for (unsigned i = 0; i < p->b_loops; i++)
			xport_flush(p->xb[i]);
		ufx_turn(p->loops, 1 + p->b_loops, 1);
	}
}

static void stats_print(const char *who, const struct xport *x)
{
	struct udp_xport_stats s;
	udp_xport_stats_get(x, &s);
	print_message("%s: tx %lu msgs %lu frames, errors %lu; rx %lu msgs %lu frames, "
		      "dropped: reassembly %lu malformed %lu; nobufs %lu rearms %lu\n", who,
		      (unsigned long)s.xport.tx_msgs, (unsigned long)s.xport.tx_frames,
		      (unsigned long)s.tx_errors, (unsigned long)s.xport.rx_msgs,
		      (unsigned long)s.xport.rx_frames, (unsigned long)s.xport.rx_drop_reassembly,
		      (unsigned long)s.xport.rx_drop_malformed, (unsigned long)s.rx_nobufs,
		      (unsigned long)s.rx_rearms);
}

static uint64_t frames_seen(const struct pair *p)
{
	struct xport_stats s;
	p->xa->ops->stats(p->xa, &s);
	uint64_t n = s.rx_frames;
	for (unsigned i = 0; i < p->b_loops; i++) {
		p->xb[i]->ops->stats(p->xb[i], &s);
		n += s.rx_frames;
	}
	return n;
}

static void pump_until(struct pair *p, const unsigned *count, unsigned want)
{
	for (int idle = 0; idle < 200 && *count < want;) {
		uint64_t before = frames_seen(p);
		pump(p, 1);
		if (frames_seen(p) == before) { /* nothing moved: give the kernel a moment */
			ufx_sleep_ms(1);
			idle++;
		}
	}
	if (*count != want) {
		stats_print("A", p->xa);
		for (unsigned i = 0; i < p->b_loops; i++)
			stats_print("B", p->xb[i]);
	}
	assert_int_equal(*count, want);
}

static struct pair the_pair;

static int setup_1500(void **state)
{
	pair_open(&the_pair, 1500, 1);
	*state = &the_pair;
	return 0;
}

static int setup_65535(void **state)
{
	pair_open(&the_pair, 65535, 1);
	*state = &the_pair;
	return 0;
}

static int setup_two_loops(void **state)
{
	pair_open(&the_pair, 1500, 2);
	*state = &the_pair;
	return 0;
}

static int teardown(void **state)
{
	pair_close(*state);
	return 0;
}

static void sizes_both_ways(struct pair *p)
{
	const uint32_t sizes[] = { 0, 1, 1423, 1424, 1425, 4096, 65459, 65460, 1u << 20,
				   XPORT_MSG_BYTES_MAX };
	uint8_t *msg = malloc(XPORT_MSG_BYTES_MAX);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		ufx_msg_fill(msg, sizes[i], (unsigned)i);
		uint16_t lane = (uint16_t)(i % UFX_LANES);
		assert_int_equal(xport_send(p->xa, NODE_B, lane, msg, sizes[i]), 0);
		assert_int_equal(xport_send(p->xb[0], NODE_A, lane, msg, sizes[i]), 0);
		pump_until(p, &p->rb[0].count, (unsigned)i + 1);
		pump_until(p, &p->ra.count, (unsigned)i + 1);
		assert_int_equal(p->rb[0].r[i].len, sizes[i]);
		assert_int_equal(p->rb[0].r[i].lane, lane);
		assert_int_equal(p->rb[0].r[i].src, NODE_A);
		assert_int_equal(p->rb[0].r[i].crc, crc32c(msg, sizes[i]));
		assert_int_equal(p->ra.r[i].crc, crc32c(msg, sizes[i]));
	}
	free(msg);
	struct udp_xport_stats s;
	udp_xport_stats_get(p->xb[0], &s);
	assert_int_equal(s.xport.rx_drop_reassembly + s.xport.rx_drop_malformed +
			 s.xport.rx_drop_checksum + s.xport.rx_drop_foreign, 0);
	assert_int_equal(s.reasm.frames_held, 0);
}

static void test_every_size(void **state)
{
	sizes_both_ways(*state);
}

static void test_lanes_reach_their_loops(void **state)
{
	struct pair *p = *state;
	uint8_t msg[3000];
	for (unsigned i = 0; i < 40; i++) {
		ufx_msg_fill(msg, sizeof(msg), i);
		assert_int_equal(xport_send(p->xa, NODE_B, (uint16_t)(i % UFX_LANES), msg, sizeof(msg)), 0);
	}
	for (int i = 0; i < 500 && p->rb[0].count + p->rb[1].count < 40; i++)
		pump(p, 1);
	assert_int_equal(p->rb[0].count, 20);
	assert_int_equal(p->rb[1].count, 20);
	for (unsigned i = 0; i < 20; i++) {
		assert_int_equal(p->rb[0].r[i].lane % 2, 0); /* lane % loops */
		assert_int_equal(p->rb[1].r[i].lane % 2, 1);
	}
}

static void test_bad_configurations(void **state)
{
	(void)state;
	struct loop *loop = ufx_loop(0);
	const uint16_t peers[] = { NODE_B };
	struct udp_xport_config good = ufx_config(loop, NODE_A, peers, 1), c;
	struct ufx_recorder rec = { 0 };
#define REFUSED(stmt) do { c = good; stmt; assert_null(udp_xport_create(&c, ufx_recv, &rec)); } while (0)
	REFUSED(c.loop = NULL);
	REFUSED(c.lanes = 0);
	REFUSED(c.loop_index = 1);
	REFUSED(c.mtu = 1000);
	REFUSED(c.port_base = 65534);
	REFUSED(c.rx_buffers = 3000);                /* not a power of two */
	REFUSED(c.rx_buffers = 65536);
	REFUSED(c.tx_slots = 100);                   /* cannot hold a largest message */
	REFUSED(c.peers[0].node = NODE_A);
	REFUSED(c.peers[1] = c.peers[0]; c.peers_count = 2);
	REFUSED(c.self_ip = 0x0afffff1u);            /* not an address of this machine */
	const uint16_t map[UFX_LANES] = { 0, 3, 0, 0 };
	REFUSED(c.lane_loop = map);
#undef REFUSED
	/* Two transports cannot share a loop's buffer group, nor a lane's port. */
	struct xport *x = udp_xport_create(&good, ufx_recv, &rec);
	assert_non_null(x);
	c = good;
	c.self_ip = UFX_IP(5);
	assert_null(udp_xport_create(&c, ufx_recv, &rec));
	struct loop *other = ufx_loop(1);
	c = good;
	c.loop = other;
	assert_null(udp_xport_create(&c, ufx_recv, &rec));
	x->ops->destroy(x);
	ufx_turn(&loop, 1, 5);
	loop_destroy(loop);
	loop_destroy(other);
}

static void test_destroy_with_operations_in_flight(void **state)
{
	struct pair *p = *state;
	static uint8_t msg[100000];
	for (int i = 0; i < 5; i++)
		assert_int_equal(xport_send(p->xa, NODE_B, 0, msg, sizeof(msg)), 0);
	assert_true(udp_xport_inflight(p->xa) > 0);
	/* Destroyed with sends prepared and receives armed (by the teardown): freed after the
	 * loop hands them back (ASan's leak check and use-after-free detection watch this). */
}

static void test_faults(void **state)
{
	struct pair *p = *state;
	uint8_t msg[5000];
	ufx_msg_fill(msg, sizeof(msg), 1);
	assert_int_equal(xport_faults_set(p->xa, "peer=2,loss_ppm=1000000"), 0);
	assert_int_equal(xport_send(p->xa, NODE_B, 0, msg, 100), 0);
	pump(p, 10);
	assert_int_equal(p->rb[0].count, 0);
	assert_int_equal(xport_faults_set(p->xa, "off;peer=2,dup_ppm=1000000"), 0);
	assert_int_equal(xport_send(p->xa, NODE_B, 0, msg, 100), 0);
	assert_int_equal(xport_send(p->xa, NODE_B, 0, msg, sizeof(msg)), 0);
	pump_until(p, &p->rb[0].count, 3);
	pump(p, 5);
	assert_int_equal(p->rb[0].count, 3); /* the small one twice, the large one once */
	assert_int_equal(p->rb[0].r[2].crc, crc32c(msg, sizeof(msg)));
	assert_int_equal(xport_faults_set(p->xa, "off;peer=2,delay_us=30000"), 0);
	assert_int_equal(xport_send(p->xa, NODE_B, 1, msg, 10), 0);
	pump(p, 5);
	assert_int_equal(p->rb[0].count, 3);
	ufx_sleep_ms(35);
	pump_until(p, &p->rb[0].count, 4);
	assert_int_equal(xport_faults_set(p->xa, "peer=2,loss_ppm=x"), -EINVAL);
	struct udp_xport_stats s;
	udp_xport_stats_get(p->xa, &s);
	assert_int_equal(s.fault_lost, 1);
	assert_int_equal(s.fault_duplicated, 1 + 4);
	assert_int_equal(s.fault_delayed, 1);
	/* Held frames are given back when the transport goes (in the teardown). */
	assert_int_equal(xport_send(p->xa, NODE_B, 1, msg, 10), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_size, setup_1500, teardown),
		cmocka_unit_test_setup_teardown(test_every_size, setup_65535, teardown),
		cmocka_unit_test_setup_teardown(test_lanes_reach_their_loops, setup_two_loops,
						teardown),
		cmocka_unit_test(test_bad_configurations),
		cmocka_unit_test_setup_teardown(test_destroy_with_operations_in_flight, setup_1500,
						teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup_1500, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
