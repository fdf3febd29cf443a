/*
 * nats_harness.c: runs a real nats-server (JetStream, file store) for integration tests.
 *
 * States: stopped (pid == 0) -> running (start/restart) -> stopped (stop/kill). The port and the
 * store dir survive stop so that restart brings back the same server with the same streams.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/nats_harness.h"

#define CLIENT_TIMEOUT_MS 1000
#define CLIENT_API_WAIT_MS 2000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A port the kernel just handed out for 127.0.0.1 (free at this instant); 0 on failure. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void client_close(struct nats_harness *h)
{
    jsCtx_Destroy(h->js);
    natsConnection_Destroy(h->nc);
    h->js = NULL;
    h->nc = NULL;
}

static void child_exec(const struct nats_harness *h, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(126);
    int fd = open(h->log_path, O_WRONLY | O_CREAT | O_APPEND, 0640);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    char port[16];
    snprintf(port, sizeof port, "%d", h->port);
    char *const argv[] = {(char *)"nats-server", (char *)"-a", (char *)"127.0.0.1", (char *)"-p", port,
                          (char *)"-js", (char *)"-sd", (char *)h->store_dir, NULL};
    execvp("nats-server", argv);
    _exit(127);
}

/* Forks the server on h->port / h->store_dir and waits until it accepts connections. */
static bool spawn(struct nats_harness *h)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "nats_harness: fork: %s\n", strerror(errno));
        return false;
    }
    if (pid == 0)
        child_exec(h, parent);
    h->pid = pid;
    int64_t deadline = mono_ms() + NATS_HARNESS_READY_MS;
    while (mono_ms() < deadline) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "nats_harness: nats-server on port %d exited (status %d); see %s\n", h->port,
                    status, h->log_path);
            h->pid = 0;
            return false;
        }
        if (port_accepts(h->port))
            return true;
        sleep_ms(NATS_HARNESS_POLL_MS);
    }
    fprintf(stderr, "nats_harness: nats-server on port %d not ready after %d ms; see %s\n", h->port,
            NATS_HARNESS_READY_MS, h->log_path);
    nats_harness_kill(h);
    return false;
}

bool nats_harness_start(struct nats_harness *h, const char *tmp_dir)
{
    memset(h, 0, sizeof *h);
    h->port = free_port();
    if (h->port == 0) {
        fprintf(stderr, "nats_harness: no free port: %s\n", strerror(errno));
        return false;
    }
    snprintf(h->url, sizeof h->url, "nats://127.0.0.1:%d", h->port);
    int n1 = snprintf(h->store_dir, sizeof h->store_dir, "%s/nats-%d", tmp_dir, h->port);
    int n2 = snprintf(h->log_path, sizeof h->log_path, "%s/nats-%d.log", tmp_dir, h->port);
    if (n1 < 0 || (size_t)n1 >= sizeof h->store_dir || n2 < 0 || (size_t)n2 >= sizeof h->log_path) {
        fprintf(stderr, "nats_harness: temp dir path too long: %s\n", tmp_dir);
        return false;
    }
    if (mkdir(h->store_dir, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "nats_harness: mkdir %s: %s\n", h->store_dir, strerror(errno));
        return false;
    }
    return spawn(h);
}

static void signal_and_reap(struct nats_harness *h, int sig, int wait_ms)
{
    if (h->pid == 0)
        return;
    client_close(h);
    kill(h->pid, sig);
    int64_t deadline = mono_ms() + wait_ms;
    while (waitpid(h->pid, NULL, WNOHANG) != h->pid) {
        if (mono_ms() >= deadline) {
            kill(h->pid, SIGKILL);
            waitpid(h->pid, NULL, 0);
            break;
        }
        sleep_ms(5);
    }
    h->pid = 0;
}

void nats_harness_stop(struct nats_harness *h)
{
    signal_and_reap(h, SIGTERM, NATS_HARNESS_STOP_MS);
}

void nats_harness_kill(struct nats_harness *h)
{
    signal_and_reap(h, SIGKILL, NATS_HARNESS_STOP_MS);
}

bool nats_harness_restart(struct nats_harness *h)
{
    if (h->pid != 0)
        nats_harness_stop(h);
    return spawn(h);
}

void nats_harness_release(struct nats_harness *h)
{
    nats_harness_stop(h);
    client_close(h);
}

/* ---- stream helpers -------------------------------------------------------------------------- */

static bool client_open(struct nats_harness *h)
{
    if (h->nc != NULL && !natsConnection_IsClosed(h->nc))
        return true;
    client_close(h);
    natsOptions *opts = NULL;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = natsOptions_SetURL(opts, h->url);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(opts, CLIENT_TIMEOUT_MS);
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(opts, false);
    if (s == NATS_OK)
        s = natsConnection_Connect(&h->nc, opts);
    natsOptions_Destroy(opts);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = CLIENT_API_WAIT_MS;
    if (s == NATS_OK)
        s = natsConnection_JetStream(&h->js, h->nc, &jo);
    if (s != NATS_OK)
        client_close(h);
    return s == NATS_OK;
}

bool nats_harness_create_stream(struct nats_harness *h, const char *subject, int64_t duplicates_ms)
{
    if (!client_open(h))
        return false;
    const char *subjects[] = {subject != NULL ? subject : "ledger.events.>"};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = NATS_HARNESS_STREAM;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Duplicates = duplicates_ms * 1000000; /* nanoseconds */
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_AddStream(&si, h->js, &cfg, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    return s == NATS_OK;
}

bool nats_harness_stream_count(struct nats_harness *h, uint64_t *count)
{
    if (!client_open(h))
        return false;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, h->js, NATS_HARNESS_STREAM, NULL, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        *count = 0;
        return true;
    }
    if (s != NATS_OK)
        return false;
    *count = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return true;
}

natsMsg *nats_harness_stream_msg(struct nats_harness *h, uint64_t stream_seq)
{
    if (!client_open(h))
        return NULL;
    natsMsg *msg = NULL;
    jsErrCode jerr = 0;
    if (js_GetMsg(&msg, h->js, NATS_HARNESS_STREAM, stream_seq, NULL, &jerr) != NATS_OK)
        return NULL;
    return msg;
}

bool nats_harness_ledger_seq(struct nats_harness *h, uint64_t stream_seq, uint64_t *ledger_seq)
{
    natsMsg *msg = nats_harness_stream_msg(h, stream_seq);
    if (msg == NULL)
        return false;
    const char *text = NULL;
    bool ok = natsMsgHeader_Get(msg, "Ledger-Seq", &text) == NATS_OK && text[0] >= '0' && text[0] <= '9';
    if (ok) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        ok = errno == 0 && *end == '\0';
        *ledger_seq = (uint64_t)v;
    }
    natsMsg_Destroy(msg);
    return ok;
}

bool nats_harness_wait_count(struct nats_harness *h, uint64_t want, int timeout_ms, uint64_t *seen)
{
    int64_t deadline = mono_ms() + timeout_ms;
    uint64_t count = 0;
    for (;;) {
        uint64_t c = 0;
        if (nats_harness_stream_count(h, &c))
            count = c;
        if (count == want || mono_ms() >= deadline)
            break;
        sleep_ms(NATS_HARNESS_POLL_MS);
    }
    if (seen != NULL)
        *seen = count;
    return count == want;
}
