/* The simulated network: delivery within the delay bounds, loss and duplication at about
 * the configured rates, partitions one way or both (also for messages in flight), planes
 * independent, healing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sim/net.h"

static unsigned got[SIM_NET_PLANES][4][4];
static uint64_t got_at[1024];
static unsigned n_got;

static void deliver(void *ctx, enum sim_plane plane, unsigned src, unsigned dst,
		    const uint8_t *bytes, size_t len)
{
	struct sim_sched *s = ctx;
	assert_int_equal(len, 5);
	assert_memory_equal(bytes, "hello", 5);
	got[plane][src][dst]++;
	if (n_got < 1024)
		got_at[n_got++] = s->now_us;
}

static void setup_net(struct sim_net *net, struct sim_sched *s, struct sim_rng *g)
{
	sim_sched_init(s);
	sim_rng_seed(g, 1);
	sim_net_init(net, s, g, 4, deliver, s);
	memset(got, 0, sizeof(got));
	n_got = 0;
}

static void test_delivery_and_delay(void **state)
{
	(void)state;
	struct sim_sched s;
	struct sim_rng g;
	struct sim_net net;
	setup_net(&net, &s, &g);
	sim_net_plane_set(&net, SIM_PLANE_REPL, 0, 0, 100, 300);
	for (unsigned i = 0; i < 100; i++)
		sim_net_send(&net, SIM_PLANE_REPL, 0, 1, "hello", 5);
	assert_int_equal(net.in_flight, 100);
	sim_sched_run_until(&s, 1000);
	assert_int_equal(got[SIM_PLANE_REPL][0][1], 100);
	for (unsigned i = 0; i < n_got; i++)
		assert_true(got_at[i] >= 100 && got_at[i] <= 300);
	assert_int_equal(net.stats.delivered, 100);
	assert_int_equal(net.in_flight, 0);
	sim_sched_free(&s);
}

static void test_loss_and_duplication(void **state)
{
	(void)state;
	struct sim_sched s;
	struct sim_rng g;
	struct sim_net net;
	setup_net(&net, &s, &g);
	sim_net_plane_set(&net, SIM_PLANE_MGMT, 200000, 100000, 10, 20);
	for (unsigned i = 0; i < 10000; i++)
		sim_net_send(&net, SIM_PLANE_MGMT, 2, 3, "hello", 5);
	sim_sched_run_until(&s, 1000);
	assert_true(net.stats.dropped > 1800 && net.stats.dropped < 2200);
	assert_true(net.stats.duplicated > 600 && net.stats.duplicated < 1000);
	assert_int_equal(got[SIM_PLANE_MGMT][2][3], 10000 - net.stats.dropped + net.stats.duplicated);
	sim_sched_free(&s);
}

static void test_partitions(void **state)
{
	(void)state;
	struct sim_sched s;
	struct sim_rng g;
	struct sim_net net;
	setup_net(&net, &s, &g);
	sim_net_block(&net, SIM_PLANE_REPL, 0, 1, true); /* one way */
	sim_net_send(&net, SIM_PLANE_REPL, 0, 1, "hello", 5);
	sim_net_send(&net, SIM_PLANE_REPL, 1, 0, "hello", 5);
	sim_net_send(&net, SIM_PLANE_MGMT, 0, 1, "hello", 5); /* another plane */
	sim_sched_run_until(&s, 1000);
	assert_int_equal(got[SIM_PLANE_REPL][0][1], 0);
	assert_int_equal(got[SIM_PLANE_REPL][1][0], 1);
	assert_int_equal(got[SIM_PLANE_MGMT][0][1], 1);
	/* A message in flight when the link goes down is lost too. */
	sim_net_send(&net, SIM_PLANE_REPL, 1, 0, "hello", 5);
	sim_net_block(&net, SIM_PLANE_REPL, 1, 0, true);
	sim_sched_run_until(&s, 2000);
	assert_int_equal(got[SIM_PLANE_REPL][1][0], 1);
	assert_int_equal(net.stats.blocked, 2);
	sim_net_heal(&net);
	sim_net_send(&net, SIM_PLANE_REPL, 0, 1, "hello", 5);
	sim_sched_run_until(&s, 3000);
	assert_int_equal(got[SIM_PLANE_REPL][0][1], 1);
	sim_sched_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delivery_and_delay),
		cmocka_unit_test(test_loss_and_duplication),
		cmocka_unit_test(test_partitions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
