/*
 * harness.c: see harness.h.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void harness_tmpdir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/ledger-test-XXXXXX");
    cr_assert(mkdtemp(out) != NULL, "mkdtemp: %s", strerror(errno));
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void harness_rmdir(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static void print_log(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        fprintf(stderr, "  ledgerd log: %s", line);
    if (f)
        fclose(f);
}

bool ledgerd_start(struct ledgerd *d, const char *data, const char *nats)
{
    return ledgerd_start_args(d, data, nats, NULL);
}

/* The admin client of a data dir: read from "<data>.admin", or created (stopped ledger) and kept. */
static bool admin_credentials(struct ledgerd *d, const char *data, const char *const extra_args[])
{
    const char *at = NULL; /* a ledger on a manual clock: register the admin at its start time */
    for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL && extra_args[i + 1] != NULL; i++)
        if (strcmp(extra_args[i], "--clock-start") == 0)
            at = extra_args[i + 1];
    char path[320];
    snprintf(path, sizeof path, "%s.admin", data);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        bool ok = fscanf(f, "%63s %127s", d->client_id, d->client_secret) == 2;
        fclose(f);
        return ok;
    }
    if (!ledgerctl_client_add(data, "test-admin", "admin", NULL, at, d->client_id, sizeof d->client_id,
                              d->client_secret, sizeof d->client_secret))
        return false;
    f = fopen(path, "w");
    if (f == NULL)
        return false;
    fprintf(f, "%s %s\n", d->client_id, d->client_secret);
    fclose(f);
    return true;
}

bool ledgerctl_client_add(const char *data, const char *name, const char *role, const char *third_party,
                          const char *at, char *id, size_t id_cap, char *secret, size_t secret_cap)
{
    char *out = NULL;
    const char *args[14] = {"client", "add", "--data", data, "--name", name, "--role", role};
    size_t n = 8;
    if (third_party != NULL)
        args[n++] = "--third-party", args[n++] = third_party;
    if (at != NULL)
        args[n++] = "--at", args[n++] = at;
    args[n] = NULL;
    int rc = ledgerctl_run(&out, args);
    json_t *doc = rc == 0 ? json_loads(out, 0, NULL) : NULL;
    const char *i = json_string_value(json_object_get(doc, "client_id"));
    const char *sec = json_string_value(json_object_get(doc, "client_secret"));
    bool ok = i != NULL && sec != NULL && strlen(i) < id_cap && strlen(sec) < secret_cap;
    if (ok) {
        snprintf(id, id_cap, "%s", i);
        snprintf(secret, secret_cap, "%s", sec);
    } else {
        fprintf(stderr, "ledgerctl client add failed (%d): %s\n", rc, out);
    }
    json_decref(doc);
    free(out);
    return ok;
}

bool ledgerd_token(const struct ledgerd *d, const char *client_id, const char *client_secret, char *out, size_t cap)
{
    char body[512];
    snprintf(body, sizeof body, "grant_type=client_credentials&client_id=%s&client_secret=%s", client_id,
             client_secret);
    struct ledgerd anon = *d;
    anon.token[0] = '\0';
    struct http_resp r;
    bool ok = http_do(&anon, "POST", "/oauth/token", body, "Content-Type: application/x-www-form-urlencoded", &r) &&
              r.status == 200 && strlen(resp_str(&r, "access_token")) < cap;
    if (ok)
        snprintf(out, cap, "%s", resp_str(&r, "access_token"));
    http_resp_free(&r);
    return ok;
}

