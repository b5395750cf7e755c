/* test_ctl_complete.c - n3x-ctl __complete: the words offered from the
 * supervisor's replies, from a topology file and from a snapshot dir, each
 * list diffed exactly. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl/complete.h"
#include "launcher/topology.h"

static char dir[] = "/tmp/test-ctl-complete-XXXXXX";

static void put(const char *name, const char *text, mode_t mode)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	/* topo_load looks the VMs' QEMU up on $PATH. */
	put("qemu-system-x86_64", "#!/bin/sh\nexit 0\n", 0755);
	setenv("PATH", dir, 1);
}

static int rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void teardown(void)
{
	cr_expect_eq(nftw(dir, rm, 8, FTW_DEPTH | FTW_PHYS), 0, "removing %s", dir);
}

TestSuite(complete, .init = setup, .fini = teardown);

/* What complete_reply (or, for COMPLETE_SNAPSHOTS, complete_snapshot_reply)
 * prints for reply_json; *ret its return. */
static char *from_reply(int what, const char *reply_json, int *ret)
{
	json_error_t err;
	json_t *reply = json_loads(reply_json, 0, &err);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cr_assert_not_null(reply, "fixture: %s", err.text);
	cr_assert_not_null(out);
	*ret = what == COMPLETE_SNAPSHOTS ? complete_snapshot_reply(out, reply) : complete_reply(out, what, reply);
	fclose(out);
	json_decref(reply);
	return text;
}

static void expect_reply(int what, const char *reply, int want_ret, const char *want)
{
	int r;
	char *got = from_reply(what, reply, &r);

	cr_expect_eq(r, want_ret, "returned %d", r);
	cr_expect_str_eq(got, want, "got:\n%s\nwant:\n%s", got, want);
	free(got);
}

Test(complete, whats)
{
	cr_expect_eq(complete_parse("verbs"), COMPLETE_VERBS);
	cr_expect_eq(complete_parse("vms"), COMPLETE_VMS);
	cr_expect_eq(complete_parse("nics"), COMPLETE_NICS);
	cr_expect_eq(complete_parse("profiles"), COMPLETE_PROFILES);
	cr_expect_eq(complete_parse("schedules"), COMPLETE_SCHEDULES);
	cr_expect_eq(complete_parse("snapshots"), COMPLETE_SNAPSHOTS);
	cr_expect_eq(complete_parse("vm"), -EINVAL);
	cr_expect_eq(complete_parse(""), -EINVAL);
	cr_expect_eq(complete_parse("VMS"), -EINVAL);
}

static int nop(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	(void)c, (void)cmd, (void)argc, (void)argv;
	return 0;
}

Test(complete, verbs_skip_hidden)
{
	static const struct ctl_cmd table[] = {
		{ "status", nop, "", 0, "" },
		{ "__complete", nop, "WHAT", 1, "" },
		{ "tc", nop, "", 0, "" },
		{ "_one", nop, "", 0, "" },
		{ NULL, NULL, NULL, 0, NULL },
	};
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	cr_assert_not_null(out);
	complete_verbs(out, table);
	fclose(out);
	/* Only "__" hides: "_one" is an ordinary (if odd) name. */
	cr_expect_str_eq(text, "status\ntc\n_one\n");
	free(text);
	cr_expect(complete_hidden("__complete"));
	cr_expect_not(complete_hidden("help"));
}

static const char status_reply[] =
	"{\"ok\":true,\"fabric\":{\"name\":\"f\",\"profile\":\"default\",\"profiles\":[\"lossy\",\"slow\"]},"
	"\"vms\":[{\"name\":\"a1\",\"state\":\"running\",\"nics\":[{\"index\":0},{\"index\":1}]},"
	"{\"name\":\"b2\",\"state\":\"stopped\",\"nics\":[]},"
	"{\"name\":\"c3\",\"nics\":[{\"index\":0,\"tap\":null}]}]}";

Test(complete, status_reply)
{
	expect_reply(COMPLETE_VMS, status_reply, 0, "a1\nb2\nc3\n");
	expect_reply(COMPLETE_NICS, status_reply, 0, "a1/0\na1/1\nc3/0\n");
	/* "default" is built in, never a [profile] of the file. */
	expect_reply(COMPLETE_PROFILES, status_reply, 0, "default\nlossy\nslow\n");
}

