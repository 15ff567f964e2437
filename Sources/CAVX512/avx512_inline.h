// Helpers shared by the AVX-512 sources. Include after the file's `#pragma clang attribute push`
// of the AVX-512 target, so these functions are compiled for it.
#include <immintrin.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

// The first n lanes of a vector (all 16 when n ≥ 16): the mask of a row's last, partial vector.
ALWAYS_INLINE __mmask16 lanesBelow(long n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }

// Swift's `VectorMath.max(a, b)` (b where b > a, else a) is x86's max with its operands
// swapped: _mm512_max_ps(x, y) gives x where x > y, else y (NaN included).
ALWAYS_INLINE __m512 swiftMax(__m512 a, __m512 b) { return _mm512_max_ps(b, a); }
