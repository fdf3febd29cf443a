/*
 * test_statements.c: statement periods (time zones, DST, ISO weeks) and the statement renderers
 * (JSON parsed back with jansson, CSV, camt.053.001.08 validated with libxml2 against the ISO
 * schema in $SHARED_DIR/iso20022/xsd, default "../shared").
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/events.h"
#include "projections/projections.h"

#define NS 1000000000ll
#define HOUR_NS (3600ll * NS)
#define OUT_MAX (1u << 20)
#define MANY_ENTRIES 300

static char out[OUT_MAX];

static void paris(void)
{
    setenv("TZ", "Europe/Paris", 1);
    tzset();
}

static int64_t utc_ns(int y, int mon, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
    return (int64_t)timegm(&tm) * NS;
}

/* ---- periods ---------------------------------------------------------------------------------- */

struct period_case {
    int64_t ts;
    enum period_kind kind;
    int64_t start, end;
    const char *label;
};

static void check_period(const struct period_case *c)
{
    int64_t start = 0, end = 0;
    char label[LEDGER_PERIOD_LABEL_MAX + 1];
    statement_period_of(c->ts, c->kind, &start, &end, label);
    cr_assert_str_eq(label, c->label);
    cr_assert_eq(start, c->start, "%s: start %lld, want %lld", c->label, (long long)start, (long long)c->start);
    cr_assert_eq(end, c->end, "%s: end %lld, want %lld", c->label, (long long)end, (long long)c->end);
    /* the boundaries belong to the right periods */
    statement_period_of(c->start, c->kind, &start, &end, label);
    cr_assert_str_eq(label, c->label);
    statement_period_of(c->end - 1, c->kind, &start, &end, label);
    cr_assert_str_eq(label, c->label);
    statement_period_of(c->end, c->kind, &start, &end, label);
    cr_assert_str_neq(label, c->label);
    cr_assert_eq(start, c->end, "the next period starts where this one ends");
}

Test(period, names_round_trip)
{
    /* Proves: the enum names are the documented ones and period_kind_parse accepts exactly them. */
    cr_assert_str_eq(op_kind_name(OP_KIND_TRANSFER), "transfer");
    cr_assert_str_eq(op_kind_name(OP_KIND_DEPOSIT), "deposit");
    cr_assert_str_eq(op_kind_name(OP_KIND_CARD_PAYMENT), "card_payment");
    cr_assert_str_eq(op_kind_name(OP_KIND_CARD_REFUND), "card_refund");
    cr_assert_str_eq(op_direction_name(OP_DEBIT), "debit");
    cr_assert_str_eq(op_direction_name(OP_CREDIT), "credit");
    static const enum period_kind kinds[] = {PERIOD_DAILY, PERIOD_WEEKLY, PERIOD_MONTHLY};
    static const char *const names[] = {"daily", "weekly", "monthly"};
    for (size_t i = 0; i < 3; i++) {
        enum period_kind k = 0;
        cr_assert_str_eq(period_kind_name(kinds[i]), names[i]);
        cr_assert(period_kind_parse(names[i], &k));
        cr_assert_eq(k, kinds[i]);
    }
    static const char *const bad[] = {"", "Daily", "daily ", "yearly", "week", "unknown"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum period_kind k = PERIOD_MONTHLY;
        cr_assert_not(period_kind_parse(bad[i], &k), "%s accepted", bad[i]);
    }
    enum period_kind k;
    cr_assert_not(period_kind_parse(NULL, &k));
}

