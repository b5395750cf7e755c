/* child.c - fork/exec with a pidfd, stderr captured into the log. */
#include "base/child.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <poll.h>
#include <sched.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* One line of the child's output into the log's queue, never waiting for
 * the log: when the queue is full the line is counted, and the next line
 * that fits is preceded by how many were lost. */
static void put_line(struct child *c, const char *s, size_t n)
{
	if (c->dropped) {
		char mark[64];
		int k = snprintf(mark, sizeof(mark), "%u lines dropped (the log is not keeping up)", c->dropped);

		if (!log_child(c->tag, mark, (size_t)k)) {
			c->dropped++;
			return;
		}
		c->dropped = 0;
	}
	if (!log_child(c->tag, s, n))
		c->dropped++;
}

static void flush_lines(struct child *c, bool all)
{
	char *start = c->buf, *nl;
	size_t left = c->len;

	while ((nl = memchr(start, '\n', left)) || (all && left)) {
		size_t n = nl ? (size_t)(nl - start) : left;

		if (n && start[n - 1] == '\r')
			n--;
		if (n) {
			put_line(c, start, n);
			snprintf(c->last_line, sizeof(c->last_line), "%.*s", (int)n, start);
		}
		n = nl ? (size_t)(nl - start) + 1 : left;
		start += n;
		left -= n;
	}
	/* A line longer than the buffer is logged in pieces. */
	if (left == sizeof(c->buf)) {
		put_line(c, start, left);
		left = 0;
	}
	memmove(c->buf, start, left);
	c->len = left;
	/* The end of the output: a count nobody would hear of otherwise. */
	if (all && c->dropped) {
		char mark[64];
		int k = snprintf(mark, sizeof(mark), "%u lines dropped (the log is not keeping up)", c->dropped);

		if (!log_child(c->tag, mark, (size_t)k))
			log_lost(c->dropped); /* the log's own count says it then */
		c->dropped = 0;
	}
}

static void close_err(struct child *c)
{
	if (c->errfd < 0)
		return;
	flush_lines(c, true);
	loop_del(c->errfd);
	close(c->errfd);
	c->errfd = -1;
}

static void drain_err(struct child *c)
{
	for (;;) {
		ssize_t n = read(c->errfd, c->buf + c->len, sizeof(c->buf) - c->len);

		if (n > 0) {
			c->len += n;
			flush_lines(c, false);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		close_err(c); /* EOF: the child and anything it forked closed stderr */
		return;
	}
}

static void err_cb(struct loop_watch *w, uint32_t events)
{
	(void)events;
	drain_err(container_of(w, struct child, err_w));
}

static void forget(struct child *c)
{
	if (c->errfd >= 0)
		drain_err(c);
	close_err(c);
	loop_del(c->pidfd);
	close(c->pidfd);
	c->pidfd = -1;
	c->pid = 0;
	c->adopted = false;
}

static void pid_cb(struct loop_watch *w, uint32_t events)
{
	struct child *c = container_of(w, struct child, pid_w);
	siginfo_t si;
	int status;

	(void)events;
	if (c->adopted) {
		/* Readable: it exited.  Its parent reaps it, not us. */
		forget(c);
		c->exited(c, CHILD_STATUS_UNKNOWN);
		return;
	}
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, c->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0) : si.si_status & 0x7f;
	forget(c);
	c->exited(c, status);
}

/* In the child, between fork and exec: only async-signal-safe calls.  Every
 * fd is first lifted above the target range so no dup2 clobbers another. */
