/* The leader's observations and failure detector: a grace period after it takes over,
 * nodes dead when their reports stop or their daemon says the dataplane is, nodes cut off
 * on the replication network (both directions judged), and restarts noticed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"

static int setup(void **state)
{
	(void)state;
	h_init(3, 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_free();
	return 0;
}

static void test_grace_then_timeout(void **state)
{
	(void)state;
	/* Nothing heard yet: not declared dead during the grace period. */
	assert_true(ctl_leader_healthy(h.l, h.now, 1));
	h.now += h.o.node_timeout_ms + 1;
	assert_false(ctl_leader_healthy(h.l, h.now, 1));
	h_report_all(0x7, 3);
	assert_true(ctl_leader_healthy(h.l, h.now, 1));
	h.now += h.o.node_timeout_ms;
	assert_true(ctl_leader_healthy(h.l, h.now, 1));
	h.now += 1;
	assert_false(ctl_leader_healthy(h.l, h.now, 1));
	assert_false(ctl_leader_healthy(h.l, h.now, 64));
}

static void test_dataplane_dead(void **state)
{
	(void)state;
	h_report_all(0x7, 3);
	h_report(2, false, 0x7, NULL, 0); /* its daemon says the dataplane is hung */
	assert_false(ctl_leader_healthy(h.l, h.now, 2));
	assert_true(ctl_leader_healthy(h.l, h.now, 0));
}

static void test_cut_off(void **state)
{
	(void)state;
	h_report_all(0x7, 3);
	/* Nobody hears node 2 any more, though its daemon reports fine. */
	h_report(0, true, 0x3, NULL, 0);
	h_report(1, true, 0x3, NULL, 0);
	assert_false(ctl_leader_healthy(h.l, h.now, 2));
	/* One of two still hears it: with itself, a majority. */
	h_report(1, true, 0x7, NULL, 0);
	assert_true(ctl_leader_healthy(h.l, h.now, 2));
	/* It hears nobody (a one-way cut): not healthy either. */
	h_report(2, true, 0x4, NULL, 0);
	assert_false(ctl_leader_healthy(h.l, h.now, 2));
}

static void test_reset_forgets(void **state)
{
	(void)state;
	h_report_all(0x7, 3);
	h.now += 10;
	ctl_leader_reset(h.l, h.now);
	h.now += h.o.node_timeout_ms + 1;
	assert_false(ctl_leader_healthy(h.l, h.now, 0)); /* the old reports do not count */
	struct ctl_leader_stats s;
	ctl_leader_stats_get(h.l, &s);
	assert_int_equal(s.failovers_started, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_grace_then_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dataplane_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_forgets, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
