/* The fault model: the text form and its errors, the decisions at the extremes and their
 * rates in between, replay from a seed, and the heap that releases held frames in order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/clock.h"
#include "frame/fault.h"

static void test_parse(void **state)
{
	(void)state;
	struct frame_fault f;
	frame_fault_init(&f, 1);
	assert_false(f.active);
	assert_int_equal(frame_fault_parse(&f, "seed=42; peer=*,loss_ppm=10000,dup_ppm=5000;"
				      " peer=2,delay_us=300,reorder_ppm=20000,reorder_us=50"), 0);
	assert_true(f.active);
	assert_true(f.rng == 42);
	assert_int_equal(f.peers[0].loss_ppm, 10000);
	assert_int_equal(f.peers[63].dup_ppm, 5000);
	assert_int_equal(f.peers[0].delay_us, 0);
	/* peer=2 kept the fields it did not name. */
	assert_int_equal(f.peers[2].loss_ppm, 10000);
	assert_int_equal(f.peers[2].delay_us, 300);
	assert_int_equal(f.peers[2].reorder_ppm, 20000);
	assert_int_equal(f.peers[2].reorder_us, 50);
	assert_int_equal(frame_fault_parse(&f, "off"), 0);
	assert_false(f.active);
	assert_int_equal(f.peers[2].delay_us, 0);
	assert_int_equal(frame_fault_parse(&f, ""), 0);
	assert_int_equal(frame_fault_parse(&f, "loss_ppm=1"), 0); /* no peer= means every peer */
	assert_int_equal(f.peers[17].loss_ppm, 1);
}

static void test_parse_errors_change_nothing(void **state)
{
	(void)state;
	struct frame_fault f, before;
	frame_fault_init(&f, 7);
	assert_int_equal(frame_fault_parse(&f, "peer=3,loss_ppm=5"), 0);
	before = f;
	const char *bad[] = {
		"loss_ppm=1000001", "peer=64,loss_ppm=1", "peer=-1", "peer=x", "lossppm=1",
		"loss_ppm=", "loss_ppm", "loss_ppm=12a", "delay_us=1000001", "seed=99999999999999999999",
		"peer=1,loss_ppm=2;peer=2,bogus=1", "loss_ppm=18446744073709551616", "=5", ",",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(frame_fault_parse(&f, bad[i]), -EINVAL);
		assert_memory_equal(&f, &before, sizeof(f));
	}
	char huge[FRAME_FAULT_SPEC_BYTES_MAX + 2];
	memset(huge, ' ', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	assert_int_equal(frame_fault_parse(&f, huge), -EINVAL);
	assert_int_equal(frame_fault_parse(&f, NULL), -EINVAL);
	struct frame_fault_spec s = { .loss_ppm = FRAME_FAULT_PPM + 1 };
	assert_int_equal(frame_fault_set(&f, 0, &s), -EINVAL);
	s.loss_ppm = 0;
	assert_int_equal(frame_fault_set(&f, FRAME_NODES_MAX + 1, &s), -EINVAL);
}

static void test_extremes(void **state)
{
	(void)state;
	struct frame_fault f;
	struct frame_fault_verdict v;
	frame_fault_init(&f, 3);
	frame_fault_decide(&f, 5, 1000, &v);
	assert_int_equal(v.copies, 1);
	assert_true(v.due_ns[0] == 1000);
	assert_int_equal(frame_fault_parse(&f, "peer=5,loss_ppm=1000000"), 0);
	frame_fault_decide(&f, 5, 1000, &v);
	assert_int_equal(v.copies, 0);
	frame_fault_decide(&f, 4, 1000, &v); /* other peers are untouched */
	assert_int_equal(v.copies, 1);
	assert_int_equal(frame_fault_parse(&f, "peer=5,loss_ppm=0,dup_ppm=1000000,delay_us=7"), 0);
	frame_fault_decide(&f, 5, 1000, &v);
	assert_int_equal(v.copies, 2);
	assert_true(v.due_ns[0] == 1000 + 7 * NS_PER_US && v.due_ns[1] == v.due_ns[0]);
	assert_int_equal(frame_fault_parse(&f, "peer=5,dup_ppm=0,reorder_ppm=1000000"), 0);
	frame_fault_decide(&f, 5, 1000, &v);
	assert_true(v.due_ns[0] == 1000 + (7 + FRAME_FAULT_REORDER_US_DEFAULT) * NS_PER_US);
	assert_true(f.lost == 1 && f.duplicated == 1 && f.reordered == 1 && f.delayed == 3);
}

static void test_rates_and_replay(void **state)
{
	(void)state;
	struct frame_fault a, b, c;
	struct frame_fault_verdict va, vb, vc;
	frame_fault_init(&a, 11);
	frame_fault_init(&b, 0);
	frame_fault_init(&c, 12);
	const char *spec = "seed=11;loss_ppm=100000,dup_ppm=50000,reorder_ppm=20000";
	assert_int_equal(frame_fault_parse(&a, spec), 0);
	assert_int_equal(frame_fault_parse(&b, spec), 0); /* seed= in the text wins */
	assert_int_equal(frame_fault_parse(&c, "loss_ppm=100000,dup_ppm=50000,reorder_ppm=20000"), 0);
	unsigned differ = 0;
	for (unsigned i = 0; i < 100000; i++) {
		frame_fault_decide(&a, (uint16_t)(i % 3), i, &va);
		frame_fault_decide(&b, (uint16_t)(i % 3), i, &vb);
		frame_fault_decide(&c, (uint16_t)(i % 3), i, &vc);
		assert_int_equal(va.copies, vb.copies);
		differ += va.copies != vc.copies;
	}
	assert_true(differ > 0);
	/* 10% lost, 5% of the rest duplicated, 2% of copies reordered, within a wide margin. */
	assert_in_range(a.lost, 9000, 11000);
	assert_in_range(a.duplicated, 4000, 5000);
	assert_in_range(a.reordered, 1500, 2300);
}

static void test_heap_releases_by_due_time_then_fifo(void **state)
{
	(void)state;
	struct frame_fault_heap h;
	assert_int_equal(frame_fault_heap_init(&h, 64), 0);
	int frames[64];
	for (int i = 0; i < 64; i++)
		assert_int_equal(frame_fault_heap_push(&h, &frames[i], (uint64_t)((i * 7) % 16)), 0);
	assert_int_equal(frame_fault_heap_push(&h, &frames[0], 0), -ENOBUFS);
	uint64_t last_due = 0;
	int last_index[16];
	memset(last_index, -1, sizeof(last_index));
	for (uint64_t now = 0; now < 16; now++) {
		int *p;
		unsigned n = 0;
		while ((p = frame_fault_heap_pop_due(&h, now)) != NULL) {
			int i = (int)(p - frames);
			uint64_t due = (uint64_t)((i * 7) % 16);
			assert_true(due <= now && due >= last_due);
			assert_true(i > last_index[due]); /* ties in push order */
			last_index[due] = i;
			last_due = due;
			n++;
		}
		assert_int_equal(n, 4);
	}
	assert_null(frame_fault_heap_pop_any(&h));
	assert_int_equal(frame_fault_heap_push(&h, &frames[1], 100), 0);
	assert_null(frame_fault_heap_pop_due(&h, 99));
	assert_ptr_equal(frame_fault_heap_pop_any(&h), &frames[1]);
	frame_fault_heap_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors_change_nothing),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_rates_and_replay),
		cmocka_unit_test(test_heap_releases_by_due_time_then_fifo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
