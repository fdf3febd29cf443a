/*
 * server.c: libmicrohttpd glue: routing, body accumulation, suspend/resume around the sequencer,
 * health and metrics.
 *
 * A request's life (struct request, one per HTTP request):
 *   call 1            allocate the request, route it (405/404 decided here, answered later)
 *   calls 2..k        append upload data (over LEDGER_HTTP_BODY_BYTES_MAX: drop it, answer 413)
 *   final call        reads: answer at once; writes: build the command, suspend the connection,
 *                     submit; a full queue resumes at once with 503
 *   done() (sequencer thread, after fsync): mark completed, resume the connection
 *   next call         render the result and queue the response
 * The response is always queued on a later call than the first (queuing on the first call makes
 * libmicrohttpd close the connection).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/internal.h"
#include "store/outbox.h"
#include "store/store.h"

static bool segment_id(const char *seg, size_t len, struct ledger_id *out)
{
    return ledger_id_parse(seg, len, out);
}

#define PATH_SEGMENTS_MAX 5 /* /v1/accounts/ID/statements/ID */

/* Splits "/v1/accounts/ID/block" into at most PATH_SEGMENTS_MAX segments. */
static size_t split_path(const char *url, const char *seg[PATH_SEGMENTS_MAX], size_t len[PATH_SEGMENTS_MAX])
{
    size_t n = 0;
    const char *p = url;
    while (*p == '/' && n < PATH_SEGMENTS_MAX) {
        p++;
        const char *end = strchr(p, '/');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l == 0)
            break;
        seg[n] = p;
        len[n] = l;
        n++;
        p += l;
    }
    return *p == '\0' ? n : PATH_SEGMENTS_MAX + 1; /* more segments than any route */
}

static bool seg_is(const char *seg, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(seg, word, len) == 0;
}

/* A processor's authorization id as a path segment, copied into r->auth_id. */
static bool segment_auth_id(struct request *r, const char *seg, size_t len)
{
    if (!card_proc_id_valid(seg, len))
        return false;
    memcpy(r->auth_id, seg, len);
    r->auth_id[len] = '\0';
    return true;
}

/* The card routes (api/cards.c, docs/CARDS.md); s[0] is "v1". */
static enum route route_match_cards(struct request *r, const char *s[4], const size_t l[4], size_t n, bool is_get,
                                    bool *method_ok)
{
    bool post = r->is_post && !r->is_put;
#define WANT(cond, rt) return (*method_ok = (cond)), (rt)
    if (seg_is(s[1], l[1], "cards")) {
        if (n == 2) WANT(post, ROUTE_CARDS_ISSUE);
        if (!segment_id(s[2], l[2], &r->path_id))
            return ROUTE_NONE;
        if (n == 3) WANT(is_get, ROUTE_CARD_GET);
        if (n == 4 && seg_is(s[3], l[3], "activate")) WANT(post, ROUTE_CARD_ACTIVATE);
        if (n == 4 && seg_is(s[3], l[3], "block")) WANT(post, ROUTE_CARD_BLOCK);
        if (n == 4 && seg_is(s[3], l[3], "unblock")) WANT(post, ROUTE_CARD_UNBLOCK);
        if (n == 4 && seg_is(s[3], l[3], "replace")) WANT(post, ROUTE_CARD_REPLACE);
        if (n == 4 && seg_is(s[3], l[3], "destroy")) WANT(post, ROUTE_CARD_DESTROY);
        if (n == 4 && seg_is(s[3], l[3], "limits")) WANT(r->is_put, ROUTE_CARD_LIMITS);
        if (n == 4 && seg_is(s[3], l[3], "authorizations")) WANT(is_get, ROUTE_CARD_AUTHS_LIST);
        return ROUTE_NONE;
    }
    if (seg_is(s[1], l[1], "card-authorizations")) {
        if (n == 2) WANT(post, ROUTE_CARD_AUTHORIZE);
        if (!segment_auth_id(r, s[2], l[2]))
            return ROUTE_NONE;
        if (n == 3) WANT(is_get, ROUTE_CARD_AUTH_GET);
        if (n == 4 && seg_is(s[3], l[3], "capture")) WANT(post, ROUTE_CARD_CAPTURE);
        if (n == 4 && seg_is(s[3], l[3], "reverse")) WANT(post, ROUTE_CARD_REVERSE);
        return ROUTE_NONE;
    }
    if (seg_is(s[1], l[1], "card-refunds") && n == 2) WANT(post, ROUTE_CARD_REFUND);
    if (seg_is(s[1], l[1], "card-advices") && n == 2) WANT(post, ROUTE_CARD_ADVICE);
#undef WANT
    return ROUTE_NONE;
}

