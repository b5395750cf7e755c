/* test_child.c - children as the kernel sees them: the credentials a child
 * runs with, whether it dies with its parent (PR_SET_PDEATHSIG, which a
 * credential change clears) or outlives it, its own session, the fds it
 * gets at 3.., its output into a file (errlog) or the log, and failures
 * reported from between fork and exec, and adoption of a process that is
 * not our child (its exit seen through the pidfd, signals, release).
 * Real programs (cat, sh, sleep) and /proc; the credential tests need root
 * and skip without it. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/child.h"
#include "base/loop.h"
#include "base/proc.h"

static int exits, last_status;

static void child_gone(struct child *c, int wstatus)
{
	(void)c;
	exits++;
	last_status = wstatus;
}

static void setup(void)
{
	cr_assert_eq(loop_open(), 0);
	exits = 0;
}

static void teardown(void)
{
	loop_close();
}

TestSuite(child, .init = setup, .fini = teardown);

/* Run the loop until c's exit was seen (10 s at most). */
static void wait_exit(void)
{
	for (int i = 0; i < 100 && !exits; i++)
		loop_run_once(100);
	cr_assert_eq(exits, 1, "the child's exit was not seen");
}

/* A file for the child's output, empty. */
static int out_file(void)
{
	char tmpl[] = "/tmp/n3x-child-XXXXXX";
	int fd = mkostemp(tmpl, O_CLOEXEC);

	cr_assert(fd >= 0);
	unlink(tmpl);
	return fd;
}

/* What fd holds, from the start, as a string (static). */
static const char *slurp(int fd)
{
	static char buf[8192];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	cr_assert(n >= 0);
	buf[n] = '\0';
	return buf;
}

/* "Key:\t..." of /proc/PID/status text, up to the newline (static). */
static const char *status_line(const char *text, const char *key)
{
	static char line[256];
	char k[32];
	const char *p, *e;

	snprintf(k, sizeof(k), "\n%s:\t", key);
	p = strstr(text, k);
	cr_assert_not_null(p, "no %s in %s", key, text);
	p += strlen(k);
	e = strchrnul(p, '\n');
	snprintf(line, sizeof(line), "%.*s", (int)(e - p), p);
	return line;
}

static const gid_t groups[] = { 65534, 4242 };

static void as_nobody(struct child *c)
{
	c->uid = 65534;
	c->gid = 65534;
	c->groups = groups;
	c->ngroups = 2;
}

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to change credentials");
}

/* A root supervisor's child runs as the uid, gid and groups it was given,
 * with no capability left: what QEMU runs as. */
Test(child, credentials_are_taken_before_exec)
{
	char *argv[] = { "cat", "/proc/self/status", NULL };
	struct child c;
	const char *st;
	int out = out_file();

	need_root();
	child_init(&c, "cat", child_gone, NULL);
	as_nobody(&c);
	c.errlog = out;
	cr_assert_eq(child_spawn(&c, argv, NULL, 0), 0);
	wait_exit();
	cr_expect_eq(last_status, 0);
	st = slurp(out);
	cr_expect_str_eq(status_line(st, "Uid"), "65534\t65534\t65534\t65534");
	cr_expect_str_eq(status_line(st, "Gid"), "65534\t65534\t65534\t65534");
	cr_expect_str_eq(status_line(st, "Groups"), "4242 65534 ");
	cr_expect_str_eq(status_line(st, "CapEff"), "0000000000000000");
	cr_expect_str_eq(status_line(st, "CapPrm"), "0000000000000000");
	close(out);
}

/* Without credentials the child keeps the supervisor's (child_init). */
Test(child, no_uid_keeps_the_parents_credentials)
{
	char *argv[] = { "cat", "/proc/self/status", NULL };
	char want[64];
	struct child c;
	int out = out_file();

	child_init(&c, "cat", child_gone, NULL);
	c.errlog = out;
	cr_assert_eq(child_spawn(&c, argv, NULL, 0), 0);
	wait_exit();
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", geteuid(), geteuid(), geteuid(), geteuid());
	cr_expect_str_eq(status_line(slurp(out), "Uid"), want);
	close(out);
}

/* The supervisor's stand-in: a process that starts `sleep 30` with
 * child_spawn, says its pid, and exits.  This test process is a subreaper,
 * so the sleep becomes its child: its fate can be waited for. */
