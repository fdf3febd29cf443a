/*
 * clients.c: ledgerctl client add|list|revoke and ledgerctl keys rotate (docs/SECURITY.md).
 *
 *   client add --data DIR --name NAME --role ROLE [--third-party ID]
 *       on a STOPPED ledger (RocksDB's lock): registers a client through the real sequencer (one
 *       client.registered event, its credential row in the same batch) and prints
 *       {"client_id","client_secret"} once. The secret is not stored anywhere else.
 *   client list --data DIR      the clients from proj_clients (read-only; works while ledgerd runs)
 *   client revoke --data DIR --client ID   on a stopped ledger: one client.revoked event
 *   keys rotate --data DIR      adds a signing key to DIR/jwt-keys (the file only: works while
 *                               ledgerd runs; older keys keep verifying for their grace period)
 * Exit status: 0 done, 1 refused or failed (printed), 2 bad usage.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api/api.h"
#include "api/auth.h"
#include "commands/commands.h"
#include "store/store.h"
#include "tools/tools.h"

#define CLIENT_ACTOR "ledgerctl:operator"

static void client_usage(void)
{
    fprintf(stderr, "usage: ledgerctl client add --data DIR --name NAME --role ROLE [--third-party ID] [--at RFC3339]\n"
                    "       ledgerctl client list --data DIR\n"
                    "       ledgerctl client revoke --data DIR --client ID\n"
                    "  roles: admin compliance antifraud accountant support third_party card_processor\n");
}

/* Opens dir read-write; explains a lock held by a running ledgerd. NULL (printed) on failure. */
static struct store *open_stopped(const char *dir)
{
    char err[512];
    struct store *st = store_open(dir, false, err, sizeof err);
    if (st != NULL)
        return st;
    if (strstr(err, "lock") != NULL || strstr(err, "LOCK") != NULL)
        fprintf(stderr, "ledgerctl: %s is in use (is ledgerd running?). Stop ledgerd first, or use the running "
                        "ledger's API (POST /v1/clients).\n  (%s)\n", dir, err);
    else
        fprintf(stderr, "ledgerctl: cannot open %s: %s\n", dir, err);
    return NULL;
}

/* --at RFC3339: the business time of the command, for a ledger that runs a manual business clock
 * (0: the system clock). The sequencer still keeps times strictly increasing. */
static int64_t command_at_ns;

static bool parse_at(int argc, char **argv, bool *bad)
{
    const char *at = tool_flag(argc, argv, "--at", bad);
    if (at != NULL && !api_time_parse(at, &command_at_ns)) {
        fprintf(stderr, "ledgerctl: --at wants an RFC 3339 time (2026-11-20T10:00:00Z), got '%s'\n", at);
        return false;
    }
    return true;
}

/* Runs one command through a sequencer over st; false (printed) when it cannot run. */
static bool execute(struct store *st, struct cmd *c)
{
    char err[512];
    struct sequencer *seq = sequencer_start(st, NULL, NULL, err, sizeof err);
    if (seq == NULL) {
        fprintf(stderr, "ledgerctl: the log does not replay: %s\n", err);
        return false;
    }
    struct ledger_clock *clock = command_at_ns ? ledger_clock_new(BUSINESS_CLOCK_MANUAL, command_at_ns) : NULL;
    if (clock != NULL)
        sequencer_set_clock(seq, ledger_clock_now, clock);
    c->cmd_id = ledger_id_new_v7();
    snprintf(c->actor, sizeof c->actor, "%s", CLIENT_ACTOR);
    enum ledger_err rc = sequencer_execute(seq, c);
    sequencer_stop(seq);
    ledger_clock_free(clock);
    if (rc != LEDGER_ERR_OK) {
        fprintf(stderr, "ledgerctl: %s\n", ledger_err_message(rc));
        return false;
    }
    if (c->result != LEDGER_ERR_OK) {
        fprintf(stderr, "ledgerctl: refused: %s (%s%s%s)\n", ledger_err_name(c->result), ledger_err_message(c->result),
                c->field ? ", field " : "", c->field ? c->field : "");
        return false;
    }
    return true;
}

/* Copies a flag value into a fixed field; false (printed) when it does not fit. */
static bool copy_field(char *out, size_t cap, const char *value, const char *flag)
{
    if (strlen(value) >= cap) {
        fprintf(stderr, "ledgerctl: %s is longer than %zu bytes\n", flag, cap - 1);
        return false;
    }
    snprintf(out, cap, "%s", value);
    return true;
}

static void print_json(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT);
    LEDGER_ASSERT(text != NULL);
    printf("%s\n", text);
    fflush(stdout);
    OPENSSL_cleanse(text, strlen(text)); /* may hold a secret */
    free(text);
    json_decref(o);
}

/* Fills the registration and its credential; false (printed) on bad input or a random failure. */
static bool prepare_add(struct cmd *c, const char *name, const char *role_text, const char *tp, char *secret,
                        uint8_t *credential)
{
    enum client_role role;
    if (!client_role_parse(role_text, &role)) {
        fprintf(stderr, "ledgerctl: unknown role '%s'\n", role_text);
        client_usage();
        return false;
    }
    struct cmd_client_register *r = &c->u.client_register;
    r->role = (uint8_t)role;
    if (!copy_field(r->name, sizeof r->name, name, "--name") ||
        !copy_field(r->third_party_id, sizeof r->third_party_id, tp ? tp : "", "--third-party"))
        return false;
    if (!auth_client_id_new(r->client_id) || !auth_secret_new(secret) ||
        !auth_credential_new(secret, strlen(secret), AUTH_PBKDF2_ITERATIONS, credential)) {
        fprintf(stderr, "ledgerctl: the random source or the key derivation failed\n");
        return false;
    }
    return true;
}

