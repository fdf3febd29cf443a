/*
 * test_api.c: the HTTP contract of ledgerd, against the real binary and a real RocksDB in a temp
 * directory (publishing disabled here: NATS behaviour is in test_crash.c and test_outbox.c).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "events/events.h"
#include "store/store.h"
#include "tests/harness.h"

static char tmp[64], data[128];
static struct ledgerd d;

static void setup(void)
{
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    cr_assert(ledgerd_start(&d, data, "none"), "ledgerd did not start");
}

static void teardown(void)
{
    ledgerd_kill(&d);
    harness_rmdir(tmp);
}

TestSuite(api, .init = setup, .fini = teardown, .timeout = 60);

/* Substitutes %A and %B in tpl with two account ids. */
static void fill(char *out, size_t cap, const char *tpl, const char *a, const char *b)
{
    size_t n = 0;
    for (const char *p = tpl; *p && n + 40 < cap; p++) {
        if (p[0] == '%' && (p[1] == 'A' || p[1] == 'B')) {
            n += (size_t)snprintf(out + n, cap - n, "%s", p[1] == 'A' ? a : b);
            p++;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

/* Opening an account answers 201 with a valid unique French IBAN; GET and list by holder find it. */
Test(api, open_get_list_accounts)
{
    struct http_resp r;
    cr_assert(http_do(&d, "POST", "/v1/accounts",
                      "{\"holder_id\":\"h1\",\"currency\":\"EUR\",\"friendly_name\":\"main\",\"overdraft_limit\":100}",
                      NULL, &r));
    cr_assert_eq(r.status, 201, "%s", r.body);
    char id[37], iban[40];
    snprintf(id, sizeof id, "%s", resp_str(&r, "id"));
    snprintf(iban, sizeof iban, "%s", resp_str(&r, "iban"));
    cr_expect(iban_is_valid(iban), "%s", iban);
    cr_expect_eq(strlen(iban), 27);
    cr_expect_str_eq(resp_str(&r, "state"), "active");
    cr_expect_str_eq(resp_str(&r, "currency"), "EUR");
    cr_expect_eq(resp_int(&r, "overdraft_limit"), 100);
    http_resp_free(&r);

    char other[37];
    cr_assert(api_open_account(&d, "h1b", "EUR", 0, other));
    char path[128];
    snprintf(path, sizeof path, "/v1/accounts/%s", other);
    cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
    cr_expect_neq(strcmp(resp_str(&r, "iban"), iban), 0, "IBANs are unique");
    http_resp_free(&r);

    snprintf(path, sizeof path, "/v1/accounts/%s", id);
    cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(resp_str(&r, "iban"), iban);
    http_resp_free(&r);

    cr_assert(http_do(&d, "GET", "/v1/accounts?holder_id=h1", NULL, NULL, &r));
    cr_expect_eq(r.status, 200);
    json_t *list = json_object_get(r.json, "accounts");
    cr_assert_eq(json_array_size(list), 1);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "id")), id);
    http_resp_free(&r);

    cr_assert(http_do(&d, "GET", "/v1/accounts?holder_id=nobody", NULL, NULL, &r));
    cr_expect_eq(json_array_size(json_object_get(r.json, "accounts")), 0);
    http_resp_free(&r);
}

/* A friendly name is unique per holder: the second account with the same name is a 409. */
Test(api, friendly_name_unique_per_holder)
{
    char a[37], b[37];
    cr_assert(api_open_account(&d, "h2", "EUR", 0, a));
    cr_assert(!api_open_account(&d, "h2", "EUR", 0, b));
    struct http_resp r;
    cr_assert(http_do(&d, "POST", "/v1/accounts", "{\"holder_id\":\"h2\",\"currency\":\"USD\",\"friendly_name\":\"main\"}",
                      NULL, &r));
    cr_expect_eq(r.status, 409);
    cr_expect_str_eq(resp_error_code(&r), "FRIENDLY_NAME_TAKEN");
    cr_expect_str_eq(resp_error_field(&r), "friendly_name");
    http_resp_free(&r);
    cr_assert(api_open_account(&d, "h3", "EUR", 0, b), "another holder may reuse the name");
}

