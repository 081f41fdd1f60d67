/* alloc.c -- the small-block cache behind tensor headers: eager code creates and drops tiny
 * tensors at a high rate (W5), and glibc's malloc/free cost more than the op itself there. Blocks
 * come in a few size classes; each class keeps up to CACHE_BYTES of freed blocks, enough for the
 * garbage of one GC cycle of a tight eager loop. */
#include "internal.h"

#include <stdlib.h>
#include <sys/mman.h>

static const size_t class_size[DAGL_BLOCK_CLASSES] = {256, 512, 1024, 2048, 4096 + 256};
#define CACHE_BYTES (512 * 1024)

/* Blocks a class may keep. */
static int cap(int c) { return (int)(CACHE_BYTES / class_size[c]); }

/* The smallest class holding `size` bytes, or -1. */
static int class_of(size_t size)
{
    for (int c = 0; c < DAGL_BLOCK_CLASSES; c++)
        if (size <= class_size[c]) return c;
    return -1;
}

/* A spin lock around the cache: its critical sections are short, so spinning beats a mutex. */
static void lock(dagl_mem *m)
{
    while (atomic_flag_test_and_set_explicit(&m->lock, memory_order_acquire)) {
    }
}

/* Ends a critical section begun by lock(), publishing its stores. */
static void unlock(dagl_mem *m) { atomic_flag_clear_explicit(&m->lock, memory_order_release); }

void *dagl__block_alloc(dagl_mem *m, size_t size, int *cls, int64_t counted)
{
    int c = class_of(size);
    void *p = NULL;
    *cls = c;
    lock(m);
    if (c >= 0 && m->n[c] > 0) p = m->free[c][--m->n[c]];
    m->live += counted;
    unlock(m);
    if (!p) p = malloc(c < 0 ? size : class_size[c]);
    if (!p && counted) dagl__mem_count(m, -counted);
    return p;
}

void dagl__block_free(dagl_mem *m, void *p, int cls, int64_t counted)
{
    bool kept = false;
    lock(m);
    m->live -= counted;
    if (cls >= 0) {
        if (!m->free[cls]) m->free[cls] = malloc(sizeof(void *) * (size_t)cap(cls)); /* NULL: no cache */
        kept = m->free[cls] && m->n[cls] < cap(cls);
        if (kept) m->free[cls][m->n[cls]++] = p;
    }
    unlock(m);
    if (!kept) free(p);
}

void dagl__mem_count(dagl_mem *m, int64_t delta)
{
    lock(m);
    m->live += delta;
    unlock(m);
}

/* The live byte count, read under the lock (what dagl_ctx_live_bytes reports). */
int64_t dagl__mem_live(dagl_mem *m)
{
    lock(m);
    int64_t n = m->live;
    unlock(m);
    return n;
}

#define BIG_CACHE_BYTES ((size_t)256 << 20) /* at most this much memory kept for reuse */
#define BIG_ALIGN 64

/* Blocks of at least this size get transparent huge pages, as NumPy gives its arrays: the first
 * touch of fresh memory costs a page fault per 4 KiB page (about 1 s for 188 MB on a VM here,
 * half of that or less with 2 MiB pages), which is most of the time a loader spends reading a
 * file into a new tensor. */
#define HUGE_MIN ((size_t)4 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

/* A large block from the caller's allocator, or the C library's (huge-page aligned and advised
 * from HUGE_MIN up; the kernel ignores the advice when THP is off). */
static void *big_new(dagl_mem *m, size_t size)
{
    if (m->user.alloc) return m->user.alloc(m->user.ud, size, BIG_ALIGN);
    if (size < HUGE_MIN) return aligned_alloc(BIG_ALIGN, size);
    void *p = aligned_alloc(HUGE_PAGE, (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
#ifdef MADV_HUGEPAGE
    if (p) madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}

/* Gives a large block back to where big_new got it (NULL is allowed). */
static void big_delete(dagl_mem *m, void *p, size_t size)
{
    if (!p) return;
    if (m->user.alloc) m->user.free(m->user.ud, p, size);
    else free(p);
}

void *dagl__big_alloc(dagl_mem *m, size_t size)
{
    void *p = NULL;
    lock(m);
    for (int i = m->nbig - 1; i >= 0; i--) {
        if (m->big[i].size != size) continue;
        p = m->big[i].p;
        m->big_bytes -= size;
        m->big[i] = m->big[--m->nbig];
        break;
    }
    unlock(m);
    return p ? p : big_new(m, size);
}

void dagl__big_free(dagl_mem *m, void *p, size_t size)
{
    void *evict = NULL;
    size_t evict_size = 0;
    lock(m);
    if (size <= BIG_CACHE_BYTES / 4) {
        if (m->nbig == DAGL_BIG_SLOTS || m->big_bytes + size > BIG_CACHE_BYTES) { /* drop the oldest */
            evict = m->big[0].p;
            evict_size = m->big[0].size;
            m->big_bytes -= m->big[0].size;
            m->big[0] = m->big[--m->nbig];
        }
        if (m->big_bytes + size <= BIG_CACHE_BYTES) {
            m->big[m->nbig].p = p;
            m->big[m->nbig++].size = size;
            m->big_bytes += size;
            p = NULL;
        }
    }
    unlock(m);
    big_delete(m, evict, evict_size);
    big_delete(m, p, size);
}

void dagl__mem_drain(dagl_mem *m)
{
    for (int i = 0; i < m->nbig; i++) big_delete(m, m->big[i].p, m->big[i].size);
    m->nbig = 0;
    m->big_bytes = 0;
    for (int c = 0; c < DAGL_BLOCK_CLASSES; c++) {
        for (int i = 0; i < m->n[c]; i++) free(m->free[c][i]);
        free(m->free[c]);
        m->free[c] = NULL;
        m->n[c] = 0;
    }
}
