// A random, valid, sorted road table for tests (no files involved).
#pragma once

#include <algorithm>
#include <numeric>
#include <random>

#include "io/road_table.h"
#include "kernels/geodesic.h"
#include "kernels/geohash.h"

namespace geoshard::testing {

inline RoadTable random_road_table(size_t rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> ulon(100.0, 105.0), ulat(0.0, 5.0), step(-0.002, 0.002);
  struct Road { std::vector<double> x, y; int64_t id; };
  std::vector<Road> roads(rows);
  for (size_t i = 0; i < rows; ++i) {
    Road& r = roads[i];
    r.id = static_cast<int64_t>(i * 7 + 3);
    const int n = 2 + static_cast<int>(rng() % 10);
    double x = ulon(rng), y = ulat(rng);
    for (int k = 0; k < n; ++k) {
      r.x.push_back(x);
      r.y.push_back(y);
      x += step(rng) + 1e-6;
      y += step(rng);
    }
  }
  std::sort(roads.begin(), roads.end(), [](const Road& a, const Road& b) {
    const uint64_t ka = geohash::zkey(a.x[0], a.y[0]), kb = geohash::zkey(b.x[0], b.y[0]);
    return ka != kb ? ka < kb : a.id < b.id;
  });
  RoadTable t;
  t.highway_classes = {"primary", "residential"};
  t.vertex_offset.push_back(0);
  t.cum_km.push_back(0);
  for (size_t i = 0; i < rows; ++i) {
    const Road& r = roads[i];
    t.id.push_back(r.id);
    t.part.push_back(0);
    t.highway.push_back(static_cast<uint16_t>(i % 2));
    t.oneway.push_back(static_cast<int8_t>(i % 3) - 1);
    t.name.push_back(i % 5 ? "Jalan " + std::to_string(i) : "");
    t.maxspeed_kmh.push_back(i % 4 ? 50.0f : std::nanf(""));
    t.zkey.push_back(geohash::zkey(r.x[0], r.y[0]));
    t.lon.insert(t.lon.end(), r.x.begin(), r.x.end());
    t.lat.insert(t.lat.end(), r.y.begin(), r.y.end());
    t.vertex_offset.push_back(t.lon.size());
    t.cum_km.push_back(t.cum_km.back() + polyline_length_m(r.x.data(), r.y.data(), r.x.size()) / 1000.0);
    if (i % 7 == 0) {
      t.variant_row.push_back(i);
      t.variant_lang.push_back("ms");
      t.variant_name.push_back("Jalan " + std::to_string(i));
    }
  }
  return t;
}

}  // namespace geoshard::testing
