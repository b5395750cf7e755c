/* control.h - $RUN/control.sock, the supervisor's command socket.
 *
 * Protocol: JSON lines.  The client writes one request object per line and
 * reads one reply object per line, in order.  A reply is {"ok":true, ...} or
 * {"ok":false, "error":"one line naming what failed and why", "code":N} where
 * N is n3x-ctl's exit code (1 operation failed, 2 bad usage).  Requests:
 *
 *   {"cmd":"status"}
 *       -> {"ok":true,"fabric":{"name","netns","profile","run_dir","state_dir",
 *           "pid"},"vms":[VM...]} where VM is
 *          {"name","state","arch","accel","accel_reason","pid" (null when not
 *           running),"role","uptime_s","restarts","last_error","console_log",
 *           "qmp_socket","console_socket","agent","ready","firmware",
 *           "nics":[{"index","network","tap","mac","ip","lease","link"}]}
 *       accel_reason says why auto chose TCG ("" otherwise); last_error is
 *       "" when nothing failed; paths are absolute.  agent: the guest agent
 *       answers; ready: the VM's `ready =` condition (no key: running) held
 *       since its current QEMU started (false while no QEMU runs);
 *       firmware: "bios", "uefi" or null (direct kernel boot without one).
 *       io_error: {"device","node","reason","operation","action"} of QEMU's
 *       last BLOCK_IO_ERROR ("reason": "No space left on device"), only
 *       while no resume or new start has cleared it.
 *   {"cmd":"start"|"stop"|"restart"|"kill"|"pause"|"resume",
 *    "vms":["a","b"]} or {"cmd":..., "all":true}
 *       -> {"ok":true,"vms":[{"name","state"}]} once every VM named has
 *          reached the target state (stop: after the graceful timeout and the
 *          forced quit if needed).  Unknown VM names: code 2, nothing done.
 *   {"cmd":"qmp","vm":"a","command":{"execute":...,"arguments":...}}
 *       -> {"ok":true,"reply":{"return":...}} or {"ok":true,"reply":{"error":...}}
 *          (a QMP error is a reply, not a failure of the request)
 *   {"cmd":"hmp","vm":"a","command":"info status"} -> {"ok":true,"output":"..."}
 *   {"cmd":"agent","vm":"a","command":{"execute":...,"arguments":...},"timeout":S}
 *       -> {"ok":true,"reply":{"return":...}} or {"ok":true,"reply":{"error":...}}
 *          (an agent error is a reply, as with qmp).  timeout: seconds for
 *          the agent's answer, default 60.  Failures, code 1: "a: the guest
 *          agent is not connected (is qemu-guest-agent installed and running
 *          in the guest?)" ("(the VM is stopped)" when no QEMU runs), "a: the
 *          guest agent did not answer guest-file-read within 60 s", "a: the
 *          guest agent went away before answering ...".  guest-sync and
 *          guest-sync-delimited belong to the supervisor: code 2.
 *   {"cmd":"exec","vm":"a","path":"hostname","args":["-f"],"env":["K=V"],
 *    "input":"BASE64","timeout":S}
 *       -> {"ok":true,"pid":N,"exitcode":N,"signal":N,"out":"BASE64",
 *           "err":"BASE64","out_truncated":bool,"err_truncated":bool}
 *          guest-exec with capture-output, then guest-exec-status until the
 *          process exited, an 8th of its run time apart (5 to 200 ms).
 *          args, env and input are optional; env, when given, is the
 *          process's whole environment (qemu-ga's rule).  pid is the
 *          guest's; signal only when one ended the process, exitcode is
 *          then 128 + signal; *_truncated: the agent kept only its first
 *          16 MiB.  timeout: seconds, default 0 = no
 *          limit.  Failures, code 1: no agent (as above); the agent's error
 *          ("a: cannot run hostnamx: Failed to execute child process ...");
 *          "a: hostname still running after S s (guest pid N)" (the process
 *          is left running); "a: the guest agent went away while hostname was
 *          running (guest pid N)" (the VM stopped or the agent restarted).
 *          Bad path/args/env/input: code 2.
 *   {"cmd":"wait","vm":"a", one of "console":"REGEX" | "state":"running" |
 *    "lease":true | "agent":true | "exec":"CMD" | "port":N,
 *    "interval":S (exec, port; default 1), "timeout":S}
 *       -> {"ok":true,"state":"running","match":"the console line" (with
 *          --console),"leases":[{"index","mac","ip"}] (with --lease),
 *          "address":"IP:PORT" (with --port), "vms":[{"name","state"}]} or,
 *          when the timeout (seconds, default 60, 0 = forever) passes,
 *          {"ok":false,"error":"...timed out...","code":1}.  None or more
 *          than one of the six: code 2.  The console regex
 *          (POSIX extended) is matched line by line against everything the
 *          guest printed since the VM's current QEMU started or the guest
 *          last reset, so a line that came before the request counts; an
 *          unfinished last line (a prompt) counts once output pauses 100 ms.
 *          agent: the guest agent answers.  exec: /bin/sh -c CMD in the guest
 *          (as exec above) every interval until it exits 0; the timeout
 *          error names the last failure ("a: timed out waiting for `CMD` to
 *          succeed (last: exit 1: <its last stderr line>)").  port: a TCP
 *          connect from the fabric's namespace to the VM's first NIC (its
 *          lease, else its ip=) every interval until one succeeds.  A VM
 *          that stops for good (stopped, or crashed without restart) fails
 *          a console, lease, agent, exec or port wait at once.
 *   {"cmd":"link","vm":"a","nic":N (optional: every NIC),"up":bool}
 *       -> {"ok":true,"nics":[{"index":0,"link":"down"}]}, one entry per NIC
 *          named, once QEMU acknowledged each set_link (a stopped VM: at
 *          once; its next QEMU starts with the cable as set).  A pulled
 *          cable stays pulled across restarts until plugged; status shows
 *          it in nics[].link.  Each NIC that changed is an event "link"
 *          {"nic","up"}; one already so is no change and no error.  No such
 *          NIC, a VM without NICs, "up" not a boolean: code 2.  QEMU
 *          refusing set_link: code 1 with its error (the setting is then
 *          left as it was).
 *   {"cmd":"send","vm":"a","data":"BASE64"} -> {"ok":true,"bytes":N}
 *          The bytes go to the guest's serial port as a console client's
 *          do (queued while the guest's UART is busy; never blocking).
 *          No QEMU: code 1 "a: the console is not connected (the VM is
 *          stopped)"; the guest not reading what was typed before (64 KiB
 *          queued): code 1, nothing typed.  data not base64, or more than
 *          64 KiB: code 2.
 *   {"cmd":"schedule","run":"NAME"} | {"cmd":"schedule","stop":true} |
 *   {"cmd":"schedule","status":true}
 *       -> {"ok":true,"schedule":{...}|null,"defined":["NAME",...],
 *          "stopped":"NAME"|null}: schedule is the last run, running or
 *          ended, as launcher/schedule.h's schedule_status_json(true)
 *          ("name","running","reason","repeat","period_ms","started",
 *          "cycle","step","next_step","next_at_ms","steps":[{"step","at_ms",
 *          "action","runs","last":{"ok","late_ms","error","time"}}]).  run
 *          starts [schedule NAME] now (its +0s steps before the reply); a
 *          NAME the topology lacks: code 2; another schedule running, or
 *          the supervisor shutting down: code 1.  stop: "stopped" names the
 *          schedule it stopped (null: none ran, not an error).  Each step
 *          is a "schedule" event, the end a "schedule-end" event.
 *   {"cmd":"shutdown"} -> {"ok":true} after every VM is stopped; then the
 *          supervisor exits.
 *   {"cmd":"reset","vm":"a"} -> {"ok":true,"vm":"a","removed":[paths]}
 *          discards the VM's overlays (persistent and ephemeral) and the
 *          record of their base: its next start makes a fresh overlay on
 *          the base as it is now.  Only for a stopped VM, code 1 "a: stop
 *          the VM first" otherwise.  The data disk and UEFI variables stay.
 *   {"cmd":"events","vms":["a",...] (optional filter)}
 *       -> {"ok":true}, then one event object per line (launcher/events.h:
 *          {"time","vm","kind","data"}) until the client closes or shuts
 *          down its write side, or the supervisor exits.  Events whose vm
 *          is null (the fabric's) always pass the filter.  Each subscriber
 *          has a bounded queue (1024 events); when it is full the oldest
 *          are dropped and the next line delivered is
 *          {"time":..,"vm":null,"kind":"lost","data":{"count":N}}.  After
 *          the {"ok":true} the connection only streams: whatever the client
 *          sends is ignored.  Unknown VM names, "vms" not an array of
 *          strings: code 2.
 *   {"cmd":"snapshot","action":"save","name":"NAME","vms":["a",...]}
 *       -> {"ok":true,"name","vms":["a",...],"seconds":S,"bytes":N}
 *          vms is optional: every running or paused VM.  The VMs that run
 *          are paused, each VM's RAM and devices go to its state image
 *          ($STATE/vm/NAME/state.qcow2) and its qcow2 disks (overlay, data
 *          disk) get an internal snapshot NAME, all at once (QMP
 *          snapshot-save jobs); then those that ran resume together.  bytes:
 *          the saved RAM and device state of every VM (QEMU's vm-state-size);
 *          the disks' internal snapshots take no space until the guest
 *          writes over what they keep.  A save over an existing NAME
 *          replaces it.  Writes
 *          $STATE/snapshots/NAME.json: the VMs with what they were (arch,
 *          memory, vcpus, disks, kernel, firmware, NICs), whether each ran,
 *          cables, leases and the tc profile.
 *   {"cmd":"snapshot","action":"load","name":"NAME"}
 *       -> {"ok":true,"name","vms":[...],"seconds":S,"notes":["..."]}
 *          Every VM of the snapshot is paused (a stopped one is started
 *          paused, before its first instruction) and loaded; cables are set
 *          as saved, the VMs that ran at the save resume together, the
 *          profile is switched back; notes: one line per difference that
 *          could not be restored ("n100-1 NIC 0: lease is 192.168.100.12,
 *          was 192.168.100.11 when saved").  The guest agent syncs afresh.
 *          Refused, nothing touched, code 1: a VM added to or gone from the
 *          topology, or changed ("snapshot X: n100-1 memory is 2048 MiB, was
 *          4096 MiB when saved"); a VM starting or stopping; an ephemeral
 *          overlay made anew since the save.  A load that fails halfway
 *          leaves the VMs paused and says which VM failed and why.
 *   {"cmd":"snapshot","action":"list"}
 *       -> {"ok":true,"snapshots":[{"name","created" (unix s),"vms":[...],
 *           "profile","bytes"}]}, oldest first.
 *   {"cmd":"snapshot","action":"delete","name":"NAME"} -> {"ok":true}
 *          The internal snapshots go (QMP snapshot-delete on VMs with QEMU,
 *          qemu-img snapshot -d on the others), then the metadata.
 *       Names: [A-Za-z0-9._-], 1 to 64 characters, else code 2.  Unknown
 *       snapshot: code 1 "no snapshot named \"X\" (n3x-ctl snapshot list)".
 *       One snapshot operation at a time: code 1 "a snapshot save of X is
 *       in progress".  Events snapshot-saved, snapshot-loaded (events.h).
 *
 * A line that is not a JSON object with a string "cmd" is answered
 * {"ok":false,...,"code":2} by this module without reaching the dispatcher.
 * Requests are handled one at a time per client: the next line is read only
 * after the previous request's reply, so replies come back in request order
 * even when the client pipelines.  A client that shuts down its write side
 * still gets the replies to what it sent, then the connection is closed.  A
 * client that closes entirely gets no replies; what it sent is dispatched up
 * to the first request answered later, the rest is dropped.
 * Only the supervisor's uid and root may connect (SO_PEERCRED).
 */
