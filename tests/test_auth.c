/*
 * test_auth.c: api/auth.c, the cryptography of access control: JWT HS256 tokens (sign, verify, and
 * every way a token must be refused), the key ring and its rotation grace period, PBKDF2
 * credentials, base64url.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/auth.h"
#include "tests/harness.h"

#define NOW 1795000000LL

static struct auth_keyring ring;
static char tmp[64];

static void setup(void)
{
    char err[256];
    harness_tmpdir(tmp, sizeof tmp);
    cr_assert(auth_keyring_open(tmp, NOW, &ring, err, sizeof err), "%s", err);
    cr_assert_eq(ring.n, 1);
}

static void teardown(void)
{
    harness_rmdir(tmp);
}

TestSuite(auth, .init = setup, .fini = teardown, .timeout = 60);

static size_t issue(char *out, size_t cap)
{
    return auth_token_issue(&ring, "cli_0123456789abcdef01234567", ROLE_ADMIN, NULL, NOW, out, cap, NULL);
}

static enum auth_verdict verify_at(const char *tok, int64_t now)
{
    struct auth_claims c;
    return auth_token_verify(&ring, tok, strlen(tok), now, &c);
}

/* Builds header.payload.signature by hand from JSON texts, signed with key (NULL: signature "x"). */
static void forge(const char *header, const char *payload, const struct auth_key *key, const char *alg_md,
                  char *out, size_t cap)
{
    size_t n1 = 0, n2 = 0, n3 = 0;
    cr_assert(auth_b64url_encode(header, strlen(header), out, cap, &n1));
    out[n1] = '.';
    cr_assert(auth_b64url_encode(payload, strlen(payload), out + n1 + 1, cap - n1 - 1, &n2));
    size_t signed_len = n1 + 1 + n2;
    out[signed_len] = '.';
    if (key == NULL) {
        snprintf(out + signed_len + 1, cap - signed_len - 1, "%s", alg_md ? alg_md : "");
        return;
    }
    uint8_t mac[64];
    unsigned int mac_len = 0;
    const EVP_MD *md = alg_md && strcmp(alg_md, "sha512") == 0 ? EVP_sha512() : EVP_sha256();
    HMAC(md, key->secret, AUTH_KEY_BYTES, (const unsigned char *)out, signed_len, mac, &mac_len);
    cr_assert(auth_b64url_encode(mac, mac_len, out + signed_len + 1, cap - signed_len - 1, &n3));
}

static void payload_json(char *out, size_t cap, long long iat, long long exp)
{
    snprintf(out, cap, "{\"sub\":\"cli_a\",\"role\":\"support\",\"iat\":%lld,\"exp\":%lld,\"jti\":\"j1\"}", iat, exp);
}

