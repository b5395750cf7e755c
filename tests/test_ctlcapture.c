/* test_ctlcapture.c - `n3x-ctl capture`'s arguments as the capture sees
 * them, the lines a user gets for bad ones, and which libpcap direction
 * each --direction is on the VM's tap. */
#include <criterion/criterion.h>

#include <string.h>

#include "ctl/capture.h"
#include "ctl/ctl.h"

#define ARGV(...) ((char *[]){ "capture", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "capture", __VA_ARGS__ }) / sizeof(char *)))

struct parse {
	struct capture_args a;
	struct err e;
	int r;
};

#define PARSE(p, ...) \
	((p)->e = (struct err){ 0 }, (p)->r = capture_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &(p)->a, &(p)->e))

Test(ctlcapture, defaults)
{
	struct parse p;

	PARSE(&p, "n100-1");
	cr_assert_eq(p.r, 0, "%s", p.e.msg);
	cr_assert_str_eq(p.a.vm, "n100-1");
	cr_assert_eq(p.a.nic, 0, "VM without /N is NIC 0");
	cr_assert_null(p.a.file);
	cr_assert(capture_to_stdout(&p.a));
	cr_assert_eq(p.a.count, 0, "no -c: until a signal");
	cr_assert_eq(p.a.dir, CAPTURE_BOTH);
}

Test(ctlcapture, every_option)
{
	struct parse p;

	PARSE(&p, "-w", "out.pcap", "n100-1/2", "-c", "10", "--direction", "to-vm");
	cr_assert_eq(p.r, 0, "%s", p.e.msg);
	cr_assert_str_eq(p.a.vm, "n100-1");
	cr_assert_eq(p.a.nic, 2);
	cr_assert_str_eq(p.a.file, "out.pcap");
	cr_assert_not(capture_to_stdout(&p.a));
	cr_assert_eq(p.a.count, 10);
	cr_assert_eq(p.a.dir, CAPTURE_TO_VM);

	PARSE(&p, "a", "--direction=from-vm", "-w", "-");
	cr_assert_eq(p.r, 0, "%s", p.e.msg);
	cr_assert_eq(p.a.dir, CAPTURE_FROM_VM);
	cr_assert(capture_to_stdout(&p.a), "-w - is stdout");

	PARSE(&p, "--direction", "both", "--", "a/0");
	cr_assert_eq(p.r, 0, "%s", p.e.msg);
	cr_assert_eq(p.a.dir, CAPTURE_BOTH);
	cr_assert_eq(p.a.nic, 0);

	PARSE(&p, "a", "-c", "2147483647");
	cr_assert_eq(p.r, 0, "%s", p.e.msg);
	cr_assert_eq(p.a.count, 2147483647);
}

/* A bad argument is the user's (exit 2) with one line naming it. */
static void expect_bad(struct parse *p, const char *msg)
{
	cr_assert_eq(p->r, EXIT_USAGE);
	cr_assert(err_is_set(&p->e), "no message, want \"%s\"", msg);
	cr_assert_str_eq(p->e.msg, msg);
}

Test(ctlcapture, bad_values)
{
	struct parse p;

	PARSE(&p, "a", "-c", "0");
	expect_bad(&p, "capture: -c takes a number of packets from 1 to 2147483647, not '0'");
	PARSE(&p, "a", "-c", "10x");
	expect_bad(&p, "capture: -c takes a number of packets from 1 to 2147483647, not '10x'");
	PARSE(&p, "a", "-c", "-3");
	expect_bad(&p, "capture: -c takes a number of packets from 1 to 2147483647, not '-3'");
	PARSE(&p, "a", "-c", "2147483648");
	expect_bad(&p, "capture: -c takes a number of packets from 1 to 2147483647, not '2147483648'");
	PARSE(&p, "a", "--direction", "in");
	expect_bad(&p, "capture: --direction takes to-vm, from-vm or both, not 'in'");
	PARSE(&p, "a", "--direction=");
	expect_bad(&p, "capture: --direction takes to-vm, from-vm or both, not ''");
	PARSE(&p, "a", "-w", "");
	expect_bad(&p, "capture: -w takes a file name (- for stdout)");
	PARSE(&p, "a", "-w");
	expect_bad(&p, "capture: -w needs a value");
	PARSE(&p, "a", "--count", "3");
	expect_bad(&p, "capture: unknown option '--count'");
	PARSE(&p, "a", "-");
	expect_bad(&p, "capture: unknown option '-'");
}

Test(ctlcapture, bad_links)
{
	struct parse p;

	for (const char *const *k = (const char *const[]){ "*", "a/", "a/x", "a/1000", "/1", "a/1/2",
							    "thirteen-char", NULL }; *k; k++) {
		char want[256];

		PARSE(&p, (char *)*k);
		snprintf(want, sizeof(want), "capture: '%s' is not VM or VM/N (a VM name of at most 12 "
			 "characters, N the NIC's index)", *k);
		expect_bad(&p, want);
	}
	PARSE(&p, "twelve-chars/999");
	cr_assert_eq(p.r, 0, "%s", p.e.msg);
	cr_assert_str_eq(p.a.vm, "twelve-chars");
	cr_assert_eq(p.a.nic, 999);
}

/* Not the usage shape: EXIT_USAGE without a message, the caller prints
 * the usage line. */
Test(ctlcapture, usage_shape)
{
	struct capture_args a;
	struct err e = { 0 };

	cr_assert_eq(capture_parse(1, (char *[]){ "capture", NULL }, &a, &e), EXIT_USAGE);
	cr_assert_not(err_is_set(&e));
	cr_assert_eq(capture_parse(3, (char *[]){ "capture", "a", "b", NULL }, &a, &e), EXIT_USAGE);
	cr_assert_not(err_is_set(&e));
	cr_assert_eq(capture_parse(3, (char *[]){ "capture", "-c", "5", NULL }, &a, &e), EXIT_USAGE);
	cr_assert_not(err_is_set(&e));
}

/* On the tap, what goes to the VM is sent by the host's side (outbound)
 * and what the VM sends is received (inbound). */
Test(ctlcapture, direction_on_the_tap)
{
	cr_assert_eq(capture_pcap_dir(CAPTURE_TO_VM), PCAP_D_OUT);
	cr_assert_eq(capture_pcap_dir(CAPTURE_FROM_VM), PCAP_D_IN);
	cr_assert_eq(capture_pcap_dir(CAPTURE_BOTH), PCAP_D_INOUT);
	cr_assert_str_eq(capture_dir_name(CAPTURE_TO_VM), "to-vm");
	cr_assert_str_eq(capture_dir_name(CAPTURE_FROM_VM), "from-vm");
	cr_assert_str_eq(capture_dir_name(CAPTURE_BOTH), "both");
}
