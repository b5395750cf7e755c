/* events.c - the supervisor's event stream (events.h). */
#include "launcher/events.h"

#include <time.h>

/* The event object, or NULL when out of memory; data is stolen. */
static json_t *event_new(const char *vm, const char *kind, json_t *data)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* "o" steals data even when the pack fails */
	return json_pack("{s:f, s:s?, s:s, s:o}", "time",
			 (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0, "vm", vm, "kind",
			 kind, "data", data ? data : json_object());
}

void events_emit(const char *vm, const char *kind, json_t *data)
{
	json_t *ev = event_new(vm, kind, data);

	/* No subscribers yet. */
	json_decref(ev);
}
