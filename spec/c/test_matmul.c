/* test_matmul.c -- matmul against a naive loop: 2-D, 1-D cases, transposed and strided views,
 * batches with broadcast batch dims, float64 and int64, empty dims, and shape errors. */
#include "check.h"
#include "dagl.h"

#include <string.h>

static dagl_ctx *ctx;

/* Element by a full index, as double. */
static double at(const dagl_tensor *t, const int64_t *idx)
{
    double v;
    CHECK_OK(dagl_get(ctx, t, idx, &v));
    return v;
}

/* Naive product of the matrices of a and b at batch index (broadcast) bidx, checked against
 * out. Handles 1-D operands the NumPy way. */
static void check_product(const dagl_tensor *a, const dagl_tensor *b, const dagl_tensor *out, double tol)
{
    int na = dagl_tensor_ndim(a), nb = dagl_tensor_ndim(b), no = dagl_tensor_ndim(out);
    const int64_t *sa = dagl_tensor_shape(a), *sb = dagl_tensor_shape(b), *so = dagl_tensor_shape(out);
    int64_t M = na >= 2 ? sa[na - 2] : 1, K = sa[na - 1], N = nb >= 2 ? sb[nb - 1] : 1;
    int nbatch_dims = no - (na >= 2) - (nb >= 2);
    int64_t nbatch = 1;
    for (int d = 0; d < nbatch_dims; d++) nbatch *= so[d];
    for (int64_t bi = 0; bi < nbatch; bi++) {
        int64_t bidx[8], r = bi;
        for (int d = nbatch_dims - 1; d >= 0; d--) {
            bidx[d] = r % so[d];
            r /= so[d];
        }
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++) {
                    int64_t ia[8], ib[8];
                    int ba = na - 2 > 0 ? na - 2 : 0, bb = nb - 2 > 0 ? nb - 2 : 0;
                    for (int d = 0; d < ba; d++) ia[d] = sa[d] == 1 ? 0 : bidx[d + nbatch_dims - ba];
                    for (int d = 0; d < bb; d++) ib[d] = sb[d] == 1 ? 0 : bidx[d + nbatch_dims - bb];
                    if (na == 1) ia[0] = k;
                    else ia[ba] = i, ia[ba + 1] = k;
                    if (nb == 1) ib[0] = k;
                    else ib[bb] = k, ib[bb + 1] = j;
                    s += at(a, ia) * at(b, ib);
                }
                int64_t io[8];
                memcpy(io, bidx, sizeof(int64_t) * (size_t)nbatch_dims);
                int p = nbatch_dims;
                if (na >= 2) io[p++] = i;
                if (nb >= 2) io[p++] = j;
                CHECK_NEAR(at(out, io), s, tol);
            }
    }
}

static dagl_tensor *randn(dagl_dtype dt, int nd, const int64_t *shape)
{
    dagl_tensor *t;
    CHECK_OK(dagl_randn(ctx, dt, nd, shape, &t));
    return t;
}

/* matmul(a, b) has the expected shape and matches the naive loop; releases a and b. */
static void mm(dagl_tensor *a, dagl_tensor *b, int nd, const int64_t *shape, double tol)
{
    dagl_tensor *o;
    CHECK_OK(dagl_matmul(ctx, a, b, &o));
    CHECK(dagl_tensor_ndim(o) == nd);
    for (int d = 0; d < nd; d++) CHECK(dagl_tensor_shape(o)[d] == shape[d]);
    CHECK(dagl_tensor_is_contiguous(o));
    check_product(a, b, o, tol);
    dagl_tensor_release(o);
    dagl_tensor_release(a);
    dagl_tensor_release(b);
}

static dagl_tensor *T(dagl_tensor *t) /* transposed view of the last two dims; consumes t */
{
    dagl_tensor *v;
    int n = dagl_tensor_ndim(t);
    CHECK_OK(dagl_transpose(ctx, t, n - 2, n - 1, &v));
    dagl_tensor_release(t);
    return v;
}

#define S(...) (int64_t[]){__VA_ARGS__}

