// Property tests of the geohash grid (kernels/geohash.h), s2cell_id_test.cc style: each
// property is checked over >= 100,000 random cases with fixed seeds.
#include "kernels/geohash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/kernels/test_util.h"

namespace geoshard::geohash {
namespace {

using geoshard::testing::uniform;
using geoshard::testing::uniform_int;

constexpr int kCases = 100000;

// True if (lon, lat) lies in the half-open cell bounds (closed at +180 / +90).
bool in_halfopen(const Bounds& b, double lon, double lat) {
  const bool x_ok = b.west <= lon && (lon < b.east || (lon == 180.0 && b.east == 180.0));
  const bool y_ok = b.south <= lat && (lat < b.north || (lat == 90.0 && b.north == 90.0));
  return x_ok && y_ok;
}

// A random point; a quarter of them snapped exactly onto a grid line of a random precision
// (lon, lat or both), a few onto the world's edges.
void random_point(std::mt19937_64& rng, double& lon, double& lat) {
  lon = uniform(rng, -180.0, 180.0);
  lat = uniform(rng, -90.0, 90.0);
  const int kind = static_cast<int>(uniform_int(rng, 0, 15));
  const int p = static_cast<int>(uniform_int(rng, 0, kMaxPrecision));
  if (kind == 0 || kind == 2) lon = detail::lon_line32(static_cast<uint64_t>(uniform_int(rng, 0, columns(p))) << (32 - lon_bits(p)));
  if (kind == 1 || kind == 2) lat = detail::lat_line32(static_cast<uint64_t>(uniform_int(rng, 0, rows(p))) << (32 - lat_bits(p)));
  if (kind == 3) lon = uniform_int(rng, 0, 1) ? 180.0 : -180.0;
  if (kind == 4) lat = uniform_int(rng, 0, 1) ? 90.0 : -90.0;
}

Cell random_cell(std::mt19937_64& rng, int min_p, int max_p) {
  const int p = static_cast<int>(uniform_int(rng, min_p, max_p));
  const uint64_t bits = p == 0 ? 0 : (rng() >> (64 - 5 * p));
  return Cell{bits, p};
}

TEST(Geohash, KnownValues) {
  // Wikipedia's example and a classic long one.
  EXPECT_EQ(encode(-5.6, 42.6, 5), "ezs42");
  EXPECT_EQ(encode(10.40744, 57.64911, 11), "u4pruydqqvj");
  EXPECT_EQ(encode(0.0, 0.0, 1), "s");     // first cell NE of (0, 0)
  EXPECT_EQ(encode(-180.0, -90.0, 3), "000");
  EXPECT_EQ(encode(180.0, 90.0, 3), "zzz");  // closing lines belong to the last cells
  EXPECT_EQ(encode(12.3, 45.6, 0), "");
  const Bounds b = decode("ezs42").bounds();
  EXPECT_LE(b.west, -5.6);
  EXPECT_GT(b.east, -5.6);
  EXPECT_LE(b.south, 42.6);
  EXPECT_GT(b.north, 42.6);
  // Cell sizes: "ezs42" is 4.39 km-ish: 360/2^13 by 180/2^12 degrees.
  EXPECT_EQ(b.east - b.west, 360.0 / 8192);
  EXPECT_EQ(b.north - b.south, 180.0 / 4096);
  EXPECT_EQ(decode("EZS42"), decode("ezs42"));
}

TEST(Geohash, CellsPerAxis) {
  for (int p = 0; p <= kMaxPrecision; ++p) {
    EXPECT_EQ(lon_bits(p) + lat_bits(p), 5 * p);
    EXPECT_EQ(columns(p) * rows(p), uint64_t{1} << (5 * p));
    EXPECT_EQ(lon_bits(p), (5 * p + 1) / 2);  // ceil(5p/2)
  }
}

TEST(Geohash, EncodeDecodeRoundTripEveryPrecision) {
  std::mt19937_64 rng(1);
  char buf[kMaxPrecision + 1];
  for (int i = 0; i < kCases; ++i) {
    double lon, lat;
    random_point(rng, lon, lat);
    const uint64_t key = zkey(lon, lat);
    for (int p = 1; p <= kMaxPrecision; ++p) {
      const Cell cell = Cell::from_point(lon, lat, p);
      ASSERT_TRUE(cell.is_valid());
      encode(lon, lat, p, buf);
      ASSERT_EQ(std::strlen(buf), static_cast<size_t>(p));
      Cell decoded;
      ASSERT_EQ(decode(buf, p, &decoded), DecodeStatus::kOk);
      ASSERT_EQ(decoded, cell) << buf;
      ASSERT_TRUE(in_halfopen(decoded.bounds(), lon, lat)) << lon << " " << lat << " " << buf;
      ASSERT_GE(key, cell.key_lo());
      ASSERT_LE(key, cell.key_hi());
      // A geohash is a prefix of the longer ones of the same point.
      if (p > 1) {
        ASSERT_EQ(cell.parent(), Cell::from_point(lon, lat, p - 1));
      }
    }
    if (i % 10 == 0) {  // host string API (slower): every 10th point
      const std::string s = encode(lon, lat, kMaxPrecision);
      ASSERT_EQ(to_string(decode(s)), s);
    }
  }
}

TEST(Geohash, ZkeyIsExactHalfOpen) {
  // zkey against its definition on the 32-bit grid: index k <=> line(k) <= v < line(k+1).
  std::mt19937_64 rng(2);
  for (int i = 0; i < kCases; ++i) {
    const uint64_t k = static_cast<uint64_t>(uniform_int(rng, 0, detail::kMax32));
    const double line = detail::lon_line32(k);
    ASSERT_EQ(detail::lon_index32(line), k);
    if (k > 0) {
      ASSERT_EQ(detail::lon_index32(std::nextafter(line, -1e9)), k - 1);
    }
    const double mid = line + 0.5 * (detail::lon_line32(k + 1) - line);
    ASSERT_EQ(detail::lon_index32(mid), k);
    const double lat = detail::lat_line32(k);
    ASSERT_EQ(detail::lat_index32(lat), k);
    if (k > 0) {
      ASSERT_EQ(detail::lat_index32(std::nextafter(lat, -1e9)), k - 1);
    }
    // Bit layout: lon bit first.
    const uint64_t key = zkey(line, lat);
    ASSERT_EQ(detail::compact32(key >> 1), k);
    ASSERT_EQ(detail::compact32(key), k);
  }
  // World edges.
  EXPECT_EQ(detail::lon_index32(-180.0), 0u);
  EXPECT_EQ(detail::lon_index32(180.0), detail::kMax32);
  EXPECT_EQ(detail::lat_index32(-90.0), 0u);
  EXPECT_EQ(detail::lat_index32(90.0), detail::kMax32);
  EXPECT_EQ(zkey(180.0, 90.0), ~uint64_t{0});
  EXPECT_EQ(zkey(-180.0, -90.0), 0u);
  EXPECT_EQ(detail::lon_index32(std::nextafter(180.0, 0.0)), detail::kMax32);
}

TEST(Geohash, ZkeyConsistentWithBounds) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < kCases; ++i) {
    double lon, lat;
    random_point(rng, lon, lat);
    const uint64_t key = zkey(lon, lat);
    for (int p = 0; p <= kMaxPrecision; ++p) {
      const Cell cell = Cell::from_key(key, p);
      const Bounds b = cell.bounds();
      ASSERT_TRUE(in_halfopen(b, lon, lat)) << p << " " << lon << " " << lat;
      ASSERT_TRUE(cell.contains_point(lon, lat));
      // The cell's own corners: south-west corner is inside, the others only at the world edge.
      ASSERT_EQ(Cell::from_point(b.west, b.south, p), cell);
    }
  }
}

