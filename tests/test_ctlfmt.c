/* test_ctlfmt.c - n3x-ctl's status table, diffed exactly. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctlfmt.h"

static char *render(const char *reply_json, int *ret)
{
	json_error_t err;
	json_t *reply = json_loads(reply_json, 0, &err);
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	cr_assert_not_null(reply, "fixture: %s", err.text);
	out = open_memstream(&text, &len);
	cr_assert_not_null(out);
	*ret = ctlfmt_status(out, reply);
	fclose(out);
	json_decref(reply);
	return text;
}

Test(ctlfmt, status_table)
{
	static const char reply[] =
		"{\"ok\":true,"
		" \"fabric\":{\"name\":\"n3x\",\"netns\":\"n3x-n3x\",\"profile\":\"default\","
		"             \"run_dir\":\"/run/n3x/n3x\",\"pid\":4242},"
		" \"vms\":["
		"  {\"name\":\"n100-1\",\"state\":\"running\",\"arch\":\"x86_64\",\"accel\":\"tcg\","
		"   \"accel_reason\":\"/dev/kvm is PVM-only\",\"pid\":1234,\"role\":\"k3s-server\","
		"   \"uptime_s\":312.7,\"last_error\":\"\",\"agent\":true,\"ready\":true,\"firmware\":\"bios\","
		"   \"nics\":[{\"index\":0,\"network\":\"lan\",\"tap\":\"n100-1-n0\","
		"             \"mac\":\"52:54:00:12:34:01\",\"ip\":\"192.168.100.10\",\"lease\":true}]},"
		"  {\"name\":\"jetson-1\",\"state\":\"stopped\",\"arch\":\"aarch64\",\"accel\":\"tcg\","
		"   \"accel_reason\":\"\",\"pid\":null,\"role\":\"\",\"uptime_s\":0,"
		"   \"last_error\":\"qemu exited with status 1\",\"agent\":false,\"ready\":false,"
		"   \"firmware\":null,"
		"   \"nics\":[{\"index\":0,\"network\":\"lan\",\"tap\":null,"
		"             \"mac\":\"52:54:00:12:34:04\",\"ip\":null,\"lease\":false}]}]}";
	static const char want[] =
		"fabric n3x  profile default  netns n3x-n3x  supervisor pid 4242\n"
		"\n"
		"NAME      STATE    ARCH     ACCEL  PID   UPTIME  AGENT  READY  ROLE\n"
		"n100-1    running  x86_64   tcg    1234  5m12s   yes    yes    k3s-server\n"
		"jetson-1  stopped  aarch64  tcg    -     -       no     no     -\n"
		"\n"
		"n100-1: tcg (/dev/kvm is PVM-only)\n"
		"jetson-1: last error: qemu exited with status 1\n"
		"\n"
		"VM        NIC  NETWORK  TAP        MAC                IP              LEASE\n"
		"n100-1    0    lan      n100-1-n0  52:54:00:12:34:01  192.168.100.10  yes\n"
		"jetson-1  0    lan      -          52:54:00:12:34:04  -               no\n";
	int r;
	char *got = render(reply, &r);

	cr_assert_eq(r, 0);
	cr_assert_str_eq(got, want, "got:\n%s", got);
	free(got);
}

/* A supervisor from before the guest agent sends no "agent" or "ready":
 * "-", not a guess. */
Test(ctlfmt, status_without_agent_fields)
{
	static const char reply[] =
		"{\"ok\":true,\"fabric\":{\"name\":\"n3x\"},"
		" \"vms\":[{\"name\":\"x1\",\"state\":\"running\",\"arch\":\"x86_64\",\"accel\":\"kvm\","
		"   \"pid\":77,\"uptime_s\":3,\"role\":\"\",\"nics\":[]},"
		"  {\"name\":\"x2\",\"state\":\"running\",\"arch\":\"x86_64\",\"accel\":\"kvm\","
		"   \"pid\":78,\"uptime_s\":4,\"role\":\"\",\"agent\":true,\"ready\":false,\"nics\":[]}]}";
	static const char want[] =
		"fabric n3x\n"
		"\n"
		"NAME  STATE    ARCH    ACCEL  PID  UPTIME  AGENT  READY  ROLE\n"
		"x1    running  x86_64  kvm    77   3s      -      -      -\n"
		"x2    running  x86_64  kvm    78   4s      yes    no     -\n";
	int r;
	char *got = render(reply, &r);

	cr_assert_eq(r, 0);
	cr_assert_str_eq(got, want, "got:\n%s", got);
	free(got);
}

Test(ctlfmt, no_vms_and_bad_shape)
{
	int r;
	char *got = render("{\"ok\":true,\"fabric\":{\"name\":\"x\"},\"vms\":[]}", &r);

	cr_assert_eq(r, 0);
	cr_assert_str_eq(got, "fabric x\n\nno VMs\n");
	free(got);
	got = render("{\"ok\":true}", &r);
	cr_assert_eq(r, -EINVAL);
	cr_assert_str_eq(got, "");
	free(got);
}

Test(ctlfmt, uptime)
{
	char buf[16];

	cr_assert_str_eq(ctlfmt_uptime(-1, buf, sizeof(buf)), "-");
	cr_assert_str_eq(ctlfmt_uptime(0.4, buf, sizeof(buf)), "0s");
	cr_assert_str_eq(ctlfmt_uptime(59.9, buf, sizeof(buf)), "59s");
	cr_assert_str_eq(ctlfmt_uptime(60, buf, sizeof(buf)), "1m00s");
	cr_assert_str_eq(ctlfmt_uptime(3599, buf, sizeof(buf)), "59m59s");
	cr_assert_str_eq(ctlfmt_uptime(3600 + 180, buf, sizeof(buf)), "1h03m");
	cr_assert_str_eq(ctlfmt_uptime(3 * 86400 + 4 * 3600 + 59, buf, sizeof(buf)), "3d04h");
}

