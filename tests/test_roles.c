/*
 * test_roles.c: the roles x permissions tables of docs/SECURITY.md, every role against every
 * route, end to end: the real ledgerd binary (manual business clock, no NATS), one client per
 * role registered with ledgerctl, and a fixture made by the admin:
 *
 *   A, B    customer accounts of holder "alice" (A funded by a deposit; a transfer A -> B)
 *   I, J    internal accounts;  Z an empty customer account (closed by the admin)
 *   C, D    active cards on A (D is replaced and destroyed);  E an active card on B
 *   H, G    authorizations on C and on E
 *   T       the transfer A -> B;  U a deposit to B
 *   S, Q    the November statements of A and of B (the clock is moved to seal them)
 *   tp1     a third party declared on A with ["view"] (never on B); the third_party client is tp1
 *
 * Each row of the table is one request (path and body templates with %A, %B, ... for the ids
 * above) sent once by every role, in the order of the columns, with what each role must get:
 *   Y  the request reached the route: not 401/403/405, not the route's scope 404; a GET on the
 *      fixture's resources must answer 200 (writes may be 2xx, 409, 422: bodies are harmless)
 *   N  403 FORBIDDEN
 *   H  404 with the route's usual not-found code (a third party on an account it is not declared
 *      on, or a resource of such an account): exactly what an unknown id answers
 *   X  not sent for that role
 * A hidden answer (H) must also be byte for byte what the admin gets for an unknown id on the same
 * route. Every mismatch is reported on one line (route, role, expected, actual status and body);
 * ROLES_VERBOSE=1 prints every request's line. The last rows check the order of checks of
 * SECURITY.md (the role, step 4, before validation, step 5): a role that may not use a route gets
 * 403 even with an invalid body.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tests/harness.h"

#define CLOCK_START "2026-11-20T10:00:00Z"
#define POLL_TRIES 200 /* x 25 ms: the scheduler seals the period right after the clock moved */

static const char *const manual_args[] = {"--clock", "manual", "--clock-start", CLOCK_START,
                                          "--statement-tz", "Europe/Paris", NULL};

static char tmp[64], data[128];
static struct ledgerd d;

static void setup(void)
{
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
}

static void teardown(void)
{
    ledgerd_kill(&d);
    harness_rmdir(tmp);
}

TestSuite(roles, .init = setup, .fini = teardown, .timeout = 120);

/* ---- roles and the fixture -------------------------------------------------------------------- */

enum role_ix { R_ADMIN, R_COMPLIANCE, R_ANTIFRAUD, R_ACCOUNTANT, R_SUPPORT, R_TP, R_CP, ROLES };

static const char *const role_names[ROLES] = {"admin",   "compliance",  "antifraud",     "accountant",
                                              "support", "third_party", "card_processor"};

struct principal {
    char id[64];
    char secret[128];
    struct ledgerd as; /* d with this client's token */
};

static struct principal who[ROLES];
static char victim_id[64]; /* a client only the admin may revoke */

/* The fixture's ids, by the letter that stands for them in the table's templates. */
static char fx_A[37], fx_B[37], fx_I[37], fx_J[37], fx_Z[37], fx_C[37], fx_D[37], fx_E[37], fx_T[37], fx_U[37],
    fx_S[37], fx_Q[37];

#define UNKNOWN_ID "00000000-0000-7000-8000-000000000000"
static char unknown_letter; /* expand() puts an unknown id in place of this letter (0: none) */

static const char *fixture_value(char letter)
{
    if (letter != 0 && letter == unknown_letter)
        return letter == 'H' || letter == 'G' ? "auth-roles-unknown" : UNKNOWN_ID;
    switch (letter) {
    case 'A': return fx_A;
    case 'B': return fx_B;
    case 'I': return fx_I;
    case 'J': return fx_J;
    case 'Z': return fx_Z;
    case 'C': return fx_C;
    case 'D': return fx_D;
    case 'E': return fx_E;
    case 'T': return fx_T;
    case 'U': return fx_U;
    case 'S': return fx_S;
    case 'Q': return fx_Q;
    case 'H': return "auth-roles-a";
    case 'G': return "auth-roles-b";
    case 'V': return victim_id;
    default: return NULL;
    }
}

/* tmpl with every %X replaced by the fixture's value into out. */
static void expand(const char *tmpl, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = tmpl; *p != '\0'; p++) {
        const char *v = NULL;
        char one[2] = {*p, '\0'};
        if (*p == '%' && p[1] != '\0') {
            v = fixture_value(p[1]);
            cr_assert_not_null(v, "template %s: unknown placeholder %%%c", tmpl, p[1]);
            p++;
        } else {
            v = one;
        }
        size_t len = strlen(v);
        cr_assert(n + len < cap, "template %s: too long", tmpl);
        memcpy(out + n, v, len);
        n += len;
    }
    out[n] = '\0';
}