/* The read-side routes (api/reads.c) under /v1/accounts/{id} (s[2] parsed into r->path_id) and
 * elsewhere; ROUTE_NONE when the path is not one of them. */
static enum route route_match_reads(struct request *r, const char *s[PATH_SEGMENTS_MAX],
                                    const size_t l[PATH_SEGMENTS_MAX], size_t n, bool is_get, bool *method_ok)
{
    bool post = r->is_post && !r->is_put;
#define WANT(cond, rt) return (*method_ok = (cond)), (rt)
    if (seg_is(s[1], l[1], "accounts") && n >= 4) {
        if (n == 4 && seg_is(s[3], l[3], "operations")) WANT(is_get, ROUTE_ACCOUNT_OPERATIONS);
        if (n == 4 && seg_is(s[3], l[3], "statements")) WANT(is_get, ROUTE_ACCOUNT_STATEMENTS);
        if (n == 5 && seg_is(s[3], l[3], "statements") && segment_id(s[4], l[4], &r->path_id2))
            WANT(is_get, ROUTE_ACCOUNT_STATEMENT_GET);
        return ROUTE_NONE;
    }
    if (n == 3 && seg_is(s[1], l[1], "statements") && segment_id(s[2], l[2], &r->path_id))
        WANT(is_get, ROUTE_STATEMENT_GET);
    if (n == 3 && seg_is(s[1], l[1], "admin") && seg_is(s[2], l[2], "clock")) WANT(is_get || post, ROUTE_ADMIN_CLOCK);
#undef WANT
    return ROUTE_NONE;
}

