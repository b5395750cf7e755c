/* ovsd.c - a system Open vSwitch, or a private ovsdb-server + ovs-vswitchd. */
#include "net/ovsd.h"
#include "base/buf.h"
#include "base/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_TIMEOUT_MS 5000
/* A private OVS left by a supervisor killed a moment ago is still exiting
 * (it got SIGTERM through PR_SET_PDEATHSIG): give it this long to go. */
#define LEFTOVER_TIMEOUT_MS 2000

extern char **environ;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int ovsd_kernel_datapath(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk)
		return -ENOMEM;
	r = genl_connect(sk);
	if (r >= 0)
		r = genl_ctrl_resolve(sk, "ovs_datapath");
	nl_socket_free(sk);
	if (r >= 0)
		return 1;
	return r == -NLE_OBJ_NOTFOUND ? 0 : -EIO;
}

/* 0 when something accepts connections at path, else -errno from connect
 * (-ENOENT: no socket, -ECONNREFUSED: a stale one). */
static int answers(const char *path)
{
	int fd = unix_connect(path);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

static int same_netns(pid_t pid, int netns_fd)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat(path, &a) < 0)
		return -errno;
	if (netns_fd >= 0 ? fstat(netns_fd, &b) < 0 : stat("/proc/self/ns/net", &b) < 0)
		return -errno;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int ovsd_system_sock(int netns_fd, char *sock, size_t size)
{
	const char *dir = getenv("OVS_RUNDIR");
	char pidfile[PATHS_MAX];
	FILE *f;
	int pid = 0, r;

	if (!dir || !*dir)
		dir = "/run/openvswitch";
	if (paths_join(sock, size, "%s/db.sock", dir) < 0 ||
	    paths_join(pidfile, sizeof(pidfile), "%s/ovs-vswitchd.pid", dir) < 0 || answers(sock) < 0)
		return -ENOENT;
	/* The database alone is no switch: its ovs-vswitchd opens the ports,
	 * by name, in its own namespace. */
	f = fopen(pidfile, "re");
	if (!f)
		return -ENOENT;
	r = fscanf(f, "%d", &pid);
	fclose(f);
	if (r != 1 || pid <= 0 || (r = same_netns(pid, netns_fd)) < 0)
		return -ENOENT;
	return r ? 0 : -EXDEV;
}

/* Run argv to completion (at startup, so blocking is fine) with its stderr
 * captured; the last line it printed goes into err on failure. */
static int run_tool(char *const argv[], struct err *e)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char out[1024], *line;
	sigset_t none;
	size_t len = 0;
	int pipefd[2], status, r;
	pid_t pid;
	ssize_t n;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawnattr_init(&attr);
	/* The supervisor blocks the signals its signalfd takes. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	r = -posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (r < 0) {
		close(pipefd[0]);
		return err_sys(e, r, "%s", argv[0]);
	}
	/* Keep the tail: the last complete line is the one that explains. */
	while ((n = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0 ||
	       (n < 0 && errno == EINTR)) {
		len += n > 0 ? (size_t)n : 0;
		if (len == sizeof(out) - 1) {
			memmove(out, out + len / 2, len - len / 2);
			len -= len / 2;
		}
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	while (len && out[len - 1] == '\n')
		len--;
	out[len] = '\0';
	line = strrchr(out, '\n');
	return err_set(e, EIO, "%s %s failed: %s", argv[0], argv[1],
		       len ? (line ? line + 1 : out) : "no message");
}

static void exited(struct child *c, int wstatus)
{
	struct ovsd *d = c->opaque;

	if (d->exited)
		d->exited(d, c == &d->server ? "ovsdb-server" : "ovs-vswitchd", wstatus);
}

/* Wait until the server answers at d->sock, or exits, or time runs out. */
static int wait_answer(struct ovsd *d, struct err *e)
{
	long long deadline = now_ms() + ANSWER_TIMEOUT_MS;

	for (;;) {
		struct pollfd pfd = { .fd = d->server.pidfd, .events = POLLIN };

		if (answers(d->sock) == 0)
			return 0;
		/* The pidfd turns readable when the process exits. */
		if (poll(&pfd, 1, 10) > 0) {
			return err_set(e, ESRCH, "ovsdb-server exited before answering at %s (see %s/ovsdb-server.log)",
				       d->sock, d->dir);
		}
		if (now_ms() > deadline) {
			return err_set(e, ETIMEDOUT, "ovsdb-server did not answer at %s within %d ms",
				       d->sock, ANSWER_TIMEOUT_MS);
		}
	}
}

/* A socket nobody answers on is removed, one that answers is waited out. */
static int clear_leftovers(struct ovsd *d, struct err *e)
{
	long long deadline = now_ms() + LEFTOVER_TIMEOUT_MS;
	static const char *const stale[] = { "conf.db", ".conf.db.~lock~" };
	char path[PATHS_MAX];
	int r;

	while ((r = answers(d->sock)) == 0 && now_ms() < deadline)
		poll(NULL, 0, 50);
	if (r == 0)
		return err_set(e, EBUSY, "an earlier private OVS still answers at %s", d->sock);
	if (r == -ECONNREFUSED)
		unlink(d->sock);
	/* Fresh every start: what a killed supervisor left in it is gone too. */
	for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
		if (paths_join(path, sizeof(path), "%s/%s", d->dir, stale[i]) < 0)
			return err_set(e, ENAMETOOLONG, "%s/%s: path too long", d->dir, stale[i]);
		unlink(path);
	}
	return 0;
}

