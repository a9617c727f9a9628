#ifndef REFLEX_ALLOCATION_COUNTER_H
#define REFLEX_ALLOCATION_COUNTER_H
/// Heap allocations made by the calling thread since it started (tests only: this target
/// interposes malloc and friends in the test binary and forwards to glibc).
long reflex_thread_allocations(void);
#endif