/* POST (or other) as the admin; asserts the status; copies the string at key (if any) into out. */
static void admin_do(const char *method, const char *path, const char *body, long status, const char *key,
                     char *out, size_t cap)
{
    struct http_resp r;
    cr_assert(http_do(&d, method, path, body, NULL, &r), "%s %s", method, path);
    cr_assert_eq(r.status, status, "fixture: %s %s %s -> %ld %s", method, path, body ? body : "", r.status, r.body);
    if (key != NULL) {
        cr_assert(strlen(resp_str(&r, key)) > 0 && strlen(resp_str(&r, key)) < cap, "fixture: %s in %s", key,
                  r.body);
        snprintf(out, cap, "%s", resp_str(&r, key));
    }
    http_resp_free(&r);
}

static void open_account(const char *holder, const char *name, const char *kind, char out[37])
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"holder_id\":\"%s\",\"currency\":\"EUR\",\"friendly_name\":\"%s\",\"kind\":\"%s\"}", holder, name,
             kind);
    admin_do("POST", "/v1/accounts", body, 201, "id", out, 37);
}

static void active_card(const char *account, char out[37])
{
    char body[256], path[128];
    snprintf(body, sizeof body,
             "{\"account_id\":\"%s\",\"type\":\"virtual\",\"brand\":\"VISA\",\"name_on_card\":\"ADA LOVELACE\"}",
             account);
    admin_do("POST", "/v1/cards", body, 201, "id", out, 37);
    snprintf(path, sizeof path, "/v1/cards/%s/activate", out);
    admin_do("POST", path, NULL, 200, NULL, NULL, 0);
}

static void authorize(const char *auth_id, const char *card, long long amount)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"authorization_id\":\"%s\",\"card_id\":\"%s\",\"amount\":%lld,\"currency\":\"EUR\","
             "\"merchant\":{\"name\":\"Corner Shop\",\"mcc\":5411,\"country\":\"FR\",\"id\":\"m-42\"},"
             "\"channel\":\"POS\"}",
             auth_id, card, amount);
    struct http_resp r;
    cr_assert(http_do(&d, "POST", "/v1/card-authorizations", body, NULL, &r));
    cr_assert_eq(r.status, 200, "fixture: authorization %s -> %ld %s", auth_id, r.status, r.body);
    cr_assert_str_eq(resp_str(&r, "result"), "approved", "fixture: authorization %s: %s", auth_id, r.body);
    http_resp_free(&r);
}

/* The id of the first statement of account (waits for the scheduler to seal it). */
static void first_statement(const char *account, char out[37])
{
    char path[128];
    snprintf(path, sizeof path, "/v1/accounts/%s/statements", account);
    for (int i = 0; i < POLL_TRIES; i++) {
        struct http_resp r;
        cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
        json_t *s = json_array_get(json_object_get(r.json, "statements"), 0);
        const char *id = json_string_value(json_object_get(s, "id"));
        if (r.status == 200 && id != NULL && strlen(id) == 36) {
            snprintf(out, 37, "%s", id);
            http_resp_free(&r);
            return;
        }
        http_resp_free(&r);
        struct timespec ts = {0, 25 * 1000000L};
        nanosleep(&ts, NULL);
    }
    cr_assert_fail("fixture: no statement for %s", account);
}

static void make_clients(void)
{
    for (int i = 0; i < ROLES; i++) {
        char name[64];
        snprintf(name, sizeof name, "roles-%s", role_names[i]);
        cr_assert(ledgerctl_client_add(data, name, role_names[i], i == R_TP ? "tp1" : NULL, CLOCK_START, who[i].id,
                                       sizeof who[i].id, who[i].secret, sizeof who[i].secret),
                  "client add %s", role_names[i]);
    }
    char secret[128];
    cr_assert(ledgerctl_client_add(data, "roles-victim", "support", NULL, CLOCK_START, victim_id, sizeof victim_id,
                                   secret, sizeof secret));
}

