/* Two DPDK transports joined by rings, end to end: messages of every size both ways, a
 * pipeline of many, and (this test links the fault-hook build of the driver) loss,
 * duplication, delay and reordering set at run time or from the environment, with every
 * message that arrives arriving whole. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "base/crc.h"
#include "fixture.h"

#define NODE_A 1
#define NODE_B 2

struct pair {
	uint16_t pa, pb;
	struct rte_ring *rings[2];
	struct dpdk_port *a, *b;
	struct xport *xa, *xb;
	struct fx_recorder ra, rb;
};

static int setup_timeout(void **state, uint64_t reasm_timeout_ns)
{
	static unsigned n;
	char name[32];
	snprintf(name, sizeof(name), "pair%u", n++);
	struct pair *p = calloc(1, sizeof(*p));
	fx_pair_create(&p->pa, &p->pb, name, 1, p->rings);
	const uint16_t pa_peers[] = { NODE_B }, pb_peers[] = { NODE_A };
	struct dpdk_port_config ca = fx_config(p->pa, NODE_A, 1, pa_peers, 1, 0);
	struct dpdk_port_config cb = fx_config(p->pb, NODE_B, 1, pb_peers, 1, 0);
	ca.fault_seed = cb.fault_seed = 42;
	ca.reasm.timeout_ns = cb.reasm.timeout_ns = reasm_timeout_ns;
	p->a = dpdk_port_create(&ca);
	p->b = dpdk_port_create(&cb);
	assert_true(p->a != NULL && p->b != NULL);
	p->xa = dpdk_xport_create(p->a, 0, fx_recv, &p->ra);
	p->xb = dpdk_xport_create(p->b, 0, fx_recv, &p->rb);
	assert_true(p->xa != NULL && p->xb != NULL);
	*state = p;
	return 0;
}

/* Generous: a loaded host (or an ASan build) may pause between a message's fragments. */
static int setup(void **state)
{
	return setup_timeout(state, 2000ull * 1000 * 1000);
}

/* Short, for the test that waits for incomplete messages to expire. */
static int setup_short_expiry(void **state)
{
	return setup_timeout(state, 20ull * 1000 * 1000);
}

static int teardown(void **state)
{
	struct pair *p = *state;
	if (p->xa != NULL)
		p->xa->ops->destroy(p->xa);
	if (p->xb != NULL)
		p->xb->ops->destroy(p->xb);
	dpdk_port_destroy(p->a);
	dpdk_port_destroy(p->b);
	fx_rings_free(p->rings, 2);
	free(p);
	return 0;
}

