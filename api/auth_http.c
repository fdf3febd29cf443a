/*
 * auth_http.c: authentication at the HTTP edge (docs/SECURITY.md).
 *
 *   POST /oauth/token   client credentials (RFC 6749 section 4.4) by HTTP Basic or form body ->
 *                       {access_token, token_type, expires_in}; RFC 6749 5.2 errors; from the
 *                       AUTH_FAILURES_FREE-th failure in a row a client id is locked for a period
 *                       that doubles up to AUTH_LOCK_MS_MAX (answers at once, without checking the
 *                       secret, so guessing cannot go faster)
 *   every other route   Authorization: Bearer <token>, verified against the key ring, then the
 *                       client's row is read again (a revocation takes effect at once)
 * The key ring (<data dir>/jwt-keys) is reloaded when the file changes (ledgerctl keys rotate), at
 * most once a second, under a lock; tokens are verified against a consistent ring.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api/auth.h"
#include "api/internal.h"
#include "store/store.h"

#define AUTH_FAILURES_FREE 5
#define AUTH_LOCK_MS_FIRST 1000
#define AUTH_LOCK_MS_MAX 30000
#define AUTH_THROTTLE_SLOTS 1024
#define AUTH_FORM_MAX 1024

static struct {
    pthread_rwlock_t lock;
    struct auth_keyring ring;
    char dir[512];
    int64_t mtime_ns;
    int64_t checked_ms;
    bool configured;
} keys = {.lock = PTHREAD_RWLOCK_INITIALIZER};

static struct {
    pthread_mutex_t lock;
    struct {
        char client_id[LEDGER_CLIENT_ID_MAX + 1];
        unsigned failures;
        int64_t locked_until_ms;
    } slot[AUTH_THROTTLE_SLOTS];
} throttle = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t file_mtime_ns(const char *dir)
{
    char path[600];
    struct stat sb;
    snprintf(path, sizeof path, "%s/jwt-keys", dir);
    return stat(path, &sb) == 0 ? (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec : 0;
}

bool api_auth_configure(const char *data_dir, char *err, size_t err_cap)
{
    pthread_rwlock_wrlock(&keys.lock);
    snprintf(keys.dir, sizeof keys.dir, "%s", data_dir);
    bool ok = auth_keyring_open(data_dir, now_ms() / 1000, &keys.ring, err, err_cap);
    keys.mtime_ns = file_mtime_ns(data_dir);
    keys.configured = ok;
    pthread_rwlock_unlock(&keys.lock);
    return ok;
}

/* Reloads the ring when the file changed (checked at most once a second). A bad file keeps the
 * ring in memory (logged): a botched rotation must not log everybody out. */
static void keys_refresh(void)
{
    int64_t t = now_ms();
    if (t - __atomic_load_n(&keys.checked_ms, __ATOMIC_RELAXED) < 1000)
        return;
    __atomic_store_n(&keys.checked_ms, t, __ATOMIC_RELAXED);
    int64_t m = file_mtime_ns(keys.dir);
    if (m == __atomic_load_n(&keys.mtime_ns, __ATOMIC_RELAXED))
        return;
    struct auth_keyring fresh;
    char err[256];
    if (!auth_keyring_load(keys.dir, &fresh, err, sizeof err)) {
        fprintf(stderr, "ledgerd: auth: keeping the current keys: %s\n", err);
        __atomic_store_n(&keys.mtime_ns, m, __ATOMIC_RELAXED);
        return;
    }
    pthread_rwlock_wrlock(&keys.lock);
    keys.ring = fresh;
    keys.mtime_ns = m;
    pthread_rwlock_unlock(&keys.lock);
    fprintf(stderr, "ledgerd: auth: signing keys reloaded (%zu keys)\n", fresh.n);
}

static void reply_unauthenticated(struct request *r, const char *why)
{
    reply_error(&r->reply, LEDGER_ERR_UNAUTHENTICATED, "Authorization", why);
    r->reply.www_authenticate = "Bearer error=\"invalid_token\"";
}

bool api_authenticate(struct request *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        reply_unauthenticated(r, "a bearer token is required (POST /oauth/token)");
        return false;
    }
    keys_refresh();
    struct auth_claims c;
    pthread_rwlock_rdlock(&keys.lock);
    enum auth_verdict v = keys.configured ? auth_token_verify(&keys.ring, h + 7, strlen(h + 7), now_ms() / 1000, &c)
                                          : AUTH_KID_UNKNOWN;
    pthread_rwlock_unlock(&keys.lock);
    if (v != AUTH_OK) {
        char why[96];
        snprintf(why, sizeof why, "the token is refused: %s", auth_verdict_name(v));
        reply_unauthenticated(r, why);
        return false;
    }
    struct client cl;
    enum ledger_err err = access_store_client(r->srv->store, c.sub, &cl);
    if (err != LEDGER_ERR_OK || cl.revoked || cl.role != c.role) {
        reply_unauthenticated(r, err == LEDGER_ERR_OK ? "the client is revoked" : "the client is unknown");
        return false;
    }
    r->who.authenticated = true;
    memcpy(r->who.client_id, cl.id, sizeof r->who.client_id);
    r->who.role = cl.role;
    memcpy(r->who.third_party_id, cl.third_party_id, sizeof r->who.third_party_id);
    return true;
}

/* ---- POST /oauth/token ---------------------------------------------------------------------------- */

static void oauth_error(struct request *r, int status, const char *error, const char *description)
{
    json_t *doc = json_pack("{s:s, s:s}", "error", error, "error_description", description);
    reply_json(&r->reply, status, doc);
    r->reply.no_store = true;
    if (status == 401)
        r->reply.www_authenticate = "Basic realm=\"ledgerd\"";
}

