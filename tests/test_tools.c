/*
 * test_tools.c: ledgerctl verify and replay, the auditor's and operator's view, run as the real
 * binary against a real RocksDB log written by the real sequencer.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/commands.h"
#include "store/store.h"
#include "tests/harness.h"

static char tmp[64], data[128];
static struct ledger_id acc[3];

/* Writes a small ledger: 3 accounts, deposits, transfers (seq 1..~10). */
static void write_ledger(void)
{
    char err[256];
    struct store *st = store_open(data, false, err, sizeof err);
    cr_assert(st != NULL, "%s", err);
    struct sequencer *seq = sequencer_start(st, NULL, NULL, err, sizeof err);
    cr_assert(seq != NULL, "%s", err);
    for (int i = 0; i < 3; i++) {
        struct cmd c = {.type = CMD_OPEN_ACCOUNT, .cmd_id = ledger_id_new_v7()};
        c.u.open.account_id = acc[i] = ledger_id_new_v7();
        c.u.open.kind = ACCOUNT_KIND_CUSTOMER;
        snprintf(c.u.open.holder_id, sizeof c.u.open.holder_id, "tool-%d", i);
        snprintf(c.u.open.friendly_name, sizeof c.u.open.friendly_name, "main");
        memcpy(c.u.open.currency, "EUR", 4);
        snprintf(c.actor, sizeof c.actor, "test");
        cr_assert(sequencer_execute(seq, &c) == LEDGER_ERR_OK && c.result == LEDGER_ERR_OK);
    }
    for (int i = 0; i < 6; i++) {
        struct transfer_item t = {.id = ledger_id_new_v7(), .amount_minor = i < 3 ? 1000 : 100 + i, .currency = "EUR"};
        t.kind = i < 3 ? TRANSFER_KIND_DEPOSIT : TRANSFER_KIND_TRANSFER;
        t.debit_account_id = acc[i % 3];
        t.credit_account_id = acc[(i + 1) % 3];
        snprintf(t.reference, sizeof t.reference, "ref-%d", i);
        struct cmd c = {.type = CMD_TRANSFERS, .cmd_id = ledger_id_new_v7()};
        c.u.transfers.items = &t;
        c.u.transfers.count = 1;
        snprintf(c.actor, sizeof c.actor, "test");
        cr_assert(sequencer_execute(seq, &c) == LEDGER_ERR_OK && t.result == LEDGER_ERR_OK, "%d: %s", i,
                  ledger_err_name(t.result));
    }
    sequencer_stop(seq);
    store_close(st);
}

static void setup(void)
{
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    write_ledger();
}

static void teardown(void)
{
    harness_rmdir(tmp);
}

TestSuite(tools, .init = setup, .fini = teardown, .timeout = 60);

static int run(char **out, const char *a0, const char *a1, const char *a2, const char *a3, const char *a4)
{
    const char *args[] = {a0, a1, a2, a3, a4, NULL};
    return ledgerctl_run(out, args);
}

/* verify passes on an untouched log and reports the double entry and the balances digest. */
Test(tools, verify_ok)
{
    char *out;
    cr_assert_eq(run(&out, "verify", "--data", data, NULL, NULL), 0, "%s", out);
    cr_expect(strstr(out, "double entry EUR") != NULL, "%s", out);
    cr_expect(strstr(out, "balances digest") != NULL, "%s", out);
    cr_expect(strstr(out, "OK, head seq 10") != NULL, "%s", out);
    free(out);
}

/* Rewrites event seq in place with one byte of its reference changed (it still decodes). */
static void tamper_event(uint64_t seq)
{
    char err[256];
    struct store *st = store_open(data, false, err, sizeof err);
    cr_assert(st != NULL, "%s", err);
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    size_t len = 0;
    cr_assert_eq(store_get_event(st, seq, rec, sizeof rec, &len), LEDGER_ERR_OK);
    uint8_t *p = memmem(rec, len, "ref-", 4);
    cr_assert(p != NULL, "event %llu has a reference", (unsigned long long)seq);
    p[4] = 'X';
    struct store_batch *b = store_batch_new(st);
    store_batch_put_event(b, seq, rec, len);
    store_commit(st, b);
    store_batch_free(b);
    store_close(st);
}

