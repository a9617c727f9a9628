// Counts heap allocations per thread by interposing glibc's allocator entry points in the
// test executable. Used to prove that an engine step allocates nothing after warm-up.
#include <stddef.h>
#include <errno.h>
#include "allocation_counter.h"

#if defined(__linux__) && defined(__GLIBC__)
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static __thread long allocations __attribute__((tls_model("initial-exec")));

long reflex_thread_allocations(void) { return allocations; }

void *malloc(size_t n) { allocations++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { allocations++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { allocations++; return __libc_realloc(p, n); }
void *memalign(size_t al, size_t n) { allocations++; return __libc_memalign(al, n); }
void *aligned_alloc(size_t al, size_t n) { allocations++; return __libc_memalign(al, n); }
int posix_memalign(void **out, size_t al, size_t n) {
    allocations++;
    void *p = __libc_memalign(al, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
#else
long reflex_thread_allocations(void) { return -1; }
#endif