/* A client or third-party id from the path (1..64 of [A-Za-z0-9._-]) into r->path_text. */
static bool segment_text(struct request *r, const char *seg, size_t len)
{
    if (len == 0 || len >= sizeof r->path_text)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = seg[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    memcpy(r->path_text, seg, len);
    r->path_text[len] = '\0';
    return true;
}

/* The access-control routes under /v1 (api/access_routes.c); ROUTE_NONE when not one of them. */
static enum route route_match_access(struct request *r, const char *s[PATH_SEGMENTS_MAX],
                                     const size_t l[PATH_SEGMENTS_MAX], size_t n, bool is_get, bool *method_ok)
{
    bool post = r->is_post && !r->is_put;
#define WANT(cond, rt) return (*method_ok = (cond)), (rt)
    if (seg_is(s[1], l[1], "clients")) {
        if (n == 2) {
            *method_ok = post || is_get;
            return post ? ROUTE_CLIENTS_CREATE : ROUTE_CLIENTS_LIST;
        }
        if (n == 4 && seg_is(s[3], l[3], "revoke") && segment_text(r, s[2], l[2])) WANT(post, ROUTE_CLIENT_REVOKE);
        return ROUTE_NONE;
    }
    if (n == 4 && seg_is(s[1], l[1], "third-parties") && seg_is(s[3], l[3], "accounts") && segment_text(r, s[2], l[2]))
        WANT(is_get, ROUTE_TP_ACCOUNTS);
    if (n == 2 && seg_is(s[1], l[1], "audit")) WANT(is_get, ROUTE_AUDIT);
    if (n == 4 && seg_is(s[1], l[1], "holders") && seg_is(s[3], l[3], "identification") &&
        segment_text(r, s[2], l[2])) {
        *method_ok = r->is_put || is_get;
        return r->is_put ? ROUTE_HOLDER_ID_SET : ROUTE_HOLDER_ID_GET;
    }
    if (n >= 4 && seg_is(s[1], l[1], "accounts") && seg_is(s[3], l[3], "third-parties") &&
        segment_id(s[2], l[2], &r->path_id)) {
        if (n == 4) WANT(post, ROUTE_TP_DECLARE);
        if (n == 5 && segment_text(r, s[4], l[4])) WANT(r->is_delete, ROUTE_TP_REMOVE);
    }
#undef WANT
    return ROUTE_NONE;
}

/* Maps method + path to a route; sets *method_ok false when the path exists with another method. */
static enum route route_match(struct request *r, const char *url, bool is_get, bool *method_ok)
{
    const char *s[PATH_SEGMENTS_MAX];
    size_t l[PATH_SEGMENTS_MAX];
    size_t n = split_path(url, s, l);
    bool post = r->is_post && !r->is_put;
    *method_ok = true;
    if (n > PATH_SEGMENTS_MAX)
        return ROUTE_NONE; /* an empty segment ("//") or too many: s[] and l[] are not all set */
#define WANT(cond, rt) return (*method_ok = (cond)), (rt)
    if (n == 1 && seg_is(s[0], l[0], "healthz")) WANT(is_get, ROUTE_HEALTHZ);
    if (n == 1 && seg_is(s[0], l[0], "readyz")) WANT(is_get, ROUTE_READYZ);
    if (n == 1 && seg_is(s[0], l[0], "metrics")) WANT(is_get, ROUTE_METRICS);
    if (n == 2 && seg_is(s[0], l[0], "oauth") && seg_is(s[1], l[1], "token")) WANT(post, ROUTE_OAUTH_TOKEN);
    if (n < 2 || !seg_is(s[0], l[0], "v1"))
        return ROUTE_NONE;
    enum route access = route_match_access(r, s, l, n, is_get, method_ok);
    if (access != ROUTE_NONE)
        return access;
    if (seg_is(s[1], l[1], "accounts")) {
        if (n == 2) {
            *method_ok = post || is_get;
            return post ? ROUTE_ACCOUNTS_CREATE : ROUTE_ACCOUNTS_LIST;
        }
        if (!segment_id(s[2], l[2], &r->path_id))
            return ROUTE_NONE;
        if (n == 3) WANT(is_get, ROUTE_ACCOUNT_GET);
        if (n == 4 && seg_is(s[3], l[3], "block")) WANT(post, ROUTE_ACCOUNT_BLOCK);
        if (n == 4 && seg_is(s[3], l[3], "unblock")) WANT(post, ROUTE_ACCOUNT_UNBLOCK);
        if (n == 4 && seg_is(s[3], l[3], "close")) WANT(post, ROUTE_ACCOUNT_CLOSE);
        if (n == 4 && seg_is(s[3], l[3], "balance")) WANT(is_get, ROUTE_ACCOUNT_BALANCE);
        if (n == 4 && seg_is(s[3], l[3], "cards")) WANT(is_get, ROUTE_ACCOUNT_CARDS);
        return route_match_reads(r, s, l, n, is_get, method_ok);
    }
    if (seg_is(s[1], l[1], "deposits") && n == 2) WANT(post, ROUTE_DEPOSITS);
    if (seg_is(s[1], l[1], "transfers")) {
        if (n == 2) WANT(post, ROUTE_TRANSFERS_CREATE);
        if (n == 3 && seg_is(s[2], l[2], "batch")) WANT(post, ROUTE_TRANSFERS_BATCH);
        if (n == 3 && segment_id(s[2], l[2], &r->path_id)) WANT(is_get, ROUTE_TRANSFER_GET);
        return ROUTE_NONE;
    }
    if (seg_is(s[1], l[1], "events") && n == 2) WANT(is_get, ROUTE_EVENTS);
#undef WANT
    enum route rt = route_match_reads(r, s, l, n, is_get, method_ok);
    if (rt != ROUTE_NONE)
        return rt;
    return n <= 4 ? route_match_cards(r, s, l, n, is_get, method_ok) : ROUTE_NONE;
}

static enum MHD_Result queue_reply(struct request *r)
{
    struct reply *rep = &r->reply;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(rep->len, rep->body, MHD_RESPMEM_MUST_FREE);
    rep->body = NULL;
    MHD_add_response_header(resp, "Content-Type", rep->content_type ? rep->content_type : "application/json");
    if (rep->www_authenticate != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, rep->www_authenticate);
    if (rep->no_store)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (r->cmd.seq > 0 && r->submitted && rep->status < 300) {
        char seq[24];
        snprintf(seq, sizeof seq, "%" PRIu64, r->cmd.seq);
        MHD_add_response_header(resp, "Ledger-Seq", seq);
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)rep->status, resp);
    MHD_destroy_response(resp);
    unsigned cls = (unsigned)rep->status / 100;
    if (cls < 6)
        __atomic_add_fetch(&r->srv->responses_by_class[cls], 1, __ATOMIC_RELAXED);
    return ret;
}

