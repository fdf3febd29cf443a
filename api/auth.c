/*
 * auth.c: client secrets, credentials, JWT HS256 tokens and the signing-key ring (api/auth.h).
 *
 * Invariants:
 *   - a secret is never stored or logged: only its credential (PBKDF2-HMAC-SHA256, random salt);
 *     comparisons of hashes and signatures are constant-time (CRYPTO_memcmp);
 *   - a token verifies only with alg HS256 and a signature computed with a key of the ring that is
 *     usable now; the header is read only to find that key, the payload only after the signature
 *     matched;
 *   - the ring file is replaced, never edited in place: a reader sees the old or the new file.
 * Buffers that held key material are wiped (OPENSSL_cleanse) before they go out of scope.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/auth.h"

#define HEADER_JSON_MAX 256
#define PAYLOAD_JSON_MAX 512

/* ---- ids, secrets, credentials ---------------------------------------------------------------- */

static bool random_hex(size_t nbytes, char *out)
{
    uint8_t raw[32];
    LEDGER_ASSERT(nbytes <= sizeof raw);
    if (RAND_bytes(raw, (int)nbytes) != 1)
        return false;
    ledger_hex(raw, nbytes, out);
    return true;
}

bool auth_client_id_new(char out[AUTH_CLIENT_ID_LEN + 1])
{
    /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): random_hex writes the rest and the NUL */
    memcpy(out, "cli_", 4);
    return random_hex((AUTH_CLIENT_ID_LEN - 4) / 2, out + 4);
}

bool auth_secret_new(char out[AUTH_SECRET_LEN + 1])
{
    uint8_t raw[AUTH_SECRET_BYTES];
    size_t len = 0;
    bool ok = RAND_bytes(raw, sizeof raw) == 1 && auth_b64url_encode(raw, sizeof raw, out, AUTH_SECRET_LEN + 1, &len);
    OPENSSL_cleanse(raw, sizeof raw);
    return ok && len == AUTH_SECRET_LEN;
}

static bool pbkdf2(const char *secret, size_t len, const uint8_t *salt, uint32_t iterations,
                   uint8_t out[AUTH_HASH_BYTES])
{
    return PKCS5_PBKDF2_HMAC(secret, (int)len, salt, AUTH_SALT_BYTES, (int)iterations, EVP_sha256(),
                             AUTH_HASH_BYTES, out) == 1;
}

bool auth_credential_new(const char *secret, size_t len, uint32_t iterations, uint8_t out[AUTH_CREDENTIAL_BYTES])
{
    if (len == 0 || len > AUTH_SECRET_MAX || iterations == 0 || iterations > AUTH_PBKDF2_ITERATIONS_MAX)
        return false;
    out[0] = AUTH_CREDENTIAL_VERSION;
    for (int i = 0; i < 4; i++)
        out[1 + i] = (uint8_t)(iterations >> (24 - 8 * i));
    uint8_t *salt = out + 5;
    if (RAND_bytes(salt, AUTH_SALT_BYTES) != 1)
        return false;
    return pbkdf2(secret, len, salt, iterations, out + 5 + AUTH_SALT_BYTES);
}

bool auth_credential_verify(const char *secret, size_t len, const void *cred, size_t cred_len)
{
    const uint8_t *c = cred;
    if (cred_len != AUTH_CREDENTIAL_BYTES || c[0] != AUTH_CREDENTIAL_VERSION || len == 0 || len > AUTH_SECRET_MAX)
        return false;
    uint32_t iterations = (uint32_t)c[1] << 24 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 8 | c[4];
    if (iterations == 0 || iterations > AUTH_PBKDF2_ITERATIONS_MAX)
        return false;
    uint8_t hash[AUTH_HASH_BYTES];
    bool ok = pbkdf2(secret, len, c + 5, iterations, hash) &&
              CRYPTO_memcmp(hash, c + 5 + AUTH_SALT_BYTES, AUTH_HASH_BYTES) == 0;
    OPENSSL_cleanse(hash, sizeof hash);
    return ok;
}

/* ---- base64url -------------------------------------------------------------------------------- */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool auth_b64url_encode(const void *in, size_t n, char *out, size_t cap, size_t *out_len)
{
    const uint8_t *p = in;
    size_t need = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
    if (need >= cap)
        return false;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        size_t chars = n - i >= 3 ? 4 : n - i + 1;
        for (size_t k = 0; k < chars; k++)
            out[o++] = b64_alphabet[(v >> (18 - 6 * k)) & 63];
    }
    out[o] = '\0';
    LEDGER_ASSERT(o == need);
    *out_len = o;
    return true;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

