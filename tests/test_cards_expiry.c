/*
 * test_cards_expiry.c: hold expiry by the scheduler, end to end, on the business clock: the real
 * ledgerd with --clock manual, a hold approved, the ledger restarted, the clock moved past the
 * hold's expiry: exactly one card.hold_expired, the funds available again, and no second expiry
 * after another restart.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"

static char tmp[64], data[128];
static struct ledgerd d;
static const char *const manual[] = {"--clock", "manual", "--clock-start", "2026-11-20T10:00:00Z", NULL};

static void setup(void)
{
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    cr_assert(ledgerd_start_args(&d, data, "none", manual));
}

static void teardown(void)
{
    ledgerd_kill(&d);
    harness_rmdir(tmp);
}

TestSuite(expiry, .init = setup, .fini = teardown, .timeout = 90);

static int count_expired(void)
{
    struct http_resp r;
    int n = 0;
    cr_assert(http_do(&d, "GET", "/v1/events?limit=1000", NULL, NULL, &r));
    json_t *ev = json_object_get(r.json, "events");
    for (size_t i = 0; i < json_array_size(ev); i++)
        n += strcmp(json_string_value(json_object_get(json_array_get(ev, i), "type")), "card.hold_expired") == 0;
    http_resp_free(&r);
    return n;
}

/* The scheduler expires a hold once its time has come on the business clock, also after a
 * restart, and only once. */
Test(expiry, hold_expires_on_the_business_clock_across_restarts)
{
    char account[37], card[37], body[512], path[128];
    cr_assert(api_open_account(&d, "expiry", "EUR", 0, account));
    cr_assert(api_deposit(&d, account, 5000, "EUR"));
    cr_assert(api_active_card(&d, account, "virtual", "E X", card));
    struct http_resp r;
    snprintf(body, sizeof body,
             "{\"authorization_id\":\"exp-1\",\"card_id\":\"%s\",\"amount\":1200,\"currency\":\"EUR\","
             "\"merchant\":{\"name\":\"Hotel\",\"mcc\":7011,\"country\":\"FR\",\"id\":\"h1\"},\"channel\":\"POS\","
             "\"category\":\"FINAL_AUTH\",\"partial_allowed\":false}", card);
    cr_assert(http_do(&d, "POST", "/v1/card-authorizations", body, NULL, &r));
    cr_assert_str_eq(resp_str(&r, "response_code"), "00", "%s", r.body);
    http_resp_free(&r);
    cr_assert_eq(api_balance(&d, account, "available"), 3800);

    cr_assert_eq(ledgerd_stop(&d), 0);
    cr_assert(ledgerd_start_args(&d, data, "none", manual));
    cr_assert_eq(api_balance(&d, account, "available"), 3800, "the hold survives the restart");
    cr_assert(http_do(&d, "POST", "/v1/admin/clock", "{\"now\":\"2026-11-26T10:00:00Z\"}", NULL, &r));
    cr_assert_eq(r.status, 200, "%s", r.body);
    http_resp_free(&r);
    usleep(1500 * 1000);
    cr_expect_eq(api_balance(&d, account, "available"), 3800, "6 days: not yet (FINAL_AUTH holds 7)");
    cr_assert(http_do(&d, "POST", "/v1/admin/clock", "{\"now\":\"2026-11-27T10:00:01Z\"}", NULL, &r));
    http_resp_free(&r);
    int waited = 0;
    while (api_balance(&d, account, "available") != 5000 && waited < 5000) {
        usleep(50 * 1000);
        waited += 50;
    }
    cr_assert_eq(api_balance(&d, account, "available"), 5000, "expired: the funds are available again");
    cr_expect_eq(count_expired(), 1);
    snprintf(path, sizeof path, "/v1/cards/%s/authorizations", card);
    cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(r.json, "authorizations"), 0),
                                                       "state")),
                     "expired", "%s", r.body);
    http_resp_free(&r);

    cr_assert_eq(ledgerd_stop(&d), 0);
    cr_assert(ledgerd_start_args(&d, data, "none", manual));
    usleep(1500 * 1000);
    cr_expect_eq(count_expired(), 1, "no second expiry after a restart");
    cr_assert(ledgerctl_verify_ok(data));
}
