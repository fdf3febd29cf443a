/*
 * test_iban.c: IBAN normalisation, validation (every rejection), MOD 97-10 and French generation.
 *
 * The registry examples come from $SHARED_DIR/data/iban_valid.txt (default "../shared"): one valid
 * IBAN per country, so the compiled-in country table is checked against the registry itself.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/events.h"

#define EXAMPLES_MAX 256
#define FR_EXAMPLE "FR1420041010050500013M02606"

static char examples[EXAMPLES_MAX][LEDGER_IBAN_MAX + 1];
static size_t examples_count;

static void load_examples(void)
{
    const char *dir = getenv("SHARED_DIR");
    char path[1024];
    int n = snprintf(path, sizeof path, "%s/data/iban_valid.txt", dir != NULL ? dir : "../shared");
    cr_assert(n > 0 && (size_t)n < sizeof path);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s (set SHARED_DIR)", path);
    char line[128];
    examples_count = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        cr_assert_lt(examples_count, EXAMPLES_MAX);
        cr_assert_leq(strlen(line), LEDGER_IBAN_MAX, "example too long: %s", line);
        memcpy(examples[examples_count], line, strlen(line) + 1);
        examples_count++;
    }
    fclose(f);
    cr_assert_gt(examples_count, 80, "the registry has examples for more than 80 countries");
}

/* Rewrites the check digits of iban so that MOD 97 = 1 again (to isolate the other rules). */
static void fix_check_digits(char *iban)
{
    iban[2] = '0';
    iban[3] = '0';
    int r = iban_mod97(iban);
    cr_assert_geq(r, 0);
    int check = 98 - r;
    iban[2] = (char)('0' + check / 10);
    iban[3] = (char)('0' + check % 10);
    cr_assert_eq(iban_mod97(iban), 1);
}

Test(iban, every_registry_example_is_valid, .init = load_examples)
{
    /* Proves every registry example validates and has its country's table length. */
    for (size_t i = 0; i < examples_count; i++) {
        const char *e = examples[i];
        cr_assert(iban_is_valid(e), "%s must be valid", e);
        cr_assert_eq(iban_country_length(e), (int)strlen(e), "length of %.2s", e);
        cr_assert_eq(iban_mod97(e), 1, "%s", e);
    }
}

Test(iban, digit_substitution_rejected, .init = load_examples)
{
    /* Proves replacing any one digit of any example by any other digit is rejected. */
    for (size_t i = 0; i < examples_count; i++) {
        size_t len = strlen(examples[i]);
        for (size_t pos = 2; pos < len; pos++) {
            if (examples[i][pos] < '0' || examples[i][pos] > '9')
                continue;
            for (char d = '0'; d <= '9'; d++) {
                char m[LEDGER_IBAN_MAX + 1];
                memcpy(m, examples[i], len + 1);
                if (m[pos] == d)
                    continue;
                m[pos] = d;
                cr_assert_not(iban_is_valid(m), "%s (from %s) must be rejected", m, examples[i]);
            }
        }
    }
}

/* ISO 7064 MOD 97-10 cannot see a letter L and a digit d swapped when L's value is 11 * d
 * (B1, M2, X3): (10 L + d) - (100 d + L) = 9 (L - 11 d). Such swaps inside the BBAN are the
 * algorithm's blind spot, not a validation bug; the test proves there is no other one. */
static bool swap_is_mod97_blind(char a, char b, size_t pos)
{
    if (pos < 4)
        return false;
    char letter = (a >= 'A' && a <= 'Z') ? a : b;
    char digit = (a >= 'A' && a <= 'Z') ? b : a;
    if (!(letter >= 'A' && letter <= 'Z') || !(digit >= '0' && digit <= '9'))
        return false;
    return (letter - 'A' + 10) == 11 * (digit - '0');
}

Test(iban, adjacent_swap_rejected, .init = load_examples)
{
    /* Proves every adjacent swap is rejected, except MOD 97's rare letter/digit blind pairs. */
    size_t blind = 0;
    for (size_t i = 0; i < examples_count; i++) {
        size_t len = strlen(examples[i]);
        for (size_t pos = 0; pos + 1 < len; pos++) {
            char m[LEDGER_IBAN_MAX + 1];
            memcpy(m, examples[i], len + 1);
            if (m[pos] == m[pos + 1])
                continue;
            char t = m[pos];
            m[pos] = m[pos + 1];
            m[pos + 1] = t;
            if (swap_is_mod97_blind(m[pos], m[pos + 1], pos)) {
                blind++;
                continue;
            }
            cr_assert_not(iban_is_valid(m), "%s (from %s) must be rejected", m, examples[i]);
        }
    }
    cr_assert_lt(blind, 5, "the MOD 97 blind spot is rare in real data");
}

