/*
 * statement_format.c: statement periods and the statement renderers (JSON, CSV, camt.053.001.08),
 * see the catch-up projections section of projections.h.
 *
 * Invariants:
 *   - every renderer is pure and writes through one bounded buffer (struct sbuf): it never writes
 *     past cap, always leaves room for a terminating NUL, and returns 0 (with out[0] = '\0' when
 *     cap > 0) if anything did not fit or could not be expressed; otherwise the length without NUL;
 *   - text from rows is read up to its field size (a missing NUL cannot run past the field),
 *     decoded as UTF-8 with every invalid byte replaced by U+FFFD, so JSON and XML out are always
 *     valid UTF-8; XML also replaces the code points XML 1.0 forbids (controls but tab, LF, CR);
 *   - periods are computed on broken-down local dates with mktime (tm_isdst = -1), never by adding
 *     86400, so DST days are 23 or 25 hours long and start <= ts < end holds;
 *   - times are RFC 3339 UTC with nanoseconds; dates (value date, balance dates) are local dates.
 * camt.053 specifics: MsgId and Stmt/Id are the statement id as 32 hex digits (Max35Text cannot
 * hold the 36-character UUID text); EndToEndId is the reference cut to 35 characters; an amount
 * is refused (return 0) when its currency is unknown or it has more than 18 digits (the schema's
 * totalDigits).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "events/events.h"
#include "projections/projections.h"

#define NS_PER_S 1000000000LL
#define TIME_TEXT_MAX 48 /* "-292277026596-12-04T15:30:07.999999999Z" and a margin */
#define DATE_TEXT_MAX 24
#define AMOUNT_TEXT_MAX 32
#define CAMT_DIGITS_MAX 18          /* totalDigits of ActiveOrHistoricCurrencyAndAmount */
#define CAMT_FRACTION_DIGITS_MAX 5  /* fractionDigits of the same */
#define CAMT_END_TO_END_ID_MAX 35   /* Max35Text, in characters */
#define CAMT_USTRD_MAX 140          /* Max140Text */
#define TEXT_UNLIMITED ((size_t)-1)

/* ---- names ------------------------------------------------------------------------------------ */

const char *op_kind_name(enum op_kind k)
{
    switch (k) {
    case OP_KIND_TRANSFER: return "transfer";
    case OP_KIND_DEPOSIT: return "deposit";
    case OP_KIND_CARD_PAYMENT: return "card_payment";
    case OP_KIND_CARD_REFUND: return "card_refund";
    }
    return "unknown";
}

const char *op_direction_name(enum op_direction d)
{
    switch (d) {
    case OP_DEBIT: return "debit";
    case OP_CREDIT: return "credit";
    }
    return "unknown";
}

const char *period_kind_name(enum period_kind k)
{
    switch (k) {
    case PERIOD_DAILY: return "daily";
    case PERIOD_WEEKLY: return "weekly";
    case PERIOD_MONTHLY: return "monthly";
    }
    return "unknown";
}

bool period_kind_parse(const char *text, enum period_kind *out)
{
    static const enum period_kind kinds[] = {PERIOD_DAILY, PERIOD_WEEKLY, PERIOD_MONTHLY};
    if (text == NULL)
        return false;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(text, period_kind_name(kinds[i])) == 0) {
            *out = kinds[i];
            return true;
        }
    }
    return false;
}

/* ---- time ------------------------------------------------------------------------------------- */

/* Floor division of ns into whole seconds and the nanoseconds past them (0..999999999). */
static time_t split_ns(int64_t ts_ns, long *frac_ns)
{
    int64_t sec = ts_ns / NS_PER_S;
    int64_t rem = ts_ns % NS_PER_S;
    if (rem < 0) {
        sec -= 1;
        rem += NS_PER_S;
    }
    *frac_ns = (long)rem;
    return (time_t)sec;
}

/* Writes v (>= 0) as exactly width decimal digits, zero-padded; returns the end. */
static char *digits(char *p, long v, int width)
{
    for (int d = width - 1; d >= 0; d--, v /= 10)
        p[d] = (char)('0' + v % 10);
    return p + width;
}

