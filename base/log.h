/* log.h - the supervisor's log: one line per event on stderr (launcher.log
 * once daemonized).  Only the top of a program logs; modules below launcher/
 * report through struct err and callbacks instead (base/err.h). */
#ifndef N3X_LOG_H
#define N3X_LOG_H

/* Lines start with "PREFIX: "; NULL (the default) writes them bare. */
void log_set_prefix(const char *prefix);
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Without the prefix: a problem that names its own place ("FILE:LINE: ..."),
 * printed the way the topology parser prints its own. */
void log_plain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