Test(iban, wrong_length_rejected, .init = load_examples)
{
    /* Proves one character too few or too many is rejected, even with fixed check digits. */
    for (size_t i = 0; i < examples_count; i++) {
        size_t len = strlen(examples[i]);
        char m[LEDGER_IBAN_MAX + 2];
        memcpy(m, examples[i], len + 1);
        m[len - 1] = '\0';
        fix_check_digits(m);
        cr_assert_not(iban_is_valid(m), "%s too short", m);
        if (len < LEDGER_IBAN_MAX) {
            memcpy(m, examples[i], len);
            m[len] = '0';
            m[len + 1] = '\0';
            fix_check_digits(m);
            cr_assert_not(iban_is_valid(m), "%s too long", m);
        }
    }
}

Test(iban, unknown_country_rejected)
{
    /* Proves an unregistered country has length 0 and is rejected despite good check digits. */
    char m[] = "XX1420041010050500013M02606";
    fix_check_digits(m);
    cr_assert_not(iban_is_valid(m));
    char us[] = "US00123456789012345678";
    fix_check_digits(us);
    cr_assert_not(iban_is_valid(us));
    cr_assert_eq(iban_country_length("XX"), 0);
    cr_assert_eq(iban_country_length("US"), 0);
    cr_assert_eq(iban_country_length("fr"), 0);
    cr_assert_eq(iban_country_length("AA"), 0);
    cr_assert_eq(iban_country_length("ZZ"), 0);
    cr_assert_eq(iban_country_length("FR"), 27);
    cr_assert_eq(iban_country_length("AD"), 24); /* first entry */
    cr_assert_eq(iban_country_length("YT"), 27); /* last entry */
    cr_assert_eq(iban_country_length("NO"), 15); /* shortest */
    cr_assert_eq(iban_country_length("LC"), 32); /* longest */
}

Test(iban, malformed_rejected)
{
    /* Proves each format rule rejects alone: empty, case, spaces, check digits, BBAN, MOD 97. */
    cr_assert_not(iban_is_valid(""));
    cr_assert_not(iban_is_valid("FR"));
    cr_assert_not(iban_is_valid("FR14"));
    cr_assert_not(iban_is_valid("fr1420041010050500013M02606"));
    cr_assert_not(iban_is_valid("FR1420041010050500013m02606"));
    cr_assert_not(iban_is_valid("FR14 2004 1010 0505 0001 3M02 606"));
    cr_assert_not(iban_is_valid("FRA420041010050500013M02606"));
    cr_assert_not(iban_is_valid("FR1A20041010050500013M02606"));
    cr_assert_not(iban_is_valid("FR142004101005050001-M02606"));
    cr_assert_not(iban_is_valid("FR0020041010050500013M02606"));
    cr_assert_not(iban_is_valid("FR0120041010050500013M02606"));
    cr_assert_not(iban_is_valid("FR9920041010050500013M02606"));
    cr_assert_not(iban_is_valid("1R1420041010050500013M02606"));
    cr_assert_not(iban_is_valid("GB29NWBK60161331926819GB29NWBK60161331926819"));
}

Test(iban, rib_key_enforced)
{
    /* Proves a wrong or non-digit RIB key is rejected with MOD 97 intact (FR, MC, territories). */
    static const char *const countries[] = {"FR", "MC", "GP", "RE", "NC", "BL"};
    for (size_t i = 0; i < sizeof countries / sizeof countries[0]; i++) {
        char m[] = FR_EXAMPLE;
        memcpy(m, countries[i], 2);
        fix_check_digits(m);
        cr_assert(iban_is_valid(m), "%s with its key must be valid", m);
        m[26] = '7'; /* key 07 instead of 06 */
        fix_check_digits(m);
        cr_assert_not(iban_is_valid(m), "%s has a wrong RIB key", m);
    }
    char letter_key[] = "FR1420041010050500013M026A6";
    fix_check_digits(letter_key);
    cr_assert_not(iban_is_valid(letter_key));
    char letter_bank[] = "FR142004A010050500013M02606";
    fix_check_digits(letter_bank);
    cr_assert_not(iban_is_valid(letter_bank));
}

Test(iban, normalize_then_valid)
{
    /* Proves lower case and spaces are accepted by iban_normalize and give the electronic form. */
    char out[LEDGER_IBAN_MAX + 1];
    cr_assert(iban_normalize("fr14 2004 1010 0505 0001 3m02 606", out));
    cr_assert_str_eq(out, FR_EXAMPLE);
    cr_assert(iban_is_valid(out));
    cr_assert(iban_normalize("  GB29 NWBK 6016 1331 9268 19  ", out));
    cr_assert_str_eq(out, "GB29NWBK60161331926819");
    cr_assert(iban_is_valid(out));
    cr_assert(iban_normalize("", out));
    cr_assert_str_eq(out, "");
    cr_assert_not(iban_is_valid(out));
}