Test(complete, reply_without_the_list)
{
	/* A supervisor from before "profiles": nothing, so the file is asked. */
	expect_reply(COMPLETE_PROFILES, "{\"ok\":true,\"fabric\":{\"name\":\"f\"},\"vms\":[]}", -ENOENT, "");
	expect_reply(COMPLETE_VMS, "{\"ok\":true}", -ENOENT, "");
	expect_reply(COMPLETE_SCHEDULES, "{\"ok\":true,\"schedule\":null}", -ENOENT, "");
	expect_reply(COMPLETE_SNAPSHOTS, "{\"ok\":true}", -ENOENT, "");
	/* An empty list is an answer. */
	expect_reply(COMPLETE_VMS, "{\"ok\":true,\"vms\":[]}", 0, "");
	expect_reply(COMPLETE_PROFILES, "{\"ok\":true,\"fabric\":{\"profiles\":[]}}", 0, "default\n");
}

Test(complete, odd_words_left_out)
{
	/* One word a line: a name with a newline (or none, or not a string)
	 * would offer bash broken words. */
	expect_reply(COMPLETE_VMS,
		     "{\"vms\":[{\"name\":\"a\\nb\"},{\"name\":\"\"},{\"name\":7},{},{\"name\":\"ok\"}]}", 0, "ok\n");
	expect_reply(COMPLETE_NICS, "{\"vms\":[{\"name\":\"v\",\"nics\":[{\"index\":\"0\"},{},{\"index\":2}]}]}", 0,
		     "v/2\n");
}

Test(complete, schedules_and_snapshots)
{
	expect_reply(COMPLETE_SCHEDULES,
		     "{\"ok\":true,\"schedule\":null,\"defined\":[\"boot\",\"flap\"]}", 0, "boot\nflap\n");
	expect_reply(COMPLETE_SNAPSHOTS,
		     "{\"ok\":true,\"snapshots\":[{\"name\":\"base\",\"created\":1,\"vms\":[\"a\"]},"
		     "{\"name\":\"k3s-up\",\"vms\":[]}]}", 0, "base\nk3s-up\n");
}

static const char conf[] =
	"[fabric]\nname = cf\n"
	"[network lan]\naddress = 10.9.0.1/24\n"
	"[vm v1]\nkernel = k\nnic = lan\nnic = lan\n"
	"[vm v2]\nkernel = k\nnic = lan\n"
	"[vm v3]\nkernel = k\n"
	"[profile lossy]\n* = loss 5%\n"
	"[profile slow]\nv1 = delay 100ms\n"
	"[schedule flap]\n+1s = link v1 down\n+2s = link v1 up\n"
	"[schedule boot]\n+0s = profile slow\n";

static char *from_topology(int what)
{
	struct topology *t = NULL;
	char path[256], *text = NULL, *msgs = NULL;
	size_t len = 0, mlen = 0;
	FILE *out, *err = open_memstream(&msgs, &mlen);
	int r;

	put("t.conf", conf, 0644);
	put("k", "", 0644);
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	cr_assert_not_null(err);
	r = topo_load(path, err, &t);
	fclose(err);
	cr_assert_eq(r, 0, "topo_load: %d\n%s", r, msgs);
	free(msgs);
	out = open_memstream(&text, &len);
	cr_assert_not_null(out);
	complete_topology(out, what, t);
	fclose(out);
	topo_free(t);
	return text;
}

static void expect_topology(int what, const char *want)
{
	char *got = from_topology(what);

	cr_expect_str_eq(got, want, "got:\n%s\nwant:\n%s", got, want);
	free(got);
}

Test(complete, topology)
{
	expect_topology(COMPLETE_VMS, "v1\nv2\nv3\n");
	expect_topology(COMPLETE_NICS, "v1/0\nv1/1\nv2/0\n");
	expect_topology(COMPLETE_PROFILES, "default\nlossy\nslow\n");
	expect_topology(COMPLETE_SCHEDULES, "flap\nboot\n");
}

Test(complete, snapshot_dir)
{
	char snaps[256], *text = NULL;
	size_t len = 0;
	FILE *out;

	snprintf(snaps, sizeof(snaps), "%s/snapshots", dir);
	cr_assert_eq(mkdir(snaps, 0700), 0);
	put("snapshots/base.json", "{}", 0600);
	put("snapshots/base.tmp", "{}", 0600);    /* not NAME.json */
	put("snapshots/.json", "{}", 0600);       /* no name */
	put("snapshots/a b.json", "{}", 0600);    /* not a snapshot name */
	put("snapshots/base", "", 0600);          /* its data dir's kind of name */
	out = open_memstream(&text, &len);
	cr_assert_not_null(out);
	complete_snapshot_dir(out, snaps);
	strcat(snaps, "/missing");
	complete_snapshot_dir(out, snaps);
	fclose(out);
	cr_expect_str_eq(text, "base\n");
	free(text);
}