static pid_t orphan_sleep(bool outlive, bool creds)
{
	int p[2];
	pid_t mid, pid = 0;

	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	mid = fork();
	cr_assert(mid >= 0);
	if (mid == 0) {
		char *argv[] = { "sleep", "30", NULL };
		struct child c;

		/* The epoll set is shared across fork: take a new one. */
		loop_close();
		if (loop_open() < 0)
			_exit(1);
		child_init(&c, "sleep", child_gone, NULL);
		c.outlive = outlive;
		if (creds)
			as_nobody(&c);
		if (child_spawn(&c, argv, NULL, 0) < 0)
			_exit(2);
		_exit(write(p[1], &c.pid, sizeof(c.pid)) == sizeof(c.pid) ? 0 : 3);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &pid, sizeof(pid)), (ssize_t)sizeof(pid));
	close(p[0]);
	cr_assert_eq(waitpid(mid, NULL, 0), mid);
	return pid;
}

/* The child's status after up to 5 s, or -1 while it runs on. */
static int reap_within(pid_t pid, int ms)
{
	int st;

	for (int i = 0; i < ms / 20; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		usleep(20 * 1000);
	}
	return -1;
}

static void dies_with_its_parent(bool creds)
{
	pid_t pid = orphan_sleep(false, creds);
	int st = reap_within(pid, 5000);

	if (st == -1)
		kill(pid, SIGKILL);
	cr_assert_neq(st, -1, "the child outlived its parent");
	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "status %#x", st);
}

Test(child, dies_with_its_parent)
{
	dies_with_its_parent(false);
}

/* The kernel clears the parent-death signal when the credentials change:
 * child_spawn sets it after the switch, so a child of another user dies
 * with the supervisor too. */
Test(child, dies_with_its_parent_after_a_user_switch)
{
	need_root();
	dies_with_its_parent(true);
}

/* outlive: no parent-death signal; the child runs on, in its own session
 * (a Ctrl-C on the supervisor's terminal is not its), as its user. */
Test(child, outlives_its_parent)
{
	char path[64], text[4096];
	pid_t pid;
	ssize_t n;
	int fd;

	need_root();
	pid = orphan_sleep(true, true);
	cr_expect_eq(reap_within(pid, 500), -1, "an outliving child died with its parent");
	cr_expect_eq(getsid(pid), pid, "not in a session of its own");
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	cr_assert(n > 0);
	text[n] = '\0';
	cr_expect_str_eq(status_line(text, "Uid"), "65534\t65534\t65534\t65534");
	kill(pid, SIGKILL);
	cr_expect_neq(reap_within(pid, 5000), -1);
}

/* errlog: stdout and stderr go to the file, not into the log; the exit
 * status still comes through the loop. */
Test(child, errlog_takes_stdout_and_stderr)
{
	char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	struct child c;
	int out = out_file();

	child_init(&c, "sh", child_gone, NULL);
	c.errlog = out;
	cr_assert_eq(child_spawn(&c, argv, NULL, 0), 0);
	cr_expect_eq(c.errfd, -1, "a log pipe is watched for a child with errlog");
	wait_exit();
	cr_expect(WIFEXITED(last_status) && WEXITSTATUS(last_status) == 3, "status %#x", last_status);
	cr_expect_str_eq(slurp(out), "out\nerr\n");
	cr_expect_str_eq(c.last_line, "");
	cr_expect_not(child_running(&c));
	close(out);
}

/* Without errlog stderr goes into the log, and the last line is kept for
 * the error that names why the child failed. */
Test(child, stderr_goes_to_the_log_and_keeps_the_last_line)
{
	char *argv[] = { "sh", "-c", "echo first >&2; printf 'last words' >&2; exit 1", NULL };
	struct child c;

	child_init(&c, "sh", child_gone, NULL);
	cr_assert_eq(child_spawn(&c, argv, NULL, 0), 0);
	wait_exit();
	cr_expect(WIFEXITED(last_status) && WEXITSTATUS(last_status) == 1);
	cr_expect_str_eq(c.last_line, "last words");
}

