/*
 * reads.c: the read side of the HTTP API (docs/API.md "Read side", docs/STATEMENTS.md) and the
 * business clock's admin routes.
 *
 *   GET  /v1/accounts/{id}/operations?status=posted|pending|upcoming&from=&to=&cursor=&limit=
 *   GET  /v1/accounts/{id}/balance?at=          (without at: routes.c, the inline balance)
 *   GET  /v1/accounts/{id}/statements[/{statement_id}]   GET /v1/statements/{id}
 *   GET  /v1/admin/clock                        POST /v1/admin/clock {"now"}
 *
 * Everything here reads the catch-up projection's column families (proj_ops, proj_pending,
 * proj_statements) and the inline rows (proj_accounts, proj_auths) from RocksDB; nothing touches
 * the sequencer. Invariants: a page is one forward scan from a key, so a cursor (the hex of the
 * last key served) stays valid while new operations are appended after it; the balance at an
 * instant is one backward seek, whatever the length of the history; ?min_seq= waits (bounded) for
 * the projector and answers 503 PROJECTION_LAGGING rather than stale data.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/internal.h"
#include "store/store.h"

#define NS_PER_S 1000000000LL
#define PENDING_KEY_BYTES 24 /* account (16) + first seq of the hold (8) */
#define CURSOR_KEY_BYTES_MAX OPERATION_KEY_BYTES

static struct projector *reads_projector;
static struct ledger_clock *reads_clock;
static struct scheduler *reads_scheduler;

void api_reads_configure(struct projector *projector, struct ledger_clock *clock, struct scheduler *scheduler)
{
    __atomic_store_n(&reads_projector, projector, __ATOMIC_RELEASE);
    __atomic_store_n(&reads_clock, clock, __ATOMIC_RELEASE);
    __atomic_store_n(&reads_scheduler, scheduler, __ATOMIC_RELEASE);
}

static struct projector *projector_get(void)
{
    return __atomic_load_n(&reads_projector, __ATOMIC_ACQUIRE);
}

static uint64_t projection_seq(void)
{
    struct projector *p = projector_get();
    return p != NULL ? projector_seq(p) : 0;
}

/* ---- times ------------------------------------------------------------------------------------ */

/* n decimal digits at s into *out; false on anything else (stops at a NUL). */
static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* The fraction ".ddd" at *p (advanced past it) in ns; false when a '.' has no digit. */
static bool parse_fraction(const char **p, int64_t *frac_ns)
{
    *frac_ns = 0;
    if (**p != '.')
        return true;
    (*p)++;
    int nd = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++, nd++)
        if (nd < 9)
            *frac_ns = *frac_ns * 10 + (**p - '0');
    for (int k = nd; k < 9; k++)
        *frac_ns *= 10;
    return nd > 0 && nd <= 18;
}

/* "Z" or "+HH:MM" / "-HH:MM" at p, which must end the text: the offset east of UTC in seconds. */
static bool parse_offset(const char *p, int *offset_s)
{
    int oh = 0, om = 0;
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
        *offset_s = 0;
        return true;
    }
    if ((p[0] != '+' && p[0] != '-') || !digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) ||
        p[6] != '\0' || oh > 23 || om > 59)
        return false;
    *offset_s = (p[0] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    return true;
}

bool api_time_parse(const char *s, int64_t *out_ns)
{
    int Y, M, D, h, m, sec, offset_s;
    int64_t frac;
    if (s == NULL || strnlen(s, 20) < 20)
        return false;
    if (!digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' || !digits(s + 8, 2, &D) ||
        (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &m) ||
        s[16] != ':' || !digits(s + 17, 2, &sec))
        return false;
    const char *p = s + 19;
    if (!parse_fraction(&p, &frac) || !parse_offset(p, &offset_s))
        return false;
    if (Y < 1970 || M < 1 || M > 12 || D < 1 || h > 23 || m > 59 || sec > 59)
        return false;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec};
    time_t t = timegm(&tm);
    if (tm.tm_mday != D || tm.tm_mon != M - 1) /* 2026-02-30 normalises to March */
        return false;
    int64_t secs = (int64_t)t - offset_s;
    if (secs < 0 || secs > INT64_MAX / NS_PER_S - 1)
        return false;
    *out_ns = secs * NS_PER_S + frac;
    return true;
}