static void test_values(void)
{
    dagl_tensor *a, *b, *o;
    CHECK_OK(dagl_arange(ctx, DAGL_F32, 1, 7, 1, &a));
    dagl_tensor *p, *q;
    CHECK_OK(dagl_reshape(ctx, a, 2, S(2, 3), &p));
    CHECK_OK(dagl_arange(ctx, DAGL_F32, 7, 13, 1, &b));
    CHECK_OK(dagl_reshape(ctx, b, 2, S(3, 2), &q));
    CHECK_OK(dagl_matmul(ctx, p, q, &o));
    float *v = dagl_tensor_data(o);
    CHECK(v[0] == 58 && v[1] == 64 && v[2] == 139 && v[3] == 154);
    dagl_tensor_release(o);
    CHECK_OK(dagl_matmul(ctx, a, a, &o)); /* 1-D . 1-D: 0-d dot */
    CHECK(dagl_tensor_ndim(o) == 0 && *(float *)dagl_tensor_data(o) == 91);
    dagl_tensor_release(o);
    dagl_tensor *r[] = {a, b, p, q};
    for (int i = 0; i < 4; i++) dagl_tensor_release(r[i]);
}

static void test_random(void)
{
    /* plain, odd sizes */
    mm(randn(DAGL_F32, 2, S(17, 33)), randn(DAGL_F32, 2, S(33, 9)), 2, S(17, 9), 1e-4);
    /* transposed views go to BLAS as CblasTrans */
    mm(randn(DAGL_F32, 2, S(17, 33)), T(randn(DAGL_F32, 2, S(9, 33))), 2, S(17, 9), 1e-4);
    mm(T(randn(DAGL_F32, 2, S(33, 17))), randn(DAGL_F32, 2, S(33, 9)), 2, S(17, 9), 1e-4);
    mm(T(randn(DAGL_F32, 2, S(33, 17))), T(randn(DAGL_F32, 2, S(9, 33))), 2, S(17, 9), 1e-4);
    /* big enough to be split into a 2 x 2 grid of row bands x column blocks (all layouts, and
     * int64 exactly) */
    for (int dt = 0; dt < 3; dt++) {
        dagl_dtype t = dt == 0 ? DAGL_F32 : dt == 1 ? DAGL_F64 : DAGL_I64;
        double tol = dt == 0 ? 1e-3 : dt == 1 ? 1e-9 : 0;
        dagl_tensor *ga, *gb;
        if (t == DAGL_I64) {
            dagl_tensor *r;
            CHECK_OK(dagl_arange(ctx, DAGL_I64, -8192, 8192, 1, &r)); /* sums stay exact in a double */
            CHECK_OK(dagl_reshape(ctx, r, 2, S(256, 64), &ga));
            CHECK_OK(dagl_reshape(ctx, r, 2, S(64, 256), &gb));
            dagl_tensor_release(r);
            mm(ga, gb, 2, S(256, 256), tol);
            continue;
        }
        mm(randn(t, 2, S(256, 64)), randn(t, 2, S(64, 256)), 2, S(256, 256), tol);
        mm(randn(t, 2, S(256, 64)), T(randn(t, 2, S(256, 64))), 2, S(256, 256), tol);
        mm(T(randn(t, 2, S(64, 256))), T(randn(t, 2, S(256, 64))), 2, S(256, 256), tol);
    }
    /* strided rows (a slice with step 3) and a stride-2 column slice: copied */
    dagl_tensor *big = randn(DAGL_F32, 2, S(40, 40)), *s1, *s2;
    CHECK_OK(dagl_slice(ctx, big, 0, 1, 34, 3, &s1)); /* [11, 40], row stride 120 */
    CHECK_OK(dagl_slice(ctx, s1, 1, 0, 33, 1, &s2));  /* [11, 33] */
    dagl_tensor_release(s1);
    mm(s2, randn(DAGL_F32, 2, S(33, 9)), 2, S(11, 9), 1e-4);
    CHECK_OK(dagl_slice(ctx, big, 1, 0, 40, 2, &s1)); /* [40, 20], column stride 2 */
    mm(randn(DAGL_F32, 2, S(3, 40)), s1, 2, S(3, 20), 1e-4);
    dagl_tensor_release(big);
    /* 1-D operands: matrix-vector, vector-matrix, strided and expanded vectors */
    mm(randn(DAGL_F32, 2, S(5, 7)), randn(DAGL_F32, 1, S(7)), 1, S(5), 1e-5);
    mm(randn(DAGL_F32, 1, S(5)), randn(DAGL_F32, 2, S(5, 7)), 1, S(7), 1e-5);
    mm(randn(DAGL_F32, 1, S(6)), randn(DAGL_F32, 1, S(6)), 0, NULL, 1e-5);
    dagl_tensor *m = randn(DAGL_F32, 2, S(6, 4)), *col, *e, *one;
    CHECK_OK(dagl_select(ctx, m, 1, 2, &col)); /* [6], stride 4 */
    mm(randn(DAGL_F32, 2, S(3, 6)), col, 1, S(3), 1e-5);
    CHECK_OK(dagl_select(ctx, m, 1, 1, &col));
    mm(col, randn(DAGL_F32, 2, S(6, 2)), 1, S(2), 1e-5);
    one = randn(DAGL_F32, 1, S(1));
    CHECK_OK(dagl_expand(ctx, one, 1, S(4), &e)); /* stride 0 */
    mm(randn(DAGL_F32, 2, S(2, 4)), e, 1, S(2), 1e-5);
    dagl_tensor_release(one);
    dagl_tensor_release(m);
    /* batches: equal, broadcast either side, a matrix times a batch, a batch times a vector */
    mm(randn(DAGL_F32, 3, S(3, 4, 5)), randn(DAGL_F32, 3, S(3, 5, 2)), 3, S(3, 4, 2), 1e-4);
    mm(randn(DAGL_F32, 4, S(2, 1, 2, 3)), randn(DAGL_F32, 3, S(4, 3, 2)), 4, S(2, 4, 2, 2), 1e-4);
    mm(randn(DAGL_F32, 3, S(5, 4, 3)), randn(DAGL_F32, 2, S(3, 6)), 3, S(5, 4, 6), 1e-4); /* folded */
    mm(randn(DAGL_F32, 2, S(4, 3)), randn(DAGL_F32, 3, S(5, 3, 6)), 3, S(5, 4, 6), 1e-4);
    mm(randn(DAGL_F32, 3, S(2, 4, 3)), randn(DAGL_F32, 1, S(3)), 2, S(2, 4), 1e-4);
    mm(randn(DAGL_F32, 1, S(4)), randn(DAGL_F32, 3, S(2, 4, 3)), 2, S(2, 3), 1e-4);
    mm(T(randn(DAGL_F32, 3, S(3, 5, 4))), randn(DAGL_F32, 4, S(2, 1, 5, 2)), 4, S(2, 3, 4, 2), 1e-4);
    /* a batch of single rows (M = 1) is folded into one product */
    mm(randn(DAGL_F32, 3, S(6, 1, 3)), randn(DAGL_F32, 2, S(3, 2)), 3, S(6, 1, 2), 1e-4);
    /* a permuted batch (not foldable) */
    dagl_tensor *pb = randn(DAGL_F32, 3, S(4, 3, 5)), *pv;
    CHECK_OK(dagl_permute(ctx, pb, (int[]){1, 0, 2}, &pv)); /* [3, 4, 5] */
    dagl_tensor_release(pb);
    mm(pv, randn(DAGL_F32, 2, S(5, 2)), 3, S(3, 4, 2), 1e-4);
    /* float64, int64, mixed */
    mm(randn(DAGL_F64, 2, S(7, 8)), T(randn(DAGL_F64, 2, S(3, 8))), 2, S(7, 3), 1e-12);
    dagl_tensor *ia, *ib, *o;
    CHECK_OK(dagl_arange(ctx, DAGL_I64, -6, 6, 1, &ia));
    CHECK_OK(dagl_reshape(ctx, ia, 2, S(3, 4), &ib));
    dagl_tensor *ibt = T(ib);
    CHECK_OK(dagl_matmul(ctx, ibt, ibt, &o) == DAGL_E_SHAPE ? DAGL_OK : DAGL_E_INTERNAL);
    CHECK_OK(dagl_reshape(ctx, ia, 2, S(3, 4), &ib));
    CHECK_OK(dagl_matmul(ctx, ibt, ib, &o)); /* [4, 3] x [3, 4] */
    CHECK(dagl_tensor_dtype(o) == DAGL_I64);
    check_product(ibt, ib, o, 0);
    dagl_tensor_release(o);
    dagl_tensor *f = randn(DAGL_F32, 2, S(4, 2));
    CHECK_OK(dagl_matmul(ctx, ib, f, &o)); /* int64 x float32 -> float32 */
    CHECK(dagl_tensor_dtype(o) == DAGL_F32);
    check_product(ib, f, o, 1e-5);
    dagl_tensor_release(o);
    dagl_tensor *r[] = {ia, ib, ibt, f};
    for (int i = 0; i < 4; i++) dagl_tensor_release(r[i]);
}

