/* paths.h - where a fabric keeps its runtime and state files (SPEC "Runtime layout").
 *
 * $RUN   = $XDG_RUNTIME_DIR/n3x/NAME, else /run/n3x/NAME
 * $STATE = $XDG_STATE_HOME/n3x/NAME,  else /var/lib/n3x/NAME
 */
#ifndef N3X_PATHS_H
#define N3X_PATHS_H

#include <stddef.h>

#define PATHS_MAX 256 /* sun_path is 108: socket paths are checked separately */

/* The directory that holds every fabric's run dir ($XDG_RUNTIME_DIR/n3x or /run/n3x). */
void paths_run_base(char *buf, size_t size);
/* Fill buf; return 0 or -ENAMETOOLONG. */
int paths_run_dir(const char *fabric, char *buf, size_t size);
int paths_state_dir(const char *fabric, char *buf, size_t size);

/* mkdir -p with the given mode for every component created; 0 or -errno. */
int paths_mkdir_p(const char *path, unsigned mode);

/* snprintf into buf; -ENAMETOOLONG when it does not fit. */
int paths_join(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
