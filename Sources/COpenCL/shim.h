#ifndef ARMMT_COPENCL_SHIM_H
#define ARMMT_COPENCL_SHIM_H
// The 1.2 API is what NVIDIA, AMD, Intel and PoCL all implement; pinning it keeps
// later-version entry points out of reach so a GPU box with an old driver still links.
#define CL_TARGET_OPENCL_VERSION 120
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>
#endif
