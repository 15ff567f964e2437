#ifndef ARMMT_COPENBLAS_SHIM_H
#define ARMMT_COPENBLAS_SHIM_H
// OpenBLAS's cblas.h also declares its extensions (openblas_get_config, thread count).
#include <cblas.h>

// Software prefetch for the CPU backend's Swift fast paths, which have no prefetch intrinsic.
// It lives in this module because it is the CPU backend's only C module.
static inline void armmt_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
// For lines about to be written: fetched for ownership, so the stores do not wait for it.
static inline void armmt_prefetch_write(void *p) { __builtin_prefetch(p, 1, 3); }
#endif
