/* log.c - one line per event, through a bounded queue that never blocks.
 *
 * The destination is looked at once, on the first line: a regular file is
 * written as is (a file write does not wait for a reader); a pipe or a
 * terminal is reopened through /proc/self/fd/2 with O_NONBLOCK, which gives
 * us our own open file description (setting O_NONBLOCK on fd 2 itself would
 * change it for the shell and every process sharing it); a socket is
 * written with MSG_DONTWAIT.  When the destination does not take a line now,
 * the line waits in the queue and the loop writes it on EPOLLOUT.
 */
#include "base/log.h"
#include "base/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 1024
#define NAME_MAX_BYTES 64

enum dest { DEST_UNKNOWN, DEST_NONE, DEST_FILE, DEST_STREAM, DEST_SOCKET };

static struct {
	const char *prefix;
	enum dest kind;
	int fd;                   /* where lines go; -1 before the first line */
	bool own_fd;              /* fd is ours (reopened or log_to_file) */
	int dirfd;                /* log_to_file: the directory, for rotation */
	char name[NAME_MAX_BYTES];
	size_t max;
	struct loop_watch w;
	bool watching;            /* fd is in the loop for EPOLLOUT */
	unsigned dropped;         /* log_line lines lost since the last marker */
	unsigned dropped_total;
	size_t qlen;
	enum log_level level;     /* what stderr shows; a log file takes info too */
	log_tap_fn *tap;
	void *tap_opaque;
	char q[LOG_QUEUE_MAX];
} lg = { .fd = -1, .dirfd = -1, .level = LOG_INFO };

void log_set_level(enum log_level level)
{
	lg.level = level;
}

enum log_level log_get_level(void)
{
	return lg.level;
}

void log_set_tap(log_tap_fn *fn, void *opaque)
{
	lg.tap = fn;
	lg.tap_opaque = opaque;
}

/* Shown at all: stderr shows what the level lets through; launcher.log
 * (log_to_file) keeps info lines even under --quiet, as the record. */
static bool shown(enum log_level level)
{
	return level <= lg.level || (lg.dirfd >= 0 && level <= LOG_INFO);
}

void log_set_prefix(const char *prefix)
{
	lg.prefix = prefix;
}

size_t log_queued(void)
{
	return lg.qlen;
}

unsigned log_dropped(void)
{
	return lg.dropped_total;
}

static void forget_loop(void)
{
	if (lg.watching)
		loop_del(lg.fd);
	lg.watching = false;
}

static void close_dest(void)
{
	forget_loop();
	if (lg.own_fd && lg.fd >= 0)
		close(lg.fd);
	lg.fd = -1;
	lg.own_fd = false;
	lg.kind = DEST_UNKNOWN;
}

void log_reset(void)
{
	close_dest();
	if (lg.dirfd >= 0)
		close(lg.dirfd);
	lg.dirfd = -1;
	lg.max = 0;
	lg.qlen = 0;
	lg.dropped = lg.dropped_total = 0;
	lg.level = LOG_INFO;
	lg.tap = NULL;
	lg.tap_opaque = NULL;
}

static void pick_dest(void)
{
	struct stat st;
	int fd;

	if (lg.kind != DEST_UNKNOWN)
		return;
	if (fstat(STDERR_FILENO, &st) < 0) {
		lg.kind = DEST_NONE;
		return;
	}
	lg.fd = STDERR_FILENO;
	if (S_ISREG(st.st_mode)) {
		lg.kind = DEST_FILE;
	} else if (S_ISSOCK(st.st_mode)) {
		lg.kind = DEST_SOCKET;
	} else {
		lg.kind = DEST_STREAM;
		fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0) {
			lg.fd = fd;
			lg.own_fd = true;
		}
	}
}