Test(iban, normalize_rejections)
{
    /* Proves iban_normalize refuses other characters and 35+ characters but takes exactly 34. */
    char out[LEDGER_IBAN_MAX + 1];
    cr_assert_not(iban_normalize("FR14-2004", out));
    cr_assert_not(iban_normalize("FR14\t2004", out));
    cr_assert_not(iban_normalize("FR14.2004", out));
    cr_assert_not(iban_normalize("FR14\xc3\xa9", out));
    cr_assert(iban_normalize("1234567890123456789012345678901234", out));
    cr_assert_eq(strlen(out), 34);
    cr_assert(iban_normalize("12345 67890 12345 67890 12345 67890 1234 ", out));
    cr_assert_not(iban_normalize("12345678901234567890123456789012345", out));
}

Test(iban, mod97)
{
    /* Proves iban_mod97 rearranges, maps letters and refuses bad characters and short input. */
    cr_assert_eq(iban_mod97(FR_EXAMPLE), 1);
    cr_assert_eq(iban_mod97("GB29NWBK60161331926819"), 1);
    cr_assert_eq(iban_mod97("AA00"), (10 * 100 + 10) * 100 % 97); /* "1010" + "00" */
    cr_assert_eq(iban_mod97("FR14 2004"), -1);
    cr_assert_eq(iban_mod97("fr1420041010050500013M02606"), -1);
    cr_assert_eq(iban_mod97("FR1"), -1);
    cr_assert_eq(iban_mod97(""), -1);
}

Test(iban, rib_key_letters)
{
    /* Proves the RIB letter map A,J->1 B,K,S->2 ... I,R,Z->9 and rejection of bad characters. */
    static const char *const groups[] = {"AJ", "BKS", "CLT", "DMU", "ENV", "FOW", "GPX", "HQY",
                                         "IRZ"};
    for (int g = 0; g < 9; g++) {
        char digit_account[] = "00000000000";
        digit_account[10] = (char)('1' + g);
        int want = iban_fr_rib_key("20041", "01005", digit_account);
        for (const char *l = groups[g]; *l != '\0'; l++) {
            char account[] = "00000000000";
            account[10] = *l;
            cr_assert_eq(iban_fr_rib_key("20041", "01005", account), want, "letter %c", *l);
        }
    }
    cr_assert_eq(iban_fr_rib_key("20041", "01005", "0500013M026"), 6);
    cr_assert_eq(iban_fr_rib_key("2004A", "01005", "0500013M026"), -1);
    cr_assert_eq(iban_fr_rib_key("20041", "0100B", "0500013M026"), -1);
    cr_assert_eq(iban_fr_rib_key("20041", "01005", "0500013m026"), -1);
    cr_assert_eq(iban_fr_rib_key("20041", "01005", "0500013-026"), -1);
}

Test(iban, fr_build_registry_example)
{
    /* Proves iban_fr_build reproduces the registry's French example exactly. */
    char out[LEDGER_IBAN_MAX + 1];
    iban_fr_build("20041", "01005", "0500013M026", out);
    cr_assert_str_eq(out, FR_EXAMPLE);
}

Test(iban, fr_build_many_valid)
{
    /* Proves built French IBANs are valid, 27 long, with the RIB key (01 and 97 included). */
    bool seen_key_1 = false;
    bool seen_key_97 = false;
    for (int n = 0; n < 20000; n++) {
        char account[12];
        int w = snprintf(account, sizeof account, "%05dX%05d", n % 100000, (n * 7919) % 100000);
        cr_assert_eq(w, 11);
        char out[LEDGER_IBAN_MAX + 1];
        iban_fr_build("30004", "00823", account, out);
        cr_assert_eq(strlen(out), 27);
        cr_assert(iban_is_valid(out), "%s", out);
        int key = iban_fr_rib_key("30004", "00823", account);
        cr_assert_eq((out[25] - '0') * 10 + (out[26] - '0'), key, "%s", out);
        seen_key_1 |= key == 1;
        seen_key_97 |= key == 97;
    }
    cr_assert(seen_key_1 && seen_key_97);
}

Test(iban, fr_build_bad_bank_aborts, .signal = SIGABRT)
{
    /* Proves iban_fr_build treats a non-digit bank code as a programmer error (validate first). */
    char out[LEDGER_IBAN_MAX + 1];
    iban_fr_build("2004A", "01005", "0500013M026", out);
}
