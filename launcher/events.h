/* events.h - the supervisor's event stream (`n3x-ctl events`).
 *
 * Anything in the supervisor that notices something a user may want to
 * watch calls events_emit(); every subscriber whose filter takes it gets one
 * JSON line.  An event is
 *
 *   {"time": 1765094521.123,          unix seconds, millisecond precision
 *    "vm": "n100-1" | null,           null: the fabric or the supervisor
 *    "kind": "SHUTDOWN",
 *    "data": {...}}                   always an object, maybe empty
 *
 * Kinds in capitals are QEMU's QMP events, passed on with QMP's own "data"
 * (SHUTDOWN {"guest","reason"}, RESET, STOP, RESUME, POWERDOWN,
 * GUEST_PANICKED, BLOCK_IO_ERROR, NIC_RX_FILTER_CHANGED, JOB_STATUS_CHANGE,
 * ...).  Lower-case kinds are the supervisor's own:
 *
 *   state      {"from","to","reason"}       a VM's state changed
 *   restart    {"attempt","delay_ms"}       a crashed VM is started again after delay_ms
 *   lease      {"nic","mac","ip","previous"}  a NIC got (previous null) or changed its lease
 *   agent      {"up"}                       the guest agent came up or went away
 *   ready      {"condition"}                the VM's `ready =` condition holds
 *   link       {"nic","up"}                 a cable was pulled or plugged (n3x-ctl link)
 *   profile    {"profile","previous"}       the tc profile was switched (vm null)
 *   partition  {"groups"} | {"from","to"}   a partition was put in force (vm null):
 *                                           groups of VM names, or one way
 *   heal       {}                           the partition ended (vm null)
 *   schedule   {"name","step","cycle","at_ms","late_ms","action","ok","error"?}
 *                                           (vm null) a step of a running
 *                                           schedule; time = when it began
 *                                           (launcher/schedule.h)
 *   schedule-end {"name","reason"}          (vm null) done, stopped, shutdown
 *   snapshot-saved  {"name","vms","seconds"}  (vm null)
 *   snapshot-loaded {"name","vms","seconds"}  (vm null)
 *   dnsmasq-restarted, ovs-restarted {"reason"}  (vm null) the fabric
 *                                           started a daemon again; reason:
 *                                           how the old one ended.  Nothing
 *                                           restarts OVS today, so no
 *                                           ovs-restarted is emitted yet.
 *   adopted    {"pid","stale"}              this supervisor took over the VM's
 *                                           running QEMU (pid) from an earlier
 *                                           one; stale (only when set) says how
 *                                           it differs from the file
 *   monitor    {"connected","reason"}       the supervisor's QMP connection to
 *                                           the running QEMU was lost (reason)
 *                                           or is back
 *   lost       {"count"}                    this subscriber fell behind and
 *                                           lost count older events
 *
 * Keep the shape stable, as status --json: add kinds and fields, never
 * rename them.
 */
#ifndef N3X_EVENTS_H
#define N3X_EVENTS_H

#include <jansson.h>

#include "launcher/control.h"

/* Lines a subscriber may have waiting beyond its control client's output;
 * past that the oldest are dropped and counted ("lost"). */
#define EVENTS_QUEUE_MAX 1024

/* Send an event to every subscriber that wants it.  vm is a VM's name or
 * NULL; data (stolen, NULL for {}) must be an object.  Never blocks and
 * never fails visibly: out of memory loses the event. */
void events_emit(const char *vm, const char *kind, json_t *data);
/* events_emit with the event's time given (unix seconds): when what it
 * reports began, not when it was sent (a schedule step). */
void events_emit_at(double time, const char *vm, const char *kind, json_t *data);

/* One listener inside the supervisor (the progress display) hears every
 * event before the subscribers, data borrowed (may be NULL); NULL: none. */
typedef void events_listener_fn(const char *vm, const char *kind, const json_t *data);
void events_set_listener(events_listener_fn *fn);

/* The event object {"time","vm","kind","data"} (a new reference, NULL when
 * out of memory); data is stolen, NULL for {}. */
json_t *events_encode(double time, const char *vm, const char *kind, json_t *data);

/* Answer c's pending request with {"ok":true} and stream every event whose
 * vm is NULL or one of vms[0..nvms) (all when nvms is 0; the names are
 * copied) to it until it goes away.  Every way out answers c; 0 or -errno. */
int events_subscribe(struct control_client *c, const char *const *vms, int nvms);

/* Subscribers connected now. */
int events_nsubscribers(void);

#endif
