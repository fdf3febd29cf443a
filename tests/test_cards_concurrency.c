/*
 * test_cards_concurrency.c: card authorization under concurrency and across a restart, end to end:
 * the real ledgerd, a real RocksDB in a temp dir, a real nats-server, several NATS connections.
 */
#include <criterion/criterion.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/nats_harness.h"

#define CLIENTS 6
#define PER_CLIENT 250
#define FUNDS 100000

static char tmp[64], data[128];
static struct ledgerd d;
static struct nats_harness nh;
static char account[37], card[37];

static void setup(void)
{
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    memset(&nh, 0, sizeof nh);
    cr_assert(nats_harness_start(&nh, tmp));
    cr_assert(ledgerd_start(&d, data, nh.url));
    cr_assert(api_open_account(&d, "concurrent", "EUR", 0, account));
    cr_assert(api_deposit(&d, account, FUNDS, "EUR"));
    cr_assert(api_active_card(&d, account, "virtual", "A B", card));
}

static void teardown(void)
{
    ledgerd_kill(&d);
    nats_harness_release(&nh);
    harness_rmdir(tmp);
}

TestSuite(card_concurrency, .init = setup, .fini = teardown, .timeout = 120);

struct client {
    int index;
    long long approved_sum;
    int approved, declined_51, other, errors;
};

/* One NATS connection sending PER_CLIENT authorizations, one at a time, amounts 1..1000. */
static void *client_main(void *arg)
{
    struct client *c = arg;
    natsConnection *nc = NULL;
    if (natsConnection_ConnectTo(&nc, nh.url) != NATS_OK) {
        c->errors = PER_CLIENT;
        return NULL;
    }
    for (int i = 0; i < PER_CLIENT; i++) {
        char body[512];
        long long amount = 1 + (i * 7919 + c->index * 104729) % 1000;
        snprintf(body, sizeof body,
                 "{\"authorization_id\":\"cc-%d-%d\",\"card_id\":\"%s\",\"amount\":%lld,\"currency\":\"EUR\","
                 "\"merchant\":{\"name\":\"Shop\",\"mcc\":5411,\"country\":\"FR\",\"id\":\"m\"},"
                 "\"channel\":\"POS\",\"category\":\"FINAL_AUTH\",\"partial_allowed\":false}",
                 c->index, i, card, amount);
        natsMsg *reply = NULL;
        natsStatus s = NATS_NO_RESPONDERS;
        for (int k = 0; k < 40 && s == NATS_NO_RESPONDERS; k++)
            if ((s = natsConnection_RequestString(&reply, nc, "ledger.cmd.card.authorize", body, 5000)) ==
                NATS_NO_RESPONDERS)
                usleep(50000);
        json_t *doc = s == NATS_OK ? json_loadb(natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), 0, NULL)
                                   : NULL;
        const char *code = json_string_value(json_object_get(doc, "response_code"));
        if (code == NULL)
            c->errors++;
        else if (strcmp(code, "00") == 0) {
            c->approved++;
            c->approved_sum += json_integer_value(json_object_get(doc, "approved_amount"));
        } else if (strcmp(code, "51") == 0)
            c->declined_51++;
        else
            c->other++;
        json_decref(doc);
        natsMsg_Destroy(reply);
    }
    natsConnection_Destroy(nc);
    return NULL;
}

/* Many concurrent authorizations from several connections against one account: the approved holds
 * never exceed the funds (no double spend), available = funds - holds exactly, every other request
 * is declined 51; the holds survive a restart; a capture after the restart posts; verify is green
 * (stored balances equal a serial replay of the log). */
Test(card_concurrency, no_double_spend_and_restart_keeps_holds)
{
    static struct client clients[CLIENTS];
    pthread_t th[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = (struct client){.index = i};
        pthread_create(&th[i], NULL, client_main, &clients[i]);
    }
    long long held = 0;
    int approved = 0, declined = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(clients[i].errors, 0, "client %d got an answer to every request", i);
        cr_expect_eq(clients[i].other, 0, "client %d: only 00 and 51", i);
        held += clients[i].approved_sum;
        approved += clients[i].approved;
        declined += clients[i].declined_51;
    }
    cr_assert_eq(approved + declined, CLIENTS * PER_CLIENT);
    cr_assert_gt(declined, 0, "the load asked for more than the funds");
    cr_assert_leq(held, FUNDS, "approved holds %lld exceed the funds: double spend", held);
    cr_assert_gt(held, FUNDS - 1000, "the funds were used up to the last request that fits (%lld)", held);
    cr_expect_eq(api_balance(&d, account, "available"), FUNDS - held);
    cr_expect_eq(api_balance(&d, account, "posted"), FUNDS, "holds are not posted");
    cr_assert(ledgerctl_verify_ok(data));

    cr_assert_eq(ledgerd_stop(&d), 0);
    cr_assert(ledgerd_start(&d, data, nh.url));
    cr_expect_eq(api_balance(&d, account, "available"), FUNDS - held, "every hold survives the restart");
    /* capture one approved hold after the restart: find one in the card's authorizations */
    char path[128];
    snprintf(path, sizeof path, "/v1/cards/%s/authorizations", card);
    struct http_resp r;
    cr_assert(http_do(&d, "GET", path, NULL, NULL, &r) && r.status == 200, "%s", r.body);
    json_t *list = json_object_get(r.json, "authorizations");
    const char *auth = NULL;
    long long amount = 0;
    for (size_t i = 0; i < json_array_size(list) && auth == NULL; i++) {
        json_t *a = json_array_get(list, i);
        const char *state = json_string_value(json_object_get(a, "state"));
        if (state != NULL && strcmp(state, "pending") == 0) {
            auth = json_string_value(json_object_get(a, "authorization_id"));
            amount = json_integer_value(json_object_get(a, "held"));
        }
    }
    cr_assert_not_null(auth, "a pending hold is listed: %s", r.body);
    char body[256];
    snprintf(path, sizeof path, "/v1/card-authorizations/%s/capture", auth);
    snprintf(body, sizeof body, "{\"capture_id\":\"cap-after-restart\",\"amount\":%lld,\"final\":true}", amount);
    struct http_resp c;
    cr_assert(http_do(&d, "POST", path, body, NULL, &c));
    cr_expect_eq(c.status, 201, "%s", c.body);
    http_resp_free(&c);
    http_resp_free(&r);
    cr_expect_eq(api_balance(&d, account, "posted"), FUNDS - amount);
    cr_expect_eq(api_balance(&d, account, "available"), FUNDS - held);
    cr_assert(ledgerctl_verify_ok(data));
}
