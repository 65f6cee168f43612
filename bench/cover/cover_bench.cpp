// cover benchmark: covers every layer of an area table at several precisions, with and without
// merging, and prints a markdown table (docs/benchmarks.md, "cover").
//
//   cover_bench --areas areas.h5 [--precisions 5,6,7,8] [--layers a,b] [--no-merge-limit N]
//               [--write DIR] [--literal] [--mpi]
//
// merge = false materialises every INTERIOR cell at precision P; it runs only when the merged
// run's interior_cells_at_precision (+ boundary cells) is at most --no-merge-limit (default
// 20,000,000), else the row shows the interval count it would have ("(n)") without running.
// --write DIR also writes DIR/coverage-P<p>.h5 (merged) and reports its size.
// --literal also runs the literal method (CoverOptions::clip_first = false: GEOS covers() and
// intersects() on every cell) and reports its GEOS calls and time beside the default's.
// --mpi runs cover_layers on MPI_COMM_WORLD (mpirun -np N cover_bench --mpi ...): areas dealt to
// ranks, rank 0 prints; "seconds" is then the wall time of the whole call on rank 0.
// Otherwise one process, one thread. Seconds are wall time; "CPU s" is the process's user+system time for
// the same call (the machine is shared: CPU time is the steadier figure).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "io/area_table.h"
#include "io/coverage_table.h"
#include "jobs/cover/cover.h"
#include "mpi/comm.h"

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ','))
    if (!x.empty()) out.push_back(x);
  return out;
}

