/* verifyguest.c - tc verify's way into a guest without an agent: its
 * serial console, typed into as a person would (verifyrun.h).
 *
 * The console socket first replays recent output; that is read and
 * ignored, then a carriage return shows what the console is at now: a
 * login prompt (log in as root/test, the demo image's), a shell prompt
 * ("# " or "$ " at the end), or something else (a program in the
 * foreground: refused, we do not type into it).  The script goes into the
 * background at once; when we logged in, we log out again afterwards.
 */
#include "ctl/verifyrun.h"
#include "ctl/ctlio.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double mono_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Read what comes for up to max_s, until quiet_s pass with nothing; the
 * last bytes go into tail (a NUL-terminated window of the output). */
static void settle(int fd, double quiet_s, double max_s, char *tail, size_t size)
{
	double end = mono_s() + max_s;
	size_t len = tail ? strlen(tail) : 0;
	char buf[4096];
	int esc = 0;

	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		double left = end - mono_s();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)((left < quiet_s ? left : quiet_s) * 1000)) <= 0)
			return;
		if ((n = read(fd, buf, sizeof(buf))) <= 0)
			return;
		if (!tail)
			continue;
		for (ssize_t i = 0; i < n; i++) {
			/* Escape sequences are not text: busybox's shell asks
			 * for the cursor's position (ESC [ 6 n) after its
			 * prompt. */
			if (esc == 1 && buf[i] == '[') {
				esc = 2;
				continue;
			}
			if (esc) {
				if (esc == 1 || (buf[i] >= 0x40 && buf[i] <= 0x7e))
					esc = 0;
				continue;
			}
			if (buf[i] == 0x1b) {
				esc = 1;
				continue;
			}
			if (len + 1 >= size) {
				memmove(tail, tail + size / 2, len - size / 2);
				len -= size / 2;
			}
			if (buf[i] != '\0')
				tail[len++] = buf[i];
		}
		tail[len] = '\0';
	}
}

/* The last non-blank characters of s end with suffix. */
static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool at_shell(const char *s)
{
	return ends_with(s, "#") || ends_with(s, "$");
}

static int type(int fd, const char *text)
{
	return ctlio_write_all(fd, text, strlen(text));
}

/* Wait up to max_s for output ending in one of the prompts (a shell's, or
 * want); 0 when it came. */
static int await(int fd, const char *want, double max_s, char *tail, size_t size)
{
	double end = mono_s() + max_s;

	tail[0] = '\0';
	while (mono_s() < end) {
		settle(fd, 0.3, end - mono_s(), tail, size);
		if ((want && ends_with(tail, want)) || (!want && at_shell(tail)))
			return 0;
	}
	return -ETIMEDOUT;
}

int verify_console_run(const char *vm, const char *sock, const char *script, bool *logged_in,
		       struct err *e)
{
	char tail[512] = "";
	int fd = ctlio_connect(sock), r = 0;

	*logged_in = false;
	if (fd < 0)
		return err_sys(e, -fd, "%s: cannot connect to its console %s", vm, sock);
	settle(fd, 0.3, 5, NULL, 0); /* the replay of earlier output */
	/* A guest still booting (no getty yet) loses the first returns. */
	for (int i = 0; i < 5; i++) {
		tail[0] = '\0';
		type(fd, "\r");
		settle(fd, 0.5, 5, tail, sizeof(tail));
		if (ends_with(tail, "login:") || at_shell(tail))
			break;
	}
	if (ends_with(tail, "login:")) {
		type(fd, "root\r");
		if (await(fd, "Password:", 15, tail, sizeof(tail)) < 0) {
			r = err_set(e, ETIMEDOUT, "%s: its console asked for no password after the login name", vm);
			goto out;
		}
		type(fd, "test\r");
		if (await(fd, NULL, 15, tail, sizeof(tail)) < 0) {
			r = err_set(e, EACCES, "%s: root/test did not log in on its console", vm);
			goto out;
		}
		*logged_in = true;
	} else if (!at_shell(tail)) {
		size_t n = strlen(tail);

		for (char *ch = tail; *ch; ch++)
			if ((unsigned char)*ch < 0x20 || *ch == 0x7f)
				*ch = ' ';
		r = err_set(e, EBUSY, "%s: its console shows neither a login nor a shell prompt "
			    "(it ends \"%s\"); without a guest agent the rate is measured through the console",
			    vm, n > 40 ? tail + n - 40 : tail);
		goto out;
	}
	/* A leading space keeps it out of a shell history that skips those. */
	if (type(fd, " ") < 0 || type(fd, script) < 0 || type(fd, "\r") < 0)
		r = err_set(e, EIO, "%s: typing into its console failed", vm);
	else
		settle(fd, 0.3, 2, NULL, 0);
out:
	close(fd);
	return r;
}

void verify_console_done(const char *sock, bool logged_in)
{
	int fd;

	if (!logged_in || (fd = ctlio_connect(sock)) < 0)
		return;
	settle(fd, 0.3, 5, NULL, 0);
	type(fd, "exit\r");
	settle(fd, 0.3, 1, NULL, 0);
	close(fd);
}