/* A token issued now verifies and gives back exactly the claims that were signed. */
Test(auth, round_trip)
{
    char tok[AUTH_TOKEN_MAX + 1];
    struct auth_claims signed_c, got;
    size_t len = auth_token_issue(&ring, "cli_0123456789abcdef01234567", ROLE_THIRD_PARTY, "acme", NOW, tok,
                                  sizeof tok, &signed_c);
    cr_assert(len > 0 && len == strlen(tok));
    cr_assert_eq(auth_token_verify(&ring, tok, len, NOW, &got), AUTH_OK);
    cr_assert_str_eq(got.sub, "cli_0123456789abcdef01234567");
    cr_assert_eq(got.role, ROLE_THIRD_PARTY);
    cr_assert_str_eq(got.tp, "acme");
    cr_assert_eq(got.iat, NOW);
    cr_assert_eq(got.exp, NOW + AUTH_TOKEN_TTL_S);
    cr_assert_str_eq(got.jti, signed_c.jti);
    cr_assert_eq(strlen(got.jti), AUTH_JTI_LEN);
    cr_assert_str_eq(got.kid, auth_keyring_signer(&ring)->kid);
    /* the header is exactly alg, typ, kid */
    const char *dot = strchr(tok, '.');
    uint8_t hdr[256];
    size_t hlen;
    cr_assert(auth_b64url_decode(tok, (size_t)(dot - tok), hdr, sizeof hdr, &hlen));
    char expect[128];
    snprintf(expect, sizeof expect, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", got.kid);
    cr_assert(hlen == strlen(expect) && memcmp(hdr, expect, hlen) == 0, "%.*s", (int)hlen, hdr);
}

/* One character changed in the payload or in the signature: refused as a bad signature. */
Test(auth, tampered_payload_and_signature)
{
    char tok[AUTH_TOKEN_MAX + 1];
    size_t len = issue(tok, sizeof tok);
    cr_assert(len > 0);
    char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
    char t1[AUTH_TOKEN_MAX + 1];
    memcpy(t1, tok, len + 1);
    t1[dot1 - tok + 5] = t1[dot1 - tok + 5] == 'A' ? 'B' : 'A';
    cr_assert_eq(verify_at(t1, NOW), AUTH_SIGNATURE_BAD);
    memcpy(t1, tok, len + 1);
    t1[dot2 - tok + 3] = t1[dot2 - tok + 3] == 'A' ? 'B' : 'A';
    cr_assert_eq(verify_at(t1, NOW), AUTH_SIGNATURE_BAD);
    /* a payload swapped in from another valid token (same key) is refused too */
    char other[AUTH_TOKEN_MAX + 1];
    auth_token_issue(&ring, "cli_ffffffffffffffffffffffff", ROLE_ADMIN, NULL, NOW, other, sizeof other, NULL);
    char *o1 = strchr(other, '.'), *o2 = strrchr(other, '.');
    snprintf(t1, sizeof t1, "%.*s%.*s%s", (int)(dot1 - tok), tok, (int)(o2 - o1), o1, dot2);
    cr_assert_eq(verify_at(t1, NOW), AUTH_SIGNATURE_BAD);
}

/* A token signed with a key that is not in the ring (same kid) is refused. */
Test(auth, wrong_key)
{
    struct auth_key stranger = *auth_keyring_signer(&ring);
    memset(stranger.secret, 0x42, sizeof stranger.secret);
    struct auth_claims c = {.sub = "cli_a", .role = ROLE_ADMIN, .iat = NOW, .exp = NOW + 600, .jti = "j"};
    char tok[AUTH_TOKEN_MAX + 1];
    cr_assert(auth_token_encode(&stranger, &c, tok, sizeof tok) > 0);
    cr_assert_eq(verify_at(tok, NOW), AUTH_SIGNATURE_BAD);
    cr_assert(auth_token_encode(auth_keyring_signer(&ring), &c, tok, sizeof tok) > 0);
    cr_assert_eq(verify_at(tok, NOW), AUTH_OK, "the same claims with the ring's key verify");
}

/* alg none (with or without a signature), HS512, RS256, a missing alg: refused before any key. */
Test(auth, alg_refused)
{
    const struct auth_key *k = auth_keyring_signer(&ring);
    char hdr[160], pl[160], tok[AUTH_TOKEN_MAX + 1];
    payload_json(pl, sizeof pl, NOW, NOW + 600);
    static const char *const algs[] = {"none", "None", "HS512", "RS256", "hs256", ""};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
        snprintf(hdr, sizeof hdr, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", algs[i], k->kid);
        forge(hdr, pl, NULL, "", tok, sizeof tok);
        cr_assert_eq(verify_at(tok, NOW), AUTH_MALFORMED, "%s: empty signature", algs[i]);
        forge(hdr, pl, k, strcmp(algs[i], "HS512") == 0 ? "sha512" : "sha256", tok, sizeof tok);
        cr_assert_eq(verify_at(tok, NOW), AUTH_ALG_REFUSED, "alg %s", algs[i]);
    }
    snprintf(hdr, sizeof hdr, "{\"typ\":\"JWT\",\"kid\":\"%s\"}", k->kid);
    forge(hdr, pl, k, "sha256", tok, sizeof tok);
    cr_assert_eq(verify_at(tok, NOW), AUTH_ALG_REFUSED, "no alg");
    /* the same forge with HS256 verifies: the refusals above are about alg alone */
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", k->kid);
    forge(hdr, pl, k, "sha256", tok, sizeof tok);
    cr_assert_eq(verify_at(tok, NOW), AUTH_OK);
}

/* Not three non-empty parts, bad base64url, non-JSON, typ other than JWT, extra header members. */
Test(auth, malformed)
{
    char tok[AUTH_TOKEN_MAX + 1], bad[AUTH_TOKEN_MAX + 8];
    size_t len = issue(tok, sizeof tok);
    char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
    cr_assert_eq(verify_at("", NOW), AUTH_MALFORMED);
    cr_assert_eq(verify_at("abc", NOW), AUTH_MALFORMED);
    snprintf(bad, sizeof bad, "%.*s", (int)(dot2 - tok), tok); /* two parts */
    cr_assert_eq(verify_at(bad, NOW), AUTH_MALFORMED);
    snprintf(bad, sizeof bad, "%.*s.", (int)(dot2 - tok), tok); /* empty signature */
    cr_assert_eq(verify_at(bad, NOW), AUTH_MALFORMED);
    snprintf(bad, sizeof bad, "%s.x", tok); /* four parts */
    cr_assert_eq(verify_at(bad, NOW), AUTH_MALFORMED);
    snprintf(bad, sizeof bad, "%s", dot1); /* empty header */
    cr_assert_eq(verify_at(bad, NOW), AUTH_MALFORMED);
    snprintf(bad, sizeof bad, "%.*s.%s", (int)(dot1 - tok), tok, dot2); /* empty payload */
    cr_assert_eq(verify_at(bad, NOW), AUTH_MALFORMED);
    snprintf(bad, sizeof bad, "%s=", tok); /* padding */
    cr_assert_neq(verify_at(bad, NOW), AUTH_OK);
    memcpy(bad, tok, len + 1);
    bad[2] = '+'; /* base64 (not url) alphabet in the header */
    cr_assert_eq(verify_at(bad, NOW), AUTH_MALFORMED);
    cr_assert_eq(auth_token_verify(&ring, tok, len - 1, NOW, &(struct auth_claims){0}), AUTH_SIGNATURE_BAD);
    const struct auth_key *k = auth_keyring_signer(&ring);
    char hdr[200], pl[160];
    payload_json(pl, sizeof pl, NOW, NOW + 600);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"typ\":\"JWS\",\"kid\":\"%s\"}", k->kid);
    forge(hdr, pl, k, "sha256", bad, sizeof bad);
    cr_assert_eq(verify_at(bad, NOW), AUTH_MALFORMED, "typ JWS");
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\",\"crit\":[\"x\"]}", k->kid);
    forge(hdr, pl, k, "sha256", bad, sizeof bad);
    cr_assert_eq(verify_at(bad, NOW), AUTH_MALFORMED, "crit");
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", k->kid);
    forge(hdr, pl, k, "sha256", bad, sizeof bad);
    cr_assert_eq(verify_at(bad, NOW), AUTH_MALFORMED, "duplicate member");
    forge("[1]", pl, k, "sha256", bad, sizeof bad);
    cr_assert_eq(verify_at(bad, NOW), AUTH_MALFORMED, "header not an object");
    char huge[AUTH_TOKEN_MAX + 2];
    memset(huge, 'A', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    cr_assert_eq(verify_at(huge, NOW), AUTH_MALFORMED, "longer than AUTH_TOKEN_MAX");
}

