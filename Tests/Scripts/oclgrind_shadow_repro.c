#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

/* Oclgrind --uninitialized false positives from host-side stores, and a true positive.
 *
 *   gcc -o /tmp/repro Tests/Scripts/oclgrind_shadow_repro.c -lOpenCL
 *   for m in plain fill write write-tail stale unwritten; do
 *     oclgrind --uninitialized --build-options -cl-opt-disable /tmp/repro $m 2>&1 | grep -c '^Uninitialized'
 *   done
 *
 * `produce` writes every element of x (except element 3 in mode `unwritten`), `consume` reads
 * every element through local memory. Oclgrind 21.10 reports (count of "Uninitialized" lines):
 *   plain 0, write 0 (one host write of the whole buffer from offset 0): correct;
 *   fill 14: clEnqueueFillBuffer with a 4-byte pattern runs as one host store per float, and
 *            each host store replaces the buffer's shadow by one of the store's size (4 bytes),
 *            so the kernel's later stores to elements 1..7 never reach the shadow;
 *   write-tail 8: a host store at a non-zero offset leaves a shadow of the store's size whose
 *            contents were never set;
 *   stale 14: a released buffer's 4-byte shadow is inherited by the next buffer in its slot;
 *   unwritten 2: the real read of an element no one wrote (and the value it passes on).
 * See OclgrindShadowWorkaround in Sources/ARMMTGPU/Runtime/OpenCLContext.swift. */
static const char *src =
"__kernel void produce(__global float *x, const int skip) { if ((int)get_global_id(0) != skip) x[get_global_id(0)] = (float)get_global_id(0); }\n"
"__kernel void consume(__global const float *x, __global float *y) {\n"
"  __local float s[8];\n"
"  const int i = get_local_id(0);\n"
"  s[i] = x[i];\n"
"  barrier(CLK_LOCAL_MEM_FENCE);\n"
"  y[i] = s[7 - i];\n"
"}\n";

#define CK(e) do { cl_int _s = (e); if (_s) { fprintf(stderr, "%s: %d\n", #e, _s); exit(1); } } while (0)

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "plain";
  cl_platform_id p; cl_device_id d; cl_int s;
  CK(clGetPlatformIDs(1, &p, NULL));
  CK(clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 1, &d, NULL));
  cl_context c = clCreateContext(NULL, 1, &d, NULL, NULL, &s); CK(s);
  cl_command_queue q = clCreateCommandQueue(c, d, 0, &s); CK(s);
  cl_program prog = clCreateProgramWithSource(c, 1, &src, NULL, &s); CK(s);
  CK(clBuildProgram(prog, 1, &d, "", NULL, NULL));
  cl_kernel kp = clCreateKernel(prog, "produce", &s); CK(s);
  cl_kernel kc = clCreateKernel(prog, "consume", &s); CK(s);
  const size_t n = 8, bytes = n * sizeof(float);
  float nan = NAN, host[8];
  if (!strcmp(mode, "stale")) {
    /* A 4-byte buffer written by the host, then released: its slot is reused below. */
    cl_mem small = clCreateBuffer(c, CL_MEM_READ_WRITE, 4, NULL, &s); CK(s);
    CK(clEnqueueWriteBuffer(q, small, CL_TRUE, 0, 4, &nan, 0, NULL, NULL));
    CK(clReleaseMemObject(small));
  }
  cl_mem x = clCreateBuffer(c, CL_MEM_READ_WRITE, bytes, NULL, &s); CK(s);
  cl_mem y = clCreateBuffer(c, CL_MEM_READ_WRITE, bytes, NULL, &s); CK(s);
  if (!strcmp(mode, "fill"))                 /* NaN poison, 4-byte pattern */
    CK(clEnqueueFillBuffer(q, x, &nan, sizeof nan, 0, bytes, 0, NULL, NULL));
  if (!strcmp(mode, "write")) {              /* NaN poison, one host write of the whole buffer */
    for (size_t i = 0; i < n; ++i) host[i] = NAN;
    CK(clEnqueueWriteBuffer(q, x, CL_TRUE, 0, bytes, host, 0, NULL, NULL));
  }
  if (!strcmp(mode, "write-tail")) {         /* host write of the second half only */
    for (size_t i = 0; i < n; ++i) host[i] = NAN;
    CK(clEnqueueWriteBuffer(q, x, CL_TRUE, bytes / 2, bytes / 2, host, 0, NULL, NULL));
  }
  /* produce writes every element of x; consume reads every element. */
  const cl_int skip = strcmp(mode, "unwritten") ? -1 : 3;
  CK(clSetKernelArg(kp, 0, sizeof x, &x));
  CK(clSetKernelArg(kp, 1, sizeof skip, &skip));
  CK(clEnqueueNDRangeKernel(q, kp, 1, NULL, &n, &n, 0, NULL, NULL));
  CK(clSetKernelArg(kc, 0, sizeof x, &x));
  CK(clSetKernelArg(kc, 1, sizeof y, &y));
  CK(clEnqueueNDRangeKernel(q, kc, 1, NULL, &n, &n, 0, NULL, NULL));
  CK(clEnqueueReadBuffer(q, y, CL_TRUE, 0, bytes, host, 0, NULL, NULL));
  for (size_t i = 0; i < n; ++i)
    if (host[i] != (float)(n - 1 - i) && !(skip >= 0 && i == n - 1 - (size_t)skip)) { fprintf(stderr, "wrong result at %zu\n", i); return 1; }
  printf("%s: results correct\n", mode);
  return 0;
}