static int open_file(void)
{
	int fd = openat(lg.dirfd, lg.name, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	/* Stray writes to stderr (a library's warning, an abort) land here too. */
	if (fd != STDERR_FILENO)
		dup2(fd, STDERR_FILENO);
	return fd;
}

/* NAME -> NAME.1 and a fresh NAME.  On failure the log goes on in the old
 * file: an overlong log beats a lost one. */
static void rotate(void)
{
	char old[NAME_MAX_BYTES + 2];
	int fd;

	snprintf(old, sizeof(old), "%s.1", lg.name);
	if (renameat(lg.dirfd, lg.name, lg.dirfd, old) < 0)
		return;
	if ((fd = open_file()) < 0)
		return;
	close(lg.fd);
	lg.fd = fd;
}

static void watch_cb(struct loop_watch *w, uint32_t events);

/* Write what the destination takes now. */
static void flush(void)
{
	struct stat st;
	size_t off = 0;

	pick_dest();
	if (lg.kind == DEST_NONE) {
		lg.qlen = 0;
		return;
	}
	if (lg.kind == DEST_FILE && lg.max && lg.qlen && fstat(lg.fd, &st) == 0 &&
	    st.st_size > 0 && (size_t)st.st_size + lg.qlen > lg.max)
		rotate();
	while (off < lg.qlen) {
		ssize_t n;

		if (lg.kind == DEST_SOCKET)
			n = send(lg.fd, lg.q + off, lg.qlen - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		else if (lg.kind == DEST_STREAM && !lg.own_fd) {
			/* fd 2 itself may block: write only what poll says fits
			 * (a pipe that polls writable takes PIPE_BUF at once). */
			struct pollfd p = { .fd = lg.fd, .events = POLLOUT };
			size_t chunk = lg.qlen - off < PIPE_BUF ? lg.qlen - off : PIPE_BUF;

			if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT)) {
				n = -1;
				errno = (p.revents & (POLLERR | POLLHUP)) ? EPIPE : EAGAIN;
			} else {
				n = write(lg.fd, lg.q + off, chunk);
			}
		} else
			n = write(lg.fd, lg.q + off, lg.qlen - off);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!lg.watching) {
				lg.w.cb = watch_cb;
				lg.watching = loop_add(lg.fd, EPOLLOUT, &lg.w) == 0;
			}
			break;
		}
		off = lg.qlen; /* the reader is gone (EPIPE, EIO): nobody to wait for */
	}
	memmove(lg.q, lg.q + off, lg.qlen - off);
	lg.qlen -= off;
	if (lg.qlen == 0)
		forget_loop();
}

static void watch_cb(struct loop_watch *w, uint32_t events)
{
	(void)w;
	(void)events;
	flush();
}

static bool enqueue(const char *s, size_t n, size_t limit)
{
	if (lg.qlen + n > limit) {
		flush();
		if (lg.qlen + n > limit)
			return false;
	}
	memcpy(lg.q + lg.qlen, s, n);
	lg.qlen += n;
	return true;
}

/* "PREFIX: TEXT\n" (or "TEXT\n"), cut to fit one line. */
static size_t format_line(char *out, size_t size, const char *prefix, const char *text, size_t len)
{
	int n;

	if (len > LINE_MAX_BYTES)
		len = LINE_MAX_BYTES;
	n = prefix ? snprintf(out, size, "%s: %.*s\n", prefix, (int)len, text)
		   : snprintf(out, size, "%.*s\n", (int)len, text);
	if (n < 0)
		return 0;
	if ((size_t)n >= size) {
		n = (int)size - 1;
		out[n - 1] = '\n';
	}
	return (size_t)n;
}

