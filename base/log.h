/* log.h - the supervisor's log: one line per event on stderr (launcher.log
 * once daemonized).  Only the top of a program logs; modules below launcher/
 * report through struct err and callbacks instead (base/err.h).
 *
 * Logging never blocks the loop.  Lines go into one bounded queue that is
 * written as far as the destination takes it without blocking: a pipe or
 * terminal nobody reads stalls the queue, not the supervisor, and lines that
 * do not fit are counted and replaced by one "N lines dropped" line once
 * there is room again.  Children's output (base/child.c) may fill only part
 * of the queue, so the supervisor's own lines still get through a chatty
 * child.  In a file (log_to_file) the log is capped: past its size it is
 * renamed to NAME.1 (replacing the previous one) and started again.
 */
#ifndef N3X_LOG_H
#define N3X_LOG_H

#include <stdbool.h>
#include <stddef.h>

#define LOG_QUEUE_MAX (64 * 1024)      /* bytes waiting for the destination */
#define LOG_CHILD_SHARE (48 * 1024)    /* of which children's lines may use */
#define LOG_FILE_MAX (8 * 1024 * 1024) /* launcher.log before it rotates */

/* How much stderr shows (-q / default / -v); a log file (log_to_file)
 * keeps info lines whatever the level, and debug ones at LOG_DEBUG. */
enum log_level { LOG_WARN, LOG_INFO, LOG_DEBUG };
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Lines start with "PREFIX: "; NULL (the default) writes them bare. */
void log_set_prefix(const char *prefix);
/* A warning or an error: shown at every level.  Children's lines
 * (log_child) count as warnings too. */
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Routine news (the fabric is up, detached): not under --quiet. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A VM's state, lease or readiness changed: a line stamped with the time
 * of day ("HH:MM:SS PREFIX: ..."), which a live view (a tap) may show its
 * own way instead; level LOG_WARN for a crash. */
void log_status(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Only with --verbose (console lines, QMP events). */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Without the prefix: a problem that names its own place ("FILE:LINE: ..."),
 * printed the way the topology parser prints its own. */
void log_plain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line of a child's output, "TAG: TEXT" (len bytes of text, no newline).
 * false when it was dropped: the queue holds more than LOG_CHILD_SHARE; the
 * caller counts its drops and says so with its next line that fits. */
bool log_child(const char *tag, const char *text, size_t len);

/* A tap sees every line stderr would show (level within log_set_level's),
 * formatted and ending in '\n', before it is queued; status says it came
 * from log_status.  Returning true takes the line: the log does not write
 * it (a live display writes it above itself with log_raw, or drops it).
 * A log file still gets what a tap passes on (false). */
typedef bool log_tap_fn(enum log_level level, bool status, const char *line, size_t len, void *opaque);
void log_set_tap(log_tap_fn *fn, void *opaque);  /* NULL: no tap */

/* Queue bytes as they are (a tap's output: escape sequences and lines),
 * in order with the lines; false when they do not fit now. */
bool log_raw(const char *s, size_t n);

/* n lines lost without a word (a child's count that found no room at its
 * end): the next line of the log says how many were dropped. */
void log_lost(unsigned n);

/* From now on the log goes to NAME in the directory dirfd (opened
 * O_APPEND | O_NOFOLLOW, created 0600), rotated to NAME.1 when a line would
 * take it past max bytes.  The file is also made fd 2, so whatever else
 * writes to stderr lands in it.  dirfd is duplicated; the caller keeps its
 * own.  0 or -errno (the log stays where it was). */
int log_to_file(int dirfd, const char *name, size_t max);

/* Write what is queued, waiting at most timeout_ms for a stalled
 * destination; for the end of a program, when no loop runs the queue.
 * Also forgets the loop (call it before loop_close). */
void log_flush(int timeout_ms);

/* For tests: bytes queued now, and lines dropped so far by log_line. */
size_t log_queued(void);
unsigned log_dropped(void);
/* For tests: forget the destination, the queue, the level and the tap; the
 * log goes to fd 2 again, looked at afresh on the next line. */
void log_reset(void);

#endif
