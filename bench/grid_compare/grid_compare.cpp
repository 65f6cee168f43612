// grid_compare: the geohash grid and the S2 grid side by side (docs/benchmarks.md, "S2 grid vs
// geohash"), one process, one thread:
//
//   grid_compare --areas areas.h5 [--roads roads.h5] [--geohash 6,7,8] [--s2 14,15,16,17]
//                [--localise-geohash 7] [--localise-s2 16] [--geohash-coverage FILE]
//                [--s2-coverage FILE] [--dir DIR] [--oracle-csv FILE]
//   (--geohash "" / --s2 "" skip covering; the --*-coverage files are then used as they are)
//
// 1. cover: every layer at every listed geohash precision and S2 level (merge on, clip_first):
//    intervals, interior / boundary cells, piece vertices, GEOS calls, CPU seconds (process
//    user+system: the machine is shared, CPU time is the steadier figure).
// 2. localise (with --roads): Localiser on the geohash coverage of --localise-geohash (or the
//    existing --geohash-coverage) and S2Localiser on the S2 coverage of --localise-s2, over the
//    whole road table, all layers in one job; thread CPU seconds and segments/s; then the two
//    results compared pair by pair (same (road, layer, area) pairs, lengths within 1e-9 of the
//    road's length) and, with --oracle-csv (road_row,layer,area_index,length_m, as written by
//    bench/localise_vs_geos --oracle-csv), each against the GEOS oracle with oracle::compare.
// Exit code 3 when a comparison is not exact.
#include <CLI/CLI.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "io/area_table.h"
#include "io/coverage_table.h"
#include "io/road_table.h"
#include "jobs/cover/cover.h"
#include "jobs/localise/localise.h"
#include "jobs/localise/localise_s2.h"
#include "kernels/geodesic.h"
#include "tests/oracle/oracle.h"

namespace {

namespace localise = geoshard::localise;
namespace oracle = geoshard::oracle;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
std::string commas(uint64_t v) {
  std::string s = std::to_string(v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

std::map<std::string, std::vector<oracle::RoadAreaLength>> read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  std::map<std::string, std::vector<oracle::RoadAreaLength>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.rfind("road_row", 0) == 0) continue;
    std::stringstream ss(line);
    std::string f[4];
    for (auto& x : f) std::getline(ss, x, ',');
    out[f[1]].push_back({std::stoull(f[0]), static_cast<uint32_t>(std::stoul(f[2])), std::stod(f[3])});
  }
  for (auto& [l, v] : out)
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.row != b.row ? a.row < b.row : a.area < b.area; });
  return out;
}

struct CoverRow {
  std::string grid;
  int precision;
  uint64_t intervals = 0, interior = 0, boundary = 0, vertices = 0, geos = 0;
  double cpu = 0;
};

CoverRow run_cover(const std::vector<geoshard::AreaLayer>& layers, const std::string& grid, int p,
                   const std::string& write_to) {
  geoshard::cover::CoverOptions o;
  o.grid = grid;
  o.precision = p;
  const double c0 = cpu_seconds();
  auto r = geoshard::cover::cover_layers(layers, o, nullptr);
  CoverRow row{grid, p};
  row.cpu = cpu_seconds() - c0;
  for (const auto& s : r.stats) {
    row.intervals += s.intervals;
    row.interior += s.interior_cells;
    row.boundary += s.boundary_cells;
    row.vertices += s.piece_vertices;
    row.geos += s.geos_predicates;
  }
  if (!r.dead.empty()) std::fprintf(stderr, "warning: %zu dead areas (%s)\n", r.dead.size(), r.dead.front().message.c_str());
  if (!write_to.empty()) geoshard::write_coverage(write_to, r.layers, layers);
  return row;
}