bool ledgerd_start_args(struct ledgerd *d, const char *data, const char *nats, const char *const extra_args[])
{
    const char *bin = getenv("LEDGERD_BIN");
    memset(d, 0, sizeof *d);
    snprintf(d->data, sizeof d->data, "%s", data);
    snprintf(d->nats, sizeof d->nats, "%s", nats);
    snprintf(d->log_path, sizeof d->log_path, "%s.log", data);
    if (!admin_credentials(d, data, extra_args))
        return false;
    for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL && extra_args[i + 1] != NULL; i++)
        if (strcmp(extra_args[i], "--tls-cert") == 0) /* speak https, trusting that certificate */
            snprintf(d->ca_file, sizeof d->ca_file, "%s", extra_args[i + 1]);
    for (int attempt = 0; attempt < 3; attempt++) {
        d->port = free_port();
        snprintf(d->base, sizeof d->base, "%s://127.0.0.1:%d", d->ca_file[0] ? "https" : "http", d->port);
        char listen[64];
        snprintf(listen, sizeof listen, "127.0.0.1:%d", d->port);
        pid_t pid = fork();
        if (pid == 0) {
            int fd = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            dup2(fd, 1);
            dup2(fd, 2);
            const char *argv[32] = {"ledgerd", "--data", data, "--http", listen, "--nats", nats};
            for (int i = 0; extra_args != NULL && extra_args[i] != NULL && i < 24; i++)
                argv[7 + i] = extra_args[i];
            execv(bin ? bin : "bin/ledgerd", (char *const *)argv);
            _exit(127);
        }
        d->pid = pid;
        for (int waited = 0; waited < HARNESS_READY_MS; waited += 20) {
            struct http_resp r;
            bool up = http_do(d, "GET", "/healthz", NULL, NULL, &r) && r.status == 200;
            http_resp_free(&r); /* http_do leaves a body to free even when the connection fails */
            if (up) {
                if (ledgerd_token(d, d->client_id, d->client_secret, d->token, sizeof d->token))
                    return true;
                fprintf(stderr, "harness: no token for the admin client\n");
                break;
            }
            int st;
            if (waitpid(pid, &st, WNOHANG) == pid)
                break; /* died: maybe the port was taken; retry on another */
            sleep_ms(20);
        }
        ledgerd_kill(d);
    }
    print_log(d->log_path);
    return false;
}

int ledgerd_stop(struct ledgerd *d)
{
    if (d->pid <= 0)
        return -1;
    kill(d->pid, SIGTERM);
    int st = 0;
    pid_t pid = d->pid;
    for (int waited = 0; waited < HARNESS_STOP_MS; waited += 10) {
        if (waitpid(pid, &st, WNOHANG) == pid) {
            d->pid = 0;
            int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            if (rc != 0) { /* say why, with the daemon's own account of it */
                fprintf(stderr, "harness: ledgerd pid %d %s %d after SIGTERM\n", (int)pid,
                        WIFEXITED(st) ? "exited with status" : "was killed by signal",
                        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
                print_log(d->log_path);
            }
            return rc;
        }
        sleep_ms(10);
    }
    fprintf(stderr, "harness: ledgerd pid %d did not stop within %d ms of SIGTERM; killed\n", (int)pid,
            HARNESS_STOP_MS);
    print_log(d->log_path);
    ledgerd_kill(d);
    return -1;
}

void ledgerd_kill(struct ledgerd *d)
{
    if (d->pid <= 0)
        return;
    kill(d->pid, SIGKILL);
    waitpid(d->pid, NULL, 0);
    d->pid = 0;
}

struct buf {
    char *p;
    size_t len;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t add = size * n;
    char *p = realloc(b->p, b->len + add + 1);
    if (p == NULL)
        return 0;
    memcpy(p + b->len, data, add);
    b->p = p;
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct http_resp *r = arg;
    size_t len = size * n;
    if (len > 12 && strncasecmp(data, "Ledger-Seq:", 11) == 0) {
        size_t k = 0;
        for (size_t i = 11; i < len && k + 1 < sizeof r->seq_header; i++)
            if (data[i] >= '0' && data[i] <= '9')
                r->seq_header[k++] = data[i];
        r->seq_header[k] = '\0';
    }
    return len;
}

bool http_do(const struct ledgerd *d, const char *method, const char *path, const char *body,
             const char *extra_header, struct http_resp *out)
{
    memset(out, 0, sizeof *out);
    CURL *c = curl_easy_init();
    if (c == NULL)
        return false;
    char url[512];
    snprintf(url, sizeof url, "%s%s", d->base, path);
    struct buf b = {NULL, 0};
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (extra_header != NULL)
        hdrs = curl_slist_append(hdrs, extra_header);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (d->token[0] != '\0' && (extra_header == NULL || strncasecmp(extra_header, "Authorization:", 14) != 0)) {
        char auth[1100];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", d->token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (d->ca_file[0] != '\0')
        curl_easy_setopt(c, CURLOPT_CAINFO, d->ca_file); /* verify the server against the test's own CA */
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    out->body = b.p ? b.p : strdup("");
    out->json = json_loads(out->body, 0, NULL);
    return rc == CURLE_OK;
}

void http_resp_free(struct http_resp *r)
{
    free(r->body);
    json_decref(r->json);
    r->body = NULL;
    r->json = NULL;
}

const char *resp_str(const struct http_resp *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r->json, key));
    return s ? s : "";
}