int ovsd_start(struct ovsd *d, const char *run_dir, int netns_fd, bool kernel,
	       struct err *e)
{
	const char *pkgdata = getenv("OVS_PKGDATADIR");
	char env_run[PATHS_MAX + 16], env_db[PATHS_MAX + 16], env_log[PATHS_MAX + 16];
	char db[PATHS_MAX], schema[PATHS_MAX], remote[PATHS_MAX + 16], unixctl[2][PATHS_MAX + 16];
	char logf[2][PATHS_MAX + 16], vsdb[PATHS_MAX + 8];
	int r;

	d->stopping = false;
	child_init(&d->server, "ovs: ovsdb-server", exited, d);
	child_init(&d->vswitchd, "ovs: ovs-vswitchd", exited, d);
	d->server.netns = d->vswitchd.netns = netns_fd;
	if (!pkgdata || !*pkgdata)
		pkgdata = "/usr/share/openvswitch";
	if (paths_join(d->dir, sizeof(d->dir), "%s/ovs", run_dir) < 0 ||
	    paths_join(d->sock, sizeof(d->sock), "%s/db.sock", d->dir) < 0 ||
	    paths_join(db, sizeof(db), "%s/conf.db", d->dir) < 0 ||
	    paths_join(schema, sizeof(schema), "%s/vswitch.ovsschema", pkgdata) < 0 ||
	    paths_join(remote, sizeof(remote), "--remote=punix:%s", d->sock) < 0 ||
	    paths_join(vsdb, sizeof(vsdb), "unix:%s", d->sock) < 0 ||
	    paths_join(unixctl[0], sizeof(unixctl[0]), "--unixctl=%s/ovsdb-server.ctl", d->dir) < 0 ||
	    paths_join(unixctl[1], sizeof(unixctl[1]), "--unixctl=%s/ovs-vswitchd.ctl", d->dir) < 0 ||
	    paths_join(logf[0], sizeof(logf[0]), "--log-file=%s/ovsdb-server.log", d->dir) < 0 ||
	    paths_join(logf[1], sizeof(logf[1]), "--log-file=%s/ovs-vswitchd.log", d->dir) < 0 ||
	    paths_join(env_run, sizeof(env_run), "OVS_RUNDIR=%s", d->dir) < 0 ||
	    paths_join(env_db, sizeof(env_db), "OVS_DBDIR=%s", d->dir) < 0 ||
	    paths_join(env_log, sizeof(env_log), "OVS_LOGDIR=%s", d->dir) < 0) {
		return err_set(e, ENAMETOOLONG, "private OVS under %s/ovs: path too long", run_dir);
	}
	if ((r = paths_mkdir_p(d->dir, 0700)) < 0) {
		return err_sys(e, r, "%s", d->dir);
	}
	if ((r = clear_leftovers(d, e)) < 0)
		return r;

	char *create[] = { "ovsdb-tool", "create", db, schema, NULL };
	if ((r = run_tool(create, e)) < 0)
		return r;
	/* `env` sets the daemons' directories without touching ours: OVS_RUNDIR
	 * also holds ovs-vswitchd's per-bridge .mgmt sockets, which must not go
	 * to /run/openvswitch.  Both stay in the foreground (no --detach, no
	 * pidfile): we hold their pidfds.  Warnings reach our log (stderr), all
	 * else only their log files, as does the warning that our own SIGTERM
	 * ends them. */
	char *server[] = { "env", env_run, env_db, env_log, "ovsdb-server", "-vconsole:warn",
			   "-vfatal_signal:console:err", db, remote, unixctl[0], logf[0],
			   "--no-chdir", NULL };
	char *vswitchd[] = { "env", env_run, env_db, env_log, "ovs-vswitchd", "-vconsole:warn",
			     "-vfatal_signal:console:err", vsdb, unixctl[1], logf[1], "--no-chdir",
			     kernel ? NULL : "--disable-system", NULL };
	if ((r = child_spawn(&d->server, server, NULL, 0)) < 0)
		return err_sys(e, r, "cannot start ovsdb-server");
	if ((r = wait_answer(d, e)) == 0 && (r = child_spawn(&d->vswitchd, vswitchd, NULL, 0)) < 0)
		err_sys(e, r, "cannot start ovs-vswitchd");
	if (r < 0)
		ovsd_reap(d, 1000);
	return r;
}

void ovsd_stop(struct ovsd *d)
{
	d->stopping = true;
	child_signal(&d->vswitchd, SIGTERM);
	child_signal(&d->server, SIGTERM);
}

bool ovsd_running(const struct ovsd *d)
{
	return child_running(&d->server) || child_running(&d->vswitchd);
}

void ovsd_reap(struct ovsd *d, int timeout_ms)
{
	d->stopping = true;
	/* ovs-vswitchd first: without its database it would only log. */
	child_stop_sync(&d->vswitchd, timeout_ms);
	child_stop_sync(&d->server, timeout_ms);
}
