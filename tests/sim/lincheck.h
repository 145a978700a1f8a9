/* A linearizability checker for one register, in the manner of Porcupine (Wing and Gong's
 * search with Lowe's memoization of (operations linearized, state)). Histories are checked
 * key by key: a history of registers is linearizable when each key's history is.
 *
 * Writes carry unique values; the register starts at 0. An operation whose outcome is
 * unknown (a write that timed out or was abandoned) is "open": it may take effect at any time
 * after its call, or never. Reads without an answer say nothing and are left out. */
#ifndef SPINDLE_TESTS_SIM_LINCHECK_H
#define SPINDLE_TESTS_SIM_LINCHECK_H

#include <stdbool.h>
#include <stdint.h>

#define LIN_OPEN UINT64_MAX /* return time of an open operation */

enum lin_kind { LIN_READ = 0, LIN_WRITE = 1 };

struct lin_op {
	uint8_t kind;
	uint64_t value;   /* written, or read */
	uint64_t call_us;
	uint64_t ret_us;  /* LIN_OPEN for an open write */
};

enum lin_result { LIN_OK = 0, LIN_VIOLATION = 1, LIN_UNKNOWN = 2 /* search budget spent */ };

/* Checks ops[0..n). On a violation, *culprit (if not NULL) is the index of an operation
 * the search could not place (the one whose return it could not get past). */
enum lin_result lin_check(const struct lin_op *ops, unsigned n, uint64_t budget,
			  unsigned *culprit);

#endif