/* Deposits and transfers move posted and available balances; overdraft extends available. */
Test(api, deposit_transfer_balances)
{
    char a[37], b[37], body[512], path[128];
    cr_assert(api_open_account(&d, "alice", "EUR", 0, a));
    cr_assert(api_open_account(&d, "bob", "EUR", 500, b));
    cr_assert(api_deposit(&d, a, 10000, "EUR"));
    cr_expect_eq(api_balance(&d, a, "posted"), 10000);
    cr_expect_eq(api_balance(&d, b, "available"), 500, "overdraft counts in available");

    struct http_resp r;
    snprintf(body, sizeof body,
             "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":1250,\"currency\":\"EUR\","
             "\"reference\":\"rent\"}", a, b);
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, NULL, &r));
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "status"), "executed");
    cr_expect_gt(resp_int(&r, "seq"), 0);
    cr_expect_str_eq(r.seq_header, "6", "(the harness's admin client), open, open, funding account, deposit, transfer");
    char tid[37];
    snprintf(tid, sizeof tid, "%s", resp_str(&r, "id"));
    http_resp_free(&r);
    cr_expect_eq(api_balance(&d, a, "posted"), 8750);
    cr_expect_eq(api_balance(&d, b, "posted"), 1250);
    cr_expect_eq(api_balance(&d, b, "available"), 1750);

    /* bob can spend up to his overdraft and no further */
    snprintf(body, sizeof body,
             "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":1751,\"currency\":\"EUR\"}", b, a);
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, NULL, &r));
    cr_expect_eq(r.status, 409);
    cr_expect_str_eq(resp_error_code(&r), "FUNDS_INSUFFICIENT");
    http_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":1750,\"currency\":\"EUR\"}", b, a);
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, NULL, &r));
    cr_expect_eq(r.status, 201, "%s", r.body);
    http_resp_free(&r);
    cr_expect_eq(api_balance(&d, b, "posted"), -500);
    cr_expect_eq(api_balance(&d, b, "available"), 0);

    snprintf(path, sizeof path, "/v1/transfers/%s", tid);
    cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
    cr_expect_eq(r.status, 200);
    cr_expect_eq(resp_int(&r, "amount"), 1250);
    cr_expect_str_eq(resp_str(&r, "reference"), "rent");
    cr_expect_str_neq(resp_str(&r, "executed_at"), "");
    http_resp_free(&r);
}

/* A client-supplied transfer id is idempotent: same body -> same answer, no second movement;
 * different body -> 409 TRANSFER_ID_REUSED. */
Test(api, transfer_id_idempotent)
{
    char a[37], b[37], body[512];
    cr_assert(api_open_account(&d, "ia", "EUR", 0, a));
    cr_assert(api_open_account(&d, "ib", "EUR", 0, b));
    cr_assert(api_deposit(&d, a, 1000, "EUR"));
    const char *id = "0190b7e2-0000-7000-8000-000000000001";
    snprintf(body, sizeof body,
             "{\"id\":\"%s\",\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":100,\"currency\":\"EUR\"}",
             id, a, b);
    struct http_resp r1, r2, r3;
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, NULL, &r1));
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, NULL, &r2));
    cr_expect_eq(r1.status, 201);
    cr_expect_eq(r2.status, 201);
    cr_expect_str_eq(r1.body, r2.body, "the same answer");
    cr_expect_eq(api_balance(&d, a, "posted"), 900, "moved once");
    snprintf(body, sizeof body,
             "{\"id\":\"%s\",\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":101,\"currency\":\"EUR\"}",
             id, a, b);
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, NULL, &r3));
    cr_expect_eq(r3.status, 409);
    cr_expect_str_eq(resp_error_code(&r3), "TRANSFER_ID_REUSED");
    http_resp_free(&r1);
    http_resp_free(&r2);
    http_resp_free(&r3);
}

