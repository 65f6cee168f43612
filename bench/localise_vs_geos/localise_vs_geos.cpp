// localise_vs_geos: the side-by-side benchmark of road localisation (DESIGN.md, "Benchmarks").
//
// On the same roads.h5 / areas.h5, in one run, one thread each, per area layer:
//   (a) GEOS join as a good GEOS user writes it: STRtree over area envelopes, areas prepared,
//       prepared intersects / containsProperly(road) fast paths, otherwise ONE
//       GEOSIntersection(road, area) and the natural geodesic length of its line parts (haversine
//       of each result piece's endpoints). Its max deviation from the definition is reported.
//   (b) the oracle: the definition (oracle.h, per segment, STRtree + prepared) — what geoshard
//       must equal.
//   (c) brute force: every road × every area × every segment through GEOSIntersection, on a
//       random sample of roads (quadratic: the whole table would take days).
// Reports segments/s per core for each: segments / CPU seconds of the one thread (the thread's
// CPU clock, so other processes on the machine do not distort it; wall seconds go to the log).
// Per layer, a segment counts once; the "all layers" row is the whole job (every segment against
// every layer). Checks (a) and (c) against (b).
//
// geoshard side (HOOK — the localiser, jobs/localise, is being written): pass its output as
// --geoshard-csv FILE (rows `road_row,layer,area_index,length_m`, road_row = row of roads.h5,
// area_index = row of the layer in areas.h5, only pairs with length_m > 0; a header line is
// allowed) and its one-thread CPU time as --geoshard-seconds S; the driver compares the CSV with
// the oracle (exactness: oracle::compare, rel tol 1e-9 of road length) and prints the ratios.
// See run_geoshard_localiser() below for where the direct call goes.
//
// Usage:
//   localise_vs_geos --roads roads.h5 --areas areas.h5 [--layer L]... [--sample N]
//                    [--brute-seconds S] [--geos-sample N] [--geoshard-csv FILE]
//                    [--geoshard-seconds S] [--coverage coverage.h5] [--repeat N] [--markdown FILE]
//                    [--oracle-csv FILE]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>
#include <filesystem>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/area_table.h"
#include "io/road_table.h"
#include "io/coverage_table.h"
#include "jobs/cover/cover.h"
#include "jobs/localise/localise.h"
#include "tests/oracle/oracle.h"

