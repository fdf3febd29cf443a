/*
 * test_access.c: clients and third parties (events 20-23): decide and apply of the four commands
 * with every rejection, the codec of the new events, the rows the sequencer writes and their
 * equality with rows rebuilt by replay, and `ledgerctl client add` end to end (the secret verifies
 * against the stored credential and appears in no stored byte).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/auth.h"
#include "commands/commands.h"
#include "store/store.h"
#include "tests/harness.h"

#define SINK_CAP 64

static struct event evs[SINK_CAP];
static uint64_t next_seq = 1;
static int64_t now_ns = 1795000000000000000LL;

/* Decides c against st (events applied); returns the result, *n the events appended. */
static enum ledger_err run(struct ledger_state *st, struct cmd *c, size_t *n)
{
    struct event_sink sink = {evs, 0, SINK_CAP, next_seq};
    c->now_ns = ++now_ns;
    c->cmd_id = ledger_id_new_v7();
    snprintf(c->actor, sizeof c->actor, "test");
    decide(st, c, &sink);
    next_seq = sink.next_seq;
    if (n != NULL)
        *n = sink.len;
    return c->result;
}

static struct ledger_id open_account(struct ledger_state *st, const char *holder, uint8_t kind)
{
    struct cmd c = {.type = CMD_OPEN_ACCOUNT};
    c.u.open.account_id = ledger_id_new_v7();
    c.u.open.kind = kind;
    snprintf(c.u.open.holder_id, sizeof c.u.open.holder_id, "%s", holder);
    snprintf(c.u.open.friendly_name, sizeof c.u.open.friendly_name, "main");
    memcpy(c.u.open.currency, "EUR", 4);
    cr_assert_eq(run(st, &c, NULL), LEDGER_ERR_OK);
    return c.u.open.account_id;
}

static struct cmd reg(const char *id, const char *name, uint8_t role, const char *tp)
{
    struct cmd c = {.type = CMD_CLIENT_REGISTER};
    snprintf(c.u.client_register.client_id, sizeof c.u.client_register.client_id, "%s", id);
    snprintf(c.u.client_register.name, sizeof c.u.client_register.name, "%s", name);
    c.u.client_register.role = role;
    snprintf(c.u.client_register.third_party_id, sizeof c.u.client_register.third_party_id, "%s", tp);
    return c;
}

static struct cmd revoke(const char *id)
{
    struct cmd c = {.type = CMD_CLIENT_REVOKE};
    snprintf(c.u.client_revoke.client_id, sizeof c.u.client_revoke.client_id, "%s", id);
    return c;
}

static struct cmd tp_cmd(enum cmd_type type, struct ledger_id account, const char *tp, uint8_t rights)
{
    struct cmd c = {.type = type};
    c.u.third_party.account_id = account;
    snprintf(c.u.third_party.third_party_id, sizeof c.u.third_party.third_party_id, "%s", tp);
    c.u.third_party.rights = rights;
    return c;
}

/* Encodes ev, decodes it back, re-encodes: same bytes (the codec of events 20-23 round-trips). */
static void assert_round_trip(struct event *ev)
{
    uint8_t a[LEDGER_RECORD_BYTES_MAX], b[LEDGER_RECORD_BYTES_MAX];
    size_t la = event_encode(ev, a, sizeof a);
    cr_assert(la > 0, "type %u encodes", ev->type);
    struct event back;
    cr_assert_eq(event_decode(a, la, &back), LEDGER_ERR_OK, "type %u decodes", ev->type);
    size_t lb = event_encode(&back, b, sizeof b);
    cr_assert(la == lb && memcmp(a, b, la) == 0);
    cr_assert(event_hash_check(a, la, NULL));
    char json[2048];
    cr_assert(event_to_json(&back, json, sizeof json) > 0);
}

/* The fixture every rejection runs against: a customer account A, an internal account, a closed
 * account, client cli_taken, client cli_gone (revoked), third party acme on A with view. */
struct fixture {
    struct ledger_state *st;
    struct ledger_id a, internal, closed, unknown;
};

static void fixture_init(struct fixture *f)
{
    f->st = ledger_state_new();
    f->a = open_account(f->st, "alice", ACCOUNT_KIND_CUSTOMER);
    f->internal = open_account(f->st, "treasury", ACCOUNT_KIND_INTERNAL);
    f->closed = open_account(f->st, "carol", ACCOUNT_KIND_CUSTOMER);
    f->unknown = ledger_id_new_v7();
    struct cmd c = {.type = CMD_CLOSE_ACCOUNT};
    c.u.action.account_id = f->closed;
    cr_assert_eq(run(f->st, &c, NULL), LEDGER_ERR_OK);
    c = reg("cli_taken", "Ops", ROLE_ADMIN, "");
    cr_assert_eq(run(f->st, &c, NULL), LEDGER_ERR_OK);
    c = reg("cli_gone", "Old", ROLE_SUPPORT, "");
    cr_assert_eq(run(f->st, &c, NULL), LEDGER_ERR_OK);
    c = revoke("cli_gone");
    cr_assert_eq(run(f->st, &c, NULL), LEDGER_ERR_OK);
    c = tp_cmd(CMD_THIRD_PARTY_DECLARE, f->a, "acme", TP_RIGHT_VIEW);
    cr_assert_eq(run(f->st, &c, NULL), LEDGER_ERR_OK);
}