TEST(Geohash, ParentChildNesting) {
  std::mt19937_64 rng(4);
  for (int i = 0; i < kCases; ++i) {
    const Cell cell = random_cell(rng, 0, kMaxPrecision - 1);
    ASSERT_TRUE(cell.is_valid());
    ASSERT_LE(cell.key_lo(), cell.key_hi());
    const Bounds b = cell.bounds();
    uint64_t expect_lo = cell.key_lo();
    for (int c = 0; c < 32; ++c) {
      const Cell child = cell.child(c);
      ASSERT_TRUE(child.is_valid());
      ASSERT_EQ(child.parent(), cell);
      ASSERT_TRUE(cell.contains(child));
      ASSERT_FALSE(child.contains(cell));
      ASSERT_LT(cell, child);
      // Children partition the parent's key range, in order.
      ASSERT_EQ(child.key_lo(), expect_lo);
      expect_lo = child.key_hi() + 1;
      const Bounds cb = child.bounds();
      ASSERT_TRUE(cb.west >= b.west && cb.east <= b.east && cb.south >= b.south && cb.north <= b.north);
      ASSERT_EQ(Cell::from_key(child.key_lo(), cell.precision), cell);
      ASSERT_EQ(Cell::from_key(child.key_hi(), cell.precision), cell);
    }
    ASSERT_EQ(expect_lo - 1, cell.key_hi());  // wraps to 0 for the world cell: ~0 + 1 - 1
    // Non-nesting: a random other cell of the same precision is disjoint.
    const Cell other = Cell::from_key(rng(), cell.precision);
    if (other != cell) {
      ASSERT_TRUE(other.key_hi() < cell.key_lo() || other.key_lo() > cell.key_hi());
      ASSERT_FALSE(cell.contains(other));
    }
  }
  EXPECT_FALSE(Cell::world().parent().is_valid());
  EXPECT_FALSE(Cell::from_key(0, kMaxPrecision).child(0).is_valid());
  EXPECT_EQ(Cell::world().key_lo(), 0u);
  EXPECT_EQ(Cell::world().key_hi(), ~uint64_t{0});
}

