/* daemon.c - the supervisor's traces on the host: the pid file, detaching
 * from the terminal, and the teardown that leaves nothing behind.
 */
#include "launcher/supervisor_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/sock.h"

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
	FILE *f = fopen(sup.pid_path, "we");

	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	return fclose(f) ? -errno : 0;
}

/* Detach: the parent waits on a pipe until the child says the VMs are
 * started (a 0 byte) or failed (its exit code), then exits with that. */
int sup_daemonize(int *notify, struct err *e)
{
	int p[2];
	pid_t pid;
	unsigned char code = 1;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		return err_sys(e, errno, "daemon");
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &code, 1) != 1)
			code = 1;
		exit(code);
	}
	close(p[0]);
	setsid();
	*notify = p[1];
	return 0;
}

void sup_daemon_log(void)
{
	char log[PATHS_MAX + 16];
	int fd, null = open("/dev/null", O_RDWR | O_CLOEXEC);

	snprintf(log, sizeof(log), "%s/launcher.log", sup.state);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		close(null);
	}
	if (fd >= 0) {
		dup2(fd, 2);
		close(fd);
	}
}

void sup_teardown(void)
{
	char vmdir[PATHS_MAX + 8];

	sup_waiters_fail_all("the supervisor exited");
	for (int i = 0; i < sup.nvms; i++)
		vm_free(sup.vms[i]);
	free(sup.vms);
	sup.vms = NULL;
	sup.nvms = 0;
	if (sup.fabric)
		fabric_close(sup.fabric);
	sup.fabric = NULL;
	if (sup.shutdown_client) {
		control_reply(sup.shutdown_client, json_pack("{s:b}", "ok", 1));
		control_client_unref(sup.shutdown_client);
	}
	control_close();
	unlink(sup.pid_path);
	snprintf(vmdir, sizeof(vmdir), "%s/vm", sup.run);
	rmdir(vmdir);
	rmdir(sup.run);
	if (sup.sigfd >= 0) {
		loop_del(sup.sigfd);
		close(sup.sigfd);
		sup.sigfd = -1;
	}
	loop_close(); /* runs the deferred frees of the waiters above */
}