void api_time_format(int64_t ts_ns, char out[API_TIME_TEXT_MAX])
{
    time_t secs = (time_t)(ts_ns / NS_PER_S);
    long frac = (long)(ts_ns % NS_PER_S);
    if (frac < 0) {
        secs--;
        frac += NS_PER_S;
    }
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, API_TIME_TEXT_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, API_TIME_TEXT_MAX - n, ".%09ldZ", frac);
}

json_t *api_time_json(int64_t ts_ns)
{
    char text[API_TIME_TEXT_MAX];
    api_time_format(ts_ns, text);
    return json_string(text);
}

/* ---- query arguments -------------------------------------------------------------------------- */

/* An RFC 3339 argument (dflt when absent); false with r->reply set when it does not parse. */
static bool query_time(struct request *r, const char *name, int64_t dflt, int64_t *out)
{
    const char *v = api_query_arg(r, name);
    *out = dflt;
    if (v == NULL)
        return true;
    if (api_time_parse(v, out))
        return true;
    reply_error(&r->reply, LEDGER_ERR_FIELD_INVALID, name, "not an RFC 3339 date-time (2026-11-20T10:00:00Z)");
    return false;
}

/* ?min_seq=N: waits until the catch-up projection has reached N; false (503) on timeout. */
static bool wait_min_seq(struct request *r)
{
    uint64_t min_seq;
    if (!api_query_u64(r, "min_seq", 0, 0, UINT64_MAX, &min_seq))
        return false;
    if (min_seq == 0)
        return true;
    struct projector *p = projector_get();
    if (p != NULL && projector_wait(p, min_seq, API_MIN_SEQ_WAIT_MS))
        return true;
    reply_error(&r->reply, LEDGER_ERR_PROJECTION_LAGGING, "min_seq", NULL);
    return false;
}

/* The account row of r->path_id; false with 404 ACCOUNT_NOT_FOUND (or 500 IO) set. */
static bool load_account_row(struct request *r, struct account *out)
{
    char *val = NULL;
    size_t vlen = 0;
    enum ledger_err err = store_get(r->srv->store, STORE_CF_PROJ_ACCOUNTS, r->path_id.b, 16, &val, &vlen);
    bool ok = err == LEDGER_ERR_OK && account_row_decode(val, vlen, out);
    free(val);
    if (!ok)
        reply_error(&r->reply, err == LEDGER_ERR_IO ? LEDGER_ERR_IO : LEDGER_ERR_ACCOUNT_NOT_FOUND, "account_id",
                    NULL);
    return ok;
}

/* ---- cursors: the hex of the last key served, which must belong to the account ---------------- */

static bool cursor_decode(const char *text, const struct ledger_id *account, uint8_t *key, size_t klen)
{
    if (strlen(text) != 2 * klen)
        return false;
    for (size_t i = 0; i < klen; i++) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = text[2 * i + (size_t)k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0)
                return false;
            v = v * 16 + d;
        }
        key[i] = (uint8_t)v;
    }
    return memcmp(key, account->b, 16) == 0;
}

/* Closes the page document f started with `{"operations":[`. */
/* Closes the page (next cursor, seq) and answers it; frees it (500 if one of its reads failed). */
static void page_finish(struct request *r, struct store_iter *it, FILE *f, char **buf, size_t *blen,
                        const uint8_t *next, size_t klen)
{
    if (next != NULL) {
        char hex[2 * CURSOR_KEY_BYTES_MAX + 1];
        ledger_hex(next, klen, hex);
        fprintf(f, "],\"next_cursor\":\"%s\"", hex);
    } else {
        fputs("],\"next_cursor\":null", f);
    }
    fprintf(f, ",\"seq\":%" PRIu64 "}", projection_seq());
    fclose(f); /* sets *buf and *blen */
    if (!api_iter_close(r, it, NULL, NULL))
        return free(*buf);
    reply_text(&r->reply, 200, "application/json", *buf, *blen);
}

/* ---- GET /v1/accounts/{id}/operations --------------------------------------------------------- */

struct page_args {
    uint64_t limit;
    bool has_cursor;
    uint8_t cursor[CURSOR_KEY_BYTES_MAX];
};

