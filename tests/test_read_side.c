/*
 * test_read_side.c: the read side end to end (docs/API.md "Read side", docs/STATEMENTS.md): the
 * real ledgerd binary on a manual business clock, a real RocksDB in a temp directory, the
 * catch-up projector, and ledgerctl rebuild / verify on the stopped data directory.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "projections/projections.h"
#include "store/store.h"
#include "tests/harness.h"

#define POLL_TRIES 200 /* x 25 ms: the scheduler seals a period right after the clock moved */

static char tmp[64], data[128];
static struct ledgerd d;
static const char *const manual_args[] = {"--clock", "manual", "--clock-start", "2026-11-20T10:00:00Z",
                                          "--statement-tz", "Europe/Paris", NULL};

static void setup(void)
{
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    cr_assert(ledgerd_start_args(&d, data, "none", manual_args), "ledgerd did not start");
}

static void teardown(void)
{
    ledgerd_kill(&d);
    harness_rmdir(tmp);
}

TestSuite(read_side, .init = setup, .fini = teardown, .timeout = 90);

/* ---- helpers ---------------------------------------------------------------------------------- */

/* GET path (printf-style) into r; asserts the request went through. */
static void get(struct http_resp *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void get(struct http_resp *r, const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    cr_assert(http_do(&d, "GET", path, NULL, NULL, r), "GET %s", path);
}

/* A transfer of amount from -> to; returns its seq. */
static long long transfer(const char *from, const char *to, long long amount, const char *reference)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":%lld,\"currency\":\"EUR\","
             "\"reference\":\"%s\"}",
             from, to, amount, reference);
    struct http_resp r;
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, NULL, &r));
    cr_assert_eq(r.status, 201, "%s", r.body);
    long long seq = resp_int(&r, "seq");
    http_resp_free(&r);
    return seq;
}

static void set_clock(const char *now, long expect_status)
{
    char body[128];
    snprintf(body, sizeof body, "{\"now\":\"%s\"}", now);
    struct http_resp r;
    cr_assert(http_do(&d, "POST", "/v1/admin/clock", body, NULL, &r));
    cr_assert_eq(r.status, expect_status, "%s", r.body);
    http_resp_free(&r);
}

/* Two accounts, A funded with 10000 then paying B n times 100; returns the last seq. */
static long long history(char a[37], char b[37], int n)
{
    cr_assert(api_open_account(&d, "alice", "EUR", 0, a));
    cr_assert(api_open_account(&d, "bob", "EUR", 0, b));
    cr_assert(api_deposit(&d, a, 10000, "EUR"));
    long long seq = 0;
    for (int i = 0; i < n; i++)
        seq = transfer(a, b, 100, "rent");
    return seq;
}

static json_t *ops_of(const struct http_resp *r)
{
    json_t *ops = json_object_get(r->json, "operations");
    cr_assert(json_is_array(ops), "%s", r->body);
    return ops;
}