static void on_done(struct cmd *c)
{
    struct request *r = c->ctx;
    __atomic_store_n(&r->completed, true, __ATOMIC_RELEASE); /* the command's results before it */
    MHD_resume_connection(r->conn);
}

static void start_write(struct request *r)
{
    /* access routes are checked before their body is parsed (registering a client hashes a
     * secret: only an admin may make the server do that); the others need the parsed command */
    if (ROUTE_IS_ACCESS(r->route)) {
        if (!access_check(r))
            return;
        access_route_write(r);
    } else {
        if (!access_check_role(r))
            return;
        route_write(r);
        if (r->reply.status == 0 && !access_check(r))
            return;
    }
    if (r->reply.status != 0)
        return;
    snprintf(r->cmd.actor, sizeof r->cmd.actor, "%s:%s", r->who.client_id,
             client_role_name((enum client_role)r->who.role));
    r->cmd.done = on_done;
    r->cmd.ctx = r;
    r->cmd.render = ROUTE_IS_ACCESS(r->route) ? access_route_render : route_render;
    r->submitted = true;
    MHD_suspend_connection(r->conn);
    enum ledger_err err = sequencer_submit(r->srv->seq, &r->cmd);
    if (err != LEDGER_ERR_OK) { /* busy: answered on the call that follows the resume */
        r->submitted = false;
        r->answer_after_resume = true;
        if (ROUTE_IS_CARD(r->route))
            card_reply_unavailable(r, err); /* authorizations: a declined "91" answer */
        else
            reply_error(&r->reply, err, NULL, NULL);
        MHD_resume_connection(r->conn);
    }
}