static bool page_args_parse(struct request *r, size_t klen, struct page_args *pa)
{
    if (!api_query_u64(r, "limit", API_OPERATIONS_PAGE_DEFAULT, 1, API_OPERATIONS_PAGE_MAX, &pa->limit))
        return false;
    const char *cursor = api_query_arg(r, "cursor");
    pa->has_cursor = cursor != NULL;
    if (cursor != NULL && !cursor_decode(cursor, &r->path_id, pa->cursor, klen)) {
        reply_error(&r->reply, LEDGER_ERR_FIELD_INVALID, "cursor", "not a cursor of this account and status");
        return false;
    }
    return true;
}

/* status=posted: proj_ops rows in booking order, booked in [from, to). */
static void read_posted(struct request *r, const struct page_args *pa)
{
    int64_t from_ns, to_ns;
    if (!query_time(r, "from", 0, &from_ns) || !query_time(r, "to", INT64_MAX, &to_ns))
        return;
    uint8_t start[OPERATION_KEY_BYTES];
    operation_key(&r->path_id, from_ns, 0, 0, start);
    if (pa->has_cursor && memcmp(pa->cursor, start, OPERATION_KEY_BYTES) > 0)
        memcpy(start, pa->cursor, OPERATION_KEY_BYTES);
    char *buf = NULL, json[8192];
    size_t blen = 0, n = 0;
    FILE *f = open_memstream(&buf, &blen);
    LEDGER_ASSERT(f != NULL);
    fputs("{\"operations\":[", f);
    struct store_iter *it =
        store_iter_from(r->srv->store, STORE_CF_PROJ_OPS, r->path_id.b, 16, start, OPERATION_KEY_BYTES);
    const uint8_t *k, *v;
    size_t kl, vl;
    uint8_t last[OPERATION_KEY_BYTES];
    bool more = false;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl != OPERATION_KEY_BYTES || (pa->has_cursor && memcmp(k, pa->cursor, kl) == 0))
            continue;
        if ((int64_t)store_be_u64(k + 16) >= to_ns)
            break;
        if (n == pa->limit) {
            more = true;
            break;
        }
        struct operation op;
        size_t len = operation_row_decode(k, kl, v, vl, &op) ? operation_render_json(&op, json, sizeof json) : 0;
        if (len == 0)
            continue; /* a row that does not decode is verify's to report; the page goes on */
        if (n > 0)
            fputc(',', f);
        fwrite(json, 1, len, f);
        memcpy(last, k, sizeof last);
        n++;
    }
    page_finish(r, it, f, &buf, &blen, more ? last : NULL, OPERATION_KEY_BYTES);
}

/* One proj_pending row joined with its authorization row. */
static json_t *pending_doc(struct request *r, const uint8_t *key, const uint8_t *v, size_t vl,
                           const struct account *a)
{
    struct ledger_id hold;
    memcpy(hold.b, v, 16);
    int64_t held = (int64_t)store_be_u64(v + 16);
    json_t *doc = json_pack("{s:o, s:s, s:s, s:I, s:s, s:s#, s:I}", "hold_id", api_id_json(&hold), "status", "pending",
                            "direction", "debit", "amount", (json_int_t)held, "currency", a->currency, "merchant",
                            (const char *)v + 24, (int)(vl - 24), "seq", (json_int_t)store_be_u64(key + 16));
    LEDGER_ASSERT(doc != NULL);
    char *row = NULL;
    size_t rlen = 0;
    struct authorization au;
    if (store_get(r->srv->store, STORE_CF_PROJ_AUTHS, hold.b, 16, &row, &rlen) == LEDGER_ERR_OK &&
        auth_row_decode(row, rlen, &au)) {
        json_object_set_new(doc, "authorization_id", json_string(au.authorization_id));
        json_object_set_new(doc, "card_id", api_id_json(&au.card_id));
        json_object_set_new(doc, "created", api_time_json(au.created_ts_ns));
        json_object_set_new(doc, "expires_at", api_time_json(au.expires_at_ns));
    }
    free(row);
    return doc;
}