static int client_add(int argc, char **argv)
{
    bool bad = false;
    const char *dir = tool_flag(argc, argv, "--data", &bad), *name = tool_flag(argc, argv, "--name", &bad);
    const char *role = tool_flag(argc, argv, "--role", &bad), *tp = tool_flag(argc, argv, "--third-party", &bad);
    if (!parse_at(argc, argv, &bad) || bad || dir == NULL || name == NULL || role == NULL) {
        client_usage();
        return 2;
    }
    static struct cmd c; /* large (result snapshots): not on the stack */
    memset(&c, 0, sizeof c);
    c.type = CMD_CLIENT_REGISTER;
    char secret[AUTH_SECRET_LEN + 1];
    uint8_t credential[AUTH_CREDENTIAL_BYTES];
    if (!prepare_add(&c, name, role, tp, secret, credential))
        return 2;
    struct cmd_row row = {.cf = STORE_CF_CREDENTIALS, .key = c.u.client_register.client_id,
                          .klen = strlen(c.u.client_register.client_id), .val = credential, .vlen = sizeof credential};
    c.rows = &row;
    c.rows_n = 1;
    struct store *st = open_stopped(dir);
    bool ok = st != NULL && execute(st, &c);
    store_close(st);
    c.rows = NULL; /* row is on this stack frame; c is static */
    c.rows_n = 0;
    if (ok)
        print_json(json_pack("{s:s,s:s}", "client_id", c.u.client_register.client_id, "client_secret", secret));
    OPENSSL_cleanse(secret, sizeof secret);
    return ok ? 0 : 1;
}

static void format_time(int64_t ts_ns, char out[40])
{
    time_t s = (time_t)(ts_ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *client_json(const struct client *cl)
{
    char registered[40], revoked[40];
    format_time(cl->registered_ts_ns, registered);
    format_time(cl->revoked_ts_ns, revoked);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I}", "client_id", cl->id, "name", cl->name, "role",
                          client_role_name(cl->role), "third_party_id", cl->third_party_id, "state",
                          cl->revoked ? "revoked" : "active", "registered_seq", (json_int_t)cl->registered_seq);
    json_object_set_new(o, "registered_at", json_string(registered));
    if (cl->revoked)
        json_object_set_new(o, "revoked_at", json_string(revoked));
    return o;
}

static int client_list(int argc, char **argv)
{
    bool bad = false;
    const char *dir = tool_flag(argc, argv, "--data", &bad);
    if (bad || dir == NULL) {
        client_usage();
        return 2;
    }
    char err[512];
    struct store *st = store_open(dir, true, err, sizeof err);
    if (st == NULL) {
        fprintf(stderr, "ledgerctl: cannot open %s: %s\n", dir, err);
        return 1;
    }
    json_t *list = json_array();
    struct store_iter *it = store_iter_prefix(st, STORE_CF_PROJ_CLIENTS, "", 0);
    const uint8_t *key, *val;
    size_t klen, vlen;
    int rc = 0;
    while (store_iter_next(it, &key, &klen, &val, &vlen)) {
        struct client cl;
        if (!client_row_decode(val, vlen, &cl)) {
            fprintf(stderr, "ledgerctl: a proj_clients row does not decode: run ledgerctl verify\n");
            rc = 1;
            continue;
        }
        json_array_append_new(list, client_json(&cl));
    }
    if (store_iter_failed(it))
        rc = 1;
    store_iter_free(it);
    store_close(st);
    print_json(json_pack("{s:o}", "clients", list));
    return rc;
}

static int client_revoke(int argc, char **argv)
{
    bool bad = false;
    const char *dir = tool_flag(argc, argv, "--data", &bad), *id = tool_flag(argc, argv, "--client", &bad);
    if (bad || dir == NULL || id == NULL) {
        client_usage();
        return 2;
    }
    static struct cmd c;
    memset(&c, 0, sizeof c);
    c.type = CMD_CLIENT_REVOKE;
    if (!copy_field(c.u.client_revoke.client_id, sizeof c.u.client_revoke.client_id, id, "--client"))
        return 2;
    struct store *st = open_stopped(dir);
    bool ok = st != NULL && execute(st, &c);
    store_close(st);
    if (ok)
        print_json(json_pack("{s:s,s:s,s:I}", "client_id", c.u.client_revoke.client_id, "state", "revoked", "seq",
                             (json_int_t)c.seq));
    return ok ? 0 : 1;
}

int cmd_client(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "add") == 0)
        return client_add(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "list") == 0)
        return client_list(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "revoke") == 0)
        return client_revoke(argc - 1, argv + 1);
    client_usage();
    return 2;
}

int cmd_keys(int argc, char **argv)
{
    bool bad = false;
    const char *dir = argc >= 1 && strcmp(argv[0], "rotate") == 0 ? tool_flag(argc - 1, argv + 1, "--data", &bad) : NULL;
    if (bad || dir == NULL) {
        fprintf(stderr, "usage: ledgerctl keys rotate --data DIR\n");
        return 2;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "ledgerctl: %s is not a directory\n", dir);
        return 1;
    }
    static struct auth_keyring ring;
    char err[512];
    if (!auth_keyring_rotate(dir, (int64_t)time(NULL), &ring, err, sizeof err)) {
        fprintf(stderr, "ledgerctl: keys rotate: %s\n", err);
        return 1;
    }
    const struct auth_key *k = auth_keyring_signer(&ring);
    print_json(json_pack("{s:s,s:I,s:I}", "kid", k->kid, "created", (json_int_t)k->created_s, "keys", (json_int_t)ring.n));
    OPENSSL_cleanse(&ring, sizeof ring);
    return 0;
}
