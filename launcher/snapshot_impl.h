/* snapshot_impl.h - what snapshot.c (the operations: phases, jobs,
 * qemu-img, hooks) and snapverb.c (the verb: requests and their checks)
 * share.  Private to the snapshot module.
 */
#ifndef N3X_SNAPSHOT_IMPL_H
#define N3X_SNAPSHOT_IMPL_H

#include "launcher/snapshot.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/child.h"
#include "base/err.h"
#include "base/loop.h"
#include "launcher/control.h"
#include "launcher/snapmeta.h"
#include "qmp/job.h"

enum snap_action { SNAP_SAVE, SNAP_LOAD, SNAP_DELETE };
enum snap_phase { PH_DROP_OLD, PH_SAVE, PH_SIZE, PH_UNDO, PH_START, PH_LOAD, PH_AGENT, PH_DELETE };

/* After a load, how long the reply waits for the guest agents that
 * answered at the save to answer again (they sync afresh, ~1 s). */
#define AGENT_WAIT_MS 15000

struct snap_vm {
	struct snap_op *op;
	struct vm *vm;                 /* NULL: in the metadata, not in this supervisor */
	char name[64];
	struct qmp_job *job;
	bool running;                  /* save: was running, resumed after; load: resume after */
	bool waiting_start;            /* load: started paused, not there yet */
	bool waiting_agent;            /* load: its agent answered at the save, not yet again */
	bool ok;                       /* this phase's work on it succeeded */
	long long bytes;               /* save: its vmstate's size (vm-state-size) */
	/* qemu-img snapshot -d on a VM without QEMU, one image after another */
	struct child img;
	char img_tag[96];
	int img_step;
};

struct snap_op {
	enum snap_action action;
	enum snap_phase phase;
	char name[SNAP_NAME_MAX + 1];
	struct control_client *client;
	int nvms;                      /* the VMs of the snapshot, vms[0..nvms) */
	int nall;                      /* and after them, VMs that only drop an old tag */
	struct snap_vm *vms;
	int pending;
	bool failed;
	struct err err;                /* the first failure */
	uint64_t t0;
	json_t *meta;                  /* load, delete: the metadata read */
	bool replacing;                /* save: an older NAME's tags were dropped */
	bool aborted;                  /* snapshot_abort: answered, left to the exit */
	json_t *notes;                 /* load: what could not be restored */
	struct loop_timer agent_timer; /* load: the wait for the agents */
	struct loop_deferred free_d;
};

/* The operation in progress, or NULL: one at a time. */
extern struct snap_op *snap_cur;
extern const char *const snap_action_names[]; /* by enum snap_action */

/* A new op answering c, room for nvms VMs; NULL when out of memory. */
struct snap_op *snap_op_new(struct control_client *c, enum snap_action a, const char *name, int nvms);
/* Add a VM (vm NULL: not in this supervisor) to the snapshot's VMs. */
struct snap_vm *snap_op_add(struct snap_op *op, struct vm *vm, const char *name);
/* The op is over: snap_cur is cleared now, the memory after the batch. */
void snap_op_free(struct snap_op *op);
/* Where the op's failure goes: its err the first time, NULL after. */
struct err *snap_op_err(struct snap_op *op);
/* One piece of the current phase is done; the next phase at zero. */
void snap_settle(struct snap_op *op);
/* Drop the op's tag from sv's VM (a job, or qemu-img without QEMU),
 * counted in pending. */
void snap_drop_tag(struct snap_vm *sv);
/* Pause, save every VM of op, resume together, write the metadata. */
void snap_begin_save(struct snap_op *op);
/* vm's ephemeral overlay step, or NULL. */
const struct plan_step *snap_ephemeral_overlay(struct vm *vm);

#endif