TEST(Geohash, CellIndicesRoundTrip) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < kCases; ++i) {
    const Cell cell = random_cell(rng, 0, kMaxPrecision);
    ASSERT_LT(cell.ix(), columns(cell.precision));
    ASSERT_LT(cell.iy(), rows(cell.precision));
    ASSERT_EQ(Cell::from_xy(cell.ix(), cell.iy(), cell.precision), cell);
    const Bounds b = cell.bounds();
    ASSERT_EQ(b.east - b.west, 360.0 / static_cast<double>(columns(cell.precision)));
    ASSERT_EQ(b.north - b.south, 180.0 / static_cast<double>(rows(cell.precision)));
    ASSERT_EQ(b.west, -180.0 + static_cast<double>(cell.ix()) * (b.east - b.west));
  }
}

TEST(Geohash, NeighboursAdjacentSymmetricAndWrapping) {
  std::mt19937_64 rng(6);
  int wraps = 0, polar = 0;
  for (int i = 0; i < kCases; ++i) {
    Cell cell = random_cell(rng, 1, kMaxPrecision);
    // Bias a third of the cases onto the antimeridian columns and the polar rows.
    const uint64_t ncol = columns(cell.precision), nrow = rows(cell.precision);
    if (i % 3 == 1) cell = Cell::from_xy(uniform_int(rng, 0, 1) ? 0 : ncol - 1, cell.iy(), cell.precision);
    if (i % 3 == 2) cell = Cell::from_xy(cell.ix(), uniform_int(rng, 0, 1) ? 0 : nrow - 1, cell.precision);
    Cell nb[8];
    const int n_valid = cell.neighbours(nb);
    int expect_valid = 8;
    if (cell.iy() == 0 || cell.iy() == nrow - 1) expect_valid = (nrow == 1) ? 2 : 5;
    ASSERT_EQ(n_valid, expect_valid);
    const Bounds b = cell.bounds();
    for (int d = 0; d < 8; ++d) {
      const Direction dir = static_cast<Direction>(d);
      const int64_t ny = static_cast<int64_t>(cell.iy()) + direction_dy(dir);
      if (ny < 0 || ny >= static_cast<int64_t>(nrow)) {
        ASSERT_FALSE(nb[d].is_valid());
        ++polar;
        continue;
      }
      ASSERT_TRUE(nb[d].is_valid());
      ASSERT_EQ(nb[d].precision, cell.precision);
      ASSERT_EQ(nb[d], cell.neighbour(dir));
      // Symmetric: the opposite neighbour of the neighbour is the cell.
      ASSERT_EQ(nb[d].neighbour(opposite(dir)), cell);
      // Adjacent: shares an edge or corner, lon taken modulo 360.
      const Bounds nbb = nb[d].bounds();
      auto same_lon = [](double a, double c) { return a == c || std::fabs(a - c) == 360.0; };
      const int dx = direction_dx(dir), dy = direction_dy(dir);
      if (dx == 1) {
        ASSERT_TRUE(same_lon(nbb.west, b.east));
      }
      if (dx == -1) {
        ASSERT_TRUE(same_lon(nbb.east, b.west));
      }
      if (dx == 0) {
        ASSERT_EQ(nbb.west, b.west);
      }
      if (dy == 1) {
        ASSERT_EQ(nbb.south, b.north);
      }
      if (dy == -1) {
        ASSERT_EQ(nbb.north, b.south);
      }
      if (dy == 0) {
        ASSERT_EQ(nbb.south, b.south);
      }
      if (dx != 0 && std::fabs(nbb.west - b.west) > 180.0) ++wraps;
    }
  }
  EXPECT_GT(wraps, 1000);
  EXPECT_GT(polar, 1000);
  // Concrete wrap: the cell east of the last column is column 0, same row.
  const Cell east_edge = Cell::from_point(179.99, 10.0, 5);
  EXPECT_EQ(east_edge.neighbour(Direction::E), Cell::from_point(-179.99, 10.0, 5));
  EXPECT_FALSE(Cell::from_point(0.0, 90.0, 5).neighbour(Direction::N).is_valid());
  EXPECT_FALSE(Cell::from_point(0.0, -90.0, 5).neighbour(Direction::SW).is_valid());
}