/* "2026-11-21T05:27:51.843369037Z" */
static void format_utc_ns(int64_t ts_ns, char out[TIME_TEXT_MAX])
{
    long frac;
    time_t sec = split_ns(ts_ns, &frac);
    struct tm tm;
    LEDGER_ASSERT(gmtime_r(&sec, &tm) != NULL && tm.tm_year + 1900 >= 0 && tm.tm_year + 1900 <= 9999);
    /* "YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ", digit by digit (no printf on the hot read path) */
    char *p = out;
    p = digits(p, tm.tm_year + 1900, 4);
    *p++ = '-';
    p = digits(p, tm.tm_mon + 1, 2);
    *p++ = '-';
    p = digits(p, tm.tm_mday, 2);
    *p++ = 'T';
    p = digits(p, tm.tm_hour, 2);
    *p++ = ':';
    p = digits(p, tm.tm_min, 2);
    *p++ = ':';
    p = digits(p, tm.tm_sec, 2);
    *p++ = '.';
    p = digits(p, frac, 9);
    *p++ = 'Z';
    *p = '\0';
    size_t n = (size_t)(p - out);
    LEDGER_ASSERT(n < TIME_TEXT_MAX);
}

/* The local date of an instant, "2026-11-21": the label of its daily period. Each thread keeps the
 * day it rendered last (a page of operations rarely crosses midnight), so localtime_r, which takes
 * glibc's time-zone lock, runs once per day instead of once per row. */
static void format_local_date(int64_t ts_ns, char out[DATE_TEXT_MAX])
{
    static _Thread_local int64_t day_start, day_end;
    static _Thread_local char day_text[LEDGER_PERIOD_LABEL_MAX + 1];
    if (ts_ns < day_start || ts_ns >= day_end || day_text[0] == '\0')
        statement_period_of(ts_ns, PERIOD_DAILY, &day_start, &day_end, day_text);
    LEDGER_ASSERT(strlen(day_text) < DATE_TEXT_MAX);
    memcpy(out, day_text, strlen(day_text) + 1);
}

/* Local midnight starting the date in *date (year, month, day; the day may be out of range and is
 * normalized). *date becomes the normalized broken-down time, for labels. */
static int64_t local_midnight_ns(struct tm *date)
{
    struct tm t = {0};
    t.tm_year = date->tm_year;
    t.tm_mon = date->tm_mon;
    t.tm_mday = date->tm_mday;
    t.tm_isdst = -1;
    time_t sec = mktime(&t);
    *date = t;
    return (int64_t)sec * NS_PER_S;
}

void statement_period_of(int64_t ts_ns, enum period_kind kind, int64_t *start_ns, int64_t *end_ns,
                         char label[LEDGER_PERIOD_LABEL_MAX + 1])
{
    long frac;
    time_t sec = split_ns(ts_ns, &frac);
    struct tm day;
    LEDGER_ASSERT(localtime_r(&sec, &day) != NULL);
    struct tm first = day, next;
    const char *fmt = "%Y-%m-%d";
    if (kind == PERIOD_WEEKLY) {
        first.tm_mday -= (day.tm_wday + 6) % 7; /* back to Monday */
        fmt = "%G-W%V";                         /* ISO 8601 week-year and week */
    } else if (kind == PERIOD_MONTHLY) {
        first.tm_mday = 1;
        fmt = "%Y-%m";
    } else {
        LEDGER_ASSERT(kind == PERIOD_DAILY);
    }
    *start_ns = local_midnight_ns(&first);
    next = first;
    if (kind == PERIOD_DAILY)
        next.tm_mday += 1;
    else if (kind == PERIOD_WEEKLY)
        next.tm_mday += 7;
    else
        next.tm_mon += 1;
    *end_ns = local_midnight_ns(&next);
    size_t n = strftime(label, LEDGER_PERIOD_LABEL_MAX + 1, fmt, &first);
    LEDGER_ASSERT(n > 0);
    LEDGER_ASSERT(*start_ns <= ts_ns && ts_ns < *end_ns);
}

/* ---- the output buffer ------------------------------------------------------------------------ */

