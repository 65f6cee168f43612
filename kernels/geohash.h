// Geohash grid: the default cell grid that geoshard uses as a proxy for "which areas can this
// road touch" (DESIGN.md, "The road-localisation method").
//
// The grid at precision p (0..12) splits lon [-180,180] into 2^ceil(5p/2) columns and lat
// [-90,90] into 2^floor(5p/2) rows; the geohash string of a cell is its 5p bits in base 32,
// the bits alternating lon, lat, lon, ... starting with lon. Precision 0 is the whole world.
//
// Z-order keys. zkey(lon, lat) interleaves a 32-bit column index with a 32-bit row index
// (lon bit first, bit 63 = most significant lon bit) -- the geohash bit order carried on to
// 64 bits. Hence:
//   * the cell of precision p containing a point is the top 5p bits of its key;
//   * a cell of any precision is the closed key interval [key_lo(), key_hi()], so cells of
//     different precisions nest and compare as integer ranges (a coverage layer is a sorted
//     list of disjoint key intervals, one binary search per lookup).
//
// Exactness. Every grid line at every precision, down to the 32-bit level, is a dyadic number
// -180 + k*45*2^-29 (lon) or -90 + k*45*2^-30 (lat) that needs at most 38 significant bits, so
// it is exactly representable as a double. zkey() first estimates the index with one floating
// multiplication and then corrects it by exact comparisons against these exact lines, so the
// cell assignment is exactly the half-open rule below -- no rounding error at all:
//   * cells are half-open [west, east) x [south, north);
//   * lon = +180 falls in the last column and lat = +90 in the top row (the closing lines of
//     the world belong to the cells just inside them).
// A point exactly on a grid line therefore belongs to the cell east/north of the line. The
// segment walk (segment_walk.h) uses the same rule for segments lying along grid lines.
//
// Preconditions (checked by the caller, e.g. at ingest): lon in [-180, 180], lat in [-90, 90],
// both finite. Out-of-range values are clamped into the first/last column/row and NaN maps to
// index 0 -- deterministic, but meaningless.
//
// Neighbours wrap across the +-180 meridian (the grid is a cylinder in lon). Across a pole there
// is no neighbour: the N, NE, NW neighbours of a top-row cell (and S, SE, SW of a bottom-row
// cell) are Cell::invalid().
//
// Everything marked GEOSHARD_HD is callable from CUDA kernels: no exceptions, no allocation.
// The std::string conveniences at the bottom are host-only.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kernels/hd.h"