/* status=pending: the open card holds (proj_pending) with their authorization's details. */
static void read_pending(struct request *r, const struct page_args *pa, const struct account *a)
{
    uint8_t start[PENDING_KEY_BYTES] = {0};
    memcpy(start, r->path_id.b, 16);
    if (pa->has_cursor)
        memcpy(start, pa->cursor, PENDING_KEY_BYTES);
    char *buf = NULL;
    size_t blen = 0, n = 0;
    FILE *f = open_memstream(&buf, &blen);
    LEDGER_ASSERT(f != NULL);
    fputs("{\"operations\":[", f);
    struct store_iter *it =
        store_iter_from(r->srv->store, STORE_CF_PROJ_PENDING, r->path_id.b, 16, start, PENDING_KEY_BYTES);
    const uint8_t *k, *v;
    size_t kl, vl;
    uint8_t last[PENDING_KEY_BYTES];
    bool more = false;
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl != PENDING_KEY_BYTES || vl < 24 || (pa->has_cursor && memcmp(k, pa->cursor, kl) == 0))
            continue;
        if (n == pa->limit) {
            more = true;
            break;
        }
        json_t *doc = pending_doc(r, k, v, vl, a);
        char *text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        LEDGER_ASSERT(text != NULL);
        fprintf(f, "%s%s", n ? "," : "", text);
        free(text);
        memcpy(last, k, sizeof last);
        n++;
    }
    page_finish(r, it, f, &buf, &blen, more ? last : NULL, PENDING_KEY_BYTES);
}

static void read_operations(struct request *r)
{
    const char *status = api_query_arg(r, "status");
    struct account a;
    struct page_args pa;
    if (status != NULL && strcmp(status, "posted") != 0 && strcmp(status, "pending") != 0 &&
        strcmp(status, "upcoming") != 0)
        return reply_error(&r->reply, LEDGER_ERR_FIELD_INVALID, "status", "posted, pending or upcoming");
    bool pending = status != NULL && strcmp(status, "pending") == 0;
    if (!wait_min_seq(r) || !load_account_row(r, &a) ||
        !page_args_parse(r, pending ? PENDING_KEY_BYTES : OPERATION_KEY_BYTES, &pa))
        return;
    if (status != NULL && strcmp(status, "upcoming") == 0) /* scheduled transfers, announced debits: later */
        return reply_json(&r->reply, 200,
                          json_pack("{s:[], s:n, s:I}", "operations", "next_cursor", "seq",
                                    (json_int_t)projection_seq()));
    if (pending)
        return read_pending(r, &pa, &a);
    read_posted(r, &pa);
}

/* ---- GET /v1/accounts/{id}/balance?at= -------------------------------------------------------- */

bool reads_balance(struct request *r)
{
    if (!wait_min_seq(r))
        return true;
    int64_t at_ns;
    if (api_query_arg(r, "at") == NULL)
        return false;
    struct account a;
    if (!query_time(r, "at", 0, &at_ns) || !load_account_row(r, &a))
        return true;
    uint8_t key[OPERATION_KEY_BYTES];
    operation_key(&a.id, at_ns, UINT64_MAX, 255, key);
    uint8_t row[OPERATION_ROW_MAX];
    size_t rlen = 0;
    struct operation op = {.balance_after = 0, .seq = 0};
    if (store_seek_last_le(r->srv->store, STORE_CF_PROJ_OPS, a.id.b, 16, key, sizeof key, row, sizeof row, &rlen) &&
        !operation_row_decode(key, sizeof key, row, rlen, &op)) {
        reply_error(&r->reply, LEDGER_ERR_DECODE, NULL, NULL);
        return true;
    }
    reply_json(&r->reply, 200,
               json_pack("{s:o, s:s, s:o, s:I, s:I}", "account_id", api_id_json(&a.id), "currency", a.currency, "at",
                         api_time_json(at_ns), "posted", (json_int_t)op.balance_after, "seq", (json_int_t)op.seq));
    return true;
}

/* ---- statements ------------------------------------------------------------------------------- */

static json_t *statement_doc(const struct statement *s)
{
    json_t *doc = json_pack("{s:o, s:o, s:s, s:s, s:I, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I}", "id",
                            api_id_json(&s->id), "account_id", api_id_json(&s->account_id), "iban", s->iban, "currency",
                            s->currency, "number", (json_int_t)s->number, "period", s->period, "period_kind",
                            period_kind_name((enum period_kind)s->period_kind), "start", api_time_json(s->start_ns),
                            "end", api_time_json(s->end_ns), "opening_balance", (json_int_t)s->opening,
                            "closing_balance", (json_int_t)s->closing, "total_debits", (json_int_t)s->total_debits,
                            "total_credits", (json_int_t)s->total_credits, "entries", (json_int_t)s->entries);
    LEDGER_ASSERT(doc != NULL);
    return doc;
}