static void make_fixture(void)
{
    char body[512], path[160];
    open_account("alice", "main", "customer", fx_A);
    open_account("alice", "savings", "customer", fx_B);
    open_account("treasury", "ops", "internal", fx_I);
    open_account("treasury", "fees", "internal", fx_J);
    open_account("zed", "empty", "customer", fx_Z);

    snprintf(body, sizeof body, "{\"account_id\":\"%s\",\"amount\":100000,\"currency\":\"EUR\"}", fx_A);
    admin_do("POST", "/v1/deposits", body, 201, NULL, NULL, 0);
    snprintf(body, sizeof body, "{\"account_id\":\"%s\",\"amount\":50000,\"currency\":\"EUR\"}", fx_B);
    admin_do("POST", "/v1/deposits", body, 201, "id", fx_U, sizeof fx_U);
    snprintf(body, sizeof body,
             "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":1000,\"currency\":\"EUR\","
             "\"reference\":\"rent\"}",
             fx_A, fx_B);
    admin_do("POST", "/v1/transfers", body, 201, "id", fx_T, sizeof fx_T);

    active_card(fx_A, fx_C);
    active_card(fx_A, fx_D);
    active_card(fx_B, fx_E);

    snprintf(path, sizeof path, "/v1/accounts/%s/third-parties", fx_A);
    admin_do("POST", path, "{\"third_party_id\":\"tp1\",\"rights\":[\"view\"]}", 201, NULL, NULL, 0);

    /* seal November (Paris): statements of A and B */
    admin_do("POST", "/v1/admin/clock", "{\"now\":\"2026-12-01T00:00:00+01:00\"}", 200, NULL, NULL, 0);
    first_statement(fx_A, fx_S);
    first_statement(fx_B, fx_Q);

    /* after the clock moved: the holds do not expire during the test */
    authorize(fixture_value('H'), fx_C, 500);
    authorize(fixture_value('G'), fx_E, 200);
}

/* ---- the table -------------------------------------------------------------------------------- */

enum expect { X = 0, Y, N, H };

struct row {
    const char *method;
    const char *path; /* template */
    const char *body; /* template or NULL */
    const char *nf;   /* the route's not-found code (H), or NULL */
    unsigned char e[ROLES]; /* admin, compliance, antifraud, accountant, support, third_party, card_processor */
};

#define CARD_AUTH_BODY(id, card)                                                                                    \
    "{\"authorization_id\":\"" id "\",\"card_id\":\"" card "\",\"amount\":1,\"currency\":\"EUR\","                  \
    "\"merchant\":{\"name\":\"Corner Shop\",\"mcc\":5411,\"country\":\"FR\",\"id\":\"m-42\"},\"channel\":\"POS\"}"
#define XFER(from, to)                                                                                              \
    "{\"debit_account_id\":\"" from "\",\"credit_account_id\":\"" to "\",\"amount\":1,\"currency\":\"EUR\"}"