/* A record altered on disk breaks the chain: verify exits 1 naming that sequence. */
Test(tools, verify_names_tampered_event)
{
    tamper_event(7);
    char *out;
    cr_assert_eq(run(&out, "verify", "--data", data, NULL, NULL), 1, "%s", out);
    cr_expect(strstr(out, "FAIL at seq 7") != NULL, "%s", out);
    free(out);
}

/* A stored balance that differs from the events is found and named by its last event. */
Test(tools, verify_names_tampered_balance)
{
    char err[256];
    struct store *st = store_open(data, false, err, sizeof err);
    cr_assert(st != NULL, "%s", err);
    char *val;
    size_t vlen;
    cr_assert_eq(store_get(st, STORE_CF_PROJ_BALANCES, acc[1].b, 16, &val, &vlen), LEDGER_ERR_OK);
    struct account a;
    cr_assert(balance_row_decode(val, vlen, &a));
    free(val);
    a.credits_posted += 1;
    uint8_t row[BALANCE_ROW_BYTES];
    balance_row_encode(&a, row);
    struct store_batch *b = store_batch_new(st);
    store_batch_put(b, STORE_CF_PROJ_BALANCES, acc[1].b, 16, row, sizeof row);
    store_commit(st, b);
    store_batch_free(b);
    store_close(st);
    char *out, expect[64];
    cr_assert_eq(run(&out, "verify", "--data", data, NULL, NULL), 1, "%s", out);
    snprintf(expect, sizeof expect, "FAIL at seq %llu", (unsigned long long)a.last_seq);
    cr_expect(strstr(out, expect) != NULL, "want '%s' in %s", expect, out);
    free(out);
}