namespace {

using geoshard::AreaLayer;
using geoshard::RoadTable;
using geoshard::oracle::RoadAreaLength;
namespace oracle = geoshard::oracle;
namespace cover = geoshard::cover;
namespace localise = geoshard::localise;
using geoshard::write_coverage;

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Seconds of CPU time of the calling thread. Every measured step is one thread, so CPU time is
// its cost on one core, robust to other processes sharing the machine (wall time is not: the
// standard machine has 2 cores shared with builds and other jobs).
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// CPU seconds and wall seconds of one step.
struct Stopwatch {
  double cpu0 = thread_cpu_seconds();
  Clock::time_point wall0 = Clock::now();
  double cpu() const { return thread_cpu_seconds() - cpu0; }
  double wall() const { return since(wall0); }
};

uint64_t segments_of(const RoadTable& t) { return t.lon.size() - t.rows(); }

// The rows `rows` (ascending) of `t` as a table of their own (geometry, ids, cum_km).
RoadTable select_rows(const RoadTable& t, const std::vector<uint64_t>& rows) {
  RoadTable s;
  s.vertex_offset.push_back(0);
  s.cum_km.push_back(0);
  for (uint64_t r : rows) {
    s.id.push_back(t.id[r]);
    s.part.push_back(t.part[r]);
    s.zkey.push_back(t.zkey[r]);
    const uint64_t v0 = t.vertex_offset[r], v1 = t.vertex_offset[r + 1];
    s.lon.insert(s.lon.end(), t.lon.begin() + v0, t.lon.begin() + v1);
    s.lat.insert(s.lat.end(), t.lat.begin() + v0, t.lat.begin() + v1);
    s.vertex_offset.push_back(s.lon.size());
    s.cum_km.push_back(s.cum_km.back() + (t.cum_km[r + 1] - t.cum_km[r]));
  }
  return s;
}

// Maps pairs of the full table's rows onto a sub-table's rows (pairs of other rows dropped).
std::vector<RoadAreaLength> restrict_to(const std::vector<RoadAreaLength>& pairs, const std::vector<uint64_t>& rows) {
  std::vector<RoadAreaLength> out;
  for (const RoadAreaLength& p : pairs) {
    auto it = std::lower_bound(rows.begin(), rows.end(), p.row);
    if (it != rows.end() && *it == p.row) out.push_back({static_cast<uint64_t>(it - rows.begin()), p.area, p.length_m});
  }
  return out;
}

void sort_pairs(std::vector<RoadAreaLength>& v) {
  std::sort(v.begin(), v.end(), [](const RoadAreaLength& a, const RoadAreaLength& b) {
    return a.row != b.row ? a.row < b.row : a.area < b.area;
  });
}

// geoshard's output read from --geoshard-csv: layer → pairs (full-table rows).
std::map<std::string, std::vector<RoadAreaLength>> read_geoshard_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::map<std::string, std::vector<RoadAreaLength>> out;
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ',');) f.push_back(x);
    if (f.size() != 4) throw std::runtime_error(path + ":" + std::to_string(n) + ": expected road_row,layer,area_index,length_m");
    try {
      out[f[1]].push_back({std::stoull(f[0]), static_cast<uint32_t>(std::stoul(f[2])), std::stod(f[3])});
    } catch (const std::exception&) {
      if (n == 1) continue;  // header
      throw std::runtime_error(path + ":" + std::to_string(n) + ": not a number in '" + line + "'");
    }
  }
  for (auto& [layer, v] : out) sort_pairs(v);
  return out;
}

// HOOK for the lead: run the geoshard localiser in-process on (roads, layer), one thread, and
// return its pairs (sorted by row, area) and its wall seconds. Until it is wired, the driver uses
// --geoshard-csv / --geoshard-seconds instead.
// geoshard's localiser in-process on (roads, layer), one thread: cover the layer at precision 7
// (cover is the rare step, run when borders change: not timed here; `geoshard cover` reports it),
// then time localise() alone in thread CPU seconds.
// With `coverage` (an existing coverage.h5 of the same areas.h5, e.g. `geoshard cover ...
// --precision 7`), its layer is used instead of covering again.
std::optional<std::pair<std::vector<RoadAreaLength>, double>> run_geoshard_localiser(const RoadTable& roads,
                                                                                     const AreaLayer& layer,
                                                                                     const std::string& coverage,
                                                                                     uint64_t repeat) {
  if (!coverage.empty()) {  // best of `repeat`
    const localise::Localiser loc(coverage, {layer.name});
    std::vector<localise::Hit> hits;
    std::vector<double> len;
    double secs = INFINITY;
    for (uint64_t k = 0; k < repeat; ++k) {
      hits.clear();
      len.clear();
      const double c0 = thread_cpu_seconds();
      loc.localise(roads, hits, len);
      secs = std::min(secs, thread_cpu_seconds() - c0);
    }
    std::vector<RoadAreaLength> out;
    out.reserve(hits.size());
    for (const auto& h : hits) out.push_back({h.row - roads.row_offset, h.area, h.length_m});
    return std::make_pair(std::move(out), secs);
  }
  char tmpl[] = "/tmp/geoshard-bench-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string cov_path = dir + "/coverage.h5";
  cover::CoverOptions co;
  co.precision = 7;
  const auto cov = cover::cover_layers({layer}, co, nullptr);
  write_coverage(cov_path, cov.layers, {layer});
  const localise::Localiser loc(cov_path);
  std::vector<localise::Hit> hits;
  std::vector<double> len;
  const double c0 = thread_cpu_seconds();
  loc.localise(roads, hits, len);
  const double secs = thread_cpu_seconds() - c0;
  std::filesystem::remove_all(dir);
  std::vector<RoadAreaLength> out;
  out.reserve(hits.size());
  for (const auto& h : hits) out.push_back({h.row - roads.row_offset, h.area, h.length_m});
  return std::make_pair(std::move(out), secs);
}

