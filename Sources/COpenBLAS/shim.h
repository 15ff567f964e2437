#ifndef ARMMT_COPENBLAS_SHIM_H
#define ARMMT_COPENBLAS_SHIM_H
// OpenBLAS's cblas.h also declares its extensions (openblas_get_config, thread count).
#include <cblas.h>
#endif
