/* ctlio.h - n3x-ctl's sockets and files: one request/reply exchange on the
 * control socket, a VM's console socket, its console log.  ctl.c decides
 * what to ask and prints the errors these return.
 */
#ifndef N3X_CTLIO_H
#define N3X_CTLIO_H

#include <stdbool.h>
#include <stddef.h>

/* Write all len bytes of buf to fd, through EINTR and short writes: 0 or
 * -errno.  On a socket other than stdout, a closed peer is -EPIPE, not
 * SIGPIPE. */
int ctlio_write_all(int fd, const char *buf, size_t len);

/* Connect to the AF_UNIX stream socket at path: the fd (close-on-exec,
 * blocking) or -errno (-ENAMETOOLONG when path does not fit sun_path). */
int ctlio_connect(const char *path);

/* Send the len bytes of req (one request line, '\n' included), then read one
 * reply line, waiting at most timeout_ms (-1: forever).  Returns 0 with
 * *reply (malloc'd, the '\n' replaced by NUL), -ETIMEDOUT, -EPIPE when the
 * peer closed before a whole line, or -errno. */
int ctlio_exchange(int fd, const char *req, size_t len, int timeout_ms, char **reply);

/* Copy between stdin/stdout and the connected console socket sock (not
 * closed here).  With stdin a tty: raw mode, "Connected to VM ..." on
 * stderr, Ctrl-] detaches; the terminal is restored on every way out,
 * including SIGINT/SIGTERM/SIGHUP, after which the process dies of that
 * signal.  With stdin not a tty: plain byte pump, every byte passed on; after
 * stdin EOF, console output is still copied for 500 ms (as socat -t).
 * Returns 0 (detached, or stdin done), -EPIPE when the console closed, or
 * -errno. */
int ctlio_console(const char *vm, int sock);

/* Print the log file at path; with follow, keep printing what is appended,
 * and continue in the new file when the supervisor rotates it
 * (console.log -> console.log.1) or truncates it.  Returns 0 or -errno
 * (follow only ends by a signal or an error). */
int ctlio_log(const char *path, bool follow);

#endif