/* fds[i] is fd 3+i in the child, whatever numbers the parent had. */
Test(child, fds_arrive_at_3_and_up)
{
	char *argv[] = { "sh", "-c", "echo three >&3; echo four >&4", NULL };
	int a = out_file(), b = out_file(), fds[2] = { b, a };
	struct child c;

	child_init(&c, "sh", child_gone, NULL);
	cr_assert_eq(child_spawn(&c, argv, fds, 2), 0);
	wait_exit();
	cr_expect_eq(last_status, 0);
	cr_expect_str_eq(slurp(b), "three\n");
	cr_expect_str_eq(slurp(a), "four\n");
	close(a);
	close(b);
}

/* A failure between fork and exec is the spawn's error, and no child is
 * left behind: a program that is not there, credentials that cannot be
 * taken. */
Test(child, failures_before_exec_are_returned)
{
	char *missing[] = { "/nonexistent/n3x-no-such-program", NULL };
	char *sleep_argv[] = { "sleep", "30", NULL };
	struct child c;

	child_init(&c, "missing", child_gone, NULL);
	cr_expect_eq(child_spawn(&c, missing, NULL, 0), -ENOENT);
	cr_expect_not(child_running(&c));
	if (geteuid() == 0) {
		child_init(&c, "sleep", child_gone, NULL);
		as_nobody(&c);
		c.ngroups = -1;
		cr_expect_eq(child_spawn(&c, sleep_argv, NULL, 0), -EINVAL);
		cr_expect_not(child_running(&c));
	}
	cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1, "a failed child was left");
	cr_expect_eq(errno, ECHILD);
	cr_expect_eq(exits, 0);
}

Test(child, status_strings)
{
	char buf[64];

	cr_expect_str_eq(child_status_str(W_EXITCODE(2, 0), buf, sizeof(buf)), "exited with status 2");
	cr_expect_str_eq(child_status_str(SIGKILL, buf, sizeof(buf)), "killed by SIGKILL");
	cr_expect_str_eq(child_status_str(CHILD_STATUS_UNKNOWN, buf, sizeof(buf)), "exited (adopted, status unknown)");
}

/* ---- adoption ---- */

/* Start argv as a process that is not ours, as one an earlier supervisor
 * left: a middle process forks it and exits, so it is reparented (to init
 * or a subreaper).  Returns its pid once it has exec'd argv[0]. */
static pid_t start_orphan(char *const argv[])
{
	int p[2];
	pid_t mid, pid = 0;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	mid = fork();
	cr_assert_geq(mid, 0);
	if (mid == 0) {
		pid_t g = fork();

		if (g == 0) {
			setsid();
			execvp(argv[0], argv);
			_exit(127);
		}
		(void)!write(p[1], &g, sizeof(g));
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &pid, sizeof(pid)), (ssize_t)sizeof(pid));
	close(p[0]);
	cr_assert_eq(waitpid(mid, NULL, 0), mid);
	/* Until /proc shows the program, not our copy of the test. */
	for (int i = 0; i < 200; i++) {
		struct strv a = { 0 }, self = { 0 };
		bool execd = proc_cmdline(pid, &a) > 0 && proc_cmdline(getpid(), &self) > 0 &&
			     strcmp(a.v[0], self.v[0]);

		strv_free(&a);
		strv_free(&self);
		if (execd)
			return pid;
		usleep(10 * 1000);
	}
	cr_assert_fail("%s did not start", argv[0]);
	return 0;
}

/* Whether pid has exited: gone from /proc, or a zombie waiting for its
 * parent. */
static bool has_exited(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && (p[2] == 'Z' || p[2] == 'X');
}

/* The argument is_it expects as argv[1]. */
static bool second_arg_is(pid_t pid, void *opaque)
{
	struct strv a = { 0 };
	bool same = proc_cmdline(pid, &a) > 1 && !strcmp(a.v[1], opaque);

	strv_free(&a);
	return same;
}

/* An adopted process is a child like any other: running, signalled
 * through its pidfd, its exit seen in the loop.  It is not ours to reap,
 * so exited gets CHILD_STATUS_UNKNOWN. */
