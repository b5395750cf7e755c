/* console.h - a VM's serial console: log file, replay buffer and socket.
 *
 * The supervisor holds its end of the serial chardev (a socketpair whose other
 * end QEMU gets as fd 3).  Everything QEMU writes is appended to the console
 * log (size-capped), kept in a 64 KiB replay ring, and copied to every client
 * of $RUN/vm/NAME/console.sock; a new client first receives the ring's
 * contents.  Bytes from any client go to the guest.  The console object lives
 * as long as the VM's definition; QEMU processes come and go under it.
 */
#ifndef N3X_CONSOLE_H
#define N3X_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_REPLAY_SIZE (64 * 1024)
#define CONSOLE_LOG_CAP (4 * 1024 * 1024) /* then console.log -> console.log.1 */

/* The replay ring: the last `size` bytes written, oldest first. */
struct ring;
struct ring *ring_new(size_t size);
void ring_free(struct ring *r);
void ring_write(struct ring *r, const void *buf, size_t len);
size_t ring_len(const struct ring *r);                 /* bytes held, <= size */
/* Copy the held bytes, oldest first, into out (at least ring_len bytes). */
size_t ring_copy(const struct ring *r, void *out);
uint64_t ring_total(const struct ring *r);             /* bytes ever written */

struct console;

/* Called with every chunk of guest output, after it is logged. */
typedef void (*console_output_fn)(void *opaque, const char *buf, size_t len);

/* Create the console and start listening on sock_path (0600, replacing a stale
 * socket only after connect() is refused).  log_path is opened O_APPEND.
 * Returns 0 and *out, or -errno. */
int console_new(const char *sock_path, const char *log_path,
		console_output_fn out_fn, void *opaque, struct console **out);

/* Take ownership of serial_fd (the supervisor's end of QEMU's serial socket)
 * and start copying.  Replaces a previous fd. */
int console_attach(struct console *c, int serial_fd);

/* QEMU went away: close the serial fd.  Clients stay connected and keep the
 * replay; their input is dropped until the next attach. */
void console_detach(struct console *c);

/* Write a supervisor note ("n3x: ...") into the log and to clients. */
void console_note(struct console *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Close every client and the listener, unlink the socket. */
void console_free(struct console *c);

#endif