/* Idempotency-Key: same key and body -> byte-identical answer and one movement, also after a
 * restart; same key with another body -> 409 IDEMPOTENCY_KEY_REUSED. A rejection is replayed too. */
Test(api, idempotency_key)
{
    char a[37], b[37], body[512], body2[512];
    cr_assert(api_open_account(&d, "ka", "EUR", 0, a));
    cr_assert(api_open_account(&d, "kb", "EUR", 0, b));
    cr_assert(api_deposit(&d, a, 1000, "EUR"));
    snprintf(body, sizeof body,
             "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":300,\"currency\":\"EUR\"}", a, b);
    snprintf(body2, sizeof body2,
             "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":301,\"currency\":\"EUR\"}", a, b);
    struct http_resp r1, r2, r3, r4;
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, "Idempotency-Key: pay-1", &r1));
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, "Idempotency-Key: pay-1", &r2));
    cr_expect_eq(r1.status, 201);
    cr_expect_eq(r2.status, 201);
    cr_expect_str_eq(r1.body, r2.body);
    cr_expect_eq(api_balance(&d, a, "posted"), 700);
    cr_assert(http_do(&d, "POST", "/v1/transfers", body2, "Idempotency-Key: pay-1", &r3));
    cr_expect_eq(r3.status, 409);
    cr_expect_str_eq(resp_error_code(&r3), "IDEMPOTENCY_KEY_REUSED");

    cr_assert_eq(ledgerd_stop(&d), 0, "clean exit on SIGTERM");
    cr_assert(ledgerd_start(&d, data, "none"));
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, "Idempotency-Key: pay-1", &r4));
    cr_expect_eq(r4.status, 201);
    cr_expect_str_eq(r1.body, r4.body, "same answer after a restart");
    cr_expect_eq(api_balance(&d, a, "posted"), 700);
    http_resp_free(&r1);
    http_resp_free(&r2);
    http_resp_free(&r3);
    http_resp_free(&r4);

    /* a rejected request is answered the same way again, even once funds would allow it */
    snprintf(body, sizeof body,
             "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":5000,\"currency\":\"EUR\"}", a, b);
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, "Idempotency-Key: big", &r1));
    cr_expect_eq(r1.status, 409);
    cr_assert(api_deposit(&d, a, 10000, "EUR"));
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, "Idempotency-Key: big", &r2));
    cr_expect_eq(r2.status, 409);
    cr_expect_str_eq(r1.body, r2.body);
    http_resp_free(&r1);
    http_resp_free(&r2);
}

/* Block levels: a USER block is lifted only by USER; while blocked nothing moves; close needs a
 * zero balance and is final. */
Test(api, block_unblock_close)
{
    char a[37], b[37], path[128], body[512];
    cr_assert(api_open_account(&d, "ba", "EUR", 0, a));
    cr_assert(api_open_account(&d, "bb", "EUR", 0, b));
    cr_assert(api_deposit(&d, a, 500, "EUR"));
    struct http_resp r;
    snprintf(path, sizeof path, "/v1/accounts/%s/block", a);
    cr_assert(http_do(&d, "POST", path, "{\"reason\":\"USER\"}", NULL, &r));
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(resp_str(&r, "state"), "blocked");
    http_resp_free(&r);
    cr_assert(http_do(&d, "POST", path, "{\"reason\":\"USER\"}", NULL, &r));
    cr_expect_str_eq(resp_error_code(&r), "ACCOUNT_ALREADY_BLOCKED");
    http_resp_free(&r);

    snprintf(body, sizeof body,
             "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":1,\"currency\":\"EUR\"}", a, b);
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, NULL, &r));
    cr_expect_eq(r.status, 409);
    cr_expect_str_eq(resp_error_code(&r), "ACCOUNT_BLOCKED");
    cr_expect_str_eq(resp_error_field(&r), "debit_account_id");
    http_resp_free(&r);

    snprintf(path, sizeof path, "/v1/accounts/%s/unblock", a);
    cr_assert(http_do(&d, "POST", path, "{\"reason\":\"SYSTEM\"}", NULL, &r));
    cr_expect_eq(r.status, 409);
    cr_expect_str_eq(resp_error_code(&r), "ACCOUNT_NOT_BLOCKED", "only the same level unblocks");
    http_resp_free(&r);
    cr_assert(http_do(&d, "POST", path, "{\"reason\":\"USER\"}", NULL, &r));
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(resp_str(&r, "state"), "active");
    http_resp_free(&r);

    snprintf(path, sizeof path, "/v1/accounts/%s/close", a);
    cr_assert(http_do(&d, "POST", path, NULL, NULL, &r));
    cr_expect_eq(r.status, 409);
    cr_expect_str_eq(resp_error_code(&r), "BALANCE_NOT_ZERO");
    http_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":500,\"currency\":\"EUR\"}", a, b);
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, NULL, &r));
    cr_expect_eq(r.status, 201);
    http_resp_free(&r);
    cr_assert(http_do(&d, "POST", path, NULL, NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "state"), "closed");
    http_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":1,\"currency\":\"EUR\"}", b, a);
    cr_assert(http_do(&d, "POST", "/v1/transfers", body, NULL, &r));
    cr_expect_str_eq(resp_error_code(&r), "ACCOUNT_CLOSED");
    http_resp_free(&r);
}

