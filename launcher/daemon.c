/* daemon.c - the supervisor's traces on the host: the pid file, detaching
 * from the terminal, and the teardown that leaves nothing behind.
 */
#include "launcher/supervisor_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/paths.h"
#include "base/sock.h"
#include "launcher/impair.h"
#include "launcher/notify.h"
#include "launcher/partition.h"
#include "launcher/progress.h"
#include "launcher/snapshot.h"

pid_t sup_running(void)
{
	/* A live supervisor answers on control.sock; a stale file does not. */
	int fd = unix_connect(sup.control_path);
	pid_t pid = -1;
	FILE *f;

	if (fd < 0)
		return 0;
	close(fd);
	if ((f = fopen(sup.pid_path, "re"))) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid;
}

int sup_write_pid(void)
{
	/* In the checked run dir, never through a symbolic link planted there. */
	int fd = paths_openat(sup.run_fd, "launcher.pid", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	char line[24];
	int n, r = 0;

	if (fd < 0)
		return fd;
	n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	if (write(fd, line, (size_t)n) != n)
		r = -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	return r;
}

/* Write all of buf[0..len) to stderr (a progress frame in one piece). */
static void put_err(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(STDERR_FILENO, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* The parent's side of the notify pipe: print the child's lines on our
 * stderr until "=CODE", then exit with CODE (0: systemd's main process is
 * the child from now on).  A child that dies without one is a failure.
 * The lines a read brings go out in one write, so a progress frame (the
 * child draws it, progress.c) reaches the terminal whole. */
static void __attribute__((noreturn)) parent_wait(int fd, pid_t child)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;

	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0 || (n < 0 && errno == EINTR)) {
		char *line = buf, *nl;

		len += n > 0 ? (size_t)n : 0;
		while ((nl = memchr(line, '\n', len - (size_t)(line - buf)))) {
			if (line[0] == '=') {
				*nl = '\0';
				if (atoi(line + 1) == 0)
					notify_mainpid(child);
				exit(atoi(line + 1));
			}
			/* Up to the next "=CODE" line, or what this read completed. */
			char *end = nl + 1, *next;

			while (end < buf + len && *end != '=' &&
			       (next = memchr(end, '\n', len - (size_t)(end - buf))))
				end = next + 1;
			put_err(line, (size_t)(end - line));
			line = end;
		}
		len -= (size_t)(line - buf);
		memmove(buf, line, len);
		if (len == sizeof(buf) - 1)
			len = 0; /* a line longer than any we send: drop it */
	}
	fprintf(stderr, "%s: the supervisor exited; see %s/launcher.log\n", SUP_LOG_PREFIX, sup.state);
	exit(1);
}

/* Detach: the parent waits on a pipe until the child says the VMs are
 * started (=0) or failed (its exit code), printing what the child sends
 * until then (--wait-ready's progress). */
int sup_daemonize(int *notify, struct err *e)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		return err_sys(e, errno, "daemon");
	if (pid > 0) {
		close(p[1]);
		parent_wait(p[0], pid);
	}
	close(p[0]);
	setsid();
	*notify = p[1];
	return 0;
}

void sup_notify_line(int fd, const char *fmt, ...)
{
	char line[ERR_MSG_MAX + 64];
	va_list ap;
	int n;

	if (fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	for (int i = 0; i < n; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	if (progress_owns(fd)) {
		/* Above the progress block, not torn into it. */
		line[n] = '\0';
		progress_print(line);
		return;
	}
	line[n] = '\n';
	/* A parent gone (killed) is EPIPE, SIGPIPE being ignored: nothing to tell. */
	(void)!write(fd, line, (size_t)n + 1);
}

void sup_notify_exit(int fd, int code)
{
	char line[16];
	int n;

	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "=%d\n", code);
	(void)!write(fd, line, (size_t)n);
	close(fd);
}

void sup_daemon_log(void)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		close(null);
	}
	/* Capped and rotated (launcher.log.1), opened in the checked state dir;
	 * it becomes fd 2 too.  Without it the log stays where it was. */
	int r = log_to_file(sup.state_fd, "launcher.log", LOG_FILE_MAX);

	if (r < 0)
		log_line("%s/launcher.log: %s; logging to stderr instead", sup.state, strerror(-r));
}

void sup_teardown(void)
{
	char vmdir[PATHS_MAX + 8];

	sup_wait_ready_abort("the supervisor stopped");
	sup_waiters_fail_all("the supervisor exited");
	sup_ready_free();
	guest_exec_fail_all("the supervisor exited");
	snapshot_abort("the supervisor exited");
	for (int i = 0; i < sup.nvms; i++)
		vm_free(sup.vms[i]);
	free(sup.vms);
	sup.vms = NULL;
	sup.nvms = 0;
	if (sup.keep_vms)
		fabric_release(sup.fabric);
	else if (sup.fabric)
		fabric_close(sup.fabric);
	sup.fabric = NULL;
	/* Their files in $RUN go before the rmdir. */
	impair_close(sup.keep_vms);
	partition_close(sup.keep_vms);
	if (sup.shutdown_client) {
		control_reply(sup.shutdown_client, json_pack("{s:b}", "ok", 1));
		control_client_unref(sup.shutdown_client);
	}
	control_close();
	unlink(sup.pid_path);
	/* Kept VMs' sockets and state files, dnsmasq's and OVS's, stay. */
	if (!sup.keep_vms) {
		snprintf(vmdir, sizeof(vmdir), "%s/vm", sup.run);
		rmdir(vmdir);
		rmdir(sup.run);
	}
	if (sup.sigfd >= 0) {
		loop_del(sup.sigfd);
		close(sup.sigfd);
		sup.sigfd = -1;
	}
	log_flush(0); /* the log leaves the loop; main's last flush may wait */
	loop_close(); /* runs the deferred frees of the waiters above */
}