/* exp is exclusive; iat may be at most 60 s ahead; lifetimes over one hour or negative are refused. */
Test(auth, expiry_and_not_before)
{
    char tok[AUTH_TOKEN_MAX + 1];
    issue(tok, sizeof tok);
    cr_assert_eq(verify_at(tok, NOW + AUTH_TOKEN_TTL_S - 1), AUTH_OK);
    cr_assert_eq(verify_at(tok, NOW + AUTH_TOKEN_TTL_S), AUTH_EXPIRED);
    cr_assert_eq(verify_at(tok, NOW + 10 * AUTH_TOKEN_TTL_S), AUTH_EXPIRED);
    cr_assert_eq(verify_at(tok, NOW - AUTH_CLOCK_SKEW_S), AUTH_OK, "iat = now + skew");
    cr_assert_eq(verify_at(tok, NOW - AUTH_CLOCK_SKEW_S - 1), AUTH_NOT_YET_VALID);
    const struct auth_key *k = auth_keyring_signer(&ring);
    struct auth_claims c = {.sub = "cli_a", .role = ROLE_SUPPORT, .iat = NOW, .exp = NOW + AUTH_TOKEN_TTL_S + 1,
                            .jti = "j"};
    auth_token_encode(k, &c, tok, sizeof tok);
    cr_assert_eq(verify_at(tok, NOW), AUTH_CLAIMS_BAD, "lifetime over an hour");
    c.exp = NOW;
    auth_token_encode(k, &c, tok, sizeof tok);
    cr_assert_eq(verify_at(tok, NOW - 10), AUTH_CLAIMS_BAD, "exp = iat");
}

