/* b64.h - base64 (RFC 4648, standard alphabet, '=' padding), the encoding
 * the guest agent uses for file contents and command output, and the
 * control protocol for bytes that are not text.
 */
#ifndef N3X_B64_H
#define N3X_B64_H

#include <stddef.h>

/* Characters b64_encode writes for n bytes, NUL not included. */
#define B64_ENCODED_LEN(n) (((n) + 2) / 3 * 4)
/* Bytes b64_decode may write for a text of n characters (at most). */
#define B64_DECODED_MAX(n) ((n) / 4 * 3 + 3)

/* Encode n bytes of src into dst, which holds B64_ENCODED_LEN(n) + 1;
 * NUL-terminated.  Returns the length written. */
size_t b64_encode(const void *src, size_t n, char *dst);

/* Decode n characters of src into dst, which holds B64_DECODED_MAX(n).
 * Padding is optional; whitespace is refused, as is anything after
 * padding or a final group of one character.  Returns the number of bytes
 * written, or -1 when src is not base64. */
long b64_decode(const char *src, size_t n, void *dst);

/* A malloc'd encoding of src (NULL when out of memory), or a malloc'd
 * decoding with its length in *len (NULL when out of memory or not base64,
 * errno ENOMEM or EINVAL).  The decoding gets a NUL after its last byte, so
 * text can be used as a string. */
char *b64_encode_alloc(const void *src, size_t n);
void *b64_decode_alloc(const char *src, size_t n, size_t *len);

#endif
