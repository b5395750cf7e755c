/* test_log.c - the log never blocks and stays bounded: a stderr pipe nobody
 * reads, a chatty child, and launcher.log's rotation. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/child.h"
#include "base/log.h"
#include "base/loop.h"

static int saved_stderr = -1;
static int pipefd[2] = { -1, -1 };
static char dir[64];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* fd 2 becomes a small pipe that nobody reads until the test says so. */
static void stall_stderr(void)
{
	cr_assert_eq(pipe2(pipefd, O_CLOEXEC), 0);
	fcntl(pipefd[1], F_SETPIPE_SZ, 4096);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	cr_assert_eq(dup2(pipefd[1], STDERR_FILENO), STDERR_FILENO);
	log_reset();
}

/* Everything the pipe holds now, appended to out (NUL-terminated). */
static size_t drain(char *out, size_t size, size_t len)
{
	ssize_t n;

	while (len + 1 < size && (n = read(pipefd[0], out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	return len;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	saved_stderr = dup(STDERR_FILENO);
	strcpy(dir, "/tmp/n3x-test-log-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(loop_open(), 0);
	log_set_prefix(NULL);
}

static void teardown(void)
{
	log_flush(0);
	loop_close();
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	log_reset();
	for (int i = 0; i < 2; i++)
		if (pipefd[i] >= 0)
			close(pipefd[i]);
	pipefd[0] = pipefd[1] = -1;
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(log, .init = setup, .fini = teardown, .timeout = 30);

Test(log, a_reader_that_stalls_never_blocks_and_drops_are_counted)
{
	static char got[256 * 1024];
	long long t0;
	size_t len;

	stall_stderr();
	t0 = now_ms();
	for (int i = 0; i < 10000; i++)
		log_line("line %05d of a log nobody reads for a while", i);
	cr_assert_lt(now_ms() - t0, 2000, "logging waited for the reader");
	cr_assert_leq(log_queued(), LOG_QUEUE_MAX);
	cr_assert_gt(log_dropped(), 0, "10000 lines fit into a 4 KiB pipe and a 64 KiB queue?");

	/* The reader comes back: the loop writes the queue on EPOLLOUT. */
	len = drain(got, sizeof(got), 0);
	for (int i = 0; i < 200 && log_queued(); i++) {
		loop_run_once(10);
		len = drain(got, sizeof(got), len);
	}
	cr_assert_eq(log_queued(), 0, "the loop did not write the queue");
	cr_assert_not_null(strstr(got, "line 00000 of a log"), "the first line is lost");
	cr_assert_null(strstr(got, "line 09999"), "the last line should have been dropped");

	/* The next line is preceded by how many were lost. */
	log_line("back");
	len = drain(got, sizeof(got), 0);
	char want[96];

	snprintf(want, sizeof(want), "%u log lines dropped: the log's reader is not keeping up\nback\n",
		 log_dropped());
	cr_assert_str_eq(got, want);
}

Test(log, children_fill_only_their_share)
{
	static char got[256 * 1024];
	size_t len = 0;
	int taken = 0;

	stall_stderr();
	while (log_child("vm a: qemu", "chatter chatter chatter chatter chatter", 39))
		taken++;
	cr_assert_gt(taken, 0);
	cr_assert_leq(log_queued(), LOG_CHILD_SHARE);
	/* The supervisor's own line still gets in. */
	log_line("the supervisor speaks");
	cr_assert_eq(log_dropped(), 0);
	while (log_queued()) {
		loop_run_once(10);
		len = drain(got, sizeof(got), len);
	}
	cr_assert_not_null(strstr(got, "\nthe supervisor speaks\n"));
	cr_assert_not_null(strstr(got, "vm a: qemu: chatter chatter"));
}

static int exited;

static void child_exited(struct child *c, int wstatus)
{
	(void)c, (void)wstatus;
	exited = 1;
}

Test(log, a_chatty_child_is_drained_and_its_drops_counted)
{
	static char got[1024 * 1024];
	char *const argv[] = { "sh", "-c", "i=0; while [ $i -lt 20000 ]; do echo \"out $i\" >&2; i=$((i+1)); done", NULL };
	struct child c;
	long long t0;
	size_t len = 0;

	stall_stderr();
	child_init(&c, "chatty", child_exited, NULL);
	cr_assert_eq(child_spawn(&c, argv, NULL, 0), 0);
	t0 = now_ms();
	/* The child finishes although nobody reads the log: its pipe is
	 * always drained, lines beyond the queue are dropped. */
	while (!exited) {
		cr_assert_lt(now_ms() - t0, 20000, "the child blocked on its stderr");
		loop_run_once(50);
	}
	cr_assert_str_eq(c.last_line, "out 19999");
	while (log_queued()) {
		loop_run_once(10);
		len = drain(got, sizeof(got), len);
	}
	log_line("done");
	len = drain(got, sizeof(got), len);
	cr_assert_not_null(strstr(got, "chatty: out 0\n"));
	/* The count went out either as the child's own marker or, when even
	 * that found no room, in the log's next line. */
	cr_assert(strstr(got, "lines dropped (the log is not keeping up)") ||
		  strstr(got, "log lines dropped"), "no drop marker in: ...%s", got + (len > 300 ? len - 300 : 0));
}

static size_t file_size(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? 0 : (size_t)st.st_size;
}

static char *slurp(int dfd, const char *name)
{
	static char buf[2][8192];
	static int which;
	char *b = buf[which++ & 1];
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	cr_assert_geq(fd, 0, "%s: %s", name, strerror(errno));
	n = read(fd, b, sizeof(buf[0]) - 1);
	close(fd);
	cr_assert_geq(n, 0);
	b[n] = '\0';
	return b;
}

Test(log, the_file_rotates_at_its_cap)
{
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char *cur, *old, *last_old, want[64];
	int first;

	log_set_prefix("n3x-launch");
	cr_assert_eq(log_to_file(dfd, "t.log", 4096), 0);
	for (int i = 0; i < 300; i++)
		log_line("line %04d ........................................", i);
	cr_assert_leq(file_size(dfd, "t.log"), 4096);
	cr_assert_leq(file_size(dfd, "t.log.1"), 4096);
	cr_assert_gt(file_size(dfd, "t.log.1"), 4096 - 100, "t.log.1 is not a full generation");
	cur = slurp(dfd, "t.log");
	old = slurp(dfd, "t.log.1");
	/* Nothing lost at the seam: t.log starts with the line after t.log.1's last. */
	cr_assert_eq(sscanf(cur, "n3x-launch: line %d", &first), 1, "%s", cur);
	last_old = old + strlen(old) - 1;
	while (last_old > old && last_old[-1] != '\n')
		last_old--;
	snprintf(want, sizeof(want), "n3x-launch: line %04d", first - 1);
	cr_assert_eq(strncmp(last_old, want, strlen(want)), 0, "seam: %s / %s", last_old, want);
	cr_assert_not_null(strstr(cur, "line 0299 ..."), "the last line is not in t.log");
	/* Stray writes to fd 2 land in the current file too. */
	cr_assert_eq(write(STDERR_FILENO, "stray\n", 6), 6);
	cr_assert_not_null(strstr(slurp(dfd, "t.log"), "stray\n"));
	close(dfd);
}

Test(log, a_symlink_in_place_of_the_file_is_refused)
{
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	char target[128];

	snprintf(target, sizeof(target), "%s/victim", dir);
	cr_assert_eq(symlinkat(target, dfd, "t.log"), 0);
	cr_assert_eq(log_to_file(dfd, "t.log", 4096), -ELOOP);
	cr_assert_eq(access(target, F_OK), -1, "the link was followed");
	close(dfd);
}

/* A tap that takes what is not a status line, and counts what it saw. */
static int tapped, tapped_status;
static char tapped_last[256];

static bool take(enum log_level level, bool status, const char *line, size_t len, void *opaque)
{
	(void)level, (void)opaque;
	tapped++;
	tapped_status += status;
	snprintf(tapped_last, sizeof(tapped_last), "%.*s", (int)len, line);
	return !status;
}

Test(log, levels_and_tap, .init = setup, .fini = teardown)
{
	char out[4096];
	size_t len;
	regex_t re;

	stall_stderr();
	log_set_prefix("n3x");
	log_set_level(LOG_WARN);
	log_info("routine");
	log_debug("chatter");
	log_status(LOG_INFO, "vm a: running");
	log_line("a warning");
	log_status(LOG_WARN, "vm a: crashed");
	len = drain(out, sizeof(out), 0);
	cr_assert_eq(regcomp(&re, "^n3x: a warning\n[0-9]{2}:[0-9]{2}:[0-9]{2} n3x: vm a: crashed\n$",
			     REG_EXTENDED), 0);
	cr_assert_eq(regexec(&re, out, 0, NULL, 0), 0, "--quiet's stderr: \"%s\"", out);
	regfree(&re);

	log_set_level(LOG_DEBUG);
	log_debug("chatter");
	len = drain(out, sizeof(out), 0);
	cr_assert_str_eq(out, "n3x: chatter\n");

	/* The tap takes the plain line and passes the status one on. */
	log_set_level(LOG_INFO);
	log_set_tap(take, NULL);
	log_info("taken");
	cr_assert_str_eq(tapped_last, "n3x: taken\n");
	log_status(LOG_INFO, "vm a: starting");
	log_debug("not shown, not tapped");
	cr_assert_eq(tapped, 2);
	cr_assert_eq(tapped_status, 1);
	cr_assert(log_raw("raw\n", 4));
	len = drain(out, sizeof(out), 0);
	cr_assert_eq(regcomp(&re, "^[0-9:]{8} n3x: vm a: starting\nraw\n$", REG_EXTENDED), 0);
	cr_assert_eq(regexec(&re, out, 0, NULL, 0), 0, "with a tap: \"%s\"", out);
	regfree(&re);
	(void)len;
}

Test(log, file_keeps_info_under_quiet, .init = setup, .fini = teardown)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char path[128], buf[256] = "";
	FILE *f;

	cr_assert_geq(dfd, 0);
	log_set_level(LOG_WARN);
	cr_assert_eq(log_to_file(dfd, "q.log", 4096), 0);
	log_info("kept");
	log_debug("not kept");
	log_flush(0);
	snprintf(path, sizeof(path), "%s/q.log", dir);
	cr_assert_not_null(f = fopen(path, "r"));
	cr_assert_gt(fread(buf, 1, sizeof(buf) - 1, f), 0);
	fclose(f);
	close(dfd);
	cr_assert_str_eq(buf, "kept\n");
}
