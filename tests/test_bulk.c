/*
 * test_bulk.c: the bulk loader (store/bulk.c) on a real RocksDB in a temp dir: rows put grouped
 * by a 16-byte prefix, in and out of order, in one step or many (a small arena), read back in
 * key order with their values; a duplicate key and an oversized row fail the load.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "tests/harness.h"

static char tmp[64], data[128];
static struct store *st;

static void setup(void)
{
    char err[512];
    harness_tmpdir(tmp, sizeof tmp);
    snprintf(data, sizeof data, "%s/db", tmp);
    st = store_open(data, false, err, sizeof err);
    cr_assert(st != NULL, "%s", err);
}

static void teardown(void)
{
    store_close(st);
    harness_rmdir(tmp);
}

TestSuite(bulk, .init = setup, .fini = teardown, .timeout = 60);

#define GROUPS 37
#define PER_GROUP 300

/* key: group (16) + index (8, BE) + 0x5a; value: "g<group>-i<index>" repeated to a varying length */
static size_t make_key(unsigned g, uint64_t i, uint8_t key[25])
{
    memset(key, 0, 16);
    key[0] = (uint8_t)(0xf0 - g * 5); /* group ids in an order unlike arrival */
    key[15] = (uint8_t)g;
    store_u64_be(i, key + 16);
    key[24] = 0x5a;
    return 25;
}

static size_t make_val(unsigned g, uint64_t i, char *out, size_t cap)
{
    int n = snprintf(out, cap, "g%u-i%llu", g, (unsigned long long)i);
    size_t len = (size_t)n * (1 + i % 7);
    for (size_t k = (size_t)n; k < len; k++)
        out[k] = out[k % (size_t)n];
    return len;
}

/* Puts every group's rows interleaved (round robin), group `backwards` in descending order. */
static void load(struct store_bulk *b, int backwards)
{
    for (uint64_t i = 0; i < PER_GROUP; i++)
        for (unsigned g = 0; g < GROUPS; g++) {
            uint64_t idx = (int)g == backwards ? PER_GROUP - 1 - i : i;
            uint8_t key[25];
            char val[256];
            size_t kl = make_key(g, idx, key), vl = make_val(g, idx, val, sizeof val);
            store_bulk_put(b, key, kl, val, vl);
        }
}

/* Every row is there, once, in key order, with its value. */
static void check_all(void)
{
    struct store_iter *it = store_iter_prefix(st, STORE_CF_PROJ_OPS, "", 0);
    const uint8_t *k, *v;
    size_t kl, vl, n = 0;
    uint8_t prev[25] = {0};
    while (store_iter_next(it, &k, &kl, &v, &vl)) {
        cr_assert_eq(kl, 25);
        if (n > 0)
            cr_assert(memcmp(prev, k, 25) < 0, "row %zu out of order", n);
        memcpy(prev, k, 25);
        unsigned g = k[15];
        uint64_t i = store_be_u64(k + 16);
        uint8_t key[25];
        char val[256];
        make_key(g, i, key);
        size_t want = make_val(g, i, val, sizeof val);
        cr_assert(memcmp(key, k, 25) == 0);
        cr_assert_eq(vl, want);
        cr_assert(memcmp(v, val, vl) == 0, "value of g%u i%llu", g, (unsigned long long)i);
        n++;
    }
    cr_assert_not(store_iter_failed(it));
    store_iter_free(it);
    cr_assert_eq(n, (size_t)GROUPS * PER_GROUP);
}

Test(bulk, one_step_in_key_order)
{
    struct store_bulk *b = store_bulk_new(st, STORE_CF_PROJ_OPS, tmp, 0);
    load(b, -1);
    char err[512];
    cr_assert(store_bulk_finish(b, err, sizeof err), "%s", err);
    store_bulk_free(b);
    check_all();
}

Test(bulk, many_steps_and_a_group_out_of_order)
{
    /* ~40 KB of rows per step: the load is written and ingested in many overlapping steps */
    struct store_bulk *b = store_bulk_new(st, STORE_CF_PROJ_OPS, tmp, 40 << 10);
    load(b, 11);
    char err[512];
    cr_assert(store_bulk_finish(b, err, sizeof err), "%s", err);
    store_bulk_free(b);
    check_all();
    /* and it survives a reopen (the ingested files are part of the store) */
    store_close(st);
    st = store_open(data, false, err, sizeof err);
    cr_assert(st != NULL, "%s", err);
    check_all();
}

Test(bulk, duplicate_key_fails)
{
    struct store_bulk *b = store_bulk_new(st, STORE_CF_PROJ_OPS, tmp, 0);
    uint8_t key[25];
    make_key(1, 7, key);
    store_bulk_put(b, key, sizeof key, "a", 1);
    store_bulk_put(b, key, sizeof key, "b", 1);
    char err[512] = "";
    cr_assert_not(store_bulk_finish(b, err, sizeof err));
    cr_assert(err[0] != '\0');
    store_bulk_free(b);
}

Test(bulk, oversized_row_fails)
{
    struct store_bulk *b = store_bulk_new(st, STORE_CF_PROJ_OPS, tmp, 0);
    uint8_t key[300] = {0};
    store_bulk_put(b, key, sizeof key, "a", 1);
    char err[512] = "";
    cr_assert_not(store_bulk_finish(b, err, sizeof err));
    cr_assert(strstr(err, "does not fit") != NULL, "%s", err);
    store_bulk_free(b);
}

Test(bulk, diverted_batch_puts)
{
    /* a batch diverted for one family sends its puts there and keeps the others */
    struct store_bulk *b = store_bulk_new(st, STORE_CF_PROJ_OPS, tmp, 0);
    struct store_batch *wb = store_batch_new(st);
    store_batch_divert(wb, STORE_CF_PROJ_OPS, store_bulk_put, b);
    uint8_t key[25];
    make_key(3, 1, key);
    store_batch_put(wb, STORE_CF_PROJ_OPS, key, sizeof key, "x", 1);
    store_batch_put(wb, STORE_CF_META, "bulk_test", 9, "y", 1);
    cr_assert_eq(store_batch_count(wb), 1);
    store_commit_async(st, wb);
    store_batch_free(wb);
    struct store_iter *it = store_iter_prefix(st, STORE_CF_PROJ_OPS, "", 0);
    const uint8_t *k, *v;
    size_t kl, vl;
    cr_assert_not(store_iter_next(it, &k, &kl, &v, &vl)); /* not in until the load finishes */
    store_iter_free(it);
    char err[512];
    cr_assert(store_bulk_finish(b, err, sizeof err), "%s", err);
    store_bulk_free(b);
    it = store_iter_prefix(st, STORE_CF_PROJ_OPS, "", 0);
    cr_assert(store_iter_next(it, &k, &kl, &v, &vl));
    cr_assert(kl == 25 && vl == 1 && v[0] == 'x');
    store_iter_free(it);
}
