/* test_ctlsnap.c - n3x-ctl snapshot: the name rule and the replies as
 * printed, diffed exactly. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/snapcmd.h"

enum { SAVED, LOADED, LIST };

static char *render(int what, const char *reply_json, int *ret)
{
	json_error_t err;
	json_t *reply = json_loads(reply_json, 0, &err);
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	cr_assert_not_null(reply, "fixture: %s", err.text);
	out = open_memstream(&text, &len);
	cr_assert_not_null(out);
	*ret = 0;
	if (what == SAVED)
		snapcmd_print_saved(out, reply);
	else if (what == LOADED)
		snapcmd_print_loaded(out, reply);
	else
		*ret = snapcmd_print_list(out, reply);
	fclose(out);
	json_decref(reply);
	return text;
}

static void expect(int what, const char *reply, const char *want)
{
	int r;
	char *got = render(what, reply, &r);

	cr_expect_eq(r, 0);
	cr_expect_str_eq(got, want, "got:\n%s\nwant:\n%s", got, want);
	free(got);
}

Test(ctlsnap, names)
{
	char long_name[SNAP_NAME_MAX + 2];

	cr_expect(snapcmd_name_ok("base"));
	cr_expect(snapcmd_name_ok("k3s-up_2024.12.07"));
	cr_expect(snapcmd_name_ok("A"));
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[SNAP_NAME_MAX + 1] = '\0';
	cr_expect_not(snapcmd_name_ok(long_name), "65 characters");
	long_name[SNAP_NAME_MAX] = '\0';
	cr_expect(snapcmd_name_ok(long_name), "64 characters");
	cr_expect_not(snapcmd_name_ok(""));
	cr_expect_not(snapcmd_name_ok("a b"));
	cr_expect_not(snapcmd_name_ok("../etc"));
	cr_expect_not(snapcmd_name_ok("a/b"));
	cr_expect_not(snapcmd_name_ok("caf\xc3\xa9"));
	cr_expect_not(snapcmd_name_ok("x:y"));
}

Test(ctlsnap, sizes)
{
	static const struct { double bytes; const char *want; } cases[] = {
		{ 0, "0 B" }, { 1023, "1023 B" }, { 1024, "1.0 KiB" }, { 12 * 1024 + 300, "12 KiB" },
		{ 8.5 * 1048576, "8.5 MiB" }, { 612.4 * 1048576, "612 MiB" },
		{ 1.4 * 1073741824, "1.4 GiB" }, { 3.0 * 1099511627776.0, "3.0 TiB" },
		{ 5000.0 * 1099511627776.0, "5000 TiB" }, { -1, "-" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_str_eq(snapcmd_size(cases[i].bytes, buf, sizeof(buf)), cases[i].want, "%.0f bytes",
				 cases[i].bytes);
}

Test(ctlsnap, saved)
{
	expect(SAVED,
	       "{\"ok\":true,\"name\":\"base\",\"vms\":[\"a\",\"b\",\"c\"],\"seconds\":4.23,"
	       "\"bytes\":642170880}",
	       "saved base: 3 VMs in 4.2 s, 612 MiB\n");
	expect(SAVED, "{\"ok\":true,\"name\":\"one\",\"vms\":[\"a\"],\"seconds\":0.04,\"bytes\":2048}",
	       "saved one: 1 VM in 0.0 s, 2.0 KiB\n");
	/* Fields the supervisor left out are left out, not made up. */
	expect(SAVED, "{\"ok\":true,\"name\":\"x\",\"vms\":[]}", "saved x: 0 VMs\n");
}

Test(ctlsnap, loaded_with_notes)
{
	expect(LOADED,
	       "{\"ok\":true,\"name\":\"base\",\"vms\":[\"a\",\"b\",\"c\"],\"seconds\":2.06,\"notes\":[]}",
	       "loaded base: 3 VMs in 2.1 s\n");
	expect(LOADED,
	       "{\"ok\":true,\"name\":\"base\",\"vms\":[\"a\",\"b\"],\"seconds\":12,"
	       "\"notes\":[\"a/0: lease is 10.0.0.12, was 10.0.0.11 when saved\","
	       "\"profile is lossy, was default when saved\"]}",
	       "loaded base: 2 VMs in 12.0 s\n"
	       "  a/0: lease is 10.0.0.12, was 10.0.0.11 when saved\n"
	       "  profile is lossy, was default when saved\n");
}

Test(ctlsnap, list_table)
{
	/* CREATED is local time: pin the zone. */
	setenv("TZ", "UTC", 1);
	tzset();
	expect(LIST,
	       "{\"ok\":true,\"snapshots\":["
	       "{\"name\":\"base\",\"created\":1796630400,\"vms\":[\"n100-1\",\"n100-2\",\"jetson-1\"],"
	       "\"profile\":\"default\",\"bytes\":3328599654},"
	       "{\"name\":\"k3s-up\",\"created\":1796634000.5,\"vms\":[\"n100-1\"],"
	       "\"profile\":\"constrained\",\"bytes\":642170880},"
	       "{\"name\":\"odd\",\"created\":null,\"vms\":null,\"profile\":\"\"}]}",
	       "NAME    CREATED              VMS                     PROFILE      SIZE\n"
	       "base    2026-12-07 08:00:00  n100-1,n100-2,jetson-1  default      3.1 GiB\n"
	       "k3s-up  2026-12-07 09:00:00  n100-1                  constrained  612 MiB\n"
	       "odd     -                    -                       -            -\n");
	expect(LIST, "{\"ok\":true,\"snapshots\":[]}", "no snapshots\n");
}

Test(ctlsnap, list_without_array)
{
	int r;
	char *got = render(LIST, "{\"ok\":true}", &r);

	cr_expect_eq(r, -EINVAL);
	cr_expect_str_eq(got, "");
	free(got);
}
