/*
 * bulk.c: a bulk loader for one column family (store.h, "Bulk loads").
 *
 * A rebuild produces millions of rows whose keys start with a 16-byte group (an account) and, in
 * a log that only moves forward in time, arrive in key order within each group. Sorting them is
 * then a counting sort by group: rows are appended to an arena as they come, and at the end the
 * groups are put in key order and each group's rows are walked in arrival order. The sorted rows
 * are written straight into table files (two threads, each its half of the groups) and ingested:
 * no memtable, no flush, no compaction of freshly written data.
 *
 * A group whose rows did not arrive in order (a clock that stepped back) is sorted on its own.
 * Memory is bounded: past arena_max bytes (1 GiB by default) the rows so far are written and
 * ingested as one step, and the arena starts again (later steps overlap earlier ones; RocksDB
 * compacts them).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define BULK_ARENA_DEFAULT ((size_t)1 << 30)
#define BULK_KEY_MAX 255
#define BULK_VAL_MAX 65535
#define BULK_PARTS 2

/* A row in the arena: key length (1), value length (2, LE), key, value. */
#define GROUP_LAST_KEY 48

struct group {
    uint8_t id[16];
    size_t first_row;  /* index into rows of its first row, after counting */
    size_t rows;
    size_t last_off;   /* arena offset of its last row, while filling */
    uint8_t last_key[GROUP_LAST_KEY]; /* a copy of its last key when short: no trip to the arena */
    uint8_t last_klen; /* 0: not copied */
    bool unsorted;
};

struct store_bulk {
    struct store *st;
    enum store_cf cf;
    char dir[4096];
    uint8_t *arena;
    size_t used, cap;
    /* per row, in arrival order: its group and arena offset */
    uint32_t *row_group;
    size_t *row_off;
    size_t nrows, rows_cap;
    struct group *groups;
    size_t ngroups, groups_cap;
    uint32_t *index; /* group + 1 by id, linear probing */
    size_t index_cap;
    size_t arena_max;
    unsigned steps;  /* ingested so far */
    uint64_t total_rows;
    bool failed;
    char err[512];
};

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    LEDGER_ASSERT(p != NULL);
    return p;
}

static uint64_t group_hash(const uint8_t id[16])
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    return h ^ (h >> 31);
}

static void index_put(struct store_bulk *b, uint32_t g)
{
    size_t mask = b->index_cap - 1;
    size_t i = group_hash(b->groups[g].id) & mask;
    while (b->index[i] != 0)
        i = (i + 1) & mask;
    b->index[i] = g + 1;
}

static uint32_t group_of(struct store_bulk *b, const uint8_t id[16])
{
    size_t mask = b->index_cap - 1;
    size_t i = group_hash(id) & mask;
    for (; b->index[i] != 0; i = (i + 1) & mask)
        if (memcmp(b->groups[b->index[i] - 1].id, id, 16) == 0)
            return b->index[i] - 1;
    if (b->ngroups == b->groups_cap) {
        b->groups_cap = b->groups_cap ? b->groups_cap * 2 : 4096;
        b->groups = xrealloc(b->groups, b->groups_cap * sizeof *b->groups);
    }
    uint32_t g = (uint32_t)b->ngroups++;
    memset(&b->groups[g], 0, sizeof b->groups[g]);
    memcpy(b->groups[g].id, id, 16);
    if (b->ngroups * 2 > b->index_cap) {
        free(b->index);
        b->index_cap *= 2;
        b->index = calloc(b->index_cap, sizeof *b->index);
        LEDGER_ASSERT(b->index != NULL);
        for (uint32_t j = 0; j < b->ngroups; j++)
            index_put(b, j);
    } else {
        b->index[i] = g + 1;
    }
    return g;
}

struct store_bulk *store_bulk_new(struct store *st, enum store_cf cf, const char *tmp_dir, size_t arena_max)
{
    struct store_bulk *b = calloc(1, sizeof *b);
    LEDGER_ASSERT(b != NULL);
    b->st = st;
    b->arena_max = arena_max != 0 ? arena_max : BULK_ARENA_DEFAULT;
    b->cf = cf;
    snprintf(b->dir, sizeof b->dir, "%s", tmp_dir);
    b->index_cap = 8192;
    b->index = calloc(b->index_cap, sizeof *b->index);
    LEDGER_ASSERT(b->index != NULL);
    return b;
}

