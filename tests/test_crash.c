/*
 * test_crash.c: durability and the NATS replica, end to end: the real ledgerd, a real RocksDB in a
 * temp dir and a real nats-server with JetStream on a free loopback port.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/nats_harness.h"

#define LOAD_THREADS 6
#define ACKED_MAX 200000

static char tmp[64], data[128];
static struct ledgerd d;
static struct nats_harness nh;

static void setup(void)
{
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    memset(&nh, 0, sizeof nh);
    cr_assert(nats_harness_start(&nh, tmp), "nats-server did not start");
    cr_assert(ledgerd_start(&d, data, nh.url), "ledgerd did not start");
}

static void teardown(void)
{
    ledgerd_kill(&d);
    nats_harness_release(&nh);
    harness_rmdir(tmp);
}

TestSuite(crash, .init = setup, .fini = teardown, .timeout = 180);

struct loader {
    int index;
    char accounts[4][37];
    volatile bool *stop;
    char (*acked)[37];
    size_t nacked;
    size_t errors;
};

/* Sends transfers with client-chosen ids until stop or until the server is gone; records every
 * id the server acknowledged with 201. */
static void *load(void *arg)
{
    struct loader *l = arg;
    char body[512];
    for (unsigned i = 0; !*l->stop && l->nacked < ACKED_MAX / LOAD_THREADS; i++) {
        char id[37];
        snprintf(id, sizeof id, "0190b7e2-%04x-7000-8000-%012x", (unsigned)l->index, i);
        snprintf(body, sizeof body,
                 "{\"id\":\"%s\",\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":%u,"
                 "\"currency\":\"EUR\",\"reference\":\"load\"}",
                 id, l->accounts[i % 4], l->accounts[(i + 1) % 4], 1 + i % 50);
        struct http_resp r;
        bool answered = http_do(&d, "POST", "/v1/transfers", body, NULL, &r);
        if (answered && r.status == 201)
            memcpy(l->acked[l->nacked++], id, 37);
        http_resp_free(&r);
        if (!answered && ++l->errors > 3)
            break; /* the server is gone */
    }
    return NULL;
}

static uint64_t committed_seq(void)
{
    struct http_resp r;
    uint64_t seq = 0;
    if (http_do(&d, "GET", "/metrics", NULL, NULL, &r) && r.status == 200) {
        const char *p = strstr(r.body, "\nledger_committed_seq ");
        if (p)
            seq = strtoull(p + 22, NULL, 10);
    }
    http_resp_free(&r);
    return seq;
}

/* The stream holds ledger events 1..head exactly once, in order (waits up to 30 s). */
static void assert_stream_complete(void)
{
    uint64_t head = committed_seq(), seen = 0;
    cr_assert_gt(head, 0);
    cr_assert(nats_harness_wait_count(&nh, head, 30000, &seen), "stream has %llu messages, log has %llu",
              (unsigned long long)seen, (unsigned long long)head);
    for (uint64_t i = 1; i <= head; i++) {
        uint64_t ls = 0;
        cr_assert(nats_harness_ledger_seq(&nh, i, &ls), "message %llu unreadable", (unsigned long long)i);
        cr_assert_eq(ls, i, "stream message %llu carries ledger seq %llu", (unsigned long long)i,
                     (unsigned long long)ls);
    }
}

static void open_funded_accounts(char accounts[4][37])
{
    for (int i = 0; i < 4; i++) {
        char holder[32];
        snprintf(holder, sizeof holder, "crash-%d", i);
        cr_assert(api_open_account(&d, holder, "EUR", 0, accounts[i]));
        cr_assert(api_deposit(&d, accounts[i], 1000000000, "EUR"));
    }
}

/* SIGKILL under load: after restart every acknowledged transfer is there, verify passes and the
 * stream holds every event exactly once. */
