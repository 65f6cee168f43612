// localise_time: geoshard's localiser alone on an existing coverage, one thread, thread CPU
// seconds -- the geoshard side of bench/localise_vs_geos without rerunning GEOS (docs/benchmarks.md,
// "localise vs GEOS -- geoshard side").
//
//   localise_time --roads roads.h5 --coverage coverage.h5 [--layer L]... [--per-layer]
//                 [--repeat N] [--oracle-csv FILE] [--hits-csv FILE]
//   localise_time --check-haversine N   (max relative difference of haversine_m_short and
//                                        haversine_m_cos from haversine_m on N random segments)
//
// Times Localiser::localise over the whole table for all (or the named) layers in one job, and
// with --per-layer each layer alone (a Localiser of that layer only). Best of --repeat.
// --oracle-csv (the driver's `--oracle-csv` output: road_row,layer,area_index,length_m over the
// same roads.h5) checks every layer against the oracle with oracle::compare (1e-9 of road
// length); exit 3 when not exact. --hits-csv writes the one-job hits in the same format.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <random>

#include "io/coverage_table.h"
#include "kernels/geodesic.h"
#include "io/road_table.h"
#include "jobs/localise/localise.h"
#include "tests/oracle/oracle.h"

namespace {

namespace localise = geoshard::localise;
namespace oracle = geoshard::oracle;
using geoshard::oracle::RoadAreaLength;

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

std::map<std::string, std::vector<RoadAreaLength>> read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::map<std::string, std::vector<RoadAreaLength>> out;
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (first) {
      first = false;
      if (line.rfind("road_row", 0) == 0) continue;
    }
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string f[4];
    for (auto& x : f) std::getline(ss, x, ',');
    out[f[1]].push_back({std::stoull(f[0]), static_cast<uint32_t>(std::stoul(f[2])), std::stod(f[3])});
  }
  for (auto& [l, v] : out)
    std::sort(v.begin(), v.end(), [](const RoadAreaLength& a, const RoadAreaLength& b) {
      return a.row != b.row ? a.row < b.row : a.area < b.area;
    });
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"geoshard localiser alone, one thread, thread CPU seconds"};
  std::string roads_path, cov_path, oracle_path, hits_path;
  uint64_t check_haversine = 0;
  std::vector<std::string> layers;
  bool per_layer = false;
  int repeat = 1;
  app.add_option("--roads", roads_path, "roads.h5");
  app.add_option("--coverage", cov_path, "coverage.h5");
  app.add_option("--check-haversine", check_haversine, "only check haversine_m_short on N random segments");
  app.add_option("--layer", layers, "layer(s); default: all");
  app.add_flag("--per-layer", per_layer, "also time each layer alone");
  app.add_option("--repeat", repeat, "best of N")->check(CLI::Range(1, 100));
  app.add_option("--oracle-csv", oracle_path, "check against the oracle's pairs");
  app.add_option("--hits-csv", hits_path, "write the one-job hits");
  CLI11_PARSE(app, argc, argv);
  if (check_haversine) {
    // Segments of 0.1 m to 100 km (log-uniform), random direction, |lat| <= 80.
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<double> u(0, 1);
    double worst_short = 0, worst_cos = 0;
    for (uint64_t k = 0; k < check_haversine; ++k) {
      const double lon = -180 + 360 * u(rng), lat = -80 + 160 * u(rng);
      const double d = std::pow(10.0, -6 + 6 * u(rng)), th = 6.283185307179586 * u(rng);  // degrees
      const double lon2 = std::clamp(lon + d * std::cos(th), -180.0, 180.0), lat2 = lat + d * std::sin(th);
      const double ref = geoshard::haversine_m(lon, lat, lon2, lat2);
      const double c1 = std::cos(lat * geoshard::kDegToRad), c2 = std::cos(lat2 * geoshard::kDegToRad);
      if (ref > 0) {
        worst_short = std::max(worst_short, std::fabs(geoshard::haversine_m_short(lon, lat, c1, lon2, lat2, c2) - ref) / ref);
        worst_cos = std::max(worst_cos, std::fabs(geoshard::haversine_m_cos(lon, lat, c1, lon2, lat2, c2) - ref) / ref);
      }
    }
    std::printf("%llu random segments: max relative difference from haversine_m: haversine_m_short %.3g, "
                "haversine_m_cos %.3g\n",
                static_cast<unsigned long long>(check_haversine), worst_short, worst_cos);
    return worst_short < 1e-12 && worst_cos == 0 ? 0 : 3;
  }
  if (roads_path.empty() || cov_path.empty()) {
    std::fprintf(stderr, "localise_time: --roads and --coverage are required\n");
    return 1;
  }
  try {
    const geoshard::RoadTable roads = geoshard::read_road_table(roads_path);
    const uint64_t segs = roads.lon.size() - roads.rows();
    const localise::Localiser all(cov_path, layers);
    std::vector<localise::Hit> hits;
    std::vector<double> len;
    double best = INFINITY;
    for (int k = 0; k < repeat; ++k) {
      hits = {};  // fresh output each time, as a job has: its allocation is part of the cost
      len = {};
      const double c0 = thread_cpu_seconds();
      all.localise(roads, hits, len);
      best = std::min(best, thread_cpu_seconds() - c0);
    }
    std::printf("localiser holds %.1f MB (Localiser::bytes)\n", all.bytes() / 1e6);
    std::printf("all %zu layers (one job): %llu roads, %llu segments, %.3f s CPU, %.3g seg/s, %zu hits\n",
                all.layers().size(), static_cast<unsigned long long>(roads.rows()),
                static_cast<unsigned long long>(segs), best, segs / best, hits.size());
    if (per_layer) {
      for (const auto& l : all.layers()) {
        const localise::Localiser one(cov_path, {l.coverage.name});
        std::vector<localise::Hit> h;
        double b = INFINITY;
        for (int k = 0; k < repeat; ++k) {
          h.clear();
          len.clear();
          const double c0 = thread_cpu_seconds();
          one.localise(roads, h, len);
          b = std::min(b, thread_cpu_seconds() - c0);
        }
        std::printf("  %-10s %.3f s CPU, %.3g seg/s, %zu hits\n", l.coverage.name.c_str(), b, segs / b, h.size());
      }
    }
    if (!hits_path.empty()) {
      std::ofstream out(hits_path);
      out.precision(17);
      out << "road_row,layer,area_index,length_m\n";
      for (const auto& h : hits) out << h.row << ',' << all.layers()[h.layer].coverage.name << ',' << h.area << ',' << h.length_m << '\n';
    }
    int rc = 0;
    if (!oracle_path.empty()) {
      auto truth = read_csv(oracle_path);
      for (size_t li = 0; li < all.layers().size(); ++li) {
        const auto& l = all.layers()[li];
        std::vector<RoadAreaLength> got;
        for (const auto& h : hits)
          if (h.layer == li) got.push_back({h.row - roads.row_offset, h.area, h.length_m});
        const auto cmp = oracle::compare(truth[l.coverage.name], got, roads, l.areas);
        std::printf("  %-10s vs oracle: %s %s\n", l.coverage.name.c_str(), cmp.exact() ? "EXACT" : "NOT EXACT",
                    cmp.summary().c_str());
        if (!cmp.exact()) rc = 3;
      }
    }
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "localise_time: %s\n", e.what());
    return 1;
  }
}