static void body_append(struct request *r, const char *data, size_t n)
{
    if (r->too_large || n > LEDGER_HTTP_BODY_BYTES_MAX - r->body_len) {
        r->too_large = true;
        return;
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 1024;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *p = realloc(r->body, cap);
        LEDGER_ASSERT(p != NULL);
        r->body = p;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

static struct request *request_new(struct api_server *srv, struct MHD_Connection *conn, const char *url,
                                   const char *method)
{
    struct request *r = calloc(1, sizeof *r);
    LEDGER_ASSERT(r != NULL);
    r->srv = srv;
    r->conn = conn;
    r->is_put = strcmp(method, "PUT") == 0;
    r->is_post = strcmp(method, "POST") == 0 || r->is_put;
    r->is_delete = strcmp(method, "DELETE") == 0;
    snprintf(r->url, sizeof r->url, "%s", url);
    bool is_get = strcmp(method, "GET") == 0;
    bool method_ok = true;
    __atomic_add_fetch(&srv->requests_total, 1, __ATOMIC_RELAXED);
    r->route = strlen(url) < API_URL_MAX ? route_match(r, url, is_get, &method_ok) : ROUTE_NONE;
    if (r->route == ROUTE_NONE)
        reply_error(&r->reply, LEDGER_ERR_NOT_FOUND, NULL, NULL);
    else if (!method_ok)
        reply_error(&r->reply, LEDGER_ERR_METHOD_NOT_ALLOWED, NULL, NULL);
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL && strtoull(cl, NULL, 10) > LEDGER_HTTP_BODY_BYTES_MAX)
        r->too_large = true;
    return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size,
                                  void **con_cls)
{
    (void)version;
    struct request *r = *con_cls;
    if (r == NULL) {
        *con_cls = request_new(cls, conn, url, method);
        return MHD_YES;
    }
    if (*upload_size > 0) {
        body_append(r, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    bool completed = __atomic_load_n(&r->completed, __ATOMIC_ACQUIRE);
    if (r->submitted && !completed)
        return MHD_YES; /* spurious call while suspended */
    if (r->answer_after_resume) {
        r->answer_after_resume = false;
        return queue_reply(r);
    }
    if (r->submitted && completed) {
        if (r->cmd.idem_replayed)
            reply_text(&r->reply, r->cmd.idem_status, "application/json", r->cmd.idem_body, r->cmd.idem_body_len);
        else if (ROUTE_IS_ACCESS(r->route))
            access_reply_rendered(r);
        else
            reply_rendered(r);
        r->cmd.idem_body = NULL;
        return queue_reply(r);
    }
    if (r->reply.status == 0 && r->too_large)
        reply_error(&r->reply, LEDGER_ERR_BODY_TOO_LARGE, NULL, NULL);
    if (r->reply.status == 0 && r->route == ROUTE_OAUTH_TOKEN) {
        api_oauth_token(r); /* the one route that takes credentials instead of a token */
    } else if (r->reply.status == 0 && (r->route == ROUTE_HEALTHZ || r->route == ROUTE_READYZ)) {
        route_read(r);
    } else if (r->reply.status == 0 && api_authenticate(r)) {
        if ((r->is_post || r->is_delete) && !ROUTE_IS_READS(r->route))
            start_write(r);
        else if (r->route == ROUTE_ADMIN_CLOCK && r->is_post) {
            if (access_check(r))
                route_read(r); /* sets the clock: no command */
        } else if (access_check(r)) {
            if (ROUTE_IS_ACCESS(r->route))
                access_route_read(r);
            else
                route_read(r);
        }
        if (r->submitted || r->answer_after_resume)
            return MHD_YES;
    }
    r->answer_after_resume = false;
    return queue_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct request *r = *con_cls;
    if (r == NULL)
        return;
    bool completed = __atomic_load_n(&r->completed, __ATOMIC_ACQUIRE);
    LEDGER_ASSERT(!r->submitted || completed); /* never free a command the sequencer holds */
    explicit_bzero(r->client_secret, sizeof r->client_secret); /* shown once, then gone */
    free(r->reply.body);
    free(r->body);
    cmd_release(&r->cmd);
    if (r->cmd.type == CMD_TRANSFERS && r->cmd.u.transfers.items != &r->one)
        free(r->cmd.u.transfers.items);
    free(r);
    *con_cls = NULL;
}

static bool parse_listen(const char *listen, struct sockaddr_in *sa)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon - listen >= 64)
        return false;
    char host[64];
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end = NULL;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port > 65535)
        return false;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0 || host[0] == '\0')
        return inet_pton(AF_INET, host[0] ? "127.0.0.1" : "0.0.0.0", &sa->sin_addr) == 1;
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

/* ---- TLS ------------------------------------------------------------------------------------- */

static char *tls_cert, *tls_key; /* PEM, read once before api_start (process-wide) */

static char *read_pem(const char *path, char *err, size_t err_cap)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;
    if (f != NULL) {
        buf = calloc(1, LEDGER_TLS_PEM_BYTES_MAX + 1);
        LEDGER_ASSERT(buf != NULL);
        len = fread(buf, 1, LEDGER_TLS_PEM_BYTES_MAX + 1, f);
        fclose(f);
    }
    if (buf == NULL || len == 0 || len > LEDGER_TLS_PEM_BYTES_MAX || strstr(buf, "-----BEGIN ") == NULL) {
        snprintf(err, err_cap, "cannot read a PEM file at %s (missing, empty, not PEM or over %u bytes)", path,
                 (unsigned)LEDGER_TLS_PEM_BYTES_MAX);
        free(buf);
        return NULL;
    }
    return buf;
}

