// GEOSHARD_HD marks the pure math of kernels/ as callable on host and device.
// Under nvcc it expands to __host__ __device__; in plain C++ to nothing, so the CPU
// tests exercise exactly the code the CUDA kernels run. GEOSHARD_HD_FORCEINLINE: the same, for
// the few small functions of per-vertex loops that the compiler would otherwise call.
#pragma once

#if defined(__CUDACC__)
#define GEOSHARD_HD __host__ __device__
#define GEOSHARD_HD_INLINE __host__ __device__ inline
#define GEOSHARD_HD_FORCEINLINE __host__ __device__ __forceinline__
#else
#define GEOSHARD_HD
#define GEOSHARD_HD_INLINE inline
#define GEOSHARD_HD_FORCEINLINE inline __attribute__((always_inline))
#endif