static void test_empty_and_errors(void)
{
    dagl_tensor *a, *b, *o;
    CHECK_OK(dagl_tensor_new(ctx, DAGL_F32, 2, S(3, 0), &a));
    CHECK_OK(dagl_tensor_new(ctx, DAGL_F32, 2, S(0, 2), &b));
    CHECK_OK(dagl_matmul(ctx, a, b, &o)); /* K = 0: zeros */
    CHECK(dagl_tensor_numel(o) == 6);
    for (int i = 0; i < 6; i++) CHECK(((float *)dagl_tensor_data(o))[i] == 0);
    dagl_tensor_release(o);
    CHECK_OK(dagl_matmul(ctx, b, a, &o) == DAGL_E_SHAPE ? DAGL_OK : DAGL_E_INTERNAL);
    CHECK_STR(dagl_ctx_last_error(ctx), "matmul: shapes [0, 2] and [3, 0] are not aligned (2 != 3)");
    dagl_tensor_release(a);
    dagl_tensor_release(b);

    struct { int na; int64_t sa[3]; int nb; int64_t sb[3]; const char *msg; } bad[] = {
        {2, {2, 3}, 2, {4, 5}, "matmul: shapes [2, 3] and [4, 5] are not aligned (3 != 4)"},
        {1, {3}, 1, {4}, "matmul: shapes [3] and [4] are not aligned (3 != 4)"},
        {2, {2, 3}, 1, {2}, "matmul: shapes [2, 3] and [2] are not aligned (3 != 2)"},
        {1, {2}, 2, {3, 2}, "matmul: shapes [2] and [3, 2] are not aligned (2 != 3)"},
        {3, {2, 2, 3}, 3, {3, 3, 4}, "matmul: batch dims of shapes [2, 2, 3] and [3, 3, 4] cannot be broadcast"},
        {0, {0}, 1, {2}, "matmul: 0-d operand (shapes [] and [2])"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, bad[i].na, bad[i].sa, 0, &a));
        CHECK_OK(dagl_tensor_full(ctx, DAGL_F32, bad[i].nb, bad[i].sb, 0, &b));
        o = (dagl_tensor *)1;
        CHECK(dagl_matmul(ctx, a, b, &o) == DAGL_E_SHAPE && o == NULL);
        CHECK_STR(dagl_ctx_last_error(ctx), bad[i].msg);
        dagl_tensor_release(a);
        dagl_tensor_release(b);
    }
}

int main(void)
{
    CHECK_OK(dagl_ctx_new(NULL, &ctx));
    test_values();
    test_random();
    test_empty_and_errors();
    CHECK(dagl_ctx_live_bytes(ctx) == 0);
    dagl_ctx_free(ctx);
    printf("test_matmul: ok\n");
    return 0;
}