static const struct row table[] = {
    /* ---- accounts ---- */
    {"POST", "/v1/accounts",
     "{\"holder_id\":\"roles\",\"currency\":\"EUR\",\"friendly_name\":\"int\",\"kind\":\"internal\"}", NULL,
     {Y, N, N, Y, N, N, N}},
    {"POST", "/v1/accounts",
     "{\"holder_id\":\"roles\",\"currency\":\"EUR\",\"friendly_name\":\"int-acc\",\"kind\":\"internal\"}", NULL,
     {X, N, N, Y, N, N, N}}, /* the accountant's own (201) */
    {"POST", "/v1/accounts",
     "{\"holder_id\":\"roles\",\"currency\":\"EUR\",\"friendly_name\":\"cust\",\"kind\":\"customer\"}", NULL,
     {Y, N, N, N, N, N, N}},
    {"POST", "/v1/accounts", "{\"holder_id\":\"roles\",\"currency\":\"EUR\",\"friendly_name\":\"cust2\"}", NULL,
     {Y, N, N, N, N, N, N}},
    {"GET", "/v1/accounts/%A", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, Y, N}},
    {"GET", "/v1/accounts/%B", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, H, N}},
    {"GET", "/v1/accounts?holder_id=alice", NULL, NULL, {Y, Y, Y, Y, Y, Y, N}},
    {"POST", "/v1/accounts/%A/block", "{\"reason\":\"SYSTEM\"}", "ACCOUNT_NOT_FOUND", {Y, Y, Y, N, N, N, N}},
    {"POST", "/v1/accounts/%A/unblock", "{\"reason\":\"SYSTEM\"}", "ACCOUNT_NOT_FOUND", {Y, Y, Y, N, N, N, N}},
    /* compliance first (the admin skipped): its own block and unblock answer 200 */
    {"POST", "/v1/accounts/%A/block", "{\"reason\":\"COMPLIANCE\"}", "ACCOUNT_NOT_FOUND", {X, Y, Y, N, N, N, N}},
    {"POST", "/v1/accounts/%A/unblock", "{\"reason\":\"COMPLIANCE\"}", "ACCOUNT_NOT_FOUND", {X, Y, Y, N, N, N, N}},
    {"POST", "/v1/accounts/%A/block", "{\"reason\":\"USER\"}", "ACCOUNT_NOT_FOUND", {Y, N, Y, N, N, N, N}},
    {"POST", "/v1/accounts/%A/unblock", "{\"reason\":\"USER\"}", "ACCOUNT_NOT_FOUND", {Y, N, Y, N, N, N, N}},
    {"POST", "/v1/accounts/%A/block", "{\"reason\":\"LOST\"}", "ACCOUNT_NOT_FOUND", {Y, N, Y, N, N, N, N}},
    {"POST", "/v1/accounts/%A/unblock", "{\"reason\":\"LOST\"}", "ACCOUNT_NOT_FOUND", {Y, N, Y, N, N, N, N}},
    {"POST", "/v1/accounts/%B/block", "{\"reason\":\"SYSTEM\"}", "ACCOUNT_NOT_FOUND", {X, X, X, N, N, H, N}},
    {"POST", "/v1/accounts/%B/unblock", "{\"reason\":\"SYSTEM\"}", "ACCOUNT_NOT_FOUND", {X, X, X, N, N, H, N}},
    {"POST", "/v1/accounts/%Z/close", NULL, "ACCOUNT_NOT_FOUND", {Y, N, N, N, N, H, N}},
    {"POST", "/v1/accounts/%A/close", NULL, "ACCOUNT_NOT_FOUND", {X, N, N, N, N, N, N}},
    {"GET", "/v1/accounts/%A/balance", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, Y, N}},
    {"GET", "/v1/accounts/%B/balance", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, H, N}},
    {"GET", "/v1/accounts/%A/balance?at=2026-11-25T00:00:00Z", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, Y, N}},
    {"GET", "/v1/accounts/%B/balance?at=2026-11-25T00:00:00Z", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, H, N}},

    /* ---- money ---- */
    {"POST", "/v1/deposits", "{\"account_id\":\"%A\",\"amount\":1,\"currency\":\"EUR\"}", NULL,
     {Y, N, N, Y, N, N, N}},
    {"POST", "/v1/deposits", "{\"account_id\":\"%B\",\"amount\":1,\"currency\":\"EUR\"}", NULL,
     {Y, N, N, Y, N, N, N}},
    {"POST", "/v1/transfers", XFER("%A", "%B"), "ACCOUNT_NOT_FOUND", {Y, N, N, N, N, N, N}},
    {"POST", "/v1/transfers", XFER("%B", "%A"), "ACCOUNT_NOT_FOUND", {Y, N, N, N, N, H, N}},
    {"POST", "/v1/transfers", XFER("%I", "%J"), "ACCOUNT_NOT_FOUND", {Y, N, N, Y, N, H, N}},
    {"POST", "/v1/transfers", XFER("%I", "%A"), "ACCOUNT_NOT_FOUND", {Y, N, N, N, N, H, N}},
    {"POST", "/v1/transfers", XFER("%A", "%I"), "ACCOUNT_NOT_FOUND", {Y, N, N, N, N, N, N}},
    {"POST", "/v1/transfers/batch", "{\"transfers\":[" XFER("%A", "%B") "]}", "ACCOUNT_NOT_FOUND",
     {Y, N, N, N, N, N, N}},
    {"POST", "/v1/transfers/batch", "{\"transfers\":[" XFER("%I", "%J") "," XFER("%J", "%I") "]}",
     "ACCOUNT_NOT_FOUND", {Y, N, N, Y, N, H, N}},
    {"POST", "/v1/transfers/batch", "{\"transfers\":[" XFER("%I", "%J") "," XFER("%I", "%A") "]}",
     "ACCOUNT_NOT_FOUND", {Y, N, N, N, N, H, N}},
    /* a third party: the first failing item decides (403 declared without the right, 404 not declared) */
    {"POST", "/v1/transfers/batch", "{\"transfers\":[" XFER("%A", "%B") "," XFER("%B", "%A") "]}",
     "ACCOUNT_NOT_FOUND", {Y, N, N, N, N, N, N}},
    {"POST", "/v1/transfers/batch", "{\"transfers\":[" XFER("%B", "%A") "," XFER("%A", "%B") "]}",
     "ACCOUNT_NOT_FOUND", {Y, N, N, N, N, H, N}},
    {"GET", "/v1/transfers/%T", NULL, "TRANSFER_NOT_FOUND", {Y, Y, Y, Y, Y, Y, N}},
    {"GET", "/v1/transfers/%U", NULL, "TRANSFER_NOT_FOUND", {Y, Y, Y, Y, Y, H, N}},

    /* ---- read side ---- */
    {"GET", "/v1/events", NULL, NULL, {Y, Y, Y, Y, N, N, N}},
    {"GET", "/v1/events?after_seq=0&limit=5", NULL, NULL, {Y, Y, Y, Y, N, N, N}},
    {"GET", "/v1/accounts/%A/operations", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, Y, N}},
    {"GET", "/v1/accounts/%B/operations", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, H, N}},
    {"GET", "/v1/accounts/%A/operations?status=pending", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, Y, N}},
    {"GET", "/v1/accounts/%A/statements", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, Y, N}},
    {"GET", "/v1/accounts/%B/statements", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, H, N}},
    {"GET", "/v1/accounts/%A/statements/%S", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, Y, N}},
    {"GET", "/v1/accounts/%B/statements/%Q", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, H, N}},
    /* B's statement under A's path: no such statement, for everyone who may read */
    {"GET", "/v1/accounts/%A/statements/%Q", NULL, "STATEMENT_NOT_FOUND", {H, H, H, H, H, H, N}},
    {"GET", "/v1/statements/%S", NULL, "STATEMENT_NOT_FOUND", {Y, Y, Y, Y, Y, Y, N}},
    {"GET", "/v1/statements/%Q", NULL, "STATEMENT_NOT_FOUND", {Y, Y, Y, Y, Y, H, N}},

    /* ---- cards ---- */
    {"POST", "/v1/cards",
     "{\"account_id\":\"%A\",\"type\":\"virtual\",\"brand\":\"VISA\",\"name_on_card\":\"ROLES A\"}",
     "ACCOUNT_NOT_FOUND", {Y, N, N, N, N, N, Y}},
    {"POST", "/v1/cards",
     "{\"account_id\":\"%B\",\"type\":\"virtual\",\"brand\":\"VISA\",\"name_on_card\":\"ROLES B\"}",
     "ACCOUNT_NOT_FOUND", {Y, N, N, N, N, H, Y}},
    {"GET", "/v1/cards/%C", NULL, "CARD_NOT_FOUND", {Y, Y, Y, Y, Y, Y, Y}},
    {"GET", "/v1/cards/%E", NULL, "CARD_NOT_FOUND", {Y, Y, Y, Y, Y, H, Y}},
    {"POST", "/v1/cards/%C/activate", NULL, "CARD_NOT_FOUND", {Y, N, N, N, N, N, Y}},
    {"POST", "/v1/cards/%E/activate", NULL, "CARD_NOT_FOUND", {Y, N, N, N, N, H, Y}},
    {"POST", "/v1/cards/%C/block", "{\"reason\":\"USER\"}", "CARD_NOT_FOUND", {Y, N, Y, N, N, N, Y}},
    {"POST", "/v1/cards/%C/unblock", "{\"reason\":\"USER\"}", "CARD_NOT_FOUND", {Y, N, Y, N, N, N, Y}},
    {"POST", "/v1/cards/%E/block", "{\"reason\":\"USER\"}", "CARD_NOT_FOUND", {Y, N, Y, N, N, H, Y}},
    {"POST", "/v1/cards/%E/unblock", "{\"reason\":\"USER\"}", "CARD_NOT_FOUND", {Y, N, Y, N, N, H, Y}},
    {"PUT", "/v1/cards/%C/limits", "{\"day_amount\":100000}", "CARD_NOT_FOUND", {Y, N, N, N, N, N, Y}},
    {"PUT", "/v1/cards/%E/limits", "{\"day_amount\":100000}", "CARD_NOT_FOUND", {Y, N, N, N, N, H, Y}},
    {"POST", "/v1/cards/%D/replace", NULL, "CARD_NOT_FOUND", {Y, N, N, N, N, N, Y}},
    {"POST", "/v1/cards/%E/replace", NULL, "CARD_NOT_FOUND", {X, N, N, N, N, H, X}},
    {"POST", "/v1/cards/%D/destroy", NULL, "CARD_NOT_FOUND", {Y, N, N, N, N, N, Y}},
    {"POST", "/v1/cards/%E/destroy", NULL, "CARD_NOT_FOUND", {X, N, N, N, N, H, X}},
    {"GET", "/v1/accounts/%A/cards", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, Y, Y}},
    {"GET", "/v1/accounts/%B/cards", NULL, "ACCOUNT_NOT_FOUND", {Y, Y, Y, Y, Y, H, Y}},
    {"GET", "/v1/cards/%C/authorizations", NULL, "CARD_NOT_FOUND", {Y, Y, Y, Y, Y, Y, Y}},
    {"GET", "/v1/cards/%E/authorizations", NULL, "CARD_NOT_FOUND", {Y, Y, Y, Y, Y, H, Y}},
    {"POST", "/v1/card-authorizations", CARD_AUTH_BODY("auth-roles-new", "%C"), NULL, {Y, N, N, N, N, N, Y}},
    {"POST", "/v1/card-authorizations", CARD_AUTH_BODY("auth-roles-new-b", "%E"), NULL, {X, N, N, N, N, N, X}},
    {"POST", "/v1/card-advices", CARD_AUTH_BODY("advice-roles", "%C"), NULL, {Y, N, N, N, N, N, Y}},
    {"GET", "/v1/card-authorizations/%H", NULL, "AUTHORIZATION_NOT_FOUND", {Y, Y, Y, Y, Y, Y, Y}},
    {"GET", "/v1/card-authorizations/%G", NULL, "AUTHORIZATION_NOT_FOUND", {Y, Y, Y, Y, Y, H, Y}},
    {"POST", "/v1/card-authorizations/%H/capture", "{\"capture_id\":\"cap-roles\",\"amount\":1,\"final\":false}",
     NULL, {Y, N, N, N, N, N, Y}},
    {"POST", "/v1/card-authorizations/%G/capture", "{\"capture_id\":\"cap-roles-b\",\"amount\":1}", NULL,
     {X, N, N, N, N, N, X}},
    {"POST", "/v1/card-authorizations/%H/reverse", "{\"reversal_id\":\"rev-roles\"}", NULL,
     {Y, N, N, N, N, N, Y}},
    {"POST", "/v1/card-authorizations/%G/reverse", "{\"reversal_id\":\"rev-roles-b\"}", NULL,
     {X, N, N, N, N, N, X}},
    {"POST", "/v1/card-refunds", "{\"refund_id\":\"ref-roles\",\"card_id\":\"%C\",\"amount\":1,\"currency\":\"EUR\"}",
     NULL, {Y, N, N, N, N, N, Y}},

    /* ---- access control ---- */
    {"POST", "/v1/clients", "{\"name\":\"roles-extra\",\"role\":\"support\"}", NULL, {Y, N, N, N, N, N, N}},
    {"GET", "/v1/clients", NULL, NULL, {Y, N, N, N, N, N, N}},
    {"POST", "/v1/accounts/%B/third-parties", "{\"third_party_id\":\"tp-other\",\"rights\":[\"view\"]}", NULL,
     {Y, N, N, N, N, N, N}},
    {"POST", "/v1/accounts/%A/third-parties", "{\"third_party_id\":\"tp1\",\"rights\":[\"view\"]}", NULL,
     {Y, N, N, N, N, N, N}},
    {"DELETE", "/v1/accounts/%B/third-parties/tp-none", NULL, NULL, {Y, N, N, N, N, N, N}},
    {"GET", "/v1/third-parties/tp1/accounts", NULL, NULL, {Y, Y, Y, N, Y, Y, N}},
    {"GET", "/v1/third-parties/tp-other/accounts", NULL, "NOT_FOUND", {Y, Y, Y, N, Y, H, N}},
    {"GET", "/v1/audit", NULL, NULL, {Y, Y, Y, N, N, N, N}},
    {"GET", "/v1/audit?actor=ledgerctl:operator", NULL, NULL, {Y, Y, Y, N, N, N, N}},
    {"POST", "/v1/clients/%V/revoke", NULL, NULL, {Y, N, N, N, N, N, N}},
    {"PUT", "/v1/holders/alice/identification", "{\"status\":\"identified\"}", NULL, {Y, Y, N, N, N, N, N}},
    {"GET", "/v1/holders/alice/identification", NULL, NULL, {Y, Y, Y, Y, Y, N, N}},

    /* ---- administration, operations ---- */
    {"GET", "/v1/admin/clock", NULL, NULL, {Y, N, N, Y, N, N, N}},
    {"POST", "/v1/admin/clock", "{\"now\":\"2026-11-01T00:00:00Z\"}", NULL, {Y, N, N, N, N, N, N}},
    {"GET", "/metrics", NULL, NULL, {Y, Y, Y, Y, Y, N, N}},

    /* ---- order of checks: the role (step 4) before validation (step 5) ---- */
    {"POST", "/v1/deposits", "{}", NULL, {Y, N, N, Y, N, N, N}},
    {"POST", "/v1/transfers", "{}", NULL, {Y, N, N, X, N, X, N}},
    {"POST", "/v1/card-authorizations", "{}", NULL, {Y, N, N, N, N, N, Y}},
    {"POST", "/v1/cards/%C/block", "{\"reason\":\"NOPE\"}", "CARD_NOT_FOUND", {Y, N, Y, N, N, N, Y}},
    {"PUT", "/v1/holders/alice/identification", "{\"status\":\"maybe\"}", NULL, {Y, Y, N, N, N, N, N}},

    /* last: a third party removing its own declaration (would break the rows above if allowed) */
    {"DELETE", "/v1/accounts/%A/third-parties/tp1", NULL, NULL, {X, N, N, N, N, N, N}},
};

