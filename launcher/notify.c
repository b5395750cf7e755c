/* notify.c - sd_notify for Type=notify units (notify.h). */
#include "launcher/notify.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "base/log.h"

static char *sock;      /* NOTIFY_SOCKET, or NULL: nobody listens */
static bool stopping;

void notify_init(void)
{
	const char *s = getenv("NOTIFY_SOCKET");

	free(sock);
	sock = s && *s ? strdup(s) : NULL;
	unsetenv("NOTIFY_SOCKET");
}

/* Put the variable back for the one call: sd_notify reads it, and unsets
 * it again (unset_environment) before any child could see it. */
static void tell(const char *msg)
{
	int r;

	if (!sock)
		return;
	if (setenv("NOTIFY_SOCKET", sock, 1) < 0) {
		log_line("sd_notify: cannot set NOTIFY_SOCKET: out of memory");
		return;
	}
	if ((r = sd_notify(1, msg)) < 0)
		log_line("sd_notify %s: %s", sock, strerror(-r));
	unsetenv("NOTIFY_SOCKET");
}

void notify_ready(int nvms, pid_t mainpid)
{
	char msg[128];

	if (mainpid > 0)
		snprintf(msg, sizeof(msg), "READY=1\nSTATUS=fabric up, %d VM%s starting\nMAINPID=%d", nvms,
			 nvms == 1 ? "" : "s", (int)mainpid);
	else
		snprintf(msg, sizeof(msg), "READY=1\nSTATUS=fabric up, %d VM%s starting", nvms,
			 nvms == 1 ? "" : "s");
	tell(msg);
}

void notify_all_ready(int nvms)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "STATUS=all %d VM%s ready", nvms, nvms == 1 ? "" : "s");
	tell(msg);
}

void notify_mainpid(pid_t pid)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "MAINPID=%d\nREADY=1", (int)pid);
	tell(msg);
}

void notify_stopping(void)
{
	if (stopping)
		return;
	stopping = true;
	tell("STOPPING=1\nSTATUS=stopping");
}
