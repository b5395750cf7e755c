/* bootlog.h - a VM's console text since its QEMU started (or the guest last
 * reset), kept for `wait --console`, and the same output cut into lines as
 * it arrives.
 *
 * Lines end at "\n"; "\r" is dropped and a line is cut at BOOTLOG_LINE_MAX.
 * The text is capped at BOOTLOG_TEXT_MAX: past it the oldest half goes, from
 * a line start, so a scan never sees half a line at the front.
 */
#ifndef N3X_BOOTLOG_H
#define N3X_BOOTLOG_H

#include <stdbool.h>
#include <stddef.h>

#define BOOTLOG_TEXT_MAX (64 * 1024)
#define BOOTLOG_LINE_MAX 1024
#define BOOTLOG_PARTIAL_MS 100 /* quiet time after which an unfinished line is offered */

struct bootlog;

/* Called with each finished line (no line ending), and with the line so far
 * once the output pauses in the middle of one (a prompt); borrowed. */
typedef void (*bootlog_line_fn)(void *opaque, const char *line);

/* An empty log that calls line(opaque, ...) as lines arrive.  The pause is
 * timed on the loop (base/loop.h).  NULL when out of memory. */
struct bootlog *bootlog_new(bootlog_line_fn line, void *opaque);
void bootlog_free(struct bootlog *b);            /* NULL is a no-op */

/* Forget the text and the line so far: a new QEMU, or the guest reset. */
void bootlog_reset(struct bootlog *b);
/* Append console output and offer each line it finishes. */
void bootlog_add(struct bootlog *b, const char *buf, size_t len);

/* Call fn on each line of the text, oldest first, the unfinished last one
 * included, until it returns true; returns that. */
bool bootlog_scan(const struct bootlog *b, bool (*fn)(const char *line, void *opaque), void *opaque);

#endif