static const char *expect_name(unsigned e)
{
    return e == Y ? "ALLOW" : e == N ? "FORBID(403 FORBIDDEN)" : e == H ? "HIDE(404)" : "-";
}

/* Does the answer match e? */
static bool judge(const struct row *row, unsigned e, const struct http_resp *r)
{
    const char *code = resp_error_code(r);
    switch (e) {
    case N: return r->status == 403 && strcmp(code, "FORBIDDEN") == 0;
    case H: return r->status == 404 && row->nf != NULL && strcmp(code, row->nf) == 0;
    case Y:
        if (r->status == 0 || r->status == 401 || r->status == 403 || r->status == 405 || r->status >= 500)
            return false;
        if (r->status == 404 && row->nf != NULL && strcmp(code, row->nf) == 0)
            return false;
        return strcmp(row->method, "GET") != 0 || r->status == 200;
    default: return true;
    }
}

/* A hidden resource answers exactly what an unknown id answers (the admin asking for it): the
 * letter hidden is the first of B, E, G, U, Q, Z in the row's templates. Batches (whose unknown
 * accounts are per-item results) and rows without such a letter are not compared. */
static bool same_as_unknown(const struct row *row, const struct http_resp *hidden)
{
    if (strcmp(row->path, "/v1/transfers/batch") == 0)
        return true;
    char letter = 0;
    for (const char *l = "BEGUQZ"; *l != '\0' && letter == 0; l++) {
        char ph[3] = {'%', *l, '\0'};
        if (strstr(row->path, ph) != NULL || (row->body != NULL && strstr(row->body, ph) != NULL))
            letter = *l;
    }
    if (letter == 0)
        return true;
    char path[512], body[2048];
    unknown_letter = letter;
    expand(row->path, path, sizeof path);
    if (row->body != NULL)
        expand(row->body, body, sizeof body);
    unknown_letter = 0;
    struct http_resp r;
    cr_assert(http_do(&who[R_ADMIN].as, row->method, path, row->body ? body : NULL, NULL, &r));
    bool same = r.status == hidden->status && strcmp(r.body, hidden->body) == 0;
    cr_expect(same, "%-6s %-70s the hidden answer %ld %s differs from an unknown id's %ld %s", row->method, row->path,
              hidden->status, hidden->body, r.status, r.body);
    http_resp_free(&r);
    return same;
}