/* replay prints one JSON line per event, from a sequence, or only an account's events. */
Test(tools, replay_filters)
{
    char *out;
    cr_assert_eq(run(&out, "replay", "--data", data, NULL, NULL), 0);
    size_t lines = 0;
    for (char *p = out; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    cr_expect_eq(lines, 10, "%s", out);
    json_t *first = json_loadb(out, strchr(out, '\n') - out, 0, NULL);
    cr_assert(first != NULL);
    cr_expect_eq(json_integer_value(json_object_get(first, "seq")), 1);
    json_decref(first);
    free(out);

    cr_assert_eq(run(&out, "replay", "--data", data, "--from", "9"), 0);
    cr_expect(strncmp(out, "{\"seq\":9,", 9) == 0, "%s", out);
    free(out);

    char id[LEDGER_ID_TEXT_LEN + 1];
    ledger_id_format(&acc[0], id);
    const char *args[] = {"replay", "--data", data, "--account", id, NULL};
    cr_assert_eq(ledgerctl_run(&out, args), 0);
    lines = 0;
    for (char *p = out; (p = strchr(p, '\n')) != NULL; p++, lines++)
        cr_expect(strstr(out, id) != NULL);
    cr_expect_eq(lines, 4, "opened, its deposit, two transfers touching it: %s", out);
    free(out);

    cr_assert_eq(run(&out, "replay", "--data", data, "--account", "nope"), 2);
    free(out);
}

/* ledgerctl rebuild rebuilds the access rows too: a registered client is still listed, and a
 * revoked one still revoked, after the balances projection was dropped and rebuilt. */
Test(tools, rebuild_keeps_clients_and_revocations)
{
    char *out;
    const char *const add1[] = {"client", "add", "--data", data, "--name", "ops", "--role", "admin", NULL};
    const char *const add2[] = {"client", "add", "--data", data, "--name", "old", "--role", "support", NULL};
    cr_assert_eq(ledgerctl_run(&out, add1), 0, "%s", out);
    free(out);
    cr_assert_eq(ledgerctl_run(&out, add2), 0, "%s", out);
    json_t *doc = json_loads(out, 0, NULL);
    cr_assert_not_null(doc, "%s", out);
    char old_id[64];
    snprintf(old_id, sizeof old_id, "%s", json_string_value(json_object_get(doc, "client_id")));
    json_decref(doc);
    free(out);
    const char *const revoke[] = {"client", "revoke", "--data", data, "--client", old_id, NULL};
    cr_assert_eq(ledgerctl_run(&out, revoke), 0, "%s", out);
    free(out);
    cr_assert_eq(run(&out, "rebuild", "--data", data, "--projection", "balances"), 0, "%s", out);
    free(out);
    const char *const list[] = {"client", "list", "--data", data, NULL};
    cr_assert_eq(ledgerctl_run(&out, list), 0, "%s", out);
    cr_expect(strstr(out, "\"ops\"") != NULL, "the admin client is listed after the rebuild: %s", out);
    cr_expect(strstr(out, old_id) != NULL, "%s", out);
    cr_expect(strstr(out, "revoked") != NULL, "the revocation survives the rebuild: %s", out);
    free(out);
    cr_assert(ledgerctl_verify_ok(data));
}

/* A card row altered on disk is found: verify compares card, authorization and client rows byte
 * for byte with the replayed state. */
Test(tools, verify_names_tampered_card_row)
{
    char err[256];
    struct store *st = store_open(data, false, err, sizeof err);
    cr_assert(st != NULL, "%s", err);
    struct sequencer *seq = sequencer_start(st, NULL, NULL, err, sizeof err);
    cr_assert(seq != NULL, "%s", err);
    struct cmd c = {.type = CMD_CARD_ISSUE, .cmd_id = ledger_id_new_v7()};
    struct ledger_id card = c.u.card_issue.card_id = ledger_id_new_v7();
    c.u.card_issue.account_id = acc[0];
    c.u.card_issue.type = CARD_TYPE_VIRTUAL;
    memcpy(c.u.card_issue.last_four, "1234", 5);
    memcpy(c.u.card_issue.expiry, "1230", 5);
    snprintf(c.actor, sizeof c.actor, "test");
    cr_assert(sequencer_execute(seq, &c) == LEDGER_ERR_OK && c.result == LEDGER_ERR_OK);
    sequencer_stop(seq);
    char *out;
    store_close(st);
    cr_assert_eq(run(&out, "verify", "--data", data, "--skip-projections", NULL), 0, "%s", out);
    free(out);
    st = store_open(data, false, err, sizeof err);
    char *val;
    size_t vlen;
    cr_assert_eq(store_get(st, STORE_CF_PROJ_CARDS, card.b, 16, &val, &vlen), LEDGER_ERR_OK);
    struct card k;
    cr_assert(card_row_decode(val, vlen, &k));
    cr_assert(vlen < CARD_ROW_BYTES, "a packed row");
    free(val);
    /* The same card in the plain layout (a row written before rows were packed) verifies. */
    uint8_t row[CARD_ROW_BYTES];
    uint32_t version = 1;
    memcpy(row, &version, 4);
    memcpy(row + 4, &k, sizeof k);
    struct store_batch *b = store_batch_new(st);
    store_batch_put(b, STORE_CF_PROJ_CARDS, card.b, 16, row, sizeof row);
    store_commit(st, b);
    store_batch_free(b);
    store_close(st);
    cr_assert_eq(run(&out, "verify", "--data", data, "--skip-projections", NULL), 0, "%s", out);
    free(out);
    st = store_open(data, false, err, sizeof err);
    memcpy(k.last_four, "9999", 5);
    b = store_batch_new(st);
    store_batch_put(b, STORE_CF_PROJ_CARDS, card.b, 16, row, card_row_encode(&k, row));
    store_commit(st, b);
    store_batch_free(b);
    store_close(st);
    cr_assert_eq(run(&out, "verify", "--data", data, "--skip-projections", NULL), 1, "%s", out);
    cr_expect(strstr(out, "stored card row differs") != NULL, "%s", out);
    free(out);
}
