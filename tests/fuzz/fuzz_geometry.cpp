// Fuzz target: the geometry half of ingest (jobs/ingest/geometry.h) on geometries parsed by
// GDAL from WKB, the encoding of GeoPackage and FlatGeobuf geometries.
// Input: byte 0 picks the path (even: a road, odd: an area), the rest is WKB. Checked: either a
// rejection with a reason the function documents, or a result that later jobs can trust --
// roads: parts of >= 2 points without consecutive duplicates, finite and in range; areas:
// closed rings of >= 4 finite in-range points inside the envelope, shells counter-clockwise,
// holes clockwise, and a valid polygon as GEOS sees it.
#include <ogr_geometry.h>

#include <cmath>
#include <memory>

#include "io/ogr_source.h"
#include "jobs/ingest/geometry.h"
#include "tests/fuzz/fuzz.h"

using namespace geoshard;
using geoshard::ingest::LonLat;

namespace {

bool in_range(const LonLat& p) {
  return std::isfinite(p.first) && std::isfinite(p.second) && p.first >= -180 && p.first <= 180 &&
         p.second >= -90 && p.second <= 90;
}

// Twice the signed area (shoelace, as ingest computes it) and whether its sign is certain: the
// rounding error of the sum is below n * eps * sum|terms|, so a smaller |sum| (a sliver, or
// subnormal coordinates) has no orientation in double precision.
struct Orientation {
  double twice_area;
  bool certain;
};
Orientation orientation(const std::vector<LonLat>& r) {
  double a = 0, abs_sum = 0;
  for (size_t i = 0; i + 1 < r.size(); ++i) {
    const double t = r[i].first * r[i + 1].second - r[i + 1].first * r[i].second;
    a += t;
    abs_sum += std::fabs(t);
  }
  return {a, std::fabs(a) > 4.0 * r.size() * 2.3e-16 * abs_sum && std::isnormal(a)};
}

// A rejection carries a message and one of the reasons both paths share, or the path's own.
void check_rejection(const ingest::Rejection& why, Reason own) {
  using R = Reason;
  FUZZ_CHECK(why.reason == R::kUnsupportedGeometry || why.reason == R::kEmptyGeometry ||
             why.reason == R::kNonFiniteCoordinate || why.reason == R::kCoordinateOutOfRange || why.reason == own);
  FUZZ_CHECK(!why.message.empty());
}

void check_road(const OGRGeometry* g) {
  ingest::RoadGeometry out;
  ingest::Rejection why;
  if (!ingest::road_geometry(g, out, why)) return check_rejection(why, Reason::kTooFewPoints);
  FUZZ_CHECK(!out.parts.empty() && out.parts.size() <= 65535);
  for (const auto& part : out.parts) {
    FUZZ_CHECK(part.size() >= 2);
    for (size_t i = 0; i < part.size(); ++i) {
      FUZZ_CHECK(in_range(part[i]));
      if (i) FUZZ_CHECK(part[i] != part[i - 1]);
    }
  }
}

void check_area(const OGRGeometry* g) {
  ingest::AreaGeometry out;
  ingest::Rejection why;
  if (!ingest::area_geometry(g, out, why)) return check_rejection(why, Reason::kUnrepairablePolygon);
  FUZZ_CHECK(!out.polygons.empty());
  OGRMultiPolygon rebuilt;
  for (const auto& rings : out.polygons) {
    OGRPolygon poly;
    for (size_t k = 0; k < rings.size(); ++k) {
      const auto& r = rings[k];
      FUZZ_CHECK(r.size() >= 4);
      FUZZ_CHECK(r.front() == r.back());
      for (const auto& p : r) {
        FUZZ_CHECK(in_range(p));
        FUZZ_CHECK(p.first >= out.min_lon && p.first <= out.max_lon && p.second >= out.min_lat && p.second <= out.max_lat);
      }
      const Orientation o = orientation(r);  // shell counter-clockwise, holes clockwise
      if (o.certain) FUZZ_CHECK(k == 0 ? o.twice_area > 0 : o.twice_area < 0);
      OGRLinearRing ring;
      for (const auto& p : r) ring.addPoint(p.first, p.second);
      poly.addRing(&ring);
    }
    rebuilt.addGeometry(&poly);
  }
  // What the localiser will read must be valid for GEOS (its exact clip assumes it).
  FUZZ_CHECK(rebuilt.IsValid());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool init = [] {
    gdal_init();
    return true;
  }();
  (void)init;
  if (size < 2) return 0;
  OGRGeometry* raw = nullptr;
  if (OGRGeometryFactory::createFromWkb(data + 1, nullptr, &raw, size - 1) != OGRERR_NONE || !raw) {
    gdal_last_error();
    return 0;  // not WKB: GDAL's reader refuses it (ingest sees no geometry then)
  }
  std::unique_ptr<OGRGeometry> g(raw);
  if (data[0] & 1) check_area(g.get());
  else check_road(g.get());
  gdal_last_error();
  return 0;
}
