#include "reflex_cpu.h"

int reflex_cpu_has_avx512(void) {
#if defined(__x86_64__)
    // compiler-rt's cpu model reads CPUID and XGETBV: a feature counts only when the OS saves
    // its register state, so a kernel without zmm support reads as 0 here.
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}