Test(child, adopted_exit_is_seen_with_status_unknown)
{
	char *argv[] = { "sleep", "30", NULL };
	pid_t pid = start_orphan(argv);
	struct child c;
	char buf[64];

	child_init(&c, "sleep", child_gone, NULL);
	cr_assert_eq(child_adopt(&c, pid, second_arg_is, "30"), 0);
	cr_expect(child_running(&c));
	cr_expect(child_adopted(&c));
	cr_expect_eq(waitpid(pid, NULL, WNOHANG), -1, "the adopted process is not our child");
	cr_expect_eq(errno, ECHILD);
	loop_run_once(100);
	cr_expect_eq(exits, 0, "exited before it did");
	cr_assert_eq(child_signal(&c, SIGKILL), 0);
	wait_exit();
	cr_expect_eq(last_status, CHILD_STATUS_UNKNOWN);
	cr_expect_not(WIFEXITED(last_status));
	cr_expect_not(WIFSIGNALED(last_status));
	cr_expect_str_eq(child_status_str(last_status, buf, sizeof(buf)), "exited (adopted, status unknown)");
	cr_expect_not(child_running(&c));
	cr_expect_not(child_adopted(&c));
	cr_expect_eq(child_signal(&c, SIGTERM), -ESRCH);
	cr_expect(has_exited(pid));
}

/* Only the process the caller expects is adopted (is_it reads /proc with
 * the pidfd held), and a pid with no process is not. */
Test(child, adopt_takes_only_the_expected_process)
{
	char *argv[] = { "sleep", "31", NULL };
	pid_t pid = start_orphan(argv);
	struct child c;
	uint64_t start;

	child_init(&c, "sleep", child_gone, NULL);
	cr_expect_eq(child_adopt(&c, pid, second_arg_is, "32"), -ESRCH);
	cr_expect_not(child_running(&c));
	cr_expect_eq(proc_start_time(pid, &start), 0);
	cr_expect_gt(start, 0);
	cr_assert_eq(child_adopt(&c, pid, NULL, NULL), 0);
	cr_assert(child_running(&c));
	kill(pid, SIGKILL);
	wait_exit();
	cr_expect_eq(last_status, CHILD_STATUS_UNKNOWN);
	cr_expect_eq(child_adopt(&c, 0, NULL, NULL), -ESRCH);
	cr_expect_eq(child_adopt(&c, -1, NULL, NULL), -ESRCH);
	cr_expect_not(child_running(&c));
}

/* Teardown ends an adopted process as it does ours: SIGTERM, and SIGKILL
 * after the timeout for one that ignores it (sleep keeps the shell's
 * ignored SIGTERM).  exited is not called. */
Test(child, stop_sync_ends_an_adopted_process)
{
	char *plain[] = { "sleep", "33", NULL };
	char *stubborn[] = { "sh", "-c", "trap '' TERM; exec sleep 34", NULL };
	pid_t pid = start_orphan(plain);
	struct child c;
	struct timespec t0, t1;

	child_init(&c, "sleep", child_gone, NULL);
	cr_assert_eq(child_adopt(&c, pid, NULL, NULL), 0);
	child_stop_sync(&c, 2000);
	cr_expect_not(child_running(&c));
	cr_expect(has_exited(pid));

	pid = start_orphan(stubborn);
	for (int i = 0; i < 200; i++) { /* until sh has exec'd sleep */
		struct strv a = { 0 };
		bool slept = proc_cmdline(pid, &a) > 1 && !strcmp(a.v[1], "34");

		strv_free(&a);
		if (slept)
			break;
		usleep(10 * 1000);
	}
	cr_assert_eq(child_adopt(&c, pid, second_arg_is, "34"), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	child_stop_sync(&c, 300);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_expect_not(child_running(&c));
	cr_expect(has_exited(pid), "SIGKILL after the timeout");
	cr_expect_geq((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 300);
	cr_expect_eq(exits, 0);
}

/* Released, an adopted process runs on for the next supervisor, unseen. */
Test(child, release_lets_an_adopted_process_run_on)
{
	char *argv[] = { "sleep", "35", NULL };
	pid_t pid = start_orphan(argv);
	struct child c;

	child_init(&c, "sleep", child_gone, NULL);
	cr_assert_eq(child_adopt(&c, pid, NULL, NULL), 0);
	child_release(&c);
	cr_expect_not(child_running(&c));
	kill(pid, SIGKILL);
	loop_run_once(200);
	cr_expect_eq(exits, 0, "a released process's exit was reported");
}
