/* ovsd.c - a system Open vSwitch, or a private ovsdb-server + ovs-vswitchd. */
#include "net/ovsd.h"
#include "base/buf.h"
#include "base/proc.h"
#include "base/sock.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
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
/* A daemon of an earlier private OVS gets SIGTERM, then SIGKILL after this. */
#define LEFTOVER_TIMEOUT_MS 2000
#define RESTART_MIN_MS 1000
#define RESTART_MAX_MS 30000
/* A daemon that ran this long before it exited starts the backoff over. */
#define RESTART_STABLE_MS 30000
/* In ovs-vswitchd: fd 3 is $RUN/ovs. */
#define VSD_DIR "/proc/self/fd/3"

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

/* Run argv to completion (ovsdb-tool create: a few ms, at start or when a
 * restarted ovsdb-server finds no conf.db) with its stderr captured; the
 * last line it printed goes into err on failure. */
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

static int create_db(struct ovsd *d, struct err *e)
{
	char db[PATHS_MAX + 16];
	int r;

	if (paths_join(db, sizeof(db), "%s/conf.db", d->dir) < 0)
		return err_set(e, ENAMETOOLONG, "%s/conf.db: path too long", d->dir);
	char *create[] = { "ovsdb-tool", "create", db, d->schema, NULL };
	if ((r = run_tool(create, e)) < 0)
		return r;
	/* Only ovsdb-server (root) reads it. */
	chmod(db, 0600);
	return 0;
}

/* ---- the daemons' processes ---- */

static bool is_server(const struct ovsd_proc *p)
{
	return p == &p->d->server;
}

/* Whether argv (a /proc/PID/cmdline) is p's daemon of d->dir: its command
 * is the daemon, and ovsdb-server names our conf.db. */
static bool runs_daemon(const struct ovsd_proc *p, const struct strv *argv)
{
	char want[PATHS_MAX + 16];
	size_t i = 0;

	if (!argv->n)
		return false;
	/* Caught between our exec of env and env's exec of the daemon, the
	 * daemon is one of env's arguments. */
	if (!strcmp(argv->v[0], "env")) {
		while (i < argv->n && strcmp(argv->v[i], p->name))
			i++;
		if (i >= argv->n)
			return false;
	} else if (strcmp(strrchr(argv->v[0], '/') ? strrchr(argv->v[0], '/') + 1 : argv->v[0], p->name)) {
		return false;
	}
	if (!is_server(p))
		return true;
	snprintf(want, sizeof(want), "%s/conf.db", p->d->dir);
	for (i = 0; i < argv->n; i++)
		if (!strcmp(argv->v[i], want))
			return true;
	return false;
}

/* Whether pid is p's daemon of d->dir: runs_daemon, and ovs-vswitchd
 * holds $RUN/ovs as fd 3. */
static bool is_ours(pid_t pid, void *opaque)
{
	const struct ovsd_proc *p = opaque;
	struct strv argv = { 0 };
	char path[64], link[PATHS_MAX];
	bool ours = proc_cmdline(pid, &argv) > 0 && runs_daemon(p, &argv);
	ssize_t n;

	strv_free(&argv);
	if (!ours || is_server(p))
		return ours;
	snprintf(path, sizeof(path), "/proc/%d/fd/3", (int)pid);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	return !strcmp(link, p->d->dir);
}

/* The process p's pid file names, if it is p's daemon, taken over into
 * p->c (child_adopt): 0 and watching it; -ESRCH when there is none;
 * another -errno when it cannot be watched (p->c holds it, for
 * child_stop_sync or child_release).  *pid: the file's pid. */
static int find_leftover(struct ovsd_proc *p, pid_t *pid)
{
	FILE *f = fopen(p->pidfile, "re");
	int n = 0;

	*pid = 0;
	if (!f)
		return -ESRCH;
	if (fscanf(f, "%d", &n) != 1)
		n = 0;
	fclose(f);
	*pid = n;
	return child_adopt(&p->c, n, is_ours, p);
}