static long long jint(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Waits until the account has n statements; returns the list response (caller frees). */
static void wait_statements(const char *account, size_t n, struct http_resp *r)
{
    for (int i = 0; i < POLL_TRIES; i++) {
        get(r, "/v1/accounts/%s/statements", account);
        if (r->status == 200 && json_array_size(json_object_get(r->json, "statements")) >= n)
            return;
        http_resp_free(r);
        usleep(25 * 1000);
    }
    cr_assert_fail("no %zu statements for %s", n, account);
}

/* ---- operations ------------------------------------------------------------------------------- */

/* Deposits and transfers appear on both accounts in booking order with the running balance
 * after each leg; min_seq of the last write makes the read see it. */
Test(read_side, operations_carry_balance_after)
{
    char a[37], b[37];
    long long last = history(a, b, 5);
    struct http_resp r;
    get(&r, "/v1/accounts/%s/operations?min_seq=%lld", a, last);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *ops = ops_of(&r);
    cr_assert_eq(json_array_size(ops), 6, "%s", r.body);
    cr_expect_str_eq(jstr(json_array_get(ops, 0), "kind"), "deposit");
    cr_expect_str_eq(jstr(json_array_get(ops, 0), "direction"), "credit");
    cr_expect_eq(jint(json_array_get(ops, 0), "balance_after"), 10000);
    for (size_t i = 1; i < 6; i++) {
        json_t *op = json_array_get(ops, i);
        cr_expect_str_eq(jstr(op, "direction"), "debit");
        cr_expect_eq(jint(op, "amount"), 100);
        cr_expect_eq(jint(op, "balance_after"), 10000 - 100 * (long long)i);
        cr_expect_str_eq(jstr(op, "reference"), "rent");
        cr_expect_str_eq(jstr(op, "period"), "2026-11");
    }
    cr_expect(json_is_null(json_object_get(r.json, "next_cursor")));
    cr_expect_geq(resp_int(&r, "seq"), last);
    http_resp_free(&r);
    get(&r, "/v1/accounts/%s/operations?min_seq=%lld", b, last);
    cr_assert_eq(json_array_size(ops_of(&r)), 5);
    cr_expect_eq(jint(json_array_get(ops_of(&r), 4), "balance_after"), 500);
    http_resp_free(&r);
    get(&r, "/v1/accounts/00000000-0000-7000-8000-000000000000/operations");
    cr_expect_eq(r.status, 404);
    cr_expect_str_eq(resp_error_code(&r), "ACCOUNT_NOT_FOUND");
    http_resp_free(&r);
}

/* Bad arguments: limit 0 and 501, a foreign or malformed cursor, a bad time, a bad status. */
Test(read_side, operations_reject_bad_arguments)
{
    char a[37], b[37];
    history(a, b, 1);
    const char *bad[] = {"limit=0", "limit=501", "cursor=zz", "cursor=00", "from=yesterday", "status=all",
                         "to=2026-13-01T00:00:00Z", "min_seq=-1"};
    const char *field[] = {"limit", "limit", "cursor", "cursor", "from", "status", "to", "min_seq"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct http_resp r;
        get(&r, "/v1/accounts/%s/operations?%s", a, bad[i]);
        cr_expect_eq(r.status, 422, "%s: %s", bad[i], r.body);
        cr_expect_str_eq(resp_error_field(&r), field[i], "%s", bad[i]);
        http_resp_free(&r);
    }
    struct http_resp r;
    get(&r, "/v1/accounts/%s/operations?limit=500", a);
    cr_expect_eq(r.status, 200);
    http_resp_free(&r);
}

/* A cursor stays valid while operations arrive: page 2 continues page 1 without a gap or a repeat,
 * and the new operations come after the old ones. */
Test(read_side, pagination_is_stable_under_appends)
{
    char a[37], b[37];
    long long last = history(a, b, 29); /* 30 operations on a */
    struct http_resp r;
    get(&r, "/v1/accounts/%s/operations?limit=10&min_seq=%lld", a, last);
    cr_assert_eq(json_array_size(ops_of(&r)), 10);
    char cursor[128];
    snprintf(cursor, sizeof cursor, "%s", resp_str(&r, "next_cursor"));
    cr_assert_neq(cursor[0], '\0', "%s", r.body);
    long long prev_seq = jint(json_array_get(ops_of(&r), 9), "seq");
    http_resp_free(&r);
    for (int i = 0; i < 5; i++)
        last = transfer(a, b, 100, "late");
    size_t total = 10;
    for (int page = 0; page < 10 && cursor[0] != '\0'; page++) {
        get(&r, "/v1/accounts/%s/operations?limit=10&cursor=%s&min_seq=%lld", a, cursor, last);
        cr_assert_eq(r.status, 200, "%s", r.body);
        json_t *ops = ops_of(&r);
        for (size_t i = 0; i < json_array_size(ops); i++) {
            long long seq = jint(json_array_get(ops, i), "seq");
            cr_expect_gt(seq, prev_seq, "no repeat, booking order");
            prev_seq = seq;
        }
        total += json_array_size(ops);
        snprintf(cursor, sizeof cursor, "%s", resp_str(&r, "next_cursor"));
        http_resp_free(&r);
    }
    cr_expect_eq(total, 35, "every operation once");
    cr_expect_eq(prev_seq, last);
}

/* The balance at an instant: before the first operation 0, between operations the balance after
 * the last one booked at or before it, after all of them the current balance. */
Test(read_side, balance_at_instants)
{
    char a[37], b[37];
    cr_assert(api_open_account(&d, "alice", "EUR", 0, a));
    cr_assert(api_open_account(&d, "bob", "EUR", 0, b));
    cr_assert(api_deposit(&d, a, 10000, "EUR"));
    set_clock("2026-11-20T12:00:00Z", 200);
    long long seq = transfer(a, b, 2500, "t1");
    set_clock("2026-11-21T12:00:00+01:00", 200);
    long long last = transfer(a, b, 500, "t2");
    const char *at[] = {"2026-11-20T09:00:00Z", "2026-11-20T11:00:00Z", "2026-11-20T13:30:00%2B01:00",
                        "2026-11-21T12:00:00Z", "2030-01-01T00:00:00Z"};
    long long posted[] = {0, 10000, 7500, 7000, 7000};
    for (size_t i = 0; i < 5; i++) {
        struct http_resp r;
        get(&r, "/v1/accounts/%s/balance?at=%s&min_seq=%lld", a, at[i], last);
        cr_assert_eq(r.status, 200, "%s", r.body);
        cr_expect_eq(resp_int(&r, "posted"), posted[i], "at %s: %s", at[i], r.body);
        cr_expect_str_eq(resp_str(&r, "currency"), "EUR");
        if (i == 0)
            cr_expect_eq(resp_int(&r, "seq"), 0);
        if (i == 2)
            cr_expect_eq(resp_int(&r, "seq"), seq);
        http_resp_free(&r);
    }
    struct http_resp r;
    get(&r, "/v1/accounts/%s/balance?at=tomorrow", a);
    cr_expect_eq(r.status, 422);
    cr_expect_str_eq(resp_error_field(&r), "at");
    http_resp_free(&r);
    get(&r, "/v1/accounts/%s/balance", a);
    cr_expect_eq(resp_int(&r, "posted"), 7000, "without at: the inline balance");
    cr_expect_eq(resp_int(&r, "available"), 7000);
    http_resp_free(&r);
}

/* min_seq beyond the head: 503 PROJECTION_LAGGING after the bounded wait, on every read route. */
Test(read_side, min_seq_beyond_head_is_503)
{
    char a[37], b[37];
    long long last = history(a, b, 1);
    const char *paths[] = {"operations", "balance", "statements"};
    for (size_t i = 0; i < 3; i++) {
        struct http_resp r;
        get(&r, "/v1/accounts/%s/%s?min_seq=%lld", a, paths[i], last + 1000);
        cr_expect_eq(r.status, 503, "%s: %s", paths[i], r.body);
        cr_expect_str_eq(resp_error_code(&r), "PROJECTION_LAGGING");
        http_resp_free(&r);
        get(&r, "/v1/accounts/%s/%s?min_seq=%lld", a, paths[i], last);
        cr_expect_eq(r.status, 200, "%s: %s", paths[i], r.body);
        http_resp_free(&r);
    }
}

/* An approved card authorization is a pending operation with its hold, merchant and expiry;
 * it is not posted; upcoming is empty. */
Test(read_side, pending_shows_card_hold)
{
    char account[37], card[37], body[512];
    cr_assert(api_open_account(&d, "cardholder", "EUR", 0, account));
    cr_assert(api_deposit(&d, account, 10000, "EUR"));
    cr_assert(api_active_card(&d, account, "virtual", "ADA", card));
    struct http_resp r;
    snprintf(body, sizeof body,
             "{\"authorization_id\":\"auth-read-1\",\"card_id\":\"%s\",\"amount\":1234,\"currency\":\"EUR\","
             "\"merchant\":{\"name\":\"Corner Shop\",\"mcc\":5411,\"country\":\"FR\",\"id\":\"m-42\"},"
             "\"channel\":\"POS\"}",
             card);
    cr_assert(http_do(&d, "POST", "/v1/card-authorizations", body, NULL, &r));
    cr_assert_str_eq(resp_str(&r, "result"), "approved", "%s", r.body);
    long long seq = resp_int(&r, "seq");
    http_resp_free(&r);
    get(&r, "/v1/accounts/%s/operations?status=pending&min_seq=%lld", account, seq);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_array_size(ops_of(&r)), 1, "%s", r.body);
    json_t *op = json_array_get(ops_of(&r), 0);
    cr_expect_str_eq(jstr(op, "authorization_id"), "auth-read-1");
    cr_expect_eq(jint(op, "amount"), 1234);
    cr_expect_str_eq(jstr(op, "merchant"), "Corner Shop");
    cr_expect_str_eq(jstr(op, "status"), "pending");
    cr_expect_eq(strncmp(jstr(op, "created"), "2026-11-20T10:00:00.", 20), 0, "%s", r.body);
    cr_expect_eq(strncmp(jstr(op, "expires_at"), "2026-11-27T10:00:00", 19), 0, "%s", r.body);
    http_resp_free(&r);
    get(&r, "/v1/accounts/%s/operations?min_seq=%lld", account, seq);
    cr_expect_eq(json_array_size(ops_of(&r)), 1, "only the deposit is posted: %s", r.body);
    http_resp_free(&r);
    get(&r, "/v1/accounts/%s/operations?status=upcoming", account);
    cr_expect_eq(r.status, 200);
    cr_expect_eq(json_array_size(ops_of(&r)), 0);
    cr_expect(json_is_null(json_object_get(r.json, "next_cursor")));
    http_resp_free(&r);
}

