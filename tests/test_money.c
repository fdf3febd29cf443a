/*
 * test_money.c: the compiled-in ISO 4217 table and overflow-checked money arithmetic.
 *
 * The table is checked against the source list itself ($SHARED_DIR/data/iso4217.csv, default
 * "../shared"), so a regenerated or hand-edited table cannot drift from the standard unnoticed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"

#define CSV_LINE_MAX 256

static FILE *open_shared(const char *rel)
{
    const char *dir = getenv("SHARED_DIR");
    char path[1024];
    int n = snprintf(path, sizeof path, "%s/%s", dir != NULL ? dir : "../shared", rel);
    cr_assert(n > 0 && (size_t)n < sizeof path);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s (set SHARED_DIR)", path);
    return f;
}

/* Splits "code,numeric,minor,name\r\n" in place; false for the header or a blank line. */
static bool csv_split(char *line, char **code, char **numeric, char **minor)
{
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0' || strncmp(line, "code,", 5) == 0)
        return false;
    char *fields[3];
    char *p = line;
    for (int i = 0; i < 3; i++) {
        fields[i] = p;
        char *comma = strchr(p, ',');
        cr_assert_not_null(comma, "malformed csv line: %s", line);
        *comma = '\0';
        p = comma + 1;
    }
    *code = fields[0];
    *numeric = fields[1];
    *minor = fields[2];
    return true;
}

static long parse_long(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    cr_assert(errno == 0 && end != s && *end == '\0', "not a number: %s", s);
    return v;
}

Test(money, eur_jpy_kwd)
{
    /* Proves the three reference currencies carry the right numeric code and minor units. */
    const struct currency_info *eur = money_currency_find("EUR");
    cr_assert_not_null(eur);
    cr_assert_str_eq(eur->code, "EUR");
    cr_assert_eq(eur->numeric, 978);
    cr_assert_eq(eur->minor_units, 2);
    const struct currency_info *jpy = money_currency_find("JPY");
    cr_assert_not_null(jpy);
    cr_assert_eq(jpy->minor_units, 0);
    const struct currency_info *kwd = money_currency_find("KWD");
    cr_assert_not_null(kwd);
    cr_assert_eq(kwd->minor_units, 3);
}

Test(money, no_minor_unit_is_absent)
{
    /* Proves currencies with minor unit "-" (gold, "no currency") are not carried. */
    cr_assert_null(money_currency_find("XAU"));
    cr_assert_null(money_currency_find("XXX"));
    cr_assert_null(money_currency_find("XDR"));
}

Test(money, malformed_codes_unknown)
{
    /* Proves lookup wants exactly three upper-case letters: case, length and charset rejections. */
    static const char *const bad[] = {"eur", "Eur", "EUr", "EU", "EURO", "", "E",
                                      "E1R", "EU ", " EU", "QQQ", "AAA", "ZZZ"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_null(money_currency_find(bad[i]), "'%s' must be unknown", bad[i]);
    cr_assert_null(money_currency_find(NULL));
}

Test(money, table_first_and_last_found)
{
    /* Proves the binary search reaches both ends of the table and the table is sorted, unique. */
    size_t n = money_currency_count();
    cr_assert_gt(n, 1);
    for (size_t i = 0; i < n; i++) {
        const struct currency_info *c = money_currency_at(i);
        cr_assert_eq(money_currency_find(c->code), c, "%s not found at its own slot", c->code);
        if (i > 0)
            cr_assert_lt(strcmp(money_currency_at(i - 1)->code, c->code), 0, "unsorted at %zu", i);
    }
}

Test(money, at_out_of_range_aborts, .signal = SIGABRT)
{
    /* Proves asking for a slot past the table is a programmer error that crashes. */
    (void)money_currency_at(money_currency_count());
}

Test(money, table_matches_csv)
{
    /* Proves the table is exactly the csv rows with a minor unit, numeric and minor unit alike. */
    FILE *f = open_shared("data/iso4217.csv");
    char line[CSV_LINE_MAX];
    size_t with_minor = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char *code, *numeric, *minor;
        if (!csv_split(line, &code, &numeric, &minor))
            continue;
        const struct currency_info *c = money_currency_find(code);
        if (strcmp(minor, "-") == 0) {
            cr_assert_null(c, "%s has no minor unit and must be absent", code);
            continue;
        }
        with_minor++;
        cr_assert_not_null(c, "%s missing from the table", code);
        cr_assert_eq(c->numeric, parse_long(numeric), "%s numeric", code);
        cr_assert_eq(c->minor_units, parse_long(minor), "%s minor units", code);
    }
    fclose(f);
    cr_assert_eq(money_currency_count(), with_minor);
}

Test(money, add_boundaries)
{
    /* Proves money_add is exact up to INT64_MAX/MIN and refuses max+1, min-1, leaving out alone. */
    int64_t out = 0;
    cr_assert(money_add(0, 0, &out) && out == 0);
    cr_assert(money_add(0, 1, &out) && out == 1);
    cr_assert(money_add(INT64_MAX - 1, 1, &out) && out == INT64_MAX);
    cr_assert(money_add(INT64_MAX, 0, &out) && out == INT64_MAX);
    cr_assert(money_add(INT64_MAX, INT64_MIN, &out) && out == -1);
    cr_assert(money_add(INT64_MIN, 0, &out) && out == INT64_MIN);
    cr_assert(money_add(INT64_MIN + 1, -1, &out) && out == INT64_MIN);
    out = 42;
    cr_assert_not(money_add(INT64_MAX, 1, &out));
    cr_assert_not(money_add(1, INT64_MAX, &out));
    cr_assert_not(money_add(INT64_MAX, INT64_MAX, &out));
    cr_assert_not(money_add(INT64_MIN, -1, &out));
    cr_assert_not(money_add(INT64_MIN, INT64_MIN, &out));
    cr_assert_eq(out, 42);
}

Test(money, sub_boundaries)
{
    /* Proves money_sub is exact up to INT64_MAX/MIN, refuses past either end, leaves out alone. */
    int64_t out = 0;
    cr_assert(money_sub(0, 0, &out) && out == 0);
    cr_assert(money_sub(1, 1, &out) && out == 0);
    cr_assert(money_sub(0, 1, &out) && out == -1);
    cr_assert(money_sub(0, INT64_MAX, &out) && out == -INT64_MAX);
    cr_assert(money_sub(-1, INT64_MAX, &out) && out == INT64_MIN);
    cr_assert(money_sub(INT64_MAX, 0, &out) && out == INT64_MAX);
    cr_assert(money_sub(INT64_MIN + 1, 1, &out) && out == INT64_MIN);
    cr_assert(money_sub(-1, INT64_MIN, &out) && out == INT64_MAX);
    out = 42;
    cr_assert_not(money_sub(INT64_MIN, 1, &out));
    cr_assert_not(money_sub(0, INT64_MIN, &out));
    cr_assert_not(money_sub(INT64_MAX, -1, &out));
    cr_assert_not(money_sub(-2, INT64_MAX, &out));
    cr_assert_not(money_sub(INT64_MAX, INT64_MIN, &out));
    cr_assert_eq(out, 42);
}