/* A batch: independent items each get their result; a linked batch fails as a whole and moves
 * nothing. */
Test(api, batch_and_linked)
{
    char a[37], b[37], body[1024];
    cr_assert(api_open_account(&d, "la", "EUR", 0, a));
    cr_assert(api_open_account(&d, "lb", "EUR", 0, b));
    cr_assert(api_deposit(&d, a, 100, "EUR"));
    const char *tpl = "{\"linked\":%s,\"transfers\":["
                      "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":60,\"currency\":\"EUR\"},"
                      "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":60,\"currency\":\"EUR\"}]}";
    snprintf(body, sizeof body, tpl, "true", a, b, a, b);
    struct http_resp r;
    cr_assert(http_do(&d, "POST", "/v1/transfers/batch", body, NULL, &r));
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *res = json_object_get(r.json, "results");
    cr_assert_eq(json_array_size(res), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(res, 0), "error"), "code")),
                     "LINKED_TRANSFER_FAILED");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(res, 1), "error"), "code")),
                     "FUNDS_INSUFFICIENT");
    http_resp_free(&r);
    cr_expect_eq(api_balance(&d, a, "posted"), 100, "linked: nothing moved");

    snprintf(body, sizeof body, tpl, "false", a, b, a, b);
    cr_assert(http_do(&d, "POST", "/v1/transfers/batch", body, NULL, &r));
    res = json_object_get(r.json, "results");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(res, 0), "status")), "executed");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(res, 1), "status")), "rejected");
    http_resp_free(&r);
    cr_expect_eq(api_balance(&d, a, "posted"), 40);

    cr_assert(ledgerctl_verify_ok(data));
}

/* The events feed returns decoded events with seq and hash, chained, paginated by after_seq. */
Test(api, events_feed)
{
    char a[37];
    cr_assert(api_open_account(&d, "ea", "EUR", 0, a));
    cr_assert(api_deposit(&d, a, 7, "EUR"));
    struct http_resp r;
    /* seq 1 is the client.registered of the harness's admin client */
    cr_assert(http_do(&d, "GET", "/v1/events?after_seq=0&limit=2", NULL, NULL, &r));
    cr_assert_eq(r.status, 200);
    json_t *ev = json_object_get(r.json, "events");
    cr_assert_eq(json_array_size(ev), 2);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(ev, 0), "seq")), 1);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(ev, 0), "type")), "client.registered");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(ev, 1), "type")), "account.opened");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(ev, 1), "prev_hash")),
                     json_string_value(json_object_get(json_array_get(ev, 0), "hash")));
    cr_expect_str_neq(json_string_value(json_object_get(json_array_get(ev, 1), "actor")), "",
                      "every event records its actor");
    cr_expect_eq(resp_int(&r, "next_after_seq"), 2);
    http_resp_free(&r);
    cr_assert(http_do(&d, "GET", "/v1/events?after_seq=2&limit=10", NULL, NULL, &r));
    ev = json_object_get(r.json, "events");
    cr_assert_eq(json_array_size(ev), 2, "funding account opened + deposit");
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(ev, 1), "type")), "transfer.executed");
    http_resp_free(&r);
}