/* ---- the business clock ----------------------------------------------------------------------- */

/* The manual clock moves forward only; bad times are 422; GET shows it. */
Test(read_side, clock_forward_only)
{
    struct http_resp r;
    get(&r, "/v1/admin/clock");
    cr_expect_str_eq(resp_str(&r, "mode"), "manual");
    cr_expect_str_eq(resp_str(&r, "now"), "2026-11-20T10:00:00.000000000Z");
    http_resp_free(&r);
    cr_assert(http_do(&d, "POST", "/v1/admin/clock", "{\"now\":\"2026-11-20T09:59:59Z\"}", NULL, &r));
    cr_expect_eq(r.status, 422);
    cr_expect_str_eq(resp_error_code(&r), "CLOCK_BACKWARDS");
    cr_expect_str_eq(resp_error_field(&r), "now");
    http_resp_free(&r);
    const char *bad[] = {"{\"now\":\"2026-11-31T00:00:00Z\"}", "{\"now\":42}", "{\"now\":\"2026-11-21\"}"};
    for (size_t i = 0; i < 3; i++) {
        cr_assert(http_do(&d, "POST", "/v1/admin/clock", bad[i], NULL, &r));
        cr_expect_eq(r.status, 422, "%s: %s", bad[i], r.body);
        cr_expect_str_eq(resp_error_code(&r), "FIELD_INVALID", "%s", bad[i]);
        http_resp_free(&r);
    }
    cr_assert(http_do(&d, "POST", "/v1/admin/clock", "{\"now\":\"2026-11-21T00:00:00.5+01:00\"}", NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "now"), "2026-11-20T23:00:00.500000000Z");
    http_resp_free(&r);
}

