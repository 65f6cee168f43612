#include "jobs/localise/cell_keys.h"

#include <algorithm>

#include "kernels/cpu.h"

#ifdef GEOSHARD_HOST_AVX2
#include <immintrin.h>
#endif

namespace geoshard::localise {

namespace detail {
void road_cell_keys_plain(const CellKeyer& key, const double* lon, const double* lat, size_t n, uint64_t* zk,
                          char* near) {
  for (size_t v = 0; v < n; ++v) {
    bool nr;
    zk[v] = key(lon[v], lat[v], &nr);
    near[v] = nr;
  }
}
void road_bbox_plain(const double* lon, const double* lat, size_t n, double box[4]) {
  double minx = lon[0], maxx = minx, miny = lat[0], maxy = miny;
  for (size_t v = 1; v < n; ++v) {
    minx = std::min(minx, lon[v]), maxx = std::max(maxx, lon[v]);
    miny = std::min(miny, lat[v]), maxy = std::max(maxy, lat[v]);
  }
  box[0] = minx, box[1] = miny, box[2] = maxx, box[3] = maxy;
}
}  // namespace detail

#ifdef GEOSHARD_HOST_AVX2
namespace {

__attribute__((target("avx2"))) inline __m256i spread4(__m256i x) {
  x = _mm256_and_si256(_mm256_or_si256(x, _mm256_slli_epi64(x, 16)), _mm256_set1_epi64x(0x0000FFFF0000FFFFll));
  x = _mm256_and_si256(_mm256_or_si256(x, _mm256_slli_epi64(x, 8)), _mm256_set1_epi64x(0x00FF00FF00FF00FFll));
  x = _mm256_and_si256(_mm256_or_si256(x, _mm256_slli_epi64(x, 4)), _mm256_set1_epi64x(0x0F0F0F0F0F0F0F0Fll));
  x = _mm256_and_si256(_mm256_or_si256(x, _mm256_slli_epi64(x, 2)), _mm256_set1_epi64x(0x3333333333333333ll));
  x = _mm256_and_si256(_mm256_or_si256(x, _mm256_slli_epi64(x, 1)), _mm256_set1_epi64x(0x5555555555555555ll));
  return x;
}

// Four vertices per step. The in-range test keeps ex, ey < columns, rows <= 2^30, so the
// truncation to 32-bit integers (cvttpd) equals CellKeyer's 64-bit one, and round-toward-zero
// gives the same double; lanes that fail (near a line, out of range, NaN) take CellKeyer's path.
__attribute__((target("avx2"))) void cell_keys_avx2(const CellKeyer& key, const double* lon, const double* lat,
                                                   size_t n, uint64_t* zk, char* near) {
  const __m256d c180 = _mm256_set1_pd(180.0), c90 = _mm256_set1_pd(90.0), fx = _mm256_set1_pd(key.fx),
                fy = _mm256_set1_pd(key.fy), nx = _mm256_set1_pd(key.nx), ny = _mm256_set1_pd(key.ny),
                zero = _mm256_setzero_pd(), lo = _mm256_set1_pd(1e-6), hi = _mm256_set1_pd(1.0 - 1e-6);
  const __m128i sx = _mm_cvtsi32_si128(key.sx), sy = _mm_cvtsi32_si128(key.sy);
  size_t v = 0;
  for (; v + 4 <= n; v += 4) {
    const __m256d ex = _mm256_mul_pd(_mm256_add_pd(_mm256_loadu_pd(lon + v), c180), fx);
    const __m256d ey = _mm256_mul_pd(_mm256_add_pd(_mm256_loadu_pd(lat + v), c90), fy);
    const __m256d in = _mm256_and_pd(
        _mm256_and_pd(_mm256_cmp_pd(ex, zero, _CMP_GE_OQ), _mm256_cmp_pd(ey, zero, _CMP_GE_OQ)),
        _mm256_and_pd(_mm256_cmp_pd(ex, nx, _CMP_LT_OQ), _mm256_cmp_pd(ey, ny, _CMP_LT_OQ)));
    const __m256d tx = _mm256_round_pd(ex, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256d ty = _mm256_round_pd(ey, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256d rx = _mm256_sub_pd(ex, tx), ry = _mm256_sub_pd(ey, ty);
    const __m256d off = _mm256_and_pd(
        _mm256_and_pd(_mm256_cmp_pd(rx, lo, _CMP_GT_OQ), _mm256_cmp_pd(rx, hi, _CMP_LT_OQ)),
        _mm256_and_pd(_mm256_cmp_pd(ry, lo, _CMP_GT_OQ), _mm256_cmp_pd(ry, hi, _CMP_LT_OQ)));
    const int ok = _mm256_movemask_pd(_mm256_and_pd(in, off));
    // Out-of-range lanes convert to garbage here; they are replaced below.
    const __m256i kx = _mm256_cvtepu32_epi64(_mm256_cvttpd_epi32(tx));
    const __m256i ky = _mm256_cvtepu32_epi64(_mm256_cvttpd_epi32(ty));
    const __m256i k = _mm256_or_si256(_mm256_slli_epi64(spread4(_mm256_sll_epi64(kx, sx)), 1),
                                      spread4(_mm256_sll_epi64(ky, sy)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(zk + v), k);
    if (ok == 0xF) {
      near[v] = near[v + 1] = near[v + 2] = near[v + 3] = 0;
    } else {
      for (int l = 0; l < 4; ++l) {
        const bool off_line = (ok >> l) & 1;
        near[v + l] = !off_line;
        if (!off_line) zk[v + l] = key.exact(lon[v + l], lat[v + l]);
      }
    }
  }
  detail::road_cell_keys_plain(key, lon + v, lat + v, n - v, zk + v, near + v);
}

// Lane-wise minimum and maximum of four vertices at a time, then of the lanes; any NaN (an
// unordered comparison of a vertex with itself) sends the road to the plain loop.
__attribute__((target("avx2"))) void bbox_avx2(const double* lon, const double* lat, size_t n, double box[4]) {
  if (n < 8) return detail::road_bbox_plain(lon, lat, n, box);
  __m256d x0 = _mm256_loadu_pd(lon), x1 = x0, y0 = _mm256_loadu_pd(lat), y1 = y0;
  __m256d nan = _mm256_or_pd(_mm256_cmp_pd(x0, x0, _CMP_UNORD_Q), _mm256_cmp_pd(y0, y0, _CMP_UNORD_Q));
  size_t v = 4;
  for (; v + 4 <= n; v += 4) {
    const __m256d x = _mm256_loadu_pd(lon + v), y = _mm256_loadu_pd(lat + v);
    x0 = _mm256_min_pd(x0, x), x1 = _mm256_max_pd(x1, x);
    y0 = _mm256_min_pd(y0, y), y1 = _mm256_max_pd(y1, y);
    nan = _mm256_or_pd(nan, _mm256_or_pd(_mm256_cmp_pd(x, x, _CMP_UNORD_Q), _mm256_cmp_pd(y, y, _CMP_UNORD_Q)));
  }
  if (v < n) {  // the last four vertices (overlapping some already seen: min and max do not mind)
    const __m256d x = _mm256_loadu_pd(lon + n - 4), y = _mm256_loadu_pd(lat + n - 4);
    x0 = _mm256_min_pd(x0, x), x1 = _mm256_max_pd(x1, x);
    y0 = _mm256_min_pd(y0, y), y1 = _mm256_max_pd(y1, y);
    nan = _mm256_or_pd(nan, _mm256_or_pd(_mm256_cmp_pd(x, x, _CMP_UNORD_Q), _mm256_cmp_pd(y, y, _CMP_UNORD_Q)));
  }
  if (_mm256_movemask_pd(nan) != 0) return detail::road_bbox_plain(lon, lat, n, box);
  alignas(32) double a[4], b[4], c[4], d[4];
  _mm256_store_pd(a, x0), _mm256_store_pd(b, y0), _mm256_store_pd(c, x1), _mm256_store_pd(d, y1);
  box[0] = std::min(std::min(a[0], a[1]), std::min(a[2], a[3]));
  box[1] = std::min(std::min(b[0], b[1]), std::min(b[2], b[3]));
  box[2] = std::max(std::max(c[0], c[1]), std::max(c[2], c[3]));
  box[3] = std::max(std::max(d[0], d[1]), std::max(d[2], d[3]));
}

}  // namespace
#endif

void road_bbox(const double* lon, const double* lat, size_t n, double box[4]) {
#ifdef GEOSHARD_HOST_AVX2
  if (cpu_has_avx2()) return bbox_avx2(lon, lat, n, box);
#endif
  detail::road_bbox_plain(lon, lat, n, box);
}

void road_cell_keys(const CellKeyer& key, const double* lon, const double* lat, size_t n, uint64_t* zk, char* near) {
#ifdef GEOSHARD_HOST_AVX2
  if (cpu_has_avx2()) return cell_keys_avx2(key, lon, lat, n, zk, near);
#endif
  detail::road_cell_keys_plain(key, lon, lat, n, zk, near);
}

}  // namespace geoshard::localise
