/*
 * test_statement_config.c: the statement period and zone belong to the ledger: set by the first
 * start, refused when a later start (or a rebuild) contradicts them, adopted by ledgerctl.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"

/* A second start with another zone is refused with a message naming the stored values; the same
 * values (or none: the defaults match) start; rebuild with a contradicting flag is refused and
 * without flags adopts the stored configuration. */
Test(statement_config, stored_at_first_start_and_enforced, .timeout = 60)
{
    char tmp[64], data[128];
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    struct ledgerd d;
    const char *const weekly_utc[] = {"--statement-period", "weekly", "--statement-tz", "UTC", NULL};
    const char *const paris[] = {"--statement-tz", "Europe/Paris", NULL};
    cr_assert(ledgerd_start_args(&d, data, "none", weekly_utc));
    cr_assert_eq(ledgerd_stop(&d), 0);
    cr_assert_not(ledgerd_start_args(&d, data, "none", paris), "another zone is refused");
    char *log = NULL;
    FILE *f = fopen(d.log_path, "r");
    cr_assert_not_null(f);
    size_t cap = 0;
    ssize_t n = getdelim(&log, &cap, '\0', f);
    fclose(f);
    cr_assert_gt(n, 0);
    cr_expect(strstr(log, "weekly in UTC") != NULL, "the message names the stored values: %s", log);
    free(log);
    cr_assert(ledgerd_start_args(&d, data, "none", weekly_utc), "the stored values start");
    cr_assert_eq(ledgerd_stop(&d), 0);

    char *out = NULL;
    const char *const contradict[] = {"rebuild", "--data", data, "--statement-tz", "Europe/Paris", NULL};
    cr_expect_eq(ledgerctl_run(&out, contradict), 2, "%s", out);
    cr_expect(strstr(out, "weekly in UTC") != NULL, "%s", out);
    free(out);
    const char *const adopt[] = {"rebuild", "--data", data, NULL};
    cr_expect_eq(ledgerctl_run(&out, adopt), 0, "%s", out);
    free(out);
    cr_assert(ledgerctl_verify_ok(data));
    harness_rmdir(tmp);
}