/* A ledgerd on the real clock refuses to have it set. */
Test(read_side, clock_not_manual)
{
    char data2[160];
    struct ledgerd d2;
    snprintf(data2, sizeof data2, "%s/data2", tmp);
    cr_assert(ledgerd_start(&d2, data2, "none"));
    struct http_resp r;
    cr_assert(http_do(&d2, "POST", "/v1/admin/clock", "{\"now\":\"2030-01-01T00:00:00Z\"}", NULL, &r));
    cr_expect_eq(r.status, 409, "%s", r.body);
    cr_expect_str_eq(resp_error_code(&r), "CLOCK_NOT_MANUAL");
    http_resp_free(&r);
    cr_assert(http_do(&d2, "GET", "/v1/admin/clock", NULL, NULL, &r));
    cr_expect_str_eq(resp_str(&r, "mode"), "realtime");
    http_resp_free(&r);
    ledgerd_stop(&d2);
}

/* ---- statements ------------------------------------------------------------------------------- */

static void check_downloads(const char *account, const char *id, const char *iban, size_t entries)
{
    struct http_resp r;
    get(&r, "/v1/statements/%s", id);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_eq(json_array_size(json_object_get(r.json, "entries")), entries, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "iban"), iban);
    http_resp_free(&r);
    get(&r, "/v1/accounts/%s/statements/%s?format=csv", account, id);
    cr_assert_eq(r.status, 200, "%s", r.body);
    size_t lines = 0;
    for (const char *p = r.body; *p; p++)
        lines += *p == '\n';
    cr_expect_eq(lines, entries + 1, "a header and one line per entry: %s", r.body);
    http_resp_free(&r);
    cr_assert(http_do(&d, "GET", "/v1/accounts/00000000-0000-7000-8000-000000000000/statements", NULL, NULL, &r));
    cr_expect_eq(r.status, 404);
    http_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/v1/statements/%s", id);
    cr_assert(http_do(&d, "GET", path, NULL, "Accept: application/xml", &r));
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_not_null(strstr(r.body, iban));
    cr_expect_not_null(strstr(r.body, "<LglSeqNb>1</LglSeqNb>"), "%s", r.body);
    cr_expect_not_null(strstr(r.body, "camt.053.001.08"));
    http_resp_free(&r);
    cr_assert(http_do(&d, "GET", path, NULL, "Accept: text/csv", &r));
    cr_expect_eq(strncmp(r.body, "seq,", 4), 0, "%s", r.body);
    http_resp_free(&r);
    get(&r, "/v1/statements/00000000-0000-7000-8000-000000000000");
    cr_expect_eq(r.status, 404);
    cr_expect_str_eq(resp_error_code(&r), "STATEMENT_NOT_FOUND");
    http_resp_free(&r);
    get(&r, "/v1/statements/%s?format=pdf", id);
    cr_expect_eq(r.status, 422);
    http_resp_free(&r);
}

