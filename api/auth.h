/*
 * auth.h: the cryptography of access control (docs/SECURITY.md): client ids and secrets, the
 * salted slow hash a secret is stored as, JWT access tokens (RFC 7519, JWS HS256 compact form, RFC
 * 7515) and the signing-key ring kept in the data directory.
 *
 * OpenSSL 3 only (RAND_bytes, PKCS5_PBKDF2_HMAC, HMAC, CRYPTO_memcmp), jansson for the JSON parts.
 * No HTTP here. Every function is pure over its arguments and thread-safe, except the key-ring
 * file functions, which do file I/O (any thread; concurrent rotations of one directory are not
 * coordinated: the last rename wins, each leaves a valid file).
 */
#ifndef LEDGER_API_AUTH_H
#define LEDGER_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "events/events.h"

/* ---- limits ----------------------------------------------------------------------------------- */
#define AUTH_CLIENT_ID_LEN 28          /* "cli_" + 24 lower-case hex (96 random bits) */
#define AUTH_SECRET_BYTES 32           /* random bytes of a secret */
#define AUTH_SECRET_LEN 43             /* its base64url text, no padding */
#define AUTH_SECRET_MAX 256            /* longest secret a verification looks at */
#define AUTH_PBKDF2_ITERATIONS 120000  /* PBKDF2-HMAC-SHA256 iterations of new credentials */
#define AUTH_PBKDF2_ITERATIONS_MAX 10000000 /* a stored credential asking for more is refused */
#define AUTH_SALT_BYTES 16
#define AUTH_HASH_BYTES 32
#define AUTH_CREDENTIAL_VERSION 1
/* version (1) + iterations (4, BE) + salt (16) + hash (32) */
#define AUTH_CREDENTIAL_BYTES (1 + 4 + AUTH_SALT_BYTES + AUTH_HASH_BYTES)

#define AUTH_TOKEN_TTL_S 3600          /* exp = iat + 1 hour */
#define AUTH_CLOCK_SKEW_S 60           /* iat may be at most this far in the future */
#define AUTH_KEY_GRACE_S 7200          /* a replaced key verifies 2 h after its successor's creation */
#define AUTH_KEYS_MAX 16               /* keys in the ring file */
#define AUTH_KEY_BYTES 32              /* HMAC-SHA256 key */
#define AUTH_KID_MAX 32                /* a kid: 1..32 of [A-Za-z0-9_-]; new ones "k" + 12 hex */
#define AUTH_JTI_LEN 32                /* 128 random bits in hex */
#define AUTH_TOKEN_MAX 1024            /* longest token accepted */
#define AUTH_KEYS_FILE "jwt-keys"      /* in the data directory, mode 0600 */
#define AUTH_KEYS_FILE_BYTES_MAX 16384

_Static_assert(AUTH_KEY_GRACE_S >= AUTH_TOKEN_TTL_S + AUTH_CLOCK_SKEW_S,
               "a token signed just before a rotation must verify until it expires");

/* ---- ids, secrets, credentials ---------------------------------------------------------------- */

/* A new client id, "cli_" + 24 hex, into out. false when the random source fails. */
bool auth_client_id_new(char out[AUTH_CLIENT_ID_LEN + 1]);
/* A new secret: 32 random bytes as base64url (43 characters). false when the random source fails. */
bool auth_secret_new(char out[AUTH_SECRET_LEN + 1]);
/* The credential of secret (len bytes, 1..AUTH_SECRET_MAX): version, iterations, a fresh random
 * salt and PBKDF2-HMAC-SHA256(secret, salt, iterations, 32). false when the random source or the
 * KDF fails, or for an empty or over-long secret. Slow on purpose (about 50-100 ms at 120000). */
bool auth_credential_new(const char *secret, size_t len, uint32_t iterations, uint8_t out[AUTH_CREDENTIAL_BYTES]);
/* true when secret matches the stored credential (cred_len bytes); the hashes are compared in
 * constant time. false for a wrong secret, or a credential of another size, version, or with 0 or
 * more than AUTH_PBKDF2_ITERATIONS_MAX iterations. */
bool auth_credential_verify(const char *secret, size_t len, const void *cred, size_t cred_len);

/* ---- base64url (RFC 4648 section 5, no padding, as JWS uses it) ------------------------------ */

/* Encodes n bytes into out (cap bytes, NUL added); *out_len = length. false when cap is too small. */
bool auth_b64url_encode(const void *in, size_t n, char *out, size_t cap, size_t *out_len);
/* Decodes exactly n characters. Strict: only A-Z a-z 0-9 - _, no padding, no length of 4k+1, the
 * unused low bits of the last character zero (one text per byte string). false otherwise or when
 * the result does not fit cap. */
bool auth_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len);

/* ---- the key ring ----------------------------------------------------------------------------
 * File <data dir>/jwt-keys, mode 0600, one key per line, oldest first:
 *     <kid> <64 hex: the 32-byte HMAC key> <created, Unix seconds>\n
 * The newest key signs. A key verifies while it is the newest, or until AUTH_KEY_GRACE_S after the
 * creation of the key that follows it: a rotation logs nobody out at once. */