Test(crash, sigkill_under_load)
{
    char accounts[4][37];
    open_funded_accounts(accounts);
    volatile bool stop = false;
    static struct loader loaders[LOAD_THREADS];
    pthread_t th[LOAD_THREADS];
    for (int t = 0; t < LOAD_THREADS; t++) {
        loaders[t] = (struct loader){.index = t, .stop = &stop};
        memcpy(loaders[t].accounts, accounts, sizeof accounts);
        loaders[t].acked = calloc(ACKED_MAX / LOAD_THREADS, 37);
        pthread_create(&th[t], NULL, load, &loaders[t]);
    }
    usleep(1500 * 1000);
    ledgerd_kill(&d); /* mid-flight: requests are being decided and fsync'd right now */
    stop = true;
    size_t acked = 0;
    for (int t = 0; t < LOAD_THREADS; t++) {
        pthread_join(th[t], NULL);
        acked += loaders[t].nacked;
    }
    cr_assert_gt(acked, 100, "the load ran (%zu acknowledged)", acked);

    cr_assert(ledgerd_start(&d, data, nh.url), "ledgerd restarts after SIGKILL");
    for (int t = 0; t < LOAD_THREADS; t++) {
        for (size_t i = 0; i < loaders[t].nacked; i++) {
            char path[96];
            snprintf(path, sizeof path, "/v1/transfers/%s", loaders[t].acked[i]);
            struct http_resp r;
            cr_assert(http_do(&d, "GET", path, NULL, NULL, &r));
            cr_assert_eq(r.status, 200, "acknowledged transfer %s lost", loaders[t].acked[i]);
            http_resp_free(&r);
        }
        free(loaders[t].acked);
    }
    cr_assert(ledgerctl_verify_ok(data));
    assert_stream_complete();
}

static void transfers(char accounts[4][37], int n)
{
    char body[512];
    for (int i = 0; i < n; i++) {
        snprintf(body, sizeof body,
                 "{\"debit_account_id\":\"%s\",\"credit_account_id\":\"%s\",\"amount\":1,\"currency\":\"EUR\"}",
                 accounts[i % 4], accounts[(i + 1) % 4]);
        struct http_resp r;
        cr_assert(http_do(&d, "POST", "/v1/transfers", body, NULL, &r));
        cr_assert_eq(r.status, 201, "the ledger keeps serving: %s", r.body);
        http_resp_free(&r);
    }
}

/* NATS down: the ledger keeps serving; back: the stream catches up with no gap and no duplicate.
 * Then a nats-server crash (SIGKILL, its unflushed tail may be lost): reconciliation refills it. */
Test(crash, nats_outage_and_crash)
{
    char accounts[4][37];
    open_funded_accounts(accounts);
    transfers(accounts, 50);
    assert_stream_complete();

    nats_harness_stop(&nh);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    transfers(accounts, 200);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_expect_lt(secs, 20.0, "writes are not held up by the broker (%.2f s for 200)", secs);
    cr_assert(nats_harness_restart(&nh));
    assert_stream_complete();

    transfers(accounts, 100);
    nats_harness_kill(&nh);
    transfers(accounts, 100);
    cr_assert(nats_harness_restart(&nh));
    assert_stream_complete();
    cr_assert(ledgerctl_verify_ok(data));
}

/* A clean SIGTERM while idle exits 0; the restarted ledger resumes publishing where the stream is. */
Test(crash, sigterm_restart_resumes)
{
    char accounts[4][37];
    open_funded_accounts(accounts);
    transfers(accounts, 20);
    cr_assert_eq(ledgerd_stop(&d), 0);
    cr_assert(ledgerd_start(&d, data, nh.url));
    transfers(accounts, 20);
    assert_stream_complete();
}

/* A fatal signal leaves a report in the log before the process ends as the signal would have:
 * the signal's number and a backtrace naming ledgerd's own functions (an abort inside a library
 * that prints nothing is then no longer silent), and the log still restarts cleanly. */
Test(crash, fatal_signal_leaves_a_report)
{
    cr_assert_eq(kill(d.pid, SIGABRT), 0);
    int st = 0;
    cr_assert_eq(waitpid(d.pid, &st, 0), d.pid);
    d.pid = 0;
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "ended by SIGABRT (status %#x)", st);
    FILE *f = fopen(d.log_path, "r");
    cr_assert_not_null(f);
    char *log = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&log, &cap, '\0', f);
    fclose(f);
    cr_assert_gt(n, 0);
    cr_expect(strstr(log, "ledgerd: FATAL: signal 6\n") != NULL, "%s", log);
    cr_expect(strstr(log, "ledgerd(") != NULL, "a backtrace frame of ledgerd itself: %s", log);
    free(log);
    cr_assert(ledgerd_start(&d, data, nh.url), "ledgerd restarts after the abort");
}