enum which { ACC_A, ACC_INTERNAL, ACC_CLOSED, ACC_UNKNOWN };

struct reject_case {
    const char *what;
    enum cmd_type type;
    const char *id;    /* client id or third party id */
    const char *name;
    uint8_t role;      /* or rights */
    const char *tp;
    enum which account;
    enum ledger_err err;
    const char *field;
};

static const struct reject_case rejects[] = {
    {"empty client id", CMD_CLIENT_REGISTER, "", "n", ROLE_ADMIN, "", 0, LEDGER_ERR_FIELD_INVALID, "client_id"},
    {"space in client id", CMD_CLIENT_REGISTER, "cli x", "n", ROLE_ADMIN, "", 0, LEDGER_ERR_FIELD_INVALID, "client_id"},
    {"empty name", CMD_CLIENT_REGISTER, "cli_1", "", ROLE_ADMIN, "", 0, LEDGER_ERR_FIELD_INVALID, "name"},
    {"control character in name", CMD_CLIENT_REGISTER, "cli_1", "a\nb", ROLE_ADMIN, "", 0, LEDGER_ERR_FIELD_INVALID,
     "name"},
    {"invalid UTF-8 name", CMD_CLIENT_REGISTER, "cli_1", "\xc3\x28", ROLE_ADMIN, "", 0, LEDGER_ERR_FIELD_INVALID, "name"},
    {"role 0", CMD_CLIENT_REGISTER, "cli_1", "n", 0, "", 0, LEDGER_ERR_ROLE_UNKNOWN, "role"},
    {"role 8", CMD_CLIENT_REGISTER, "cli_1", "n", 8, "", 0, LEDGER_ERR_ROLE_UNKNOWN, "role"},
    {"third_party without id", CMD_CLIENT_REGISTER, "cli_1", "n", ROLE_THIRD_PARTY, "", 0,
     LEDGER_ERR_THIRD_PARTY_ID_REQUIRED, "third_party_id"},
    {"third_party id malformed", CMD_CLIENT_REGISTER, "cli_1", "n", ROLE_THIRD_PARTY, "ac me", 0,
     LEDGER_ERR_FIELD_INVALID, "third_party_id"},
    {"admin with a third party id", CMD_CLIENT_REGISTER, "cli_1", "n", ROLE_ADMIN, "acme", 0, LEDGER_ERR_FIELD_INVALID,
     "third_party_id"},
    {"client id taken", CMD_CLIENT_REGISTER, "cli_taken", "n", ROLE_SUPPORT, "", 0, LEDGER_ERR_CLIENT_ID_TAKEN,
     "client_id"},
    {"client id taken by a revoked client", CMD_CLIENT_REGISTER, "cli_gone", "n", ROLE_SUPPORT, "", 0,
     LEDGER_ERR_CLIENT_ID_TAKEN, "client_id"},
    {"revoke unknown", CMD_CLIENT_REVOKE, "cli_nobody", NULL, 0, NULL, 0, LEDGER_ERR_CLIENT_NOT_FOUND, "client_id"},
    {"revoke malformed id", CMD_CLIENT_REVOKE, "", NULL, 0, NULL, 0, LEDGER_ERR_CLIENT_NOT_FOUND, "client_id"},
    {"revoke twice", CMD_CLIENT_REVOKE, "cli_gone", NULL, 0, NULL, 0, LEDGER_ERR_CLIENT_REVOKED, "client_id"},
    {"declare without id", CMD_THIRD_PARTY_DECLARE, "", NULL, TP_RIGHT_VIEW, NULL, ACC_A,
     LEDGER_ERR_THIRD_PARTY_ID_REQUIRED, "third_party_id"},
    {"declare malformed id", CMD_THIRD_PARTY_DECLARE, "a/b", NULL, TP_RIGHT_VIEW, NULL, ACC_A, LEDGER_ERR_FIELD_INVALID,
     "third_party_id"},
    {"declare no rights", CMD_THIRD_PARTY_DECLARE, "acme", NULL, 0, NULL, ACC_A, LEDGER_ERR_RIGHTS_EMPTY, "rights"},
    {"declare unknown right bit", CMD_THIRD_PARTY_DECLARE, "acme", NULL, 0x08, NULL, ACC_A, LEDGER_ERR_FIELD_INVALID,
     "rights"},
    {"declare on unknown account", CMD_THIRD_PARTY_DECLARE, "acme", NULL, TP_RIGHT_VIEW, NULL, ACC_UNKNOWN,
     LEDGER_ERR_ACCOUNT_NOT_FOUND, "account_id"},
    {"declare on internal account", CMD_THIRD_PARTY_DECLARE, "acme", NULL, TP_RIGHT_VIEW, NULL, ACC_INTERNAL,
     LEDGER_ERR_ACCOUNT_KIND_INVALID, "account_id"},
    {"declare on closed account", CMD_THIRD_PARTY_DECLARE, "acme", NULL, TP_RIGHT_VIEW, NULL, ACC_CLOSED,
     LEDGER_ERR_ACCOUNT_CLOSED, "account_id"},
    {"remove on unknown account", CMD_THIRD_PARTY_REMOVE, "acme", NULL, 0, NULL, ACC_UNKNOWN,
     LEDGER_ERR_ACCOUNT_NOT_FOUND, "account_id"},
    {"remove never declared", CMD_THIRD_PARTY_REMOVE, "globex", NULL, 0, NULL, ACC_A,
     LEDGER_ERR_THIRD_PARTY_NOT_DECLARED, "third_party_id"},
    {"remove on another account", CMD_THIRD_PARTY_REMOVE, "acme", NULL, 0, NULL, ACC_CLOSED,
     LEDGER_ERR_THIRD_PARTY_NOT_DECLARED, "third_party_id"},
};

