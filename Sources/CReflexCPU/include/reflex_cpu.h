#ifndef REFLEX_CPU_H
#define REFLEX_CPU_H

/// 1 when this CPU and OS run the AVX-512 subset the wide kernels are compiled for (the
/// `skylake-avx512` target: F, CD, BW, DQ, VL, with the zmm state enabled by the OS), else 0.
/// Always 0 off x86-64. Checked once at load; the engine dispatches on it (MLAS does the same).
int reflex_cpu_has_avx512(void);

#endif
