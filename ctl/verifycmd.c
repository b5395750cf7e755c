/* verifycmd.c - `n3x-ctl tc verify [VM[/N]...] [--json] [--probes N]
 * [--seconds S]`: ask the supervisor for the plan, enter the fabric's
 * namespace, measure each link (probes, then a transfer each way), print
 * asked against measured per link and direction with a verdict.  Exit 0
 * when every link is ok, 1 when one is off, broken or could not be
 * measured (verify.h has the how and the why).
 */
#include "ctl/client.h"
#include "ctl/ctl.h"
#include "ctl/verify.h"
#include "ctl/verifyrun.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROBES_DEFAULT 200
#define PROBE_INTERVAL_S 0.01
#define SECONDS_DEFAULT 3.0
#define WARM_S 1.0

struct verify_opts {
	bool json;
	int probes;
	double secs;
	json_t *keys; /* the VM[/N] arguments */
};

/* Where one link's measurements run from, out of status. */
struct where {
	const char *vm, *ip, *host_if, *host_addr, *console, *vlan;
	char vlan_text[64];
	bool agent;
};

static int parse(int argc, char **argv, struct verify_opts *o)
{
	o->json = false, o->probes = PROBES_DEFAULT, o->secs = SECONDS_DEFAULT;
	o->keys = json_array();
	for (int i = 2; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "--json")) {
			o->json = true;
		} else if (!strcmp(argv[i], "--probes") && i + 1 < argc) {
			o->probes = (int)strtol(argv[++i], &end, 10);
			if (*end || o->probes < 10 || o->probes > 100000)
				return fail(EXIT_USAGE, "tc verify: --probes takes 10 to 100000, not '%s'", argv[i]);
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			o->secs = strtod(argv[++i], &end);
			if (*end || !(o->secs >= 1 && o->secs <= 600))
				return fail(EXIT_USAGE, "tc verify: --seconds takes 1 to 600, not '%s'", argv[i]);
		} else if (argv[i][0] == '-' || json_array_append_new(o->keys, json_string(argv[i])) < 0) {
			return fail(EXIT_USAGE, "usage: n3x-ctl tc verify [VM[/N]...] [--json] [--probes N] [--seconds S]");
		}
	}
	return 0;
}

static int enter_netns(const char *name)
{
	char path[PATHS_MAX + 16];
	int fd, r = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		r = fail(EXIT_FAIL, "tc verify: cannot enter network namespace %s%s: %s", name,
			 errno == EPERM || errno == EACCES ? " (tc verify needs root)" : "", strerror(errno));
	if (fd >= 0)
		close(fd);
	return r;
}

/* The status facts about NIC nic of vm. */
static void where_of(const json_t *st, const char *vm, int nic, struct where *w)
{
	const json_t *v = status_find(st, vm), *n = json_array_get(json_object_get(v, "nics"), nic), *net;
	const char *netname = json_string_value(json_object_get(n, "network"));
	size_t i;

	memset(w, 0, sizeof(*w));
	w->vm = vm;
	w->ip = json_string_value(json_object_get(n, "ip"));
	w->vlan = json_string_value(json_object_get(n, "vlan"));
	w->agent = json_is_true(json_object_get(v, "agent"));
	w->console = json_string_value(json_object_get(v, "console_socket"));
	if (w->vlan) {
		snprintf(w->vlan_text, sizeof(w->vlan_text), "%s/%d is on VLAN %s", vm, nic, w->vlan);
		w->vlan = w->vlan_text;
	}
	json_array_foreach(json_object_get(json_object_get(st, "fabric"), "networks"), i, net)
		if (netname && !strcmp(netname, json_string_value(json_object_get(net, "name")) ?: "")) {
			w->host_if = json_string_value(json_object_get(net, "host_interface"));
			w->host_addr = json_string_value(json_object_get(net, "address"));
		}
}

/* The guest's side through its agent: guest-exec returns once started. */
struct agent_start {
	struct ctl *c;
	const char *vm;
};

static int start_agent(void *opaque, const char *script, struct err *e)
{
	struct agent_start *a = opaque;
	json_t *reply, *err;
	int r = request_e(a->c,
			  json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:[s, s]}}}", "cmd", "agent", "vm", a->vm,
				    "command", "execute", "guest-exec", "arguments", "path", "/bin/sh", "arg", "-c",
				    script),
			  margin_ms(AGENT_TIMEOUT_S), &reply, e);

	if (r)
		return -EIO;
	err = json_object_get(json_object_get(reply, "reply"), "error");
	if (err)
		r = err_set(e, EIO, "%s: guest-exec failed: %s", a->vm,
			    json_string_value(json_object_get(err, "desc")) ?: "no description");
	json_decref(reply);
	return r;
}

struct console_start {
	const char *vm, *sock;
	bool logged_in;
};

static int start_console(void *opaque, const char *script, struct err *e)
{
	struct console_start *s = opaque;

	return verify_console_run(s->vm, s->sock, script, &s->logged_in, e);
}

/* The same note on both directions' probes (probe) or rates. */
static void note_both(struct verify_measured *m, bool probe, const char *what, const char *arg)
{
	for (int d = 0; d < 2; d++) {
		char *note = probe ? m[d].probe_note : m[d].rate_note;

		snprintf(note, ERR_MSG_MAX, "%s%s", arg, what);
	}
}