template <class L>
double time_localise(const L& loc, const geoshard::RoadTable& roads, std::vector<localise::Hit>& hits) {
  std::vector<double> len;
  const double c0 = thread_cpu_seconds();
  loc.localise(roads, hits, len);
  return thread_cpu_seconds() - c0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"geohash vs S2 grid: cover and localise side by side"};
  std::string areas_path, roads_path, gh_cov, dir = "/tmp/grid_compare", oracle_path;
  std::vector<int> gh_p{6, 7, 8}, s2_l{14, 15, 16, 17};
  int loc_gh = 7, loc_s2 = 16;
  app.add_option("--areas", areas_path, "areas.h5")->required();
  app.add_option("--roads", roads_path, "roads.h5 (for the localise comparison)");
  app.add_option("--geohash", gh_p, "geohash precisions to cover")->delimiter(',');
  app.add_option("--s2", s2_l, "S2 levels to cover")->delimiter(',');
  app.add_option("--localise-geohash", loc_gh, "geohash precision for the localise comparison");
  app.add_option("--localise-s2", loc_s2, "S2 level for the localise comparison");
  app.add_option("--geohash-coverage", gh_cov, "use this existing geohash coverage for localise");
  std::string s2_cov;
  app.add_option("--s2-coverage", s2_cov, "use this existing S2 coverage for localise");
  app.add_option("--dir", dir, "where the compared coverages are written");
  app.add_option("--oracle-csv", oracle_path, "GEOS oracle pairs of the same roads.h5");
  CLI11_PARSE(app, argc, argv);
  try {
    std::filesystem::create_directories(dir);
    std::vector<geoshard::AreaLayer> layers;
    for (const auto& n : geoshard::area_layer_names(areas_path)) layers.push_back(geoshard::read_area_layer(areas_path, n));
    const std::string gh_file = gh_cov.empty() ? dir + "/coverage-gh" + std::to_string(loc_gh) + ".h5" : gh_cov;
    const std::string s2_file = s2_cov.empty() ? dir + "/coverage-s2-" + std::to_string(loc_s2) + ".h5" : s2_cov;
    std::vector<CoverRow> rows;
    for (int p : gh_p) {
      if (p <= 0) continue;  // --geohash "" or 0: no covering
      rows.push_back(run_cover(layers, "geohash", p, (p == loc_gh && gh_cov.empty()) ? gh_file : ""));
      std::fprintf(stderr, "covered geohash P%d: %.1f s CPU\n", p, rows.back().cpu);
    }
    for (int l : s2_l) {
      if (l <= 0) continue;
      rows.push_back(run_cover(layers, "s2", l, (l == loc_s2 && s2_cov.empty()) ? s2_file : ""));
      std::fprintf(stderr, "covered s2 L%d: %.1f s CPU\n", l, rows.back().cpu);
    }
    std::printf("| grid | precision / level | intervals | interior cells | boundary cells | piece vertices | GEOS calls | cover CPU s |\n");
    std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (const auto& r : rows)
      std::printf("| %s | %d | %s | %s | %s | %s | %s | %.1f |\n", r.grid.c_str(), r.precision, commas(r.intervals).c_str(),
                  commas(r.interior).c_str(), commas(r.boundary).c_str(), commas(r.vertices).c_str(), commas(r.geos).c_str(), r.cpu);
    std::fflush(stdout);
    if (roads_path.empty()) return 0;

    const geoshard::RoadTable roads = geoshard::read_road_table(roads_path);
    const uint64_t segs = roads.lon.size() - roads.rows();
    std::vector<localise::Hit> a, b;
    double ta = 0, tb = 0, la = 0, lb = 0;
    uint64_t ba = 0, bb = 0;
    {
      const double c0 = thread_cpu_seconds();
      const localise::Localiser gh(gh_file);
      la = thread_cpu_seconds() - c0;
      ba = gh.bytes();
      ta = time_localise(gh, roads, a);
    }
    {
      const double c0 = thread_cpu_seconds();
      const localise::S2Localiser s2(s2_file);
      lb = thread_cpu_seconds() - c0;
      bb = s2.bytes();
      tb = time_localise(s2, roads, b);
    }
    std::printf("\n%s roads, %s segments, %zu layers\n\n", commas(roads.rows()).c_str(), commas(segs).c_str(), layers.size());
    std::printf("| localiser | coverage | load + index CPU s | memory (MiB) | localise CPU s | segments/s | hits |\n");
    std::printf("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    std::printf("| Localiser (geohash) | P%d | %.2f | %.0f | %.2f | %.3g | %s |\n", loc_gh, la, ba / 1048576.0, ta, segs / ta,
                commas(a.size()).c_str());
    std::printf("| S2Localiser | L%d | %.2f | %.0f | %.2f | %.3g | %s |\n", loc_s2, lb, bb / 1048576.0, tb, segs / tb,
                commas(b.size()).c_str());
    // Pair by pair (both sorted by row, layer, area).
    std::vector<double> road_m(roads.rows(), 0.0);
    for (size_t i = 0; i < roads.rows(); ++i) {
      const uint64_t v0 = roads.vertex_offset[i] - roads.vertex_offset[0], v1 = roads.vertex_offset[i + 1] - roads.vertex_offset[0];
      for (uint64_t v = v0; v + 1 < v1; ++v)
        road_m[i] += geoshard::haversine_m(roads.lon[v], roads.lat[v], roads.lon[v + 1], roads.lat[v + 1]);
    }
    uint64_t differ = 0;
    double max_rel = 0;
    size_t i = 0, j = 0;
    auto key = [](const localise::Hit& h) { return std::make_tuple(h.row, h.layer, h.area); };
    while (i < a.size() || j < b.size()) {
      if (j == b.size() || (i < a.size() && key(a[i]) < key(b[j]))) {
        ++differ, ++i;
      } else if (i == a.size() || key(b[j]) < key(a[i])) {
        ++differ, ++j;
      } else {
        const double rel = std::abs(a[i].length_m - b[j].length_m) / std::max(1e-300, road_m[a[i].row - roads.row_offset]);
        max_rel = std::max(max_rel, rel);
        if (rel > 1e-9) ++differ;
        ++i, ++j;
      }
    }
    std::printf("\ngeohash vs S2: %s pairs differ (missing, extra or length beyond 1e-9 of the road), max rel. difference %.3g\n",
                commas(differ).c_str(), max_rel);
    int rc = differ ? 3 : 0;
    if (!oracle_path.empty()) {
      auto truth = read_csv(oracle_path);
      for (size_t li = 0; li < layers.size(); ++li) {
        for (int which = 0; which < 2; ++which) {
          std::vector<oracle::RoadAreaLength> got;
          for (const auto& h : which ? b : a)
            if (h.layer == li) got.push_back({h.row - roads.row_offset, h.area, h.length_m});
          const auto cmp = oracle::compare(truth[layers[li].name], got, roads, layers[li]);
          std::printf("oracle vs %s, layer %s: %s (%llu pairs, max rel error %.3g)\n", which ? "S2" : "geohash",
                      layers[li].name.c_str(), cmp.exact() ? "exact" : "NOT EXACT", (unsigned long long)cmp.pairs_expected,
                      cmp.max_rel_error);
          if (!cmp.exact()) {
            std::printf("%s\n", cmp.summary().c_str());
            rc = 3;
          }
        }
      }
    }
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "grid_compare: %s\n", e.what());
    return 1;
  }
}