/* Claims: unknown role, tp without role third_party and the reverse, missing sub/jti, string times. */
Test(auth, claims_refused)
{
    const struct auth_key *k = auth_keyring_signer(&ring);
    char hdr[160], tok[AUTH_TOKEN_MAX + 1];
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", k->kid);
    static const char *const bad[] = {
        "{\"sub\":\"cli_a\",\"role\":\"root\",\"iat\":1795000000,\"exp\":1795000600,\"jti\":\"j\"}",
        "{\"sub\":\"cli_a\",\"role\":\"admin\",\"tp\":\"acme\",\"iat\":1795000000,\"exp\":1795000600,\"jti\":\"j\"}",
        "{\"sub\":\"cli_a\",\"role\":\"third_party\",\"iat\":1795000000,\"exp\":1795000600,\"jti\":\"j\"}",
        "{\"role\":\"admin\",\"iat\":1795000000,\"exp\":1795000600,\"jti\":\"j\"}",
        "{\"sub\":\"cli_a\",\"role\":\"admin\",\"iat\":1795000000,\"exp\":1795000600}",
        "{\"sub\":\"cli_a\",\"role\":\"admin\",\"iat\":\"1795000000\",\"exp\":1795000600,\"jti\":\"j\"}",
        "{\"sub\":\"cli a\",\"role\":\"admin\",\"iat\":1795000000,\"exp\":1795000600,\"jti\":\"j\"}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        forge(hdr, bad[i], k, "sha256", tok, sizeof tok);
        enum auth_verdict v = verify_at(tok, NOW);
        cr_assert(v == AUTH_CLAIMS_BAD || v == AUTH_MALFORMED, "%zu: %s", i, auth_verdict_name(v));
    }
    forge(hdr, "{\"sub\":\"cli_a\",\"role\":\"third_party\",\"tp\":\"acme\",\"iat\":1795000000,\"exp\":1795000600,"
               "\"jti\":\"j\"}", k, "sha256", tok, sizeof tok);
    cr_assert_eq(verify_at(tok, NOW), AUTH_OK);
}

/* A kid not in the ring, and a token without a kid, are refused. */
Test(auth, unknown_kid)
{
    const struct auth_key *k = auth_keyring_signer(&ring);
    char hdr[160], pl[160], tok[AUTH_TOKEN_MAX + 1];
    payload_json(pl, sizeof pl, NOW, NOW + 600);
    forge("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"knope\"}", pl, k, "sha256", tok, sizeof tok);
    cr_assert_eq(verify_at(tok, NOW), AUTH_KID_UNKNOWN);
    snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kix\":\"%s\"}", k->kid);
    forge(hdr, pl, k, "sha256", tok, sizeof tok);
    cr_assert_eq(verify_at(tok, NOW), AUTH_KID_UNKNOWN);
}

/* Rotation: the new key signs; a token of the old key verifies until 2 h after the rotation and
 * not after; a second rotation after the grace drops the old key from the file. Reloading the file
 * gives the same ring. */