/* Every rejection of the four commands, each with its code and field; a rejection appends nothing. */
Test(access, every_rejection)
{
    struct fixture f;
    fixture_init(&f);
    for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
        const struct reject_case *r = &rejects[i];
        const struct ledger_id *acc[] = {&f.a, &f.internal, &f.closed, &f.unknown};
        struct cmd c;
        if (r->type == CMD_CLIENT_REGISTER)
            c = reg(r->id, r->name, r->role, r->tp);
        else if (r->type == CMD_CLIENT_REVOKE)
            c = revoke(r->id);
        else
            c = tp_cmd(r->type, *acc[r->account], r->id, r->role);
        size_t n = 99;
        uint64_t before = next_seq;
        cr_assert_eq(run(f.st, &c, &n), r->err, "%s: got %s", r->what, ledger_err_name(c.result));
        cr_assert_str_eq(c.field, r->field, "%s", r->what);
        cr_assert(n == 0 && next_seq == before, "%s appended nothing", r->what);
    }
    uint8_t rights = 0;
    cr_assert(access_third_party_rights(f.st, "acme", &f.a, &rights) && rights == TP_RIGHT_VIEW, "unchanged");
    ledger_state_free(f.st);
}

/* The four commands succeed with one event each, which round-trips through the codec and sets the
 * state: register, declare, re-declare (replaces), remove (access ends), revoke; stream versions. */
Test(access, decide_and_apply)
{
    struct fixture f;
    fixture_init(&f);
    size_t n;
    struct cmd c = reg("cli_tp1", "Acme app", ROLE_THIRD_PARTY, "acme");
    cr_assert_eq(run(f.st, &c, &n), LEDGER_ERR_OK);
    cr_assert(n == 1 && evs[0].type == EVENT_CLIENT_REGISTERED && evs[0].stream_ver == 1);
    assert_round_trip(&evs[0]);
    const struct client *cl = access_client(f.st, "cli_tp1");
    cr_assert(cl != NULL && cl->role == ROLE_THIRD_PARTY && !cl->revoked && strcmp(cl->third_party_id, "acme") == 0);
    cr_assert_str_eq(cl->name, "Acme app");

    c = tp_cmd(CMD_THIRD_PARTY_DECLARE, f.a, "acme", TP_RIGHT_VIEW | TP_RIGHT_MANAGE_CARDS);
    cr_assert_eq(run(f.st, &c, &n), LEDGER_ERR_OK);
    cr_assert(n == 1 && evs[0].type == EVENT_THIRD_PARTY_DECLARED && evs[0].stream_ver == 2, "acme's 2nd event");
    cr_assert_eq(c.u.third_party.seq, evs[0].seq);
    assert_round_trip(&evs[0]);
    uint8_t rights = 0;
    cr_assert(access_third_party_rights(f.st, "acme", &f.a, &rights));
    cr_assert_eq(rights, TP_RIGHT_VIEW | TP_RIGHT_MANAGE_CARDS, "declaring again replaces the rights");
    cr_assert_not(access_third_party_rights(f.st, "acme", &f.closed, &rights), "no access elsewhere");
    cr_assert_not(access_third_party_rights(f.st, "globex", &f.a, &rights), "no access for another");
    cr_assert_eq(access_third_party_grant_count(f.st, "acme"), 1);

    c = tp_cmd(CMD_THIRD_PARTY_REMOVE, f.a, "acme", 0);
    cr_assert_eq(run(f.st, &c, &n), LEDGER_ERR_OK);
    cr_assert(n == 1 && evs[0].type == EVENT_THIRD_PARTY_REMOVED && evs[0].data.third_party.rights == 0);
    assert_round_trip(&evs[0]);
    cr_assert_not(access_third_party_rights(f.st, "acme", &f.a, &rights), "removal ends access at once");
    cr_assert_eq(access_third_party_grant_at(f.st, "acme", 0)->rights, 0);
    cr_assert_eq(access_third_party_version(f.st, "acme"), 3);
    c = tp_cmd(CMD_THIRD_PARTY_REMOVE, f.a, "acme", 0);
    cr_assert_eq(run(f.st, &c, &n), LEDGER_ERR_THIRD_PARTY_NOT_DECLARED, "removing twice");
    c = tp_cmd(CMD_THIRD_PARTY_DECLARE, f.a, "acme", TP_RIGHT_INITIATE_TRANSFERS);
    cr_assert_eq(run(f.st, &c, &n), LEDGER_ERR_OK, "declared again after a removal");
    cr_assert(access_third_party_rights(f.st, "acme", &f.a, &rights) && rights == TP_RIGHT_INITIATE_TRANSFERS);
    cr_assert_eq(access_third_party_grant_count(f.st, "acme"), 1, "the same declaration, reused");

    c = revoke("cli_tp1");
    cr_assert_eq(run(f.st, &c, &n), LEDGER_ERR_OK);
    cr_assert(n == 1 && evs[0].type == EVENT_CLIENT_REVOKED && evs[0].stream_ver == 2);
    assert_round_trip(&evs[0]);
    cr_assert(access_client(f.st, "cli_tp1")->revoked);
    ledger_state_free(f.st);
}

