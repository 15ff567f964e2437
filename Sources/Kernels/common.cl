// Shared by every kernel family. The host prepends a preamble of #defines
// (REAL, device flags, per-device tunables) before this file.

#ifndef REAL
#define REAL float
#endif

// Offsets and sizes arrive as int: OpenCL 1.2 kernels take 32-bit scalars from the host,
// and every tensor the engine allocates is below 2^31 elements (checked on the host).