/* ---- tests ------------------------------------------------------------------------------------ */

Test(roles, every_role_against_every_route)
{
    make_clients();
    cr_assert(ledgerd_start_args(&d, data, "none", manual_args), "ledgerd did not start");
    for (int i = 0; i < ROLES; i++) {
        who[i].as = d;
        cr_assert(ledgerd_token(&d, who[i].id, who[i].secret, who[i].as.token, sizeof who[i].as.token),
                  "token for %s", role_names[i]);
    }
    make_fixture();

    size_t failures = 0, sent = 0;
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
        const struct row *row = &table[k];
        char path[512], body[2048];
        expand(row->path, path, sizeof path);
        if (row->body != NULL)
            expand(row->body, body, sizeof body);
        for (int i = 0; i < ROLES; i++) {
            if (row->e[i] == X)
                continue;
            struct http_resp r;
            bool sent_ok = http_do(&who[i].as, row->method, path, row->body ? body : NULL, NULL, &r);
            sent++;
            bool ok = sent_ok && judge(row, row->e[i], &r);
            if (!ok)
                failures++;
            cr_expect(ok, "%-6s %-70s %-14s expected %-21s got %ld %.200s%s%s", row->method, row->path,
                      role_names[i], expect_name(row->e[i]), r.status, r.body ? r.body : "",
                      row->body ? "  body: " : "", row->body ? row->body : "");
            if (getenv("ROLES_VERBOSE") != NULL)
                fprintf(stderr, "%-6s %-60s %-14s %-5s %ld %.120s\n", row->method, row->path, role_names[i],
                        expect_name(row->e[i]), r.status, r.body ? r.body : "");
            if (ok && row->e[i] == H && !same_as_unknown(row, &r))
                failures++;
            http_resp_free(&r);
        }
    }
    fprintf(stderr, "test_roles: %zu table rows, %zu requests, %zu mismatches\n", sizeof table / sizeof table[0],
            sent, failures);
}