/* Applying an event that contradicts the state is LEDGER_ERR_DECODE (the log is inconsistent). */
Test(access, apply_contradictions)
{
    struct fixture f;
    fixture_init(&f);
    struct event ev = {.seq = 1000, .type = EVENT_CLIENT_REGISTERED, .v = 1};
    snprintf(ev.data.client_registered.client_id, sizeof ev.data.client_registered.client_id, "cli_taken");
    cr_assert_eq(ledger_state_apply(f.st, &ev), LEDGER_ERR_DECODE, "registered twice");
    ev = (struct event){.seq = 1000, .type = EVENT_CLIENT_REVOKED, .v = 1};
    snprintf(ev.data.client_revoked.client_id, sizeof ev.data.client_revoked.client_id, "cli_gone");
    cr_assert_eq(ledger_state_apply(f.st, &ev), LEDGER_ERR_DECODE, "revoked twice");
    snprintf(ev.data.client_revoked.client_id, sizeof ev.data.client_revoked.client_id, "cli_nobody");
    cr_assert_eq(ledger_state_apply(f.st, &ev), LEDGER_ERR_DECODE, "unknown client");
    ev = (struct event){.seq = 1000, .type = EVENT_THIRD_PARTY_DECLARED, .v = 1};
    ev.data.third_party.account_id = f.unknown;
    ev.data.third_party.rights = TP_RIGHT_VIEW;
    snprintf(ev.data.third_party.third_party_id, sizeof ev.data.third_party.third_party_id, "acme");
    cr_assert_eq(ledger_state_apply(f.st, &ev), LEDGER_ERR_DECODE, "unknown account");
    ev.type = EVENT_THIRD_PARTY_REMOVED;
    ev.data.third_party.rights = 0;
    cr_assert_eq(ledger_state_apply(f.st, &ev), LEDGER_ERR_DECODE, "not declared");
    ledger_state_free(f.st);
}

/* The codec refuses what the rules forbid, on both sides: rights out of order or repeated, an
 * unknown right, an empty rights list, a third party id on an admin, a removal with rights. */