bool auth_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (n % 4 == 1 || need > cap)
        return false;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(in[i]);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* the unused low bits of the last character must be zero */
        return false;
    LEDGER_ASSERT(o == need);
    *out_len = o;
    return true;
}

/* ---- the key ring ------------------------------------------------------------------------------ */

static bool kid_valid(const char *kid, size_t n)
{
    if (n == 0 || n > AUTH_KID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = kid[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return true;
}

static bool hex_decode(const char *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = -1, lo = -1;
        for (int k = 0; k < 2; k++) {
            char c = in[2 * i + (size_t)k];
            int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            *(k == 0 ? &hi : &lo) = v;
        }
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* Parses "<kid> <64 hex> <created>" (n bytes, no newline) into k. */
static bool parse_key_line(const char *line, size_t n, struct auth_key *k)
{
    const char *sp1 = memchr(line, ' ', n);
    if (sp1 == NULL || !kid_valid(line, (size_t)(sp1 - line)))
        return false;
    const char *hex = sp1 + 1;
    size_t rest = n - (size_t)(hex - line);
    if (rest < 2 * AUTH_KEY_BYTES + 2 || hex[2 * AUTH_KEY_BYTES] != ' ' || !hex_decode(hex, AUTH_KEY_BYTES, k->secret))
        return false;
    const char *num = hex + 2 * AUTH_KEY_BYTES + 1;
    size_t num_len = n - (size_t)(num - line);
    char text[24];
    if (num_len == 0 || num_len >= sizeof text)
        return false;
    memcpy(text, num, num_len);
    text[num_len] = '\0';
    for (size_t i = 0; i < num_len; i++)
        if (text[i] < '0' || text[i] > '9')
            return false;
    char *end = NULL;
    errno = 0;
    long long created = strtoll(text, &end, 10);
    if (errno != 0 || end != text + num_len)
        return false;
    memset(k->kid, 0, sizeof k->kid);
    memcpy(k->kid, line, (size_t)(sp1 - line));
    k->created_s = created;
    return true;
}

/* Parses the whole file (len bytes) into ring; false with a reason in err. */
static bool parse_ring(const char *buf, size_t len, struct auth_keyring *ring, char *err, size_t err_cap)
{
    ring->n = 0;
    size_t pos = 0, line_no = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        line_no++;
        if (ring->n == AUTH_KEYS_MAX) {
            snprintf(err, err_cap, "%s: more than %d keys", AUTH_KEYS_FILE, AUTH_KEYS_MAX);
            return false;
        }
        struct auth_key *k = &ring->keys[ring->n];
        if (!parse_key_line(buf + pos, n, k)) {
            snprintf(err, err_cap, "%s: line %zu is not '<kid> <64 hex> <created unix seconds>'", AUTH_KEYS_FILE,
                     line_no);
            return false;
        }
        for (size_t i = 0; i < ring->n; i++) {
            if (strcmp(ring->keys[i].kid, k->kid) == 0 || ring->keys[i].created_s > k->created_s) {
                snprintf(err, err_cap, "%s: line %zu repeats a kid or is older than the line before",
                         AUTH_KEYS_FILE, line_no);
                return false;
            }
        }
        ring->n++;
        pos += n + (nl != NULL);
    }
    if (ring->n == 0) {
        snprintf(err, err_cap, "%s: no key", AUTH_KEYS_FILE);
        return false;
    }
    return true;
}

static void ring_path(const char *dir, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s%s", dir, AUTH_KEYS_FILE, suffix);
}

/* Reads the ring file; *missing set (and false returned) when it does not exist. */
static bool read_ring(const char *dir, struct auth_keyring *ring, bool *missing, char *err, size_t err_cap)
{
    char path[4096];
    ring_path(dir, "", path, sizeof path);
    *missing = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        *missing = errno == ENOENT;
        snprintf(err, err_cap, "%s: %s", path, strerror(errno));
        return false;
    }
    struct stat sb;
    char *buf = NULL;
    bool ok = false;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > AUTH_KEYS_FILE_BYTES_MAX) {
        snprintf(err, err_cap, "%s: not a regular file of at most %d bytes", path, AUTH_KEYS_FILE_BYTES_MAX);
        goto out_close;
    }
    if ((sb.st_mode & 077) != 0) {
        snprintf(err, err_cap, "%s: readable by group or others (mode %03o): chmod 600 it, then rotate the keys",
                 path, (unsigned)(sb.st_mode & 0777));
        goto out_close;
    }
    buf = malloc((size_t)sb.st_size + 1);
    LEDGER_ASSERT(buf != NULL);
    ssize_t got = read(fd, buf, (size_t)sb.st_size);
    if (got != sb.st_size) {
        snprintf(err, err_cap, "%s: short read", path);
        goto out_free;
    }
    ok = parse_ring(buf, (size_t)got, ring, err, err_cap);
out_free:
    OPENSSL_cleanse(buf, (size_t)sb.st_size);
    free(buf);
out_close:
    close(fd);
    return ok;
}