/* The value of name in an application/x-www-form-urlencoded body, %-decoded into out. */
static bool form_value(const char *body, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    for (const char *p = body; p != NULL && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, nlen) != 0 || p[nlen] != '=')
            continue;
        size_t n = 0;
        for (const char *q = p + nlen + 1; *q && *q != '&'; q++) {
            char ch = *q;
            if (ch == '+') {
                ch = ' ';
            } else if (ch == '%' && q[1] && q[2]) {
                char hex[3] = {q[1], q[2], 0};
                char *end = NULL;
                long v = strtol(hex, &end, 16);
                if (*end != '\0')
                    return false;
                ch = (char)v;
                q += 2;
            }
            if (n + 1 >= cap)
                return false;
            out[n++] = ch;
        }
        out[n] = '\0';
        return true;
    }
    return false;
}

/* Credentials from HTTP Basic (client_id:client_secret, base64) or the form body. */
static bool credentials(struct request *r, char *id, size_t id_cap, char *secret, size_t secret_cap, bool *basic)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    *basic = h != NULL && strncasecmp(h, "Basic ", 6) == 0;
    if (*basic) {
        char *pass = NULL;
        char *user = MHD_basic_auth_get_username_password(r->conn, &pass);
        bool ok = user != NULL && pass != NULL && strlen(user) < id_cap && strlen(pass) < secret_cap;
        if (ok) {
            memcpy(id, user, strlen(user) + 1);
            memcpy(secret, pass, strlen(pass) + 1);
        }
        MHD_free(user);
        MHD_free(pass);
        return ok;
    }
    return r->body != NULL && form_value(r->body, "client_id", id, id_cap) &&
           form_value(r->body, "client_secret", secret, secret_cap);
}

static size_t throttle_slot(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return (size_t)(h % AUTH_THROTTLE_SLOTS);
}

/* true when id may try now; false while locked after repeated failures. */
static bool throttle_allows(const char *id)
{
    pthread_mutex_lock(&throttle.lock);
    size_t s = throttle_slot(id);
    bool ok = strcmp(throttle.slot[s].client_id, id) != 0 || throttle.slot[s].locked_until_ms <= now_ms();
    pthread_mutex_unlock(&throttle.lock);
    return ok;
}

static void throttle_record(const char *id, bool success)
{
    pthread_mutex_lock(&throttle.lock);
    size_t s = throttle_slot(id);
    if (strcmp(throttle.slot[s].client_id, id) != 0) {
        memset(&throttle.slot[s], 0, sizeof throttle.slot[s]);
        snprintf(throttle.slot[s].client_id, sizeof throttle.slot[s].client_id, "%s", id);
    }
    if (success) {
        throttle.slot[s].failures = 0;
        throttle.slot[s].locked_until_ms = 0;
    } else if (++throttle.slot[s].failures >= AUTH_FAILURES_FREE) {
        unsigned extra = throttle.slot[s].failures - AUTH_FAILURES_FREE;
        int64_t lock = extra >= 5 ? AUTH_LOCK_MS_MAX : (int64_t)AUTH_LOCK_MS_FIRST << extra;
        throttle.slot[s].locked_until_ms = now_ms() + (lock > AUTH_LOCK_MS_MAX ? AUTH_LOCK_MS_MAX : lock);
    }
    pthread_mutex_unlock(&throttle.lock);
}

/* Checks the secret against the stored credential of an active client. */
static bool client_valid(struct request *r, const char *id, const char *secret, struct client *cl)
{
    char *cred = NULL;
    size_t clen = 0;
    bool ok = access_store_client(r->srv->store, id, cl) == LEDGER_ERR_OK && !cl->revoked &&
              store_get(r->srv->store, STORE_CF_CREDENTIALS, id, strlen(id), &cred, &clen) == LEDGER_ERR_OK &&
              auth_credential_verify(secret, strlen(secret), cred, clen);
    free(cred);
    return ok;
}

void api_oauth_token(struct request *r)
{
    char id[LEDGER_CLIENT_ID_MAX + 1], secret[AUTH_SECRET_MAX + 1], grant[64];
    bool basic = false;
    if (r->body == NULL || !form_value(r->body, "grant_type", grant, sizeof grant))
        return oauth_error(r, 400, "invalid_request", "grant_type is required (form body)");
    if (strcmp(grant, "client_credentials") != 0)
        return oauth_error(r, 400, "unsupported_grant_type", "only client_credentials is supported");
    if (!credentials(r, id, sizeof id, secret, sizeof secret, &basic))
        return oauth_error(r, basic ? 401 : 400, basic ? "invalid_client" : "invalid_request",
                           "client_id and client_secret are required (HTTP Basic or form body)");
    if (!throttle_allows(id))
        return oauth_error(r, 401, "invalid_client", "too many failed attempts: retry later");
    struct client cl;
    bool ok = client_valid(r, id, secret, &cl);
    throttle_record(id, ok);
    if (!ok)
        return oauth_error(r, 401, "invalid_client", "unknown client, revoked client or wrong secret");
    char token[1024];
    keys_refresh();
    pthread_rwlock_rdlock(&keys.lock);
    size_t n = auth_token_issue(&keys.ring, cl.id, (enum client_role)cl.role, cl.third_party_id, now_ms() / 1000,
                                token, sizeof token, NULL);
    pthread_rwlock_unlock(&keys.lock);
    if (n == 0)
        return oauth_error(r, 500, "server_error", "no signing key");
    reply_json(&r->reply, 200,
               json_pack("{s:s, s:s, s:i}", "access_token", token, "token_type", "Bearer", "expires_in",
                         AUTH_TOKEN_TTL_S));
    r->reply.no_store = true;
}