std::string commas(uint64_t v) {
  std::string s = std::to_string(v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  bool use_mpi = false;
  for (int i = 1; i < argc; ++i) use_mpi |= std::string(argv[i]) == "--mpi";
  std::unique_ptr<geoshard::mpi::Environment> env;
  std::unique_ptr<geoshard::mpi::Comm> comm;
  if (use_mpi) {
    env = std::make_unique<geoshard::mpi::Environment>(&argc, &argv);
    comm = std::make_unique<geoshard::mpi::Comm>();
  }
  const bool root = !comm || comm->root();
  if (!root) {  // only rank 0 reports
    if (!std::freopen("/dev/null", "w", stdout) || !std::freopen("/dev/null", "w", stderr)) return 1;
  }
  std::string areas, write_dir;
  std::vector<int> precisions = {5, 6, 7, 8};
  std::vector<std::string> layer_names;
  uint64_t no_merge_limit = 20'000'000;
  bool literal = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--areas") areas = next();
    else if (a == "--precisions") {
      precisions.clear();
      for (const auto& p : split(next())) precisions.push_back(std::stoi(p));
    } else if (a == "--layers") layer_names = split(next());
    else if (a == "--no-merge-limit") no_merge_limit = std::stoull(next());
    else if (a == "--write") write_dir = next();
    else if (a == "--literal") literal = true;
    else if (a == "--mpi") continue;
    else {
      std::fprintf(stderr, "usage: cover_bench --areas areas.h5 [--precisions 5,6,7,8] [--layers a,b] "
                           "[--no-merge-limit N] [--write DIR] [--literal]\n");
      return 2;
    }
  }
  if (areas.empty()) {
    std::fprintf(stderr, "cover_bench: --areas is required\n");
    return 2;
  }
  if (layer_names.empty()) layer_names = geoshard::area_layer_names(areas);
  std::vector<geoshard::AreaLayer> layers;
  uint64_t vertices = 0;
  for (const auto& n : layer_names) {
    layers.push_back(geoshard::read_area_layer(areas, n));
    vertices += layers.back().lon.size();
  }
  std::printf("cover_bench: %s, %zu layers, %s vertices\n\n", areas.c_str(), layers.size(), commas(vertices).c_str());
  std::printf("| P | layer | areas | interior cells | boundary cells | piece vertices | intervals (merged) | "
              "intervals (no merge) | GEOS calls | seconds | CPU s | seconds (no merge)%s |\n",
              literal ? " | literal: GEOS calls | literal: CPU s" : "");
  std::printf("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |%s\n",
              literal ? " ---: | ---: |" : "");
  std::fflush(stdout);
  for (int p : precisions) {
    geoshard::cover::CoverOptions o;
    o.precision = p;
    o.merge = true;
    const double cpu0 = cpu_seconds();
    const auto w0 = std::chrono::steady_clock::now();
    const auto r = geoshard::cover::cover_layers(layers, o, comm.get());
    const double call_wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
    const double cpu = cpu_seconds() - cpu0;
    if (comm) {
      if (!root) continue;
      std::printf("| %d | **all, %d ranks** | | | | | %s | | | %.2f (wall of the call) | %.2f (rank 0) | |\n", p,
                  comm->size(), commas(r.layers.empty() ? 0 : [&] { uint64_t n = 0; for (auto& l : r.layers) n += l.intervals(); return n; }()).c_str(),
                  call_wall, cpu);
      double mx = 0, sum = 0;
      for (double t : r.rank_seconds) mx = std::max(mx, t), sum += t;
      std::fprintf(stderr, "P=%d, %d ranks: covering seconds per rank max %.2f mean %.2f (max/mean %.2f)\n", p,
                   comm->size(), mx, sum / comm->size(), mx * comm->size() / sum);
      std::fflush(stdout);
      continue;
    }
    // CPU time per layer: the total split in proportion to the layers' wall seconds.
    double wall = 0;
    for (const auto& s : r.stats) wall += s.seconds;
    std::vector<geoshard::cover::CoverLayerStats> lit;
    double lit_cpu = 0;
    if (literal) {
      o.clip_first = false;
      const double c0 = cpu_seconds();
      const auto lr = geoshard::cover::cover_layers(layers, o);
      lit_cpu = cpu_seconds() - c0;
      lit = lr.stats;
      o.clip_first = true;
      // Same coverage both ways? (docs/benchmarks.md states it.)
      size_t differ = 0;
      for (size_t i = 0; i < r.layers.size(); ++i) {
        const auto &a = r.layers[i], &b = lr.layers[i];
        differ += !(a.lo == b.lo && a.hi == b.hi && a.entry_area == b.entry_area && a.entry_kind == b.entry_kind &&
                    a.entry_piece == b.entry_piece && a.ring_vertex_offset == b.ring_vertex_offset && a.lon == b.lon &&
                    a.lat == b.lat);
      }
      std::fprintf(stderr, "P=%d: literal method %s\n", p,
                   differ ? (std::to_string(differ) + " layer(s) DIFFER").c_str() : "gives the identical coverage");
    }
    double lit_wall = 0;
    for (const auto& s : lit) lit_wall += s.seconds;
    for (const auto& l : r.layers) l.validate();
    // Without merging: only when it fits (see the header comment).
    uint64_t predicted = 0;
    for (const auto& s : r.stats) predicted += s.interior_cells_at_precision + s.boundary_cells;
    std::vector<geoshard::cover::CoverLayerStats> nm;
    if (predicted <= no_merge_limit) {
      o.merge = false;
      nm = geoshard::cover::cover_layers(layers, o).stats;
    }
    double total_s = 0, total_nm = 0;
    uint64_t ti = 0, tb = 0, tv = 0, tiv = 0, tnm = 0, tg = 0, tlg = 0;
    for (size_t i = 0; i < r.stats.size(); ++i) {
      const auto& s = r.stats[i];
      // Without merging every INTERIOR cell of precision P is an interval; BOUNDARY cells are
      // one interval each whatever the overlaps (intervals <= cells at P).
      const std::string nm_iv = nm.empty() ? "(" + commas(s.interior_cells_at_precision + s.boundary_cells) + ")"
                                           : commas(nm[i].intervals);
      const std::string nm_s = nm.empty() ? "-" : std::to_string(nm[i].seconds).substr(0, 6);
      std::string lit_cols;
      if (literal) {
        char buf[128];
        std::snprintf(buf, sizeof buf, " %s | %.2f |", commas(lit[i].geos_predicates).c_str(),
                      lit_wall > 0 ? lit_cpu * lit[i].seconds / lit_wall : 0.0);
        lit_cols = buf;
        tlg += lit[i].geos_predicates;
      }
      std::printf("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f | %s |%s\n", p, s.name.c_str(),
                  commas(s.areas).c_str(), commas(s.interior_cells).c_str(), commas(s.boundary_cells).c_str(),
                  commas(s.piece_vertices).c_str(), commas(s.intervals).c_str(), nm_iv.c_str(),
                  commas(s.geos_predicates).c_str(), s.seconds, wall > 0 ? cpu * s.seconds / wall : 0.0, nm_s.c_str(),
                  lit_cols.c_str());
      total_s += s.seconds;
      total_nm += nm.empty() ? 0 : nm[i].seconds;
      ti += s.interior_cells;
      tb += s.boundary_cells;
      tv += s.piece_vertices;
      tiv += s.intervals;
      tnm += nm.empty() ? s.interior_cells_at_precision + s.boundary_cells : nm[i].intervals;
      tg += s.geos_predicates;
    }
    std::string size;
    if (!write_dir.empty()) {
      std::filesystem::create_directories(write_dir);
      const std::string path = write_dir + "/coverage-P" + std::to_string(p) + ".h5";
      geoshard::write_coverage(path, r.layers, layers);
      size = ", file " + commas(std::filesystem::file_size(path) >> 20) + " MiB";
    }
    std::string lit_total;
    if (literal) {
      char buf[128];
      std::snprintf(buf, sizeof buf, " %s | %.2f |", commas(tlg).c_str(), lit_cpu);
      lit_total = buf;
    }
    std::printf("| %d | **all** | | %s | %s | %s | %s | %s%s%s | %s | %.2f | %.2f | %s |%s\n", p, commas(ti).c_str(),
                commas(tb).c_str(), commas(tv).c_str(), commas(tiv).c_str(), nm.empty() ? "(" : "", commas(tnm).c_str(),
                nm.empty() ? ")" : "", commas(tg).c_str(), total_s, cpu,
                nm.empty() ? "-" : std::to_string(total_nm).substr(0, 6).c_str(), lit_total.c_str());
    std::fprintf(stderr, "P=%d done: %.1f s merged, peak RSS %.0f MiB%s\n", p, total_s, peak_rss_mib(), size.c_str());
    std::fflush(stdout);
  }
  return 0;
}
