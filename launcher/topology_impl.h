/* topology_impl.h - what topology.c, topology_keys.c and topology_check.c share.
 *
 * Private to the topology module: the parser state and its message list.
 * Nothing here is part of the model handed to callers.
 */
#ifndef N3X_TOPOLOGY_IMPL_H
#define N3X_TOPOLOGY_IMPL_H

#include "launcher/topology.h"

#include <stdbool.h>
#include <stddef.h>

enum topo_sect_kind { TOPO_SEC_IGNORE, TOPO_SEC_FABRIC, TOPO_SEC_NETWORK, TOPO_SEC_VM, TOPO_SEC_PROFILE,
		      TOPO_SEC_SCHEDULE, TOPO_SEC_LATENCY };

/* A key as written in one section: its line, for messages about it. */
struct topo_keyline {
	char *key;
	int line;
};

/* One section header and the keys under it. */
struct topo_sect {
	enum topo_sect_kind kind;     /* TOPO_SEC_IGNORE: unknown or malformed, keys skipped */
	struct topology *owner;   /* the result, or junk for a section in error */
	int idx;                  /* into owner's networks, vms or profiles */
	int line;
	struct topo_keyline *keys;
	int nkeys;
};

/* One error message, printed as "PATH:LINE: text" once all are known. */
struct topo_error {
	int line;
	int seq;                  /* keeps the order of messages on one line */
	char *text;
};

struct topo_parser {
	FILE *f;
	char *buf;                /* getline() buffer */
	size_t bufsz;
	int line;                 /* of the line inih is parsing */
	int read_errno;
	bool nomem;
	struct topology *t;       /* the result */
	struct topology *junk;    /* sections in error: parsed for their own errors, then dropped */
	struct topo_sect *sects;
	int nsects;
	int cur;                  /* index into sects; -1 before the first header */
	struct topo_error *msgs;
	int nmsgs;
};

/* Record a message at line; "KIND NAME: " first for topo_sect_msg. */
void topo_msg(struct topo_parser *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void topo_sect_msg(struct topo_parser *p, const struct topo_sect *s, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
const char *topo_sect_name(const struct topo_sect *s);
char *topo_strdup(struct topo_parser *p, const char *s);
/* Grow the array at *(T **)arrp, of *n elements of size sz, by one zeroed
 * element and return it; NULL (and p->nomem) on ENOMEM. */
void *topo_grow(struct topo_parser *p, void *arrp, int *n, size_t sz);
int topo_key_line(const struct topo_parser *p, enum topo_sect_kind kind, int idx, const char *key);

/* 0, -EINVAL (not [a-z0-9-] starting with a letter or digit) or -ENAMETOOLONG. */
#define TOPO_NAME_RULE "(use a-z, 0-9 and '-', starting with a letter or digit)"
int topo_check_name(const char *s, size_t max);

/* Where address a lies in network n's subnet (n->address/n->prefix). */
enum topo_addr { TOPO_ADDR_HOST, TOPO_ADDR_OUTSIDE, TOPO_ADDR_NETWORK, TOPO_ADDR_BROADCAST };
enum topo_addr topo_addr_kind(const struct topo_network *n, struct in_addr a);

/* topology_keys.c: set KEY = VAL (VAL not empty) in section s, reporting bad
 * values; false when the section has no such key. */
bool topo_set_key(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val);

/* topology_check.c: the checks that need the whole file. */
void topo_check(struct topo_parser *p);

/* topology_sched.c: [schedule NAME] sections and [fabric] schedule =.
 * topo_sched_add appends a schedule to o (its index, or -ENOMEM);
 * topo_sched_key takes one line of its section (every key is known: a step
 * "+TIME = ACTION" or "repeat"); topo_sched_check sorts each schedule's
 * steps and checks what they name (profiles, VMs, NICs) once the whole file
 * is read; topo_sched_free frees o's schedules. */
int topo_sched_add(struct topo_parser *p, struct topology *o, const char *name);
void topo_sched_key(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val);
void topo_sched_check(struct topo_parser *p);
void topo_sched_free(struct topology *t);

/* topology_sites.c: `site =` of a [vm], the [latency] section's lines (inih
 * splits "A:B = RULE" at the ':', so key is A and val "B = RULE"), their
 * checks across the file, and freeing them. */
void topo_site_key(struct topo_parser *p, struct topo_sect *s, struct topo_vm *vm, const char *val);
void topo_latency_key(struct topo_parser *p, struct topo_sect *s, const char *key, const char *val);
void topo_check_sites(struct topo_parser *p);
void topo_free_sites(struct topology *t);

#endif