/* Moving the clock past the end of November (Paris) seals it: the statement's totals match the
 * operations, it downloads as JSON, CSV and camt.053, and a later transfer lands in December
 * without changing it. */
Test(read_side, month_end_seals_november)
{
    char a[37], b[37];
    history(a, b, 3);
    set_clock("2026-12-01T00:00:00+01:00", 200);
    struct http_resp r, r2, acc;
    wait_statements(a, 1, &r);
    json_t *s = json_array_get(json_object_get(r.json, "statements"), 0);
    cr_expect_str_eq(jstr(s, "period"), "2026-11");
    cr_expect_str_eq(jstr(s, "period_kind"), "monthly");
    cr_expect_eq(jint(s, "number"), 1);
    cr_expect_str_eq(jstr(s, "start"), "2026-10-31T23:00:00.000000000Z");
    cr_expect_str_eq(jstr(s, "end"), "2026-11-30T23:00:00.000000000Z");
    cr_expect_eq(jint(s, "opening_balance"), 0);
    cr_expect_eq(jint(s, "total_credits"), 10000);
    cr_expect_eq(jint(s, "total_debits"), 300);
    cr_expect_eq(jint(s, "closing_balance"), 9700);
    cr_expect_eq(jint(s, "entries"), 4);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(s, "id"));
    get(&acc, "/v1/accounts/%s", a);
    check_downloads(a, id, resp_str(&acc, "iban"), 4);
    get(&r2, "/v1/accounts/%s/statements/%s", b, id); /* found by id, but not b's */
    cr_expect_eq(r2.status, 404, "%s", r2.body);
    cr_expect_str_eq(resp_error_code(&r2), "STATEMENT_NOT_FOUND");
    http_resp_free(&r2);
    http_resp_free(&acc);
    http_resp_free(&r);

    struct http_resp before, after;
    get(&before, "/v1/statements/%s", id);
    long long seq = transfer(a, b, 700, "december");
    get(&r, "/v1/accounts/%s/operations?min_seq=%lld", a, seq);
    json_t *ops = ops_of(&r);
    cr_assert_eq(json_array_size(ops), 5);
    cr_expect_str_eq(jstr(json_array_get(ops, 4), "period"), "2026-12", "%s", r.body);
    http_resp_free(&r);
    get(&after, "/v1/statements/%s?min_seq=%lld", id, seq);
    cr_expect_str_eq(after.body, before.body, "a sealed statement never changes");
    http_resp_free(&before);
    http_resp_free(&after);
}

