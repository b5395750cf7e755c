/* topverb.h - the supervisor's `top` verb (topverb.c), for requests.c's
 * table: every VM's raw counters at one instant, for n3x-ctl top. */
#ifndef N3X_TOPVERB_H
#define N3X_TOPVERB_H

#include <jansson.h>

struct control_client;
struct sup_verb;

void sup_cmd_top(struct control_client *c, json_t *req, const struct sup_verb *v);

#endif