#ifndef N3X_CONTROL_H
#define N3X_CONTROL_H

#include <jansson.h>

#define CONTROL_LINE_MAX (1024 * 1024) /* longer requests are refused, code 2 */

struct control_client;

/* Handle req (borrowed; incref to keep it) and answer, now or from a later
 * loop iteration, with exactly one control_reply()/control_reply_error().
 * The pending request holds a reference on c until that reply, so the
 * dispatcher may keep c without taking one of its own. */
typedef void (*control_dispatch_fn)(struct control_client *c, json_t *req);

/* Listen on path (AF_UNIX stream, 0600) and register with the loop.  A stale
 * socket file is replaced only after connect() to it is refused.  Returns 0,
 * -EADDRINUSE when a live supervisor answers on path, -EEXIST when path is
 * not a socket, -ENAMETOOLONG, or -errno. */
int control_open(const char *path, control_dispatch_fn dispatch);

/* Stop listening, unlink the socket, and disconnect every client after one
 * non-blocking attempt to flush its queued replies (so a "shutdown" reply
 * sent just before the loop ends still goes out); a stream's owner refills
 * it (drained) while the socket takes everything, then hears gone.  Clients with a pending
 * request stay allocated until it is answered (the reply is then dropped).
 * Call it outside loop handlers, e.g. after loop_run() returns. */
