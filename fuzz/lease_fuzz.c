/* lease_fuzz.c - libFuzzer target for dnsmasq's lease file parser
 * (net/dnsmasq.c, dnsmasq_parse_leases): the input is the lease file as
 * dnsmasq left it (or as anything that can write $STATE wrote it), half
 * written, with DHCPv6 leases, other hardware types, garbage.
 *
 *   make fuzz-build && build/fuzz/lease_fuzz -max_total_time=300 build/fuzz/corpus/lease fuzz/corpus/lease
 *
 * The text is handed over in a buffer of exactly its length (no NUL after
 * it), as the watcher reads the file, so a read past the end is caught.
 * Checked: no more leases than complete lines; each lease's strings are
 * terminated and blank-free; dnsmasq_lease_find returns a lease with the
 * MAC asked for; and the leases written back in dnsmasq's format parse to
 * the same leases (what the parser keeps is what the line said; checked
 * for inputs without a NUL byte).
 */
#include "net/dnsmasq.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "lease_fuzz: %s\n", #c); abort(); } } while (0)

static void check_field(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	CHECK(n < size);
	CHECK(!memchr(s, ' ', n) && !memchr(s, '\n', n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1), *back = NULL;
	struct dnsmasq_lease *v = NULL, *w = NULL;
	size_t lines = 0, blen = 0;
	FILE *f;
	int n = -1, m = -1;

	if (!text)
		return 0;
	memcpy(text, data, size);
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (dnsmasq_parse_leases(text, size, &v, &n) < 0) {
		CHECK(!v && n == 0);
		goto out;
	}
	CHECK(n >= 0 && (size_t)n <= lines && (n == 0) == (v == NULL));
	f = open_memstream(&back, &blen);
	CHECK(f);
	for (int i = 0; i < n; i++) {
		char ip[INET_ADDRSTRLEN];
		const struct dnsmasq_lease *l = dnsmasq_lease_find(v, n, v[i].mac);

		check_field(v[i].hostname, sizeof(v[i].hostname));
		check_field(v[i].clientid, sizeof(v[i].clientid));
		CHECK(v[i].expiry >= 0);
		CHECK(l && !memcmp(l->mac, v[i].mac, 6));
		CHECK(inet_ntop(AF_INET, &v[i].ip, ip, sizeof(ip)));
		fprintf(f, "%" PRId64 " %02x:%02x:%02x:%02x:%02x:%02x %s %s %s\n", v[i].expiry,
			v[i].mac[0], v[i].mac[1], v[i].mac[2], v[i].mac[3], v[i].mac[4], v[i].mac[5], ip,
			v[i].hostname[0] ? v[i].hostname : "*", v[i].clientid[0] ? v[i].clientid : "*");
	}
	CHECK(fclose(f) == 0);
	/* A NUL inside a field ends the string the lease keeps ("*\0junk" is
	 * kept as "*", not as dnsmasq's "none"): text written back from that
	 * is not the line that was read.  dnsmasq writes no NUL. */
	if (memchr(data, '\0', size))
		goto out;
	CHECK(dnsmasq_parse_leases(back, blen, &w, &m) == 0);
	CHECK(m == n);
	for (int i = 0; i < n; i++) {
		CHECK(w[i].expiry == v[i].expiry && !memcmp(w[i].mac, v[i].mac, 6));
		CHECK(w[i].ip.s_addr == v[i].ip.s_addr);
		CHECK(!strcmp(w[i].hostname, v[i].hostname) && !strcmp(w[i].clientid, v[i].clientid));
	}
out:
	free(back);
	free(w);
	free(v);
	free(text);
	return 0;
}
