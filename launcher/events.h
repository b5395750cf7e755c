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
 *   snapshot-saved  {"name","vms","seconds"}  (vm null)
 *   snapshot-loaded {"name","vms","seconds"}  (vm null)
 *   dnsmasq-restarted, ovs-restarted {"reason"}  (vm null)
 *   lost       {"count"}                    this subscriber fell behind and
 *                                           lost count older events
 *
 * Keep the shape stable, as status --json: add kinds and fields, never
 * rename them.
 */
#ifndef N3X_EVENTS_H
#define N3X_EVENTS_H

#include <jansson.h>

/* Send an event to every subscriber that wants it.  vm is a VM's name or
 * NULL; data (stolen, NULL for {}) must be an object.  Never blocks and
 * never fails visibly: out of memory loses the event. */
void events_emit(const char *vm, const char *kind, json_t *data);

#endif
