/* main.c - n3x-ctl, the supervisor's command-line client (SPEC "Commands"):
 * the command table, the supervisor's own verbs, and which fabric to talk to
 * (guestcmds.c has the guest's verbs, client.c the request plumbing).
 *
 * Every verb is one JSON-lines request on $RUN/control.sock (control.h),
 * except that console and log then go to the files the status reply names.
 * Errors are printed here, once, as one "n3x-ctl: ..." line; the exit code
 * says who failed: 1 the operation, 2 the user, 3 the supervisor's socket.
 */
#include "ctl/client.h"
#include "ctl/complete.h"
#include "ctl/ctl.h"
#include "ctl/ctlfmt.h"
#include "ctl/ctlio.h"
#include "ctl/graph.h"
#include "ctl/linkcmds.h"
#include "ctl/partcmds.h"
#include "ctl/top.h"
#include "base/err.h"
#include "base/paths.h"
#include "launcher/topology.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct ctl_cmd ctl_commands[];

/* ---- verbs ---- */

static int cmd_status(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	bool as_json = argc == 2 && strcmp(argv[1], "--json") == 0;
	json_t *st;
	int r;

	if (argc > 2 || (argc == 2 && !as_json))
		return usage_error(cmd);
	r = status_all(c, &st);
	if (r)
		return r;
	if (as_json) {
		/* A script interface: the reply minus "ok", keys in the
		 * supervisor's order. */
		json_object_del(st, "ok");
		json_dumpf(st, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else if (ctlfmt_status(stdout, st) < 0) {
		r = fail(EXIT_FAIL, "the status reply from %s has no \"vms\" list", c->sock);
	}
	json_decref(st);
	return r;
}

/* start, stop, restart, kill, pause, resume: VM... | --all */
static int cmd_lifecycle(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	json_t *req = json_pack("{s:s}", "cmd", cmd->name), *names = json_array(), *reply, *v;
	bool all = false, dashdash = false, bad = false;
	size_t i;
	int r;

	for (int i = 1; i < argc; i++) {
		if (!dashdash && strcmp(argv[i], "--all") == 0)
			all = true;
		else if (!dashdash && strcmp(argv[i], "--") == 0)
			dashdash = true;
		else if (!dashdash && argv[i][0] == '-')
			bad = true;
		else if (json_array_append_new(names, json_string(argv[i])) < 0)
			bad = true; /* not UTF-8 */
	}
	if (bad || all == (json_array_size(names) > 0)) {
		json_decref(req);
		json_decref(names);
		return usage_error(cmd);
	}
	if (all) {
		json_object_set_new(req, "all", json_true());
		json_decref(names);
	} else {
		json_object_set_new(req, "vms", names);
	}
	/* No client timeout: stop waits for every guest's graceful timeout,
	 * which the supervisor bounds. */
	r = request(c, req, -1, &reply);
	if (r)
		return r;
	json_array_foreach(json_object_get(reply, "vms"), i, v)
		printf("%s: %s\n", json_string_value(json_object_get(v, "name")) ?: "-",
		       json_string_value(json_object_get(v, "state")) ?: "-");
	json_decref(reply);
	return 0;
}

/* qmp VM JSON and agent VM JSON: one command to QEMU's monitor or to the
 * guest agent, the reply as it came on stdout; an error reply is exit 1. */
static int cmd_monitor(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	bool agent = strcmp(cmd->name, "agent") == 0;
	json_t *command, *reply, *qr, *qerr;
	json_error_t err;
	char *s;
	int r;

	if (argc != 3)
		return usage_error(cmd);
	command = json_loads(argv[2], JSON_REJECT_DUPLICATES, &err);
	if (!command)
		return fail(EXIT_USAGE, "%s: bad JSON at column %d: %s", cmd->name, err.column, err.text);
	if (!json_is_object(command)) {
		json_decref(command);
		return fail(EXIT_USAGE, "%s: the command must be an object, e.g. '{\"execute\":\"%s\"}'",
			    cmd->name, agent ? "guest-info" : "query-status");
	}
	r = request(c, json_pack("{s:s, s:s, s:o}", "cmd", cmd->name, "vm", argv[1], "command", command),
		    agent ? margin_ms(AGENT_TIMEOUT_S) : QUICK_TIMEOUT_MS, &reply);
	if (r)
		return r;
	qr = json_object_get(reply, "reply");
	s = json_dumps(qr ? qr : json_null(), JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	puts(s ? s : "null");
	free(s);
	qerr = json_object_get(qr, "error");
	if (qerr)
		r = fail(EXIT_FAIL, "%s: %s error: %s", argv[1], agent ? "guest agent" : "QMP",
			 json_string_value(json_object_get(qerr, "desc")) ?: "no description");
	json_decref(reply);
	return r;
}

static int cmd_hmp(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	char line[4096] = "";
	size_t len = 0;
	json_t *reply;
	int r;

	if (argc < 3)
		return usage_error(cmd);
	/* `hmp vm info status` and `hmp vm 'info status'` mean the same. */
	for (int i = 2; i < argc; i++) {
		int n = snprintf(line + len, sizeof(line) - len, "%s%s", i > 2 ? " " : "", argv[i]);

		if (n < 0 || (size_t)n >= sizeof(line) - len)
			return fail(EXIT_USAGE, "hmp: the command is longer than %zu bytes", sizeof(line) - 1);
		len += n;
	}
	r = request(c, json_pack("{s:s, s:s, s:s}", "cmd", "hmp", "vm", argv[1], "command", line),
		    QUICK_TIMEOUT_MS, &reply);
	if (r)
		return r;
	fputs(json_string_value(json_object_get(reply, "output")) ?: "", stdout);
	json_decref(reply);
	return 0;
}

/* tc PROFILE | tc status [--json] | tc set KEY RULE... | tc clear [VM] */
static int cmd_tc(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	const char *sub = argv[1];
	bool as_json = false;
	json_t *req, *reply;
	int r;

	if (strcmp(sub, "verify") == 0)
		return cmd_tc_verify(c, cmd, argc, argv);
	if (strcmp(sub, "status") == 0 && argc <= 3) {
		as_json = argc == 3 && strcmp(argv[2], "--json") == 0;
		if (argc == 3 && !as_json)
			return usage_error(cmd);
		req = json_pack("{s:s, s:b}", "cmd", "tc", "status", 1);
	} else if (strcmp(sub, "set") == 0 && argc >= 4) {
		char rule[1024] = "";

		for (int i = 3; i < argc; i++)
			snprintf(rule + strlen(rule), sizeof(rule) - strlen(rule), "%s%s", i > 3 ? " " : "", argv[i]);
		req = json_pack("{s:s, s:{s:s, s:s}}", "cmd", "tc", "set", "key", argv[2], "rule", rule);
	} else if (strcmp(sub, "clear") == 0 && argc <= 3) {
		req = json_pack("{s:s, s:b}", "cmd", "tc", "clear", 1);
		if (argc == 3)
			json_object_set_new(req, "vm", json_string(argv[2]));
	} else if (argc == 2 && sub[0] != '-') {
		req = json_pack("{s:s, s:s}", "cmd", "tc", "profile", sub);
	} else {
		return usage_error(cmd);
	}
	if ((r = request(c, req, QUICK_TIMEOUT_MS, &reply)))
		return r;
	if (as_json) {
		json_dumpf(json_object_get(reply, "tc"), stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else if (json_object_get(reply, "tc")) {
		ctlfmt_tc(stdout, json_object_get(reply, "tc"));
	} else {
		printf("profile %s\n", json_string_value(json_object_get(reply, "profile")) ?: "?");
	}
	json_decref(reply);
	return 0;
}

/* Like `ip netns exec NS $SHELL`: the namespace is a file under /run/netns. */
static int cmd_shell(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	const char *ns, *shell = getenv("SHELL");
	char path[PATHS_MAX];
	json_t *st;
	int r, fd;

	(void)argv;
	if (argc != 1)
		return usage_error(cmd);
	if ((r = status_all(c, &st)))
		return r;
	ns = json_string_value(json_object_get(json_object_get(st, "fabric"), "netns"));
	if (!ns) {
		json_decref(st);
		return fail(EXIT_FAIL, "this fabric has no network namespace of its own (netns = host)");
	}
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		r = fail(EXIT_FAIL, "cannot enter network namespace %s: %s", ns, strerror(errno));
		json_decref(st);
		return r;
	}
	close(fd);
	setenv("N3X_NETNS", ns, 1);
	/* ovs-vsctl finds a private OVS's db.sock through OVS_RUNDIR. */
	snprintf(path, sizeof(path), "%s/ovs/db.sock",
		 json_string_value(json_object_get(json_object_get(st, "fabric"), "run_dir")) ?: "");
	if (access(path, F_OK) == 0) {
		*strrchr(path, '/') = '\0';
		setenv("OVS_RUNDIR", path, 1);
	}
	fprintf(stderr, "n3x-ctl: shell in network namespace %s; exit to leave\n", ns);
	json_decref(st);
	if (!shell || !*shell)
		shell = "bash";
	execlp(shell, shell, (char *)NULL);
	return fail(EXIT_FAIL, "cannot run %s: %s", shell, strerror(errno));
}

static int cmd_shutdown(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	bool keep = argc == 2 && strcmp(argv[1], "--keep-vms") == 0;
	json_t *reply;
	int r;

	if (argc != 1 && !keep)
		return usage_error(cmd);
	r = request(c, json_pack("{s:s, s:b}", "cmd", "shutdown", "keep_vms", keep), -1, &reply);
	if (r == 0)
		json_decref(reply);
	return r;
}

/* reset VM: discard a stopped VM's overlay; says which files went. */
static int cmd_reset(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	json_t *req, *reply, *f;
	size_t i;
	int r;

	if (argc != 2 || argv[1][0] == '-')
		return usage_error(cmd);
	if (!(req = json_pack("{s:s, s:s}", "cmd", "reset", "vm", argv[1])))
		return fail(EXIT_USAGE, "reset: the VM name is not UTF-8");
	r = request(c, req, -1, &reply);
	if (r)
		return r;
	if (json_array_size(json_object_get(reply, "removed")) == 0)
		printf("%s: no overlay to discard\n", argv[1]);
	json_array_foreach(json_object_get(reply, "removed"), i, f)
		printf("removed %s\n", json_string_value(f));
	json_decref(reply);
	return 0;
}

static int cmd_console(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	const char *path;
	json_t *vm;
	int fd, r;

	if (argc != 2)
		return usage_error(cmd);
	r = status_vm(c, argv[1], &vm);
	if (r)
		return r;
	path = vm_path(vm, "console_socket");
	fd = path ? ctlio_connect(path) : -ENOENT;
	if (fd < 0) {
		r = fail(EXIT_FAIL, "%s: cannot connect to the console at %s: %s", argv[1],
			 path ? path : "(none reported)", strerror(-fd));
		json_decref(vm);
		return r;
	}
	json_decref(vm);
	r = ctlio_console(argv[1], fd);
	close(fd);
	if (r == -EPIPE)
		return fail(EXIT_FAIL, "%s: the console connection was closed by the supervisor", argv[1]);
	return r < 0 ? fail(EXIT_FAIL, "%s: console: %s", argv[1], strerror(-r)) : 0;
}

static int show_log(const char *vm, const char *path, bool follow)
{
	int r = ctlio_log(path, follow);

	return r < 0 ? fail(EXIT_FAIL, "%s: console log %s: %s", vm, path, strerror(-r)) : 0;
}

static int cmd_log(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	const char *name = NULL;
	char path[PATHS_MAX];
	bool follow = false;
	json_t *vm;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0)
			follow = true;
		else if (argv[i][0] != '-' && !name)
			name = argv[i];
		else
			return usage_error(cmd);
	}
	if (!name)
		return usage_error(cmd);
	/* The log outlives the supervisor: without one, use the fabric's
	 * state dir when the fabric is known by name. */
	if (c->fabric[0] && ctl_connect(c) < 0) {
		char dir[PATHS_MAX];

		if (paths_state_dir(c->fabric, dir, sizeof(dir)) < 0 ||
		    paths_join(path, sizeof(path), "%s/vm/%s/console.log", dir, name) < 0)
			return fail(EXIT_USAGE, "log: path too long for fabric %s", c->fabric);
		return show_log(name, path, follow);
	}
	r = status_vm(c, name, &vm);
	if (r)
		return r;
	r = vm_path(vm, "console_log") ? paths_join(path, sizeof(path), "%s", vm_path(vm, "console_log")) : -ENOENT;
	json_decref(vm);
	if (r < 0)
		return fail(EXIT_FAIL, "%s: the supervisor reports no usable console log", name);
	return show_log(name, path, follow);
}

/* ---- main ---- */

/* Help text, its later lines (after a '\n') under its first. */
static void print_help(FILE *out, const char *help)
{
	const char *nl;

	while ((nl = strchr(help, '\n'))) {
		fprintf(out, "%.*s\n%35s", (int)(nl - help), help, "");
		help = nl + 1;
	}
	fprintf(out, "%s\n", help);
}

static void print_usage(FILE *out)
{
	fprintf(out, "usage: n3x-ctl [-f TOPOLOGY | -n NAME | --run-dir DIR] COMMAND [ARGS]\n\ncommands:\n");
	for (const struct ctl_cmd *cmd = ctl_commands; cmd->name; cmd++) {
		char left[160];

		if (complete_hidden(cmd->name))
			continue;
		snprintf(left, sizeof(left), "%s %s", cmd->name, cmd->usage);
		if (strlen(left) >= 32) /* a long synopsis gets its own line */
			fprintf(out, "  %s\n%35s", left, "");
		else
			fprintf(out, "  %-32s ", left);
		print_help(out, cmd->help);
	}
	fprintf(out, "\nexit status: 0 ok, 1 operation failed, 2 bad usage or topology,"
		     " 3 supervisor unreachable\n");
}

/* __complete WHAT (hidden): the words bash completion offers (complete.h).
 * run_complete has silenced stderr. */
static int cmd_complete(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	(void)cmd;
	return complete_run(c, ctl_commands, c->topo, argc > 1 ? argv[1] : "");
}

static int cmd_help(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	(void)c, (void)cmd, (void)argc, (void)argv;
	print_usage(stdout);
	return 0;
}

static const struct ctl_cmd ctl_commands[] = {
	{ "status", cmd_status, "[--json]", 0, "one row per VM: state, accel, pid, uptime, agent, ready, NICs" },
	{ "start", cmd_lifecycle, "VM... | --all", 1, "start VMs" },
	{ "stop", cmd_lifecycle, "VM... | --all", 1, "ACPI powerdown, forced off after the stop timeout" },
	{ "restart", cmd_lifecycle, "VM... | --all", 1, "stop, then start" },
	{ "kill", cmd_lifecycle, "VM... | --all", 1, "force off at once" },
	{ "pause", cmd_lifecycle, "VM... | --all", 1, "freeze the vCPUs (QMP stop)" },
	{ "resume", cmd_lifecycle, "VM... | --all", 1, "thaw them (QMP cont)" },
	{ "console", cmd_console, "VM", 1, "attach to the serial console; Ctrl-] detaches" },
	{ "log", cmd_log, "VM [-f]", 1, "print the console log; -f follows it" },
	{ "qmp", cmd_monitor, "VM JSON", 2, "one QMP command; the reply on stdout" },
	{ "hmp", cmd_hmp, "VM 'COMMAND'", 2, "one human-monitor command; its output" },
	{ "agent", cmd_monitor, "VM JSON", 2, "one guest-agent command; the reply on stdout" },
	{ "exec", cmd_exec, "VM [--timeout S] [--env K=V]... [--stdin FILE|-] -- CMD [ARG]...", 2,
	  "run CMD in the guest through its agent; its stdout, stderr and\n"
	  "exit status (128+N when killed by signal N); --env K=V are then\n"
	  "CMD's whole environment (qemu-ga's rule)" },
	{ "cp", cmd_cp, "VM:PATH LOCAL | LOCAL VM:PATH", 2,
	  "copy one file through the guest agent; LOCAL may be a\n"
	  "directory, - is stdin/stdout; PATH/ keeps LOCAL's name" },
	{ "wait", cmd_wait, "VM (--console REGEX | --state STATE | --lease | --agent | --exec CMD | --port N)"
	  " [--interval S] [--timeout S]", 2,
	  "until it holds (60 s; 0: forever; --exec and --port try every\n"
	  "--interval S, 1 s); prints the console line, the state, \"VM/N IP\"\n"
	  "per lease, \"agent\", nothing (--exec: CMD exited 0), \"IP:PORT open\"" },
	{ "tc", cmd_tc, "PROFILE | status [--json] | set VM[/N]|* RULE | clear [VM]"
	  " | verify [VM[/N]...] [--json] [--probes N] [--seconds S]", 1,
	  "switch the impairment profile, read it back from the kernel, or change one link;\n"
	  "verify measures each link both ways (probes, transfers) against its rule" },
	{ "events", cmd_events, "[VM...] [--json] [--count N] [--until KIND] [--timeout S]", 0,
	  "stream QEMU's and the supervisor's events, one line each, until\nN events, one of KIND, S seconds or the supervisor's exit" },
	{ "partition", cmd_partition, "A,B C... | --from A,B --to C", 1,
	  "no frame between VMs of different groups (or from A,B to C); others keep every link" },
	{ "heal", cmd_heal, "", 0, "end the partition (site latency stays)" },
	{ "link", cmd_link, "VM[/N] up|down", 2,
	  "plug or pull the cable of NIC N (every NIC without /N);\na pulled cable stays pulled across restarts" },
	{ "send", cmd_send, "VM TEXT", 2,
	  "type TEXT into the serial console; escapes \\n \\r \\t \\e \\xHH \\0 ..." },
	{ "capture", cmd_capture, "VM[/N] [-w FILE] [-c COUNT] [--direction to-vm|from-vm|both]", 1,
	  "a pcap of one link, to FILE or stdout (| wireshark -k -i -)" },
	{ "snapshot", cmd_snapshot, "save NAME [VM...] | load NAME | list [--json] | delete NAME", 1,
	  "whole-cluster snapshots: RAM and disks of every VM (or the VMs\n"
	  "named), paused and resumed together; load restores them all" },
	{ "schedule", cmd_schedule, "run NAME | stop | status [--json]", 1,
	  "run a [schedule NAME] of the topology (its timed profile, partition\n"
	  "and link steps), stop it, or show its steps and how each went" },
	{ "top", cmd_top, "[--once] [--json] [--sort name|cpu|mem|rx|tx|drops] [--interval S]", 0,
	  "a live view of each VM: CPU %, RSS, NIC rates (rx: what the\n"
	  "guest receives), drops, qdisc backlog, every S s (1); keys: q\n"
	  "quits, n c m r t d sort; --once: one table, --json: its data" },
	{ "shell", cmd_shell, "", 0, "a shell inside the fabric's network namespace" },
	{ "graph", cmd_graph, "[--format dot|svg|png|mermaid|json] [-o FILE]", 0,
	  "a picture of the fabric: networks, VMs (state, arch, IPs, site),\n"
	  "links (up/down, impairment rule); svg/png drawn by libgvc; with no\n"
	  "supervisor running, -f FILE draws the file's topology" },
	{ "shutdown", cmd_shutdown, "[--keep-vms]", 0,
	  "stop every VM, then the supervisor; --keep-vms: leave the VMs and\n"
	  "the fabric running for the next n3x-launch to adopt" },
	{ "reset", cmd_reset, "VM", 1,
	  "discard a stopped VM's overlay (its disk writes and the disk part\n"
	  "of its snapshots): the next start begins again from its base" },
	{ "help", cmd_help, "", 0, "this text" },
	{ "__complete", cmd_complete, "WHAT", 1, "" }, /* hidden: completion/n3x-ctl asks it */
	{ NULL, NULL, NULL, 0, NULL },
};

/* No -f/-n/--run-dir: the one fabric that has a control socket, else "n3x". */
static void default_fabric(char *name, size_t size)
{
	char base[PATHS_MAX], sock[PATHS_MAX * 2];
	struct dirent *e;
	struct stat st;
	int found = 0;
	DIR *d;

	paths_run_base(base, sizeof(base));
	snprintf(name, size, "n3x");
	d = opendir(base);
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' ||
		    paths_join(sock, sizeof(sock), "%s/%s/control.sock", base, e->d_name) < 0 ||
		    stat(sock, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		if (found++ == 0)
			snprintf(name, size, "%s", e->d_name);
	}
	closedir(d);
	if (found > 1)
		snprintf(name, size, "n3x");
}

/* The [fabric] name of a topology file.  topo_load reports every problem
 * as a "FILE:LINE: message" line; each gets our prefix.  0 or EXIT_USAGE. */
static int fabric_of(const char *topo, char *name, size_t size)
{
	struct topology *t = NULL;
	char *msgs = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&msgs, &len);
	int r = err ? topo_load(topo, err, &t) : -ENOMEM;

	if (err)
		fclose(err);
	for (line = msgs ? strtok_r(msgs, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
		fail(EXIT_USAGE, "%s", line);
	free(msgs);
	if (r < 0) {
		if (!len)
			fail(EXIT_USAGE, "%s: %s", topo, strerror(-r));
		return EXIT_USAGE;
	}
	snprintf(name, size, "%s", t->fabric.name);
	topo_free(t);
	return 0;
}

static int select_fabric(struct ctl *c, const char *topo, const char *name, const char *run_dir)
{
	char dir[PATHS_MAX];

	if (!!topo + !!name + !!run_dir > 1)
		return fail(EXIT_USAGE, "-f, -n and --run-dir each name the fabric: give one");
	if (!run_dir) {
		/* The supervisor refuses an XDG_* another user controls; so do
		 * we, rather than talk to whatever socket they put there. */
		struct err e;

		if (paths_check_env(&e) < 0)
			return fail(EXIT_USAGE, "%s", e.msg);
	}
	if (topo) {
		int r = fabric_of(topo, c->fabric, sizeof(c->fabric));

		c->topo = topo;
		if (r)
			return r;
	} else if (name) {
		snprintf(c->fabric, sizeof(c->fabric), "%s", name);
	} else if (!run_dir) {
		default_fabric(c->fabric, sizeof(c->fabric));
	}
	if (run_dir) {
		if (paths_join(c->sock, sizeof(c->sock), "%s/control.sock", run_dir) < 0)
			return fail(EXIT_USAGE, "--run-dir %s: path too long", run_dir);
		return 0;
	}
	if (strchr(c->fabric, '/') || !c->fabric[0])
		return fail(EXIT_USAGE, "bad fabric name '%s'", c->fabric);
	if (paths_run_dir(c->fabric, dir, sizeof(dir)) < 0 ||
	    paths_join(c->sock, sizeof(c->sock), "%s/control.sock", dir) < 0)
		return fail(EXIT_USAGE, "fabric %s: run directory path too long", c->fabric);
	return 0;
}

/* __complete: bash runs it on each TAB, so it is silent and exits 0
 * whatever fails; with no fabric to ask, the words come from -f's file. */
static int run_complete(struct ctl *c, const struct ctl_cmd *cmd, const char *topo, const char *name,
			const char *run_dir, int argc, char **argv)
{
	complete_silence();
	if (select_fabric(c, topo, name, run_dir))
		c->sock[0] = c->fabric[0] = '\0';
	c->topo = topo; /* also when select_fabric gave up before it */
	cmd->fn(c, cmd, argc, argv);
	if (c->fd >= 0)
		close(c->fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run-dir", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *topo = NULL, *name = NULL, *run_dir = NULL;
	struct ctl c = { .fd = -1 };
	const struct ctl_cmd *cmd;
	int opt, r;

	opterr = 0; /* our own one-line messages, without argv[0]'s path */
	/* '+': stop at COMMAND, whose own options belong to it. */
	while ((opt = getopt_long(argc, argv, "+f:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': topo = optarg; break;
		case 'n': name = optarg; break;
		case 'r': run_dir = optarg; break;
		case 'h': print_usage(stdout); return 0;
		default:
			return fail(EXIT_USAGE, "bad option '%s'; n3x-ctl --help lists the options",
				    argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return fail(EXIT_USAGE, "no COMMAND; n3x-ctl --help lists the commands");
	for (cmd = ctl_commands; cmd->name && strcmp(cmd->name, argv[optind]) != 0; cmd++)
		;
	if (!cmd->name)
		return fail(EXIT_USAGE, "unknown command '%s'; n3x-ctl --help lists the commands", argv[optind]);
	if (cmd->fn == cmd_complete)
		return run_complete(&c, cmd, topo, name, run_dir, argc - optind, argv + optind);
	if (argc - optind - 1 < cmd->min_args)
		return usage_error(cmd);
	if (cmd->fn != cmd_help) {
		r = select_fabric(&c, topo, name, run_dir);
		if (r)
			return r;
	}
	r = cmd->fn(&c, cmd, argc - optind, argv + optind);
	if (c.fd >= 0)
		close(c.fd);
	if (fflush(stdout) == EOF && r == 0)
		r = fail(EXIT_FAIL, "writing to stdout: %s", strerror(errno));
	return r;
}