static void read_statements(struct request *r)
{
    struct account a;
    if (!wait_min_seq(r) || !load_account_row(r, &a))
        return;
    struct store_iter *it = store_iter_prefix(r->srv->store, STORE_CF_PROJ_STATEMENTS, r->path_id.b, 16);
    const uint8_t *k, *v;
    size_t kl, vl;
    json_t *list = json_array();
    for (size_t n = 0; n < API_STATEMENTS_PER_ACCOUNT_MAX && store_iter_next(it, &k, &kl, &v, &vl); n++) {
        struct statement s;
        if (statement_row_decode(v, vl, &s))
            json_array_append_new(list, statement_doc(&s));
    }
    if (!api_iter_close(r, it, list, NULL))
        return;
    reply_json(&r->reply, 200,
               json_pack("{s:o, s:I}", "statements", list, "seq", (json_int_t)projection_seq()));
}

/* Finds statement id (through its index row), and when account is not NULL only if it is that
 * account's. Answers 404 (or 500 on a failed read) and returns false when not found. */
static bool find_statement(struct request *r, const struct ledger_id *account, const struct ledger_id *id,
                           struct statement *out)
{
    enum ledger_err err = statement_by_id(r->srv->store, id, out);
    if (err == LEDGER_ERR_OK && account != NULL && !ledger_id_equal(&out->account_id, account))
        err = LEDGER_ERR_NOT_FOUND; /* another account's */
    if (err != LEDGER_ERR_OK)
        reply_error(&r->reply, err == LEDGER_ERR_NOT_FOUND ? LEDGER_ERR_STATEMENT_NOT_FOUND : err, "statement_id",
                    NULL);
    return err == LEDGER_ERR_OK;
}

/* The entries of s: proj_ops rows of the account booked in [start, end). *n set; caller frees.
 * NULL (answered 500) when a read failed: a statement never goes out with entries missing. */
static struct operation *statement_entries(struct request *r, const struct statement *s, size_t *n)
{
    uint8_t start[OPERATION_KEY_BYTES];
    operation_key(&s->account_id, s->start_ns, 0, 0, start);
    struct store_iter *it =
        store_iter_from(r->srv->store, STORE_CF_PROJ_OPS, s->account_id.b, 16, start, OPERATION_KEY_BYTES);
    const uint8_t *k, *v;
    size_t kl, vl, cap = s->entries > 0 && s->entries < API_STATEMENT_ENTRIES_MAX ? s->entries : 16;
    struct operation *ops = malloc(cap * sizeof *ops);
    LEDGER_ASSERT(ops != NULL);
    *n = 0;
    while (*n < API_STATEMENT_ENTRIES_MAX && store_iter_next(it, &k, &kl, &v, &vl)) {
        if (kl != OPERATION_KEY_BYTES)
            continue;
        if ((int64_t)store_be_u64(k + 16) >= s->end_ns)
            break;
        if (*n == cap) {
            cap *= 2;
            ops = realloc(ops, cap * sizeof *ops);
            LEDGER_ASSERT(ops != NULL);
        }
        if (operation_row_decode(k, kl, v, vl, &ops[*n]))
            (*n)++;
    }
    if (api_iter_close(r, it, NULL, NULL))
        return ops;
    free(ops);
    return NULL;
}

enum statement_format { FORMAT_JSON, FORMAT_CSV, FORMAT_CAMT053 };

/* ?format=json|csv|camt053, else the Accept header (text/csv, application/xml), else JSON. */
static bool statement_format_of(struct request *r, enum statement_format *out)
{
    const char *fmt = api_query_arg(r, "format");
    const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    *out = FORMAT_JSON;
    if (fmt != NULL) {
        if (strcmp(fmt, "csv") == 0)
            *out = FORMAT_CSV;
        else if (strcmp(fmt, "camt053") == 0)
            *out = FORMAT_CAMT053;
        else if (strcmp(fmt, "json") != 0) {
            reply_error(&r->reply, LEDGER_ERR_FIELD_INVALID, "format", "json, csv or camt053");
            return false;
        }
        return true;
    }
    if (accept != NULL && strcasestr(accept, "text/csv") != NULL)
        *out = FORMAT_CSV;
    else if (accept != NULL && (strcasestr(accept, "application/xml") != NULL || strcasestr(accept, "text/xml")))
        *out = FORMAT_CAMT053;
    return true;
}

