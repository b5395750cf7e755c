/* notify.h - telling systemd how the fabric is doing (sd_notify).
 *
 * Under a unit of Type=notify, systemd sets NOTIFY_SOCKET; without it every
 * call here does nothing.  The variable is taken out of the environment at
 * notify_init, so no QEMU or dnsmasq we start talks to systemd in our name.
 */
#ifndef N3X_NOTIFY_H
#define N3X_NOTIFY_H

#include <sys/types.h>

/* Take NOTIFY_SOCKET from the environment (call once, before any child). */
void notify_init(void);

/* The fabric is up and nvms VMs are starting: READY=1 and a STATUS.
 * mainpid > 0 (a --daemon child): MAINPID= too. */
void notify_ready(int nvms, pid_t mainpid);

/* Every one of nvms VMs is ready: STATUS=all N VMs ready. */
void notify_all_ready(int nvms);

/* The --daemon parent hands the service over to the detached child. */
void notify_mainpid(pid_t pid);

/* Shutdown began: STOPPING=1 (once). */
void notify_stopping(void);

#endif
