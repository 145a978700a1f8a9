/* The configuration table's row type, shared by the parser (conf.c) and the text side
 * (conf_text.c: values as text, the dump, the reference). Nothing outside dataplane/conf
 * includes this. */
#ifndef SPINDLE_CONF_CONF_PRIV_H
#define SPINDLE_CONF_CONF_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"

enum conf_type {
	CT_U16, CT_U32, CT_U64, CT_SIZE, CT_BOOL, CT_STR, CT_ENUM, CT_PEER,
	CT_AUTO,   /* "auto" (CONF_AUTO) or a number in [min, max], stored as int32_t */
	CT_CPUS,   /* a CPU list ("2-5,8"), stored in cores[] and cores_count */
};

/* Groups, in the order the reference and docs/CONFIG.md list them. */
enum conf_group {
	CG_IDENTITY, CG_CLIENTS, CG_CORES, CG_STORAGE, CG_REPLICATION, CG_NIC, CG_TIMEOUTS,
	CG_LIMITS, CG_SECURITY, CG_CONTROL, CG_COUNT
};

#define CONF_F_POW2 0x1u  /* numbers: must be a power of two */
#define CONF_F_BLOCK 0x2u /* sizes: must be a multiple of CONF_BLOCK_BYTES */
#define CONF_BLOCK_BYTES 4096u

struct conf_enum_value {
	const char *name;
	int value;
};

/* Checks a string value; returns 0, or -EINVAL with the reason in why. */
typedef int (*conf_check_fn)(const char *value, char *why, size_t why_len);

struct conf_key {
	const char *name;
	enum conf_type type;
	enum conf_group group;
	size_t offset;
	size_t bytes;              /* size of the field in struct conf */
	uint64_t min, max;         /* numbers, sizes, CT_AUTO */
	unsigned flags;            /* CONF_F_* */
	const char *def;           /* default, as text; NULL: none (repeatable keys) */
	const struct conf_enum_value *enums; /* CT_ENUM; for CT_STR the only words allowed */
	conf_check_fn check;       /* CT_STR: more checks on the value */
	const char *doc;
};

extern const struct conf_key conf_keys[];
extern const size_t conf_keys_count;
extern const char *const conf_group_names[CG_COUNT];

const struct conf_key *conf_key_find(const char *name);
uint64_t conf_field_load(const struct conf *c, const struct conf_key *k);
/* The allowed values of an enum-like key, ", "-separated, into out. */
void conf_enum_names(const struct conf_enum_value *e, char *out, size_t len);

#endif
