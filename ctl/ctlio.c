/* ctlio.c - n3x-ctl's socket exchange, console pump and log follower. */
#include "ctl/ctlio.h"
#include "base/buf.h"
#include "base/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define ESCAPE 0x1d              /* Ctrl-], as virsh and telnet */
#define CONSOLE_LINGER_MS 500    /* output still copied after stdin EOF, as socat -t */
#define LOG_POLL_MS 200          /* polling, not inotify: rotation is a rename we must see anyway */

int ctlio_write_all(int fd, const char *buf, size_t len)
{
	/* MSG_NOSIGNAL on sockets: a closed peer is an error to report, not a
	 * SIGPIPE.  stdout keeps SIGPIPE, as cat does. */
	bool sock = fd != STDOUT_FILENO;

	while (len) {
		ssize_t n = sock ? send(fd, buf, len, MSG_NOSIGNAL) : write(fd, buf, len);

		if (n < 0 && errno == ENOTSOCK && sock) {
			sock = false;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= n;
	}
	return 0;
}

int ctlio_connect(const char *path)
{
	return unix_connect(path);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int ctlio_exchange(int fd, const char *req, size_t len, int timeout_ms, char **reply)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	struct buf b = { 0 };     /* never consumed from, so the line starts at b.p */
	char *nl = NULL;
	int r = ctlio_write_all(fd, req, len);

	while (r == 0 && !nl) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline < 0 ? -1 : deadline - now_ms();
		char *end;
		ssize_t n;

		if (deadline >= 0 && left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno != EINTR)
			r = -errno;
		if (n <= 0)
			continue;
		if ((r = buf_reserve(&b, 4096)) < 0)
			break;
		end = b.p + b.len;
		n = read(fd, end, b.cap - b.len);
		if (n > 0) {
			nl = memchr(end, '\n', n);
			b.len += n;
		} else if (n == 0) {
			r = -EPIPE; /* closed before the end of the line */
		} else if (errno != EINTR) {
			r = -errno;
		}
	}
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	*nl = '\0';
	*reply = b.p;
	return 0;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* One poll round's input from stdin: pass it on up to an escape. */
static int from_stdin(int sock, bool tty, bool *in_open, bool *detached)
{
	char buf[4096];
	ssize_t len = read(STDIN_FILENO, buf, sizeof(buf));
	char *esc;

	if (len < 0 && errno == EINTR)
		return 0;
	if (len <= 0) {
		*in_open = false; /* EOF, or a stdin we cannot read: same thing here */
		return 0;
	}
	/* Only a person at a terminal types escapes; a pipe may carry any byte. */
	esc = tty ? memchr(buf, ESCAPE, len) : NULL;
	if (esc) {
		len = esc - buf;
		*detached = true;
	}
	return len > 0 ? ctlio_write_all(sock, buf, len) : 0;
}

int ctlio_console(const char *vm, int sock)
{
	static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_signal }, old[3];
	struct termios saved, raw;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	bool in_open = true, detached = false, closed = false;
	long long linger_end = -1;
	char buf[65536];
	int err = 0;

	/* No SA_RESTART: poll() must return so the loop can restore the tty. */
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
		fprintf(stderr, "Connected to %s (escape character is ^])\r\n", vm);
	}
	while (!got_signal && !detached && !closed && !err) {
		struct pollfd p[2] = {
			{ .fd = sock, .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};
		int n;

		if (!in_open && linger_end < 0)
			linger_end = now_ms() + CONSOLE_LINGER_MS;
		if (linger_end >= 0 && now_ms() >= linger_end)
			break; /* stdin ended a while ago: done */
		n = poll(p, in_open ? 2 : 1, in_open ? -1 : (int)(linger_end - now_ms()));
		if (n < 0) {
			err = errno == EINTR ? 0 : -errno;
			continue;
		}
		if (p[0].revents) {
			ssize_t len = read(sock, buf, sizeof(buf));

			if (len > 0)
				err = ctlio_write_all(STDOUT_FILENO, buf, len);
			else if (len == 0)
				closed = true;
			else if (errno != EINTR)
				err = -errno;
		}
		if (in_open && p[1].revents && !err && !closed)
			err = from_stdin(sock, tty, &in_open, &detached);
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (got_signal) {
		/* Die of the signal, as the caller's shell expects. */
		signal(got_signal, SIG_DFL);
		raise(got_signal);
	}
	if (err == -EPIPE || err == -ECONNRESET)
		closed = true;
	return closed ? -EPIPE : err;
}

/* Copy what fd holds now to stdout: bytes copied or -errno. */
static ssize_t drain(int fd)
{
	char buf[65536];
	ssize_t n, total = 0;

	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		int r = ctlio_write_all(STDOUT_FILENO, buf, n);

		if (r < 0)
			return r;
		total += n;
	}
	return total;
}

/* The file at path is no longer the one fd reads (rotation): finish fd,
 * then continue in the new file.  While the new file does not exist yet
 * (between the rename and the create), keep fd and try again next time. */
static int reopen(const char *path, int *fd, struct stat *cur)
{
	int nfd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (nfd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = drain(*fd);
	if (n < 0) {
		close(nfd);
		return (int)n;
	}
	close(*fd);
	*fd = nfd;
	return fstat(nfd, cur) < 0 ? -errno : 0;
}

int ctlio_log(const char *path, bool follow)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat cur, now;
	ssize_t n;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &cur) < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	while ((n = drain(fd)) >= 0 && follow) {
		if (n > 0)
			continue;
		poll(NULL, 0, LOG_POLL_MS);
		if (stat(path, &now) == 0 && (now.st_ino != cur.st_ino || now.st_dev != cur.st_dev))
			n = reopen(path, &fd, &cur);
		else if (fstat(fd, &now) == 0 && now.st_size < lseek(fd, 0, SEEK_CUR))
			lseek(fd, 0, SEEK_SET); /* truncated in place: start over */
		if (n < 0)
			break;
	}
	close(fd);
	return n < 0 ? (int)n : 0;
}
