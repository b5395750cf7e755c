/* child.h - processes the supervisor starts and reaps itself.
 *
 * Each child is watched through a pidfd in the loop and reaped with
 * waitid(P_PIDFD): this host's PID 1 reaps orphans only every ~2 s, and a
 * SIGCHLD handler would have to find which child it was.  The child's stderr
 * goes through a pipe into the supervisor's log (base/log.h), prefixed with
 * its tag, and the last line is kept so a failure can say what the program
 * said.  The pipe is always drained: when the log cannot take more, lines
 * are dropped and counted ("N lines dropped"), so neither the child nor the
 * loop ever waits for whoever reads the log.
 *
 * A process an earlier supervisor started and left running (QEMU, dnsmasq,
 * private OVS) is taken over with child_adopt and is then a child like any
 * other, except that it is not ours to reap: its parent (init, or a
 * subreaper) keeps its wait status, so its exit reaches exited with
 * CHILD_STATUS_UNKNOWN, and there is no output to read.
 */
#ifndef N3X_CHILD_H
#define N3X_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

#include "base/loop.h"

struct child {
	const char *tag;                        /* "vm n100-1: qemu", for the log */
	void (*exited)(struct child *c, int wstatus);
	void *opaque;                           /* for the owner */
	int netns;                              /* >= 0: setns() into it before exec */
	/* Credentials: with uid non-zero the child becomes uid/gid, with groups
	 * (ngroups of them) as its supplementary groups, before exec. */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	int ngroups;
	/* The child outlives the supervisor (QEMU, to be adopted by the next
	 * one): no parent-death signal.  Without it the child gets SIGTERM
	 * when the supervisor dies, set after the credentials change (which
	 * would clear it). */
	bool outlive;
	/* >= 0: the child's stdout and stderr go to this fd (a file that
	 * outlives the supervisor) instead of into the log; last_line stays
	 * empty.  The caller keeps its copy. */
	int errlog;
	/* private */
	bool adopted;                           /* not our child: no wait status */
	pid_t pid;
	int pidfd;
	int errfd;
	struct loop_watch pid_w, err_w;
	char buf[512];
	size_t len;
	unsigned dropped;                       /* lines the log could not take */
	char last_line[256];
};

#define CHILD_MAX_FDS 32 /* fds a child can be given, at 3.. */

/* The wait status exited gets for an adopted child: it exited, how is
 * unknown.  Neither WIFEXITED nor WIFSIGNALED holds for it. */
#define CHILD_STATUS_UNKNOWN (-1)

/* Start argv[0] (looked up on $PATH) with fds[i] as fd 3+i in the child,
 * stdin on /dev/null, stdout and stderr into the log (or c->errlog).  The
 * child starts a new session (a Ctrl-C on the supervisor's terminal is the
 * supervisor's to handle), takes c's credentials, and gets SIGTERM when the
 * supervisor dies unless c->outlive.
 * Returns 0, or -errno (including exec failures, reported from the child
 * through a close-on-exec pipe).  A child the loop cannot watch is killed
 * and reaped before the error returns: its exit would never be seen. */
int child_spawn(struct child *c, char *const argv[], const int *fds, int nfds);
/* child_spawn's type, for owners that let a test put a stand-in in its place. */
typedef int child_spawn_fn(struct child *c, char *const argv[], const int *fds, int nfds);

/* Set the fields a child needs before its first spawn (no netns, root,
 * dies with the supervisor, stderr into the log). */
void child_init(struct child *c, const char *tag, void (*exited)(struct child *, int), void *opaque);

/* Take over process pid, which an earlier supervisor started and which is
 * not our child, and watch its pidfd in the loop.  c is set up with
 * child_init and not running.  The pidfd is opened first, then is_it
 * (NULL: any process) checks /proc/PID (base/proc.h) is the process the
 * caller expects: with the pidfd held, an exit in between shows in it.
 * Returns 0; -ESRCH with c unchanged when there is no such process, it is
 * not the expected one, or no pidfd can be had for it; another -errno
 * when the loop cannot watch it: then c holds it unwatched, for the
 * caller to end (child_stop_sync) or leave alone (child_release). */
int child_adopt(struct child *c, pid_t pid, bool (*is_it)(pid_t pid, void *opaque), void *opaque);
/* Whether c runs and was adopted (child_adopt) rather than started. */
bool child_adopted(const struct child *c);

bool child_running(const struct child *c);

/* For teardown, when the loop no longer runs: SIGTERM, up to timeout_ms for
 * the child to exit, then SIGKILL; reaps it without calling exited.  An
 * adopted child is not ours to reap: after the SIGKILL, up to
 * CHILD_KILL_WAIT_MS for it to be gone. */
#define CHILD_KILL_WAIT_MS 2000
void child_stop_sync(struct child *c, int timeout_ms);
int child_signal(struct child *c, int sig);   /* 0 or -errno */
/* Let an outliving child run on for the next supervisor: stop watching it
 * and close our ends (its output so far is logged); exited is not called.
 * Nothing when it does not run. */
void child_release(struct child *c);

/* Describe a wait status: "exited with status 1", "killed by SIGKILL",
 * "exited (adopted, status unknown)" for CHILD_STATUS_UNKNOWN. */
const char *child_status_str(int wstatus, char *buf, size_t size);

#endif