/* The restricted lists: a third party lists only the accounts it is declared on (with view). */
Test(roles, third_party_lists_only_its_accounts)
{
    make_clients();
    cr_assert(ledgerd_start_args(&d, data, "none", manual_args), "ledgerd did not start");
    struct ledgerd tp = d;
    cr_assert(ledgerd_token(&d, who[R_TP].id, who[R_TP].secret, tp.token, sizeof tp.token));
    open_account("alice", "main", "customer", fx_A);
    open_account("alice", "savings", "customer", fx_B);
    char path[160];
    snprintf(path, sizeof path, "/v1/accounts/%s/third-parties", fx_A);
    admin_do("POST", path, "{\"third_party_id\":\"tp1\",\"rights\":[\"view\"]}", 201, NULL, NULL, 0);

    struct http_resp r;
    cr_assert(http_do(&d, "GET", "/v1/accounts?holder_id=alice", NULL, NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_eq(json_array_size(json_object_get(r.json, "accounts")), 2, "the admin sees both: %s", r.body);
    http_resp_free(&r);

    cr_assert(http_do(&tp, "GET", "/v1/accounts?holder_id=alice", NULL, NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    json_t *list = json_object_get(r.json, "accounts");
    cr_expect_eq(json_array_size(list), 1, "the third party sees A only: %s", r.body);
    const char *first = json_string_value(json_object_get(json_array_get(list, 0), "id"));
    cr_expect_str_eq(first != NULL ? first : "", fx_A, "%s", r.body);
    http_resp_free(&r);

    cr_assert(http_do(&tp, "GET", "/v1/third-parties/tp1/accounts", NULL, NULL, &r));
    cr_expect_eq(r.status, 200, "%s", r.body);
    cr_expect_not_null(strstr(r.body, fx_A), "%s", r.body);
    cr_expect_null(strstr(r.body, fx_B), "%s", r.body);
    http_resp_free(&r);
}

/* ---- no token --------------------------------------------------------------------------------- */

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
    char *out = arg;
    size_t len = size * n;
    static const char name[] = "WWW-Authenticate:";
    if (len > sizeof name - 1 && strncasecmp(buf, name, sizeof name - 1) == 0) {
        size_t start = sizeof name - 1;
        while (start < len && buf[start] == ' ')
            start++;
        size_t end = len;
        while (end > start && (buf[end - 1] == '\r' || buf[end - 1] == '\n'))
            end--;
        size_t m = end - start < 255 ? end - start : 255;
        memcpy(out, buf + start, m);
        out[m] = '\0';
    }
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
    (void)buf;
    (void)arg;
    return size * n;
}

/* method url with an optional Authorization header: the status, WWW-Authenticate into www. */
static long raw_request(const char *method, const char *path, const char *authorization, char www[256])
{
    char url[512];
    snprintf(url, sizeof url, "%s%s", d.base, path);
    www[0] = '\0';
    CURL *c = curl_easy_init();
    cr_assert_not_null(c);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (authorization != NULL)
        hdrs = curl_slist_append(hdrs, authorization);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, www);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 2L);
    }
    long status = 0;
    cr_assert_eq(curl_easy_perform(c), CURLE_OK, "%s %s", method, path);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return status;
}