struct sbuf {
    char *p;
    size_t cap;
    size_t len;  /* < cap whenever !failed: one byte is kept for the NUL */
    bool failed; /* something did not fit or could not be expressed */
};

static void sbuf_init(struct sbuf *b, char *out, size_t cap)
{
    b->p = out;
    b->cap = cap;
    b->len = 0;
    b->failed = out == NULL || cap == 0;
}

static void put_mem(struct sbuf *b, const char *s, size_t n)
{
    if (b->failed || n >= b->cap - b->len) {
        b->failed = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put(struct sbuf *b, const char *s)
{
    put_mem(b, s, strlen(s));
}

/* Decimal integers without printf: pages of operations render tens of thousands of them a second. */
static void put_u64(struct sbuf *b, uint64_t v)
{
    char t[20];
    size_t n = sizeof t;
    do {
        t[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    put_mem(b, t + n, sizeof t - n);
}

static void put_i64(struct sbuf *b, int64_t v)
{
    if (v < 0) {
        put_mem(b, "-", 1);
        put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(b, (uint64_t)v);
    }
}

__attribute__((format(printf, 2, 3))) static void put_fmt(struct sbuf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start above (a false finding of clang 14) */
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->cap - b->len) {
        b->failed = true;
        return;
    }
    b->len += (size_t)n;
}

static size_t sbuf_finish(struct sbuf *b)
{
    if (b->failed) {
        if (b->p != NULL && b->cap > 0)
            b->p[0] = '\0';
        return 0;
    }
    LEDGER_ASSERT(b->len < b->cap);
    b->p[b->len] = '\0';
    return b->len;
}

/* ---- text ------------------------------------------------------------------------------------- */

/* Decodes one UTF-8 character of s[0..n) (n >= 1) into *cp; an invalid or truncated sequence
 * (overlong, surrogate, > U+10FFFF) yields U+FFFD for its first byte. Returns the bytes used. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len = c < 0x80                 ? 1
                 : c >= 0xC2 && c <= 0xDF ? 2
                 : c >= 0xE0 && c <= 0xEF ? 3
                 : c >= 0xF0 && c <= 0xF4 ? 4
                                          : 0;
    if (len == 1) {
        *cp = c;
        return 1;
    }
    uint32_t v = len == 2 ? c & 0x1Fu : len == 3 ? c & 0x0Fu : c & 0x07u;
    if (len == 0 || len > n)
        goto out_invalid;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            goto out_invalid;
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    bool overlong = (len == 3 && v < 0x800) || (len == 4 && v < 0x10000);
    if (overlong || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        goto out_invalid;
    *cp = v;
    return len;
out_invalid:
    *cp = 0xFFFD;
    return 1;
}

static void put_cp(struct sbuf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    put_mem(b, u, n);
}

/* A JSON string literal of the text in s (at most field bytes, up to its NUL). */
static void put_json_str(struct sbuf *b, const char *s, size_t field)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strnlen(s, field);
    put(b, "\"");
    for (size_t i = 0; i < n && !b->failed;) {
        uint32_t cp;
        i += utf8_next(u + i, n - i, &cp);
        if (cp == '"' || cp == '\\')
            put_fmt(b, "\\%c", (char)cp);
        else if (cp == '\n')
            put(b, "\\n");
        else if (cp == '\r')
            put(b, "\\r");
        else if (cp == '\t')
            put(b, "\\t");
        else if (cp < 0x20)
            put_fmt(b, "\\u%04x", (unsigned)cp);
        else
            put_cp(b, cp);
    }
    put(b, "\"");
}

static bool xml_char_allowed(uint32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* XML character data of s (at most field bytes), escaped for text and attribute values alike, cut
 * after chars_max characters. */
static void put_xml_text(struct sbuf *b, const char *s, size_t field, size_t chars_max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strnlen(s, field);
    for (size_t i = 0, chars = 0; i < n && chars < chars_max && !b->failed; chars++) {
        uint32_t cp;
        i += utf8_next(u + i, n - i, &cp);
        switch (cp) {
        case '&': put(b, "&amp;"); break;
        case '<': put(b, "&lt;"); break;
        case '>': put(b, "&gt;"); break;
        case '"': put(b, "&quot;"); break;
        case '\'': put(b, "&apos;"); break;
        case '\r': put(b, "&#13;"); break; /* a literal CR would be read back as LF */
        default: put_cp(b, xml_char_allowed(cp) ? cp : 0xFFFD); break;
        }
    }
}

/* One CSV field (RFC 4180): quoted, with quotes doubled, when it holds a comma, quote, CR or LF. */
static void put_csv_text(struct sbuf *b, const char *s, size_t field)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strnlen(s, field);
    bool quote = false;
    for (size_t i = 0; i < n; i++)
        quote = quote || s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (quote)
        put(b, "\"");
    for (size_t i = 0; i < n && !b->failed;) {
        uint32_t cp;
        i += utf8_next(u + i, n - i, &cp);
        if (cp == '"')
            put(b, "\"\"");
        else
            put_cp(b, cp);
    }
    if (quote)
        put(b, "\"");
}

static void put_id(struct sbuf *b, const struct ledger_id *id)
{
    char text[LEDGER_ID_TEXT_LEN + 1];
    ledger_id_format(id, text);
    put(b, text);
}

/* The id as 32 hex digits (the UUID text without its dashes). */
static void put_id_hex(struct sbuf *b, const struct ledger_id *id)
{
    char text[LEDGER_ID_TEXT_LEN + 1];
    ledger_id_format(id, text);
    for (const char *c = text; *c != '\0'; c++) {
        if (*c != '-')
            put_mem(b, c, 1);
    }
}

static void put_time(struct sbuf *b, int64_t ts_ns)
{
    char text[TIME_TEXT_MAX];
    format_utc_ns(ts_ns, text);
    put(b, text);
}

static void put_date(struct sbuf *b, int64_t ts_ns)
{
    char text[DATE_TEXT_MAX];
    format_local_date(ts_ns, text);
    put(b, text);
}

/* ---- JSON ------------------------------------------------------------------------------------- */

static void put_json_field_str(struct sbuf *b, const char *key, const char *s, size_t field)
{
    put_fmt(b, ",\"%s\":", key);
    put_json_str(b, s, field);
}

static void put_json_field_id(struct sbuf *b, const char *key, const struct ledger_id *id)
{
    put_fmt(b, ",\"%s\":\"", key);
    put_id(b, id);
    put(b, "\"");
}

static void put_json_field_time(struct sbuf *b, const char *key, int64_t ts_ns)
{
    put_fmt(b, ",\"%s\":\"", key);
    put_time(b, ts_ns);
    put(b, "\"");
}

static void put_operation_json(struct sbuf *b, const struct operation *op)
{
    put(b, "{\"seq\":");
    put_u64(b, op->seq);
    put_json_field_id(b, "account_id", &op->account_id);
    put(b, ",\"direction\":\"");
    put(b, op_direction_name((enum op_direction)op->direction));
    put(b, "\",\"kind\":\"");
    put(b, op_kind_name((enum op_kind)op->kind));
    put(b, "\",\"amount\":");
    put_i64(b, op->amount);
    put_json_field_str(b, "currency", op->currency, sizeof op->currency);
    put_json_field_time(b, "booked_at", op->booked_ns);
    put(b, ",\"value_date\":\"");
    put_date(b, op->value_ns);
    put(b, "\",\"balance_after\":");
    put_i64(b, op->balance_after);
    put_json_field_id(b, "operation_id", &op->operation_id);
    put_json_field_id(b, "counterparty_account_id", &op->counterparty_account_id);
    put_json_field_str(b, "counterparty_iban", op->counterparty_iban, sizeof op->counterparty_iban);
    put_json_field_str(b, "reference", op->reference, sizeof op->reference);
    put_json_field_str(b, "period", op->period, sizeof op->period);
    put(b, "}");
}

size_t operation_render_json(const struct operation *op, char *out, size_t cap)
{
    struct sbuf b;
    sbuf_init(&b, out, cap);
    put_operation_json(&b, op);
    return sbuf_finish(&b);
}

size_t statement_render_json(const struct statement *s, const struct operation *entries, size_t n, char *out,
                             size_t cap)
{
    struct sbuf b;
    sbuf_init(&b, out, cap);
    put(&b, "{\"id\":\"");
    put_id(&b, &s->id);
    put(&b, "\"");
    put_json_field_id(&b, "account_id", &s->account_id);
    put_json_field_str(&b, "iban", s->iban, sizeof s->iban);
    put_json_field_str(&b, "currency", s->currency, sizeof s->currency);
    put_fmt(&b, ",\"number\":%lu", (unsigned long)s->number);
    put_json_field_str(&b, "period", s->period, sizeof s->period);
    put_fmt(&b, ",\"period_kind\":\"%s\"", period_kind_name((enum period_kind)s->period_kind));
    put_json_field_time(&b, "start", s->start_ns);
    put_json_field_time(&b, "end", s->end_ns);
    put_fmt(&b, ",\"opening_balance\":%lld,\"closing_balance\":%lld", (long long)s->opening,
            (long long)s->closing);
    put_fmt(&b, ",\"total_debits\":%lld,\"total_credits\":%lld", (long long)s->total_debits,
            (long long)s->total_credits);
    put(&b, ",\"entries\":[");
    for (size_t i = 0; i < n && !b.failed; i++) {
        if (i > 0)
            put(&b, ",");
        put_operation_json(&b, &entries[i]);
    }
    put(&b, "]}");
    return sbuf_finish(&b);
}

/* ---- CSV -------------------------------------------------------------------------------------- */

static void put_operation_csv(struct sbuf *b, const struct operation *op)
{
    put_fmt(b, "%llu,", (unsigned long long)op->seq);
    put_time(b, op->booked_ns);
    put(b, ",");
    put_date(b, op->value_ns);
    put_fmt(b, ",%s,%s,%lld,", op_direction_name((enum op_direction)op->direction),
            op_kind_name((enum op_kind)op->kind), (long long)op->amount);
    put_csv_text(b, op->currency, sizeof op->currency);
    put_fmt(b, ",%lld,", (long long)op->balance_after);
    put_csv_text(b, op->reference, sizeof op->reference);
    put(b, ",");
    put_csv_text(b, op->counterparty_iban, sizeof op->counterparty_iban);
    put(b, ",");
    put_id(b, &op->operation_id);
    put(b, "\r\n");
}

size_t statement_render_csv(const struct statement *s, const struct operation *entries, size_t n, char *out,
                            size_t cap)
{
    struct sbuf b;
    sbuf_init(&b, out, cap);
    (void)s; /* the statement's own fields are not columns: a plain table of its entries */
    put(&b, "seq,booked_at,value_date,direction,kind,amount,currency,balance_after,reference,"
            "counterparty_iban,operation_id\r\n");
    for (size_t i = 0; i < n && !b.failed; i++)
        put_operation_csv(&b, &entries[i]);
    return sbuf_finish(&b);
}

/* ---- camt.053.001.08 -------------------------------------------------------------------------- */

/* |minor| in major units with the currency's minor digits ("12.50", "1250", "1.250"); false when
 * the currency is unknown or the amount has more digits than the schema allows. */
static bool camt_amount_text(int64_t minor, const char *currency, char out[AMOUNT_TEXT_MAX])
{
    char code[4] = {0};
    memcpy(code, currency, 3);
    const struct currency_info *ci = money_currency_find(code);
    if (ci == NULL || ci->minor_units > CAMT_FRACTION_DIGITS_MAX)
        return false;
    uint64_t abs = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    if (abs >= 1000000000000000000ull)
        return false;
    uint64_t scale = 1;
    for (unsigned i = 0; i < ci->minor_units; i++)
        scale *= 10;
    int n = ci->minor_units == 0
                ? snprintf(out, AMOUNT_TEXT_MAX, "%llu", (unsigned long long)abs)
                : snprintf(out, AMOUNT_TEXT_MAX, "%llu.%0*llu", (unsigned long long)(abs / scale),
                           (int)ci->minor_units, (unsigned long long)(abs % scale));
    return n > 0 && n < AMOUNT_TEXT_MAX;
}

/* <tag Ccy="EUR">12.50</tag> */
static void put_camt_amount(struct sbuf *b, const char *tag, int64_t minor, const char *currency, size_t field)
{
    char text[AMOUNT_TEXT_MAX];
    if (!camt_amount_text(minor, currency, text)) {
        b->failed = true;
        return;
    }
    put_fmt(b, "<%s Ccy=\"", tag);
    put_xml_text(b, currency, field, TEXT_UNLIMITED);
    put_fmt(b, "\">%s</%s>\n", text, tag);
}

/* The schema's IBAN2007Identifier: [A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}. */
static bool camt_iban_ok(const char *iban, size_t field)
{
    size_t n = strnlen(iban, field);
    if (n < 5 || n > 34)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = iban[i];
        bool upper = c >= 'A' && c <= 'Z', digit = c >= '0' && c <= '9', lower = c >= 'a' && c <= 'z';
        if ((i < 2 && !upper) || (i >= 2 && i < 4 && !digit) || (i >= 4 && !upper && !digit && !lower))
            return false;
    }
    return true;
}

static void put_camt_balance(struct sbuf *b, const char *code, int64_t minor, const struct statement *s,
                             int64_t date_ns)
{
    put_fmt(b, "<Bal>\n<Tp><CdOrPrtry><Cd>%s</Cd></CdOrPrtry></Tp>\n", code);
    put_camt_amount(b, "Amt", minor, s->currency, sizeof s->currency);
    put_fmt(b, "<CdtDbtInd>%s</CdtDbtInd>\n<Dt><Dt>", minor >= 0 ? "CRDT" : "DBIT");
    put_date(b, date_ns);
    put(b, "</Dt></Dt>\n</Bal>\n");
}

/* Stmt up to and including Acct. */
static void put_camt_statement_head(struct sbuf *b, const struct statement *s)
{
    put(b, "<Stmt>\n<Id>");
    put_id_hex(b, &s->id);
    put_fmt(b, "</Id>\n<ElctrncSeqNb>%lu</ElctrncSeqNb>\n<LglSeqNb>%lu</LglSeqNb>\n<CreDtTm>",
            (unsigned long)s->number, (unsigned long)s->number);
    put_time(b, s->sealed_ns);
    put(b, "</CreDtTm>\n<FrToDt><FrDtTm>");
    put_time(b, s->start_ns);
    put(b, "</FrDtTm><ToDtTm>");
    put_time(b, s->end_ns);
    put(b, "</ToDtTm></FrToDt>\n<Acct>\n<Id>");
    if (camt_iban_ok(s->iban, sizeof s->iban)) {
        put(b, "<IBAN>");
        put_xml_text(b, s->iban, sizeof s->iban, TEXT_UNLIMITED);
        put(b, "</IBAN>");
    } else { /* an account without an IBAN (internal, settlement): its id, 32 characters */
        put(b, "<Othr><Id>");
        put_id_hex(b, &s->account_id);
        put(b, "</Id></Othr>");
    }
    put(b, "</Id>\n<Ccy>");
    put_xml_text(b, s->currency, sizeof s->currency, TEXT_UNLIMITED);
    put(b, "</Ccy>\n</Acct>\n");
}

/* TxsSummry: number and sum of the credit and of the debit entries listed. */
static void put_camt_summary(struct sbuf *b, const struct statement *s, const struct operation *entries, size_t n)
{
    int64_t sum[2] = {0, 0}; /* [0] credits, [1] debits */
    unsigned long long count[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        int side = entries[i].direction == OP_CREDIT ? 0 : 1;
        if (!money_add(sum[side], entries[i].amount, &sum[side]))
            b->failed = true;
        count[side]++;
    }
    static const char *const tags[2] = {"TtlCdtNtries", "TtlDbtNtries"};
    put(b, "<TxsSummry>\n");
    for (int side = 0; side < 2 && !b->failed; side++) {
        char text[AMOUNT_TEXT_MAX];
        if (!camt_amount_text(sum[side], s->currency, text)) {
            b->failed = true;
            break;
        }
        put_fmt(b, "<%s><NbOfNtries>%llu</NbOfNtries><Sum>%s</Sum></%s>\n", tags[side], count[side], text,
                tags[side]);
    }
    put(b, "</TxsSummry>\n");
}

/* BkTxCd: PMNT / ICDT (issued) or RCDT (received) credit transfers, CCRD customer card payments. */
static void put_camt_bank_tx_code(struct sbuf *b, const struct operation *op)
{
    bool credit = op->direction == OP_CREDIT;
    const char *family = credit ? "RCDT" : "ICDT", *sub = "ESCT"; /* SEPA credit transfer */
    if (op->kind == OP_KIND_DEPOSIT) {
        sub = "OTHR";
    } else if (op->kind == OP_KIND_CARD_PAYMENT || op->kind == OP_KIND_CARD_REFUND) {
        family = "CCRD";
        sub = "POSD"; /* point-of-sale debit card; a refund is a POSD credit */
    }
    put_fmt(b, "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>%s</Cd><SubFmlyCd>%s</SubFmlyCd></Fmly></Domn>"
               "</BkTxCd>\n", family, sub);
}

static void put_camt_entry(struct sbuf *b, const struct operation *op)
{
    LEDGER_ASSERT(op->direction == OP_CREDIT || op->direction == OP_DEBIT);
    bool credit = op->direction == OP_CREDIT;
    put(b, "<Ntry>\n");
    put_camt_amount(b, "Amt", op->amount, op->currency, sizeof op->currency);
    put_fmt(b, "<CdtDbtInd>%s</CdtDbtInd>\n<Sts><Cd>BOOK</Cd></Sts>\n<BookgDt><DtTm>", credit ? "CRDT" : "DBIT");
    put_time(b, op->booked_ns);
    put(b, "</DtTm></BookgDt>\n<ValDt><Dt>");
    put_date(b, op->value_ns);
    put(b, "</Dt></ValDt>\n<AcctSvcrRef>");
    put_id_hex(b, &op->operation_id);
    put(b, "</AcctSvcrRef>\n");
    put_camt_bank_tx_code(b, op);
    put(b, "<NtryDtls><TxDtls>\n<Refs><EndToEndId>");
    bool has_reference = op->reference[0] != '\0';
    if (has_reference)
        put_xml_text(b, op->reference, sizeof op->reference, CAMT_END_TO_END_ID_MAX);
    else
        put(b, "NOTPROVIDED");
    put(b, "</EndToEndId></Refs>\n");
    if (camt_iban_ok(op->counterparty_iban, sizeof op->counterparty_iban)) {
        put_fmt(b, "<RltdPties><%s><Id><IBAN>", credit ? "DbtrAcct" : "CdtrAcct");
        put_xml_text(b, op->counterparty_iban, sizeof op->counterparty_iban, TEXT_UNLIMITED);
        put_fmt(b, "</IBAN></Id></%s></RltdPties>\n", credit ? "DbtrAcct" : "CdtrAcct");
    }
    if (has_reference) {
        put(b, "<RmtInf><Ustrd>");
        put_xml_text(b, op->reference, sizeof op->reference, CAMT_USTRD_MAX);
        put(b, "</Ustrd></RmtInf>\n");
    }
    put(b, "</TxDtls></NtryDtls>\n</Ntry>\n");
}

size_t statement_render_camt053(const struct statement *s, const struct operation *entries, size_t n, char *out,
                                size_t cap)
{
    struct sbuf b;
    sbuf_init(&b, out, cap);
    put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\n<BkToCstmrStmt>\n"
            "<GrpHdr>\n<MsgId>");
    put_id_hex(&b, &s->id);
    put(&b, "</MsgId>\n<CreDtTm>");
    put_time(&b, s->sealed_ns);
    put(&b, "</CreDtTm>\n</GrpHdr>\n");
    put_camt_statement_head(&b, s);
    put_camt_balance(&b, "OPBD", s->opening, s, s->start_ns);
    put_camt_balance(&b, "CLBD", s->closing, s, s->end_ns > s->start_ns ? s->end_ns - 1 : s->end_ns);
    put_camt_summary(&b, s, entries, n);
    for (size_t i = 0; i < n && !b.failed; i++)
        put_camt_entry(&b, &entries[i]);
    put(&b, "</Stmt>\n</BkToCstmrStmt>\n</Document>\n");
    return sbuf_finish(&b);
}