namespace geoshard::geohash {

inline constexpr int kMaxPrecision = 12;

// Number of lon (column) bits and lat (row) bits of a precision-p geohash.
GEOSHARD_HD_INLINE constexpr int lon_bits(int precision) { return (5 * precision + 1) / 2; }
GEOSHARD_HD_INLINE constexpr int lat_bits(int precision) { return (5 * precision) / 2; }
// Cells per axis at precision p: 2^ceil(5p/2) columns, 2^floor(5p/2) rows.
GEOSHARD_HD_INLINE constexpr uint64_t columns(int precision) { return uint64_t{1} << lon_bits(precision); }
GEOSHARD_HD_INLINE constexpr uint64_t rows(int precision) { return uint64_t{1} << lat_bits(precision); }

namespace detail {

// The 32-bit grid: column k spans [lon_line32(k), lon_line32(k+1)), k in [0, 2^32).
inline constexpr uint64_t kMax32 = 0xFFFFFFFFull;

// Exact: k*45 < 2^39 is an exact integer, times 2^-29 is exact, and the sum with -180 is a
// multiple of 2^-29 below 2^8 in magnitude (< 2^38 units), hence exact as well.
GEOSHARD_HD_INLINE constexpr double lon_line32(uint64_t k) {
  return static_cast<double>(k * 45u) * (1.0 / 536870912.0) - 180.0;  // 2^-29
}
GEOSHARD_HD_INLINE constexpr double lat_line32(uint64_t k) {
  return static_cast<double>(k * 45u) * (1.0 / 1073741824.0) - 90.0;  // 2^-30
}

// Index k of the 32-bit column with lon_line32(k) <= lon < lon_line32(k+1) (clamped).
// The floating estimate is off by at most one; the loops fix it with exact comparisons.
GEOSHARD_HD_INLINE uint32_t lon_index32(double lon) {
  double f = floor((lon + 180.0) * (4294967296.0 / 360.0));
  if (!(f >= 0.0)) f = 0.0;  // also catches NaN
  if (f > 4294967295.0) f = 4294967295.0;
  uint64_t k = static_cast<uint64_t>(f);
  while (k > 0 && lon < lon_line32(k)) --k;
  while (k < kMax32 && lon >= lon_line32(k + 1)) ++k;
  return static_cast<uint32_t>(k);
}
GEOSHARD_HD_INLINE uint32_t lat_index32(double lat) {
  double f = floor((lat + 90.0) * (4294967296.0 / 180.0));
  if (!(f >= 0.0)) f = 0.0;
  if (f > 4294967295.0) f = 4294967295.0;
  uint64_t k = static_cast<uint64_t>(f);
  while (k > 0 && lat < lat_line32(k)) --k;
  while (k < kMax32 && lat >= lat_line32(k + 1)) ++k;
  return static_cast<uint32_t>(k);
}

// Bit interleaving: spread the 32 bits of v to the even bit positions of a 64-bit word. Forced
// inline: the localiser's per-vertex cell keys (jobs/localise/cell_keys.h) call it in a hot loop
// where GCC's -O2 left it a call.
GEOSHARD_HD_FORCEINLINE constexpr uint64_t spread32(uint32_t v) {
  uint64_t x = v;
  x = (x | (x << 16)) & 0x0000FFFF0000FFFFull;
  x = (x | (x << 8)) & 0x00FF00FF00FF00FFull;
  x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0Full;
  x = (x | (x << 2)) & 0x3333333333333333ull;
  x = (x | (x << 1)) & 0x5555555555555555ull;
  return x;
}
// Inverse of spread32: gather the even bits of x.
GEOSHARD_HD_INLINE constexpr uint32_t compact32(uint64_t x) {
  x &= 0x5555555555555555ull;
  x = (x | (x >> 1)) & 0x3333333333333333ull;
  x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0Full;
  x = (x | (x >> 4)) & 0x00FF00FF00FF00FFull;
  x = (x | (x >> 8)) & 0x0000FFFF0000FFFFull;
  x = (x | (x >> 16)) & 0x00000000FFFFFFFFull;
  return static_cast<uint32_t>(x);
}
// Lon goes to the odd positions so that bit 63 is the first lon bit (geohash order).
GEOSHARD_HD_INLINE constexpr uint64_t interleave(uint32_t ix, uint32_t iy) {
  return (spread32(ix) << 1) | spread32(iy);
}

GEOSHARD_HD_INLINE constexpr char base32_char(unsigned v) {
  return "0123456789bcdefghjkmnpqrstuvwxyz"[v & 31u];
}
// Base-32 digit value of c, or -1. Upper case is accepted as well (geohashes are case-blind).
GEOSHARD_HD_INLINE constexpr int base32_value(char c) {
  if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (c >= '0' && c <= '9') return c - '0';
  // b..z without a, i, l, o.
  constexpr const char* kLetters = "bcdefghjkmnpqrstuvwxyz";
  for (int i = 0; i < 22; ++i)
    if (kLetters[i] == c) return 10 + i;
  return -1;
}

}  // namespace detail

// 64-bit Z-order key of a point (see the header comment): 32 lon bits interleaved with 32 lat
// bits, lon first. Exact half-open cell assignment; lon=+180 -> last column, lat=+90 -> top row.
// Precondition: finite lon in [-180,180], lat in [-90,90].
GEOSHARD_HD_INLINE uint64_t zkey(double lon, double lat) {
  return detail::interleave(detail::lon_index32(lon), detail::lat_index32(lat));
}

// Cell edges in degrees, exact (dyadic, see above). The cell is [west,east) x [south,north),
// closed on the east (north) side only for the last column (top row).
struct Bounds {
  double west, south, east, north;
};

enum class Direction : int { N = 0, NE = 1, E = 2, SE = 3, S = 4, SW = 5, W = 6, NW = 7 };

GEOSHARD_HD_INLINE constexpr Direction opposite(Direction d) {
  return static_cast<Direction>((static_cast<int>(d) + 4) & 7);
}
// Column/row steps of a direction (N = +1 row, E = +1 column).
GEOSHARD_HD_INLINE constexpr int direction_dx(Direction d) {
  constexpr int kDx[8] = {0, 1, 1, 1, 0, -1, -1, -1};
  return kDx[static_cast<int>(d) & 7];
}
GEOSHARD_HD_INLINE constexpr int direction_dy(Direction d) {
  constexpr int kDy[8] = {1, 1, 0, -1, -1, -1, 0, 1};
  return kDy[static_cast<int>(d) & 7];
}

enum class DecodeStatus : int {
  kOk = 0,
  kTooLong = 1,      // more than kMaxPrecision characters
  kInvalidChar = 2,  // a character outside the geohash base-32 alphabet (a, i, l, o excluded)
};

// A geohash cell: `bits` holds the 5*precision geohash bits right-aligned (the integer value
// of the geohash string), precision in [0, 12]. precision == -1 marks an invalid cell
// (Cell::invalid(): no neighbour across a pole, parent of the world, ...).
//
// Ordering: cells order by (key_lo, precision), i.e. a parent sorts before its children and
// cells of one precision sort in Z order -- the order of a coverage layer.
struct Cell {
  uint64_t bits = 0;
  int precision = 0;