/* A pulled cable shows where the NIC is listed, and as a dashed red edge. */
static const char pulled_reply[] =
	"{\"ok\":true,\"fabric\":{\"name\":\"n3x\",\"networks\":[{\"name\":\"lan\",\"bridge\":\"br0\","
	"  \"switch\":\"linux-bridge\",\"host_interface\":\"br0\",\"address\":\"10.0.0.1/24\"}]},"
	" \"vms\":[{\"name\":\"a\",\"state\":\"running\",\"arch\":\"x86_64\",\"accel\":\"kvm\","
	"   \"pid\":7,\"uptime_s\":3,\"role\":\"\",\"agent\":false,\"ready\":true,"
	"   \"nics\":[{\"index\":0,\"network\":\"lan\",\"tap\":\"a-n0\",\"mac\":\"52:54:00:00:00:01\","
	"              \"ip\":\"10.0.0.10\",\"lease\":true,\"link\":\"up\"},"
	"             {\"index\":1,\"network\":\"lan\",\"tap\":\"a-n1\",\"mac\":\"52:54:00:00:00:02\","
	"              \"ip\":null,\"lease\":false,\"link\":\"down\"}]}]}";

Test(ctlfmt, pulled_cable_in_the_nic_table)
{
	static const char want[] =
		"VM  NIC       NETWORK  TAP   MAC                IP         LEASE\n"
		"a   0         lan      a-n0  52:54:00:00:00:01  10.0.0.10  yes\n"
		"a   1 (down)  lan      a-n1  52:54:00:00:00:02  -          no\n";
	int r;
	char *got = render(pulled_reply, &r);

	cr_assert_eq(r, 0);
	cr_assert(strstr(got, want), "got:\n%s", got);
	free(got);
}

/* A guest's disk failed (ENOSPC): the row says paused, the note under the
 * table says which disk, doing what, why, and what QEMU did about it. */
Test(ctlfmt, io_error_note)
{
	static const char reply[] =
		"{\"ok\":true,\"fabric\":{\"name\":\"n3x\"},"
		" \"vms\":[{\"name\":\"d2\",\"state\":\"paused\",\"arch\":\"x86_64\",\"accel\":\"kvm\","
		"   \"pid\":77,\"uptime_s\":3,\"role\":\"\",\"agent\":false,\"ready\":true,\"nics\":[],"
		"   \"io_error\":{\"device\":\"disk1\",\"node\":\"data\",\"reason\":\"No space left on device\","
		"                \"operation\":\"write\",\"action\":\"stop\"}}]}";
	static const char want[] =
		"fabric n3x\n"
		"\n"
		"NAME  STATE   ARCH    ACCEL  PID  UPTIME  AGENT  READY  ROLE\n"
		"d2    paused  x86_64  kvm    77   3s      no     yes    -\n"
		"\n"
		"d2: I/O error on disk1 (write): No space left on device; QEMU's action: stop\n";
	int r;
	char *got = render(reply, &r);

	cr_assert_eq(r, 0);
	cr_assert_str_eq(got, want, "got:\n%s", got);
	free(got);
}

/* An adopted VM, one whose monitor is being reconnected, and one whose
 * definition changed while its QEMU ran on. */
Test(ctlfmt, adopted_lost_monitor_and_stale_in_the_row)
{
	static const char reply[] =
		"{\"ok\":true, \"fabric\":{\"name\":\"n3x\"},"
		" \"vms\":["
		"  {\"name\":\"a\",\"state\":\"running\",\"arch\":\"x86_64\",\"accel\":\"kvm\",\"pid\":7,"
		"   \"uptime_s\":1,\"last_error\":\"\",\"adopted\":true,\"monitor\":\"connected\","
		"   \"stale\":\"QEMU runs with `-m 512`, the file now says `-m 768`; restart to apply\"},"
		"  {\"name\":\"b\",\"state\":\"paused\",\"arch\":\"x86_64\",\"accel\":\"kvm\",\"pid\":8,"
		"   \"uptime_s\":1,\"last_error\":\"\",\"adopted\":true,\"monitor\":\"lost\"},"
		"  {\"name\":\"c\",\"state\":\"running\",\"arch\":\"x86_64\",\"accel\":\"kvm\",\"pid\":9,"
		"   \"uptime_s\":1,\"last_error\":\"\",\"adopted\":false,\"monitor\":\"lost\"}]}";
	static const char want[] =
		"fabric n3x\n"
		"\n"
		"NAME  STATE                           ARCH    ACCEL  PID  UPTIME  AGENT  READY  ROLE\n"
		"a     running (adopted)               x86_64  kvm    7    1s      -      -      -\n"
		"b     paused (adopted, monitor lost)  x86_64  kvm    8    1s      -      -      -\n"
		"c     running (monitor lost)          x86_64  kvm    9    1s      -      -      -\n"
		"\n"
		"a: changed in the file: QEMU runs with `-m 512`, the file now says `-m 768`; restart to apply\n";
	int r;
	char *got = render(reply, &r);

	cr_assert_eq(r, 0);
	cr_assert_str_eq(got, want, "got:\n%s", got);
	free(got);
}