static void statement_download(struct request *r, const struct statement *s, enum statement_format fmt)
{
    static const char *const types[] = {"application/json", "text/csv; charset=utf-8", "application/xml"};
    size_t n = 0;
    struct operation *ops = statement_entries(r, s, &n);
    if (ops == NULL)
        return;
    size_t cap = 16384 + n * 2048, len = 0;
    char *out = NULL;
    for (int attempt = 0; attempt < 4 && len == 0; attempt++, cap *= 2) {
        free(out);
        out = malloc(cap);
        LEDGER_ASSERT(out != NULL);
        if (fmt == FORMAT_CSV)
            len = statement_render_csv(s, ops, n, out, cap);
        else if (fmt == FORMAT_CAMT053)
            len = statement_render_camt053(s, ops, n, out, cap);
        else
            len = statement_render_json(s, ops, n, out, cap);
    }
    free(ops);
    if (len == 0) {
        free(out);
        return reply_error(&r->reply, LEDGER_ERR_INTERNAL, NULL, "the statement could not be rendered");
    }
    reply_text(&r->reply, 200, types[fmt], out, len);
}

static void read_statement(struct request *r)
{
    enum statement_format fmt;
    struct statement s;
    struct account a;
    bool scoped = r->route == ROUTE_ACCOUNT_STATEMENT_GET;
    if (!wait_min_seq(r) || !statement_format_of(r, &fmt) || (scoped && !load_account_row(r, &a)))
        return;
    if (find_statement(r, scoped ? &r->path_id : NULL, scoped ? &r->path_id2 : &r->path_id, &s))
        statement_download(r, &s, fmt);
}

/* ---- GET/POST /v1/admin/clock ----------------------------------------------------------------- */

static void clock_answer(struct request *r, struct ledger_clock *c)
{
    json_t *doc = json_pack("{s:o, s:s}", "now", api_time_json(ledger_clock_now(c)), "mode",
                            ledger_clock_is_manual(c) ? "manual" : "realtime");
    reply_json(&r->reply, 200, doc);
}

static void clock_set(struct request *r, struct ledger_clock *c)
{
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct != NULL && strncasecmp(ct, "application/json", 16) != 0)
        return reply_error(&r->reply, LEDGER_ERR_UNSUPPORTED_MEDIA_TYPE, "Content-Type", NULL);
    if (!ledger_clock_is_manual(c))
        return reply_error(&r->reply, LEDGER_ERR_CLOCK_NOT_MANUAL, NULL, NULL);
    json_error_t je;
    json_t *doc = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL || !json_is_object(doc)) {
        json_decref(doc);
        return reply_error(&r->reply, LEDGER_ERR_MALFORMED_JSON, NULL, NULL);
    }
    json_t *now = json_object_get(doc, "now");
    int64_t now_ns = 0;
    bool ok = json_is_string(now) && api_time_parse(json_string_value(now), &now_ns);
    enum ledger_err err = now == NULL || json_is_null(now) ? LEDGER_ERR_FIELD_MISSING : LEDGER_ERR_FIELD_INVALID;
    json_decref(doc);
    if (!ok)
        return reply_error(&r->reply, err, "now", NULL);
    err = ledger_clock_set(c, now_ns);
    if (err != LEDGER_ERR_OK)
        return reply_error(&r->reply, err, "now", NULL);
    scheduler_kick(__atomic_load_n(&reads_scheduler, __ATOMIC_ACQUIRE)); /* expiries and seals now */
    reply_json(&r->reply, 200, json_pack("{s:o, s:s}", "now", api_time_json(now_ns), "mode", "manual"));
}

static void admin_clock(struct request *r)
{
    struct ledger_clock *c = __atomic_load_n(&reads_clock, __ATOMIC_ACQUIRE);
    if (c == NULL)
        return reply_error(&r->reply, LEDGER_ERR_CLOCK_NOT_MANUAL, NULL, "no business clock is configured");
    if (r->is_post)
        return clock_set(r, c);
    clock_answer(r, c);
}

void reads_route_read(struct request *r)
{
    switch (r->route) {
    case ROUTE_ACCOUNT_OPERATIONS: return read_operations(r);
    case ROUTE_ACCOUNT_STATEMENTS: return read_statements(r);
    case ROUTE_ACCOUNT_STATEMENT_GET:
    case ROUTE_STATEMENT_GET: return read_statement(r);
    case ROUTE_ADMIN_CLOCK: return admin_clock(r);
    default: return reply_error(&r->reply, LEDGER_ERR_NOT_FOUND, NULL, NULL);
    }
}
