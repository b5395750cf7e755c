/* capture.c - `n3x-ctl capture`: a pcap of one VM's link.  The supervisor
 * only tells us where to look (status: the VM's tap, the fabric's network
 * namespace); n3x-ctl enters that namespace itself and captures on the tap
 * with libpcap, so a capture costs the supervisor nothing and a slow
 * reader (wireshark over a pipe) can never stall it.
 *
 * The pcap goes to -w FILE or stdout, flushed after every packet so that
 * `n3x-ctl capture VM | wireshark -k -i -` and `| tcpdump -r -` show
 * packets as they come.  -c COUNT, SIGINT, SIGTERM and a reader that went
 * away (a failed write with SIGPIPE ignored) all end the loop the same way:
 * the dump is closed, so the file is a valid pcap, and "N packets captured"
 * goes to stderr as tcpdump says it.
 */
#include "ctl/capture.h"
#include "ctl/client.h"
#include "ctl/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CAPTURE_SNAPLEN 262144  /* tcpdump's default: whole frames, even with offloads */

/* Where the VM's link is: its tap, in netns ("" for the host's namespace). */
struct capture_where {
	char tap[TOPO_IFNAME_MAX + 1];
	char netns[PATHS_MAX];
};

/* Ask status where VM/N's tap is.  0, or the printed error's exit code. */
static int find_link(struct ctl *c, const struct capture_args *a, struct capture_where *w)
{
	json_t *st, *vm, *nics;
	const char *tap, *ns;
	int r = status_all(c, &st);

	if (r)
		return r;
	vm = status_find(st, a->vm);
	nics = json_object_get(vm, "nics");
	tap = json_string_value(json_object_get(json_array_get(nics, a->nic), "tap"));
	ns = json_string_value(json_object_get(json_object_get(st, "fabric"), "netns"));
	if (!vm)
		r = fail(EXIT_USAGE, "no VM named '%s' in %s", a->vm, c->sock);
	else if ((size_t)a->nic >= json_array_size(nics))
		r = fail(EXIT_USAGE, "%s has no NIC %d (it has %zu)", a->vm, a->nic, json_array_size(nics));
	else if (!tap || !tap[0])
		r = fail(EXIT_FAIL, "%s is %s: its NIC %d has no tap to capture on until it runs", a->vm,
			 json_string_value(json_object_get(vm, "state")) ?: "not running", a->nic);
	else if (strlen(tap) >= sizeof(w->tap) || (ns && strlen(ns) >= sizeof(w->netns)))
		r = fail(EXIT_FAIL, "%s: the supervisor reports a tap or namespace name too long to use", a->vm);
	else {
		snprintf(w->tap, sizeof(w->tap), "%s", tap);
		snprintf(w->netns, sizeof(w->netns), "%s", ns ?: "");
	}
	json_decref(st);
	return r;
}

/* Move this process into the namespace /run/netns/NAME (iproute2's
 * place, where the supervisor binds its own).  0 or the printed error's
 * exit code. */
static int enter_netns(const char *vm, const char *name)
{
	char path[PATHS_MAX + 16];
	int fd, r = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		int err = errno;

		r = fail(EXIT_FAIL, "%s: cannot enter network namespace %s%s: %s", vm, name,
			 err == EPERM || err == EACCES ? " (capture needs root)" : "", strerror(err));
	}
	if (fd >= 0)
		close(fd);
	return r;
}

/* ---- the capture loop ---- */

/* The handle a signal breaks out of: pcap_breakloop is meant to be
 * called from a signal handler (it sets a flag and, on Linux, writes an
 * eventfd that wakes the poll). */
static pcap_t *volatile live;

static void on_stop_signal(int sig)
{
	(void)sig;
	if (live)
		pcap_breakloop(live);
}

struct sink {
	pcap_t *p;
	pcap_dumper_t *d;
	long packets;    /* written and flushed */
	int write_errno; /* the write that ended it, 0 if none */
};

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct sink *s = (struct sink *)user;

	if (s->write_errno)
		return;
	pcap_dump((u_char *)s->d, h, bytes);
	/* A packet at a time, so a pipe's reader sees it now; a write error
	 * (EPIPE: the reader went away) ends the capture. */
	if (pcap_dump_flush(s->d) < 0) {
		s->write_errno = errno ? errno : EIO;
		pcap_breakloop(s->p);
		return;
	}
	s->packets++;
}

/* The first SIGINT/SIGTERM ends the capture cleanly; SA_RESETHAND lets a
 * second one kill us should anything hang.  SIGPIPE is ignored so that a
 * reader going away is a write error we handle, not sudden death with
 * buffered bytes lost. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal, .sa_flags = SA_RESETHAND };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Open and tune the handle on tap: 0, or the printed error's exit code. */