bool api_tls_configure(const char *cert_file, const char *key_file, char *err, size_t err_cap)
{
    char *cert = read_pem(cert_file, err, err_cap);
    char *key = cert ? read_pem(key_file, err, err_cap) : NULL;
    if (key == NULL) {
        free(cert);
        return false;
    }
    free(tls_cert);
    free(tls_key);
    tls_cert = cert;
    tls_key = key;
    return true;
}

struct api_server *api_start(const char *listen, struct store *st, struct sequencer *seq, struct outbox *ob,
                             char *err, size_t err_cap)
{
    struct sockaddr_in sa;
    if (!parse_listen(listen, &sa)) {
        snprintf(err, err_cap, "--http wants HOST:PORT (IPv4), got '%s'", listen);
        return NULL;
    }
    struct api_server *srv = calloc(1, sizeof *srv);
    LEDGER_ASSERT(srv != NULL);
    srv->store = st;
    srv->quiesced_fd = -1;
    srv->seq = seq;
    srv->outbox = ob;
    srv->ready = true;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    bool tls = tls_cert != NULL;
    /* the TLS options go last: with TLS off they are skipped by ending the list before them */
    srv->daemon = MHD_start_daemon(
        flags | (tls ? MHD_USE_TLS : 0), 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)LEDGER_HTTP_THREADS, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)LEDGER_HTTP_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)LEDGER_HTTP_CONNECTION_TIMEOUT_S,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, tls_key, MHD_OPTION_END);
    if (srv->daemon == NULL) {
        snprintf(err, err_cap, "cannot listen on %s (address in use or not permitted%s)", listen,
                 tls ? ", or the TLS certificate and key do not match" : "");
        free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : ntohs(sa.sin_port);
    return srv;
}

uint16_t api_port(const struct api_server *srv)
{
    return srv->port;
}

void api_quiesce(struct api_server *srv)
{
    __atomic_store_n(&srv->ready, false, __ATOMIC_RELAXED);
    /* MHD hands the listening socket back, no longer taking connections (new ones are refused:
     * api/drain_refuses_new_connections). Its thread may still be leaving a poll on it, so MHD's
     * manual says to close it only after MHD_stop_daemon: api_stop does. Closing it here raced
     * that thread (ThreadSanitizer) and could let the number be reused under it. */
    MHD_socket fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        srv->quiesced_fd = fd;
}

void api_stop(struct api_server *srv)
{
    if (srv == NULL)
        return;
    MHD_stop_daemon(srv->daemon);
    if (srv->quiesced_fd >= 0)
        close(srv->quiesced_fd);
    free(srv);
}

void api_metrics_card_commands(struct api_server *srv, const struct nats_cmd *nc)
{
    __atomic_store_n(&srv->card_cmds, nc, __ATOMIC_RELEASE); /* /metrics may be serving already */
}

void api_set_ready(struct api_server *srv, bool ready)
{
    __atomic_store_n(&srv->ready, ready, __ATOMIC_RELAXED);
}

/* ---- metrics (Prometheus text format 0.0.4) --------------------------------------------------- */

static void metrics_latency(FILE *f, const char *name, const char *help, const struct latency_histogram *h)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (unsigned k = 0; k < LATENCY_BOUNDS; k++) {
        cum += h->le[k];
        fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, latency_us_bounds[k] / 1e6, cum);
    }
    cum += h->le[LATENCY_BOUNDS];
    fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %g\n%s_count %" PRIu64 "\n", name, cum, name,
            (double)h->sum_us / 1e6, name, cum);
}

