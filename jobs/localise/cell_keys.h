// The localiser's per-vertex keys and box: key_lo of the cell of the coverage's precision holding
// a point, one vertex at a time (CellKeyer) or for every vertex of a road at once
// (road_cell_keys), and a road's bounding box (road_bbox); the road-wide ones four lanes wide for
// AVX2 where the CPU has it (kernels/cpu.h). Both paths give the same keys, near flags and boxes
// (tests/localise/localise_exact_test.cpp LocaliseCellKeys.*).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/geohash.h"

namespace geoshard::localise {

// key_lo of the cell of the coverage's precision holding (lon, lat): geohash::zkey(lon, lat)
// with the bits below the cell cleared, exactly (half-open rule). The cell indices are estimated
// with one multiplication each (error < 1e-10 of a cell width); away from the grid lines (more
// than 1e-6 of a cell width) the estimate's integer part is exact; near one (or on it, or out of
// range), *near is set and the exact zkey decides. A point not near any grid line lies off every
// edge line of every block made of whole cells (and off lon = 180 and lat = 90).
struct CellKeyer {
  explicit CellKeyer(int p)
      : sx(32 - geohash::lon_bits(p)), sy(32 - geohash::lat_bits(p)),
        fx(static_cast<double>(geohash::columns(p)) / 360.0), fy(static_cast<double>(geohash::rows(p)) / 180.0),
        nx(static_cast<double>(geohash::columns(p))), ny(static_cast<double>(geohash::rows(p))),
        mask(~(~uint64_t{0} >> (5 * p))) {}
  __attribute__((always_inline)) uint64_t operator()(double lon, double lat, bool* near) const {
    const double ex = (lon + 180.0) * fx, ey = (lat + 90.0) * fy;
    if (ex >= 0.0 && ey >= 0.0 && ex < nx && ey < ny) {  // false for NaN
      const int64_t kx = static_cast<int64_t>(ex), ky = static_cast<int64_t>(ey);  // floor: both >= 0
      const double rx = ex - static_cast<double>(kx), ry = ey - static_cast<double>(ky);
      if (rx > 1e-6 && rx < 1.0 - 1e-6 && ry > 1e-6 && ry < 1.0 - 1e-6) {
        *near = false;
        // kx < 2^lon_bits, so kx << sx < 2^32 (likewise ky).
        return (geohash::detail::spread32(static_cast<uint32_t>(static_cast<uint64_t>(kx) << sx)) << 1) |
               geohash::detail::spread32(static_cast<uint32_t>(static_cast<uint64_t>(ky) << sy));
      }
    }
    *near = true;
    return exact(lon, lat);
  }
  __attribute__((noinline)) uint64_t exact(double lon, double lat) const { return geohash::zkey(lon, lat) & mask; }
  int sx, sy;
  double fx, fy, nx, ny;
  uint64_t mask;
};

// zk[v] = key(lon[v], lat[v], &near) and near[v] = that flag, for v < n. The AVX2 path works on
// four vertices at a time with the same products, comparisons and integer bit spreading as
// CellKeyer (no FMA; a cell index below 2^30 truncates alike in 32 and 64 bits) and hands the
// lanes that are near a line or out of range to CellKeyer::exact.
void road_cell_keys(const CellKeyer& key, const double* lon, const double* lat, size_t n, uint64_t* zk, char* near);

// The road's bounding box {min lon, min lat, max lon, max lat} over its n >= 1 vertices: the
// first vertex, then std::min / std::max with each next one (a NaN first coordinate stays, later
// NaNs are passed over). AVX2 where the CPU has it: min and max are exact, so for NaN-free roads
// the order of the lanes changes nothing the localiser reads (it may pick the other of -0.0 and
// +0.0, which compare and add alike); a road with a NaN takes the plain loop.
void road_bbox(const double* lon, const double* lat, size_t n, double box[4]);

namespace detail {
// The loops above without AVX2 (CellKeyer per vertex; std::min / std::max), for the tests.
void road_cell_keys_plain(const CellKeyer& key, const double* lon, const double* lat, size_t n, uint64_t* zk,
                          char* near);
void road_bbox_plain(const double* lon, const double* lat, size_t n, double box[4]);
}  // namespace detail

}  // namespace geoshard::localise
