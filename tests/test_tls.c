/*
 * test_tls.c: ledgerd --tls-cert/--tls-key serves HTTPS (and only HTTPS), with a certificate made
 * for the test by the openssl command-line tool; bad TLS configuration stops the start-up.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"

static char tmp[64], cert[128], key[128];

static void make_cert(void)
{
    snprintf(cert, sizeof cert, "%s/cert.pem", tmp);
    snprintf(key, sizeof key, "%s/key.pem", tmp);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1", key, cert);
    cr_assert_eq(system(cmd), 0, "openssl made a test certificate");
}

/* Over HTTPS the API works (a write and a read, the certificate verified); plain HTTP to the same
 * port gets no HTTP answer. */
Test(tls, https_only, .timeout = 60)
{
    harness_tmpdir(tmp, sizeof tmp);
    make_cert();
    char data[160];
    snprintf(data, sizeof data, "%s/data", tmp);
    const char *const args[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    struct ledgerd d;
    cr_assert(ledgerd_start_args(&d, data, "none", args), "ledgerd starts with TLS");
    cr_assert(strncmp(d.base, "https://", 8) == 0);
    char id[37];
    cr_assert(api_open_account(&d, "tls-holder", "EUR", 0, id), "a write over HTTPS");
    cr_expect_eq(api_balance(&d, id, "posted"), 0, "a read over HTTPS");
    struct ledgerd plain = d;
    snprintf(plain.base, sizeof plain.base, "http://127.0.0.1:%d", d.port);
    plain.ca_file[0] = '\0';
    struct http_resp r;
    bool answered = http_do(&plain, "GET", "/healthz", NULL, NULL, &r);
    cr_expect(!answered || r.status != 200, "no plain HTTP on the TLS port");
    http_resp_free(&r);
    cr_expect_eq(ledgerd_stop(&d), 0);
    harness_rmdir(tmp);
}

/* A missing key file, or --tls-cert without --tls-key, stops the start-up with a message. */
Test(tls, bad_configuration_refused, .timeout = 60)
{
    harness_tmpdir(tmp, sizeof tmp);
    make_cert();
    char data[160], missing[160];
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(missing, sizeof missing, "%s/nope.pem", tmp);
    struct ledgerd d;
    const char *const no_key[] = {"--tls-cert", cert, "--tls-key", missing, NULL};
    cr_expect_not(ledgerd_start_args(&d, data, "none", no_key));
    const char *const half[] = {"--tls-cert", cert, NULL};
    cr_expect_not(ledgerd_start_args(&d, data, "none", half));
    harness_rmdir(tmp);
}
