/* paths.h - where a fabric keeps its runtime and state files (SPEC "Runtime layout").
 *
 * $RUN   = $XDG_RUNTIME_DIR/n3x/NAME, else /run/n3x/NAME
 * $STATE = $XDG_STATE_HOME/n3x/NAME,  else /var/lib/n3x/NAME
 */
#ifndef N3X_PATHS_H
#define N3X_PATHS_H

#include <stddef.h>

struct err;

#define PATHS_MAX 256 /* sun_path is 108: socket paths are checked separately */

/* The directory that holds every fabric's run dir ($XDG_RUNTIME_DIR/n3x or /run/n3x). */
void paths_run_base(char *buf, size_t size);
/* Fill buf; return 0 or -ENAMETOOLONG. */
int paths_run_dir(const char *fabric, char *buf, size_t size);
int paths_state_dir(const char *fabric, char *buf, size_t size);

/* mkdir -p with the given mode for every component created; 0 or -errno. */
int paths_mkdir_p(const char *path, unsigned mode);

/* Paths root can trust.  A directory is trusted when nobody but us (our
 * euid, or root) can change what its path leads to: every component from
 * / down is a real directory (a symbolic link anywhere is refused: whoever
 * owns it decides where it points), owned by root or by our euid, and not
 * writable by group or others unless it is sticky and owned by root (/tmp:
 * others cannot rename or remove what we made there).
 *
 * paths_check_env: the XDG_RUNTIME_DIR and XDG_STATE_HOME this process
 * would use, as far as they exist (what is missing we create ourselves).
 * 0, or -EPERM with e saying which variable and why, in one line. */
int paths_check_env(struct err *e);

/* Create path as needed (each component made 0700), checking every
 * component as above on the way; path itself must end owned by our euid
 * and is made 0700 if it was looser.  Returns an O_PATH directory fd the
 * caller closes (for openat with O_NOFOLLOW), or -errno with e. */
int paths_open_dir(const char *path, struct err *e);

/* Open name in the checked directory dirfd: O_NOFOLLOW and O_CLOEXEC are
 * added to flags, so a symbolic link planted there is refused (ELOOP).
 * fd or -errno. */
int paths_openat(int dirfd, const char *name, int flags, unsigned mode);

/* snprintf into buf; -ENAMETOOLONG when it does not fit. */
int paths_join(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