Test(access, codec_rules)
{
    struct event ev = {.seq = 1, .ts_ns = 1, .type = EVENT_THIRD_PARTY_DECLARED, .v = 1, .stream_ver = 1};
    snprintf(ev.actor, sizeof ev.actor, "t");
    snprintf(ev.data.third_party.third_party_id, sizeof ev.data.third_party.third_party_id, "acme");
    ev.data.third_party.rights = TP_RIGHT_VIEW | TP_RIGHT_MANAGE_CARDS;
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    size_t len = event_encode(&ev, rec, sizeof rec);
    cr_assert(len > 0);
    static const char in_order[] = "\x92\xa4view\xacmanage_cards";
    static const char reversed[] = "\x92\xacmanage_cards\xa4view";
    static const char repeated[] = "\x92\xa4view\xacview_cards__";
    uint8_t *at = memmem(rec, len, in_order, sizeof in_order - 1);
    cr_assert(at != NULL, "rights are written as names in bit order");
    struct event back;
    memcpy(at, reversed, sizeof reversed - 1);
    cr_assert_eq(event_decode(rec, len, &back), LEDGER_ERR_DECODE, "out of order");
    memcpy(at, repeated, sizeof repeated - 1);
    cr_assert_eq(event_decode(rec, len, &back), LEDGER_ERR_DECODE, "unknown name");
    ev.data.third_party.rights = 0;
    cr_assert_eq(event_encode(&ev, rec, sizeof rec), 0, "declared without rights");
    ev.data.third_party.rights = 0x10;
    cr_assert_eq(event_encode(&ev, rec, sizeof rec), 0, "unknown bit");
    ev.type = EVENT_THIRD_PARTY_REMOVED;
    ev.data.third_party.rights = TP_RIGHT_VIEW;
    cr_assert_eq(event_encode(&ev, rec, sizeof rec), 0, "removed with rights");
    ev = (struct event){.seq = 1, .ts_ns = 1, .type = EVENT_CLIENT_REGISTERED, .v = 1, .stream_ver = 1};
    snprintf(ev.data.client_registered.client_id, sizeof ev.data.client_registered.client_id, "cli_a");
    snprintf(ev.data.client_registered.name, sizeof ev.data.client_registered.name, "n");
    ev.data.client_registered.role = ROLE_ADMIN;
    cr_assert(event_encode(&ev, rec, sizeof rec) > 0);
    snprintf(ev.data.client_registered.third_party_id, sizeof ev.data.client_registered.third_party_id, "acme");
    cr_assert_eq(event_encode(&ev, rec, sizeof rec), 0, "admin with a third party id");
    ev.data.client_registered.role = 9;
    cr_assert_eq(event_encode(&ev, rec, sizeof rec), 0, "unknown role");
    cr_assert_str_eq(event_type_name(EVENT_THIRD_PARTY_DECLARED), "third_party.declared");
    cr_assert_str_eq(event_type_name(EVENT_CLIENT_REVOKED), "client.revoked");
}

/* Event 24: a holder's identification round-trips with its status as a name; an empty holder id
 * does not encode nor decode; decide refuses the ledger's own holder and an empty id, and applies
 * the change (the change list gives it once, then is empty). */
