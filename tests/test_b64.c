/* test_b64.c - base64 against RFC 4648's vectors, round trips of every
 * length and byte, and what must be refused. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"

static const char *const vectors[][2] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};

Test(b64, rfc4648_vectors)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		char enc[16];
		unsigned char dec[16];
		size_t n = strlen(vectors[i][0]);

		cr_assert_eq(b64_encode(vectors[i][0], n, enc), strlen(vectors[i][1]));
		cr_assert_str_eq(enc, vectors[i][1]);
		cr_assert_eq(b64_decode(vectors[i][1], strlen(vectors[i][1]), dec), (long)n);
		cr_assert(memcmp(dec, vectors[i][0], n) == 0);
	}
}

Test(b64, every_byte_and_length_round_trips)
{
	unsigned char src[300], dec[B64_DECODED_MAX(B64_ENCODED_LEN(300))];
	char enc[B64_ENCODED_LEN(300) + 1];

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (unsigned char)(255 - i);
	for (size_t n = 0; n <= sizeof(src); n++) {
		size_t len = b64_encode(src, n, enc);

		cr_assert_eq(len, B64_ENCODED_LEN(n));
		cr_assert_eq(b64_decode(enc, len, dec), (long)n, "length %zu", n);
		cr_assert(memcmp(dec, src, n) == 0, "length %zu", n);
	}
}

Test(b64, padding_is_optional)
{
	unsigned char dec[8];

	cr_assert_eq(b64_decode("Zg", 2, dec), 1);
	cr_assert_eq(dec[0], 'f');
	cr_assert_eq(b64_decode("Zm8", 3, dec), 2);
}

Test(b64, refuses_what_is_not_base64)
{
	static const char *const bad[] = { "Z", "Zg=", "Zg===", "Zm9v\n", "Zm 9v", "Zm9v====", "====",
					   "Zm-v", "Zg==Zg==", "AAAA==" };
	unsigned char dec[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(b64_decode(bad[i], strlen(bad[i]), dec), -1, "\"%s\"", bad[i]);
}

Test(b64, alloc_variants)
{
	char *enc = b64_encode_alloc("hello\0world", 11);
	size_t len;
	char *dec;

	cr_assert_str_eq(enc, "aGVsbG8Ad29ybGQ=");
	dec = b64_decode_alloc(enc, strlen(enc), &len);
	cr_assert_eq(len, 11);
	cr_assert(memcmp(dec, "hello\0world", 12) == 0); /* NUL-terminated too */
	free(enc);
	free(dec);
	cr_assert_null(b64_decode_alloc("*", 1, &len));
}
