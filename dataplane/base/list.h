/* An intrusive doubly linked list with a sentinel head, as in the Linux kernel: no
 * allocation, O(1) insert and unlink, and a node can unlink itself without its list. */
#ifndef SPINDLE_BASE_LIST_H
#define SPINDLE_BASE_LIST_H

#include <stdbool.h>
#include "base/compiler.h"

struct list_node {
	struct list_node *prev, *next;
};

static inline void list_init(struct list_node *head)
{
	head->prev = head->next = head;
}

static inline bool list_empty(const struct list_node *head)
{
	return head->next == head;
}

/* A node that is on no list points at itself, so list_linked() can tell. */
static inline bool list_linked(const struct list_node *n)
{
	return n->next != n && n->next != NULL;
}

static inline void list_insert_between(struct list_node *n, struct list_node *prev,
				       struct list_node *next)
{
	n->prev = prev;
	n->next = next;
	prev->next = n;
	next->prev = n;
}

static inline void list_push_back(struct list_node *head, struct list_node *n)
{
	list_insert_between(n, head->prev, head);
}

static inline void list_push_front(struct list_node *head, struct list_node *n)
{
	list_insert_between(n, head, head->next);
}

static inline void list_unlink(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static inline struct list_node *list_pop_front(struct list_node *head)
{
	if (list_empty(head))
		return NULL;
	struct list_node *n = head->next;
	list_unlink(n);
	return n;
}

#define list_entry(node, type, member) container_of(node, type, member)
#define list_for_each(pos, head) for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)
#define list_for_each_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