  GEOSHARD_HD static constexpr Cell invalid() { return Cell{0, -1}; }
  GEOSHARD_HD static constexpr Cell world() { return Cell{0, 0}; }

  GEOSHARD_HD constexpr bool is_valid() const {
    return precision >= 0 && precision <= kMaxPrecision &&
           (precision == 0 ? bits == 0 : (bits >> (5 * precision)) == 0);
  }

  // Smallest and largest 64-bit key inside the cell (closed interval).
  GEOSHARD_HD constexpr uint64_t key_lo() const {
    return precision == 0 ? 0 : bits << (64 - 5 * precision);
  }
  GEOSHARD_HD constexpr uint64_t key_hi() const {
    return precision == 0 ? ~uint64_t{0} : key_lo() | (~uint64_t{0} >> (5 * precision));
  }

  // The cell of `precision` whose key range holds `key` (its top 5*precision bits).
  GEOSHARD_HD static constexpr Cell from_key(uint64_t key, int precision) {
    return Cell{precision == 0 ? 0 : key >> (64 - 5 * precision), precision};
  }
  // The cell containing the point, half-open rule (see header). Same preconditions as zkey.
  GEOSHARD_HD static Cell from_point(double lon, double lat, int precision) {
    return from_key(zkey(lon, lat), precision);
  }
  // The cell in column ix (0 = west of -180 + width) and row iy (0 = southmost) at precision.
  // Precondition: ix < columns(precision), iy < rows(precision).
  GEOSHARD_HD static constexpr Cell from_xy(uint64_t ix, uint64_t iy, int precision) {
    const uint32_t x32 = static_cast<uint32_t>(ix << (32 - lon_bits(precision)));
    const uint32_t y32 = static_cast<uint32_t>(iy << (32 - lat_bits(precision)));
    return from_key(detail::interleave(x32, y32), precision);
  }

  // Column and row of this cell in its own precision's grid.
  GEOSHARD_HD constexpr uint64_t ix() const {
    return static_cast<uint64_t>(detail::compact32(key_lo() >> 1)) >> (32 - lon_bits(precision));
  }
  GEOSHARD_HD constexpr uint64_t iy() const {
    return static_cast<uint64_t>(detail::compact32(key_lo())) >> (32 - lat_bits(precision));
  }

  // Exact cell edges (dyadic numbers, no rounding).
  GEOSHARD_HD constexpr Bounds bounds() const {
    const uint64_t sx = 32 - lon_bits(precision), sy = 32 - lat_bits(precision);
    const uint64_t x = ix(), y = iy();
    return Bounds{detail::lon_line32(x << sx), detail::lat_line32(y << sy),
                  detail::lon_line32((x + 1) << sx), detail::lat_line32((y + 1) << sy)};
  }