static void vlog(enum log_level level, bool status, const char *prefix, const char *fmt, va_list ap)
{
	char text[LINE_MAX_BYTES], line[LINE_MAX_BYTES + NAME_MAX_BYTES + 32];
	char mark[NAME_MAX_BYTES + 96];
	size_t n, m = 0;

	if (!shown(level))
		return;
	/* Formatted first and queued whole: one line stays one line. */
	vsnprintf(text, sizeof(text), fmt, ap);
	n = 0;
	if (status) {
		/* "HH:MM:SS ": when a VM changed, for a reader without a live view. */
		time_t now = time(NULL);
		struct tm tm;

		if (localtime_r(&now, &tm))
			n = strftime(line, sizeof(line), "%H:%M:%S ", &tm);
	}
	n += format_line(line + n, sizeof(line) - n, prefix, text, strlen(text));
	if (lg.tap && level <= lg.level && lg.tap(level, status, line, n, lg.tap_opaque))
		return;
	if (lg.dropped) {
		char what[80];
		int k = snprintf(what, sizeof(what), "%u log lines dropped: the log's reader is not keeping up",
				 lg.dropped);

		m = format_line(mark, sizeof(mark), lg.prefix, what, (size_t)k);
		if (lg.qlen + m + n > LOG_QUEUE_MAX)
			flush();
		if (lg.qlen + m + n > LOG_QUEUE_MAX) {
			lg.dropped++;
			lg.dropped_total++;
			return;
		}
		enqueue(mark, m, LOG_QUEUE_MAX);
		lg.dropped = 0;
	}
	if (!enqueue(line, n, LOG_QUEUE_MAX)) {
		lg.dropped++;
		lg.dropped_total++;
		return;
	}
	flush();
}

void log_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARN, false, lg.prefix, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, false, lg.prefix, fmt, ap);
	va_end(ap);
}

void log_status(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, true, lg.prefix, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, false, lg.prefix, fmt, ap);
	va_end(ap);
}

void log_plain(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARN, false, NULL, fmt, ap);
	va_end(ap);
}

bool log_raw(const char *s, size_t n)
{
	if (!enqueue(s, n, LOG_QUEUE_MAX))
		return false;
	flush();
	return true;
}

void log_lost(unsigned n)
{
	lg.dropped += n;
	lg.dropped_total += n;
}

bool log_child(const char *tag, const char *text, size_t len)
{
	char line[LINE_MAX_BYTES + NAME_MAX_BYTES + 4];
	size_t n = format_line(line, sizeof(line), tag, text, len);

	if (lg.tap && lg.tap(LOG_WARN, false, line, n, lg.tap_opaque))
		return true;
	if (!enqueue(line, n, LOG_CHILD_SHARE))
		return false;
	flush();
	return true;
}

int log_to_file(int dirfd, const char *name, size_t max)
{
	int dfd, fd;

	if (strlen(name) >= sizeof(lg.name))
		return -ENAMETOOLONG;
	if ((dfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3)) < 0)
		return -errno;
	flush(); /* what was meant for the old destination goes there */
	int old_dirfd = lg.dirfd;
	char old_name[NAME_MAX_BYTES];

	snprintf(old_name, sizeof(old_name), "%s", lg.name);
	lg.dirfd = dfd;
	snprintf(lg.name, sizeof(lg.name), "%s", name);
	if ((fd = open_file()) < 0) {
		lg.dirfd = old_dirfd;
		snprintf(lg.name, sizeof(lg.name), "%s", old_name);
		close(dfd);
		return fd;
	}
	if (old_dirfd >= 0)
		close(old_dirfd);
	close_dest();
	lg.fd = fd;
	lg.own_fd = true;
	lg.kind = DEST_FILE;
	lg.max = max;
	flush();
	return 0;
}

void log_flush(int timeout_ms)
{
	uint64_t end = loop_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	flush();
	while (lg.qlen && lg.kind != DEST_FILE) {
		uint64_t now = loop_now_ms();
		struct pollfd p = { .fd = lg.fd, .events = POLLOUT };

		if (now >= end || poll(&p, 1, (int)(end - now)) <= 0 || (p.revents & (POLLERR | POLLHUP)))
			break;
		flush();
	}
	forget_loop();
}
