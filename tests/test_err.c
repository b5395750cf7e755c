/* test_err.c - the error type: codes, messages, wrapping, truncation. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "base/err.h"

Test(err, set_returns_the_negative_code)
{
	struct err e = { 0 };

	cr_assert_eq(err_set(&e, ENOENT, "vm %s: no disk", "a"), -ENOENT);
	cr_assert_eq(e.code, ENOENT);
	cr_assert_str_eq(e.msg, "vm a: no disk");
	cr_assert(err_is_set(&e));
	/* a -errno is taken as its errno */
	cr_assert_eq(err_set(&e, -EPERM, "x"), -EPERM);
	cr_assert_eq(e.code, EPERM);
}

Test(err, sys_appends_strerror)
{
	struct err e = { 0 };

	cr_assert_eq(err_sys(&e, EACCES, "cannot open %s", "/x"), -EACCES);
	cr_assert_str_eq(e.msg, "cannot open /x: Permission denied");
	err_sys(&e, ENOENT, "%s", "");
	cr_assert_str_eq(e.msg, "No such file or directory");
}

Test(err, wrap_prefixes_context_and_keeps_the_code)
{
	struct err e = { 0 };

	err_set(&e, EEXIST, "bridge br0 exists");
	err_wrap(&e, "network %s", "lan");
	err_wrap(&e, "fabric");
	cr_assert_str_eq(e.msg, "fabric: network lan: bridge br0 exists");
	cr_assert_eq(e.code, EEXIST);
}

Test(err, null_is_allowed_everywhere)
{
	cr_assert_eq(err_set(NULL, EIO, "x"), -EIO);
	cr_assert_eq(err_sys(NULL, EIO, "x"), -EIO);
	err_wrap(NULL, "y");
	err_clear(NULL);
	cr_assert_not(err_is_set(NULL));
}

Test(err, long_messages_are_cut_with_an_ellipsis)
{
	char big[2 * ERR_MSG_MAX];
	struct err e = { 0 };

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	err_set(&e, E2BIG, "%s", big);
	cr_assert_eq(strlen(e.msg), ERR_MSG_MAX - 1);
	cr_assert_str_eq(e.msg + ERR_MSG_MAX - 4, "...");
	/* wrapping a full message keeps the new head and still fits */
	err_wrap(&e, "vm %s", "n100-1");
	cr_assert_eq(strncmp(e.msg, "vm n100-1: aaa", 14), 0);
	cr_assert_eq(strlen(e.msg), ERR_MSG_MAX - 1);
	cr_assert_str_eq(e.msg + ERR_MSG_MAX - 4, "...");
	/* a context longer than the whole buffer */
	err_set(&e, E2BIG, "short");
	err_wrap(&e, "%s", big);
	cr_assert_eq(strlen(e.msg), ERR_MSG_MAX - 1);
}

Test(err, clear_resets)
{
	struct err e = { 0 };

	err_set(&e, EINVAL, "bad");
	err_clear(&e);
	cr_assert_eq(e.code, 0);
	cr_assert_str_eq(e.msg, "");
	cr_assert_not(err_is_set(&e));
}
