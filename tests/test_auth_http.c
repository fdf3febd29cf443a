/*
 * test_auth_http.c: authentication end to end on the real ledgerd: the token endpoint, every kind
 * of bad token, revocation and third-party removal taking effect at once, key rotation without
 * logging anyone out, the slow-down after failed attempts, the actor and the audit trail.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/auth.h"
#include "tests/harness.h"

static char tmp[64], data[128];
static struct ledgerd d;
static char support_id[64], support_secret[128], tp_id[64], tp_secret[128], af_id[64], af_secret[128];

static void setup(void)
{
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    cr_assert(ledgerctl_client_add(data, "desk", "support", NULL, NULL, support_id, sizeof support_id,
                                   support_secret, sizeof support_secret));
    cr_assert(ledgerctl_client_add(data, "acme", "third_party", "tp1", NULL, tp_id, sizeof tp_id, tp_secret,
                                   sizeof tp_secret));
    cr_assert(ledgerctl_client_add(data, "fraud", "antifraud", NULL, NULL, af_id, sizeof af_id, af_secret,
                                   sizeof af_secret));
    cr_assert(ledgerd_start(&d, data, "none"));
}

static void teardown(void)
{
    ledgerd_kill(&d);
    harness_rmdir(tmp);
}

TestSuite(auth_http, .init = setup, .fini = teardown, .timeout = 60);

/* The same daemon seen by another client (its token). */
static struct ledgerd as(const char *token)
{
    struct ledgerd other = d;
    snprintf(other.token, sizeof other.token, "%s", token ? token : "");
    return other;
}

static long get_status(const struct ledgerd *who, const char *path)
{
    struct http_resp r;
    cr_assert(http_do(who, "GET", path, NULL, NULL, &r));
    long s = r.status;
    http_resp_free(&r);
    return s;
}

/* Credentials by form body and by HTTP Basic give a Bearer token for an hour, not cached; wrong
 * secret, unknown client, wrong grant type and missing fields get the RFC 6749 errors. */
Test(auth_http, token_endpoint)
{
    char token[1024];
    cr_assert(ledgerd_token(&d, support_id, support_secret, token, sizeof token));
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "curl -s -D - -u '%s:%s' -d grant_type=client_credentials %s/oauth/token", support_id, support_secret,
             d.base);
    FILE *p = popen(cmd, "r");
    char out[4096] = {0};
    cr_assert(p != NULL);
    size_t n = fread(out, 1, sizeof out - 1, p);
    pclose(p);
    out[n] = '\0';
    cr_expect(strstr(out, "200") != NULL && strstr(out, "\"token_type\":\"Bearer\"") != NULL, "%s", out);
    cr_expect(strstr(out, "\"expires_in\":3600") != NULL, "%s", out);
    cr_expect(strcasestr(out, "Cache-Control: no-store") != NULL, "%s", out);

    struct ledgerd anon = as(NULL);
    struct http_resp r;
    const char *ct = "Content-Type: application/x-www-form-urlencoded";
    char body[512];
    snprintf(body, sizeof body, "grant_type=client_credentials&client_id=%s&client_secret=wrong", support_id);
    cr_assert(http_do(&anon, "POST", "/oauth/token", body, ct, &r));
    cr_expect_eq(r.status, 401);
    cr_expect_str_eq(resp_str(&r, "error"), "invalid_client");
    http_resp_free(&r);
    cr_assert(http_do(&anon, "POST", "/oauth/token", "grant_type=password&client_id=x&client_secret=y", ct, &r));
    cr_expect_eq(r.status, 400);
    cr_expect_str_eq(resp_str(&r, "error"), "unsupported_grant_type");
    http_resp_free(&r);
    cr_assert(http_do(&anon, "POST", "/oauth/token", "grant_type=client_credentials", ct, &r));
    cr_expect_eq(r.status, 400);
    cr_expect_str_eq(resp_str(&r, "error"), "invalid_request");
    http_resp_free(&r);
}

/* Signs claims with the data dir's current key (read from jwt-keys) or with a stranger's key. */
static size_t forge(bool real_key, int64_t iat, int64_t exp, const char *sub, char *out, size_t cap)
{
    struct auth_keyring ring;
    char err[256];
    cr_assert(auth_keyring_load(data, &ring, err, sizeof err), "%s", err);
    struct auth_key key = *auth_keyring_signer(&ring);
    if (!real_key)
        memset(key.secret, 0x42, sizeof key.secret); /* same kid, wrong key */
    struct auth_claims c = {.role = ROLE_SUPPORT, .iat = iat, .exp = exp};
    snprintf(c.sub, sizeof c.sub, "%s", sub);
    memset(c.jti, 'a', AUTH_JTI_LEN);
    return auth_token_encode(&key, &c, out, cap);
}

