/* The loop: timers fire in due order and can be stopped and re-armed; pollers and flushers
 * run every turn with busy accounting; io_uring completions reach their op's callback;
 * messages from other threads run on the loop and wake it from an idle sleep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/clock.h"
#include "loop/loop.h"

static struct loop *loop_new(void)
{
	struct loop_config cfg = { .id = 0, .idle_spin_us = 50, .idle_sleep_us_max = 200000 };
	struct loop *loop = loop_create(&cfg);
	assert_non_null(loop);
	return loop;
}

#define FIRED_MAX 1024
static int fired_order[FIRED_MAX];
static int fired_count;

static void timer_record(struct loop *loop, struct loop_timer *t)
{
	(void)loop;
	assert_true(fired_count < FIRED_MAX);
	fired_order[fired_count++] = (int)(intptr_t)t->arg;
}

static void test_timers_fire_in_due_order(void **state)
{
	(void)state;
	struct loop *loop = loop_new();
	struct loop_timer t[6] = { 0 };
	uint64_t delays_ms[6] = { 30, 10, 50, 20, 40, 5 };
	fired_count = 0;
	for (int i = 0; i < 6; i++)
		loop_timer_start(loop, &t[i], delays_ms[i] * 1000000ull, timer_record, (void *)(intptr_t)i);
	loop_timer_stop(loop, &t[2]);          /* 50 ms: never fires */
	assert_false(loop_timer_armed(&t[2]));
	loop_timer_start(loop, &t[5], 25 * 1000000ull, timer_record, (void *)(intptr_t)5); /* re-armed */
	uint64_t deadline = time_mono_ns() + 2000000000ull;
	while (fired_count < 5 && time_mono_ns() < deadline)
		loop_run_once(loop);
	usleep(60000);
	loop_run_once(loop);
	int expect[] = { 1, 3, 5, 0, 4 };
	assert_int_equal(fired_count, 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(fired_order[i], expect[i]);
	loop_destroy(loop);
}

static void test_timer_heap_many(void **state)
{
	(void)state;
	struct loop *loop = loop_new();
	enum { N = 500 };
	static struct loop_timer t[N];
	/* Arm in a scrambled order, stop every third, and check what fires is sorted. */
	for (int i = 0; i < N; i++) {
		int k = (i * 7919) % N;
		loop_timer_start(loop, &t[k], (uint64_t)k * 1000, timer_record, (void *)(intptr_t)k);
	}
	for (int k = 0; k < N; k += 3)
		loop_timer_stop(loop, &t[k]);
	usleep(2000);
	int last = -1, count = 0;
	for (int k = 0; k < N; k++)
		if (loop_timer_armed(&t[k]))
			count++;
	assert_int_equal(count, N - (N + 2) / 3);
	fired_count = 0;
	loop_run_once(loop);
	assert_int_equal(fired_count, count);
	for (int i = 0; i < fired_count; i++) {
		assert_true(fired_order[i] > last);
		assert_int_not_equal(fired_order[i] % 3, 0);
		last = fired_order[i];
	}
	loop_destroy(loop);
}

static int poll_calls, flush_calls;
static bool poller_registered;
static int poller_busy_twice(void *arg)
{
	(void)arg;
	return ++poll_calls <= 2 ? 1 : 0;
}
static int flusher(void *arg)
{
	(void)arg;
	flush_calls++;
	/* Flushers run after the pollers of the same turn. */
	if (poller_registered)
		assert_int_equal(flush_calls, poll_calls);
	return 0;
}

static void test_pollers_and_flushers(void **state)
{
	(void)state;
	struct loop *loop = loop_new();
	struct loop_poller p, f;
	poll_calls = flush_calls = 0;
	loop_poller_add(loop, &p, "p", poller_busy_twice, NULL);
	poller_registered = true;
	loop_flusher_add(loop, &f, "f", flusher, NULL);
	for (int i = 0; i < 5; i++)
		loop_run_once(loop);
	assert_int_equal(poll_calls, 5);
	assert_int_equal(flush_calls, 5);
	assert_int_equal(p.busy_turns, 2);
	struct loop_stats st;
	loop_stats_get(loop, &st);
	assert_int_equal(st.turns, 5);
	loop_poller_remove(loop, &p);
	poller_registered = false;
	loop_run_once(loop);
	assert_int_equal(poll_calls, 5);
	assert_int_equal(flush_calls, 6);
	loop_destroy(loop);
}