Test(auth, rotation_grace)
{
    char err[256], old_tok[AUTH_TOKEN_MAX + 1], new_tok[AUTH_TOKEN_MAX + 1];
    issue(old_tok, sizeof old_tok);
    char old_kid[AUTH_KID_MAX + 1];
    snprintf(old_kid, sizeof old_kid, "%s", auth_keyring_signer(&ring)->kid);
    int64_t rot = NOW + 1800;
    cr_assert(auth_keyring_rotate(tmp, rot, &ring, err, sizeof err), "%s", err);
    cr_assert_eq(ring.n, 2);
    cr_assert_str_neq(auth_keyring_signer(&ring)->kid, old_kid);
    auth_token_issue(&ring, "cli_b", ROLE_SUPPORT, NULL, rot, new_tok, sizeof new_tok, NULL);
    struct auth_claims c;
    cr_assert_eq(auth_token_verify(&ring, new_tok, strlen(new_tok), rot, &c), AUTH_OK);
    cr_assert_str_neq(c.kid, old_kid);
    cr_assert_eq(verify_at(old_tok, rot), AUTH_OK, "the old token still verifies after the rotation");
    cr_assert_neq(auth_keyring_find(&ring, old_kid, rot + AUTH_KEY_GRACE_S), NULL);
    cr_assert_eq(auth_keyring_find(&ring, old_kid, rot + AUTH_KEY_GRACE_S + 1), NULL, "grace over");
    /* a token made with the old key but still within its own lifetime: refused after the grace */
    struct auth_claims late = {.sub = "cli_a", .role = ROLE_ADMIN, .iat = rot + AUTH_KEY_GRACE_S,
                               .exp = rot + AUTH_KEY_GRACE_S + 600, .jti = "j"};
    char late_tok[AUTH_TOKEN_MAX + 1];
    auth_token_encode(&ring.keys[0], &late, late_tok, sizeof late_tok);
    cr_assert_eq(verify_at(late_tok, rot + AUTH_KEY_GRACE_S), AUTH_OK);
    cr_assert_eq(verify_at(late_tok, rot + AUTH_KEY_GRACE_S + 1), AUTH_KID_UNKNOWN);
    struct auth_keyring again;
    cr_assert(auth_keyring_load(tmp, &again, err, sizeof err), "%s", err);
    cr_assert_eq(again.n, 2);
    for (size_t i = 0; i < 2; i++)
        cr_assert(strcmp(again.keys[i].kid, ring.keys[i].kid) == 0 && again.keys[i].created_s == ring.keys[i].created_s &&
                      memcmp(again.keys[i].secret, ring.keys[i].secret, AUTH_KEY_BYTES) == 0,
                  "key %zu reloads identical", i);
    cr_assert(auth_keyring_rotate(tmp, rot + AUTH_KEY_GRACE_S + 1, &ring, err, sizeof err), "%s", err);
    cr_assert_eq(ring.n, 2, "the first key is pruned, the second is in its grace period, the third signs");
    cr_assert_eq(auth_keyring_find(&ring, old_kid, rot), NULL);
    struct stat sb;
    char path[128];
    snprintf(path, sizeof path, "%s/%s", tmp, AUTH_KEYS_FILE);
    cr_assert(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
}

/* The ring file: refused when readable by others, malformed, or missing (load; open creates it). */
Test(auth, keyring_file_checks)
{
    char err[256], path[128];
    struct auth_keyring r;
    snprintf(path, sizeof path, "%s/%s", tmp, AUTH_KEYS_FILE);
    cr_assert(chmod(path, 0644) == 0);
    cr_assert_not(auth_keyring_load(tmp, &r, err, sizeof err));
    cr_assert(strstr(err, "chmod 600") != NULL, "%s", err);
    cr_assert(chmod(path, 0600) == 0);
    static const char *const bad[] = {
        "", "k1 00 1\n", "k1 " "0000000000000000000000000000000000000000000000000000000000000000" " x\n",
        "k1 " "000000000000000000000000000000000000000000000000000000000000000g" " 1\n",
        "k1 " "0000000000000000000000000000000000000000000000000000000000000000" " 2\n"
        "k1 " "1111111111111111111111111111111111111111111111111111111111111111" " 3\n",
        "k1 " "0000000000000000000000000000000000000000000000000000000000000000" " 5\n"
        "k2 " "1111111111111111111111111111111111111111111111111111111111111111" " 3\n",
        "k/1 " "0000000000000000000000000000000000000000000000000000000000000000" " 1\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        cr_assert_not(auth_keyring_load(tmp, &r, err, sizeof err), "case %zu", i);
        cr_assert_not(auth_keyring_rotate(tmp, NOW, &r, err, sizeof err), "rotate leaves a bad file: case %zu", i);
    }
    FILE *f = fopen(path, "w");
    fputs("k1 0000000000000000000000000000000000000000000000000000000000000000 5\n", f);
    fclose(f);
    cr_assert(auth_keyring_load(tmp, &r, err, sizeof err), "%s", err);
    cr_assert(r.n == 1 && r.keys[0].created_s == 5 && strcmp(r.keys[0].kid, "k1") == 0);
    cr_assert(unlink(path) == 0);
    cr_assert_not(auth_keyring_load(tmp, &r, err, sizeof err));
    cr_assert(auth_keyring_open(tmp, NOW, &r, err, sizeof err) && r.n == 1, "%s", err);
}

/* PBKDF2 credentials: the right secret verifies, a wrong one (even one byte) does not; the layout
 * is version, iterations BE, salt, hash; two credentials of one secret differ (salt). */
Test(auth, credential_verify)
{
    char secret[AUTH_SECRET_LEN + 1];
    uint8_t cred[AUTH_CREDENTIAL_BYTES], cred2[AUTH_CREDENTIAL_BYTES];
    cr_assert(auth_secret_new(secret) && strlen(secret) == AUTH_SECRET_LEN);
    cr_assert(auth_credential_new(secret, strlen(secret), 1000, cred));
    cr_assert(cred[0] == 1 && cred[1] == 0 && cred[2] == 0 && cred[3] == 0x03 && cred[4] == 0xe8);
    cr_assert(auth_credential_verify(secret, strlen(secret), cred, sizeof cred));
    char wrong[AUTH_SECRET_LEN + 1];
    memcpy(wrong, secret, sizeof wrong);
    wrong[10] ^= 1;
    cr_assert_not(auth_credential_verify(wrong, strlen(wrong), cred, sizeof cred));
    cr_assert_not(auth_credential_verify(secret, strlen(secret) - 1, cred, sizeof cred));
    cr_assert_not(auth_credential_verify("", 0, cred, sizeof cred));
    cr_assert_not(auth_credential_verify(secret, strlen(secret), cred, sizeof cred - 1));
    cr_assert(auth_credential_new(secret, strlen(secret), 1000, cred2));
    cr_assert(memcmp(cred + 5, cred2 + 5, AUTH_SALT_BYTES) != 0, "fresh salt each time");
    cred2[0] = 2;
    cr_assert_not(auth_credential_verify(secret, strlen(secret), cred2, sizeof cred2), "unknown version");
    memcpy(cred2, cred, sizeof cred);
    cred2[1] = 0xff; /* 4 billion iterations: refused, not computed */
    cr_assert_not(auth_credential_verify(secret, strlen(secret), cred2, sizeof cred2));
    cr_assert(auth_credential_new(secret, strlen(secret), AUTH_PBKDF2_ITERATIONS, cred));
    cr_assert(auth_credential_verify(secret, strlen(secret), cred, sizeof cred));
    char id[AUTH_CLIENT_ID_LEN + 1];
    cr_assert(auth_client_id_new(id) && strncmp(id, "cli_", 4) == 0 && strlen(id) == AUTH_CLIENT_ID_LEN);
    cr_assert(access_id_valid(id, LEDGER_CLIENT_ID_MAX));
}

/* base64url: RFC 4648 test vectors without padding, both directions; strict decoding. */
Test(auth, base64url_edges)
{
    static const struct {
        const char *raw, *text;
    } v[] = {{"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"},
             {"foobar", "Zm9vYmFy"}, {"\xfb\xff", "-_8"}, {"\xff\xff\xff", "____"}};
    char text[32];
    uint8_t raw[32];
    size_t n;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        cr_assert(auth_b64url_encode(v[i].raw, strlen(v[i].raw), text, sizeof text, &n));
        cr_assert_str_eq(text, v[i].text);
        cr_assert(auth_b64url_decode(v[i].text, strlen(v[i].text), raw, sizeof raw, &n));
        cr_assert(n == strlen(v[i].raw) && memcmp(raw, v[i].raw, n) == 0);
    }
    cr_assert_not(auth_b64url_decode("Zg==", 4, raw, sizeof raw, &n), "padding");
    cr_assert_not(auth_b64url_decode("Z", 1, raw, sizeof raw, &n), "4k+1 characters");
    cr_assert_not(auth_b64url_decode("Zh", 2, raw, sizeof raw, &n), "non-zero unused bits");
    cr_assert_not(auth_b64url_decode("Zm+v", 4, raw, sizeof raw, &n), "+ is not base64url");
    cr_assert_not(auth_b64url_decode("Zm/v", 4, raw, sizeof raw, &n), "/ is not base64url");
    cr_assert_not(auth_b64url_decode("Zm9 ", 4, raw, sizeof raw, &n), "space");
    cr_assert_not(auth_b64url_decode("Zm9vYmFy", 8, raw, 5, &n), "does not fit");
    cr_assert_not(auth_b64url_encode("foo", 3, text, 4, &n), "no room for the NUL");
    cr_assert(auth_b64url_encode("foo", 3, text, 5, &n) && n == 4);
}
