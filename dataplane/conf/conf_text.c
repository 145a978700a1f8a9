/* The configuration as text: a key's value (CONFIG GET, the dump that --check-config prints)
 * and the reference of every key, grouped, that --help-config prints and docs/CONFIG.md
 * follows. */
#include "conf/conf_priv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"
#include "base/panic.h"

/* "2-5,8": runs of three or more consecutive CPUs (in the order given) as ranges. */
static void conf_cpus_text(const struct conf *c, char *out, size_t len)
{
	size_t off = 0;
	out[0] = '\0';
	for (uint32_t i = 0; i < c->cores_count && off < len;) {
		uint32_t j = i;
		while (j + 1 < c->cores_count && c->cores[j + 1] == c->cores[j] + 1)
			j++;
		const char *sep = i ? "," : "";
		if (j >= i + 2) {
			off += (size_t)snprintf(out + off, len - off, "%s%u-%u", sep, c->cores[i],
						c->cores[j]);
			i = j + 1;
		} else {
			off += (size_t)snprintf(out + off, len - off, "%s%u", sep, c->cores[i]);
			i++;
		}
	}
}

static void conf_peers_text(const struct conf *c, char *out, size_t len)
{
	size_t off = 0;
	out[0] = '\0';
	for (uint32_t i = 0; i < c->peers_count && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%u %s", i ? "," : "",
					c->peers[i].node_id, c->peers[i].ip);
}

static void conf_value_text(const struct conf *c, const struct conf_key *k, char *out, size_t len)
{
	const char *p = (const char *)c + k->offset;
	out[0] = '\0';
	switch (k->type) {
	case CT_U16:
	case CT_U32:
	case CT_U64:
	case CT_SIZE:
		snprintf(out, len, "%llu", (unsigned long long)conf_field_load(c, k));
		return;
	case CT_BOOL: { bool b; memcpy(&b, p, sizeof(b)); snprintf(out, len, "%s", b ? "yes" : "no"); return; }
	case CT_STR: snprintf(out, len, "%s", p); return;
	case CT_ENUM: {
		int e;
		memcpy(&e, p, sizeof(e));
		for (const struct conf_enum_value *ev = k->enums; ev->name; ev++)
			if (ev->value == e)
				snprintf(out, len, "%s", ev->name);
		return;
	}
	case CT_PEER: conf_peers_text(c, out, len); return;
	case CT_AUTO: {
		int32_t v;
		memcpy(&v, p, sizeof(v));
		if (v == CONF_AUTO)
			snprintf(out, len, "auto");
		else
			snprintf(out, len, "%d", v);
		return;
	}
	case CT_CPUS: conf_cpus_text(c, out, len); return;
	}
}

int conf_get_text(const struct conf *c, const char *key, char *out, size_t out_len)
{
	const struct conf_key *k = conf_key_find(key);
	if (k == NULL)
		return -ENOENT;
	conf_value_text(c, k, out, out_len);
	return 0;
}

void conf_keys_foreach(void (*fn)(const char *key, void *arg), void *arg)
{
	for (size_t i = 0; i < conf_keys_count; i++)
		fn(conf_keys[i].name, arg);
}

void conf_dump(const struct conf *c, void *stream)
{
	char value[1024];
	for (size_t i = 0; i < conf_keys_count; i++) {
		const struct conf_key *k = &conf_keys[i];
		if (k->type == CT_PEER) {
			for (uint32_t p = 0; p < c->peers_count; p++)
				fprintf(stream, "peer %u %s%s%s%s%s\n", c->peers[p].node_id, c->peers[p].ip,
					c->peers[p].mac[0] ? " " : "", c->peers[p].mac,
					c->peers[p].client_addr[0] ? " " : "", c->peers[p].client_addr);
			continue;
		}
		conf_value_text(c, k, value, sizeof(value));
		if (strcmp(k->name, "requirepass") == 0 && value[0])
			snprintf(value, sizeof(value), "(set)");
		fprintf(stream, "%s \"%s\"\n", k->name, value);
	}
}

static void conf_range_text(const struct conf_key *k, char *out, size_t len)
{
	out[0] = '\0';
	switch (k->type) {
	case CT_U16:
	case CT_U32:
	case CT_U64:
	case CT_SIZE:
		snprintf(out, len, "%llu to %llu%s%s", (unsigned long long)k->min,
			 (unsigned long long)k->max, k->type == CT_SIZE ? " bytes" : "",
			 (k->flags & CONF_F_POW2) ? ", a power of two" :
			 (k->flags & CONF_F_BLOCK) ? ", a multiple of 4096" : "");
		return;
	case CT_AUTO:
		snprintf(out, len, "auto, %llu to %llu", (unsigned long long)k->min,
			 (unsigned long long)k->max);
		return;
	case CT_BOOL:
		snprintf(out, len, "yes, no");
		return;
	case CT_ENUM:
	case CT_STR:
		if (k->enums != NULL)
			conf_enum_names(k->enums, out, len);
		return;
	case CT_CPUS:
		snprintf(out, len, "CPU list, CPUs 0 to %d", CONF_CPU_ID_MAX);
		return;
	case CT_PEER:
		return;
	}
}

int conf_key_info_get(const char *key, struct conf_key_info *out, char *range_buf,
		      size_t range_len)
{
	const struct conf_key *k = conf_key_find(key);
	if (k == NULL)
		return -ENOENT;
	ASSERT(k->group < CG_COUNT);
	conf_range_text(k, range_buf, range_len);
	*out = (struct conf_key_info){
		.name = k->name, .group = conf_group_names[k->group], .def = k->def,
		.doc = k->doc, .range = range_buf,
	};
	return 0;
}

void conf_reference_write(void *stream)
{
	for (int g = 0; g < CG_COUNT; g++) {
		fprintf(stream, "%s### %s\n\n| key | default | range | meaning |\n"
			"| --- | --- | --- | --- |\n", g ? "\n" : "", conf_group_names[g]);
		for (size_t i = 0; i < conf_keys_count; i++) {
			const struct conf_key *k = &conf_keys[i];
			if (k->group != (enum conf_group)g)
				continue;
			char range[96];
			conf_range_text(k, range, sizeof(range));
			fprintf(stream, "| `%s` | %s | %s | %s |\n", k->name,
				k->def ? (k->def[0] ? k->def : "(empty)") : "(none)", range, k->doc);
		}
	}
}
