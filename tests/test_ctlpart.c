/* test_ctlpart.c - how n3x-ctl writes a partition (status's fabric.partition)
 * in one line, the way the schedule's steps write it. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl/partcmds.h"

static void expect_line(const char *json, const char *want)
{
	json_t *p = json_loads(json, JSON_DECODE_ANY, NULL);
	char *got = NULL;
	size_t len;
	FILE *f = open_memstream(&got, &len);

	cr_assert_not_null(p, "%s", json);
	cr_assert_not_null(f);
	ctl_partition_line(f, p);
	fclose(f);
	cr_expect_str_eq(got, want);
	free(got);
	json_decref(p);
}

Test(ctlpart, groups_one_way_none)
{
	expect_line("{\"groups\":[[\"a\"],[\"b\",\"c\"]]}", "a | b,c");
	expect_line("{\"from\":[\"a\",\"b\"],\"to\":[\"c\"]}", "a,b -> c");
	expect_line("null", "none");
}
