/*
 * test_cards_api.c: the card processor's contract (docs/CARDS.md) end to end: the real ledgerd
 * binary, a real RocksDB in a temp directory and a real nats-server (tests/nats_harness.h). Card
 * management over HTTP; authorizations, captures, reversals, refunds and advices over NATS
 * request-reply (ledger.cmd.card.<verb>) and over HTTP; bad input answered on both.
 */
#include <criterion/criterion.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/nats_harness.h"

#define REQUEST_TIMEOUT_MS 5000
#define NO_RESPONDERS_RETRIES 100 /* x 50 ms: the listener subscribes right after ledgerd starts */

static char tmp[64], data[128];
static struct ledgerd d;
static struct nats_harness nh;
static natsConnection *nc;

static void setup(void)
{
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    cr_assert(nats_harness_start(&nh, tmp), "nats-server did not start");
    cr_assert(ledgerd_start(&d, data, nh.url), "ledgerd did not start");
    cr_assert_eq(natsConnection_ConnectTo(&nc, nh.url), NATS_OK);
}

static void teardown(void)
{
    natsConnection_Destroy(nc);
    nc = NULL;
    ledgerd_kill(&d);
    nats_harness_release(&nh);
    harness_rmdir(tmp);
}

TestSuite(cards, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---------------------------------------------------------------------------------- */

/* Request-reply on subject; the parsed reply (caller decrefs). Retries while nobody listens yet. */
static json_t *nats_req(const char *subject, const char *body)
{
    natsMsg *reply = NULL;
    natsStatus s = NATS_NO_RESPONDERS;
    for (int i = 0; i < NO_RESPONDERS_RETRIES && s == NATS_NO_RESPONDERS; i++) {
        s = natsConnection_RequestString(&reply, nc, subject, body, REQUEST_TIMEOUT_MS);
        if (s == NATS_NO_RESPONDERS)
            usleep(50 * 1000);
    }
    cr_assert_eq(s, NATS_OK, "request on %s: %s", subject, natsStatus_GetText(s));
    json_error_t je;
    json_t *doc = json_loadb(natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), 0, &je);
    cr_assert_not_null(doc, "reply is not JSON: %.*s", natsMsg_GetDataLength(reply), natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
    return doc;
}

static const char *jstr(json_t *doc, const char *key)
{
    const char *s = json_string_value(json_object_get(doc, key));
    return s ? s : "";
}

static long long jint(json_t *doc, const char *key)
{
    json_t *v = json_object_get(doc, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static const char *jerr_code(json_t *doc)
{
    return jstr(json_object_get(doc, "error"), "code");
}

/* An account funded with deposit (0: none) and an active card on it. */
static void make_card(long long deposit, char account[37], char card[37])
{
    cr_assert(api_open_account(&d, "cardholder", "EUR", 0, account));
    if (deposit > 0)
        cr_assert(api_deposit(&d, account, deposit, "EUR"));
    cr_assert(api_active_card(&d, account, "virtual", "ADA LOVELACE", card), "card issued and activated");
}

static void auth_body(char *out, size_t cap, const char *auth_id, const char *card, long long amount,
                      const char *extra)
{
    snprintf(out, cap,
             "{\"authorization_id\":\"%s\",\"card_id\":\"%s\",\"amount\":%lld,\"currency\":\"EUR\","
             "\"merchant\":{\"name\":\"Corner Shop\",\"mcc\":5411,\"country\":\"FR\",\"id\":\"m-42\"},"
             "\"channel\":\"POS\"%s}",
             auth_id, card, amount, extra ? extra : "");
}

/* ---- card management over HTTP ---------------------------------------------------------------- */

/* Issuing answers 201 with edge-chosen last four, token and expiry; activate, block, unblock,
 * limits, replace and destroy move the card as documented, and the reads come from the rows. */
Test(cards, issue_activate_block_replace_over_http)
{
    char account[37], card[37], path[160];
    cr_assert(api_open_account(&d, "holder-m", "EUR", 0, account));
    char body[512];
    snprintf(body, sizeof body,
             "{\"account_id\":\"%s\",\"type\":\"physical\",\"brand\":\"MASTERCARD\",\"name_on_card\":\"A B\","
             "\"limits\":{\"per_auth_max\":5000,\"blocked_mcc\":[7995],\"atm\":false}}",
             account);
    struct http_resp r;
    cr_assert(http_do(&d, "POST", "/v1/cards", body, NULL, &r));
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(card, sizeof card, "%s", resp_str(&r, "id"));
    cr_expect_str_eq(resp_str(&r, "state"), "inactive");
    cr_expect_str_eq(resp_str(&r, "type"), "physical");
    cr_expect_str_eq(resp_str(&r, "account_id"), account);
    cr_expect_eq(strlen(resp_str(&r, "last_four")), 4);
    cr_expect_eq(strlen(resp_str(&r, "expiry")), 4);
    cr_expect_eq(strncmp(resp_str(&r, "token"), "tok_", 4), 0);
    cr_expect_eq(strlen(resp_str(&r, "token")), 28);
    json_t *limits = json_object_get(r.json, "limits");
    cr_expect_eq(jint(limits, "per_auth_max"), 5000);
    cr_expect(json_is_false(json_object_get(limits, "atm")));
    cr_expect(json_is_true(json_object_get(limits, "ecom")));
    http_resp_free(&r);

    snprintf(path, sizeof path, "/v1/cards/%s/activate", card);
    cr_assert(http_do(&d, "POST", path, NULL, NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "state"), "active");
    http_resp_free(&r);
    cr_assert(http_do(&d, "POST", path, NULL, NULL, &r));
    cr_expect_eq(r.status, 409);
    cr_expect_str_eq(resp_error_code(&r), "CARD_ALREADY_ACTIVE");
    http_resp_free(&r);

    snprintf(path, sizeof path, "/v1/cards/%s/block", card);
    cr_assert(http_do(&d, "POST", path, "{\"reason\":\"USER\"}", NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "state"), "blocked");
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(r.json, "blocks"), 0)), "USER");
    http_resp_free(&r);
    cr_assert(http_do(&d, "POST", path, "{\"reason\":\"NOPE\"}", NULL, &r));
    cr_expect_eq(r.status, 422);
    cr_expect_str_eq(resp_error_field(&r), "reason");
    http_resp_free(&r);
    snprintf(path, sizeof path, "/v1/cards/%s/unblock", card);
    cr_assert(http_do(&d, "POST", path, "{\"reason\":\"USER\"}", NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "state"), "active");
    http_resp_free(&r);

    snprintf(path, sizeof path, "/v1/cards/%s/limits", card);
    cr_assert(http_do(&d, "PUT", path, "{\"day_amount\":100000,\"allowed_countries\":[\"FR\",\"BE\"]}", NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    limits = json_object_get(r.json, "limits");
    cr_expect_eq(jint(limits, "day_amount"), 100000);
    cr_expect_eq(jint(limits, "per_auth_max"), 0, "PUT replaces every limit");
    cr_expect_eq(json_array_size(json_object_get(limits, "allowed_countries")), 2);
    http_resp_free(&r);
    cr_assert(http_do(&d, "PUT", path, "{\"allowed_countries\":[\"france\"]}", NULL, &r));
    cr_expect_eq(r.status, 422);
    cr_expect_str_eq(resp_error_field(&r), "allowed_countries");
    http_resp_free(&r);

    snprintf(path, sizeof path, "/v1/cards/%s/replace", card);
    cr_assert(http_do(&d, "POST", path, NULL, NULL, &r));
    cr_expect_eq(r.status, 201, "%s", r.body);
    char replacement[37];
    snprintf(replacement, sizeof replacement, "%s", resp_str(&r, "id"));
    cr_expect_str_neq(replacement, card);
    cr_expect_str_eq(resp_str(&r, "replaces"), card);
    http_resp_free(&r);

    snprintf(path, sizeof path, "/v1/cards/%s", card);
    cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
    cr_expect_eq(r.status, 200);
    cr_expect_str_eq(resp_str(&r, "state"), "replaced");
    http_resp_free(&r);

    snprintf(path, sizeof path, "/v1/accounts/%s/cards", account);
    cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
    cr_expect_eq(r.status, 200);
    cr_expect_eq(json_array_size(json_object_get(r.json, "cards")), 2);
    http_resp_free(&r);

    snprintf(path, sizeof path, "/v1/cards/%s/destroy", replacement);
    cr_assert(http_do(&d, "POST", path, NULL, NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "state"), "destroyed");
    http_resp_free(&r);

    cr_assert(http_do(&d, "GET", "/v1/cards/01a1fcb2-1337-7be0-a0d2-896ef0dd3001", NULL, NULL, &r));
    cr_expect_eq(r.status, 404);
    cr_expect_str_eq(resp_error_code(&r), "CARD_NOT_FOUND");
    http_resp_free(&r);
}

/* ---- authorization ---------------------------------------------------------------------------- */

/* An authorization over NATS is answered after it is durable (its seq is in the log), places a
 * hold that GET balance shows at once, and a repeated authorization id gets the same answer. */
Test(cards, authorize_over_nats_holds_at_once)
{
    char account[37], card[37], body[512], path[160];
    make_card(10000, account, card);
    auth_body(body, sizeof body, "auth-nats-1", card, 1500, NULL);
    json_t *rep = nats_req("ledger.cmd.card.authorize", body);
    cr_expect_str_eq(jstr(rep, "authorization_id"), "auth-nats-1");
    cr_expect_str_eq(jstr(rep, "result"), "approved");
    cr_expect_str_eq(jstr(rep, "response_code"), "00");
    cr_expect_eq(strlen(jstr(rep, "approval_code")), 6);
    cr_expect_eq(jint(rep, "approved_amount"), 1500);
    cr_expect_eq(jint(rep, "available"), 8500);
    long long seq = jint(rep, "seq");
    cr_assert_gt(seq, 0);

    struct http_resp r;
    snprintf(path, sizeof path, "/v1/events?after_seq=%lld&limit=1", seq - 1);
    cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
    json_t *ev = json_array_get(json_object_get(r.json, "events"), 0);
    cr_expect_eq(jint(ev, "seq"), seq, "the decision is in the log when the reply arrives: %s", r.body);
    http_resp_free(&r);

    cr_expect_eq(api_balance(&d, account, "available"), 8500);
    cr_expect_eq(api_balance(&d, account, "posted"), 10000);

    json_t *again = nats_req("ledger.cmd.card.authorize", body);
    cr_expect(json_equal(rep, again), "a repeated authorization id is answered as the first time");
    json_decref(again);
    cr_expect_eq(api_balance(&d, account, "available"), 8500, "and holds nothing more");
    json_decref(rep);

    snprintf(path, sizeof path, "/v1/cards/%s/authorizations", card);
    cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
    cr_expect_eq(r.status, 200);
    json_t *a = json_array_get(json_object_get(r.json, "authorizations"), 0);
    cr_expect_str_eq(jstr(a, "authorization_id"), "auth-nats-1");
    cr_expect_str_eq(jstr(a, "state"), "pending");
    cr_expect_eq(jint(a, "held"), 1500);
    cr_expect_eq(jint(a, "captured"), 0);
    cr_expect_str_eq(jstr(a, "response_code"), "00");
    cr_expect(json_is_string(json_object_get(a, "expires_at")));
    http_resp_free(&r);

    /* Both NATS requests (the repeat too) are in ledgerd's own latency histogram. */
    cr_assert(http_do(&d, "GET", "/metrics", NULL, NULL, &r));
    cr_expect(strstr(r.body, "# TYPE ledger_card_command_seconds histogram\n") != NULL, "%s", r.body);
    cr_expect(strstr(r.body, "ledger_card_command_seconds_bucket{le=\"+Inf\"} 2\n") != NULL, "%s", r.body);
    cr_expect(strstr(r.body, "ledger_card_command_seconds_count 2\n") != NULL, "%s", r.body);
    http_resp_free(&r);
}

/* ledgerd's card connection reconnects by itself after nats-server comes back (its event loop
 * takes the new socket) and answers on it. */
Test(cards, nats_commands_resume_after_a_nats_restart)
{
    char account[37], card[37], body[512];
    make_card(10000, account, card);
    auth_body(body, sizeof body, "auth-before", card, 1000, NULL);
    json_t *rep = nats_req("ledger.cmd.card.authorize", body);
    cr_expect_str_eq(jstr(rep, "response_code"), "00");
    json_decref(rep);

    nats_harness_stop(&nh);
    natsConnection_Destroy(nc);
    cr_assert(nats_harness_restart(&nh));
    cr_assert_eq(natsConnection_ConnectTo(&nc, nh.url), NATS_OK);
    auth_body(body, sizeof body, "auth-after", card, 2000, NULL);
    rep = nats_req("ledger.cmd.card.authorize", body); /* no responders until ledgerd is back: retried */
    cr_expect_str_eq(jstr(rep, "response_code"), "00", "%s", json_dumps(rep, 0));
    cr_expect_eq(jint(rep, "available"), 7000);
    json_decref(rep);
    cr_expect_eq(api_balance(&d, account, "available"), 7000);
}

/* ledgerd started while nats-server is down serves HTTP at once and takes card commands over
 * NATS as soon as the server is up (its first connect is retried in the background). */
Test(cards, nats_commands_once_nats_comes_up_after_ledgerd)
{
    char account[37], card[37], body[512];
    make_card(10000, account, card);
    cr_assert_eq(ledgerd_stop(&d), 0);
    natsConnection_Destroy(nc);
    nc = NULL;
    nats_harness_stop(&nh);
    cr_assert(ledgerd_start(&d, data, nh.url), "ledgerd starts without NATS");
    cr_expect_eq(api_balance(&d, account, "available"), 10000);
    cr_assert(nats_harness_restart(&nh));
    cr_assert_eq(natsConnection_ConnectTo(&nc, nh.url), NATS_OK);
    auth_body(body, sizeof body, "auth-late-nats", card, 2500, NULL);
    json_t *rep = nats_req("ledger.cmd.card.authorize", body); /* no responders until ledgerd connects */
    cr_expect_str_eq(jstr(rep, "response_code"), "00", "%s", json_dumps(rep, 0));
    cr_expect_eq(jint(rep, "available"), 7500);
    json_decref(rep);
}

/* The same request over HTTP: 200 with the same reply fields; insufficient funds is a decline
 * "51" (a result, not an error); partial_allowed approves what is available with "10". */
Test(cards, authorize_over_http)
{
    char account[37], card[37], body[512];
    make_card(10000, account, card);
    struct http_resp r;
    auth_body(body, sizeof body, "auth-http-1", card, 4000, NULL);
    cr_assert(http_do(&d, "POST", "/v1/card-authorizations", body, NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "result"), "approved");
    cr_expect_str_eq(resp_str(&r, "response_code"), "00");
    cr_expect_eq(resp_int(&r, "available"), 6000);
    cr_expect_neq(r.seq_header[0], '\0', "Ledger-Seq header");
    http_resp_free(&r);

    auth_body(body, sizeof body, "auth-http-2", card, 7000, NULL);
    cr_assert(http_do(&d, "POST", "/v1/card-authorizations", body, NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "result"), "declined");
    cr_expect_str_eq(resp_str(&r, "response_code"), "51");
    cr_expect_eq(resp_int(&r, "approved_amount"), 0);
    http_resp_free(&r);

    auth_body(body, sizeof body, "auth-http-3", card, 7000, ",\"partial_allowed\":true");
    cr_assert(http_do(&d, "POST", "/v1/card-authorizations", body, NULL, &r));
    cr_expect_str_eq(resp_str(&r, "result"), "approved", "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "response_code"), "10");
    cr_expect_eq(resp_int(&r, "approved_amount"), 6000);
    cr_expect_eq(resp_int(&r, "available"), 0);
    http_resp_free(&r);
    cr_expect_eq(api_balance(&d, account, "available"), 0);

    cr_assert(http_do(&d, "GET", "/v1/card-authorizations/auth-http-3", NULL, NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_eq(resp_int(&r, "held"), 6000);
    http_resp_free(&r);
}

/* The hold lifetime is set at the edge: 7 days for FINAL_AUTH, 30 for PRE_AUTH (defaults). */
Test(cards, hold_expiry_by_category)
{
    char account[37], card[37], body[512];
    make_card(10000, account, card);
    struct http_resp r;
    auth_body(body, sizeof body, "exp-final", card, 100, NULL);
    cr_assert(http_do(&d, "POST", "/v1/card-authorizations", body, NULL, &r));
    http_resp_free(&r);
    auth_body(body, sizeof body, "exp-pre", card, 100, ",\"category\":\"PRE_AUTH\"");
    cr_assert(http_do(&d, "POST", "/v1/card-authorizations", body, NULL, &r));
    http_resp_free(&r);
    const char *ids[] = {"exp-final", "exp-pre"};
    char got[2][32];
    for (int i = 0; i < 2; i++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/card-authorizations/%s", ids[i]);
        cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
        cr_assert_eq(r.status, 200, "%s", r.body);
        struct tm created = {0}, expires = {0};
        cr_assert_not_null(strptime(resp_str(&r, "created_at"), "%Y-%m-%dT%H:%M:%S", &created));
        cr_assert_not_null(strptime(resp_str(&r, "expires_at"), "%Y-%m-%dT%H:%M:%S", &expires));
        double days = difftime(timegm(&expires), timegm(&created)) / 86400.0;
        snprintf(got[i], sizeof got[i], "%.3f", days);
        http_resp_free(&r);
    }
    cr_expect_str_eq(got[0], "7.000");
    cr_expect_str_eq(got[1], "30.000");
}

/* ---- capture, reversal, refund, advice -------------------------------------------------------- */

/* A partial capture over NATS posts the amount and keeps the rest held; a reversal over HTTP
 * releases the rest; a repeated capture id changes nothing. */
Test(cards, capture_and_reversal)
{
    char account[37], card[37], body[512];
    make_card(10000, account, card);
    auth_body(body, sizeof body, "auth-cap-1", card, 3000, NULL);
    json_t *rep = nats_req("ledger.cmd.card.authorize", body);
    cr_assert_str_eq(jstr(rep, "result"), "approved");
    json_decref(rep);

    const char *cap = "{\"authorization_id\":\"auth-cap-1\",\"capture_id\":\"cap-1\",\"amount\":1000,\"final\":false}";
    rep = nats_req("ledger.cmd.card.capture", cap);
    cr_expect_str_eq(jstr(rep, "result"), "accepted", "%s", json_dumps(rep, 0));
    cr_expect_str_eq(jstr(rep, "capture_id"), "cap-1");
    cr_expect_eq(jint(rep, "posted"), 1000);
    cr_expect_eq(jint(rep, "held"), 2000);
    cr_expect_gt(jint(rep, "seq"), 0);
    json_decref(rep);
    cr_expect_eq(api_balance(&d, account, "posted"), 9000);
    cr_expect_eq(api_balance(&d, account, "available"), 7000);

    rep = nats_req("ledger.cmd.card.capture", cap);
    cr_expect_str_eq(jstr(rep, "result"), "accepted");
    json_decref(rep);
    cr_expect_eq(api_balance(&d, account, "posted"), 9000, "a repeated capture id posts nothing");

    struct http_resp r;
    cr_assert(http_do(&d, "POST", "/v1/card-authorizations/auth-cap-1/reverse", "{\"reversal_id\":\"rev-1\"}", NULL,
                      &r));
    cr_expect_eq(r.status, 201, "%s", r.body);
    cr_expect_eq(resp_int(&r, "released"), 2000);
    cr_expect_eq(resp_int(&r, "held"), 0);
    http_resp_free(&r);
    cr_expect_eq(api_balance(&d, account, "available"), 9000);
    cr_expect_eq(api_balance(&d, account, "pending"), 0);

    cr_assert(http_do(&d, "POST", "/v1/card-authorizations/auth-cap-1/capture",
                      "{\"capture_id\":\"cap-2\",\"amount\":10}", NULL, &r));
    cr_expect_eq(r.status, 409, "%s", r.body);
    cr_expect_str_eq(resp_error_code(&r), "AUTHORIZATION_CLOSED");
    http_resp_free(&r);
    cr_assert(http_do(&d, "POST", "/v1/card-authorizations/nope/capture",
                      "{\"capture_id\":\"cap-3\",\"amount\":10}", NULL, &r));
    cr_expect_eq(r.status, 404, "%s", r.body);
    cr_expect_str_eq(resp_error_code(&r), "AUTHORIZATION_NOT_FOUND");
    http_resp_free(&r);
    rep = nats_req("ledger.cmd.card.reverse", "{\"authorization_id\":\"nope\",\"reversal_id\":\"rev-2\"}");
    cr_expect_str_eq(jstr(rep, "result"), "rejected");
    cr_expect_str_eq(jerr_code(rep), "AUTHORIZATION_NOT_FOUND");
    json_decref(rep);
}

/* Incremental authorization adds to an open hold; a refund credits the account; a stand-in advice
 * is posted even when it overdraws. */
Test(cards, incremental_refund_and_advice)
{
    char account[37], card[37], body[512];
    make_card(10000, account, card);
    auth_body(body, sizeof body, "hotel-1", card, 2000, ",\"category\":\"PRE_AUTH\"");
    json_t *rep = nats_req("ledger.cmd.card.authorize", body);
    cr_expect_str_eq(jstr(rep, "result"), "approved");
    json_decref(rep);
    auth_body(body, sizeof body, "hotel-1-inc", card, 500,
              ",\"category\":\"PRE_AUTH\",\"original_authorization_id\":\"hotel-1\"");
    rep = nats_req("ledger.cmd.card.authorize", body);
    cr_expect_str_eq(jstr(rep, "result"), "approved", "%s", json_dumps(rep, 0));
    json_decref(rep);
    cr_expect_eq(api_balance(&d, account, "available"), 7500);

    snprintf(body, sizeof body,
             "{\"refund_id\":\"ref-1\",\"card_id\":\"%s\",\"amount\":300,\"currency\":\"EUR\"}", card);
    rep = nats_req("ledger.cmd.card.refund", body);
    cr_expect_str_eq(jstr(rep, "result"), "accepted", "%s", json_dumps(rep, 0));
    json_decref(rep);
    cr_expect_eq(api_balance(&d, account, "posted"), 10300);

    auth_body(body, sizeof body, "advice-1", card, 50000, NULL);
    struct http_resp r;
    cr_assert(http_do(&d, "POST", "/v1/card-advices", body, NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "result"), "approved");
    http_resp_free(&r);
    cr_expect_lt(api_balance(&d, account, "available"), 0, "a stand-in advice is recorded even if it overdraws");
}

/* ---- bad input -------------------------------------------------------------------------------- */

/* Over NATS, bad input is a declined reply: "12" invalid transaction or "13" invalid amount, with
 * an error object naming the field; an unknown verb is "12" too. */
Test(cards, bad_input_over_nats)
{
    char account[37], card[37], body[512];
    make_card(10000, account, card);
    static const struct {
        const char *extra_or_body; /* NULL card: a whole body */
        long long amount;
        const char *code, *error, *field;
    } cases[] = {
        {NULL, 0, "13", "AMOUNT_NOT_POSITIVE", "amount"},
        {NULL, -5, "13", "AMOUNT_NOT_POSITIVE", "amount"},
        {"{\"authorization_id\":\"x\"}", 0, "12", "FIELD_MISSING", "card_id"},
        {"not json", 0, "12", "MALFORMED_JSON", NULL},
        {"{\"authorization_id\":\"x\",\"card_id\":\"c\",\"amount\":1}", 0, "12", "FIELD_INVALID", "card_id"},
        {"{\"authorization_id\":\"x y\"}", 0, "12", "FIELD_INVALID", "authorization_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].extra_or_body == NULL)
            auth_body(body, sizeof body, "bad-1", card, cases[i].amount, NULL);
        else
            snprintf(body, sizeof body, "%s", cases[i].extra_or_body);
        json_t *rep = nats_req("ledger.cmd.card.authorize", body);
        cr_expect_str_eq(jstr(rep, "result"), "declined", "case %zu", i);
        cr_expect_str_eq(jstr(rep, "response_code"), cases[i].code, "case %zu", i);
        cr_expect_str_eq(jerr_code(rep), cases[i].error, "case %zu", i);
        if (cases[i].field != NULL)
            cr_expect_str_eq(jstr(json_object_get(rep, "error"), "field"), cases[i].field, "case %zu", i);
        json_decref(rep);
    }
    auth_body(body, sizeof body, "bad-2", card, 100, ",\"channel\":\"TELEPATHY\"");
    json_t *rep = nats_req("ledger.cmd.card.authorize", body);
    cr_expect_str_eq(jstr(rep, "response_code"), "12");
    cr_expect_str_eq(jerr_code(rep), "MALFORMED_JSON", "a duplicate key is malformed");
    json_decref(rep);

    rep = nats_req("ledger.cmd.card.teleport", "{}");
    cr_expect_str_eq(jstr(rep, "response_code"), "12");
    cr_expect_str_eq(jerr_code(rep), "NOT_FOUND");
    json_decref(rep);

    rep = nats_req("ledger.cmd.card.capture", "{\"authorization_id\":\"a\",\"capture_id\":\"c\"}");
    cr_expect_str_eq(jstr(rep, "result"), "rejected");
    cr_expect_str_eq(jstr(rep, "response_code"), "12");
    cr_expect_str_eq(jerr_code(rep), "FIELD_MISSING");
    json_decref(rep);

    snprintf(body, sizeof body, "{\"authorization_id\":\"u-1\",\"card_id\":\"01a1fcb2-1337-7be0-a0d2-896ef0dd3001\","
                                "\"amount\":100,\"currency\":\"EUR\",\"merchant\":{\"mcc\":5411,\"country\":\"FR\"},"
                                "\"channel\":\"ECOM\"}");
    rep = nats_req("ledger.cmd.card.authorize", body);
    cr_expect_str_eq(jstr(rep, "result"), "declined");
    cr_expect_str_eq(jstr(rep, "response_code"), "14", "unknown card: %s", json_dumps(rep, 0));
    json_decref(rep);
    cr_expect_eq(api_balance(&d, account, "available"), 10000, "no bad request held anything");
}

/* Over HTTP, bad input is the usual 422 with the field. */
Test(cards, bad_input_over_http)
{
    char account[37], card[37], body[512];
    make_card(10000, account, card);
    struct http_resp r;
    auth_body(body, sizeof body, "bad-h1", card, 0, NULL);
    cr_assert(http_do(&d, "POST", "/v1/card-authorizations", body, NULL, &r));
    cr_expect_eq(r.status, 422, "%s", r.body);
    cr_expect_str_eq(resp_error_code(&r), "AMOUNT_NOT_POSITIVE");
    cr_expect_str_eq(resp_error_field(&r), "amount");
    http_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"authorization_id\":\"bad-h2\",\"card_id\":\"%s\",\"amount\":10,\"currency\":\"EUR\","
             "\"merchant\":{\"mcc\":12345,\"country\":\"FR\"},\"channel\":\"POS\"}",
             card);
    cr_assert(http_do(&d, "POST", "/v1/card-authorizations", body, NULL, &r));
    cr_expect_eq(r.status, 422, "%s", r.body);
    cr_expect_str_eq(resp_error_field(&r), "merchant.mcc");
    http_resp_free(&r);
    snprintf(body, sizeof body, "{\"account_id\":\"%s\",\"type\":\"plastic\",\"brand\":\"V\",\"name_on_card\":\"X\"}",
             account);
    cr_assert(http_do(&d, "POST", "/v1/cards", body, NULL, &r));
    cr_expect_eq(r.status, 422, "%s", r.body);
    cr_expect_str_eq(resp_error_field(&r), "type");
    http_resp_free(&r);
    cr_assert(http_do(&d, "GET", "/v1/card-authorizations", NULL, NULL, &r));
    cr_expect_eq(r.status, 405);
    http_resp_free(&r);
}

/* ---- index rows ------------------------------------------------------------------------------- */

static size_t list_len(const char *path, const char *field)
{
    struct http_resp r;
    cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
    cr_assert_eq(r.status, 200, "%s", r.body);
    size_t n = json_array_size(json_object_get(r.json, field));
    http_resp_free(&r);
    return n;
}

/* The account-card and card-authorization index rows are written when a card or authorization is
 * new, not at every change: after captures, a restart and more authorizations, each list holds
 * every card and authorization exactly once, and verify agrees with the stored rows. */
Test(cards, index_rows_across_changes_and_restart)
{
    char account[37], card[37], body[512], path[160];
    make_card(100000, account, card);
    auth_body(body, sizeof body, "auth-ix-1", card, 1000, NULL);
    json_t *rep = nats_req("ledger.cmd.card.authorize", body);
    cr_assert_str_eq(jstr(rep, "result"), "approved");
    json_decref(rep);
    rep = nats_req("ledger.cmd.card.capture",
                   "{\"authorization_id\":\"auth-ix-1\",\"capture_id\":\"cap-ix-1\",\"amount\":400,\"final\":false}");
    cr_assert_str_eq(jstr(rep, "result"), "accepted");
    json_decref(rep);

    cr_assert_eq(ledgerd_stop(&d), 0);
    cr_assert(ledgerd_start(&d, data, nh.url), "ledgerd did not restart");
    auth_body(body, sizeof body, "auth-ix-2", card, 2000, NULL);
    rep = nats_req("ledger.cmd.card.authorize", body);
    cr_assert_str_eq(jstr(rep, "result"), "approved");
    json_decref(rep);
    char second[37];
    cr_assert(api_active_card(&d, account, "physical", "ADA LOVELACE", second), "second card issued and activated");

    snprintf(path, sizeof path, "/v1/accounts/%s/cards", account);
    cr_expect_eq(list_len(path, "cards"), 2, "both cards, once each");
    snprintf(path, sizeof path, "/v1/cards/%s/authorizations", card);
    cr_expect_eq(list_len(path, "authorizations"), 2, "both authorizations, once each");
    snprintf(path, sizeof path, "/v1/cards/%s/authorizations", second);
    cr_expect_eq(list_len(path, "authorizations"), 0);
    cr_assert_eq(ledgerd_stop(&d), 0);
    cr_assert(ledgerctl_verify_ok(data));
    cr_assert(ledgerd_start(&d, data, nh.url), "ledgerd did not start again");
}
