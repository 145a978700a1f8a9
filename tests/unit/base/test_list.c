/* The intrusive list: order of pushes and pops, unlinking from the middle, safe iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/list.h"

struct item {
	int value;
	struct list_node node;
};

static void test_list_order(void **state)
{
	(void)state;
	struct list_node head;
	struct item items[4];
	list_init(&head);
	assert_true(list_empty(&head));
	for (int i = 0; i < 4; i++) {
		items[i].value = i;
		list_init(&items[i].node);
		assert_false(list_linked(&items[i].node));
		list_push_back(&head, &items[i].node);
		assert_true(list_linked(&items[i].node));
	}
	list_unlink(&items[1].node);
	assert_false(list_linked(&items[1].node));
	list_push_front(&head, &items[1].node);
	int expect[] = { 1, 0, 2, 3 };
	for (int i = 0; i < 4; i++) {
		struct list_node *n = list_pop_front(&head);
		assert_non_null(n);
		assert_int_equal(list_entry(n, struct item, node)->value, expect[i]);
	}
	assert_null(list_pop_front(&head));
}

static void test_list_unlink_while_iterating(void **state)
{
	(void)state;
	struct list_node head, *pos, *tmp;
	struct item items[6];
	list_init(&head);
	for (int i = 0; i < 6; i++) {
		items[i].value = i;
		list_push_back(&head, &items[i].node);
	}
	list_for_each_safe(pos, tmp, &head) {
		if (list_entry(pos, struct item, node)->value % 2)
			list_unlink(pos);
	}
	int sum = 0, count = 0;
	list_for_each(pos, &head) {
		sum += list_entry(pos, struct item, node)->value;
		count++;
	}
	assert_int_equal(count, 3);
	assert_int_equal(sum, 0 + 2 + 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_order),
		cmocka_unit_test(test_list_unlink_while_iterating),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
