/*
 * chain.c: SHA-256 for the event hash chain, through OpenSSL 3.
 *
 * The digest is fetched once per process (EVP_MD_fetch is twice as fast as the implicit
 * EVP_sha256() path) and each thread keeps its own EVP_MD_CTX, so ledger_sha256_2() is
 * thread-safe without locks; a thread's context is freed when the thread exits. A failure of OpenSSL here is a programmer/environment error: abort.
 */
#include <openssl/evp.h>
#include <pthread.h>

#include "events/events.h"

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha256_ctx_key; /* each thread's EVP_MD_CTX, freed when the thread exits */

static void sha256_ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    LEDGER_ASSERT(sha256_md != NULL);
    LEDGER_ASSERT(pthread_key_create(&sha256_ctx_key, sha256_ctx_free) == 0);
}

void ledger_sha256_2(const void *a, size_t a_len, const void *b, size_t b_len,
                     uint8_t out[LEDGER_HASH_LEN])
{
    pthread_once(&sha256_once, sha256_fetch);
    EVP_MD_CTX *sha256_ctx = pthread_getspecific(sha256_ctx_key);
    if (sha256_ctx == NULL) {
        sha256_ctx = EVP_MD_CTX_new();
        LEDGER_ASSERT(sha256_ctx != NULL && pthread_setspecific(sha256_ctx_key, sha256_ctx) == 0);
    }
    unsigned int len = 0;
    int ok = EVP_DigestInit_ex2(sha256_ctx, sha256_md, NULL);
    ok = ok && (a_len == 0 || EVP_DigestUpdate(sha256_ctx, a, a_len));
    ok = ok && (b_len == 0 || EVP_DigestUpdate(sha256_ctx, b, b_len));
    ok = ok && EVP_DigestFinal_ex(sha256_ctx, out, &len);
    LEDGER_ASSERT(ok && len == LEDGER_HASH_LEN);
}

void ledger_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}