void store_bulk_free(struct store_bulk *b)
{
    if (b == NULL)
        return;
    free(b->arena);
    free(b->row_group);
    free(b->row_off);
    free(b->groups);
    free(b->index);
    free(b);
}

static const uint8_t *row_key(const struct store_bulk *b, size_t off, size_t *klen)
{
    *klen = b->arena[off];
    return b->arena + off + 3;
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *c, size_t cl)
{
    int r = memcmp(a, c, al < cl ? al : cl);
    return r != 0 ? r : (al > cl) - (al < cl);
}

void store_bulk_put(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    struct store_bulk *b = arg;
    if (b->failed)
        return;
    if (klen < 16 || klen > BULK_KEY_MAX || vlen > BULK_VAL_MAX) {
        if (!b->failed)
            snprintf(b->err, sizeof b->err, "a row of %zu+%zu bytes does not fit a bulk load", klen, vlen);
        b->failed = true;
        return;
    }
    size_t need = 3 + klen + vlen;
    if (b->used + need > b->arena_max && b->nrows > 0 && !store_bulk_finish(b, NULL, 0))
        return;
    if (b->used + need > b->cap) {
        b->cap = b->cap ? b->cap * 2 : (size_t)1 << 20;
        while (b->cap < b->used + need)
            b->cap *= 2;
        b->arena = xrealloc(b->arena, b->cap);
    }
    if (b->nrows == b->rows_cap) {
        b->rows_cap = b->rows_cap ? b->rows_cap * 2 : (size_t)1 << 20;
        b->row_group = xrealloc(b->row_group, b->rows_cap * sizeof *b->row_group);
        b->row_off = xrealloc(b->row_off, b->rows_cap * sizeof *b->row_off);
    }
    uint32_t g = group_of(b, key);
    struct group *gr = &b->groups[g];
    size_t off = b->used;
    uint8_t *p = b->arena + off;
    p[0] = (uint8_t)klen;
    p[1] = (uint8_t)vlen;
    p[2] = (uint8_t)(vlen >> 8);
    memcpy(p + 3, key, klen);
    memcpy(p + 3 + klen, val, vlen);
    b->used += need;
    if (gr->rows > 0 && !gr->unsorted) {
        size_t ll = gr->last_klen;
        const uint8_t *last = ll > 0 ? gr->last_key : row_key(b, gr->last_off, &ll);
        gr->unsorted = key_cmp(last, ll, key, klen) >= 0;
    }
    gr->rows++;
    gr->last_off = off;
    gr->last_klen = klen <= GROUP_LAST_KEY ? (uint8_t)klen : 0;
    if (gr->last_klen > 0)
        memcpy(gr->last_key, key, klen);
    b->row_group[b->nrows] = g;
    b->row_off[b->nrows] = off;
    b->nrows++;
}

/* ---- writing a step ------------------------------------------------------------------------ */

static int cmp_group(const void *x, const void *y, void *arg)
{
    const struct store_bulk *b = arg;
    return memcmp(b->groups[*(const uint32_t *)x].id, b->groups[*(const uint32_t *)y].id, 16);
}

static int cmp_row(const void *x, const void *y, void *arg)
{
    size_t al, cl;
    const uint8_t *a = row_key(arg, *(const size_t *)x, &al);
    const uint8_t *c = row_key(arg, *(const size_t *)y, &cl);
    return key_cmp(a, al, c, cl);
}

struct part {
    const struct store_bulk *b;
    const size_t *order; /* arena offsets in key order */
    size_t from, to;
    char path[4200];
    struct store_sst *sst;
    bool ok;
    char err[512];
};

static void *write_part(void *arg)
{
    pthread_setname_np(pthread_self(), "ledger-bulk"); /* as top -H and perf show it */
    struct part *p = arg;
    const uint8_t *arena = p->b->arena;
    for (size_t i = p->from; i < p->to; i++) {
        if (i + 8 < p->to)
            __builtin_prefetch(arena + p->order[i + 8]);
        const uint8_t *row = arena + p->order[i];
        size_t klen = row[0], vlen = (size_t)row[1] | (size_t)row[2] << 8;
        store_sst_put(p->sst, row + 3, klen, row + 3 + klen, vlen);
    }
    p->ok = store_sst_finish(p->sst, p->err, sizeof p->err);
    p->sst = NULL;
    return NULL;
}