TEST(Geohash, DecodeErrors) {
  Cell c{123, 2};
  EXPECT_EQ(decode("u4a", 3, &c), DecodeStatus::kInvalidChar);
  EXPECT_EQ(c, (Cell{123, 2}));  // unchanged on error
  for (const char* bad : {"a", "i", "l", "o", "u4 ", "-", "u4pruydqqvj!"})
    EXPECT_EQ(decode(bad, std::strlen(bad), &c), DecodeStatus::kInvalidChar) << bad;
  EXPECT_EQ(decode("0123456789bcd", 13, &c), DecodeStatus::kTooLong);
  EXPECT_EQ(decode("", 0, &c), DecodeStatus::kOk);
  EXPECT_EQ(c, Cell::world());
  try {
    decode(std::string_view("u4pai"));
    FAIL() << "no throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'a' at position 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(decode(std::string_view("0123456789bcd")), std::invalid_argument);
  EXPECT_THROW(encode(0.0, 0.0, 13), std::invalid_argument);
  EXPECT_THROW(encode(0.0, 0.0, -1), std::invalid_argument);
}

TEST(Geohash, OrderingIsZOrderParentsFirst) {
  std::mt19937_64 rng(7);
  std::vector<Cell> cells;
  for (int i = 0; i < kCases; ++i) cells.push_back(random_cell(rng, 0, kMaxPrecision));
  std::sort(cells.begin(), cells.end());
  for (size_t i = 1; i < cells.size(); ++i) {
    const Cell a = cells[i - 1], b = cells[i];
    ASSERT_LE(a.key_lo(), b.key_lo());
    if (a.key_lo() == b.key_lo()) {
      ASSERT_LE(a.precision, b.precision);
    }
    // Sorted disjoint-or-nested: if b starts inside a, a contains b.
    if (b.key_lo() <= a.key_hi() && a != b) {
      ASSERT_TRUE(a.contains(b));
    }
  }
}

}  // namespace
}  // namespace geoshard::geohash