bool auth_keyring_load(const char *dir, struct auth_keyring *ring, char *err, size_t err_cap)
{
    bool missing;
    return read_ring(dir, ring, &missing, err, err_cap);
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Renders ring into text (cap bytes); returns the length. */
static size_t render_ring(const struct auth_keyring *ring, char *text, size_t cap)
{
    size_t len = 0;
    for (size_t i = 0; i < ring->n; i++) {
        char hex[2 * AUTH_KEY_BYTES + 1];
        ledger_hex(ring->keys[i].secret, AUTH_KEY_BYTES, hex);
        int w = snprintf(text + len, cap - len, "%s %s %lld\n", ring->keys[i].kid, hex,
                         (long long)ring->keys[i].created_s);
        OPENSSL_cleanse(hex, sizeof hex);
        LEDGER_ASSERT(w > 0 && (size_t)w < cap - len);
        len += (size_t)w;
    }
    return len;
}

/* Writes ring to <dir>/jwt-keys atomically: temp file 0600, fsync, rename, fsync of dir. */
static bool write_ring(const char *dir, const struct auth_keyring *ring, char *err, size_t err_cap)
{
    char path[4096], tmp[4200], suffix[32];
    ring_path(dir, "", path, sizeof path);
    snprintf(suffix, sizeof suffix, ".tmp.%ld", (long)getpid());
    ring_path(dir, suffix, tmp, sizeof tmp);
    static _Thread_local char text[AUTH_KEYS_MAX * (AUTH_KID_MAX + 2 * AUTH_KEY_BYTES + 24)];
    size_t len = render_ring(ring, text, sizeof text);
    bool ok = false;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, err_cap, "%s: %s", tmp, strerror(errno));
        goto out_wipe;
    }
    ok = write_all(fd, text, len) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        snprintf(err, err_cap, "%s: %s", path, strerror(errno));
        unlink(tmp);
        goto out_wipe;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { /* the rename itself durable */
        ok = fsync(dfd) == 0;
        close(dfd);
    }
    if (!ok)
        snprintf(err, err_cap, "%s: fsync of the directory failed", dir);
out_wipe:
    OPENSSL_cleanse(text, len);
    return ok;
}

/* Keeps the keys that still verify once a key created at now_s follows the newest. */
static void prune_ring(struct auth_keyring *ring, int64_t now_s)
{
    size_t keep = 0;
    for (size_t i = 0; i < ring->n; i++) {
        bool newest = i + 1 == ring->n;
        if (newest || now_s <= ring->keys[i + 1].created_s + AUTH_KEY_GRACE_S)
            ring->keys[keep++] = ring->keys[i];
    }
    OPENSSL_cleanse(&ring->keys[keep], (ring->n - keep) * sizeof ring->keys[0]);
    ring->n = keep;
}

bool auth_keyring_rotate(const char *dir, int64_t now_s, struct auth_keyring *ring, char *err, size_t err_cap)
{
    bool missing = false;
    if (!read_ring(dir, ring, &missing, err, err_cap)) {
        if (!missing)
            return false;
        ring->n = 0;
    }
    prune_ring(ring, now_s);
    if (ring->n == AUTH_KEYS_MAX) {
        snprintf(err, err_cap, "%s: %d keys still in their grace period; rotate later", AUTH_KEYS_FILE, AUTH_KEYS_MAX);
        return false;
    }
    struct auth_key *k = &ring->keys[ring->n];
    memset(k, 0, sizeof *k);
    k->kid[0] = 'k';
    if (!random_hex(6, k->kid + 1) || RAND_bytes(k->secret, AUTH_KEY_BYTES) != 1) {
        snprintf(err, err_cap, "the random source failed");
        return false;
    }
    int64_t last = ring->n > 0 ? ring->keys[ring->n - 1].created_s : now_s;
    k->created_s = now_s > last ? now_s : last; /* creation times never go back */
    ring->n++;
    return write_ring(dir, ring, err, err_cap);
}

bool auth_keyring_open(const char *dir, int64_t now_s, struct auth_keyring *ring, char *err, size_t err_cap)
{
    bool missing = false;
    if (read_ring(dir, ring, &missing, err, err_cap))
        return true;
    return missing && auth_keyring_rotate(dir, now_s, ring, err, err_cap);
}