Test(access, holder_identification)
{
    struct event ev = {.seq = 1, .ts_ns = 1, .type = EVENT_HOLDER_IDENTIFICATION_CHANGED, .v = 1, .stream_ver = 1};
    snprintf(ev.actor, sizeof ev.actor, "c:compliance");
    snprintf(ev.data.holder_identification.holder_id, sizeof ev.data.holder_identification.holder_id, "alice");
    ev.data.holder_identification.identified = true;
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    size_t len = event_encode(&ev, rec, sizeof rec);
    cr_assert(len > 0);
    cr_assert(memmem(rec, len, "\xa6status\xaaidentified", 18) != NULL, "status written as its name");
    struct event back;
    cr_assert_eq(event_decode(rec, len, &back), LEDGER_ERR_OK);
    cr_assert_str_eq(back.data.holder_identification.holder_id, "alice");
    cr_assert(back.data.holder_identification.identified);
    uint8_t *at = memmem(rec, len, "\xa5" "alice", 6);
    cr_assert(at != NULL);
    memcpy(at + 1, "Alice", 5);
    cr_assert_eq(event_decode(rec, len, &back), LEDGER_ERR_OK); /* a different holder decodes */
    cr_assert_str_eq(back.data.holder_identification.holder_id, "Alice");
    at = memmem(rec, len, "\xaaidentified", 11);
    memcpy(at, "\xaaidentifieD", 11);
    cr_assert_eq(event_decode(rec, len, &back), LEDGER_ERR_DECODE, "unknown status");
    ev.data.holder_identification.holder_id[0] = '\0';
    cr_assert_eq(event_encode(&ev, rec, sizeof rec), 0, "empty holder id");

    struct ledger_state *st = ledger_state_new();
    size_t n = 0;
    struct cmd c = {.type = CMD_HOLDER_IDENTIFY};
    snprintf(c.u.holder_identify.holder_id, sizeof c.u.holder_identify.holder_id, "%s", LEDGER_INTERNAL_HOLDER);
    cr_assert_eq(run(st, &c, &n), LEDGER_ERR_FIELD_INVALID);
    cr_assert_eq(n, 0);
    c.u.holder_identify.holder_id[0] = '\0';
    cr_assert_eq(run(st, &c, &n), LEDGER_ERR_FIELD_INVALID);
    snprintf(c.u.holder_identify.holder_id, sizeof c.u.holder_identify.holder_id, "bob");
    c.u.holder_identify.identified = true;
    cr_assert_eq(run(st, &c, &n), LEDGER_ERR_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(evs[0].type, EVENT_HOLDER_IDENTIFICATION_CHANGED);
    const struct holder_identification *h = ledger_state_take_holder_changes(st, &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(h[0].holder_id, "bob");
    cr_assert(h[0].identified);
    cr_assert_eq(h[0].seq, evs[0].seq);
    uint8_t row[HOLDER_ROW_BYTES];
    struct holder_identification back_row;
    holder_row_encode(&h[0], row);
    cr_assert(holder_row_decode(row, sizeof row, &back_row));
    cr_assert_str_eq(back_row.holder_id, "bob");
    cr_assert(!holder_row_decode(row, sizeof row - 1, &back_row), "short row");
    ledger_state_take_holder_changes(st, &n);
    cr_assert_eq(n, 0);
    ledger_state_free(st);
}

/* ---- through the sequencer and RocksDB -------------------------------------------------------- */

static char tmp[64], data[128];

static void dir_setup(void)
{
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
}

static void dir_teardown(void)
{
    harness_rmdir(tmp);
}

TestSuite(access_store, .init = dir_setup, .fini = dir_teardown, .timeout = 120);

static enum ledger_err exec(struct sequencer *seq, struct cmd *c)
{
    c->cmd_id = ledger_id_new_v7();
    snprintf(c->actor, sizeof c->actor, "test");
    cr_assert_eq(sequencer_execute(seq, c), LEDGER_ERR_OK);
    return c->result;
}

/* Counts the keys of cf. */
static size_t count_keys(struct store *st, enum store_cf cf)
{
    struct store_iter *it = store_iter_prefix(st, cf, "", 0);
    const uint8_t *k, *v;
    size_t kl, vl, n = 0;
    while (store_iter_next(it, &k, &kl, &v, &vl))
        n++;
    store_iter_free(it);
    return n;
}

/* Writes: two clients (one revoked, one rejected with its credential row), declarations on two
 * accounts, a replacement and a removal. */
static void write_access_log(struct ledger_id acc[2])
{
    char err[256];
    struct store *st = store_open(data, false, err, sizeof err);
    cr_assert(st != NULL, "%s", err);
    struct sequencer *seq = sequencer_start(st, NULL, NULL, err, sizeof err);
    cr_assert(seq != NULL, "%s", err);
    for (int i = 0; i < 2; i++) {
        struct cmd c = {.type = CMD_OPEN_ACCOUNT};
        c.u.open.account_id = acc[i] = ledger_id_new_v7();
        c.u.open.kind = ACCOUNT_KIND_CUSTOMER;
        snprintf(c.u.open.holder_id, sizeof c.u.open.holder_id, "h%d", i);
        snprintf(c.u.open.friendly_name, sizeof c.u.open.friendly_name, "main");
        memcpy(c.u.open.currency, "EUR", 4);
        cr_assert_eq(exec(seq, &c), LEDGER_ERR_OK);
    }
    static const char cred[] = "credential bytes";
    struct cmd_row row = {.cf = STORE_CF_CREDENTIALS, .key = "cli_a", .klen = 5, .val = cred, .vlen = sizeof cred};
    struct cmd c = reg("cli_a", "A", ROLE_ADMIN, "");
    c.rows = &row;
    c.rows_n = 1;
    cr_assert_eq(exec(seq, &c), LEDGER_ERR_OK);
    struct cmd_row row2 = {.cf = STORE_CF_CREDENTIALS, .key = "cli_bad", .klen = 7, .val = cred, .vlen = sizeof cred};
    c = reg("cli_bad", "", ROLE_ADMIN, "");
    c.rows = &row2;
    c.rows_n = 1;
    cr_assert_eq(exec(seq, &c), LEDGER_ERR_FIELD_INVALID, "rejected: its credential row is not written");
    c = reg("cli_b", "B", ROLE_THIRD_PARTY, "acme");
    cr_assert_eq(exec(seq, &c), LEDGER_ERR_OK);
    c = revoke("cli_b");
    cr_assert_eq(exec(seq, &c), LEDGER_ERR_OK);
    c = tp_cmd(CMD_THIRD_PARTY_DECLARE, acc[0], "acme", TP_RIGHT_VIEW);
    cr_assert_eq(exec(seq, &c), LEDGER_ERR_OK);
    c = tp_cmd(CMD_THIRD_PARTY_DECLARE, acc[1], "acme", TP_RIGHT_VIEW);
    cr_assert_eq(exec(seq, &c), LEDGER_ERR_OK);
    c = tp_cmd(CMD_THIRD_PARTY_DECLARE, acc[0], "acme", TP_RIGHTS_ALL);
    cr_assert_eq(exec(seq, &c), LEDGER_ERR_OK);
    c = tp_cmd(CMD_THIRD_PARTY_DECLARE, acc[1], "globex", TP_RIGHT_MANAGE_CARDS);
    cr_assert_eq(exec(seq, &c), LEDGER_ERR_OK);
    c = tp_cmd(CMD_THIRD_PARTY_REMOVE, acc[1], "acme", 0);
    cr_assert_eq(exec(seq, &c), LEDGER_ERR_OK);
    sequencer_stop(seq);
    store_close(st);
}

/* The rows the sequencer wrote: clients, both keys of each live declaration (none for the removed
 * one), the credential of the accepted registration only; HTTP-side reads answer from them. */
Test(access_store, rows)
{
    struct ledger_id acc[2];
    write_access_log(acc);
    char err[256];
    struct store *st = store_open(data, true, err, sizeof err);
    cr_assert(st != NULL, "%s", err);
    struct client cl;
    cr_assert_eq(access_store_client(st, "cli_a", &cl), LEDGER_ERR_OK);
    cr_assert(cl.role == ROLE_ADMIN && !cl.revoked && strcmp(cl.name, "A") == 0);
    cr_assert_eq(access_store_client(st, "cli_b", &cl), LEDGER_ERR_OK);
    cr_assert(cl.revoked && cl.version == 2 && strcmp(cl.third_party_id, "acme") == 0);
    cr_assert_eq(access_store_client(st, "cli_bad", &cl), LEDGER_ERR_CLIENT_NOT_FOUND);
    cr_assert_eq(access_store_client(st, "no such/id", &cl), LEDGER_ERR_CLIENT_NOT_FOUND);
    char *val = NULL;
    size_t vlen = 0;
    cr_assert_eq(store_get(st, STORE_CF_CREDENTIALS, "cli_a", 5, &val, &vlen), LEDGER_ERR_OK);
    free(val);
    cr_assert_eq(store_get(st, STORE_CF_CREDENTIALS, "cli_bad", 7, &val, &vlen), LEDGER_ERR_NOT_FOUND);
    uint8_t rights = 0;
    cr_assert_eq(access_store_rights(st, "acme", &acc[0], &rights), LEDGER_ERR_OK);
    cr_assert_eq(rights, TP_RIGHTS_ALL);
    cr_assert_eq(access_store_rights(st, "acme", &acc[1], &rights), LEDGER_ERR_THIRD_PARTY_NOT_DECLARED, "removed");
    cr_assert_eq(access_store_rights(st, "globex", &acc[1], &rights), LEDGER_ERR_OK);
    cr_assert_eq(rights, TP_RIGHT_MANAGE_CARDS);
    cr_assert_eq(access_store_rights(st, "globex", &acc[0], &rights), LEDGER_ERR_THIRD_PARTY_NOT_DECLARED);
    cr_assert_eq(count_keys(st, STORE_CF_PROJ_THIRD_PARTIES), 4, "two live declarations, two keys each");
    cr_assert_eq(count_keys(st, STORE_CF_PROJ_CLIENTS), 2);
    /* acme's accounts, by prefix */
    uint8_t prefix[TP_KEY_MAX];
    size_t plen = tp_key("acme", NULL, prefix);
    struct store_iter *it = store_iter_prefix(st, STORE_CF_PROJ_THIRD_PARTIES, prefix, plen);
    const uint8_t *k, *v;
    size_t kl, vl, n = 0;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        struct ledger_id a;
        cr_assert(tp_key_account(k, kl, &a) && ledger_id_equal(&a, &acc[0]));
        n++;
    }
    store_iter_free(it);
    cr_assert_eq(n, 1);
    store_close(st);
}

/* Replaying the log into a fresh state gives exactly the rows on disk (same bytes, same keys). */
Test(access_store, replay_gives_the_same_rows)
{
    struct ledger_id acc[2];
    write_access_log(acc);
    char err[256];
    struct store *st = store_open(data, true, err, sizeof err);
    cr_assert(st != NULL, "%s", err);
    struct ledger_state *state = ledger_state_new();
    uint64_t bad = 0;
    cr_assert_eq(ledger_replay(st, state, &bad, err, sizeof err, NULL, NULL), LEDGER_ERR_OK, "%s", err);
    cr_assert_eq(access_client_count(state), 2);
    for (size_t i = 0; i < access_client_count(state); i++) {
        const struct client *c = access_client_at(state, i);
        uint8_t row[CLIENT_ROW_BYTES];
        client_row_encode(c, row);
        char *val = NULL;
        size_t vlen = 0;
        cr_assert_eq(store_get(st, STORE_CF_PROJ_CLIENTS, c->id, strlen(c->id), &val, &vlen), LEDGER_ERR_OK);
        cr_assert(vlen == CLIENT_ROW_BYTES && memcmp(val, row, vlen) == 0, "client %s row", c->id);
        free(val);
    }
    size_t live = 0;
    static const char *const tps[] = {"acme", "globex"};
    for (size_t t = 0; t < 2; t++) {
        for (size_t i = 0; i < access_third_party_grant_count(state, tps[t]); i++) {
            const struct tp_grant *g = access_third_party_grant_at(state, tps[t], i);
            uint8_t key[TP_KEY_MAX], row[TP_ROW_BYTES];
            char *val = NULL;
            size_t vlen = 0, klen = tp_key(g->third_party_id, &g->account_id, key);
            enum ledger_err want = g->rights ? LEDGER_ERR_OK : LEDGER_ERR_NOT_FOUND;
            cr_assert_eq(store_get(st, STORE_CF_PROJ_THIRD_PARTIES, key, klen, &val, &vlen), want);
            if (g->rights == 0)
                continue;
            live++;
            tp_row_encode(g, row);
            cr_assert(vlen == TP_ROW_BYTES && memcmp(val, row, vlen) == 0);
            free(val);
        }
    }
    cr_assert_eq(count_keys(st, STORE_CF_PROJ_THIRD_PARTIES), 2 * live);
    ledger_state_free(state);
    store_close(st);
}

/* True when needle occurs anywhere in any key or value of any column family (but proj_balances:
 * fixed 40-byte counters per account, iterated only by 16-byte account prefixes; this log opens
 * no account). */
static bool store_contains(struct store *st, const void *needle, size_t n)
{
    for (int cf = 0; cf < STORE_CF_COUNT; cf++) {
        if (cf == STORE_CF_PROJ_BALANCES)
            continue;
        struct store_iter *it = store_iter_prefix(st, (enum store_cf)cf, "", 0);
        const uint8_t *k, *v;
        size_t kl, vl;
        bool found = false;
        while (!found && store_iter_next(it, &k, &kl, &v, &vl))
            found = memmem(k, kl, needle, n) != NULL || memmem(v, vl, needle, n) != NULL;
        store_iter_free(it);
        if (found)
            return true;
    }
    return false;
}

/* ledgerctl client add: prints {client_id, client_secret} once; the secret verifies against the
 * stored PBKDF2 credential; neither the secret nor its bytes appear in any event record or any
 * other stored byte; list shows the client without secrets; revoke works; with ledgerd running,
 * add refuses clearly (exit 1). */
Test(access_store, ledgerctl_client_add)
{
    char *out = NULL;
    const char *add[] = {"client", "add", "--data", data, "--name", "Acme app", "--role", "third_party",
                         "--third-party", "acme", NULL};
    cr_assert_eq(ledgerctl_run(&out, add), 0, "%s", out);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    cr_assert(j != NULL, "%s", out);
    const char *id = json_string_value(json_object_get(j, "client_id"));
    const char *secret = json_string_value(json_object_get(j, "client_secret"));
    cr_assert(id != NULL && secret != NULL && strlen(secret) == AUTH_SECRET_LEN && json_object_size(j) == 2);
    char err[256];
    struct store *st = store_open(data, true, err, sizeof err);
    cr_assert(st != NULL, "%s", err);
    char *cred = NULL;
    size_t clen = 0;
    cr_assert_eq(store_get(st, STORE_CF_CREDENTIALS, id, strlen(id), &cred, &clen), LEDGER_ERR_OK);
    cr_assert(auth_credential_verify(secret, strlen(secret), cred, clen));
    cr_assert_not(auth_credential_verify("wrong", 5, cred, clen));
    free(cred);
    uint8_t raw[AUTH_SECRET_BYTES];
    size_t rawlen = 0;
    cr_assert(auth_b64url_decode(secret, strlen(secret), raw, sizeof raw, &rawlen));
    uint8_t rec[LEDGER_RECORD_BYTES_MAX];
    size_t len = 0;
    struct store_head head = store_head(st);
    cr_assert_eq(head.seq, 1);
    for (uint64_t s = 1; s <= head.seq; s++) {
        cr_assert_eq(store_get_event(st, s, rec, sizeof rec, &len), LEDGER_ERR_OK);
        cr_assert_null(memmem(rec, len, secret, strlen(secret)), "secret text in event %llu", (unsigned long long)s);
        cr_assert_null(memmem(rec, len, raw, 8), "secret bytes in event %llu", (unsigned long long)s);
    }
    cr_assert(store_contains(st, id, strlen(id)), "control: the search finds the client id");
    cr_assert_not(store_contains(st, secret, strlen(secret)), "the secret is stored nowhere");
    cr_assert_not(store_contains(st, raw, 8), "nor its raw bytes");
    store_close(st);
    free(out);

    const char *list[] = {"client", "list", "--data", data, NULL};
    cr_assert_eq(ledgerctl_run(&out, list), 0, "%s", out);
    cr_assert(strstr(out, id) != NULL && strstr(out, "third_party") != NULL && strstr(out, secret) == NULL, "%s", out);
    free(out);

    struct ledgerd d;
    cr_assert(ledgerd_start(&d, data, "none"));
    const char *add2[] = {"client", "add", "--data", data, "--name", "x", "--role", "admin", NULL};
    cr_assert_eq(ledgerctl_run(&out, add2), 1, "%s", out);
    cr_assert(strstr(out, "ledgerd running") != NULL, "%s", out);
    free(out);
    ledgerd_stop(&d);

    const char *rev[] = {"client", "revoke", "--data", data, "--client", id, NULL};
    cr_assert_eq(ledgerctl_run(&out, rev), 0, "%s", out);
    free(out);
    cr_assert_eq(ledgerctl_run(&out, rev), 1, "revoked twice");
    cr_assert(strstr(out, "CLIENT_REVOKED") != NULL, "%s", out);
    free(out);
    const char *keys[] = {"keys", "rotate", "--data", data, NULL};
    cr_assert_eq(ledgerctl_run(&out, keys), 0, "%s", out);
    free(out);
    json_decref(j);
    cr_assert(ledgerctl_verify_ok(data));
}
