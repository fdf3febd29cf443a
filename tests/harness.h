/*
 * harness.h: integration-test helpers: temp directories, the real ledgerd binary as a child
 * process (started, stopped by PID, killed), HTTP through libcurl, ledgerctl runs.
 * Every wait is bounded; nothing here mocks what the product talks to.
 */
#ifndef LEDGER_TESTS_HARNESS_H
#define LEDGER_TESTS_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HARNESS_READY_MS 15000
#define HARNESS_STOP_MS 10000

/* mkdtemp under /tmp into out (cap >= 64); aborts the test on failure. */
void harness_tmpdir(char *out, size_t cap);
/* rm -rf dir (bounded depth, no symlink following). */
void harness_rmdir(const char *dir);

struct ledgerd {
    pid_t pid;
    int port;
    char data[256];
    char nats[128];
    char log_path[320];
    char base[64]; /* "http://127.0.0.1:PORT", or https:// when started with --tls-cert */
    char ca_file[256]; /* the certificate to trust for https (set by ledgerd_start_args) */
    /* Every data directory gets an admin client the first time ledgerd starts on it (ledgerctl
     * client add, credentials kept in "<data>.admin"); http_do sends its bearer token unless the
     * test passes its own Authorization header or clears token. */
    char client_id[64];
    char client_secret[128];
    char token[1024];
};

/* Starts bin/ledgerd (env LEDGERD_BIN) on a free port with --data data --nats nats ("none" ok);
 * waits until /healthz answers. false on failure (the log is printed). */
bool ledgerd_start(struct ledgerd *d, const char *data, const char *nats);
/* The same with more command-line arguments (NULL-terminated, at most 24; NULL for none), e.g.
 * {"--clock", "manual", "--clock-start", "2026-11-20T10:00:00Z", NULL}. */
bool ledgerd_start_args(struct ledgerd *d, const char *data, const char *nats, const char *const extra_args[]);
/* SIGTERM and wait (bounded); returns the exit status (or -1). */
int ledgerd_stop(struct ledgerd *d);
/* SIGKILL and reap. */
void ledgerd_kill(struct ledgerd *d);

struct http_resp {
    long status;
    char *body;  /* malloc'd, NUL-terminated */
    json_t *json; /* parsed body or NULL */
    char seq_header[32];
};
/* A token for client_id/client_secret from POST /oauth/token into out (cap bytes); false on failure. */
bool ledgerd_token(const struct ledgerd *d, const char *client_id, const char *client_secret, char *out, size_t cap);
/* Adds a client with ledgerctl on a STOPPED ledger's data dir (at: the business time for a ledger
 * on a manual clock, or NULL); id and secret out. */
bool ledgerctl_client_add(const char *data, const char *name, const char *role, const char *third_party,
                          const char *at, char *id, size_t id_cap, char *secret, size_t secret_cap);

/* method "GET"/"POST"; body may be NULL; extra_header may be NULL ("Idempotency-Key: k"). */
bool http_do(const struct ledgerd *d, const char *method, const char *path, const char *body,
             const char *extra_header, struct http_resp *out);
void http_resp_free(struct http_resp *r);
/* Convenience: the string / integer at a top-level key of the response JSON ("" / -1 when absent). */
const char *resp_str(const struct http_resp *r, const char *key);
long long resp_int(const struct http_resp *r, const char *key);
/* The error code of an error response ("" when none). */
const char *resp_error_code(const struct http_resp *r);
const char *resp_error_field(const struct http_resp *r);

/* Opens a customer EUR account for holder and returns its id into out (37 bytes). */
bool api_open_account(const struct ledgerd *d, const char *holder, const char *currency, long long overdraft,
                      char *out);
/* Deposits amount into account; true on 201. */
bool api_deposit(const struct ledgerd *d, const char *account, long long amount, const char *currency);
/* Issues a VISA card of type ("virtual"|"physical") with name_on_card on account and activates
 * it; its id into out (37 bytes). true when both answered (201, then 200 with state "active"). */
bool api_active_card(const struct ledgerd *d, const char *account, const char *type, const char *name_on_card,
                     char *out);
/* Posted balance of account (LLONG_MIN on error). */
long long api_balance(const struct ledgerd *d, const char *account, const char *which);

/* Runs ledgerctl (env LEDGERCTL_BIN) with args; captures stdout+stderr into out (malloc'd);
 * returns the exit status. */
int ledgerctl_run(char **out, const char *const args[]);
/* ledgerctl verify --data dir exits 0 (prints its output on failure). */
bool ledgerctl_verify_ok(const char *dir);

#endif
