/*
 * fuzz_token_verify.c: libFuzzer target for the bearer token verifier (untrusted client input).
 * Any bytes must be refused or accepted without a crash, a leak or an out-of-bounds read; a token
 * the target itself signed must verify, and any single-byte change to it must not verify as the
 * same claims with a different subject.
 */
#include <string.h>

#include "api/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct auth_keyring ring;

static void ring_init(void)
{
    if (ring.n != 0)
        return;
    ring.n = 1;
    memcpy(ring.keys[0].kid, "kfuzz", 6);
    memset(ring.keys[0].secret, 0x5a, AUTH_KEY_BYTES);
    ring.keys[0].created_s = 1700000000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ring_init();
    struct auth_claims c;
    (void)auth_token_verify(&ring, (const char *)data, size, 1700000100, &c);
    if (size < 10 || size > 64)
        return 0;
    /* a token we sign for a subject made of the input's first bytes must verify to that subject */
    char sub[16] = "cli_";
    for (size_t i = 0; i < 8; i++)
        sub[4 + i] = "abcdef0123456789"[data[i] & 15];
    sub[12] = '\0';
    char token[1024];
    size_t n = auth_token_issue(&ring, sub, ROLE_SUPPORT, "", 1700000100, token, sizeof token, NULL);
    if (n == 0)
        return 0;
    LEDGER_ASSERT(auth_token_verify(&ring, token, n, 1700000100, &c) == AUTH_OK && strcmp(c.sub, sub) == 0);
    size_t at = data[8] % n;
    char flipped = (char)(token[at] ^ (data[9] | 1));
    token[at] = flipped;
    struct auth_claims d;
    if (auth_token_verify(&ring, token, n, 1700000100, &d) == AUTH_OK)
        LEDGER_ASSERT(strcmp(d.sub, sub) == 0 && d.role == c.role);
    return 0;
}
