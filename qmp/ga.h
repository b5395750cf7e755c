/* ga.h - a client for one QEMU guest agent (qemu-ga) channel.
 *
 * The agent speaks QMP's wire format without a greeting and without ids, to
 * one client at a time, over a virtio-serial port the guest may open, close
 * and reopen (the agent restarts, the guest reboots).  So this client:
 *
 *   - writes nothing until the owner says the guest opened its end
 *     (ga_set_open, from QEMU's VSERPORT_CHANGE event): bytes written before
 *     would wait in the channel and reach a later agent as garbage;
 *   - on every open, after a request timed out and after a reply it cannot
 *     parse, resynchronises: a 0xFF byte (the agent resets its parser), then
 *     guest-sync-delimited with a fresh random id; everything up to the
 *     agent's 0xFF and the reply carrying that id is discarded;
 *   - is "up" once a sync succeeded while the port is open; the up callback
 *     reports each change;
 *   - sends one request at a time, in order, and matches each reply to the
 *     request in flight; commands the agent never answers (guest-shutdown,
 *     guest-suspend-*) are answered {"return":{}} once written.
 *
 * The client registers its fd and its timer with the loop (base/loop.h) and
 * does its own I/O.  Callbacks run from loop handlers and from ga_set_open()
 * and ga_free(); a callback may send requests but must not free the client
 * (defer that with loop_defer).
 */
#ifndef N3X_GA_H
#define N3X_GA_H

#include <jansson.h>
#include <stdbool.h>

#define GA_LINE_MAX (64u * 1024 * 1024) /* guest-exec-status with 16 MiB of output fits */
#define GA_SYNC_TIMEOUT_MS 5000        /* a sync that gets no answer is retried */

struct ga;

/* reply: the whole reply object ({"return":...} or {"error":{"class","desc"}}),
 * borrowed for the duration of the call; NULL on failure, with err:
 *   -ENOTCONN    the port closed (the agent stopped, the guest rebooted)
 *                before the reply came;
 *   -ETIMEDOUT   no reply within the request's timeout (the channel resyncs);
 *   -ECANCELED   ga_free();
 *   -EPROTO      the agent's reply was not a JSON object (the channel resyncs). */
typedef void (*ga_reply_fn)(void *opaque, json_t *reply, int err);

struct ga_callbacks {
	void (*up)(void *opaque, bool up); /* each change of ga_is_up() */
	void *opaque;
};

/* Take ownership of fd (the supervisor's end of the agent's chardev; made
 * non-blocking, closed by ga_free) and watch it with the loop.  The port
 * starts closed.  NULL with errno set, fd still the caller's. */
struct ga *ga_new(int fd, const struct ga_callbacks *cb);

/* The guest opened (true) or closed (false) its end of the port.  Opening
 * starts a sync; closing fails every request with -ENOTCONN and makes the
 * client down.  Repeating the current value does nothing.  The channel
 * itself ending (EOF or an error on fd: QEMU went away) counts as closed
 * for good: the fd leaves the loop and no open revives it. */
void ga_set_open(struct ga *g, bool open);

/* A sync succeeded since the port last opened, and it is still open. */
bool ga_is_up(const struct ga *g);

/* Queue {"execute": cmd, "arguments": args}.  args may be NULL, must
 * otherwise be an object, and is stolen even on failure.  timeout_ms counts
 * from this call (0: GA_SYNC_TIMEOUT_MS).  Returns 0, and then cb (may be
 * NULL) is called exactly once, later, never from inside this call; or
 * -ENOTCONN when the client is not up, -EINVAL (also for guest-sync and
 * guest-sync-delimited, which belong to the client), -ENOMEM, and then cb
 * is never called. */
int ga_execute(struct ga *g, const char *cmd, json_t *args, unsigned timeout_ms, ga_reply_fn cb,
	       void *opaque);

/* Queue a command object as a user wrote it ({"execute":..., "arguments":...}),
 * stolen even on failure.  As ga_execute. */
int ga_send_raw(struct ga *g, json_t *cmd, unsigned timeout_ms, ga_reply_fn cb, void *opaque);

/* Stop watching and close the fd; pending callbacks get -ECANCELED.  NULL
 * is a no-op. */
void ga_free(struct ga *g);

#endif