  // Parent (precision - 1); the parent of the world cell is invalid.
  GEOSHARD_HD constexpr Cell parent() const {
    return precision <= 0 ? invalid() : Cell{bits >> 5, precision - 1};
  }
  // Child i (0..31, the next geohash character's value); invalid past kMaxPrecision.
  GEOSHARD_HD constexpr Cell child(int i) const {
    return precision >= kMaxPrecision ? invalid()
                                      : Cell{(bits << 5) | static_cast<uint64_t>(i & 31), precision + 1};
  }
  // True if `other` is this cell or lies inside it (key range nesting).
  GEOSHARD_HD constexpr bool contains(Cell other) const {
    return other.precision >= precision && other.key_lo() >= key_lo() && other.key_hi() <= key_hi();
  }
  // True if the point's key lies in this cell (half-open rule, exact).
  GEOSHARD_HD bool contains_point(double lon, double lat) const {
    const uint64_t k = zkey(lon, lat);
    return k >= key_lo() && k <= key_hi();
  }

  // Neighbour in direction d at the same precision; wraps in lon, invalid across a pole.
  GEOSHARD_HD constexpr Cell neighbour(Direction d) const {
    const uint64_t ncol = columns(precision), nrow = rows(precision);
    const int64_t y = static_cast<int64_t>(iy()) + direction_dy(d);
    if (y < 0 || y >= static_cast<int64_t>(nrow)) return invalid();
    const uint64_t x = (ix() + ncol + static_cast<uint64_t>(static_cast<int64_t>(direction_dx(d)))) & (ncol - 1);
    return from_xy(x, static_cast<uint64_t>(y), precision);
  }
  // All 8 neighbours in Direction order (N, NE, E, SE, S, SW, W, NW); entries across a pole are
  // invalid. Returns the number of valid entries. At precisions 0 and 1 some neighbours coincide
  // (e.g. E == W == self at precision 0).
  GEOSHARD_HD int neighbours(Cell out[8]) const {
    int n = 0;
    for (int d = 0; d < 8; ++d) {
      out[d] = neighbour(static_cast<Direction>(d));
      n += out[d].is_valid() ? 1 : 0;
    }
    return n;
  }

  // Writes the geohash (precision chars) plus a terminating NUL into out[precision + 1].
  GEOSHARD_HD void to_chars(char* out) const {
    for (int i = 0; i < precision; ++i)
      out[i] = detail::base32_char(static_cast<unsigned>(bits >> (5 * (precision - 1 - i))));
    out[precision < 0 ? 0 : precision] = '\0';
  }

  friend GEOSHARD_HD constexpr bool operator==(Cell a, Cell b) {
    return a.bits == b.bits && a.precision == b.precision;
  }
  friend GEOSHARD_HD constexpr bool operator!=(Cell a, Cell b) { return !(a == b); }
  friend GEOSHARD_HD constexpr bool operator<(Cell a, Cell b) {
    return a.key_lo() != b.key_lo() ? a.key_lo() < b.key_lo() : a.precision < b.precision;
  }
  friend GEOSHARD_HD constexpr bool operator>(Cell a, Cell b) { return b < a; }
  friend GEOSHARD_HD constexpr bool operator<=(Cell a, Cell b) { return !(b < a); }
  friend GEOSHARD_HD constexpr bool operator>=(Cell a, Cell b) { return !(a < b); }
};

// Geohash of the point at `precision` into out[precision + 1] (NUL-terminated). Device-safe.
GEOSHARD_HD_INLINE void encode(double lon, double lat, int precision, char* out) {
  Cell::from_point(lon, lat, precision).to_chars(out);
}

// Parses n characters of s into *out. Empty input is the world cell (precision 0).
// On error *out is left unchanged. Device-safe, no exceptions.
GEOSHARD_HD_INLINE DecodeStatus decode(const char* s, size_t n, Cell* out) {
  if (n > static_cast<size_t>(kMaxPrecision)) return DecodeStatus::kTooLong;
  uint64_t bits = 0;
  for (size_t i = 0; i < n; ++i) {
    const int v = detail::base32_value(s[i]);
    if (v < 0) return DecodeStatus::kInvalidChar;
    bits = (bits << 5) | static_cast<uint64_t>(v);
  }
  *out = Cell{bits, static_cast<int>(n)};
  return DecodeStatus::kOk;
}

// ---- Host-only conveniences (geohash.cpp) ----

// Geohash string of the point; throws std::invalid_argument if precision is outside 0..12.
std::string encode(double lon, double lat, int precision);
// Geohash string of a valid cell ("" for the world cell).
std::string to_string(Cell cell);
// Parses a geohash (either case); throws std::invalid_argument naming the bad character and
// its position, or the length, on error.
Cell decode(std::string_view geohash);

}  // namespace geoshard::geohash