long long resp_int(const struct http_resp *r, const char *key)
{
    json_t *v = json_object_get(r->json, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

const char *resp_error_code(const struct http_resp *r)
{
    const char *s = json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
    return s ? s : "";
}

const char *resp_error_field(const struct http_resp *r)
{
    const char *s = json_string_value(json_object_get(json_object_get(r->json, "error"), "field"));
    return s ? s : "";
}

bool api_open_account(const struct ledgerd *d, const char *holder, const char *currency, long long overdraft,
                      char *out)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"holder_id\":\"%s\",\"currency\":\"%s\",\"friendly_name\":\"main\",\"overdraft_limit\":%lld}", holder,
             currency, overdraft);
    struct http_resp r;
    bool ok = http_do(d, "POST", "/v1/accounts", body, NULL, &r) && r.status == 201;
    if (ok)
        snprintf(out, 37, "%s", resp_str(&r, "id"));
    http_resp_free(&r);
    return ok && strlen(out) == 36;
}

bool api_active_card(const struct ledgerd *d, const char *account, const char *type, const char *name_on_card,
                     char *out)
{
    char body[256], path[128];
    snprintf(body, sizeof body, "{\"account_id\":\"%s\",\"type\":\"%s\",\"brand\":\"VISA\",\"name_on_card\":\"%s\"}",
             account, type, name_on_card);
    struct http_resp r;
    bool ok = http_do(d, "POST", "/v1/cards", body, NULL, &r) && r.status == 201;
    if (ok)
        snprintf(out, 37, "%s", resp_str(&r, "id"));
    http_resp_free(&r);
    if (!ok || strlen(out) != 36)
        return false;
    snprintf(path, sizeof path, "/v1/cards/%s/activate", out);
    ok = http_do(d, "POST", path, NULL, NULL, &r) && r.status == 200 && strcmp(resp_str(&r, "state"), "active") == 0;
    http_resp_free(&r);
    return ok;
}

bool api_deposit(const struct ledgerd *d, const char *account, long long amount, const char *currency)
{
    char body[256];
    snprintf(body, sizeof body, "{\"account_id\":\"%s\",\"amount\":%lld,\"currency\":\"%s\",\"reference\":\"top-up\"}",
             account, amount, currency);
    struct http_resp r;
    bool ok = http_do(d, "POST", "/v1/deposits", body, NULL, &r) && r.status == 201;
    http_resp_free(&r);
    return ok;
}

long long api_balance(const struct ledgerd *d, const char *account, const char *which)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/accounts/%s/balance", account);
    struct http_resp r;
    long long v = LLONG_MIN;
    if (http_do(d, "GET", path, NULL, NULL, &r) && r.status == 200)
        v = resp_int(&r, which);
    http_resp_free(&r);
    return v;
}

int ledgerctl_run(char **out, const char *const args[])
{
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        const char *bin = getenv("LEDGERCTL_BIN");
        const char *argv[16] = {"ledgerctl"};
        for (int i = 0; args[i] != NULL && i < 14; i++)
            argv[i + 1] = args[i];
        execv(bin ? bin : "bin/ledgerctl", (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    struct buf b = {NULL, 0};
    char chunk[4096];
    ssize_t n;
    while ((n = read(pipefd[0], chunk, sizeof chunk)) > 0)
        on_body(chunk, 1, (size_t)n, &b);
    close(pipefd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    *out = b.p ? b.p : strdup("");
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool ledgerctl_verify_ok(const char *dir)
{
    char *out = NULL;
    const char *args[] = {"verify", "--data", dir, NULL};
    int rc = ledgerctl_run(&out, args);
    if (rc != 0)
        fprintf(stderr, "ledgerctl verify exited %d:\n%s\n", rc, out);
    free(out);
    return rc == 0;
}
