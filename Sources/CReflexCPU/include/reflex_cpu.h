#ifndef REFLEX_CPU_H
#define REFLEX_CPU_H

/// 1 when this CPU and OS run the AVX-512 subset the wide kernels are compiled for (the
/// `skylake-avx512` target: F, CD, BW, DQ, VL, with the zmm state enabled by the OS), else 0.
/// Always 0 off x86-64. Checked once at load; the engine dispatches on it (MLAS does the same).
int reflex_cpu_has_avx512(void);

/// Asks for the 64-byte line at `p` to be brought into L2 (and the caches above it): a hint,
/// never a fault, a no-op where the target has no prefetch. The float32 K-blocked kernel uses it
/// to fetch the next weight tile while the current one is multiplied (WideKernels).
static inline void reflex_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }

#endif