void control_close(void);

/* Send a reply (stolen) and resume reading the client's next request.  A
 * NULL reply (an allocation that failed) is still an answer: the client
 * gets {"ok":false,"error":"the reply could not be encoded","code":1}.  A
 * client that went away in the meantime makes this a no-op apart from
 * releasing the request's reference.  Buffered requests that follow are
 * dispatched from a later loop iteration, never from inside this call. */
void control_reply(struct control_client *c, json_t *reply);
void control_reply_error(struct control_client *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Streaming: after control_stream() the client gets lines, no replies.
 * drained: everything queued went out to the socket (call
 * control_stream_send again).  gone: the client closed, shut down its write
 * side, failed, or the control socket is closing; called once, after which
 * c must not be used.  Both come from c's own loop callback or from
 * control_close(), never from control_stream_send(). */
struct control_stream_ops {
	void (*drained)(void *opaque);
	void (*gone)(void *opaque);
};

/* Answer c's pending request with {"ok":true} and make the connection a
 * stream (ops must outlive it).  0; -ENOMEM (the client is disconnected
 * instead), -ENOTCONN (it went away already); -EINVAL when c has no pending
 * request.  On failure ops are never called. */
int control_stream(struct control_client *c, const struct control_stream_ops *ops, void *opaque);

/* Queue one line (no newline; one is added) for a streaming client.  0;
 * -ENOBUFS when its output is full (64 KiB unsent; wait for drained);
 * -ENOMEM (the line is lost); -ENOTCONN when c is not streaming. */
int control_stream_send(struct control_client *c, const char *line);

/* Extra references for holders other than the pending request (e.g. a
 * subscriber of an event stream); the last unref of a disconnected client
 * frees it. */
void control_client_ref(struct control_client *c);
void control_client_unref(struct control_client *c);

/* Client structures alive: connected, or disconnected but still referenced. */
int control_nclients(void);

#endif
