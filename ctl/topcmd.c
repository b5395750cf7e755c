/* topcmd.c - n3x-ctl top [--once] [--json] [--sort name|cpu|mem|rx|tx|drops]
 * [--interval S]: a live view of every VM's CPU, memory, NIC rates, drops
 * and queues, like virt-top, refreshed every interval (1 s); --once
 * samples twice, an interval apart, and prints a table, or with --json
 * the view top.h describes.
 *
 * The supervisor's `top` verb gives raw counters at one instant; the rates
 * are made here, of two samples (top.c).  The screen is ncurses'; every
 * way out (q, a signal, the supervisor gone) restores the terminal first,
 * so an error is one line on a sane terminal.
 */
#include "ctl/client.h"
#include "ctl/ctl.h"
#include "ctl/top.h"
#include "base/loop.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>

/* The supervisor answers from /proc and two netlink dumps: a reply that
 * takes longer than this is a supervisor in trouble. */
#define TOP_REQUEST_MS 10000

struct top_opts {
	bool once, json;
	enum top_key key;
	double interval_s;
};

static int sample(struct ctl *c, json_t **out, struct err *e)
{
	return request_e(c, json_pack("{s:s}", "cmd", "top"), TOP_REQUEST_MS, out, e);
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- --once ---- */

static void print_line(const char *text, void *opaque)
{
	(void)opaque;
	printf("%s\n", text);
}

static int top_once(struct ctl *c, const struct top_opts *o)
{
	json_t *a = NULL, *b = NULL, *view;
	struct err e;
	int r;

	if ((r = sample(c, &a, &e)))
		return fail(r, "%s", e.msg);
	sleep_s(o->interval_s);
	if ((r = sample(c, &b, &e))) {
		json_decref(a);
		return fail(r, "%s", e.msg);
	}
	view = top_view(a, b);
	json_decref(a);
	json_decref(b);
	if (!view || top_sort(view, o->key) < 0) {
		json_decref(view);
		return fail(EXIT_FAIL, "out of memory");
	}
	if (o->json) {
		/* 10 digits: 0.3, not 0.29999999999999999 */
		char *s = json_dumps(view, JSON_COMPACT | JSON_REAL_PRECISION(10));

		if (!s) {
			json_decref(view);
			return fail(EXIT_FAIL, "out of memory");
		}
		printf("%s\n", s);
		free(s);
	} else {
		top_table(view, o->key, 0, print_line, NULL);
	}
	json_decref(view);
	return 0;
}

/* ---- the live view ---- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

struct screen_pos {
	int y;
};

static void screen_line(const char *text, void *opaque)
{
	struct screen_pos *p = opaque;

	/* the last line is the keys' */
	if (p->y < LINES - 1) {
		mvaddnstr(p->y, 0, text, COLS);
		if (p->y == 2) /* the column heads */
			mvchgat(p->y, 0, -1, A_REVERSE, 0, NULL);
	}
	p->y++;
}

static void draw(const json_t *view, enum top_key key)
{
	struct screen_pos p = { 0 };

	erase();
	top_table(view, key, COLS, screen_line, &p);
	if (LINES > 1)
		mvaddnstr(LINES - 1, 0, "q quit   sort: n name  c cpu  m mem  r rx  t tx  d drops", COLS);
	refresh();
}

static int top_live(struct ctl *c, struct top_opts *o)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: getch returns */
	json_t *prev = NULL, *cur = NULL, *view = NULL;
	bool quit = false;
	SCREEN *scr;
	struct err e;
	int r;

	/* The first sample before the screen: a supervisor that is not there
	 * is one plain line. */
	if ((r = sample(c, &cur, &e)))
		return fail(r, "%s", e.msg);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	if (!(scr = newterm(NULL, stdout, stdin))) { /* initscr would exit on its own */
		json_decref(cur);
		return fail(EXIT_FAIL, "top: cannot drive the terminal (TERM=%s)", getenv("TERM") ?: "");
	}
	cbreak();
	noecho();
	keypad(stdscr, TRUE);
	curs_set(0);
	r = 0;
	while (!quit && !got_signal) {
		long long deadline = (long long)loop_now_ms() + (long long)(o->interval_s * 1000), left;

		json_decref(view);
		if (!(view = top_view(prev, cur)) || top_sort(view, o->key) < 0) {
			r = EXIT_FAIL;
			err_set(&e, ENOMEM, "out of memory");
			break;
		}
		draw(view, o->key);
		while (!quit && !got_signal && (left = deadline - (long long)loop_now_ms()) > 0) {
			int ch, k;

			timeout((int)left);
			ch = getch();
			if (ch == 'q' || ch == 'Q') {
				quit = true;
			} else if ((k = top_key_of_char(ch)) >= 0) {
				o->key = (enum top_key)k;
				top_sort(view, o->key); /* out of memory: the order stays */
				draw(view, o->key);
			} else if (ch == KEY_RESIZE || ch == ('L' & 0x1f)) {
				clearok(curscr, TRUE);
				draw(view, o->key);
			}
		}
		if (quit || got_signal)
			break;
		json_decref(prev);
		prev = cur;
		cur = NULL;
		if ((r = sample(c, &cur, &e)))
			break;
	}
	endwin();
	delscreen(scr);
	json_decref(view);
	json_decref(prev);
	json_decref(cur);
	if (r)
		return fail(r, "%s", e.msg);
	if (got_signal) { /* die of it, as an interrupted program does */
		signal(got_signal, SIG_DFL);
		raise(got_signal);
	}
	return 0;
}

/* ---- the command ---- */

int cmd_top(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	struct top_opts o = { .key = TOP_NAME, .interval_s = 1.0 };

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--once") == 0) {
			o.once = true;
		} else if (strcmp(a, "--json") == 0) {
			o.json = true;
		} else if (strcmp(a, "--sort") == 0 && i + 1 < argc) {
			if (top_key_parse(argv[++i], &o.key) < 0)
				return fail(EXIT_USAGE, "top: --sort takes name, cpu, mem, rx, tx or drops, not '%s'",
					    argv[i]);
		} else if (strcmp(a, "--interval") == 0 && i + 1 < argc) {
			char *end;

			errno = 0;
			o.interval_s = strtod(argv[++i], &end);
			if (errno || end == argv[i] || *end || !(o.interval_s >= 0.1 && o.interval_s <= 3600))
				return fail(EXIT_USAGE, "top: --interval takes seconds from 0.1 to 3600, not '%s'",
					    argv[i]);
		} else {
			return usage_error(cmd);
		}
	}
	if (o.json && !o.once)
		return fail(EXIT_USAGE, "top: --json goes with --once (one sample's rates, for scripts)");
	if (o.once)
		return top_once(c, &o);
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return fail(EXIT_USAGE, "top: the live view needs a terminal; --once prints one table, --once --json its data");
	return top_live(c, &o);
}