/* Health, readiness and Prometheus metrics answer with the documented series. */
Test(api, health_ready_metrics)
{
    struct http_resp r;
    cr_assert(http_do(&d, "GET", "/healthz", NULL, NULL, &r));
    cr_expect_eq(r.status, 200);
    http_resp_free(&r);
    cr_assert(http_do(&d, "GET", "/readyz", NULL, NULL, &r));
    cr_expect_eq(r.status, 200);
    http_resp_free(&r);
    char a[37];
    cr_assert(api_open_account(&d, "ma", "EUR", 0, a));
    cr_assert(http_do(&d, "GET", "/metrics", NULL, NULL, &r));
    cr_expect_eq(r.status, 200);
    const char *want[] = {"ledger_events_appended_total 1", "ledger_batch_events_bucket", "ledger_commit_seconds_bucket",
                          "ledger_queue_depth", "ledger_outbox_lag_events"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect(strstr(r.body, want[i]) != NULL, "metrics lack %s", want[i]);
    http_resp_free(&r);
}

/* A body over the limit is refused with 413 and nothing is applied. */
Test(api, oversized_body)
{
    size_t n = LEDGER_HTTP_BODY_BYTES_MAX + 1024;
    char *body = malloc(n + 1);
    memset(body, ' ', n);
    memcpy(body, "{\"holder_id\":\"x", 15);
    body[n - 2] = '"';
    body[n - 1] = '}';
    body[n] = '\0';
    struct http_resp r;
    cr_assert(http_do(&d, "GET", "/v1/events", NULL, NULL, &r));
    size_t before = json_array_size(json_object_get(r.json, "events"));
    http_resp_free(&r);
    cr_assert(http_do(&d, "POST", "/v1/accounts", body, NULL, &r));
    cr_expect_eq(r.status, 413);
    cr_expect_str_eq(resp_error_code(&r), "BODY_TOO_LARGE");
    http_resp_free(&r);
    free(body);
    cr_assert(http_do(&d, "GET", "/v1/events", NULL, NULL, &r));
    cr_expect_eq(json_array_size(json_object_get(r.json, "events")), before, "nothing appended");
    http_resp_free(&r);
}

/* ---- bad input, one table ------------------------------------------------------------------- */

struct bad_case {
    const char *what;
    const char *method;
    const char *path;
    const char *body;
    long status;
    const char *code;
    const char *field;
};

#define T "/v1/transfers"
#define TB(x) "{\"debit_account_id\":\"%A\",\"credit_account_id\":\"%B\"," x "}"
static struct bad_case bad_cases[] = {
    {"malformed JSON", "POST", T, "{\"amount\":", 400, "MALFORMED_JSON", ""},
    {"not an object", "POST", T, "[1,2]", 400, "MALFORMED_JSON", ""},
    {"empty body", "POST", T, "", 400, "MALFORMED_JSON", ""},
    {"amount as string", "POST", T, TB("\"amount\":\"12\",\"currency\":\"EUR\""), 422, "FIELD_INVALID", "amount"},
    {"amount as float", "POST", T, TB("\"amount\":12.5,\"currency\":\"EUR\""), 422, "FIELD_INVALID", "amount"},
    {"amount zero", "POST", T, TB("\"amount\":0,\"currency\":\"EUR\""), 422, "AMOUNT_NOT_POSITIVE", "amount"},
    {"amount negative", "POST", T, TB("\"amount\":-5,\"currency\":\"EUR\""), 422, "AMOUNT_NOT_POSITIVE", "amount"},
    {"amount overflows int64", "POST", T, TB("\"amount\":9223372036854775808,\"currency\":\"EUR\""), 422,
     "AMOUNT_OUT_OF_RANGE", "amount"},
    {"amount missing", "POST", T, TB("\"currency\":\"EUR\""), 422, "FIELD_MISSING", "amount"},
    {"unknown currency", "POST", T, TB("\"amount\":1,\"currency\":\"XYZ\""), 422, "CURRENCY_UNKNOWN", "currency"},
    {"lower-case currency", "POST", T, TB("\"amount\":1,\"currency\":\"eur\""), 422, "CURRENCY_UNKNOWN", "currency"},
    {"currency without minor unit", "POST", T, TB("\"amount\":1,\"currency\":\"XAU\""), 422, "CURRENCY_UNKNOWN",
     "currency"},
    {"currency as number", "POST", T, TB("\"amount\":1,\"currency\":978"), 422, "FIELD_INVALID", "currency"},
    {"currency differs from accounts", "POST", T, TB("\"amount\":1,\"currency\":\"USD\""), 409, "CURRENCY_MISMATCH",
     "debit_account_id"},
    {"same account both sides", "POST", T,
     "{\"debit_account_id\":\"%A\",\"credit_account_id\":\"%A\",\"amount\":1,\"currency\":\"EUR\"}", 422,
     "SAME_ACCOUNT", "credit_account_id"},
    {"unknown debit account", "POST", T,
     "{\"debit_account_id\":\"0190b7e2-0000-7000-8000-00000000dead\",\"credit_account_id\":\"%B\",\"amount\":1,"
     "\"currency\":\"EUR\"}", 404, "ACCOUNT_NOT_FOUND", "debit_account_id"},
    {"unknown credit account", "POST", T,
     "{\"debit_account_id\":\"%A\",\"credit_account_id\":\"0190b7e2-0000-7000-8000-00000000dead\",\"amount\":1,"
     "\"currency\":\"EUR\"}", 404, "ACCOUNT_NOT_FOUND", "credit_account_id"},
    {"account id not a UUID", "POST", T,
     "{\"debit_account_id\":\"abc\",\"credit_account_id\":\"%B\",\"amount\":1,\"currency\":\"EUR\"}", 422,
     "FIELD_INVALID", "debit_account_id"},
    {"insufficient funds", "POST", T, TB("\"amount\":100000,\"currency\":\"EUR\""), 409, "FUNDS_INSUFFICIENT",
     "amount"},
    {"reference too long", "POST", T,
     TB("\"amount\":1,\"currency\":\"EUR\",\"reference\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\""),
     422, "FIELD_TOO_LONG", "reference"},
    {"duplicate key", "POST", T, TB("\"amount\":1,\"amount\":2,\"currency\":\"EUR\""), 400, "MALFORMED_JSON", ""},
    {"open: holder missing", "POST", "/v1/accounts", "{\"currency\":\"EUR\",\"friendly_name\":\"x\"}", 422,
     "FIELD_MISSING", "holder_id"},
    {"open: unknown currency", "POST", "/v1/accounts", "{\"holder_id\":\"z\",\"currency\":\"EUX\",\"friendly_name\":\"x\"}",
     422, "CURRENCY_UNKNOWN", "currency"},
    {"open: negative overdraft", "POST", "/v1/accounts",
     "{\"holder_id\":\"z\",\"currency\":\"EUR\",\"friendly_name\":\"x\",\"overdraft_limit\":-1}", 422, "FIELD_INVALID",
     "overdraft_limit"},
    {"open: bad kind", "POST", "/v1/accounts", "{\"holder_id\":\"z\",\"currency\":\"EUR\",\"friendly_name\":\"x\",\"kind\":\"x\"}",
     422, "FIELD_INVALID", "kind"},
    {"deposit: zero", "POST", "/v1/deposits", "{\"account_id\":\"%A\",\"amount\":0,\"currency\":\"EUR\"}", 422,
     "AMOUNT_NOT_POSITIVE", "amount"},
    {"deposit: unknown account", "POST", "/v1/deposits",
     "{\"account_id\":\"0190b7e2-0000-7000-8000-00000000dead\",\"amount\":1,\"currency\":\"EUR\"}", 404,
     "ACCOUNT_NOT_FOUND", "account_id"},
    {"block: bad reason", "POST", "/v1/accounts/%A/block", "{\"reason\":\"BORED\"}", 422, "FIELD_INVALID", "reason"},
    {"block: unknown account", "POST", "/v1/accounts/0190b7e2-0000-7000-8000-00000000dead/block",
     "{\"reason\":\"USER\"}", 404, "ACCOUNT_NOT_FOUND", "account_id"},
    {"batch: empty", "POST", "/v1/transfers/batch", "{\"transfers\":[]}", 422, "BATCH_EMPTY", "transfers"},
    {"batch: not an array", "POST", "/v1/transfers/batch", "{\"transfers\":{}}", 422, "FIELD_INVALID", "transfers"},
    {"batch: bad item", "POST", "/v1/transfers/batch",
     "{\"transfers\":[{\"debit_account_id\":\"%A\",\"credit_account_id\":\"%B\",\"amount\":0,\"currency\":\"EUR\"}]}", 422,
     "AMOUNT_NOT_POSITIVE", "transfers[0].amount"},
    {"unknown route", "GET", "/v1/nothing", NULL, 404, "NOT_FOUND", ""},
    /* malformed paths: an empty segment, or more segments than any route, match nothing */
    {"empty path segment", "GET", "/v1//clients", NULL, 404, "NOT_FOUND", ""},
    {"only slashes", "GET", "//", NULL, 404, "NOT_FOUND", ""},
    {"empty segment after an id", "POST", "/v1/accounts/%A//block", "{\"reason\":\"USER\"}", 404, "NOT_FOUND", ""},
    {"too many segments", "GET", "/v1/accounts/%A/cards/a/b/c/d/e/f/g/h", NULL, 404, "NOT_FOUND", ""},
    {"unknown account", "GET", "/v1/accounts/0190b7e2-0000-7000-8000-00000000dead", NULL, 404, "ACCOUNT_NOT_FOUND",
     "account_id"},
    {"unknown transfer", "GET", "/v1/transfers/0190b7e2-0000-7000-8000-00000000dead", NULL, 404, "TRANSFER_NOT_FOUND",
     "id"},
    {"wrong method", "DELETE", "/v1/accounts", NULL, 405, "METHOD_NOT_ALLOWED", ""},
    {"GET on a write route", "GET", "/v1/deposits", NULL, 405, "METHOD_NOT_ALLOWED", ""},
    {"list without holder", "GET", "/v1/accounts", NULL, 422, "FIELD_MISSING", "holder_id"},
    {"events: bad limit", "GET", "/v1/events?limit=abc", NULL, 422, "FIELD_INVALID", "limit"},
    {"events: limit too large", "GET", "/v1/events?limit=100000", NULL, 422, "FIELD_INVALID", "limit"},
    /* limit 0 would answer an empty page whose cursor never advances */
    {"events: limit 0", "GET", "/v1/events?limit=0", NULL, 422, "FIELD_INVALID", "limit"},
    {"accounts: limit 0", "GET", "/v1/accounts?holder_id=alice&limit=0", NULL, 422, "FIELD_INVALID", "limit"},
    {"account cards: limit 0", "GET", "/v1/accounts/%A/cards?limit=0", NULL, 422, "FIELD_INVALID", "limit"},
    {"card authorizations: limit 0", "GET", "/v1/cards/%A/authorizations?limit=0", NULL, 422, "FIELD_INVALID",
     "limit"},
};

static void check_bad_case(const struct bad_case *c, const char *a, const char *b)
{
    char path[256], body[1024];
    fill(path, sizeof path, c->path, a, b);
    if (c->body)
        fill(body, sizeof body, c->body, a, b);
    struct http_resp r;
    cr_assert(http_do(&d, c->method, path, c->body ? body : NULL, NULL, &r), "%s: no answer", c->what);
    cr_expect_eq(r.status, c->status, "%s: status %ld, body %s", c->what, r.status, r.body);
    cr_expect_str_eq(resp_error_code(&r), c->code, "%s: %s", c->what, r.body);
    cr_expect_str_eq(resp_error_field(&r), c->field, "%s: %s", c->what, r.body);
    http_resp_free(&r);
    cr_expect_eq(api_balance(&d, a, "posted"), 1000, "%s: nothing moved", c->what);
}

/* Every kind of bad input (the table above) gets its status, its stable code and the offending
 * field, and changes nothing. */
Test(api, bad_input)
{
    char a[37], b[37];
    cr_assert(api_open_account(&d, "bad-a", "EUR", 0, a));
    cr_assert(api_open_account(&d, "bad-b", "EUR", 0, b));
    cr_assert(api_deposit(&d, a, 1000, "EUR"));
    struct http_resp r;
    cr_assert(http_do(&d, "GET", "/v1/events?limit=1000", NULL, NULL, &r));
    size_t events_before = json_array_size(json_object_get(r.json, "events"));
    http_resp_free(&r);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++)
        check_bad_case(&bad_cases[i], a, b);
    cr_assert(http_do(&d, "GET", "/v1/events?limit=1000", NULL, NULL, &r));
    cr_expect_eq(json_array_size(json_object_get(r.json, "events")), events_before, "no event appended");
    http_resp_free(&r);
}