/* Missing, garbage, tampered, wrongly signed, expired, future and alg-none tokens are 401; a
 * good forged-with-the-real-key token works (the test signs like the server). */
Test(auth_http, bad_tokens_are_401)
{
    int64_t now = (int64_t)time(NULL);
    char good[1024], wrong[1024], expired[1024], future[1024];
    cr_assert_gt(forge(true, now, now + 600, support_id, good, sizeof good), 0);
    cr_assert_gt(forge(false, now, now + 600, support_id, wrong, sizeof wrong), 0);
    cr_assert_gt(forge(true, now - 7200, now - 3600, support_id, expired, sizeof expired), 0);
    cr_assert_gt(forge(true, now + 3600, now + 4000, support_id, future, sizeof future), 0);
    struct ledgerd who = as(good);
    cr_expect_eq(get_status(&who, "/v1/accounts?holder_id=x"), 200, "a correctly signed token works");
    char tampered[1024];
    snprintf(tampered, sizeof tampered, "%s", good);
    char *dot = strchr(tampered, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A'; /* one character of the claims */
    /* {"alg":"none","typ":"JWT"} . claims of the good token . empty signature */
    char none[1024];
    snprintf(none, sizeof none, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.%.*s.", (int)(strrchr(good, '.') - dot - 1),
             strchr(good, '.') + 1);
    const char *bad[] = {NULL, "garbage", tampered, wrong, expired, future, none};
    const char *what[] = {"missing", "garbage", "tampered", "wrong key", "expired", "not yet valid", "alg none"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ledgerd b = as(bad[i]);
        struct http_resp r;
        cr_assert(http_do(&b, "GET", "/v1/accounts?holder_id=x", NULL, NULL, &r));
        cr_expect_eq(r.status, 401, "%s token: %ld %s", what[i], r.status, r.body);
        cr_expect_str_eq(resp_error_code(&r), "UNAUTHENTICATED", "%s", what[i]);
        http_resp_free(&r);
    }
}

/* A revoked client is refused at once, with a token that has not expired. */
Test(auth_http, revocation_takes_effect_at_once)
{
    char token[1024], path[128];
    cr_assert(ledgerd_token(&d, support_id, support_secret, token, sizeof token));
    struct ledgerd who = as(token);
    cr_assert_eq(get_status(&who, "/v1/accounts?holder_id=x"), 200);
    snprintf(path, sizeof path, "/v1/clients/%s/revoke", support_id);
    struct http_resp r;
    cr_assert(http_do(&d, "POST", path, NULL, NULL, &r));
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_resp_free(&r);
    cr_expect_eq(get_status(&who, "/v1/accounts?holder_id=x"), 401, "the next request is refused");
    cr_expect_not(ledgerd_token(&d, support_id, support_secret, token, sizeof token), "no new token either");
}

/* A third party sees only the accounts it is declared on (404 elsewhere, so existence does not
 * leak); removing the declaration ends its access at the next request. */
Test(auth_http, third_party_scope_and_removal)
{
    char a[37], b[37], path[160], body[256], token[1024];
    cr_assert(api_open_account(&d, "tp-holder-a", "EUR", 0, a));
    cr_assert(api_open_account(&d, "tp-holder-b", "EUR", 0, b));
    snprintf(path, sizeof path, "/v1/accounts/%s/third-parties", a);
    snprintf(body, sizeof body, "{\"third_party_id\":\"tp1\",\"rights\":[\"view\"]}");
    struct http_resp r;
    cr_assert(http_do(&d, "POST", path, body, NULL, &r));
    cr_assert_eq(r.status, 201, "%s", r.body);
    http_resp_free(&r);
    cr_assert(ledgerd_token(&d, tp_id, tp_secret, token, sizeof token));
    struct ledgerd tp = as(token);
    snprintf(path, sizeof path, "/v1/accounts/%s", a);
    cr_expect_eq(get_status(&tp, path), 200, "declared: visible");
    snprintf(path, sizeof path, "/v1/accounts/%s", b);
    cr_expect_eq(get_status(&tp, path), 404, "not declared: as if it did not exist");
    cr_expect_eq(get_status(&tp, "/v1/accounts/0190b7e2-0000-7000-8000-00000000dead"), 404);
    snprintf(path, sizeof path, "/v1/accounts/%s/third-parties/tp1", a);
    cr_assert(http_do(&d, "DELETE", path, NULL, NULL, &r));
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_resp_free(&r);
    snprintf(path, sizeof path, "/v1/accounts/%s", a);
    cr_expect_eq(get_status(&tp, path), 404, "removed: gone at the next request");
}

/* ledgerctl keys rotate on the running ledger: new tokens come from the new key, old tokens
 * still work within the grace period. */
Test(auth_http, key_rotation_logs_nobody_out)
{
    char before[1024], after[1024];
    cr_assert(ledgerd_token(&d, support_id, support_secret, before, sizeof before));
    char *out = NULL;
    const char *args[] = {"keys", "rotate", "--data", data, NULL};
    cr_assert_eq(ledgerctl_run(&out, args), 0, "%s", out);
    free(out);
    usleep(1200 * 1000); /* the server re-reads the key file at most once a second */
    cr_assert(ledgerd_token(&d, support_id, support_secret, after, sizeof after));
    cr_expect_neq(strncmp(before, after, (size_t)(strchr(before, '.') - before)), 0,
                  "the new token names another key in its header");
    struct ledgerd old = as(before), fresh = as(after);
    cr_expect_eq(get_status(&old, "/v1/accounts?holder_id=x"), 200, "an old token still works");
    cr_expect_eq(get_status(&fresh, "/v1/accounts?holder_id=x"), 200);
}

/* After repeated wrong secrets a client id is locked for a while: even the right secret waits. */
Test(auth_http, repeated_failures_are_slowed_down)
{
    struct ledgerd anon = as(NULL);
    char body[512], token[1024];
    snprintf(body, sizeof body, "grant_type=client_credentials&client_id=%s&client_secret=nope", af_id);
    for (int i = 0; i < 5; i++) {
        struct http_resp r;
        cr_assert(http_do(&anon, "POST", "/oauth/token", body, "Content-Type: application/x-www-form-urlencoded", &r));
        cr_expect_eq(r.status, 401);
        http_resp_free(&r);
    }
    cr_expect_not(ledgerd_token(&d, af_id, af_secret, token, sizeof token), "locked right after the 5th failure");
    usleep(1100 * 1000);
    cr_expect(ledgerd_token(&d, af_id, af_secret, token, sizeof token), "the lock lapses");
}

/* Every event records "<client id>:<role>"; GET /v1/audit lists a client's actions. */
Test(auth_http, actor_and_audit)
{
    char a[37], token[1024], path[160];
    cr_assert(api_open_account(&d, "audited", "EUR", 0, a));
    cr_assert(ledgerd_token(&d, af_id, af_secret, token, sizeof token));
    struct ledgerd af = as(token);
    snprintf(path, sizeof path, "/v1/accounts/%s/block", a);
    struct http_resp r;
    cr_assert(http_do(&af, "POST", path, "{\"reason\":\"SYSTEM\"}", NULL, &r));
    cr_assert_eq(r.status, 200, "antifraud blocks: %s", r.body);
    http_resp_free(&r);
    snprintf(path, sizeof path, "/v1/audit?actor=%s", af_id);
    cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *ev = json_object_get(r.json, "events");
    cr_assert_eq(json_array_size(ev), 1, "%s", r.body);
    char want[128];
    snprintf(want, sizeof want, "%s:antifraud", af_id);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(ev, 0), "actor")), want);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(ev, 0), "type")), "account.blocked");
    http_resp_free(&r);
}