static int child_setup(const struct child *c, int report, const int *fds, int nfds, int errw, pid_t parent)
{
	enum { HIGH = 64 };
	int moved[CHILD_MAX_FDS], e;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	if (c->netns >= 0 && setns(c->netns, CLONE_NEWNET) < 0)
		goto fail;
	if (c->uid && (setgroups(c->ngroups, c->groups) < 0 || setresgid(c->gid, c->gid, c->gid) < 0 ||
		       setresuid(c->uid, c->uid, c->uid) < 0))
		goto fail;
	/* After the credentials: changing them clears the parent-death signal. */
	if (!c->outlive) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
	}
	report = fcntl(report, F_DUPFD_CLOEXEC, HIGH);
	errw = fcntl(c->errlog >= 0 ? c->errlog : errw, F_DUPFD, HIGH);
	for (int i = 0; i < nfds; i++)
		moved[i] = fcntl(fds[i], F_DUPFD, HIGH);
	int devnull = open("/dev/null", O_RDWR);
	if (report < 0 || errw < 0 || devnull < 0 || dup2(devnull, 0) < 0 ||
	    dup2(errw, 1) < 0 || dup2(errw, 2) < 0)
		goto fail;
	for (int i = 0; i < nfds; i++)
		if (moved[i] < 0 || dup2(moved[i], 3 + i) < 0)
			goto fail;
	/* dup2 leaves the targets inheritable; everything else goes at exec. */
	if (close_range(3 + nfds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		goto fail;
	return report;
fail:
	e = errno;
	(void)!write(report, &e, sizeof(e));
	_exit(127);
}

int child_spawn(struct child *c, char *const argv[], const int *fds, int nfds)
{
	int report[2], errp[2], e = 0, r;
	pid_t parent = getpid(), pid;
	ssize_t n;

	c->pid = 0;
	c->pidfd = c->errfd = -1;
	c->adopted = false;
	c->len = 0;
	c->dropped = 0;
	c->last_line[0] = '\0';
	if (nfds > CHILD_MAX_FDS)
		return -EINVAL;
	if (pipe2(report, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		r = -errno;
		goto out_report;
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto out_err;
	}
	if (pid == 0) {
		close(report[0]);
		close(errp[0]);
		int rep = child_setup(c, report[1], fds, nfds, errp[1], parent);

		execvp(argv[0], argv);
		e = errno;
		(void)!write(rep, &e, sizeof(e));
		_exit(127);
	}
	close(report[1]);
	close(errp[1]);
	report[1] = errp[1] = -1;
	/* Blocks only until the child execs or fails: the pipe is close-on-exec. */
	do
		n = read(report[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(e)) {
		waitpid(pid, NULL, 0);
		r = -e;
		goto out_err;
	}
	c->pid_w.cb = pid_cb;
	c->err_w.cb = err_cb;
	if (c->errlog >= 0) {
		close(errp[0]); /* the child writes to its file: no pipe to watch */
		errp[0] = -1;
	} else {
		fcntl(errp[0], F_SETFL, O_NONBLOCK);
	}
	r = 0;
	c->pidfd = pidfd_open(pid, 0);
	if (c->pidfd < 0)
		r = -errno;
	else if ((r = loop_add(c->pidfd, EPOLLIN, &c->pid_w)) == 0 && errp[0] >= 0 &&
		 (r = loop_add(errp[0], EPOLLIN, &c->err_w)) < 0)
		loop_del(c->pidfd);
	if (r < 0) {
		/* Unwatched, the child would run on with nobody to see it exit. */
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (c->pidfd >= 0)
			close(c->pidfd);
		c->pidfd = -1;
		goto out_err;
	}
	c->pid = pid;
	c->errfd = errp[0];
	errp[0] = -1;
out_err:
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
out_report:
	close(report[0]);
	if (report[1] >= 0)
		close(report[1]);
	return r;
}

void child_init(struct child *c, const char *tag, void (*exited)(struct child *, int), void *opaque)
{
	memset(c, 0, sizeof(*c));
	c->tag = tag;
	c->exited = exited;
	c->opaque = opaque;
	c->pidfd = c->errfd = c->netns = c->errlog = -1;
}

int child_adopt(struct child *c, pid_t pid, bool (*is_it)(pid_t pid, void *opaque), void *opaque)
{
	int fd, r;

	if (pid <= 0 || (fd = pidfd_open(pid, 0)) < 0)
		return -ESRCH;
	if (is_it && !is_it(pid, opaque)) {
		close(fd);
		return -ESRCH;
	}
	c->pid_w.cb = pid_cb;
	r = loop_add(fd, EPOLLIN, &c->pid_w);
	c->pid = pid;
	c->pidfd = fd;
	c->errfd = -1;
	c->adopted = true;
	c->len = 0;
	c->dropped = 0;
	c->last_line[0] = '\0';
	return r;
}

bool child_adopted(const struct child *c)
{
	return c->pid > 0 && c->adopted;
}

bool child_running(const struct child *c)
{
	return c->pid > 0;
}

int child_signal(struct child *c, int sig)
{
	if (c->pidfd < 0)
		return -ESRCH;
	return pidfd_send_signal(c->pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

void child_stop_sync(struct child *c, int timeout_ms)
{
	struct pollfd p = { .fd = c->pidfd, .events = POLLIN };
	siginfo_t si;

	if (c->pidfd < 0)
		return;
	pidfd_send_signal(c->pidfd, SIGTERM, NULL, 0);
	if (poll(&p, 1, timeout_ms) <= 0) {
		pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
		if (c->adopted)
			poll(&p, 1, CHILD_KILL_WAIT_MS);
	}
	/* An adopted child's exit is its parent's to reap (waitid: ECHILD). */
	while (!c->adopted && waitid(P_PIDFD, c->pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	forget(c);
}

void child_release(struct child *c)
{
	if (c->pidfd >= 0)
		forget(c);
}

const char *child_status_str(int wstatus, char *buf, size_t size)
{
	if (wstatus == CHILD_STATUS_UNKNOWN)
		snprintf(buf, size, "exited (adopted, status unknown)");
	else if (WIFEXITED(wstatus))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(wstatus));
	else
		snprintf(buf, size, "killed by SIG%s", sigabbrev_np(WTERMSIG(wstatus)) ?: "?");
	return buf;
}
