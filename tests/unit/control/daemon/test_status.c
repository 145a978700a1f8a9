/* Rendering the status: the text table shows nodes, lanes, primaries, epochs, health and
 * what a lane is going through; --json is valid JSON (checked by a small parser here) with
 * the same facts; the metrics are valid Prometheus text (every sample typed first, names and
 * labels well formed) with the values of the snapshot. */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/status.h"
#include "daemon/wire.h"

static struct ctld_status st;

static void sample(void)
{
	memset(&st, 0, sizeof(st));
	st.self = 2;
	st.term = 7;
	st.leader = 1;
	st.role = 0;
	st.commit_index = st.applied_index = 40;
	st.have_view = true;
	st.view_age_ms = 30;
	st.link_up = true;
	st.dataplane_alive = true;
	st.dataplane_lanes = 3;
	st.n_lanes = 3;
	for (unsigned i = 1; i <= 3; i++) {
		st.node_mask |= 1ull << i;
		st.node[i] = (struct ctld_status_node){ .state = CTL_NODE_ACTIVE, .in_group = true,
			.group_voter = true, .healthy = i != 3, .reporting = i != 3, .alive = i != 3,
			.report_age_ms = 20 * i, .peers_heard = 0xe, .primaries = 1 };
		snprintf(st.node[i].mgmt_addr, CTL_ADDR_BYTES, "127.0.1.%u:17600", i);
	}
	st.node[3].primaries = 0;
	st.node[1].primaries = 2;
	for (uint32_t k = 0; k < 3; k++)
		st.lane[k] = (struct ctld_status_lane){ .epoch = 1, .primary = (uint8_t)(1 + k % 2),
			.switch_target = REPL_NODE_NONE, .voters = 0xe, .caught_up = 0x6,
			.flags = CTLD_VIEW_ACTING };
	st.lane[2].prep_epoch = 2;
	st.lane[2].flags = 0;
	st.c.failovers = 4;
	st.c.applied = 40;
}

static void test_text(void **state)
{
	(void)state;
	sample();
	struct ctld_buf b = { 0 };
	ctld_status_render_text(&st, &b);
	assert_false(b.oom);
	assert_non_null(strstr(b.p, "3 nodes, 3 lanes"));
	assert_non_null(strstr(b.p, "leader node 1, term 7"));
	assert_non_null(strstr(b.p, "127.0.1.2:17600"));
	assert_non_null(strstr(b.p, "healthy"));
	assert_non_null(strstr(b.p, "dead"));             /* node 3 does not report */
	assert_non_null(strstr(b.p, "failing over to epoch 2"));
	assert_non_null(strstr(b.p, "2/3"));              /* nodes 1, 2 in sync; 3 lagging */
	ctld_buf_free(&b);
	st.leader = REPL_NODE_NONE;
	st.n_lanes = 0;
	st.have_view = false;
	ctld_status_render_text(&st, &b);
	assert_non_null(strstr(b.p, "NO LEADER"));
	assert_non_null(strstr(b.p, "not bootstrapped"));
	assert_non_null(strstr(b.p, "unknown"));
	ctld_buf_free(&b);
}

/* ---- A JSON syntax checker ---- */

static const char *js;
static bool json_value(void);

static void ws(void)
{
	while (*js == ' ' || *js == '\n' || *js == '\t' || *js == '\r')
		js++;
}

static bool json_string(void)
{
	if (*js++ != '"')
		return false;
	while (*js && *js != '"') {
		if ((unsigned char)*js < 0x20)
			return false;
		if (*js == '\\') {
			js++;
			if (*js == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)js[i]))
						return false;
				js += 4;
			} else if (!strchr("\"\\/bfnrt", *js)) {
				return false;
			}
		}
		js++;
	}
	return *js++ == '"';
}

static bool json_list(char close, bool object)
{
	js++;
	ws();
	if (*js == close) {
		js++;
		return true;
	}
	for (;;) {
		ws();
		if (object) {
			if (!json_string())
				return false;
			ws();
			if (*js++ != ':')
				return false;
		}
		if (!json_value())
			return false;
		ws();
		if (*js == close) {
			js++;
			return true;
		}
		if (*js++ != ',')
			return false;
	}
}

static bool json_value(void)
{
	ws();
	if (*js == '{')
		return json_list('}', true);
	if (*js == '[')
		return json_list(']', false);
	if (*js == '"')
		return json_string();
	for (const char *lit[] = { "true", "false", "null" }, **l = lit; l < lit + 3; l++)
		if (strncmp(js, *l, strlen(*l)) == 0) {
			js += strlen(*l);
			return true;
		}
	const char *start = js;
	if (*js == '-')
		js++;
	while (isdigit((unsigned char)*js))
		js++;
	return js > start && js[-1] != '-';
}

static bool json_valid(const char *text)
{
	js = text;
	if (!json_value())
		return false;
	ws();
	return *js == '\0';
}

