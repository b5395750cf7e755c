/* console.h - a VM's serial console: log file, replay buffer and socket.
 *
 * The supervisor holds its end of the serial chardev (a connection to the
 * socket QEMU listens on).  Everything QEMU writes is appended to the
 * console log (size-capped; see console_set_qemu_logs), kept in a 64 KiB
 * replay ring, and copied to every client of $RUN/vm/NAME/console.sock; a
 * new client first receives the ring's contents.  Bytes from any client go to the guest.  The console object lives
 * as long as the VM's definition; QEMU processes come and go under it.
 *
 * Nothing here blocks: a client that does not read loses its oldest queued
 * output (CONSOLE_CLIENT_QUEUE) instead of stalling the loop or the guest.
 */
#ifndef N3X_CONSOLE_H
#define N3X_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_REPLAY_SIZE (64 * 1024)
#define CONSOLE_LOG_CAP (4 * 1024 * 1024) /* then console.log -> console.log.1 */
#define CONSOLE_CLIENT_QUEUE (256 * 1024) /* per client, oldest bytes dropped */
#define CONSOLE_INPUT_MAX (64 * 1024)     /* typed bytes QEMU has not taken yet */

/* The replay ring: the last `size` bytes written, oldest first.  A write
 * larger than the ring keeps its tail.  ring_new returns NULL (errno set) on
 * failure; ring_free(NULL) is a no-op. */
struct ring;
struct ring *ring_new(size_t size);
void ring_free(struct ring *r);
void ring_write(struct ring *r, const void *buf, size_t len);
size_t ring_len(const struct ring *r);                 /* bytes held, <= size */
/* Copy the held bytes, oldest first, into out (at least ring_len bytes).
 * Returns the number copied (= ring_len). */
size_t ring_copy(const struct ring *r, void *out);
uint64_t ring_total(const struct ring *r);             /* bytes ever written */

struct console;

/* Called with every chunk of guest output, after it is logged.  Supervisor
 * notes (console_note) are not guest output and do not reach it.  It must not
 * free the console. */
typedef void (*console_output_fn)(void *opaque, const char *buf, size_t len);

/* Create the console and start listening on sock_path (0600, replacing a stale
 * socket only after connect() is refused).  log_path is opened O_APPEND and
 * created 0600; its size counts toward the cap.  Needs loop_open() first.
 * Returns 0 and *out, or -errno: -EADDRINUSE when a live process answers on
 * sock_path, -EEXIST when sock_path is something other than a socket,
 * -ENAMETOOLONG when it does not fit in sun_path, or the log's open error. */
int console_new(const char *sock_path, const char *log_path,
		console_output_fn out_fn, void *opaque, struct console **out);

/* Take ownership of serial_fd (the supervisor's end of QEMU's serial socket),
 * make it non-blocking and start copying.  Replaces (closes) a previous fd.
 * The fd is owned by the console even when this fails (it is then closed).
 * Returns 0 or -errno. */
int console_attach(struct console *c, int serial_fd);

/* QEMU went away: close the serial fd.  Clients stay connected and keep the
 * replay; their input is dropped until the next attach.  EOF or an error on
 * the serial fd detaches by itself, quietly (the VM module learns of the exit
 * from its pidfd).  No-op when detached. */
void console_detach(struct console *c);

/* Type len bytes into the guest's serial port as a client of the socket
 * does: written now as far as QEMU takes them, the rest queued (with the
 * clients' bytes, in order) and written as QEMU reads.  Never blocks.  Where
 * a client's bytes would push the oldest queued ones out, these are refused
 * whole instead, so a script's text is never cut.  0; -ENOTCONN when
 * detached (no QEMU: nothing is kept for the next one); -EMSGSIZE when len >
 * CONSOLE_INPUT_MAX; -ENOBUFS when the queue has no room for len more bytes
 * (the guest is not reading its UART).  Nothing is written on an error. */
int console_input(struct console *c, const void *buf, size_t len);

/* Write a supervisor note, "\r\n[n3x] <message>\r\n", into the log, the
 * replay ring and every client ("VM started", "QEMU exited with status 1"). */
void console_note(struct console *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Put len bytes into the replay ring as if they had been shown: output a
 * console of an earlier supervisor showed (read back from the log).  Not
 * logged, not sent to clients connected now. */
void console_replay(struct console *c, const void *buf, size_t len);

/* QEMU writes the guest's output into the same log itself (its serial
 * chardev's logfile=, O_APPEND), so that output during a supervisor's
 * absence is kept: the console then writes only its notes there, counts
 * the guest's bytes toward the cap, and rotates by copying the log to
 * console.log.1 and truncating it in place (QEMU's open file stays valid),
 * at about the cap rather than exactly. */
void console_set_qemu_logs(struct console *c, bool on);

/* Rotate the log at `cap` bytes instead of CONSOLE_LOG_CAP (tests; 0 is
 * taken as 1).  The rotation point is exact: console.log.1 then holds
 * exactly `cap` bytes, even if that splits a line. */
void console_set_log_cap(struct console *c, size_t cap);

/* Close every client, the serial fd and the listener, unlink the socket and
 * free everything.  NULL is a no-op.  Its fds leave the loop here, so do not
 * call it from a handler whose epoll batch may still hold the console's
 * events: free it from a loop_defer() call (base/loop.h), which runs after
 * the batch. */
void console_free(struct console *c);

#endif