/* Runs loop turns on both sides: poll, then flush. */
static void pump(struct pair *p, unsigned turns)
{
	for (unsigned i = 0; i < turns; i++) {
		xport_poll(p->xa);
		xport_poll(p->xb);
		xport_flush(p->xa);
		xport_flush(p->xb);
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static void test_every_size_both_ways(void **state)
{
	struct pair *p = *state;
	const uint32_t sizes[] = { 0, 1, 100, 1423, 1424, 1425, 4096, 65536, 1u << 20,
				   XPORT_MSG_BYTES_MAX };
	uint8_t *msg = malloc(XPORT_MSG_BYTES_MAX);
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		fx_msg_fill(msg, sizes[i], (unsigned)i);
		uint16_t lane = (uint16_t)(i % FX_LANES);
		assert_int_equal(xport_send(p->xa, NODE_B, lane, msg, sizes[i]), 0);
		assert_int_equal(xport_send(p->xb, NODE_A, lane, msg, sizes[i]), 0);
		pump(p, 200);
		assert_int_equal(p->rb.count, i + 1);
		assert_int_equal(p->ra.count, i + 1);
		const struct fx_record *rb = &p->rb.r[i], *ra = &p->ra.r[i];
		assert_int_equal(rb->src, NODE_A);
		assert_int_equal(ra->src, NODE_B);
		assert_int_equal(rb->lane, lane);
		assert_int_equal(rb->len, sizes[i]);
		assert_int_equal(ra->len, sizes[i]);
		assert_int_equal(rb->crc, crc32c(msg, sizes[i]));
		assert_int_equal(ra->crc, crc32c(msg, sizes[i]));
	}
	free(msg);
	struct dpdk_xport_stats s;
	dpdk_xport_stats_get(p->xb, &s);
	assert_int_equal(s.xport.rx_msgs, ARRAY_SIZE(sizes));
	assert_int_equal(s.xport.rx_drop_reassembly + s.xport.rx_drop_checksum +
			 s.xport.rx_drop_malformed + s.xport.rx_drop_foreign, 0);
	assert_int_equal(s.reasm.frames_held, 0);
}

static void test_pipeline_of_many(void **state)
{
	struct pair *p = *state;
	static uint8_t msg[20000];
	unsigned seed = 3, sent = 0;
	uint32_t crcs[FX_RECORDS_MAX];
	while (sent < FX_RECORDS_MAX) {
		uint32_t len = (uint32_t)rand_r(&seed) % sizeof(msg);
		fx_msg_fill(msg, len, sent);
		crcs[sent] = crc32c(msg, len);
		assert_int_equal(xport_send(p->xa, NODE_B, (uint16_t)(sent % FX_LANES), msg, len), 0);
		sent++;
		if (sent % 8 == 0)
			pump(p, 1);
	}
	pump(p, 50);
	assert_int_equal(p->rb.count, sent);
	for (unsigned i = 0; i < sent; i++)
		assert_int_equal(p->rb.r[i].crc, crcs[i]); /* rings keep order, so does the driver */
}

static void test_loss_and_duplication(void **state)
{
	struct pair *p = *state;
	static uint8_t msg[7000];
	fx_msg_fill(msg, sizeof(msg), 5);
	assert_int_equal(xport_faults_set(p->xa, "peer=2,loss_ppm=1000000"), 0);
	assert_int_equal(xport_send(p->xa, NODE_B, 0, msg, 100), 0);
	assert_int_equal(xport_send(p->xa, NODE_B, 0, msg, sizeof(msg)), 0);
	pump(p, 10);
	assert_int_equal(p->rb.count, 0);
	struct dpdk_xport_stats s;
	dpdk_xport_stats_get(p->xa, &s);
	assert_int_equal(s.fault_lost, 1 + 5);
	/* Every frame twice: a one-frame message arrives twice, a five-frame one once. */
	assert_int_equal(xport_faults_set(p->xa, "off;peer=2,dup_ppm=1000000"), 0);
	assert_int_equal(xport_send(p->xa, NODE_B, 1, msg, 100), 0);
	assert_int_equal(xport_send(p->xa, NODE_B, 1, msg, sizeof(msg)), 0);
	pump(p, 10);
	assert_int_equal(p->rb.count, 3);
	assert_int_equal(p->rb.r[0].len, 100);
	assert_int_equal(p->rb.r[1].len, 100);
	assert_int_equal(p->rb.r[2].crc, crc32c(msg, sizeof(msg)));
	dpdk_xport_stats_get(p->xb, &s);
	assert_int_equal(s.reasm.frags_dup + s.reasm.frags_late, 5);
	/* A bad spec changes nothing. */
	assert_int_equal(xport_faults_set(p->xa, "peer=2,loss_ppm=2000000"), -EINVAL);
	assert_int_equal(xport_faults_set(p->xa, "off"), 0);
	assert_int_equal(xport_send(p->xa, NODE_B, 1, msg, 100), 0);
	pump(p, 2);
	assert_int_equal(p->rb.count, 4);
}

static void test_delay_and_reordering(void **state)
{
	struct pair *p = *state;
	uint8_t msg[64];
	assert_int_equal(xport_faults_set(p->xa, "peer=2,delay_us=30000"), 0);
	fx_msg_fill(msg, sizeof(msg), 1);
	assert_int_equal(xport_send(p->xa, NODE_B, 0, msg, sizeof(msg)), 0);
	pump(p, 5);
	assert_int_equal(p->rb.count, 0);
	sleep_ms(40);
	pump(p, 2);
	assert_int_equal(p->rb.count, 1);
	/* Half the frames held back 3 ms: later ones overtake them, and all arrive. */
	assert_int_equal(xport_faults_set(p->xa, "off;peer=2,reorder_ppm=500000,reorder_us=3000"),
			 0);
	for (unsigned i = 0; i < 100; i++) {
		fx_msg_fill(msg, sizeof(msg), 100 + i);
		assert_int_equal(xport_send(p->xa, NODE_B, 0, msg, sizeof(msg)), 0);
	}
	pump(p, 2);
	sleep_ms(10);
	pump(p, 2);
	assert_int_equal(p->rb.count, 101);
	unsigned inversions = 0;
	for (unsigned i = 1; i < 100; i++) {
		fx_msg_fill(msg, sizeof(msg), 100 + i - 1);
		inversions += p->rb.r[i].crc != crc32c(msg, sizeof(msg));
	}
	assert_true(inversions > 10);
	struct dpdk_xport_stats s;
	dpdk_xport_stats_get(p->xa, &s);
	assert_in_range(s.fault_reordered, 25, 75);
}

static void test_lossy_link_never_delivers_a_wrong_message(void **state)
{
	struct pair *p = *state;
	static uint8_t msg[30000];
	assert_int_equal(xport_faults_set(p->xa, "seed=7;peer=2,loss_ppm=50000,dup_ppm=50000,"
					  "reorder_ppm=100000,reorder_us=500"), 0);
	uint32_t crcs[200];
	for (unsigned i = 0; i < 200; i++) {
		uint32_t len = 1 + (i * 7919) % sizeof(msg);
		fx_msg_fill(msg, len, i);
		crcs[i] = crc32c(msg, len);
		assert_int_equal(xport_send(p->xa, NODE_B, (uint16_t)(i % FX_LANES), msg, len), 0);
		pump(p, 1);
	}
	/* Held frames come out after the first sleep; what they started expires after the second. */
	for (int i = 0; i < 2; i++) {
		sleep_ms(30);
		pump(p, 3);
	}
	assert_true(p->rb.count > 20 && p->rb.count < FX_RECORDS_MAX);
	for (unsigned r = 0; r < p->rb.count; r++) {
		bool known = false;
		for (unsigned i = 0; i < 200 && !known; i++)
			known = p->rb.r[r].crc == crcs[i];
		assert_true(known);
	}
	struct dpdk_xport_stats s;
	dpdk_xport_stats_get(p->xb, &s);
	assert_true(s.xport.rx_drop_reassembly > 0);
	assert_int_equal(s.reasm.frames_held, 0);
	assert_int_equal(s.xport.rx_drop_checksum + s.xport.rx_drop_malformed, 0);
}

static void test_faults_from_the_environment(void **state)
{
	struct pair *p = *state;
	p->xa->ops->destroy(p->xa);
	setenv("SPINDLE_XPORT_FAULTS", "peer=2,bogus=1", 1);
	p->xa = dpdk_xport_create(p->a, 0, fx_recv, &p->ra);
	assert_null(p->xa);
	setenv("SPINDLE_XPORT_FAULTS", "peer=2,loss_ppm=1000000", 1);
	p->xa = dpdk_xport_create(p->a, 0, fx_recv, &p->ra);
	unsetenv("SPINDLE_XPORT_FAULTS");
	assert_non_null(p->xa);
	uint8_t msg[10] = { 0 };
	assert_int_equal(xport_send(p->xa, NODE_B, 0, msg, sizeof(msg)), 0);
	pump(p, 3);
	assert_int_equal(p->rb.count, 0);
	assert_int_equal(xport_send(p->xb, NODE_A, 0, msg, sizeof(msg)), 0);
	pump(p, 3);
	assert_int_equal(p->ra.count, 1); /* only frames to node 2 are lost */
}

int main(void)
{
	fx_eal_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_size_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_of_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loss_and_duplication, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delay_and_reordering, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lossy_link_never_delivers_a_wrong_message, setup_short_expiry,
						teardown),
		cmocka_unit_test_setup_teardown(test_faults_from_the_environment, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