static void metrics_histograms(FILE *f, const struct sequencer_metrics *m)
{
    fprintf(f, "# HELP ledger_batch_events Events per group commit (one WriteBatch, one fsync).\n"
               "# TYPE ledger_batch_events histogram\n");
    uint64_t cum = 0;
    for (int b = 0; b < 16; b++) {
        cum += m->batch_events_le[b];
        fprintf(f, "ledger_batch_events_bucket{le=\"%u\"} %" PRIu64 "\n", 1u << b, cum);
    }
    fprintf(f, "ledger_batch_events_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
    fprintf(f, "ledger_batch_events_sum %" PRIu64 "\nledger_batch_events_count %" PRIu64 "\n",
            m->events_appended, m->commits);
    metrics_latency(f, "ledger_commit_seconds", "Duration of a durable commit (WriteBatch with sync=true).",
                    &m->commit);
}

void metrics_render(struct api_server *srv, struct reply *rep)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    LEDGER_ASSERT(f != NULL);
    struct sequencer_metrics m;
    sequencer_metrics_read(srv->seq, &m);
    struct outbox_metrics om = {0};
    if (srv->outbox != NULL)
        outbox_metrics_read(srv->outbox, &om);
    fprintf(f, "# TYPE ledger_events_appended_total counter\nledger_events_appended_total %" PRIu64 "\n",
            m.events_appended);
    fprintf(f, "# TYPE ledger_commits_total counter\nledger_commits_total %" PRIu64 "\n", m.commits);
    fprintf(f, "# TYPE ledger_commands_total counter\nledger_commands_total %" PRIu64 "\n", m.commands);
    fprintf(f, "# TYPE ledger_queue_depth gauge\nledger_queue_depth %" PRIu64 "\n", m.queue_depth);
    fprintf(f, "# TYPE ledger_committed_seq gauge\nledger_committed_seq %" PRIu64 "\n", m.committed_seq);
    metrics_histograms(f, &m);
    const struct nats_cmd *card_cmds = __atomic_load_n(&srv->card_cmds, __ATOMIC_ACQUIRE);
    if (card_cmds != NULL) {
        struct latency_histogram served;
        nats_cmd_latency_read(card_cmds, &served);
        metrics_latency(f, "ledger_card_command_seconds",
                        "Card commands over NATS inside ledgerd: message taken to reply published.", &served);
    }
    uint64_t lag = m.committed_seq > om.published_seq ? m.committed_seq - om.published_seq : 0;
    fprintf(f, "# TYPE ledger_outbox_published_seq gauge\nledger_outbox_published_seq %" PRIu64 "\n",
            om.published_seq);
    fprintf(f, "# HELP ledger_outbox_lag_events Committed events not yet acknowledged by JetStream.\n"
               "# TYPE ledger_outbox_lag_events gauge\nledger_outbox_lag_events %" PRIu64 "\n", lag);
    fprintf(f, "# TYPE ledger_outbox_connected gauge\nledger_outbox_connected %d\n", om.connected ? 1 : 0);
    fprintf(f, "# TYPE ledger_outbox_reconnects_total counter\nledger_outbox_reconnects_total %" PRIu64 "\n",
            om.reconnects);
    fprintf(f, "# HELP ledger_idempotency_purged_total Idempotency records dropped after their retention.\n"
               "# TYPE ledger_idempotency_purged_total counter\nledger_idempotency_purged_total %" PRIu64 "\n",
            store_idempotency_purged(srv->store));
    fprintf(f, "# TYPE ledger_http_requests_total counter\nledger_http_requests_total %" PRIu64 "\n",
            __atomic_load_n(&srv->requests_total, __ATOMIC_RELAXED));
    fprintf(f, "# TYPE ledger_http_responses_total counter\n");
    for (int c = 1; c < 6; c++)
        fprintf(f, "ledger_http_responses_total{class=\"%dxx\"} %" PRIu64 "\n", c,
                __atomic_load_n(&srv->responses_by_class[c], __ATOMIC_RELAXED));
    fclose(f);
    reply_text(rep, 200, "text/plain; version=0.0.4", buf, len);
}
