/*
 * iban.c: ISO 13616 IBAN validation (MOD 97-10, ISO 7064) and French IBAN generation.
 *
 * The country table holds the SWIFT IBAN Registry length of every country in the registry examples
 * (data/iban_valid.txt, one example per country), sorted by code for binary search; tests check
 * every example against it. MOD 97 is computed by streaming digits (r = (r * 10 + d) % 97), so no
 * intermediate exceeds 32 bits and no bignum is needed. Every function is pure and thread-safe;
 * input is never asserted on (it comes from clients), only the arguments of iban_fr_build are.
 * French-format countries (FR, its overseas territories, MC) also carry a RIB key in their BBAN:
 * bank (5 digits) + branch (5 digits) + account (11 alphanumerics) + key (2 digits).
 */
#include <string.h>

#include "events/events.h"

struct iban_country {
    char code[3];
    uint8_t length;
};

/* Sorted by code (strictly increasing). Derived from data/iban_valid.txt. */
static const struct iban_country iban_countries[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AX", 18}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
    {"BG", 22}, {"BH", 22}, {"BL", 27}, {"BR", 29}, {"BY", 28}, {"CG", 27}, {"CH", 21}, {"CR", 22},
    {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"ES", 24}, {"FI", 18},
    {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GF", 27}, {"GI", 23}, {"GL", 18}, {"GP", 27},
    {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26},
    {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20},
    {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MF", 27}, {"MK", 19}, {"MQ", 27},
    {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NC", 27}, {"NL", 18}, {"NO", 15}, {"PF", 27}, {"PK", 24},
    {"PL", 28}, {"PM", 27}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RE", 27}, {"RO", 24}, {"RS", 22},
    {"SA", 24}, {"SC", 31}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28},
    {"TF", 27}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"VG", 24}, {"WF", 27}, {"XK", 20}, {"YT", 27},
};
#define IBAN_COUNTRIES_COUNT (sizeof iban_countries / sizeof iban_countries[0])

/* Countries whose BBAN is the French RIB (bank, branch, account, key); all have length 27. */
static const char iban_rib_countries[][3] = {
    "FR", "BL", "GF", "GP", "MC", "MF", "MQ", "NC", "PF", "PM", "RE", "TF", "WF", "YT",
};

#define IBAN_FR_LEN 27
#define RIB_BANK_LEN 5
#define RIB_BRANCH_LEN 5
#define RIB_ACCOUNT_LEN 11

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

bool iban_normalize(const char *in, char out[LEDGER_IBAN_MAX + 1])
{
    size_t n = 0;
    for (const char *p = in; *p != '\0'; p++) {
        char c = *p;
        if (c == ' ')
            continue;
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (n == LEDGER_IBAN_MAX || !(is_digit(c) || is_upper(c))) {
            out[0] = '\0';
            return false;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return true;
}

int iban_country_length(const char country[2])
{
    size_t lo = 0;
    size_t hi = IBAN_COUNTRIES_COUNT; /* search [lo, hi) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = memcmp(country, iban_countries[mid].code, 2);
        if (cmp == 0)
            return iban_countries[mid].length;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

/* Feeds one IBAN character (0-9, A=10..Z=35) into the running remainder; -1 on anything else. */
static int mod97_feed(int r, char c)
{
    if (is_digit(c))
        return (r * 10 + (c - '0')) % 97;
    if (is_upper(c)) {
        int v = c - 'A' + 10;
        return (r * 100 + v) % 97;
    }
    return -1;
}

int iban_mod97(const char *iban)
{
    size_t len = strlen(iban);
    if (len < 4)
        return -1;
    int r = 0;
    for (size_t i = 0; i < len; i++) {
        r = mod97_feed(r, iban[(i + 4) % len]); /* BBAN first, then country and check digits */
        if (r < 0)
            return -1;
    }
    LEDGER_ASSERT(r >= 0 && r < 97);
    return r;
}

/* The RIB value of one account character: digits as themselves, letters A,J->1 B,K,S->2 ...
 * I,R,Z->9; -1 on anything else. */
static int rib_char_value(char c, bool letters_allowed)
{
    if (is_digit(c))
        return c - '0';
    if (!letters_allowed || !is_upper(c))
        return -1;
    if (c <= 'I')
        return c - 'A' + 1;
    if (c <= 'R')
        return c - 'J' + 1;
    return c - 'S' + 2;
}

/* (r * 10^n + value of s[0..n)) mod 97, streamed; -1 on a bad character. */
static int rib_mod97(int r, const char *s, size_t n, bool letters_allowed)
{
    for (size_t i = 0; i < n; i++) {
        int v = rib_char_value(s[i], letters_allowed);
        if (v < 0)
            return -1;
        r = (r * 10 + v) % 97;
    }
    return r;
}

/* Returns 1..97, or -1 when bank or branch holds a non-digit or account a non-alphanumeric. */
int iban_fr_rib_key(const char bank[5], const char branch[5], const char account[11])
{
    int b = rib_mod97(0, bank, RIB_BANK_LEN, false);
    int g = rib_mod97(0, branch, RIB_BRANCH_LEN, false);
    int c = rib_mod97(0, account, RIB_ACCOUNT_LEN, true);
    if (b < 0 || g < 0 || c < 0)
        return -1;
    int key = 97 - (89 * b + 15 * g + 3 * c) % 97;
    LEDGER_ASSERT(key >= 1 && key <= 97);
    return key;
}

static bool iban_uses_rib(const char *iban)
{
    for (size_t i = 0; i < sizeof iban_rib_countries / sizeof iban_rib_countries[0]; i++) {
        if (memcmp(iban, iban_rib_countries[i], 2) == 0)
            return true;
    }
    return false;
}

/* The RIB key of a 27-character French-format IBAN holds. */
static bool iban_rib_key_holds(const char *iban)
{
    const char *bban = iban + 4;
    const char *key_text = bban + RIB_BANK_LEN + RIB_BRANCH_LEN + RIB_ACCOUNT_LEN;
    if (!is_digit(key_text[0]) || !is_digit(key_text[1]))
        return false;
    int key = iban_fr_rib_key(bban, bban + RIB_BANK_LEN, bban + RIB_BANK_LEN + RIB_BRANCH_LEN);
    return key >= 0 && key == (key_text[0] - '0') * 10 + (key_text[1] - '0');
}

bool iban_is_valid(const char *iban)
{
    size_t len = strnlen(iban, LEDGER_IBAN_MAX + 1);
    if (len < 5 || len > LEDGER_IBAN_MAX)
        return false;
    if (!is_upper(iban[0]) || !is_upper(iban[1]))
        return false;
    if ((size_t)iban_country_length(iban) != len)
        return false; /* unknown country (0) or wrong length */
    if (!is_digit(iban[2]) || !is_digit(iban[3]))
        return false;
    for (size_t i = 4; i < len; i++) {
        if (!is_digit(iban[i]) && !is_upper(iban[i]))
            return false;
    }
    if (iban_mod97(iban) != 1)
        return false;
    if (iban_uses_rib(iban)) {
        LEDGER_ASSERT(len == IBAN_FR_LEN);
        return iban_rib_key_holds(iban);
    }
    return true;
}

static bool all_match(const char *s, size_t n, bool letters_allowed)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]) && !(letters_allowed && is_upper(s[i])))
            return false;
    }
    return true;
}

void iban_fr_build(const char bank[5], const char branch[5], const char account[11],
                   char out[LEDGER_IBAN_MAX + 1])
{
    LEDGER_ASSERT(all_match(bank, RIB_BANK_LEN, false) && all_match(branch, RIB_BRANCH_LEN, false));
    LEDGER_ASSERT(all_match(account, RIB_ACCOUNT_LEN, true));

    int key = iban_fr_rib_key(bank, branch, account);
    char *p = out;
    memcpy(p, "FR00", 4);
    p += 4;
    memcpy(p, bank, RIB_BANK_LEN);
    p += RIB_BANK_LEN;
    memcpy(p, branch, RIB_BRANCH_LEN);
    p += RIB_BRANCH_LEN;
    memcpy(p, account, RIB_ACCOUNT_LEN);
    p += RIB_ACCOUNT_LEN;
    *p++ = (char)('0' + key / 10 % 10); /* key 97 prints as "97" */
    *p++ = (char)('0' + key % 10);
    *p = '\0';

    int check = 98 - iban_mod97(out);
    out[2] = (char)('0' + check / 10);
    out[3] = (char)('0' + check % 10);
    LEDGER_ASSERT(p - out == IBAN_FR_LEN && iban_is_valid(out));
}