/* Measure one link of the plan into l. */
static void measure(struct ctl *c, const struct verify_opts *o, const json_t *p, const struct where *w,
		    struct verify_link *l)
{
	struct verify_measured m[2] = { 0 };
	const char *port = json_string_value(json_object_get(p, "port"));
	char addr[64] = "";
	struct in_addr host = { 0 }, ip = { 0 };
	struct err e;
	double worst = 0;

	for (int d = 0; d < 2; d++) {
		const struct verify_asked *a = &l->dir[d].asked;

		if (a->delay_us + a->jitter_us > worst)
			worst = a->delay_us + a->jitter_us;
	}
	if (w->host_addr) {
		snprintf(addr, sizeof(addr), "%s", w->host_addr);
		*strchrnul(addr, '/') = '\0';
	}
	if (!w->ip || inet_pton(AF_INET, w->ip, &ip) != 1) {
		note_both(m, true, " has no IPv4 address (no lease yet, no ip=)", w->vm);
		note_both(m, false, " has no IPv4 address (no lease yet, no ip=)", w->vm);
	} else if (!addr[0] || inet_pton(AF_INET, addr, &host) != 1 || !w->host_if) {
		note_both(m, true, ": its network has no host interface address to measure from", w->vm);
		note_both(m, false, ": its network has no host interface address to measure from", w->vm);
	} else {
		struct verify_probe_args pa = {
			.vm_dev = l->tap,
			/* Before the veth glue, the host interface is the
			 * nearest switch-side point. */
			.switch_dev = port && if_nametoindex(port) ? port : w->host_if,
			.dst = ip, .count = o->probes, .interval_s = PROBE_INTERVAL_S,
			.grace_s = 1.0 + 3 * worst / 1e6,
		};
		struct verify_xfer_args xa = { .host = host, .vm = ip, .warm_s = WARM_S, .secs = o->secs,
					       .accept_s = 45 };
		struct agent_start as = { c, w->vm };
		struct console_start cs = { w->vm, w->console, false };

		snprintf(l->switch_end, sizeof(l->switch_end), "%s", pa.switch_dev);
		if (verify_probe(&pa, m, &e) < 0)
			note_both(m, true, "", e.msg);
		else if (w->vlan && !m[0].entered)
			note_both(m, true, ", which the host interface may not be on", w->vlan);
		if (w->agent) {
			xa.start = start_agent, xa.opaque = &as;
		} else if (w->console) {
			xa.start = start_console, xa.opaque = &cs;
		}
		if (!xa.start)
			note_both(m, false, " has neither a guest agent nor a console to start a transfer", w->vm);
		else if (verify_xfer(&xa, m, &e) < 0)
			note_both(m, false, "", e.msg);
		if (xa.start == start_console)
			verify_console_done(w->console, cs.logged_in);
	}
	l->dir[0].m = m[0];
	l->dir[1].m = m[1];
	verify_judge_link(l);
}

int cmd_tc_verify(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct verify_opts o;
	json_t *reply = NULL, *st = NULL, *links, *p;
	struct verify_link *l = NULL;
	const char *ns;
	size_t i, n;
	int r;

	(void)cmd;
	if ((r = parse(argc, argv, &o)))
		goto out;
	r = request(c, json_pack("{s:s, s:b, s:O}", "cmd", "tc", "verify", 1, "links", o.keys), QUICK_TIMEOUT_MS,
		    &reply);
	if (r || (r = status_all(c, &st)))
		goto out;
	links = json_object_get(json_object_get(reply, "verify"), "links");
	if (!(n = json_array_size(links))) {
		r = fail(EXIT_FAIL, "tc verify: no VM runs: there is no link to measure");
		goto out;
	}
	ns = json_string_value(json_object_get(json_object_get(st, "fabric"), "netns"));
	if (ns && (r = enter_netns(ns)))
		goto out;
	if (!(l = calloc(n, sizeof(*l)))) {
		r = fail(EXIT_FAIL, "out of memory");
		goto out;
	}
	json_array_foreach(links, i, p) {
		struct where w;

		snprintf(l[i].link, sizeof(l[i].link), "%s", json_string_value(json_object_get(p, "link")) ?: "?");
		snprintf(l[i].tap, sizeof(l[i].tap), "%s", json_string_value(json_object_get(p, "tap")) ?: "");
		verify_asked_from(json_object_get(p, "to_vm"), &l[i].dir[0].asked);
		verify_asked_from(json_object_get(p, "from_vm"), &l[i].dir[1].asked);
		where_of(st, json_string_value(json_object_get(p, "vm")),
			 (int)json_integer_value(json_object_get(p, "nic")), &w);
		if (!o.json)
			fprintf(stderr, "n3x-ctl: measuring %s (%s)...\n", l[i].link, l[i].tap);
		measure(c, &o, p, &w, &l[i]);
	}
	if (o.json) {
		json_t *j = verify_json(l, (int)n);

		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(j);
	} else {
		verify_print(stdout, l, (int)n);
	}
	for (i = 0; i < n; i++)
		if (l[i].verdict != VERIFY_OK)
			r = EXIT_FAIL;
out:
	free(l);
	json_decref(o.keys);
	json_decref(reply);
	json_decref(st);
	return r;
}