struct LayerResult {
  std::string layer;
  size_t areas = 0;
  uint64_t roads = 0, segments = 0;                      // the set (a) and (b) ran on
  // CPU seconds of one thread (wall seconds beside, for the log); setup = geometries + tree +
  // prepare over no roads.
  double setup_s = 0, oracle_s = 0, user_s = 0, oracle_wall = INFINITY, user_wall = INFINITY;
  uint64_t brute_roads = 0, brute_segments = 0;
  double brute_s = 0, brute_wall = 0;
  oracle::Comparison user_vs_oracle, brute_vs_oracle;
  double user_max_dev = 0;                               // max |a − b| / road length
  uint64_t pairs = 0;
  std::optional<oracle::Comparison> geoshard_vs_oracle;
  std::optional<double> geoshard_s;                      // only with the direct call
};

double rate(uint64_t segs, double s) { return s > 0 ? segs / s : 0.0; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"localise vs GEOS: one-thread GEOS joins (good-user, oracle definition, brute force) against "
               "geoshard's localiser, with exactness checks"};
  std::string roads_path, areas_path, csv_path, markdown_path, oracle_csv_path, coverage_path;
  std::vector<std::string> layers;
  uint64_t sample = 0, geos_sample = 0, seed = 1, repeat = 1;
  double brute_seconds = 60, geoshard_seconds = 0;
  app.add_option("--roads", roads_path, "roads.h5")->required();
  app.add_option("--areas", areas_path, "areas.h5")->required();
  app.add_option("--layer", layers, "area layer(s); default: all");
  app.add_option("--sample", sample, "brute force on N random roads per layer (0: as many as fit --brute-seconds)");
  app.add_option("--brute-seconds", brute_seconds, "time budget of brute force over all layers when --sample is 0");
  app.add_option("--geos-sample", geos_sample,
                 "run (a) and (b) on N random roads instead of all (for huge tables; rates extrapolate)");
  app.add_option("--seed", seed, "sampling seed");
  app.add_option("--repeat", repeat, "run (a) and (b) N times, report the fastest")->check(CLI::Range(1, 100));
  app.add_option("--geoshard-csv", csv_path, "geoshard localiser output: road_row,layer,area_index,length_m");
  app.add_option("--geoshard-seconds", geoshard_seconds,
                 "geoshard localiser one-thread seconds (CPU time, as this driver measures) for the same layers over "
                 "the whole table");
  app.add_option("--coverage", coverage_path,
                 "geoshard side: use this coverage.h5 (of the same areas.h5) instead of covering each layer at "
                 "precision 7, and time the all-layers job on it (one Localiser, whole table) unless "
                 "--geoshard-seconds is given");
  app.add_option("--markdown", markdown_path, "also append the result table to this file");
  app.add_option("--oracle-csv", oracle_csv_path,
                 "write the oracle's pairs (b) in the --geoshard-csv format (a reference output; rows of roads.h5)");
  CLI11_PARSE(app, argc, argv);

  try {
    auto t0 = Clock::now();
    const RoadTable all = geoshard::read_road_table(roads_path);
    std::fprintf(stderr, "read %zu roads, %llu segments in %.1f s\n", all.rows(),
                 static_cast<unsigned long long>(segments_of(all)), since(t0));
    if (layers.empty()) layers = geoshard::area_layer_names(areas_path);
    std::map<std::string, std::vector<RoadAreaLength>> csv;
    if (!csv_path.empty()) csv = read_geoshard_csv(csv_path);

    std::vector<uint64_t> perm(all.rows());
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), std::mt19937_64(seed));
    // (a)/(b) road set: all rows, or a random sample.
    std::vector<uint64_t> geos_rows;
    RoadTable sampled;
    if (geos_sample && geos_sample < all.rows()) {
      geos_rows.assign(perm.begin(), perm.begin() + geos_sample);
      std::sort(geos_rows.begin(), geos_rows.end());
      sampled = select_rows(all, geos_rows);
    }
    const RoadTable& roads = geos_rows.empty() ? all : sampled;

    std::vector<LayerResult> results;
    std::ofstream oracle_csv;
    if (!oracle_csv_path.empty()) {
      oracle_csv.open(oracle_csv_path);
      if (!oracle_csv) throw std::runtime_error("cannot write " + oracle_csv_path);
      oracle_csv << "road_row,layer,area_index,length_m\n";
      oracle_csv.precision(17);
    }
    for (size_t li = 0; li < layers.size(); ++li) {
      LayerResult r;
      r.layer = layers[li];
      const AreaLayer layer = geoshard::read_area_layer(areas_path, r.layer);
      r.areas = layer.areas();
      r.roads = roads.rows();
      r.segments = segments_of(roads);
      std::fprintf(stderr, "[%s] %zu areas, %llu roads, %llu segments\n", r.layer.c_str(), r.areas,
                   static_cast<unsigned long long>(r.roads), static_cast<unsigned long long>(r.segments));

      // Setup alone: a run over no roads (GEOS builds prepared indexes lazily, on first use, so
      // that part stays in the join times).
      r.setup_s = r.oracle_s = r.user_s = INFINITY;
      for (uint64_t k = 0; k < repeat; ++k) {
        Stopwatch w;
        oracle::localise_with_geos(select_rows(all, {}), layer, oracle::Method::kStrTreePrepared);
        r.setup_s = std::min(r.setup_s, w.cpu());
      }

      // (b) the oracle.
      std::vector<RoadAreaLength> truth;
      for (uint64_t k = 0; k < repeat; ++k) {
        Stopwatch w;
        truth = oracle::localise_with_geos(roads, layer, oracle::Method::kStrTreePrepared);
        r.oracle_s = std::min(r.oracle_s, w.cpu());
        r.oracle_wall = std::min(r.oracle_wall, w.wall());
      }
      r.pairs = truth.size();
      if (oracle_csv.is_open())
        for (const RoadAreaLength& p : truth)
          oracle_csv << (geos_rows.empty() ? p.row : geos_rows[p.row]) << ',' << r.layer << ',' << p.area << ','
                     << p.length_m << '\n';
      std::fprintf(stderr, "[%s] (b) oracle: %.2f s CPU (%.2f s wall), %.3g segments/s, %zu pairs\n", r.layer.c_str(),
                   r.oracle_s, r.oracle_wall, rate(r.segments, r.oracle_s), truth.size());

      // (a) the good GEOS user's join.
      std::vector<RoadAreaLength> user;
      for (uint64_t k = 0; k < repeat; ++k) {
        Stopwatch w;
        user = oracle::localise_geos_user_join(roads, layer);
        r.user_s = std::min(r.user_s, w.cpu());
        r.user_wall = std::min(r.user_wall, w.wall());
      }
      r.user_vs_oracle = oracle::compare(truth, user, roads, layer);
      r.user_max_dev = r.user_vs_oracle.max_rel_error;
      std::fprintf(stderr, "[%s] (a) GEOS user join: %.2f s CPU (%.2f s wall), %.3g segments/s; vs definition: %s\n",
                   r.layer.c_str(), r.user_s, r.user_wall, rate(r.segments, r.user_s), r.user_vs_oracle.summary().c_str());

      // (c) brute force on a random sample of roads.
      {
        std::vector<uint64_t> rows;
        size_t next = 0;
        auto take = [&](uint64_t n) {
          n = std::min<uint64_t>(n, all.rows() - next);
          rows.insert(rows.end(), perm.begin() + next, perm.begin() + next + n);
          next += n;
          std::vector<uint64_t> sorted(perm.begin() + next - n, perm.begin() + next);
          std::sort(sorted.begin(), sorted.end());
          return sorted;
        };
        std::vector<RoadAreaLength> brute;  // rows of `all`
        auto run = [&](const std::vector<uint64_t>& chunk) {
          const RoadTable sub = select_rows(all, chunk);
          Stopwatch w;
          const auto got = oracle::localise_with_geos(sub, layer, oracle::Method::kBruteForce);
          r.brute_s += w.cpu();
          r.brute_wall += w.wall();
          r.brute_roads += sub.rows();
          r.brute_segments += segments_of(sub);
          for (const RoadAreaLength& p : got) brute.push_back({chunk[p.row], p.area, p.length_m});
        };
        if (sample) {
          run(take(sample));
        } else {  // calibrate on a few roads, then fill this layer's share of the budget
          const double budget = brute_seconds / layers.size();
          run(take(8));
          const double per_road = r.brute_s / std::max<uint64_t>(r.brute_roads, 1);
          const double left = budget - r.brute_s;
          if (left > 0 && per_road > 0) run(take(static_cast<uint64_t>(left / per_road)));
        }
        // Exactness of brute force against the oracle on the same rows (the oracle rerun on the
        // sample: cheap).
        std::sort(rows.begin(), rows.end());
        sort_pairs(brute);
        const RoadTable sub = select_rows(all, rows);
        const auto o = oracle::localise_with_geos(sub, layer, oracle::Method::kStrTreePrepared);
        r.brute_vs_oracle = oracle::compare(o, restrict_to(brute, rows), sub, layer);
        std::fprintf(stderr, "[%s] (c) brute force: %llu roads, %llu segments in %.2f s CPU (%.2f s wall), %.3g segments/s; vs oracle: %s\n",
                     r.layer.c_str(), static_cast<unsigned long long>(r.brute_roads),
                     static_cast<unsigned long long>(r.brute_segments), r.brute_s, r.brute_wall, rate(r.brute_segments, r.brute_s),
                     r.brute_vs_oracle.summary().c_str());
      }

      // geoshard: the direct call when wired, else the CSV.
      if (auto direct = run_geoshard_localiser(roads, layer, coverage_path, repeat)) {
        sort_pairs(direct->first);
        r.geoshard_vs_oracle = oracle::compare(truth, direct->first, roads, layer);
        r.geoshard_s = direct->second;
      } else if (!csv_path.empty()) {
        std::vector<RoadAreaLength> got = csv.count(r.layer) ? csv[r.layer] : std::vector<RoadAreaLength>{};
        if (!geos_rows.empty()) got = restrict_to(got, geos_rows);
        for (const auto& p : got)
          if (p.row >= roads.rows() || p.area >= layer.areas())
            throw std::runtime_error("geoshard csv: row or area index out of range in layer " + r.layer);
        r.geoshard_vs_oracle = oracle::compare(truth, got, roads, layer);
      }
      if (r.geoshard_vs_oracle)
        std::fprintf(stderr, "[%s] geoshard vs oracle: %s%s\n", r.layer.c_str(),
                     r.geoshard_vs_oracle->exact() ? "EXACT " : "NOT EXACT ", r.geoshard_vs_oracle->summary().c_str());
      results.push_back(std::move(r));
    }

    // geoshard's all-layers job, one thread, whole table (best of --repeat).
    if (!coverage_path.empty() && geoshard_seconds <= 0) {
      const localise::Localiser loc(coverage_path, layers);
      geoshard_seconds = INFINITY;
      for (uint64_t k = 0; k < repeat; ++k) {
        std::vector<localise::Hit> hits;
        std::vector<double> len;
        Stopwatch w;
        loc.localise(all, hits, len);
        geoshard_seconds = std::min(geoshard_seconds, w.cpu());
      }
      std::fprintf(stderr, "geoshard all %zu layers (one job): %.3f s CPU\n", layers.size(), geoshard_seconds);
    }

    // Report (Markdown).
    const double scale = geos_rows.empty() ? 1.0 : static_cast<double>(segments_of(all)) / segments_of(roads);
    std::ostringstream md;
    char buf[512];
    md << "roads: `" << roads_path << "` (" << all.rows() << " roads, " << segments_of(all) << " segments)";
    if (!geos_rows.empty()) {
      std::snprintf(buf, sizeof buf, "%.1f", scale);
      md << "; (a) and (b) on a random sample of " << roads.rows() << " roads (" << segments_of(roads)
         << " segments), whole-table seconds extrapolated ×" << buf;
    }
    md << "\n\n| layer | areas | pairs | setup s | (a) GEOS user join seg/s | (b) oracle seg/s | (c) brute force seg/s "
          "(sample) | (a) max dev. from definition | (c) = (b) | geoshard seg/s | geoshard exact | (a)/geoshard time |\n"
          "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |\n";
    double sum_user = 0, sum_oracle = 0, sum_brute_per_seg = 0;
    bool all_geoshard_exact = true, any_geoshard = false;
    for (const LayerResult& r : results) {
      sum_user += r.user_s;
      sum_oracle += r.oracle_s;
      sum_brute_per_seg += r.brute_s / std::max<uint64_t>(r.brute_segments, 1);
      std::string gs = "", gx = "", gr = "";
      if (r.geoshard_vs_oracle) {
        any_geoshard = true;
        all_geoshard_exact &= r.geoshard_vs_oracle->exact();
        gx = r.geoshard_vs_oracle->exact() ? "yes" : "NO";
      }
      if (r.geoshard_s) {
        std::snprintf(buf, sizeof buf, "%.3g", rate(r.segments, *r.geoshard_s));
        gs = buf;
        std::snprintf(buf, sizeof buf, "%.1f", r.user_s / *r.geoshard_s);
        gr = buf;
      }
      std::snprintf(buf, sizeof buf, "| %s | %zu | %llu | %.3f | %.3g | %.3g | %.3g (%llu roads) | %.1e | %s | %s | %s | %s |\n",
                    r.layer.c_str(), r.areas, static_cast<unsigned long long>(r.pairs), r.setup_s,
                    rate(r.segments, r.user_s), rate(r.segments, r.oracle_s), rate(r.brute_segments, r.brute_s),
                    static_cast<unsigned long long>(r.brute_roads), r.user_max_dev,
                    r.brute_vs_oracle.exact() ? "yes" : "NO", gs.c_str(), gx.c_str(), gr.c_str());
      md << buf;
    }
    // All layers: segments/s of the whole job (every segment against every layer).
    const uint64_t segs = segments_of(roads), segs_all = segments_of(all);
    std::string gs, gr;
    if (geoshard_seconds > 0) {
      std::snprintf(buf, sizeof buf, "%.3g", rate(segs_all, geoshard_seconds));
      gs = buf;
      std::snprintf(buf, sizeof buf, "%.1f", sum_user * scale / geoshard_seconds);
      gr = buf;
    }
    std::snprintf(buf, sizeof buf, "| **all %zu layers** (one job) | | | | %.3g | %.3g | %.3g | | | %s | %s | %s |\n",
                  results.size(), rate(segs, sum_user), rate(segs, sum_oracle),
                  sum_brute_per_seg > 0 ? 1.0 / sum_brute_per_seg : 0.0, gs.c_str(),
                  any_geoshard ? (all_geoshard_exact ? "yes" : "NO") : "", gr.c_str());
    md << buf;
    std::snprintf(buf, sizeof buf,
                  "\nwhole table, all layers, one thread, CPU seconds: (a) %.1f s, (b) %.1f s, (c) %.3g s (extrapolated "
                  "from its sample)%s\n",
                  sum_user * scale, sum_oracle * scale, static_cast<double>(segs_all) * sum_brute_per_seg,
                  geoshard_seconds > 0 ? (", geoshard " + std::to_string(geoshard_seconds) + " s").c_str() : "");
    md << buf;
    if (oracle_csv.is_open()) {
      oracle_csv.close();
      if (!oracle_csv) throw std::runtime_error("cannot write " + oracle_csv_path);
    }
    std::printf("%s", md.str().c_str());
    if (!markdown_path.empty()) {
      std::ofstream out(markdown_path, std::ios::app);
      out << md.str() << "\n";
    }
    // Non-zero exit when an exactness check failed: brute force (or geoshard) ≠ the oracle.
    bool ok = !any_geoshard || all_geoshard_exact;
    for (const LayerResult& r : results) ok &= r.brute_vs_oracle.exact();
    return ok ? 0 : 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "localise_vs_geos: %s\n", e.what());
    return 1;
  }
}
