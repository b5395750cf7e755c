/* test_progress.c - the live block on a pseudo-terminal's width: one line
 * per VM redrawn in place, lines above it, the final table, and no more
 * than four frames a second however chatty the console. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "base/loop.h"
#include "launcher/progress.h"

static int master = -1, slave = -1, pipefd[2] = { -1, -1 };
static json_t *vms;
static const bool autostart[] = { true, true };

static void setup(void)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 60 };

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(master, 0);
	cr_assert_eq(grantpt(master), 0);
	cr_assert_eq(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(slave, 0);
	cr_assert_eq(ioctl(slave, TIOCSWINSZ, &ws), 0);
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK), 0);
	/* a1's address is only reserved (no lease yet): not shown. */
	vms = json_loads("[{\"name\":\"a1\",\"state\":\"starting\","
			 "\"nics\":[{\"ip\":\"10.0.0.9\",\"lease\":false}]},"
			 "{\"name\":\"bb2\",\"state\":\"stopped\","
			 "\"nics\":[{\"ip\":\"10.0.0.5\",\"lease\":true}]}]", 0, NULL);
	cr_assert_not_null(vms);
}

static void teardown(void)
{
	progress_close(); /* closes slave: progress owns it with a pipe */
	json_decref(vms);
	close(master);
	close(pipefd[0]);
	close(pipefd[1]);
}

/* What the pipe holds now. */
static char *drain(void)
{
	static char buf[65536];
	ssize_t n, len = 0;

	while ((n = read(pipefd[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
		len += n;
	buf[len] = '\0';
	return buf;
}

/* Each line of a frame (after its erase-line) fits in 59 columns and has
 * no control character but the ESC sequences we write. */
static void check_lines(const char *frame)
{
	const char *p = frame;

	while ((p = strstr(p, "\033[2K"))) {
		const char *nl = strchr(p, '\n');

		cr_assert_not_null(nl);
		p += 4;
		cr_assert_leq(nl - p, 59, "line wider than the terminal: \"%.*s\"", (int)(nl - p), p);
		for (const char *c = p; c < nl; c++)
			cr_assert(*c >= 0x20 && *c < 0x7f, "control byte 0x%02x in \"%.*s\"", *c,
				  (int)(nl - p), p);
		p = nl + 1;
	}
}

Test(progress, block_above_and_table, .init = setup, .fini = teardown)
{
	char *f;
	json_t *done;

	/* No loop: every change draws at once, so each frame can be read. */
	cr_assert_eq(progress_open(pipefd[1], slave, vms, autostart), 0);
	f = drain();
	cr_assert_str_eq(f, "\033[2Ka1  starting      0s  -\n"
			    "\033[2Kbb2 stopped        -  10.0.0.5\n\033[J");

	json_t *run = json_pack("{s:s, s:s}", "from", "starting", "to", "running");
	json_t *lease = json_pack("{s:i, s:s}", "nic", 0, "ip", "10.0.0.7");

	progress_event("a1", "state", run);
	progress_event("a1", "lease", lease);
	progress_event("a1", "ready", NULL);
	progress_event("nobody", "ready", NULL);
	json_decref(run);
	json_decref(lease);
	progress_console("a1", "\033[1;31mBooting\033[0m\tthe kernel, a line far wider than forty columns");
	cr_assert(progress_owns(pipefd[1]));
	progress_print("n3x-launch: a line for the user");
	f = drain();
	/* Up over the two-line block, the line, the block again under it. */
	cr_assert_str_eq(f, "\033[2A\r\033[2Kn3x-launch: a line for the user\n"
			    "\033[2Ka1  running       0s  10.0.0.7  ready  | Booting the kernel\n"
			    "\033[2Kbb2 stopped        -  10.0.0.5\n\033[J");
	check_lines(f);

	done = json_pack("[{s:s, s:s, s:s, s:s, s:i, s:f, s:b}, {s:s, s:s, s:s, s:s, s:n, s:f, s:b}]",
			 "name", "a1", "state", "running", "arch", "x86_64", "accel", "tcg", "pid", 42,
			 "uptime_s", 75.0, "ready", 1, "name", "bb2", "state", "stopped", "arch", "aarch64",
			 "accel", "tcg", "pid", "uptime_s", 0.0, "ready", 0);
	progress_settle(done);
	json_decref(done);
	f = drain();
	cr_assert_str_eq(f, "\033[2A\r\033[J"
			    "NAME STATE     ARCH    ACCEL PID      UPTIME  READY IP\n"
			    "a1   running   x86_64  tcg   42       1m15s   yes   10.0.0.7\n"
			    "bb2  stopped   aarch64 tcg   -        -       no    10.0.0.5\n");
	cr_assert(!progress_owns(pipefd[1]));
	progress_print("after");
	cr_assert_str_eq(drain(), "");
	slave = -1; /* closed by the settle */
}

static void stop(struct loop_timer *t)
{
	(void)t;
	loop_quit();
}

static void chatter(struct loop_timer *t)
{
	static int n;
	char line[64];

	snprintf(line, sizeof(line), "console line %d", ++n);
	progress_console("a1", line);
	loop_timer_arm(t, 2);
}

Test(progress, four_frames_a_second, .init = setup, .fini = teardown)
{
	struct loop_timer end, talk;
	int frames = 0;
	char *f;

	cr_assert_eq(loop_open(), 0);
	cr_assert_eq(progress_open(pipefd[1], slave, vms, autostart), 0);
	drain();
	loop_timer_init(&end, stop);
	loop_timer_init(&talk, chatter);
	cr_assert_eq(loop_timer_arm(&end, 1000), 0);
	cr_assert_eq(loop_timer_arm(&talk, 1), 0);
	cr_assert_eq(loop_run(), 0);
	f = drain();
	for (const char *p = f; (p = strstr(p, "\033[2A\r")); p++)
		frames++;
	/* ~500 console lines in a second; frames only from the 250 ms tick. */
	cr_assert(frames >= 2 && frames <= 5, "%d frames in a second", frames);
	cr_assert_not_null(strstr(f, "| console line"));
	loop_timer_close(&end);
	loop_timer_close(&talk);
	progress_close();
	slave = -1;
	loop_close();
}

Test(progress, taller_than_the_terminal, .init = setup, .fini = teardown)
{
	struct winsize ws = { .ws_row = 6, .ws_col = 60 };
	json_t *many = json_array();
	bool all[6] = { true, true, true, true, true, true };
	char *f;

	cr_assert_eq(ioctl(slave, TIOCSWINSZ, &ws), 0);
	for (int i = 0; i < 6; i++)
		json_array_append_new(many, json_pack("{s:s+, s:s, s:[]}", "name", "vm", i == 5 ? "5" : "x",
						      "state", "running", "nics"));
	cr_assert_eq(progress_open(pipefd[1], slave, many, all), 0);
	json_decref(many);
	progress_event("vm5", "ready", NULL);
	progress_print("above");
	drain();
	progress_print("again");
	f = drain();
	/* Three VMs and the count fit in six rows with the cursor under them:
	 * four lines up, never more. */
	cr_assert(strncmp(f, "\033[4A\r\033[2Kagain\n", strlen("\033[4A\r\033[2Kagain\n")) == 0, "\"%s\"", f);
	cr_assert_not_null(strstr(f, "\033[2K... and 3 more VMs, 1 of them ready\n\033[J"), "\"%s\"", f);
}