/* Writes the rows so far into table files, ingests them, and empties the arena. */
static bool write_step(struct store_bulk *b)
{
    uint32_t *by_id = malloc((b->ngroups + 1) * sizeof *by_id);
    size_t *order = malloc((b->nrows + 1) * sizeof *order);
    LEDGER_ASSERT(by_id != NULL && order != NULL);
    for (uint32_t g = 0; g < b->ngroups; g++)
        by_id[g] = g;
    qsort_r(by_id, b->ngroups, sizeof *by_id, cmp_group, b);
    size_t at = 0;
    for (size_t i = 0; i < b->ngroups; i++) {
        struct group *g = &b->groups[by_id[i]];
        g->first_row = at;
        at += g->rows;
        g->rows = 0; /* refilled below */
    }
    for (size_t r = 0; r < b->nrows; r++) { /* stable: arrival order within a group */
        struct group *g = &b->groups[b->row_group[r]];
        order[g->first_row + g->rows++] = b->row_off[r];
    }
    for (size_t i = 0; i < b->ngroups; i++) {
        const struct group *g = &b->groups[by_id[i]];
        if (g->unsorted)
            qsort_r(order + g->first_row, g->rows, sizeof *order, cmp_row, b);
    }
    /* Split at a group boundary near the middle, so the files do not overlap. */
    struct part parts[BULK_PARTS];
    size_t nparts = 0, from = 0;
    for (size_t i = 0; i < b->ngroups && nparts < BULK_PARTS - 1; i++) {
        const struct group *g = &b->groups[by_id[i]];
        size_t end = g->first_row + g->rows;
        if (end >= b->nrows / BULK_PARTS && end < b->nrows) {
            parts[nparts++] = (struct part){.b = b, .order = order, .from = from, .to = end};
            from = end;
            break;
        }
    }
    parts[nparts++] = (struct part){.b = b, .order = order, .from = from, .to = b->nrows};
    bool ok = true;
    for (size_t i = 0; i < nparts; i++) {
        snprintf(parts[i].path, sizeof parts[i].path, "%s/bulk-%u-%zu.sst", b->dir, b->steps, i);
        parts[i].sst = store_sst_create(b->st, b->cf, parts[i].path, b->err, sizeof b->err);
        ok = ok && parts[i].sst != NULL;
    }
    if (!ok) {
        for (size_t i = 0; i < nparts; i++)
            if (parts[i].sst != NULL)
                store_sst_finish(parts[i].sst, parts[i].err, sizeof parts[i].err);
    } else {
        pthread_t threads[BULK_PARTS];
        bool started[BULK_PARTS] = {false};
        for (size_t i = 1; i < nparts; i++)
            started[i] = pthread_create(&threads[i], NULL, write_part, &parts[i]) == 0;
        write_part(&parts[0]);
        for (size_t i = 1; i < nparts; i++) {
            if (started[i])
                pthread_join(threads[i], NULL);
            else
                write_part(&parts[i]); /* no thread: written here */
        }
    }
    const char *paths[BULK_PARTS];
    for (size_t i = 0; i < nparts; i++) {
        if (ok && !parts[i].ok) {
            snprintf(b->err, sizeof b->err, "%s", parts[i].err);
            ok = false;
        }
        paths[i] = parts[i].path;
    }
    if (ok)
        ok = store_ingest(b->st, b->cf, paths, nparts, b->err, sizeof b->err);
    for (size_t i = 0; i < nparts; i++)
        remove(parts[i].path); /* moved in on success; a leftover otherwise */
    free(by_id);
    free(order);
    b->total_rows += b->nrows;
    b->steps++;
    b->used = 0;
    b->nrows = 0;
    b->ngroups = 0;
    memset(b->index, 0, b->index_cap * sizeof *b->index);
    return ok;
}

bool store_bulk_finish(struct store_bulk *b, char *err, size_t err_cap)
{
    if (!b->failed && b->nrows > 0 && !write_step(b))
        b->failed = true;
    if (b->failed && err != NULL)
        snprintf(err, err_cap, "%s", b->err);
    return !b->failed;
}
