// Streaming check of a region written by geoshard::synth::generate, at any size (30M segments
// included): reads roads.fgb feature by feature and areas.gpkg layer counts, and prints
// segments, roads, connectors, bbox, road-km and road-km per geohash-5 cell (max/min, percentiles).
//   synth_check DIR [EXPECTED_SEGMENTS]      exit 1 when a check fails
#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "jobs/synth/synth.h"
#include "kernels/geodesic.h"
#include "kernels/geohash.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [EXPECTED_SEGMENTS]\n", argv[0]);
    return 2;
  }
  GDALAllRegister();
  const std::string dir = argv[1];
  int bad = 0;
  GDALDatasetUniquePtr ds(GDALDataset::Open((dir + "/roads.fgb").c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  if (!ds) {
    std::fprintf(stderr, "cannot open %s/roads.fgb\n", dir.c_str());
    return 1;
  }
  OGRLayer* L = ds->GetLayer(0);
  const int f_id = L->GetLayerDefn()->GetFieldIndex("id"), f_gt = L->GetLayerDefn()->GetFieldIndex("gt_intersection_link");
  const auto box = geoshard::synth::region_bbox();
  uint64_t roads = 0, segments = 0, connectors = 0, outside = 0, nonfinite = 0, id_breaks = 0;
  int64_t last_id = 0;
  double km = 0, max_seg_m = 0;
  std::unordered_map<uint64_t, double> cells;
  for (auto& f : *L) {
    ++roads;
    const int64_t id = f->GetFieldAsInteger64(f_id);
    id_breaks += id != last_id + 1;
    last_id = id;
    connectors += f->GetFieldAsInteger(f_gt) == 1;
    const OGRLineString* ls = f->GetGeometryRef()->toLineString();
    const int n = ls->getNumPoints();
    segments += n - 1;
    for (int k = 0; k < n; ++k) {
      const double x = ls->getX(k), y = ls->getY(k);
      nonfinite += !(std::isfinite(x) && std::isfinite(y));
      outside += !(x >= box.min_lon && x <= box.max_lon && y >= box.min_lat && y <= box.max_lat);
      if (k) {
        const double px = ls->getX(k - 1), py = ls->getY(k - 1);
        const double m = geoshard::haversine_m(px, py, x, y);
        km += m / 1000;
        max_seg_m = std::max(max_seg_m, m);
        cells[geoshard::geohash::zkey((px + x) / 2, (py + y) / 2) >> (64 - 25)] += m / 1000;
      }
    }
  }
  std::vector<double> v;
  for (auto& [k, c] : cells) v.push_back(c);
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) { return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))]; };
  std::printf("roads %llu\nsegments %llu\nconnectors %llu\nroad_km %.1f\nmax_segment_m %.1f\n",
              (unsigned long long)roads, (unsigned long long)segments, (unsigned long long)connectors, km, max_seg_m);
  std::printf("geohash5 cells %zu  min %.3f  p10 %.3f  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f km\n", v.size(),
              v.empty() ? 0 : v.front(), pct(0.1), pct(0.5), pct(0.9), pct(0.99), v.empty() ? 0 : v.back());
  if (!v.empty())
    std::printf("ratios  max/min %.0f  p99/p10 %.1f  max/p50 %.1f\n", v.back() / v.front(), pct(0.99) / pct(0.1),
                v.back() / pct(0.5));
  std::printf("vertices outside bbox %llu, non-finite %llu, id breaks %llu\n", (unsigned long long)outside,
              (unsigned long long)nonfinite, (unsigned long long)id_breaks);
  bad += outside > 0 || nonfinite > 0 || id_breaks > 0;
  if (argc > 2 && segments != std::stoull(argv[2])) {
    std::printf("segments %llu != expected %s\n", (unsigned long long)segments, argv[2]);
    ++bad;
  }
  GDALDatasetUniquePtr a(GDALDataset::Open((dir + "/areas.gpkg").c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY));
  if (!a) {
    std::fprintf(stderr, "cannot open %s/areas.gpkg\n", dir.c_str());
    return 1;
  }
  long long total = 0;
  for (auto* layer : a->GetLayers()) {
    std::printf("areas %-9s %lld\n", layer->GetName(), (long long)layer->GetFeatureCount());
    total += layer->GetFeatureCount();
  }
  std::printf("areas total %lld\n", total);
  std::printf("%s\n", bad ? "FAILED" : "OK");
  return bad ? 1 : 0;
}
