/* topo_fuzz.c - libFuzzer target for the topology parser (launcher/
 * topology*.c on inih): the input is a topology.conf as a user writes it.
 *
 *   make fuzz-build && build/fuzz/topo_fuzz -max_total_time=300 build/fuzz/corpus/topo fuzz/corpus/topo
 *
 * topo_load() reads a file, so each input is written to topology.conf in a
 * private directory made at start-up (removed at exit), next to the empty
 * files the corpus refers to (vmlinuz-test, initrd-test, disk-test.qcow2,
 * images/base.qcow2), so inputs can get past the file checks.
 * Checked: a refused file prints at least one line and every line names
 * the file ("PATH:LINE: message" in line order, or "PATH: error"); an
 * accepted one prints nothing and its model holds what topology.h
 * promises (names within their limits, every NIC resolved to one of the
 * networks, VLANs and NICs within their maximum, every rule key a valid
 * key, lookups finding what is there, schedule steps in time order and
 * naming what exists).  Each accepted rule goes through
 * tc_rule_parse as the launcher would do next.  ASan and UBSan do the rest.
 */
#include "launcher/topology.h"
#include "tc/rule.h"

#include <errno.h>
#include <fcntl.h>
#include <sanitizer/common_interface_defs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A failed check removes the private directory first (abort skips atexit). */
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "topo_fuzz: %s\n", #c); cleanup(); abort(); } } while (0)

static void cleanup(void);

static char dir[64] = "/tmp/n3x-topo-fuzz.XXXXXX", conf[128];
static const char *const files[] = { "vmlinuz-test", "initrd-test", "disk-test.qcow2", "images/base.qcow2" };

static void cleanup(void)
{
	char p[256];

	unlink(conf);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/images", dir);
	rmdir(p);
	rmdir(dir);
}

static void setup(void)
{
	char p[256];

	CHECK(mkdtemp(dir));
	__sanitizer_set_death_callback(cleanup); /* a sanitizer report skips atexit */
	snprintf(conf, sizeof(conf), "%s/topology.conf", dir);
	snprintf(p, sizeof(p), "%s/images", dir);
	CHECK(mkdir(p, 0700) == 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int fd;

		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		CHECK((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0);
		close(fd);
	}
	atexit(cleanup);
}

static void check_model(const struct topology *t)
{
	char name[TOPO_VM_NAME_MAX + 1], mac[18];
	int nic;

	CHECK(t->fabric.name && strlen(t->fabric.name) <= TOPO_NAME_MAX);
	CHECK(t->nnetworks >= 0 && t->nvms >= 0 && t->nprofiles >= 0);
	for (int i = 0; i < t->nnetworks; i++) {
		const struct topo_network *n = &t->networks[i];

		CHECK(n->name && topo_find_network(t, n->name) == n);
		CHECK(n->bridge && strlen(n->bridge) <= TOPO_IFNAME_MAX);
		CHECK(n->host_interface && strlen(n->host_interface) <= TOPO_IFNAME_MAX);
		CHECK(!n->has_address || (n->prefix >= 0 && n->prefix <= 32));
		CHECK(!n->has_dhcp || n->dhcp_lease);
	}
	for (int i = 0; i < t->nvms; i++) {
		const struct topo_vm *vm = &t->vms[i];

		CHECK(vm->name && vm->name[0] && strlen(vm->name) <= TOPO_VM_NAME_MAX);
		CHECK(topo_find_vm(t, vm->name) == vm);
		CHECK(vm->nnics >= 0 && vm->nnics <= TOPO_MAX_NICS);
		CHECK(vm->vcpus > 0 && vm->memory_mib > 0);
		CHECK(topo_selected(NULL, vm->name) && topo_selected(vm->name, vm->name));
		for (int k = 0; k < vm->nnics; k++) {
			const struct topo_nic *n = &vm->nics[k];

			CHECK(n->net && n->net >= t->networks && n->net < t->networks + t->nnetworks);
			CHECK(n->nvlans >= 0 && n->nvlans <= TOPO_MAX_VLANS);
			CHECK(strlen(topo_format_mac(n->mac, mac)) == 17);
		}
	}
	for (int i = 0; i < t->nprofiles; i++) {
		const struct topo_profile *p = &t->profiles[i];

		CHECK(p->name && topo_find_profile(t, p->name) == p);
		for (int k = 0; k < p->nrules; k++) {
			struct tc_rule r;
			struct err e = { 0 };

			CHECK(topo_parse_key(p->rules[k].key, name, &nic) == 0);
			CHECK(p->rules[k].rule);
			tc_rule_parse(p->rules[k].rule, &r, &e);
		}
	}
	/* Schedules: steps by time, each what launcher/schedule.c needs. */
	CHECK(!t->fabric.schedule || topo_find_schedule(t, t->fabric.schedule));
	for (int i = 0; i < t->nschedules; i++) {
		const struct topo_schedule *sc = &t->schedules[i];

		CHECK(sc->name && topo_find_schedule(t, sc->name) == sc && sc->nsteps > 0);
		CHECK(!sc->repeat || (sc->period_ms > 0 && sc->period_ms >= sc->steps[sc->nsteps - 1].at_ms));
		for (int k = 0; k < sc->nsteps; k++) {
			const struct topo_step *st = &sc->steps[k];

			CHECK(st->action && (k == 0 || sc->steps[k - 1].at_ms <= st->at_ms));
			CHECK((st->kind == TOPO_STEP_HEAL) == !st->arg);
			CHECK(st->kind != TOPO_STEP_LINK || (topo_parse_key(st->arg, name, &nic) == 0 &&
							    topo_find_vm(t, name) && nic < topo_find_vm(t, name)->nnics));
			CHECK(st->kind != TOPO_STEP_PROFILE || !strcmp(st->arg, "default") ||
			      topo_find_profile(t, st->arg));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct topology *t = NULL;
	char *out = NULL;
	size_t outlen = 0;
	FILE *err;
	int fd, r;

	if (!ready) {
		setup();
		ready = true;
	}
	CHECK((fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) >= 0);
	CHECK(write(fd, data, size) == (ssize_t)size);
	close(fd);
	CHECK((err = open_memstream(&out, &outlen)));
	r = topo_load(conf, err, &t);
	CHECK(fclose(err) == 0);
	if (r == 0) {
		CHECK(t && outlen == 0);
		check_model(t);
		topo_free(t);
	} else {
		CHECK(!t && r < 0 && outlen > 0 && out[outlen - 1] == '\n');
		long last = 0;

		for (char *l = out; l < out + outlen; l = strchr(l, '\n') + 1) {
			char *end;
			long line;

			CHECK(!strncmp(l, conf, strlen(conf)) && l[strlen(conf)] == ':');
			/* "PATH:LINE: message", in line order; or "PATH: error" */
			line = strtol(l + strlen(conf) + 1, &end, 10);
			if (end > l + strlen(conf) + 1 && *end == ':') {
				CHECK(line >= last && line > 0);
				last = line;
			}
		}
	}
	free(out);
	return 0;
}