/* No (or a bad) token: 401 with WWW-Authenticate: Bearer error="invalid_token", on reads and
 * writes alike; /healthz and /readyz need no token. */
Test(roles, no_token)
{
    cr_assert(ledgerd_start_args(&d, data, "none", manual_args), "ledgerd did not start");
    char A[37];
    open_account("alice", "main", "customer", A);
    char path[128], www[256];
    snprintf(path, sizeof path, "/v1/accounts/%s", A);
    const char *const routes[][2] = {
        {"GET", path},           {"GET", "/v1/events"},  {"POST", "/v1/deposits"},  {"POST", "/v1/transfers"},
        {"GET", "/v1/clients"},  {"GET", "/v1/audit"},   {"GET", "/metrics"},       {"GET", "/v1/admin/clock"},
        {"POST", "/v1/cards"},   {"POST", "/v1/clients"}, {"POST", "/v1/card-authorizations"},
    };
    const char *const auths[] = {NULL, "Authorization: Bearer", "Authorization: Bearer not.a.token",
                                 "Authorization: Basic dXNlcjpwYXNz"};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        for (size_t j = 0; j < sizeof auths / sizeof auths[0]; j++) {
            long st = raw_request(routes[i][0], routes[i][1], auths[j], www);
            cr_expect_eq(st, 401, "%s %s with %s: expected 401, got %ld", routes[i][0], routes[i][1],
                         auths[j] ? auths[j] : "no Authorization", st);
            cr_expect_str_eq(www, "Bearer error=\"invalid_token\"", "%s %s with %s: WWW-Authenticate [%s]",
                             routes[i][0], routes[i][1], auths[j] ? auths[j] : "no Authorization", www);
        }
    const char *const open_routes[] = {"/healthz", "/readyz"};
    for (size_t i = 0; i < 2; i++) {
        long st = raw_request("GET", open_routes[i], NULL, www);
        cr_expect_eq(st, 200, "GET %s without a token: %ld", open_routes[i], st);
    }
}