static void write_pidfile(struct ovsd_proc *p, pid_t pid)
{
	int fd = open(p->pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	char line[24];
	int n;

	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%d\n", (int)pid);
	(void)!write(fd, line, n);
	close(fd);
}

static int spawn(struct ovsd_proc *p);

/* p ended (wstatus CHILD_STATUS_UNKNOWN: adopted).  Unless we stop it, it
 * runs again after the backoff. */
static void ended(struct ovsd_proc *p, int wstatus)
{
	struct ovsd *d = p->d;
	uint64_t now = loop_now_ms();
	int delay = 0;

	child_status_str(wstatus, p->died, sizeof(p->died));
	if (!d->stopping) {
		if (now - p->started_ms >= RESTART_STABLE_MS)
			p->failures = 0;
		delay = RESTART_MIN_MS << (p->failures < 5 ? p->failures : 5);
		if (delay > RESTART_MAX_MS)
			delay = RESTART_MAX_MS;
		p->failures++;
		loop_timer_arm(&p->restart, delay);
	}
	if (d->exited)
		d->exited(d, p->name, wstatus, delay);
}

static void child_exited(struct child *c, int wstatus)
{
	ended(c->opaque, wstatus);
}

static void restart_fire(struct loop_timer *t)
{
	struct ovsd_proc *p = container_of(t, struct ovsd_proc, restart);
	struct ovsd *d = p->d;
	struct err e = { 0 };
	char db[PATHS_MAX + 16];
	int r = 0;

	if (d->stopping || child_running(&p->c))
		return;
	if (is_server(p)) {
		/* The rows live on in conf.db; a stale socket would make
		 * ovsdb-server's bind fail. */
		if (unix_connect(d->sock) == -ECONNREFUSED)
			unlink(d->sock);
		if (paths_join(db, sizeof(db), "%s/conf.db", d->dir) == 0 && access(db, F_OK) < 0)
			r = create_db(d, &e);
	}
	if (r == 0)
		r = spawn(p);
	if (r < 0) {
		/* Tell the owner, and try again later. */
		ended(p, W_EXITCODE(127, 0));
		return;
	}
	if (d->restarted)
		d->restarted(d, p->name, p->died);
}

/* Start p as our child (outliving us) and write its pid file. */
static int spawn(struct ovsd_proc *p)
{
	struct ovsd *d = p->d;
	char env_run[PATHS_MAX + 16], env_db[PATHS_MAX + 16], env_log[PATHS_MAX + 16];
	char db[PATHS_MAX + 16], remote[PATHS_MAX + 32], unixctl[PATHS_MAX + 32], logf[PATHS_MAX + 32];
	char user[80];
	int fds[1] = { -1 }, r;

	if (is_server(p)) {
		if (paths_join(env_run, sizeof(env_run), "OVS_RUNDIR=%s", d->dir) < 0 ||
		    paths_join(env_db, sizeof(env_db), "OVS_DBDIR=%s", d->dir) < 0 ||
		    paths_join(env_log, sizeof(env_log), "OVS_LOGDIR=%s", d->dir) < 0 ||
		    paths_join(db, sizeof(db), "%s/conf.db", d->dir) < 0 ||
		    paths_join(remote, sizeof(remote), "--remote=punix:%s", d->sock) < 0 ||
		    paths_join(unixctl, sizeof(unixctl), "--unixctl=%s/ovsdb-server.ctl", d->dir) < 0 ||
		    paths_join(logf, sizeof(logf), "--log-file=%s/ovsdb-server.log", d->dir) < 0)
			return -ENAMETOOLONG;
		/* `env` sets the daemon's directories without touching ours.
		 * Foreground (no --detach, no pidfile of its own): we hold its
		 * pidfd.  Warnings reach our log (stderr), all else only its
		 * log file, as does the warning that our own SIGTERM ends it. */
		char *argv[] = { "env", env_run, env_db, env_log, "ovsdb-server", "-vconsole:warn",
				 "-vfatal_signal:console:err", db, remote, unixctl, logf, "--no-chdir",
				 NULL };
		r = child_spawn(&p->c, argv, NULL, 0);
	} else {
		/* See ovsd.h: everything through fd 3 ($RUN/ovs) but the log
		 * file, which OVS opens while still root (and then hands to its
		 * user); it lies in $RUN/ovs, where n3x-ovs can make no entry.
		 * OVS_RUNDIR holds the per-bridge .mgmt sockets. */
		if (paths_join(logf, sizeof(logf), "--log-file=%s/ovs-vswitchd.log", d->dir) < 0)
			return -ENAMETOOLONG;
		if ((fds[0] = open(d->dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return -errno;
		snprintf(user, sizeof(user), "%s:%s", OVSD_USER, OVSD_USER);
		char *argv[] = { "env", "OVS_RUNDIR=" VSD_DIR "/vswitchd", "OVS_DBDIR=" VSD_DIR "/vswitchd",
				 "OVS_LOGDIR=" VSD_DIR "/vswitchd", "ovs-vswitchd", "-vconsole:warn",
				 "-vfatal_signal:console:err", "unix:" VSD_DIR "/db.sock",
				 "--unixctl=" VSD_DIR "/vswitchd/ovs-vswitchd.ctl", logf,
				 "--no-chdir", NULL, NULL, NULL, NULL };
		int i = 11;

		if (d->uid) {
			argv[i++] = "--user";
			argv[i++] = user;
		}
		if (!d->kernel)
			argv[i++] = "--disable-system";
		r = child_spawn(&p->c, argv, fds, 1);
		close(fds[0]);
	}
	if (r == 0) {
		p->started_ms = loop_now_ms();
		write_pidfile(p, p->c.pid);
	}
	return r;
}

/* ---- setting up ---- */

static void proc_init(struct ovsd *d, struct ovsd_proc *p, const char *name, const char *tag)
{
	p->name = name;
	p->d = d;
	child_init(&p->c, tag, child_exited, p);
	p->c.netns = d->netns;
	/* The switch keeps forwarding while no supervisor runs; the next one
	 * adopts it or ends it (ovsd_start). */
	p->c.outlive = true;
	p->failures = 0;
	loop_timer_init(&p->restart, restart_fire);
}

/* Whether uid:gid may open /dev/net/tun read-write, by its mode. */
static bool tun_usable(uid_t uid, gid_t gid)
{
	struct stat st;

	if (stat("/dev/net/tun", &st) < 0)
		return false;
	if (st.st_uid == uid)
		return (st.st_mode & 0600) == 0600;
	if (st.st_gid == gid)
		return (st.st_mode & 0060) == 0060;
	return (st.st_mode & 0006) == 0006;
}

void ovsd_init(struct ovsd *d)
{
	d->netns = -1;
	proc_init(d, &d->server, "ovsdb-server", "ovs: ovsdb-server");
	proc_init(d, &d->vswitchd, "ovs-vswitchd", "ovs: ovs-vswitchd");
}

static int setup(struct ovsd *d, const char *run_dir, int netns_fd, bool kernel, struct err *e)
{
	const char *pkgdata = getenv("OVS_PKGDATADIR");
	struct passwd *pw;

	d->stopping = false;
	d->kernel = kernel;
	d->netns = netns_fd;
	d->uid = 0;
	d->gid = 0;
	proc_init(d, &d->server, "ovsdb-server", "ovs: ovsdb-server");
	proc_init(d, &d->vswitchd, "ovs-vswitchd", "ovs: ovs-vswitchd");
	d->warning[0] = '\0';
	if (geteuid() == 0) {
		if (!(pw = getpwnam(OVSD_USER)))
			return err_set(e, ENOENT, "no user %s for the private ovs-vswitchd: create it with "
				       "scripts/deps.sh (make deps)", OVSD_USER);
		d->uid = pw->pw_uid;
		d->gid = pw->pw_gid;
		if (!kernel && !tun_usable(d->uid, d->gid)) {
			/* The userspace datapath makes its internal ports with
			 * /dev/net/tun; udev makes it 0666, a bare devtmpfs 0600. */
			snprintf(d->warning, sizeof(d->warning),
				 "ovs-vswitchd runs as root: /dev/net/tun is not usable by %s (udev makes "
				 "it 0666; scripts/deps.sh does too)", OVSD_USER);
			d->uid = 0;
		}
	}
	if (!pkgdata || !*pkgdata)
		pkgdata = "/usr/share/openvswitch";
	if (paths_join(d->dir, sizeof(d->dir), "%s/ovs", run_dir) < 0 ||
	    paths_join(d->sock, sizeof(d->sock), "%s/db.sock", d->dir) < 0 ||
	    paths_join(d->schema, sizeof(d->schema), "%s/vswitch.ovsschema", pkgdata) < 0 ||
	    paths_join(d->server.pidfile, sizeof(d->server.pidfile), "%s/ovsdb-server.pid", d->dir) < 0 ||
	    paths_join(d->vswitchd.pidfile, sizeof(d->vswitchd.pidfile), "%s/ovs-vswitchd.pid", d->dir) < 0)
		return err_set(e, ENAMETOOLONG, "private OVS under %s/ovs: path too long", run_dir);
	return 0;
}

/* $RUN/ovs root:n3x-ovs 0710 (the daemon's user may pass, not list or
 * write), $RUN/ovs/vswitchd n3x-ovs 0700 for its sockets. */
static int make_dirs(struct ovsd *d, struct err *e)
{
	char sub[PATHS_MAX + 16];
	struct stat st;
	int r;

	if ((r = paths_mkdir_p(d->dir, 0700)) < 0)
		return err_sys(e, r, "%s", d->dir);
	if (lstat(d->dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return err_set(e, EPERM, "%s: not a directory of ours", d->dir);
	if (paths_join(sub, sizeof(sub), "%s/vswitchd", d->dir) < 0)
		return err_set(e, ENAMETOOLONG, "%s/vswitchd: path too long", d->dir);
	if ((mkdir(sub, 0700) < 0 && errno != EEXIST) || lstat(sub, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_sys(e, -errno ?: -ENOTDIR, "%s", sub);
	if (!d->uid)
		return 0;
	if (chown(d->dir, 0, d->gid) < 0 || chmod(d->dir, 0710) < 0 ||
	    lchown(sub, d->uid, d->gid) < 0 || chmod(sub, 0700) < 0)
		return err_sys(e, -errno, "%s: cannot hand it to user %s", d->dir, OVSD_USER);
	return 0;
}

void ovsd_grant(struct ovsd *d)
{
	/* ovsdb-server makes it root:root 0750; its client ovs-vswitchd
	 * needs write permission to connect. */
	if (d->uid && lchown(d->sock, 0, d->gid) == 0)
		chmod(d->sock, 0770);
}

/* Wait until the server answers at d->sock, or exits, or time runs out. */
static int wait_answer(struct ovsd *d, struct err *e)
{
	long long deadline = now_ms() + ANSWER_TIMEOUT_MS;

	for (;;) {
		struct pollfd pfd = { .fd = d->server.c.pidfd, .events = POLLIN };

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

/* Empty $RUN/ovs/vswitchd (sockets an ovs-vswitchd that was killed left),
 * and remove it too with rm_dir.  unlinkat never follows a link. */
static void purge_sockdir(struct ovsd *d, bool rm_dir)
{
	int dfd = open(d->dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), fd;
	struct dirent *ent;
	DIR *dir;

	if (dfd < 0)
		return;
	fd = openat(dfd, "vswitchd", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && (dir = fdopendir(fd))) {
		while ((ent = readdir(dir)))
			if (ent->d_type != DT_DIR)
				unlinkat(fd, ent->d_name, 0);
		closedir(dir);
	} else if (fd >= 0) {
		close(fd);
	}
	if (rm_dir)
		unlinkat(dfd, "vswitchd", AT_REMOVEDIR);
	close(dfd);
}

/* An earlier private OVS of this directory is ended (its daemons outlive
 * their supervisor), a socket nobody answers on is removed, one that still
 * answers is an error. */
static int clear_leftovers(struct ovsd *d, struct err *e)
{
	static const char *const stale[] = { "conf.db", ".conf.db.~lock~" };
	struct ovsd_proc *procs[] = { &d->vswitchd, &d->server };
	char path[PATHS_MAX];
	pid_t pid;
	int r;

	for (int i = 0; i < 2; i++) {
		/* SIGTERM, SIGKILL after LEFTOVER_TIMEOUT_MS: not our child,
		 * its parent (init) reaps it. */
		if (find_leftover(procs[i], &pid) != -ESRCH)
			child_stop_sync(&procs[i]->c, LEFTOVER_TIMEOUT_MS);
		unlink(procs[i]->pidfile);
	}
	if ((r = answers(d->sock)) == 0)
		return err_set(e, EBUSY, "an earlier private OVS still answers at %s", d->sock);
	purge_sockdir(d, false);
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
	int r;

	if ((r = setup(d, run_dir, netns_fd, kernel, e)) < 0 || (r = make_dirs(d, e)) < 0 ||
	    (r = clear_leftovers(d, e)) < 0 || (r = create_db(d, e)) < 0)
		return r;
	if ((r = spawn(&d->server)) < 0)
		return err_sys(e, r, "cannot start ovsdb-server");
	if ((r = wait_answer(d, e)) == 0) {
		ovsd_grant(d);
		if ((r = spawn(&d->vswitchd)) < 0)
			err_sys(e, r, "cannot start ovs-vswitchd");
	}
	if (r < 0)
		ovsd_reap(d, 1000);
	return r;
}

/* Take over p's daemon left by an earlier supervisor: 0 and watching it,
 * -ESRCH when there is none, another -errno when it cannot be watched
 * (then it is left alone). */
static int adopt(struct ovsd_proc *p, pid_t *pid)
{
	int r = find_leftover(p, pid);

	if (r == 0)
		p->started_ms = loop_now_ms();
	else if (r != -ESRCH)
		child_release(&p->c);
	return r;
}

int ovsd_adopt(struct ovsd *d, const char *run_dir, int netns_fd, bool kernel, struct err *e)
{
	pid_t spid = 0, vpid = 0;
	int r;

	if ((r = setup(d, run_dir, netns_fd, kernel, e)) < 0)
		return r;
	/* Without its database there is nothing to keep: start afresh. */
	if ((r = adopt(&d->server, &spid)) == -ESRCH)
		return 0;
	if (r < 0)
		return err_sys(e, r, "watch ovsdb-server (pid %d)", (int)spid);
	if (answers(d->sock) < 0) {
		child_release(&d->server.c);
		return 0;
	}
	if ((r = make_dirs(d, e)) < 0) {
		child_release(&d->server.c);
		return r;
	}
	ovsd_grant(d);
	/* A missing ovs-vswitchd is started: the database holds the rows. */
	if ((r = adopt(&d->vswitchd, &vpid)) == -ESRCH)
		r = spawn(&d->vswitchd);
	if (r < 0) {
		err_sys(e, r, "ovs-vswitchd");
		child_release(&d->server.c);
		return r;
	}
	return 1;
}

void ovsd_stop(struct ovsd *d)
{
	d->stopping = true;
	loop_timer_disarm(&d->vswitchd.restart);
	loop_timer_disarm(&d->server.restart);
	child_signal(&d->vswitchd.c, SIGTERM);
	child_signal(&d->server.c, SIGTERM);
}

bool ovsd_running(const struct ovsd *d)
{
	return child_running(&d->server.c) || child_running(&d->vswitchd.c);
}

static void reap(struct ovsd_proc *p, int timeout_ms)
{
	loop_timer_close(&p->restart);
	child_stop_sync(&p->c, timeout_ms); /* ours or adopted */
	if (p->pidfile[0])
		unlink(p->pidfile);
}

void ovsd_reap(struct ovsd *d, int timeout_ms)
{
	d->stopping = true;
	/* ovs-vswitchd first: without its database it would only log. */
	reap(&d->vswitchd, timeout_ms);
	reap(&d->server, timeout_ms);
	if (d->dir[0])
		purge_sockdir(d, true);
}

static void detach(struct ovsd_proc *p)
{
	loop_timer_close(&p->restart);
	/* Forget it (ours or adopted) without ending it: no more watching its
	 * exit or reading its stderr (it then writes into a closed pipe,
	 * which OVS ignores; its log file has everything). */
	child_release(&p->c);
}

void ovsd_detach(struct ovsd *d)
{
	d->stopping = true;
	detach(&d->vswitchd);
	detach(&d->server);
}
