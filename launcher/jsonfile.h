/* jsonfile.h - a JSON document written whole or not at all: a temporary
 * file beside path (O_NOFOLLOW: $RUN and $STATE are ours, no link planted
 * there is followed), then rename.  For the files a later supervisor reads
 * back ($RUN/tc.json, $RUN/partition.json, snapshot metadata). */
#ifndef N3X_JSONFILE_H
#define N3X_JSONFILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* j into path with jansson's flags and a final newline; with sync, fsync
 * before the rename.  0, or -errno with nothing left but what path was. */
int jsonfile_write(const char *path, const json_t *j, size_t flags, bool sync);

#endif
