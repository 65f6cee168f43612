// Hand-built road tables and area layers for the oracle's tests (and anyone else's): only the
// columns the geometry needs are filled consistently (ids, offsets, coordinates, cum_km, zkey,
// bounding boxes); names and classes get fixed test values the geometry does not read.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "io/area_table.h"
#include "io/road_table.h"
#include "kernels/geodesic.h"
#include "kernels/geohash.h"

namespace geoshard::oracle::testing {

using Pt = std::pair<double, double>;  // (lon, lat)
using Ring = std::vector<Pt>;          // closed or not; closed on insertion
using Poly = std::vector<Ring>;        // shell, then holes

// Road rows in insertion order (not sorted by zkey: the oracle does not need it).
class RoadBuilder {
 public:
  RoadBuilder() {
    t_.vertex_offset.push_back(0);
    t_.cum_km.push_back(0);
    t_.highway_classes = {""};
  }
  // Returns the row.
  uint64_t add(int64_t id, const std::vector<Pt>& pts) {
    const uint64_t row = t_.rows();
    t_.id.push_back(id);
    t_.part.push_back(0);
    t_.highway.push_back(0);
    t_.oneway.push_back(0);
    t_.name.push_back("");
    t_.maxspeed_kmh.push_back(NAN);
    t_.zkey.push_back(geohash::zkey(pts[0].first, pts[0].second));
    double m = 0;
    for (size_t k = 0; k < pts.size(); ++k) {
      t_.lon.push_back(pts[k].first);
      t_.lat.push_back(pts[k].second);
      if (k) m += haversine_m(pts[k - 1].first, pts[k - 1].second, pts[k].first, pts[k].second);
    }
    t_.vertex_offset.push_back(t_.lon.size());
    t_.cum_km.push_back(t_.cum_km.back() + m / 1000.0);
    return row;
  }
  const RoadTable& table() const { return t_; }

 private:
  RoadTable t_;
};

// Signed area (shoelace) of a closed ring.
inline double ring_signed_area(const Ring& r) {
  double s = 0;
  for (size_t i = 0; i + 1 < r.size(); ++i) s += r[i].first * r[i + 1].second - r[i + 1].first * r[i].second;
  return s / 2;
}

class LayerBuilder {
 public:
  explicit LayerBuilder(std::string name = "test") {
    l_.name = std::move(name);
    l_.polygon_offset.push_back(0);
    l_.ring_offset.push_back(0);
    l_.vertex_offset.push_back(0);
  }
  // Adds an area of one or more polygons; rings are closed and oriented (shell CCW, holes CW) as
  // the area table requires. Returns the area index.
  uint32_t add(const std::string& id, const std::vector<Poly>& polys) {
    const uint32_t a = static_cast<uint32_t>(l_.areas());
    l_.id.push_back(id);
    l_.area_name.push_back("area " + id);
    l_.repaired.push_back(0);
    double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    for (const Poly& p : polys) {
      for (size_t r = 0; r < p.size(); ++r) {
        Ring ring = p[r];
        if (ring.front() != ring.back()) ring.push_back(ring.front());
        const bool ccw = ring_signed_area(ring) > 0;
        if (ccw != (r == 0)) std::reverse(ring.begin(), ring.end());
        for (const Pt& v : ring) {
          l_.lon.push_back(v.first);
          l_.lat.push_back(v.second);
          x0 = std::min(x0, v.first);
          x1 = std::max(x1, v.first);
          y0 = std::min(y0, v.second);
          y1 = std::max(y1, v.second);
        }
        l_.vertex_offset.push_back(l_.lon.size());
      }
      l_.ring_offset.push_back(l_.vertex_offset.size() - 1);
    }
    l_.polygon_offset.push_back(l_.ring_offset.size() - 1);
    l_.min_lon.push_back(x0);
    l_.min_lat.push_back(y0);
    l_.max_lon.push_back(x1);
    l_.max_lat.push_back(y1);
    return a;
  }
  const AreaLayer& layer() const { return l_; }

 private:
  AreaLayer l_;
};

inline Ring box(double x0, double y0, double x1, double y1) { return {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}; }

}  // namespace geoshard::oracle::testing