/* ---- rebuild ---------------------------------------------------------------------------------- */

static char *body_of(const char *path)
{
    struct http_resp r;
    cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
    cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
    char *body = strdup(r.body);
    http_resp_free(&r);
    return body;
}

/* rebuild refuses a ledger ledgerd has open; on the stopped ledger it rebuilds both projections,
 * prints their digests, verify passes, and the reads answer exactly as before. */
Test(read_side, rebuild_then_same_answers)
{
    char a[37], b[37], path[4][256];
    long long last = history(a, b, 20);
    set_clock("2026-12-01T00:00:00+01:00", 200);
    struct http_resp r;
    wait_statements(a, 1, &r);
    http_resp_free(&r);
    last = transfer(a, b, 100, "after the seal");
    snprintf(path[0], sizeof path[0], "/v1/accounts/%s/operations?limit=7&min_seq=%lld", a, last);
    snprintf(path[1], sizeof path[1], "/v1/accounts/%s/statements", a);
    snprintf(path[2], sizeof path[2], "/v1/accounts/%s/balance?at=2026-11-25T00:00:00Z", a);
    snprintf(path[3], sizeof path[3], "/v1/accounts/%s/operations?from=2026-11-20T10:00:00.000000010Z", b);
    char *before[4];
    for (int i = 0; i < 4; i++)
        before[i] = body_of(path[i]);

    char *out = NULL;
    const char *args[] = {"rebuild", "--data", data, NULL};
    cr_expect_eq(ledgerctl_run(&out, args), 1);
    cr_expect_not_null(strstr(out, "is in use (is ledgerd running?); stop it first"), "%s", out);
    free(out);
    cr_assert_eq(ledgerd_stop(&d), 0);
    cr_assert_eq(ledgerctl_run(&out, args), 0, "%s", out);
    cr_expect_not_null(strstr(out, "rebuild: operations "), "%s", out);
    cr_expect_not_null(strstr(out, "rebuild: balances "), "%s", out);
    cr_expect_not_null(strstr(out, " digest "), "%s", out);
    free(out);
    cr_assert(ledgerctl_verify_ok(data));
    cr_assert(ledgerd_start_args(&d, data, "none", manual_args));
    for (int i = 0; i < 4; i++) {
        char *now = body_of(path[i]);
        cr_expect_str_eq(now, before[i], "%s", path[i]);
        free(now);
        free(before[i]);
    }
}

/* A projection written in an older row format (the meta key says so) is cleared when ledgerd
 * starts and rebuilt from the log by the projector: the same answers as before, and verify passes. */