struct auth_key {
    char kid[AUTH_KID_MAX + 1];
    uint8_t secret[AUTH_KEY_BYTES];
    int64_t created_s;
};

struct auth_keyring {
    struct auth_key keys[AUTH_KEYS_MAX]; /* oldest first */
    size_t n;
};

/* Loads the ring of data directory dir. false, with a one-line reason in err, when the file is
 * missing, unreadable, readable by group or others, larger than AUTH_KEYS_FILE_BYTES_MAX, or any
 * line is malformed (kids must be unique, creation times non-decreasing, 1..AUTH_KEYS_MAX keys). */
bool auth_keyring_load(const char *dir, struct auth_keyring *ring, char *err, size_t err_cap);
/* Adds a new signing key created at now_s: loads the ring (an absent file is an empty ring),
 * drops the keys whose grace period has ended, appends the new key, and replaces the file
 * atomically (temporary file 0600 + fsync + rename + fsync of the directory). *ring = the new
 * ring. false with a reason in err on any I/O error or a malformed existing file (left as is). */
bool auth_keyring_rotate(const char *dir, int64_t now_s, struct auth_keyring *ring, char *err, size_t err_cap);
/* Loads the ring, creating it with one key when the file does not exist (ledgerd at start-up). */
bool auth_keyring_open(const char *dir, int64_t now_s, struct auth_keyring *ring, char *err, size_t err_cap);
/* The signing key (the newest); NULL for an empty ring. */
const struct auth_key *auth_keyring_signer(const struct auth_keyring *ring);
/* The key named kid if it may verify at now_s (newest, or within its grace period); else NULL. */
const struct auth_key *auth_keyring_find(const struct auth_keyring *ring, const char *kid, int64_t now_s);

/* ---- tokens ------------------------------------------------------------------------------------
 * Header {"alg":"HS256","typ":"JWT","kid":...}; payload {"sub": client id, "role": role name,
 * "tp": third party id (role third_party only), "iat", "exp" (Unix seconds), "jti": 32 hex}. */
struct auth_claims {
    char sub[LEDGER_CLIENT_ID_MAX + 1];
    uint8_t role; /* enum client_role */
    char tp[LEDGER_THIRD_PARTY_ID_MAX + 1]; /* "" unless role third_party */
    int64_t iat, exp;
    char jti[AUTH_JTI_LEN + 1];
    char kid[AUTH_KID_MAX + 1]; /* the key that signed it (from the header) */
};

enum auth_verdict {
    AUTH_OK = 0,
    AUTH_MALFORMED,      /* not three base64url parts, not JSON objects, typ not JWT, too long */
    AUTH_ALG_REFUSED,    /* alg other than HS256 ("none", "HS512", "RS256", absent...) */
    AUTH_KID_UNKNOWN,    /* no kid, or a kid not in the ring, or past its grace period */
    AUTH_SIGNATURE_BAD,  /* the HMAC does not match */
    AUTH_CLAIMS_BAD,     /* a claim missing, of the wrong type, an unknown role, tp inconsistent */
    AUTH_EXPIRED,        /* exp <= now */
    AUTH_NOT_YET_VALID,  /* iat > now + AUTH_CLOCK_SKEW_S */
};
/* "ok", "malformed", "alg_refused", ...: for logs. Static. */
const char *auth_verdict_name(enum auth_verdict v);

/* Signs claims c (sub, role, tp, iat, exp, jti as given; c->kid ignored) with key. Returns the
 * token length written into out (cap bytes, NUL added), 0 when it does not fit or c is invalid
 * (sub or tp not an access id, unknown role). For tests and for auth_token_issue. */
size_t auth_token_encode(const struct auth_key *key, const struct auth_claims *c, char *out, size_t cap);
/* Issues a token for a client at now_s with the ring's signer: iat = now_s, exp = now_s +
 * AUTH_TOKEN_TTL_S, a random jti. Returns its length (0: see auth_token_encode, empty ring, or the
 * random source failed); *claims (may be NULL) receives what was signed. */
size_t auth_token_issue(const struct auth_keyring *ring, const char *client_id, enum client_role role,
                        const char *third_party_id, int64_t now_s, char *out, size_t cap,
                        struct auth_claims *claims);
/* Verifies a compact token of len bytes at now_s: exactly three non-empty base64url parts, header
 * alg "HS256" and typ "JWT", kid usable at now_s, the HMAC-SHA256 signature (constant-time
 * compare), then the claims: exp > now_s, iat <= now_s + AUTH_CLOCK_SKEW_S, 0 < exp - iat <=
 * AUTH_TOKEN_TTL_S. AUTH_OK with *out filled, or the first failing check. Revocation is not
 * checked here: the caller looks the client up (projections.h access_store_client). */
enum auth_verdict auth_token_verify(const struct auth_keyring *ring, const char *token, size_t len, int64_t now_s,
                                    struct auth_claims *out);

#endif