Test(period, daily_paris_normal_and_dst_days, .init = paris)
{
    /* Proves: a Paris day runs from local midnight to local midnight: 24 h in winter and summer,
     * 23 h on 2026-03-29 (CET -> CEST) and 25 h on 2026-10-25 (CEST -> CET). */
    const struct period_case cases[] = {
        {utc_ns(2026, 11, 21, 5, 27, 51), PERIOD_DAILY, utc_ns(2026, 11, 20, 23, 0, 0),
         utc_ns(2026, 11, 21, 23, 0, 0), "2026-11-21"},
        {utc_ns(2026, 7, 14, 22, 30, 0), PERIOD_DAILY, utc_ns(2026, 7, 14, 22, 0, 0), utc_ns(2026, 7, 15, 22, 0, 0),
         "2026-07-15"},
        {utc_ns(2026, 3, 29, 12, 0, 0), PERIOD_DAILY, utc_ns(2026, 3, 28, 23, 0, 0), utc_ns(2026, 3, 29, 22, 0, 0),
         "2026-03-29"},
        {utc_ns(2026, 10, 25, 12, 0, 0), PERIOD_DAILY, utc_ns(2026, 10, 24, 22, 0, 0),
         utc_ns(2026, 10, 25, 23, 0, 0), "2026-10-25"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_period(&cases[i]);
    cr_assert_eq(cases[2].end - cases[2].start, 23 * HOUR_NS);
    cr_assert_eq(cases[3].end - cases[3].start, 25 * HOUR_NS);
}

Test(period, daily_at_the_dst_instants, .init = paris)
{
    /* Proves: the instants just before and after each DST jump stay in the same local day. */
    int64_t start, end;
    char label[LEDGER_PERIOD_LABEL_MAX + 1];
    const int64_t jumps[] = {utc_ns(2026, 3, 29, 1, 0, 0), utc_ns(2026, 10, 25, 1, 0, 0)};
    for (size_t i = 0; i < 2; i++) {
        statement_period_of(jumps[i] - 1, PERIOD_DAILY, &start, &end, label);
        cr_assert_str_eq(label, i == 0 ? "2026-03-29" : "2026-10-25");
        statement_period_of(jumps[i], PERIOD_DAILY, &start, &end, label);
        cr_assert_str_eq(label, i == 0 ? "2026-03-29" : "2026-10-25");
    }
}

Test(period, weekly_iso_weeks, .init = paris)
{
    /* Proves: weeks run Monday 00:00 local to the next Monday, labelled with the ISO 8601 week-year:
     * 2026-12-31 and 2027-01-03 are in 2026-W53, 2027-01-04 starts 2027-W01, 2026-01-01 is in
     * 2026-W01; DST weeks are 167 and 169 hours long. */
    const struct period_case cases[] = {
        {utc_ns(2026, 11, 21, 12, 0, 0), PERIOD_WEEKLY, utc_ns(2026, 11, 15, 23, 0, 0),
         utc_ns(2026, 11, 22, 23, 0, 0), "2026-W47"},
        {utc_ns(2026, 12, 31, 12, 0, 0), PERIOD_WEEKLY, utc_ns(2026, 12, 27, 23, 0, 0),
         utc_ns(2027, 1, 3, 23, 0, 0), "2026-W53"},
        {utc_ns(2027, 1, 3, 22, 59, 59), PERIOD_WEEKLY, utc_ns(2026, 12, 27, 23, 0, 0),
         utc_ns(2027, 1, 3, 23, 0, 0), "2026-W53"},
        {utc_ns(2027, 1, 4, 8, 0, 0), PERIOD_WEEKLY, utc_ns(2027, 1, 3, 23, 0, 0), utc_ns(2027, 1, 10, 23, 0, 0),
         "2027-W01"},
        {utc_ns(2026, 1, 1, 0, 0, 0), PERIOD_WEEKLY, utc_ns(2025, 12, 28, 23, 0, 0),
         utc_ns(2026, 1, 4, 23, 0, 0), "2026-W01"},
        {utc_ns(2026, 3, 25, 12, 0, 0), PERIOD_WEEKLY, utc_ns(2026, 3, 22, 23, 0, 0),
         utc_ns(2026, 3, 29, 22, 0, 0), "2026-W13"},
        {utc_ns(2026, 10, 21, 12, 0, 0), PERIOD_WEEKLY, utc_ns(2026, 10, 18, 22, 0, 0),
         utc_ns(2026, 10, 25, 23, 0, 0), "2026-W43"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_period(&cases[i]);
    cr_assert_eq(cases[5].end - cases[5].start, 167 * HOUR_NS);
    cr_assert_eq(cases[6].end - cases[6].start, 169 * HOUR_NS);
}

Test(period, monthly, .init = paris)
{
    /* Proves: months run from the 1st 00:00 local to the next 1st, across DST and the year end. */
    const struct period_case cases[] = {
        {utc_ns(2026, 11, 21, 12, 0, 0), PERIOD_MONTHLY, utc_ns(2026, 10, 31, 23, 0, 0),
         utc_ns(2026, 11, 30, 23, 0, 0), "2026-11"},
        {utc_ns(2026, 3, 15, 12, 0, 0), PERIOD_MONTHLY, utc_ns(2026, 2, 28, 23, 0, 0),
         utc_ns(2026, 3, 31, 22, 0, 0), "2026-03"},
        {utc_ns(2026, 12, 31, 22, 59, 59), PERIOD_MONTHLY, utc_ns(2026, 11, 30, 23, 0, 0),
         utc_ns(2026, 12, 31, 23, 0, 0), "2026-12"},
        {utc_ns(2026, 12, 31, 23, 0, 0), PERIOD_MONTHLY, utc_ns(2026, 12, 31, 23, 0, 0),
         utc_ns(2027, 1, 31, 23, 0, 0), "2027-01"},
        {utc_ns(2028, 2, 29, 12, 0, 0), PERIOD_MONTHLY, utc_ns(2028, 1, 31, 23, 0, 0),
         utc_ns(2028, 2, 29, 23, 0, 0), "2028-02"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_period(&cases[i]);
    cr_assert_eq(cases[1].end - cases[1].start, (31 * 24 - 1) * HOUR_NS);
}

Test(period, utc_and_before_1970)
{
    /* Proves: the zone is the process's (UTC here) and instants before 1970 round down, not up. */
    setenv("TZ", "UTC", 1);
    tzset();
    const struct period_case cases[] = {
        {utc_ns(2026, 11, 21, 0, 0, 0), PERIOD_DAILY, utc_ns(2026, 11, 21, 0, 0, 0),
         utc_ns(2026, 11, 22, 0, 0, 0), "2026-11-21"},
        {-1, PERIOD_DAILY, utc_ns(1969, 12, 31, 0, 0, 0), 0, "1969-12-31"},
        {-1, PERIOD_MONTHLY, utc_ns(1969, 12, 1, 0, 0, 0), 0, "1969-12"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_period(&cases[i]);
}

/* ---- sample data ------------------------------------------------------------------------------ */

static void set_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    cr_assert(n < cap, "test text too long: %s", src);
    memcpy(dst, src, n + 1);
}

static struct operation make_op(uint64_t seq, enum op_direction dir, enum op_kind kind, int64_t amount,
                                const char *ccy, const char *reference)
{
    struct operation op;
    memset(&op, 0, sizeof op);
    op.account_id = ledger_id_from_name("account:alice");
    op.seq = seq;
    op.direction = (uint8_t)dir;
    op.kind = (uint8_t)kind;
    op.booked_ns = utc_ns(2026, 11, 21, 5, 27, 51) + 843369037 + (int64_t)seq * NS;
    op.value_ns = op.booked_ns;
    op.amount = amount;
    set_text(op.currency, sizeof op.currency, ccy);
    char name[64];
    snprintf(name, sizeof name, "transfer:%llu", (unsigned long long)seq);
    op.operation_id = ledger_id_from_name(name);
    op.counterparty_account_id = ledger_id_from_name("account:bob");
    set_text(op.counterparty_iban, sizeof op.counterparty_iban, "DE89370400440532013000");
    set_text(op.reference, sizeof op.reference, reference);
    set_text(op.period, sizeof op.period, "2026-11");
    return op;
}

static struct statement make_statement(const char *ccy, int64_t opening)
{
    struct statement s;
    memset(&s, 0, sizeof s);
    s.id = ledger_id_from_name("statement:alice:2026-11");
    s.account_id = ledger_id_from_name("account:alice");
    set_text(s.iban, sizeof s.iban, "FR7630006000011234567890189");
    set_text(s.currency, sizeof s.currency, ccy);
    s.number = 7;
    set_text(s.period, sizeof s.period, "2026-11");
    s.period_kind = PERIOD_MONTHLY;
    s.start_ns = utc_ns(2026, 10, 31, 23, 0, 0);
    s.end_ns = utc_ns(2026, 11, 30, 23, 0, 0);
    s.opening = opening;
    s.closing = opening;
    s.sealed_seq = 1000;
    s.sealed_ns = utc_ns(2026, 12, 1, 0, 5, 0);
    return s;
}

/* Appends op to the statement: running balance, totals, entry count. */
static void book(struct statement *s, struct operation *ops, struct operation op)
{
    if (op.direction == OP_CREDIT) {
        s->closing += op.amount;
        s->total_credits += op.amount;
    } else {
        s->closing -= op.amount;
        s->total_debits += op.amount;
    }
    op.balance_after = s->closing;
    ops[s->entries++] = op;
}

/* n entries cycling through kinds and directions, amounts 1..n * 1250 minor units. */
static size_t fill(struct statement *s, struct operation *ops, size_t n, const char *ccy)
{
    static const enum op_kind kinds[] = {OP_KIND_TRANSFER, OP_KIND_DEPOSIT, OP_KIND_CARD_PAYMENT,
                                         OP_KIND_CARD_REFUND};
    for (size_t i = 0; i < n; i++) {
        enum op_kind kind = kinds[i % 4];
        enum op_direction dir = kind == OP_KIND_DEPOSIT || kind == OP_KIND_CARD_REFUND ? OP_CREDIT
                                : i % 3 == 0                                       ? OP_CREDIT
                                                                                   : OP_DEBIT;
        char ref[64] = "";
        if (i % 5 != 0)
            snprintf(ref, sizeof ref, "invoice %zu", i);
        book(s, ops, make_op(100 + i, dir, kind, (int64_t)(i + 1) * 1250, ccy, ref));
    }
    return n;
}

/* ---- JSON ------------------------------------------------------------------------------------- */

static json_t *parse_json(const char *text, size_t len)
{
    json_error_t err;
    json_t *j = json_loadb(text, len, 0, &err);
    cr_assert_not_null(j, "invalid JSON (%s at %d): %.*s", err.text, err.position, (int)len, text);
    return j;
}

static const char *jstr(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

static long long jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

Test(json, operation_fields, .init = paris)
{
    /* Proves: an operation renders as one JSON object with every documented field and value: RFC
     * 3339 UTC time with nanoseconds, the local value date, UUID texts, escaped reference. */
    struct operation op = make_op(42, OP_DEBIT, OP_KIND_CARD_PAYMENT, 1250, "EUR", "Caf\xc3\xa9 \"Le Zinc\" \\ 1\n2\t\x01");
    op.balance_after = -300;
    op.value_ns = utc_ns(2026, 11, 21, 23, 30, 0); /* 00:30 in Paris: the 22nd */
    size_t len = operation_render_json(&op, out, sizeof out);
    cr_assert_gt(len, 0);
    cr_assert_eq(strlen(out), len);
    json_t *j = parse_json(out, len);
    cr_assert_eq(json_object_size(j), 14);
    cr_assert_eq(jint(j, "seq"), 42);
    char id[LEDGER_ID_TEXT_LEN + 1];
    ledger_id_format(&op.account_id, id);
    cr_assert_str_eq(jstr(j, "account_id"), id);
    cr_assert_str_eq(jstr(j, "direction"), "debit");
    cr_assert_str_eq(jstr(j, "kind"), "card_payment");
    cr_assert_eq(jint(j, "amount"), 1250);
    cr_assert_str_eq(jstr(j, "currency"), "EUR");
    cr_assert_str_eq(jstr(j, "booked_at"), "2026-11-21T05:28:33.843369037Z");
    cr_assert_str_eq(jstr(j, "value_date"), "2026-11-22");
    cr_assert_eq(jint(j, "balance_after"), -300);
    ledger_id_format(&op.operation_id, id);
    cr_assert_str_eq(jstr(j, "operation_id"), id);
    ledger_id_format(&op.counterparty_account_id, id);
    cr_assert_str_eq(jstr(j, "counterparty_account_id"), id);
    cr_assert_str_eq(jstr(j, "counterparty_iban"), "DE89370400440532013000");
    cr_assert_str_eq(jstr(j, "reference"), op.reference);
    cr_assert_str_eq(jstr(j, "period"), "2026-11");
    json_decref(j);
}

Test(json, invalid_utf8_becomes_valid_json)
{
    /* Proves: bytes that are not UTF-8 (stray continuation, overlong, surrogate, truncated) come out
     * as U+FFFD, so the output is always valid JSON; a full field without NUL is read to its size. */
    struct operation op = make_op(1, OP_CREDIT, OP_KIND_TRANSFER, 1, "EUR", "a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xe2\x82");
    size_t len = operation_render_json(&op, out, sizeof out);
    json_t *j = parse_json(out, len);
    const char *want = "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                       "d\xef\xbf\xbd\xef\xbf\xbd";
    cr_assert_str_eq(jstr(j, "reference"), want);
    json_decref(j);
    memset(op.reference, 'x', sizeof op.reference); /* no NUL at all */
    len = operation_render_json(&op, out, sizeof out);
    j = parse_json(out, len);
    cr_assert_eq(strlen(jstr(j, "reference")), sizeof op.reference);
    json_decref(j);
}

Test(json, statement_fields_and_entries, .init = paris)
{
    /* Proves: a statement renders with its documented fields and its entries in order. */
    struct operation ops[MANY_ENTRIES];
    struct statement s = make_statement("EUR", 10000);
    fill(&s, ops, 5, "EUR");
    size_t len = statement_render_json(&s, ops, s.entries, out, sizeof out);
    json_t *j = parse_json(out, len);
    char id[LEDGER_ID_TEXT_LEN + 1];
    ledger_id_format(&s.id, id);
    cr_assert_str_eq(jstr(j, "id"), id);
    ledger_id_format(&s.account_id, id);
    cr_assert_str_eq(jstr(j, "account_id"), id);
    cr_assert_str_eq(jstr(j, "iban"), "FR7630006000011234567890189");
    cr_assert_str_eq(jstr(j, "currency"), "EUR");
    cr_assert_eq(jint(j, "number"), 7);
    cr_assert_str_eq(jstr(j, "period"), "2026-11");
    cr_assert_str_eq(jstr(j, "period_kind"), "monthly");
    cr_assert_str_eq(jstr(j, "start"), "2026-10-31T23:00:00.000000000Z");
    cr_assert_str_eq(jstr(j, "end"), "2026-11-30T23:00:00.000000000Z");
    cr_assert_eq(jint(j, "opening_balance"), 10000);
    cr_assert_eq(jint(j, "closing_balance"), s.closing);
    cr_assert_eq(jint(j, "total_debits"), s.total_debits);
    cr_assert_eq(jint(j, "total_credits"), s.total_credits);
    json_t *entries = json_object_get(j, "entries");
    cr_assert_eq(json_array_size(entries), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *e = json_array_get(entries, i);
        cr_assert_eq(jint(e, "seq"), (long long)ops[i].seq);
        cr_assert_eq(jint(e, "balance_after"), ops[i].balance_after);
        cr_assert_str_eq(jstr(e, "reference"), ops[i].reference);
    }
    json_decref(j);
    len = statement_render_json(&s, ops, 0, out, sizeof out);
    j = parse_json(out, len);
    cr_assert_eq(json_array_size(json_object_get(j, "entries")), 0);
    json_decref(j);
}

/* ---- buffer bounds (all renderers) ------------------------------------------------------------ */

enum renderer { R_OP_JSON, R_JSON, R_CSV, R_CAMT };

static size_t render(enum renderer r, const struct statement *s, const struct operation *ops, size_t n, char *buf,
                     size_t cap)
{
    switch (r) {
    case R_OP_JSON: return operation_render_json(&ops[0], buf, cap);
    case R_JSON: return statement_render_json(s, ops, n, buf, cap);
    case R_CSV: return statement_render_csv(s, ops, n, buf, cap);
    case R_CAMT: return statement_render_camt053(s, ops, n, buf, cap);
    }
    return 0;
}

Test(bounds, every_cap_too_small_returns_zero_and_writes_nothing_past_it)
{
    /* Proves: for every cap from 0 to the full length, each renderer returns 0 and writes nothing at
     * or beyond cap; with room for the NUL it returns the length and NUL-terminates. */
    struct operation ops[4];
    struct statement s = make_statement("EUR", 0);
    fill(&s, ops, 4, "EUR");
    static char buf[1 << 14];
    for (enum renderer r = R_OP_JSON; r <= R_CAMT; r++) {
        size_t full = render(r, &s, ops, 4, out, sizeof out);
        cr_assert(full > 0 && full + 64 < sizeof buf);
        for (size_t cap = 0; cap <= full + 1; cap++) {
            memset(buf, 0x5A, sizeof buf);
            size_t got = render(r, &s, ops, 4, cap == 0 ? NULL : buf, cap);
            for (size_t i = cap; i < full + 64; i++)
                cr_assert_eq(buf[i], 0x5A, "renderer %d wrote at %zu with cap %zu", r, i, cap);
            if (cap <= full) {
                cr_assert_eq(got, 0, "renderer %d: cap %zu of %zu", r, cap, full);
                continue;
            }
            cr_assert_eq(got, full);
            cr_assert_eq(buf[full], '\0');
            cr_assert_eq(memcmp(buf, out, full), 0);
        }
    }
}

/* ---- CSV -------------------------------------------------------------------------------------- */

static size_t count_lines(const char *text)
{
    size_t lines = 0;
    for (const char *p = text; (p = strstr(p, "\r\n")) != NULL; p += 2)
        lines++;
    return lines;
}

Test(csv, header_and_one_line_per_entry, .init = paris)
{
    /* Proves: the CSV is the header line then exactly one CRLF-terminated line per entry, amounts
     * in minor units, and nothing else (no comment or summary rows). */
    struct operation ops[MANY_ENTRIES];
    struct statement s = make_statement("EUR", 0);
    fill(&s, ops, 3, "EUR");
    size_t len = statement_render_csv(&s, ops, 3, out, sizeof out);
    cr_assert_gt(len, 0);
    const char *header = "seq,booked_at,value_date,direction,kind,amount,currency,balance_after,reference,"
                         "counterparty_iban,operation_id\r\n";
    cr_assert_eq(strncmp(out, header, strlen(header)), 0, "%s", out);
    cr_assert_eq(count_lines(out), 4);
    cr_assert_eq(out[len - 2], '\r');
    char id[LEDGER_ID_TEXT_LEN + 1], want[512];
    ledger_id_format(&ops[1].operation_id, id);
    snprintf(want, sizeof want,
             "\r\n101,2026-11-21T05:29:32.843369037Z,2026-11-21,credit,deposit,2500,EUR,3750,invoice 1,"
             "DE89370400440532013000,%s\r\n",
             id);
    cr_assert_not_null(strstr(out, want), "%s", out);
    len = statement_render_csv(&s, ops, 0, out, sizeof out);
    cr_assert_eq(len, strlen(header));
    cr_assert_eq(count_lines(out), 1);
}

Test(csv, quotes_commas_quotes_and_newlines)
{
    /* Proves: RFC 4180 quoting: fields holding a comma, quote or line break are quoted, quotes
     * doubled; plain fields are left bare. */
    struct operation ops[3];
    struct statement s = make_statement("EUR", 0);
    book(&s, ops, make_op(1, OP_DEBIT, OP_KIND_TRANSFER, 5, "EUR", "rent, \"May\""));
    book(&s, ops, make_op(2, OP_DEBIT, OP_KIND_TRANSFER, 5, "EUR", "two\r\nlines"));
    book(&s, ops, make_op(3, OP_DEBIT, OP_KIND_TRANSFER, 5, "EUR", "plain"));
    size_t len = statement_render_csv(&s, ops, 3, out, sizeof out);
    cr_assert_gt(len, 0);
    cr_assert_not_null(strstr(out, ",-5,\"rent, \"\"May\"\"\",DE89"), "%s", out);
    cr_assert_not_null(strstr(out, ",-10,\"two\r\nlines\",DE89"), "%s", out);
    cr_assert_not_null(strstr(out, ",-15,plain,DE89"), "%s", out);
    cr_assert_eq(count_lines(out), 5, "the quoted CRLF is inside a field");
}

/* ---- camt.053 --------------------------------------------------------------------------------- */

static char schema_error[512];

static void on_schema_error(void *ctx, xmlErrorPtr err)
{
    (void)ctx;
    if (schema_error[0] == '\0' && err != NULL && err->message != NULL)
        snprintf(schema_error, sizeof schema_error, "line %d: %s", err->line, err->message);
}

/* 0 when the document validates against camt.053.001.08.xsd; the first error is in schema_error. */
static int camt_validate(const char *xml, size_t len)
{
    const char *dir = getenv("SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/iso20022/xsd/camt.053.001.08.xsd", dir != NULL ? dir : "../shared");
    xmlSchemaParserCtxtPtr pctx = xmlSchemaNewParserCtxt(path);
    cr_assert_not_null(pctx);
    xmlSchemaPtr schema = xmlSchemaParse(pctx);
    cr_assert_not_null(schema, "cannot load %s (set SHARED_DIR)", path);
    xmlSchemaValidCtxtPtr vctx = xmlSchemaNewValidCtxt(schema);
    cr_assert_not_null(vctx);
    schema_error[0] = '\0';
    xmlSchemaSetValidStructuredErrors(vctx, on_schema_error, NULL);
    int rc = -1;
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "camt053.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
    if (doc != NULL) {
        rc = xmlSchemaValidateDoc(vctx, doc);
        xmlFreeDoc(doc);
    } else {
        snprintf(schema_error, sizeof schema_error, "not well-formed XML");
    }
    xmlSchemaFreeValidCtxt(vctx);
    xmlSchemaFree(schema);
    xmlSchemaFreeParserCtxt(pctx);
    return rc;
}

static size_t render_valid_camt(const struct statement *s, const struct operation *ops, size_t n)
{
    size_t len = statement_render_camt053(s, ops, n, out, sizeof out);
    cr_assert_gt(len, 0);
    cr_assert_eq(camt_validate(out, len), 0, "invalid camt.053: %s\n%s", schema_error, out);
    return len;
}

/* The k-th (from 0, counted down *k) element named name under node, in document order. */
static xmlNodePtr xml_find(xmlNodePtr node, const char *name, int *k)
{
    for (; node != NULL; node = node->next) {
        if (node->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrcmp(node->name, (const xmlChar *)name) == 0 && (*k)-- == 0)
            return node;
        xmlNodePtr found = xml_find(node->children, name, k);
        if (found != NULL)
            return found;
    }
    return NULL;
}

/* Text of the k-th (from 0) element named name in document order, malloc'ed; NULL if none. */
static char *xml_text(const char *xml, size_t len, const char *name, int k)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "camt053.xml", NULL, XML_PARSE_NONET);
    cr_assert_not_null(doc);
    xmlNodePtr node = xml_find(xmlDocGetRootElement(doc), name, &k);
    char *found = NULL;
    if (node != NULL) {
        xmlChar *c = xmlNodeGetContent(node);
        found = strdup((const char *)c);
        xmlFree(c);
    }
    xmlFreeDoc(doc);
    return found;
}

static void expect_xml(const char *name, int k, const char *want)
{
    char *got = xml_text(out, strlen(out), name, k);
    cr_assert_not_null(got, "no %s #%d in\n%s", name, k, out);
    cr_assert_str_eq(got, want, "%s #%d", name, k);
    free(got);
}

Test(camt053, genkgo_sample_validates)
{
    /* Proves: the validator accepts a published valid camt.053.001.08 document. */
    const char *dir = getenv("SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/iso20022/samples/camt.053/genkgo__camt053.v8.xml", dir ? dir : "../shared");
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    size_t len = fread(out, 1, sizeof out - 1, f);
    fclose(f);
    cr_assert_eq(camt_validate(out, len), 0, "%s", schema_error);
}

Test(camt053, no_entries_validates, .init = paris)
{
    /* Proves: a statement without entries is a valid document with the header, both balances,
     * the statement number as LglSeqNb and zero totals. */
    struct statement s = make_statement("EUR", 1250);
    render_valid_camt(&s, NULL, 0);
    char hex[33] = {0}, id[LEDGER_ID_TEXT_LEN + 1];
    ledger_id_format(&s.id, id);
    for (size_t i = 0, k = 0; id[i] != '\0'; i++)
        if (id[i] != '-')
            hex[k++] = id[i];
    expect_xml("MsgId", 0, hex);
    expect_xml("CreDtTm", 0, "2026-12-01T00:05:00.000000000Z");
    expect_xml("LglSeqNb", 0, "7");
    expect_xml("ElctrncSeqNb", 0, "7");
    expect_xml("FrDtTm", 0, "2026-10-31T23:00:00.000000000Z");
    expect_xml("IBAN", 0, "FR7630006000011234567890189");
    expect_xml("Cd", 0, "OPBD");
    expect_xml("Amt", 0, "12.50");
    expect_xml("Dt", 1, "2026-11-01"); /* Bal/Dt/Dt: the outer Dt is #0 */
    expect_xml("Cd", 1, "CLBD");
    expect_xml("Dt", 3, "2026-11-30");
    expect_xml("NbOfNtries", 0, "0");
    expect_xml("Sum", 0, "0.00");
    cr_assert_null(strstr(out, "<Ntry>"));
}

Test(camt053, one_entry_validates, .init = paris)
{
    /* Proves: one entry carries Amt, CdtDbtInd, Sts BOOK, BookgDt, ValDt, BkTxCd, EndToEndId and
     * the remittance text, and the document validates. */
    struct operation ops[1];
    struct statement s = make_statement("EUR", 0);
    book(&s, ops, make_op(9, OP_DEBIT, OP_KIND_TRANSFER, 1250, "EUR", "invoice 17"));
    render_valid_camt(&s, ops, 1);
    expect_xml("CdtDbtInd", 1, "DBIT"); /* closing balance -12.50 */
    cr_assert_not_null(strstr(out, "<Ntry>\n<Amt Ccy=\"EUR\">12.50</Amt>\n<CdtDbtInd>DBIT</CdtDbtInd>\n"
                                   "<Sts><Cd>BOOK</Cd></Sts>"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "<BookgDt><DtTm>2026-11-21T05:28:00.843369037Z</DtTm></BookgDt>"));
    cr_assert_not_null(strstr(out, "<ValDt><Dt>2026-11-21</Dt></ValDt>"));
    cr_assert_not_null(strstr(out, "<Fmly><Cd>ICDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"));
    expect_xml("EndToEndId", 0, "invoice 17");
    expect_xml("Ustrd", 0, "invoice 17");
    expect_xml("IBAN", 1, "DE89370400440532013000");
}

Test(camt053, many_entries_validate, .init = paris)
{
    /* Proves: hundreds of entries of every kind and direction, some without reference, validate;
     * an entry without reference says NOTPROVIDED and has no remittance text. */
    static struct operation ops[MANY_ENTRIES];
    struct statement s = make_statement("EUR", -5000);
    fill(&s, ops, MANY_ENTRIES, "EUR");
    render_valid_camt(&s, ops, MANY_ENTRIES);
    expect_xml("EndToEndId", 0, "NOTPROVIDED");
    expect_xml("EndToEndId", 1, "invoice 1");
    expect_xml("Ustrd", 0, "invoice 1");
    size_t count = 0;
    for (const char *p = out; (p = strstr(p, "<Ntry>")) != NULL; p++)
        count++;
    cr_assert_eq(count, MANY_ENTRIES);
    cr_assert_not_null(strstr(out, "<Cd>CCRD</Cd><SubFmlyCd>POSD</SubFmlyCd>"));
}

struct currency_case {
    const char *ccy;
    int64_t opening, amount;
    const char *opening_text, *amount_text;
};

Test(camt053, minor_units_per_currency, .init = paris)
{
    /* Proves: amounts are major units with the currency's minor digits: EUR 2, JPY 0, KWD 3, and a
     * negative balance is its absolute value with DBIT. */
    const struct currency_case cases[] = {
        {"EUR", 1250, 5, "12.50", "0.05"},
        {"JPY", 1250, 5, "1250", "5"},
        {"KWD", -1250, 5, "1.250", "0.005"},
        {"EUR", 0, 100000000000000000, "0.00", "1000000000000000.00"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct operation ops[1];
        struct statement s = make_statement(cases[i].ccy, cases[i].opening);
        book(&s, ops, make_op(1, OP_CREDIT, OP_KIND_CARD_REFUND, cases[i].amount, cases[i].ccy, "r"));
        render_valid_camt(&s, ops, 1);
        expect_xml("Amt", 0, cases[i].opening_text);
        expect_xml("CdtDbtInd", 0, cases[i].opening < 0 ? "DBIT" : "CRDT");
        expect_xml("Amt", 2, cases[i].amount_text);
        expect_xml("Ccy", 0, cases[i].ccy);
    }
}

Test(camt053, unrepresentable_amounts_are_refused)
{
    /* Proves: an unknown currency or an amount of 19 digits (beyond the schema's 18) renders
     * nothing (0) instead of an invalid document. */
    struct operation ops[1];
    struct statement s = make_statement("ZZZ", 0);
    cr_assert_eq(statement_render_camt053(&s, NULL, 0, out, sizeof out), 0);
    s = make_statement("EUR", 0);
    book(&s, ops, make_op(1, OP_CREDIT, OP_KIND_DEPOSIT, 1000000000000000000, "EUR", "big"));
    cr_assert_eq(statement_render_camt053(&s, ops, 1, out, sizeof out), 0);
    ops[0].amount = 999999999999999999;
    s.closing = s.total_credits = 999999999999999999;
    render_valid_camt(&s, ops, 1);
}

Test(camt053, xml_special_characters_in_reference, .init = paris)
{
    /* Proves: a reference with & < > " ' and control characters is escaped, validates, and reads
     * back unchanged; EndToEndId is cut to 35 characters (not bytes) and Ustrd keeps 140. */
    struct operation ops[3];
    struct statement s = make_statement("EUR", 0);
    const char *ref = "A&B <tag> \"quoted\" 'single' \x01 end\r";
    book(&s, ops, make_op(1, OP_CREDIT, OP_KIND_TRANSFER, 100, "EUR", ref));
    char long_ref[LEDGER_REFERENCE_MAX + 1] = {0};
    for (size_t i = 0; i < 70; i++)
        memcpy(long_ref + 2 * i, "\xc3\xa9", 2); /* 70 x e-acute = 140 bytes */
    book(&s, ops, make_op(2, OP_DEBIT, OP_KIND_TRANSFER, 50, "EUR", long_ref));
    book(&s, ops, make_op(3, OP_DEBIT, OP_KIND_TRANSFER, 10, "EUR", "&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&"));
    render_valid_camt(&s, ops, 3);
    expect_xml("Ustrd", 0, "A&B <tag> \"quoted\" 'single' \xef\xbf\xbd end\r");
    expect_xml("EndToEndId", 0, "A&B <tag> \"quoted\" 'single' \xef\xbf\xbd end\r"); /* 34 characters */
    char want[LEDGER_REFERENCE_MAX + 1];
    memcpy(want, long_ref, 70);
    want[70] = '\0';
    expect_xml("EndToEndId", 1, want);
    expect_xml("Ustrd", 1, long_ref);
    expect_xml("EndToEndId", 2, "&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&");
    cr_assert_null(strstr(out, "A&B"), "a raw ampersand reached the document");
}

Test(camt053, account_without_iban_uses_its_id, .init = paris)
{
    /* Proves: an account with no IBAN (or a counterparty without one) still gives a valid document. */
    struct operation ops[1];
    struct statement s = make_statement("EUR", 0);
    s.iban[0] = '\0';
    book(&s, ops, make_op(1, OP_CREDIT, OP_KIND_DEPOSIT, 100, "EUR", ""));
    ops[0].counterparty_iban[0] = '\0';
    render_valid_camt(&s, ops, 1);
    cr_assert_not_null(strstr(out, "<Acct>\n<Id><Othr><Id>"));
    cr_assert_null(strstr(out, "<RltdPties>"));
}

Test(camt053, invalid_document_fails_validation, .init = paris)
{
    /* Proves: the validator rejects a wrong CdtDbtInd, a missing Stmt, and an over-long MsgId, so
     * the passing validations above mean something. */
    struct operation ops[1];
    struct statement s = make_statement("EUR", 100);
    book(&s, ops, make_op(1, OP_CREDIT, OP_KIND_TRANSFER, 100, "EUR", "x"));
    size_t len = render_valid_camt(&s, ops, 1);
    char *p = strstr(out, "<CdtDbtInd>CRDT</CdtDbtInd>");
    cr_assert_not_null(p);
    memcpy(p + strlen("<CdtDbtInd>"), "CRDX", 4);
    cr_assert_neq(camt_validate(out, len), 0);
    cr_assert_not_null(strstr(schema_error, "CdtDbtInd"), "%s", schema_error);
    const char *no_stmt = "<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">"
                          "<BkToCstmrStmt><GrpHdr><MsgId>1</MsgId><CreDtTm>2026-01-01T00:00:00Z</CreDtTm></GrpHdr>"
                          "</BkToCstmrStmt></Document>";
    cr_assert_neq(camt_validate(no_stmt, strlen(no_stmt)), 0);
    len = render_valid_camt(&s, ops, 1);
    p = strstr(out, "</MsgId>");
    memmove(p + 4, p, len - (size_t)(p - out) + 1);
    memcpy(p, "0000", 4); /* 36 characters */
    cr_assert_neq(camt_validate(out, len + 4), 0);
}

/* Signed minor units of the k-th Amt with its CdtDbtInd (both counted from 0 in document order). */
static int64_t signed_minor(int amt_k, int ind_k, int64_t scale)
{
    char *amt = xml_text(out, strlen(out), "Amt", amt_k);
    char *ind = xml_text(out, strlen(out), "CdtDbtInd", ind_k);
    cr_assert(amt != NULL && ind != NULL);
    char *dot = strchr(amt, '.');
    int64_t major = strtoll(amt, NULL, 10), minor = dot != NULL ? strtoll(dot + 1, NULL, 10) : 0;
    int64_t v = major * scale + minor;
    v = strcmp(ind, "DBIT") == 0 ? -v : v;
    free(amt);
    free(ind);
    return v;
}

static int64_t sum_minor(const char *tag_in_order, int k, int64_t scale)
{
    char *sum = xml_text(out, strlen(out), tag_in_order, k);
    cr_assert_not_null(sum);
    char *dot = strchr(sum, '.');
    int64_t v = strtoll(sum, NULL, 10) * scale + (dot != NULL ? strtoll(dot + 1, NULL, 10) : 0);
    free(sum);
    return v;
}

Test(camt053, opening_plus_credits_minus_debits_is_closing, .init = paris)
{
    /* Proves: in the rendered document, OPBD + TtlCdtNtries.Sum - TtlDbtNtries.Sum == CLBD, the
     * counts add up to the entries, and CLBD equals the last entry's balance after. */
    static struct operation ops[40];
    struct statement s = make_statement("EUR", -123456);
    fill(&s, ops, 40, "EUR");
    render_valid_camt(&s, ops, 40);
    int64_t opening = signed_minor(0, 0, 100), closing = signed_minor(1, 1, 100);
    int64_t credits = sum_minor("Sum", 0, 100), debits = sum_minor("Sum", 1, 100);
    cr_assert_eq(opening, -123456);
    cr_assert_eq(opening + credits - debits, closing);
    cr_assert_eq(closing, s.closing);
    cr_assert_eq(closing, ops[39].balance_after);
    cr_assert_eq(credits, s.total_credits);
    cr_assert_eq(debits, s.total_debits);
    int64_t ncredit = sum_minor("NbOfNtries", 0, 1), ndebit = sum_minor("NbOfNtries", 1, 1);
    cr_assert_eq(ncredit + ndebit, 40);
}
