/* partcmds.c - n3x-ctl's partition and heal verbs: the groups or the one
 * way split written as the schedule writes them ("a | b,c", "a -> b"), sent
 * as JSON lists; the supervisor checks the names. */
#include "ctl/partcmds.h"
#include "ctl/ctl.h"

#include <string.h>

/* "a,b" as a JSON array of its names; NULL when a name is empty. */
static json_t *names(const char *list)
{
	json_t *a = json_array();
	const char *s = list;

	while (a) {
		size_t n = strcspn(s, ",");

		if (!n || json_array_append_new(a, json_stringn(s, n)) < 0) {
			json_decref(a);
			return NULL;
		}
		if (!s[n])
			break;
		s += n + 1;
	}
	return a;
}

static void print_list(FILE *out, const json_t *a)
{
	size_t i;
	json_t *n;

	json_array_foreach(a, i, n)
		fprintf(out, "%s%s", i ? "," : "", json_string_value(n) ?: "?");
}

void ctl_partition_line(FILE *out, const json_t *p)
{
	const json_t *groups = json_object_get(p, "groups"), *g;
	size_t i;

	if (json_is_array(groups)) {
		json_array_foreach(groups, i, g) {
			fputs(i ? " | " : "", out);
			print_list(out, g);
		}
	} else if (json_is_object(p)) {
		print_list(out, json_object_get(p, "from"));
		fputs(" -> ", out);
		print_list(out, json_object_get(p, "to"));
	} else {
		fputs("none", out);
	}
}

static int send_and_print(struct ctl *c, json_t *req)
{
	json_t *reply;
	int r;

	if ((r = request(c, req, QUICK_TIMEOUT_MS, &reply)))
		return r;
	fputs("partition: ", stdout);
	ctl_partition_line(stdout, json_object_get(reply, "partition"));
	fputc('\n', stdout);
	json_decref(reply);
	return 0;
}

int cmd_partition(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	json_t *req, *groups, *from, *to, *g;

	if (!strcmp(argv[1], "--from")) {
		if (argc != 5 || strcmp(argv[3], "--to"))
			return usage_error(cmd);
		from = names(argv[2]);
		to = names(argv[4]);
		if (!from || !to) {
			json_decref(from);
			json_decref(to);
			return fail(EXIT_USAGE, "partition: empty VM name in '%s' or '%s'", argv[2], argv[4]);
		}
		req = json_pack("{s:s, s:o, s:o}", "cmd", "partition", "from", from, "to", to);
		return send_and_print(c, req);
	}
	if (!(groups = json_array()))
		return fail(EXIT_FAIL, "out of memory");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "|"))
			continue; /* as the schedule writes it */
		if (!(g = names(argv[i]))) {
			json_decref(groups);
			return fail(EXIT_USAGE, "partition: empty VM name in '%s'", argv[i]);
		}
		json_array_append_new(groups, g);
	}
	if (json_array_size(groups) < 2) {
		json_decref(groups);
		return fail(EXIT_USAGE, "partition: name two groups or more (partition A,B C)");
	}
	req = json_pack("{s:s, s:o}", "cmd", "partition", "groups", groups);
	return send_and_print(c, req);
}

int cmd_heal(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	(void)cmd, (void)argc, (void)argv;
	return send_and_print(c, json_pack("{s:s}", "cmd", "heal"));
}