const struct auth_key *auth_keyring_signer(const struct auth_keyring *ring)
{
    return ring->n > 0 ? &ring->keys[ring->n - 1] : NULL;
}

const struct auth_key *auth_keyring_find(const struct auth_keyring *ring, const char *kid, int64_t now_s)
{
    for (size_t i = 0; i < ring->n; i++) {
        if (strcmp(ring->keys[i].kid, kid) != 0)
            continue;
        if (i + 1 == ring->n || now_s <= ring->keys[i + 1].created_s + AUTH_KEY_GRACE_S)
            return &ring->keys[i];
        return NULL;
    }
    return NULL;
}

/* ---- tokens ------------------------------------------------------------------------------------ */

const char *auth_verdict_name(enum auth_verdict v)
{
    static const char *const names[] = {"ok", "malformed", "alg_refused", "kid_unknown", "signature_bad",
                                        "claims_bad", "expired", "not_yet_valid"};
    return (size_t)v < sizeof names / sizeof names[0] ? names[v] : "unknown";
}

static bool hmac_sha256(const struct auth_key *key, const char *data, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    return HMAC(EVP_sha256(), key->secret, AUTH_KEY_BYTES, (const unsigned char *)data, n, out, &len) != NULL &&
           len == 32;
}

/* Appends base64url(JSON of obj) to out at *pos; false when it does not fit. Consumes obj. */
static bool append_json_part(json_t *obj, char *out, size_t cap, size_t *pos)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    size_t n = 0;
    bool ok = text != NULL && *pos < cap && auth_b64url_encode(text, strlen(text), out + *pos, cap - *pos, &n);
    free(text);
    *pos += n;
    return ok;
}

static json_t *claims_json(const struct auth_claims *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "sub", json_string(c->sub));
    json_object_set_new(o, "role", json_string(client_role_name(c->role)));
    if (c->tp[0] != '\0')
        json_object_set_new(o, "tp", json_string(c->tp));
    json_object_set_new(o, "iat", json_integer(c->iat));
    json_object_set_new(o, "exp", json_integer(c->exp));
    json_object_set_new(o, "jti", json_string(c->jti));
    return o;
}

size_t auth_token_encode(const struct auth_key *key, const struct auth_claims *c, char *out, size_t cap)
{
    enum client_role role;
    if (!access_id_valid(c->sub, LEDGER_CLIENT_ID_MAX) || !client_role_parse(client_role_name(c->role), &role) ||
        (c->tp[0] != '\0' && !access_id_valid(c->tp, LEDGER_THIRD_PARTY_ID_MAX)))
        return 0;
    size_t pos = 0, n = 0;
    json_t *header = json_pack("{s:s,s:s,s:s}", "alg", "HS256", "typ", "JWT", "kid", key->kid);
    if (!append_json_part(header, out, cap, &pos) || pos + 1 >= cap)
        return 0;
    out[pos++] = '.';
    if (!append_json_part(claims_json(c), out, cap, &pos) || pos + 1 >= cap)
        return 0;
    uint8_t sig[32];
    if (!hmac_sha256(key, out, pos, sig))
        return 0;
    out[pos++] = '.';
    if (!auth_b64url_encode(sig, sizeof sig, out + pos, cap - pos, &n))
        return 0;
    return pos + n;
}

size_t auth_token_issue(const struct auth_keyring *ring, const char *client_id, enum client_role role,
                        const char *third_party_id, int64_t now_s, char *out, size_t cap,
                        struct auth_claims *claims)
{
    const struct auth_key *key = auth_keyring_signer(ring);
    struct auth_claims c;
    memset(&c, 0, sizeof c);
    if (key == NULL || strlen(client_id) >= sizeof c.sub ||
        (third_party_id != NULL && strlen(third_party_id) >= sizeof c.tp) || !random_hex(AUTH_JTI_LEN / 2, c.jti))
        return 0;
    memcpy(c.sub, client_id, strlen(client_id));
    c.role = (uint8_t)role;
    if (third_party_id != NULL)
        memcpy(c.tp, third_party_id, strlen(third_party_id));
    c.iat = now_s;
    c.exp = now_s + AUTH_TOKEN_TTL_S;
    memcpy(c.kid, key->kid, sizeof c.kid);
    size_t len = auth_token_encode(key, &c, out, cap);
    if (len > 0 && claims != NULL)
        *claims = c;
    return len;
}

