/* schedcmd.c - n3x-ctl schedule run NAME | stop | status [--json]: start,
 * stop and show a [schedule NAME] of the topology (launcher/schedule.h).
 */
#include "ctl/client.h"
#include "ctl/ctl.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* "+30s", "+1.5s" */
static const char *fmt_at(json_int_t ms, char *buf, size_t size)
{
	int n;

	if (ms % 1000 == 0)
		snprintf(buf, size, "+%llds", (long long)(ms / 1000));
	else {
		n = snprintf(buf, size, "+%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
		while (n > 0 && (size_t)n < size && buf[n - 1] == '0')
			buf[--n] = '\0';
		snprintf(buf + n, size - (size_t)n, "s");
	}
	return buf;
}

static json_int_t jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key)) ?: "?";
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The headline and one row per step. */
static void print_schedule(const json_t *s)
{
	const json_t *steps = json_object_get(s, "steps"), *st;
	int nsteps = (int)json_array_size(steps);
	char at[32];
	size_t i;

	printf("schedule %s: ", jstr(s, "name"));
	if (json_is_true(json_object_get(s, "running"))) {
		printf("running, cycle %lld, step %lld of %d begun", (long long)jint(s, "cycle"),
		       (long long)jint(s, "step"), nsteps);
		if (json_object_get(s, "next_step")) {
			double in = json_real_value(json_object_get(s, "started")) + jint(s, "next_at_ms") / 1000.0 - now_s();

			printf("; next: step %lld at %s (in %.1f s)", (long long)jint(s, "next_step"),
			       fmt_at(jint(s, "next_at_ms"), at, sizeof(at)), in > 0 ? in : 0);
		}
	} else {
		printf("%s after step %lld of %d", jstr(s, "reason"), (long long)jint(s, "step"), nsteps);
	}
	if (json_is_true(json_object_get(s, "repeat")))
		printf(", repeating every %s", fmt_at(jint(s, "period_ms"), at, sizeof(at)) + 1);
	printf("\n%-5s %-9s %-36s %-5s %s\n", "STEP", "AT", "ACTION", "RUNS", "LAST");
	json_array_foreach(steps, i, st) {
		const json_t *last = json_object_get(st, "last");
		char res[600];

		if (!last)
			snprintf(res, sizeof(res), "-");
		else if (json_is_true(json_object_get(last, "ok")))
			snprintf(res, sizeof(res), "ok, %.1f ms late", json_number_value(json_object_get(last, "late_ms")));
		else
			snprintf(res, sizeof(res), "failed: %s", jstr(last, "error"));
		printf("%-5lld %-9s %-36s %-5lld %s\n", (long long)jint(st, "step"), fmt_at(jint(st, "at_ms"), at, sizeof(at)),
		       jstr(st, "action"), (long long)jint(st, "runs"), res);
	}
}

/* "a, b" of the reply's defined schedules, into buf. */
static const char *defined(const json_t *reply, char *buf, size_t size)
{
	const json_t *n;
	size_t i;

	buf[0] = '\0';
	json_array_foreach(json_object_get(reply, "defined"), i, n)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? ", " : "", json_string_value(n) ?: "?");
	return buf[0] ? buf : "none";
}

int cmd_schedule(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	const char *sub = argv[1];
	bool as_json = false;
	json_t *req, *reply, *s;
	char names[512], at[32];
	int r;

	if (!strcmp(sub, "run") && argc == 3 && argv[2][0] != '-') {
		if (!(req = json_pack("{s:s, s:s}", "cmd", "schedule", "run", argv[2])))
			return fail(EXIT_USAGE, "schedule: the name is not UTF-8");
	} else if (!strcmp(sub, "stop") && argc == 2) {
		req = json_pack("{s:s, s:b}", "cmd", "schedule", "stop", 1);
	} else if (!strcmp(sub, "status") && (argc == 2 || (argc == 3 && !strcmp(argv[2], "--json")))) {
		as_json = argc == 3;
		req = json_pack("{s:s, s:b}", "cmd", "schedule", "status", 1);
	} else {
		return usage_error(cmd);
	}
	if ((r = request(c, req, QUICK_TIMEOUT_MS, &reply)))
		return r;
	s = json_object_get(reply, "schedule");
	if (as_json) {
		json_object_del(reply, "ok");
		json_dumpf(reply, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else if (!strcmp(sub, "run")) {
		const json_t *steps = json_object_get(s, "steps");
		const json_t *last = json_array_get(steps, json_array_size(steps) - 1);

		printf("schedule %s: started, %zu step%s, the last at %s", jstr(s, "name"), json_array_size(steps),
		       json_array_size(steps) == 1 ? "" : "s", fmt_at(jint(last, "at_ms"), at, sizeof(at)));
		if (json_is_true(json_object_get(s, "repeat")))
			printf(", repeating every %s", fmt_at(jint(s, "period_ms"), at, sizeof(at)) + 1);
		putchar('\n');
	} else if (!strcmp(sub, "stop")) {
		if (json_is_string(json_object_get(reply, "stopped")))
			printf("schedule %s: stopped after step %lld of %zu\n", jstr(reply, "stopped"),
			       (long long)jint(s, "step"), json_array_size(json_object_get(s, "steps")));
		else
			printf("no schedule was running\n");
	} else if (json_is_object(s)) {
		print_schedule(s);
	} else {
		printf("no schedule has run (defined: %s)\n", defined(reply, names, sizeof(names)));
	}
	json_decref(reply);
	return 0;
}
