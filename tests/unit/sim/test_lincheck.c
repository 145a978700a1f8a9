/* The linearizability checker against hand-made histories: sequential and concurrent ones
 * that are linearizable, stale reads, reads of values never written, reads that see two
 * writes in opposite orders, and open writes that may or may not take effect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "lincheck.h"

#define W(v, c, r) { LIN_WRITE, (v), (c), (r) }
#define R(v, c, r) { LIN_READ, (v), (c), (r) }
#define OPEN LIN_OPEN

static enum lin_result check(const struct lin_op *ops, unsigned n)
{
	return lin_check(ops, n, 1000000, NULL);
}

static void test_sequential(void **state)
{
	(void)state;
	const struct lin_op ok[] = { R(0, 0, 1), W(1, 2, 3), R(1, 4, 5), W(2, 6, 7), R(2, 8, 9) };
	assert_int_equal(check(ok, 5), LIN_OK);
	const struct lin_op stale[] = { W(1, 0, 1), W(2, 2, 3), R(1, 4, 5) };
	unsigned culprit = 99;
	assert_int_equal(lin_check(stale, 3, 1000000, &culprit), LIN_VIOLATION);
	assert_int_equal(culprit, 2);
	const struct lin_op never[] = { W(1, 0, 1), R(7, 2, 3) };
	assert_int_equal(check(never, 2), LIN_VIOLATION);
	assert_int_equal(check(NULL, 0), LIN_OK);
}

static void test_concurrent(void **state)
{
	(void)state;
	/* Two overlapping writes; reads after both may see either, but then stick to it. */
	const struct lin_op ok[] = { W(1, 0, 10), W(2, 1, 9), R(1, 11, 12), R(1, 13, 14) };
	assert_int_equal(check(ok, 4), LIN_OK);
	const struct lin_op ok2[] = { W(1, 0, 10), W(2, 1, 9), R(2, 11, 12) };
	assert_int_equal(check(ok2, 3), LIN_OK);
	const struct lin_op flip[] = { W(1, 0, 10), W(2, 1, 9), R(1, 11, 12), R(2, 13, 14) };
	assert_int_equal(check(flip, 4), LIN_VIOLATION);
	/* A read overlapping a write may see the old or the new value. */
	const struct lin_op during[] = { W(1, 0, 1), W(2, 5, 20), R(1, 6, 7), R(2, 8, 9), R(2, 21, 22) };
	assert_int_equal(check(during, 5), LIN_OK);
	/* New-then-old by two concurrent readers after the write completed is not. */
	const struct lin_op new_old[] = { W(1, 0, 1), W(2, 5, 20), R(2, 6, 7), R(1, 8, 9) };
	assert_int_equal(check(new_old, 4), LIN_VIOLATION);
}

static void test_open_writes(void **state)
{
	(void)state;
	/* An open write may take effect... */
	const struct lin_op took[] = { W(1, 0, 1), W(2, 2, OPEN), R(2, 10, 11) };
	assert_int_equal(check(took, 3), LIN_OK);
	/* ...or never... */
	const struct lin_op never[] = { W(1, 0, 1), W(2, 2, OPEN), R(1, 10, 11) };
	assert_int_equal(check(never, 3), LIN_OK);
	/* ...but not before it was called, and once seen it stays. */
	const struct lin_op early[] = { W(1, 0, 1), R(2, 2, 3), W(2, 5, OPEN) };
	assert_int_equal(check(early, 3), LIN_VIOLATION);
	const struct lin_op undo[] = { W(1, 0, 1), W(2, 2, OPEN), R(2, 10, 11), R(1, 12, 13) };
	assert_int_equal(check(undo, 4), LIN_VIOLATION);
}

/* Many concurrent operations that are linearizable by construction: each write takes
 * effect at an instant inside its interval, each read returns the value at such an instant. */
static void test_random_linearizable(void **state)
{
	(void)state;
	uint64_t x = 12345;
	for (unsigned round = 0; round < 50; round++) {
		enum { N = 120 };
		struct lin_op ops[N];
		uint64_t points[N];
		for (unsigned i = 0; i < N; i++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			points[i] = (uint64_t)i * 10 + 50;
			ops[i].kind = (x & 1) ? LIN_WRITE : LIN_READ;
			ops[i].call_us = points[i] - (x >> 8) % 30;
			ops[i].ret_us = points[i] + (x >> 20) % 30;
			if (ops[i].kind == LIN_WRITE && (x >> 40) % 10 == 0)
				ops[i].ret_us = LIN_OPEN;
		}
		uint64_t value = 0;
		for (unsigned i = 0; i < N; i++) {
			if (ops[i].kind == LIN_WRITE)
				value = ops[i].value = 1000 + i;
			else
				ops[i].value = value;
		}
		assert_int_equal(check(ops, N), LIN_OK);
		/* Break one read that is separated from its neighbours: a violation. */
		for (unsigned i = 5; i < N; i++) {
			if (ops[i].kind == LIN_READ && ops[i].value != 0) {
				ops[i].value = 999999;
				assert_int_equal(check(ops, N), LIN_VIOLATION);
				break;
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_open_writes),
		cmocka_unit_test(test_random_linearizable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