/* Content-Type other than JSON is refused with 415. */
Test(api, content_type_refused)
{
    char cmd[1536];
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null -w '%%{http_code}' -H 'Authorization: Bearer %s' -H 'Content-Type: text/plain' "
             "-d '{}' %s/v1/accounts", d.token, d.base);
    FILE *p = popen(cmd, "r");
    char out[16] = {0};
    cr_assert(p && fgets(out, sizeof out, p));
    pclose(p);
    cr_expect_str_eq(out, "415");
}

/* Found by the JSON fuzzer: a malformed body whose parse error quotes bytes that are not UTF-8
 * made the error answer unbuildable and stopped ledgerd. It must be a 400 and the server lives. */
Test(api, malformed_body_with_invalid_utf8_does_not_stop_the_server)
{
    static const char body[] = "{\042linked\042:\0420380b7e200004\042,\042credit_TTTT\042:true,\042transfers\042:[{\042deount_id\042:\0420189b00-0\134\335\202\242\205";
    struct http_resp r;
    cr_assert(http_do(&d, "POST", "/v1/transfers/batch", body, NULL, &r));
    cr_expect_eq(r.status, 400, "%s", r.body);
    cr_expect_str_eq(resp_error_code(&r), "MALFORMED_JSON");
    cr_expect_neq(r.json, NULL, "the answer is valid JSON");
    http_resp_free(&r);
    cr_assert(http_do(&d, "GET", "/healthz", NULL, NULL, &r));
    cr_expect_eq(r.status, 200, "ledgerd is still up");
    http_resp_free(&r);
}

/* SIGTERM: the listening socket refuses new connections at once (not left in the backlog) while
 * ledgerd is still draining; its descriptor is closed only after the HTTP threads are joined (MHD's
 * rule for a quiesced socket); ledgerd then exits 0. */
Test(api, drain_refuses_new_connections)
{
    cr_assert_eq(kill(d.pid, SIGTERM), 0);
    bool refused = false, running = false;
    for (int i = 0; i < 200 && !refused; i++) { /* x 2 ms; the drain lasts at least 200 ms */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert(fd >= 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)d.port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno == ECONNREFUSED) {
            refused = true;
            siginfo_t info = {0};
            running = waitid(P_PID, (id_t)d.pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
        }
        close(fd);
        usleep(2000);
    }
    cr_assert(refused, "a connection was still taken 400 ms after SIGTERM");
    cr_expect(running, "refused while ledgerd was still draining, not because it had exited");
    cr_assert_eq(ledgerd_stop(&d), 0, "clean exit");
}