/* Decodes one base64url part holding a JSON object (at most max bytes of JSON). NULL otherwise. */
static json_t *decode_json_part(const char *part, size_t n, size_t max)
{
    uint8_t buf[PAYLOAD_JSON_MAX];
    size_t len = 0;
    LEDGER_ASSERT(max <= sizeof buf);
    if (!auth_b64url_decode(part, n, buf, max, &len))
        return NULL;
    json_error_t e;
    json_t *o = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &e);
    if (o != NULL && !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Copies the string member key of o into out (cap bytes); false when absent, not a string, too long. */
static bool get_string(json_t *o, const char *key, char *out, size_t cap)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) >= cap || strlen(json_string_value(v)) != json_string_length(v))
        return false;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return true;
}

/* The header: alg HS256, typ JWT, a kid; nothing else (crit and friends are not understood). */
static enum auth_verdict check_header(json_t *h, char kid[AUTH_KID_MAX + 1])
{
    char alg[16], typ[8];
    if (h == NULL)
        return AUTH_MALFORMED;
    if (!get_string(h, "alg", alg, sizeof alg) || strcmp(alg, "HS256") != 0)
        return AUTH_ALG_REFUSED;
    if (!get_string(h, "typ", typ, sizeof typ) || strcmp(typ, "JWT") != 0 || json_object_size(h) != 3)
        return AUTH_MALFORMED;
    if (!get_string(h, "kid", kid, AUTH_KID_MAX + 1) || !kid_valid(kid, strlen(kid)))
        return AUTH_KID_UNKNOWN;
    return AUTH_OK;
}

static enum auth_verdict check_claims(json_t *p, int64_t now_s, struct auth_claims *out)
{
    char role_name[16];
    enum client_role role;
    json_t *iat = json_object_get(p, "iat"), *exp = json_object_get(p, "exp");
    if (p == NULL || !get_string(p, "sub", out->sub, sizeof out->sub) || !access_id_valid(out->sub, LEDGER_CLIENT_ID_MAX) ||
        !get_string(p, "role", role_name, sizeof role_name) || !client_role_parse(role_name, &role) ||
        !get_string(p, "jti", out->jti, sizeof out->jti) || out->jti[0] == '\0' || !json_is_integer(iat) ||
        !json_is_integer(exp))
        return AUTH_CLAIMS_BAD;
    out->role = (uint8_t)role;
    bool has_tp = json_object_get(p, "tp") != NULL;
    if (has_tp != (role == ROLE_THIRD_PARTY) ||
        (has_tp && (!get_string(p, "tp", out->tp, sizeof out->tp) || !access_id_valid(out->tp, LEDGER_THIRD_PARTY_ID_MAX))))
        return AUTH_CLAIMS_BAD;
    out->iat = json_integer_value(iat);
    out->exp = json_integer_value(exp);
    if (out->exp <= out->iat || out->exp - out->iat > AUTH_TOKEN_TTL_S)
        return AUTH_CLAIMS_BAD;
    if (out->exp <= now_s)
        return AUTH_EXPIRED;
    if (out->iat > now_s + AUTH_CLOCK_SKEW_S)
        return AUTH_NOT_YET_VALID;
    return AUTH_OK;
}

enum auth_verdict auth_token_verify(const struct auth_keyring *ring, const char *token, size_t len, int64_t now_s,
                                    struct auth_claims *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0 || len > AUTH_TOKEN_MAX || memchr(token, '\0', len) != NULL)
        return AUTH_MALFORMED;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL || dot1 == token ||
        dot2 == dot1 + 1 || dot2 + 1 == token + len)
        return AUTH_MALFORMED;
    json_t *h = decode_json_part(token, (size_t)(dot1 - token), HEADER_JSON_MAX);
    enum auth_verdict v = check_header(h, out->kid);
    json_decref(h);
    if (v != AUTH_OK)
        return v;
    const struct auth_key *key = auth_keyring_find(ring, out->kid, now_s);
    if (key == NULL)
        return AUTH_KID_UNKNOWN;
    uint8_t sig[32], expect[32];
    size_t sig_len = 0;
    const char *sig_text = dot2 + 1;
    if (!auth_b64url_decode(sig_text, len - (size_t)(sig_text - token), sig, sizeof sig, &sig_len) || sig_len != 32 ||
        !hmac_sha256(key, token, (size_t)(dot2 - token), expect) || CRYPTO_memcmp(sig, expect, 32) != 0)
        return AUTH_SIGNATURE_BAD;
    json_t *p = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), PAYLOAD_JSON_MAX);
    v = p ? check_claims(p, now_s, out) : AUTH_MALFORMED;
    json_decref(p);
    return v;
}