static void test_json(void **state)
{
	(void)state;
	assert_false(json_valid("{\"a\":[1,2,}"));
	assert_false(json_valid("{\"a\" 1}"));
	assert_true(json_valid("{\"a\":[1,-2,{\"b\":null}],\"c\":\"x\\\"y\"}"));
	sample();
	snprintf(st.node[2].repl_addr, CTL_ADDR_BYTES, "odd\"addr\\");
	struct ctld_buf b = { 0 };
	ctld_status_render_json(&st, &b);
	if (!json_valid(b.p))
		fail_msg("invalid JSON near '%.40s' in:\n%s", js, b.p);
	assert_non_null(strstr(b.p, "\"leader\":1"));
	assert_non_null(strstr(b.p, "\"voters\":[1,2,3]"));
	assert_non_null(strstr(b.p, "\"in_sync\":[1,2]"));
	assert_non_null(strstr(b.p, "\"preparing_epoch\":2"));
	assert_non_null(strstr(b.p, "\"health\":\"dead\""));
	ctld_buf_free(&b);
	st.leader = REPL_NODE_NONE;
	st.have_view = false;
	st.n_lanes = 0;
	ctld_status_render_json(&st, &b);
	assert_true(json_valid(b.p));
	assert_non_null(strstr(b.p, "\"leader\":null"));
	assert_non_null(strstr(b.p, "\"view_age_ms\":null"));
	ctld_buf_free(&b);
}

/* ---- Prometheus text ---- */

static bool metric_name_ok(const char *p, size_t n)
{
	if (n == 0 || isdigit((unsigned char)p[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && p[i] != '_' && p[i] != ':')
			return false;
	return true;
}

static void check_prometheus(char *text)
{
	char typed[64][80];
	unsigned n_typed = 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[80], kind[16];
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (sscanf(line, "# TYPE %79s %15s", name, kind) == 2) {
			assert_true(strcmp(kind, "gauge") == 0 || strcmp(kind, "counter") == 0);
			assert_true(n_typed < 64);
			strcpy(typed[n_typed++], name);
			continue;
		}
		size_t len = strcspn(line, "{ ");
		assert_true(metric_name_ok(line, len));
		bool known = false;
		for (unsigned i = 0; i < n_typed; i++)
			known |= strlen(typed[i]) == len && strncmp(typed[i], line, len) == 0;
		if (!known)
			fail_msg("sample before its TYPE: %s", line);
		const char *v = strrchr(line, ' ');
		assert_non_null(v);
		char *end;
		strtod(v + 1, &end);
		assert_true(*end == '\0' && end > v + 1);
		if (line[len] == '{')
			assert_non_null(strstr(line, "=\""));
	}
}

static void test_metrics(void **state)
{
	(void)state;
	sample();
	struct ctld_buf b = { 0 };
	ctld_metrics_render(&st, &b);
	assert_non_null(strstr(b.p, "spindle_control_term 7\n"));
	assert_non_null(strstr(b.p, "spindle_control_leader_node 1\n"));
	assert_non_null(strstr(b.p, "spindle_control_failovers_total 4\n"));
	assert_non_null(strstr(b.p, "spindle_control_node_healthy{node=\"3\"} 0\n"));
	assert_non_null(strstr(b.p, "spindle_control_node_primaries{node=\"1\"} 2\n"));
	assert_non_null(strstr(b.p, "spindle_control_lane_failing_over{lane=\"2\"} 1\n"));
	assert_non_null(strstr(b.p, "spindle_control_lane_in_sync{lane=\"0\"} 2\n"));
	assert_non_null(strstr(b.p, "spindle_control_lane_primary_acting{lane=\"0\"} 1\n"));
	assert_non_null(strstr(b.p, "spindle_control_lane_primary_acting{lane=\"2\"} 0\n"));
	assert_non_null(strstr(b.p, "spindle_control_lane_damaged{lane=\"0\"} 0\n"));
	check_prometheus(b.p);
	ctld_buf_free(&b);
	st.lane[1].flags |= CTLD_VIEW_DAMAGED;
	ctld_metrics_render(&st, &b);
	assert_non_null(strstr(b.p, "spindle_control_lane_damaged{lane=\"1\"} 1\n"));
	assert_non_null(strstr(b.p, "spindle_control_lane_primary_acting{lane=\"1\"} 1\n"));
	ctld_buf_free(&b);
	st.leader = REPL_NODE_NONE;
	st.have_view = false;
	ctld_metrics_render(&st, &b);
	assert_non_null(strstr(b.p, "spindle_control_leader_node -1\n"));
	assert_non_null(strstr(b.p, "spindle_control_lane_primary_acting{lane=\"0\"} -1\n"));
	assert_non_null(strstr(b.p, "spindle_control_lane_damaged{lane=\"2\"} -1\n"));
	check_prometheus(b.p);
	ctld_buf_free(&b);
}

static void test_buf_and_nodes(void **state)
{
	(void)state;
	struct ctld_buf b = { 0 };
	for (int i = 0; i < 10000; i++)
		ctld_buf_printf(&b, "%d,", i);
	assert_false(b.oom);
	assert_int_equal(strlen(b.p), b.len);
	assert_memory_equal(b.p + b.len - 5, "9999,", 5);
	ctld_buf_free(&b);
	char out[200];
	ctld_nodes_text(0, out, sizeof(out));
	assert_string_equal(out, "-");
	ctld_nodes_text((1ull << 1) | (1ull << 3) | (1ull << 63), out, sizeof(out));
	assert_string_equal(out, "1,3,63");
	ctld_nodes_text(~0ull, out, sizeof(out));
	assert_int_equal(strlen(out), 181);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_buf_and_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