static int open_tap(const struct capture_args *a, const struct capture_where *w, pcap_t **out)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *p = pcap_create(w->tap, errbuf);
	int r;

	if (!p)
		return fail(EXIT_FAIL, "%s: cannot capture on %s: %s", a->vm, w->tap, errbuf);
	/* Immediate mode: every packet is delivered as it comes, not when a
	 * buffer block fills, which on a quiet link could be never. */
	pcap_set_immediate_mode(p, 1);
	pcap_set_snaplen(p, CAPTURE_SNAPLEN);
	r = pcap_activate(p);
	if (r < 0) {
		const char *why = r == PCAP_ERROR_PERM_DENIED ? "permission denied (capture needs root)"
				: r == PCAP_ERROR_NO_SUCH_DEVICE ? "no such interface (the VM stopped?)"
				: pcap_geterr(p);

		r = fail(EXIT_FAIL, "%s: cannot capture on %s: %s", a->vm, w->tap, why);
		pcap_close(p);
		return r;
	}
	if (a->dir != CAPTURE_BOTH && pcap_setdirection(p, capture_pcap_dir(a->dir)) < 0) {
		r = fail(EXIT_FAIL, "%s: cannot capture only %s on %s: %s", a->vm, capture_dir_name(a->dir),
			 w->tap, pcap_geterr(p));
		pcap_close(p);
		return r;
	}
	*out = p;
	return 0;
}

static int run_capture(const struct capture_args *a, const struct capture_where *w)
{
	struct sink s = { 0 };
	struct pcap_stat ps;
	int r, ret = 0;

	if ((r = open_tap(a, w, &s.p)))
		return r;
	/* pcap_dump_open takes "-" as stdout. */
	s.d = pcap_dump_open(s.p, capture_to_stdout(a) ? "-" : a->file);
	if (!s.d) {
		r = fail(EXIT_FAIL, "%s: cannot write the pcap to %s: %s", a->vm,
			 capture_to_stdout(a) ? "stdout" : a->file, pcap_geterr(s.p));
		pcap_close(s.p);
		return r;
	}
	/* pcap_dump_open wrote the file header into stdio's buffer: flushed
	 * now, a reader (tcpdump -r -) starts before the first packet. */
	pcap_dump_flush(s.d);
	fprintf(stderr, "n3x-ctl: listening on %s (%s/%d, %s)%s%s, snapshot length %d bytes\n", w->tap, a->vm,
		a->nic, a->dir == CAPTURE_BOTH ? "both directions" : capture_dir_name(a->dir),
		w->netns[0] ? " in network namespace " : "", w->netns, CAPTURE_SNAPLEN);
	live = s.p;
	catch_signals();
	r = pcap_loop(s.p, a->count, on_packet, (u_char *)&s);
	if (r == PCAP_ERROR)
		ret = fail(EXIT_FAIL, "%s: capture on %s ended: %s", a->vm, w->tap, pcap_geterr(s.p));
	else if (s.write_errno && s.write_errno != EPIPE)
		ret = fail(EXIT_FAIL, "%s: writing the pcap to %s: %s", a->vm,
			   capture_to_stdout(a) ? "stdout" : a->file, strerror(s.write_errno));
	/* Closing the dump writes what stdio still holds: the file ends on
	 * a whole packet, whatever ended the loop. */
	pcap_dump_close(s.d);
	fprintf(stderr, "%ld packet%s captured\n", s.packets, s.packets == 1 ? "" : "s");
	if (pcap_stats(s.p, &ps) == 0 && ps.ps_drop)
		fprintf(stderr, "%u packet%s dropped by kernel\n", ps.ps_drop, ps.ps_drop == 1 ? "" : "s");
	live = NULL;
	pcap_close(s.p);
	return ret;
}

int cmd_capture(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct capture_args a;
	struct capture_where w;
	struct err e = { 0 };
	int r = capture_parse(argc, argv, &a, &e);

	if (r)
		return err_is_set(&e) ? fail(r, "%s", e.msg) : usage_error(cmd);
	/* As tcpdump -w - does: binary on a terminal helps no one. */
	if (capture_to_stdout(&a) && isatty(STDOUT_FILENO))
		return fail(EXIT_USAGE, "capture: not writing a pcap to a terminal; use -w FILE or a pipe "
			    "(| wireshark -k -i -, | tcpdump -r -)");
	if ((r = find_link(c, &a, &w)))
		return r;
	/* The control connection is idle from here on. */
	close(c->fd);
	c->fd = -1;
	if (w.netns[0] && (r = enter_netns(a.vm, w.netns)))
		return r;
	return run_capture(&a, &w);
}