struct nop_op {
	struct loop_uring_op op;
	int completions;
	int res;
};

static void nop_cb(struct loop *loop, struct loop_uring_op *op, const struct io_uring_cqe *cqe)
{
	(void)loop;
	struct nop_op *n = (struct nop_op *)op;
	n->completions++;
	n->res = cqe->res;
}

static void test_uring_ops_dispatch(void **state)
{
	(void)state;
	struct loop *loop = loop_new();
	struct nop_op ops[5000];
	/* More operations than the ring has entries: loop_sqe_get must submit to make room. */
	for (int i = 0; i < 5000; i++) {
		ops[i].op.cb = nop_cb;
		ops[i].completions = 0;
		ops[i].res = -1;
		struct io_uring_sqe *sqe = loop_sqe_get(loop, &ops[i].op);
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, &ops[i].op);
	}
	for (int turn = 0; turn < 100; turn++)
		loop_run_once(loop);
	for (int i = 0; i < 5000; i++) {
		assert_int_equal(ops[i].completions, 1);
		assert_int_equal(ops[i].res, 0);
	}
	loop_destroy(loop);
}

struct sender {
	struct loop *loop;
	atomic_int received;
	int sent;
};

static void msg_count(struct loop *loop, void *arg)
{
	(void)loop;
	struct sender *s = arg;
	atomic_fetch_add(&s->received, 1);
}

static void msg_stop(struct loop *loop, void *arg)
{
	(void)arg;
	loop_stop(loop);
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	usleep(20000); /* let the loop go idle and sleep first */
	for (int i = 0; i < 10000; i++) {
		while (loop_msg_send(s->loop, msg_count, s) == -ENOBUFS)
			usleep(100);
		s->sent++;
	}
	while (loop_msg_send(s->loop, msg_stop, NULL) != 0)
		usleep(100);
	return NULL;
}

static void test_messages_wake_a_sleeping_loop(void **state)
{
	(void)state;
	struct loop *loop = loop_new();
	struct sender s = { .loop = loop };
	pthread_t th;
	uint64_t start = time_mono_ns();
	assert_int_equal(pthread_create(&th, NULL, sender_main, &s), 0);
	loop_run(loop);
	uint64_t took_ms = (time_mono_ns() - start) / 1000000;
	pthread_join(th, NULL);
	assert_int_equal(atomic_load(&s.received), 10000);
	struct loop_stats st;
	loop_stats_get(loop, &st);
	assert_true(st.sleeps > 0);
	/* The idle sleep is up to 200 ms; being woken by messages, the run ends far sooner
	 * than the sleeps would allow if nothing woke it (this bounds correctness, not speed). */
	assert_true(took_ms < 5000);
	loop_destroy(loop);
}

static void test_ring_full_is_backpressure(void **state)
{
	(void)state;
	struct loop_config cfg = { .id = 1, .msg_ring_slots = 64 };
	struct loop *loop = loop_create(&cfg);
	struct sender s = { .loop = loop };
	int ok = 0, refused = 0;
	for (int i = 0; i < 100; i++) {
		if (loop_msg_send(loop, msg_count, &s) == 0)
			ok++;
		else
			refused++;
	}
	/* rte_ring holds slots-1 elements. */
	assert_int_equal(ok, 63);
	assert_int_equal(refused, 37);
	loop_run_once(loop);
	assert_int_equal(atomic_load(&s.received), 63);
	struct loop_stats st;
	loop_stats_get(loop, &st);
	assert_int_equal(st.msgs_refused, 37);
	loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_due_order),
		cmocka_unit_test(test_timer_heap_many),
		cmocka_unit_test(test_pollers_and_flushers),
		cmocka_unit_test(test_uring_ops_dispatch),
		cmocka_unit_test(test_messages_wake_a_sleeping_loop),
		cmocka_unit_test(test_ring_full_is_backpressure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