Test(read_side, older_row_format_rebuilt_at_start)
{
    char a[37], b[37], path[256];
    long long last = history(a, b, 12);
    snprintf(path, sizeof path, "/v1/accounts/%s/operations?limit=50&min_seq=%lld", a, last);
    char *before = body_of(path);
    cr_assert_eq(ledgerd_stop(&d), 0);
    char err[512];
    struct store *st = store_open(data, false, err, sizeof err);
    cr_assert(st != NULL, "%s", err);
    cr_assert(catchup_format_current(st));
    store_meta_put_u64(st, "catchup_format", 2); /* operation rows of format 2, no statement id index */
    cr_assert_not(catchup_format_current(st));
    store_meta_put_u64(st, "catchup_format", 1);
    cr_assert_not(catchup_format_current(st));
    store_cf_clear(st, STORE_CF_PROJ_OPS); /* rows a rebuild would not reproduce, as an older format's */
    store_close(st);
    cr_assert(ledgerctl_verify_ok(data), "rows of an older format are not compared (the log is intact)");
    cr_assert(ledgerd_start_args(&d, data, "none", manual_args));
    char *after_text = body_of(path);
    cr_expect_str_eq(after_text, before);
    free(before);
    FILE *log = fopen(d.log_path, "r");
    cr_assert_not_null(log);
    char line[1024];
    bool said = false;
    while (!said && fgets(line, sizeof line, log) != NULL)
        said = strstr(line, "older row format") != NULL;
    fclose(log);
    cr_expect(said, "ledgerd did not say it rebuilds the projection");
    cr_assert_eq(ledgerd_stop(&d), 0);
    cr_assert(ledgerctl_verify_ok(data));

    /* A rebuild cut short: rows, but neither checkpoint nor format (both are written last). */
    st = store_open(data, false, err, sizeof err);
    cr_assert(st != NULL, "%s", err);
    struct store_batch *wb = store_batch_new(st);
    store_batch_delete(wb, STORE_CF_META, "catchup_seq", strlen("catchup_seq"));
    store_batch_delete(wb, STORE_CF_META, "catchup_format", strlen("catchup_format"));
    store_commit_async(st, wb);
    store_batch_free(wb);
    cr_assert_eq(catchup_checkpoint(st), 0);
    cr_assert(catchup_reset_stale(st), "rows without a checkpoint are stale");
    cr_assert_not(catchup_reset_stale(st), "an empty projection is not");
    store_close(st);
    cr_assert(ledgerd_start_args(&d, data, "none", manual_args));
    before = body_of(path);
    cr_expect_str_eq(before, after_text);
    free(before);
    free(after_text);
}

/* ledger_idempotency_purged_total from GET /metrics. */
static unsigned long long idempotency_purged(void)
{
    struct http_resp r;
    get(&r, "/metrics");
    const char *name = "\nledger_idempotency_purged_total ";
    const char *at = strstr(r.body, name);
    cr_assert(at != NULL, "no %s in /metrics", name + 1);
    unsigned long long n = strtoull(at + strlen(name), NULL, 10);
    http_resp_free(&r);
    return n;
}

static void keyed_transfer(const char *from, const char *to, const char *key, struct http_resp *r)
{
    char body[512], header[160];
    snprintf(body, sizeof body,
             "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":100,\"currency\":\"EUR\"}", from,
             to);
    snprintf(header, sizeof header, "Idempotency-Key: %s", key);
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, header, r));
    cr_assert_eq(r->status, 201, "%s", r->body);
}

Test(read_side, idempotency_records_are_purged_after_their_retention)
{
    /* Proves that, on the business clock, a record more than 24 h old is physically dropped (the
     * purge counter) and its key executes anew, while a record 1 h old still replays its answer. */
    char a[37], b[37];
    cr_assert(api_open_account(&d, "purge-a", "EUR", 0, a));
    cr_assert(api_open_account(&d, "purge-b", "EUR", 0, b));
    cr_assert(api_deposit(&d, a, 1000, "EUR"));
    struct http_resp old1, recent1, old2, recent2;
    keyed_transfer(a, b, "k-old", &old1);  /* 2026-11-20T10:00 */
    set_clock("2026-11-21T09:30:00Z", 200);
    keyed_transfer(a, b, "k-recent", &recent1);
    set_clock("2026-11-21T10:30:00Z", 200); /* k-old is now 24.5 h old, k-recent 1 h */
    unsigned long long purged = 0;
    for (int i = 0; i < 2 * POLL_TRIES && (purged = idempotency_purged()) == 0; i++)
        usleep(25000);
    cr_assert_eq(purged, 1, "exactly the expired record is dropped");
    keyed_transfer(a, b, "k-recent", &recent2);
    cr_expect_str_eq(recent2.body, recent1.body, "a record within its retention still answers");
    keyed_transfer(a, b, "k-old", &old2);
    cr_expect_str_neq(old2.body, old1.body, "an expired key is a new request");
    cr_expect_eq(api_balance(&d, a, "posted"), 700, "three transfers of 100 executed, the replay none");
    cr_expect_eq(idempotency_purged(), 1);
    http_resp_free(&old1);
    http_resp_free(&recent1);
    http_resp_free(&old2);
    http_resp_free(&recent2);
}