/* Holder identification (KYC): compliance sets it (the event carries its actor), support may read
 * it but not set it, a third party may do neither; an unknown holder reads "unidentified"; a bad
 * status is 422 naming the field; the ledger's own holder is refused. */
Test(auth_http, holder_identification)
{
    struct http_resp r;
    cr_assert(http_do(&d, "POST", "/v1/clients", "{\"name\":\"kyc desk\",\"role\":\"compliance\"}", NULL, &r));
    cr_assert_eq(r.status, 201, "%s", r.body);
    char comp_id[64], comp_secret[128], token[1024];
    snprintf(comp_id, sizeof comp_id, "%s", resp_str(&r, "client_id"));
    snprintf(comp_secret, sizeof comp_secret, "%s", resp_str(&r, "client_secret"));
    http_resp_free(&r);
    cr_assert(ledgerd_token(&d, comp_id, comp_secret, token, sizeof token));
    struct ledgerd comp = as(token);

    const char *path = "/v1/holders/alice-01/identification";
    cr_assert(http_do(&comp, "GET", path, NULL, NULL, &r));
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "status"), "unidentified");
    cr_expect(json_is_null(json_object_get(r.json, "seq")), "%s", r.body);
    http_resp_free(&r);

    cr_assert(http_do(&comp, "PUT", path, "{\"status\":\"identified\"}", NULL, &r));
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "holder_id"), "alice-01");
    cr_expect_str_eq(resp_str(&r, "status"), "identified");
    long long seq = resp_int(&r, "seq");
    cr_expect_gt(seq, 0);
    http_resp_free(&r);

    char sup_token[1024];
    cr_assert(ledgerd_token(&d, support_id, support_secret, sup_token, sizeof sup_token));
    struct ledgerd sup = as(sup_token);
    cr_assert(http_do(&sup, "GET", path, NULL, NULL, &r));
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_expect_str_eq(resp_str(&r, "status"), "identified");
    cr_expect_eq(resp_int(&r, "seq"), seq);
    http_resp_free(&r);
    cr_assert(http_do(&sup, "PUT", path, "{\"status\":\"unidentified\"}", NULL, &r));
    cr_expect_eq(r.status, 403, "%s", r.body);
    cr_expect_str_eq(resp_error_code(&r), "FORBIDDEN");
    http_resp_free(&r);
    char tp_token[1024];
    cr_assert(ledgerd_token(&d, tp_id, tp_secret, tp_token, sizeof tp_token));
    struct ledgerd tp = as(tp_token);
    cr_expect_eq(get_status(&tp, path), 403);

    cr_assert(http_do(&comp, "PUT", path, "{\"status\":\"maybe\"}", NULL, &r));
    cr_expect_eq(r.status, 422, "%s", r.body);
    cr_expect_str_eq(resp_error_field(&r), "status");
    http_resp_free(&r);
    cr_assert(http_do(&comp, "PUT", path, "{}", NULL, &r));
    cr_expect_eq(r.status, 422, "%s", r.body);
    cr_expect_str_eq(resp_error_field(&r), "status");
    http_resp_free(&r);
    cr_assert(http_do(&comp, "PUT", "/v1/holders/ledger/identification", "{\"status\":\"identified\"}", NULL, &r));
    cr_expect_eq(r.status, 422, "%s", r.body);
    cr_expect_str_eq(resp_error_field(&r), "holder_id");
    http_resp_free(&r);
    cr_assert(http_do(&comp, "POST", path, "{\"status\":\"identified\"}", NULL, &r));
    cr_expect_eq(r.status, 405, "%s", r.body);
    http_resp_free(&r);

    /* withdrawn again: the latest change wins, and the audit trail names compliance for both */
    cr_assert(http_do(&comp, "PUT", path, "{\"status\":\"unidentified\"}", NULL, &r));
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_resp_free(&r);
    cr_assert(http_do(&sup, "GET", path, NULL, NULL, &r));
    cr_expect_str_eq(resp_str(&r, "status"), "unidentified");
    cr_expect_gt(resp_int(&r, "seq"), seq);
    http_resp_free(&r);
    char audit[160], want[128];
    snprintf(audit, sizeof audit, "/v1/audit?actor=%s", comp_id);
    cr_assert(http_do(&d, "GET", audit, NULL, NULL, &r));
    json_t *ev = json_object_get(r.json, "events");
    cr_assert_eq(json_array_size(ev), 2, "%s", r.body);
    snprintf(want, sizeof want, "%s:compliance", comp_id);
    for (size_t i = 0; i < 2; i++) {
        json_t *e = json_array_get(ev, i);
        cr_expect_str_eq(json_string_value(json_object_get(e, "actor")), want);
        cr_expect_str_eq(json_string_value(json_object_get(e, "type")), "holder.identification_changed");
        cr_expect_str_eq(json_string_value(json_object_get(json_object_get(e, "data"), "holder_id")), "alice-01");
    }
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(ev, 1), "data"), "status")),
                     "unidentified");
    http_resp_free(&r);

    /* the row survives a restart and equals the replayed one (ledgerctl verify) */
    cr_assert_eq(ledgerd_stop(&d), 0);
    cr_assert(ledgerctl_verify_ok(data));
}
