#include "jobs/links/job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "io/hdf5.h"
#include "io/output.h"
#include "io/road_table.h"
#include "kernels/geohash.h"

namespace geoshard::links {
namespace fs = std::filesystem;

namespace {

constexpr double kMetresPerDeg = 6371008.8 * 0.017453292519943295769;
// Rows per read in the reach pre-pass: ~1 M vertices, 8 MB per coordinate column, below
// glibc's largest mmap threshold, so the buffers are reused instead of page-faulted afresh.
constexpr uint64_t kPrepassChunk = 50000;

std::string absolute(const std::string& p) { return p.empty() ? p : fs::absolute(p).lexically_normal().string(); }

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read '" + path + "': is this a links run folder?");
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error("'" + path + "' is not valid JSON: " + e.what());
  }
}

}  // namespace

void append_refs(const RoadTable& t, size_t b, size_t e, std::vector<RoadRef>& out) {
  const uint64_t base = t.vertex_offset.empty() ? 0 : t.vertex_offset[0];
  for (size_t i = b; i < e; ++i) {
    RoadRef r;
    r.id = t.id[i];
    r.oneway = t.oneway[i];
    r.name = t.name[i];
    if (t.highway[i] < t.highway_classes.size()) r.highway = t.highway_classes[t.highway[i]];
    r.lon = t.lon.data() + (t.vertex_offset[i] - base);
    r.lat = t.lat.data() + (t.vertex_offset[i] - base);
    r.n = static_cast<uint32_t>(t.vertex_offset[i + 1] - t.vertex_offset[i]);
    r.roundabout = !t.roundabout.empty() && t.roundabout[i] != 0;
    if (t.cum_km.size() == t.rows() + 1) r.approx_length_m = (t.cum_km[i + 1] - t.cum_km[i]) * 1000.0;
    out.push_back(r);
  }
}

namespace {

// Rows [b, e) with only what the classifier reads (id, oneway, name, highway, roundabout, cum_km, geometry): a
// halo is several times the task's rows, and name variants and the rest are not needed.
RoadTable read_slim(const h5::Group& g, const std::vector<std::string>& classes, uint64_t b, uint64_t e,
                    const std::string& path) {
  RoadTable t;
  t.row_offset = b;
  const uint64_t n = e - b;
  t.id = g.column("id").read<int64_t>(b, n);
  t.oneway = g.column("oneway").read<int8_t>(b, n);
  t.highway = g.column("highway").read<uint16_t>(b, n);
  check_highway_classes(t.highway, classes.size(), b, path);
  t.name = g.column("name").read_strings(b, n);
  if (g.exists("roundabout")) t.roundabout = g.column("roundabout").read<uint8_t>(b, n);
  t.vertex_offset = g.column("vertex_offset").read<uint64_t>(b, n + 1);
  check_vertex_offsets(g, t.vertex_offset, b, path);
  t.cum_km = g.column("cum_km").read<double>(b, n + 1);
  const uint64_t v0 = t.vertex_offset.front(), nv = t.vertex_offset.back() - v0;
  t.lon = g.column("lon").read<double>(v0, nv);
  t.lat = g.column("lat").read<double>(v0, nv);
  t.highway_classes = classes;
  return t;
}

// The halo box of a task as 32-bit grid index ranges (inclusive), widened by (hx, hy) degrees.
struct IndexBox {
  uint32_t x0, x1, y0, y1;
};

IndexBox halo_box(const engine::Task& t, double hx_deg, double hy_deg) {
  using namespace geohash::detail;
  const uint32_t ix0 = compact32(t.key_lo >> 1), iy0 = compact32(t.key_lo);
  const uint32_t ix1 = compact32(t.key_hi >> 1), iy1 = compact32(t.key_hi);
  const double w = lon_line32(ix0) - hx_deg, e = lon_line32(uint64_t{ix1} + 1) + hx_deg;
  const double s = lat_line32(iy0) - hy_deg, n = lat_line32(uint64_t{iy1} + 1) + hy_deg;
  return {lon_index32(std::max(-180.0, w)), lon_index32(std::min(180.0, e)), lat_index32(std::max(-90.0, s)),
          lat_index32(std::min(90.0, n))};
}

// Row ranges [b, e) of the sorted table whose keys lie in the Z-order intervals of the cells
// (at one level, at most ~(kCoverCells + 2)^2 of them) that cover the box; merged and sorted.
// Coarser cells read more rows beyond the box: with 4 cells per side the cover of a task's own
// aligned cell is its 2 x 2 block of parents' size, whatever the halo (4x the rows); with 16 the
// ring is an eighth of the cell per side. A cell costs two binary searches in `zkey`.
constexpr uint64_t kCoverCells = 128;
std::vector<std::pair<uint64_t, uint64_t>> box_rows(const IndexBox& box, const std::vector<uint64_t>& zkey) {
  using geohash::detail::interleave;
  const uint64_t span = std::max<uint64_t>(uint64_t{box.x1} - box.x0, uint64_t{box.y1} - box.y0) + 1;
  int shift = 0;  // cell side 2^shift grid units, >= span / kCoverCells
  while (shift < 32 && (uint64_t{1} << shift) * kCoverCells < span) ++shift;
  std::vector<std::pair<uint64_t, uint64_t>> keys;
  for (uint64_t cx = uint64_t{box.x0} >> shift; cx <= (uint64_t{box.x1} >> shift); ++cx)
    for (uint64_t cy = uint64_t{box.y0} >> shift; cy <= (uint64_t{box.y1} >> shift); ++cy) {
      const uint64_t lo = interleave(static_cast<uint32_t>(cx << shift), static_cast<uint32_t>(cy << shift));
      const uint64_t hi = shift == 32 ? ~uint64_t{0} : lo | ((uint64_t{1} << (2 * shift)) - 1);
      keys.emplace_back(lo, hi);
    }
  std::sort(keys.begin(), keys.end());
  std::vector<std::pair<uint64_t, uint64_t>> rows;
  for (const auto& [lo, hi] : keys) {
    const uint64_t b = std::lower_bound(zkey.begin(), zkey.end(), lo) - zkey.begin();
    const uint64_t e = std::upper_bound(zkey.begin(), zkey.end(), hi) - zkey.begin();
    if (b >= e) continue;
    if (!rows.empty() && b <= rows.back().second)
      rows.back().second = std::max(rows.back().second, e);
    else
      rows.emplace_back(b, e);
  }
  return rows;
}

// A long carriageway candidate: its row and bounding box (degrees).
struct LongRoad {
  uint64_t row;
  double west, south, east, north;
};

struct Halo {
  Reach box;    // the task's cell is widened by this (short carriageways + links)
  Reach link;   // the farthest a short road's vertex lies from its first vertex
  std::vector<LongRoad> longs;  // carriageway candidates reaching farther than long_reach_m
};

// The collective reach pre-pass (see job.h): every rank reads the rows of its own plan share.
Halo measure_halo(const mpi::Comm& comm, const engine::Plan& plan, const std::string& roads, const JobOptions& opt) {
  Reach carriage, link;
  std::vector<LongRoad> mine;
  if (plan.ranks() == comm.size() && !plan.tasks.empty()) {
    const uint32_t t0 = plan.rank_begin[comm.rank()], t1 = plan.rank_begin[comm.rank() + 1];
    if (t0 < t1) {
      const uint64_t r0 = plan.tasks[t0].row_begin, r1 = plan.tasks[t1 - 1].row_end;
      const h5::File file(roads, h5::File::Mode::kRead);
      const h5::Group group = file.root().open_group("roads");
      const std::vector<std::string> classes = group.attr_strings("highway_classes");
      for (uint64_t b = r0; b < r1; b += kPrepassChunk) {
        const uint64_t e = std::min(r1, b + kPrepassChunk);
        const RoadTable t = read_slim(group, classes, b, e, roads);
        std::vector<RoadRef> refs;
        append_refs(t, 0, t.rows(), refs);
        for (size_t i = 0; i < refs.size(); ++i) {
          const RoadRef& r = refs[i];
          const Reach re = road_reach(r);
          if (is_oneway(r.oneway) && !r.name.empty() && r.n > 0) {
            const double kx = kMetresPerDeg * std::cos(std::min(89.9, std::fabs(r.lat[0])) * 0.017453292519943295769);
            if (opt.long_reach_m > 0 && std::max(re.lon_deg * kx, re.lat_deg * kMetresPerDeg) > opt.long_reach_m) {
              LongRoad l{b + i, r.lon[0], r.lat[0], r.lon[0], r.lat[0]};
              for (uint32_t k = 1; k < r.n; ++k) {  // NaN compares false: ignored
                if (r.lon[k] < l.west) l.west = r.lon[k];
                if (r.lon[k] > l.east) l.east = r.lon[k];
                if (r.lat[k] < l.south) l.south = r.lat[k];
                if (r.lat[k] > l.north) l.north = r.lat[k];
              }
              mine.push_back(l);
            } else {
              carriage.merge(re);
            }
          }
          if (!(r.approx_length_m > opt.links.max_link_m + kApproxLengthSlackM) && road_length_m(r) <= opt.links.max_link_m)
            link.merge(re);
        }
      }
    }
  }
  Halo h;
  // A margin of 1e-9 deg (~0.1 mm) absorbs the rounding of the degree -> grid index conversion.
  h.link.lon_deg = comm.max(link.lon_deg) + 1e-9;
  h.link.lat_deg = comm.max(link.lat_deg) + 1e-9;
  h.box.lon_deg = comm.max(carriage.lon_deg) + h.link.lon_deg;
  h.box.lat_deg = comm.max(carriage.lat_deg) + h.link.lat_deg;
  // Every rank gets every long road (rank order = row order).
  const char* p = reinterpret_cast<const char*>(mine.data());
  const auto all = comm.gather_bytes(std::vector<char>(p, p + mine.size() * sizeof(LongRoad)));
  std::string bytes;
  for (const auto& v : all) bytes.append(v.begin(), v.end());
  bytes = comm.broadcast(bytes);
  h.longs.resize(bytes.size() / sizeof(LongRoad));
  std::memcpy(h.longs.data(), bytes.data(), h.longs.size() * sizeof(LongRoad));
  return h;
}

}  // namespace

JobResult run_job(engine::Engine& eng, const JobOptions& opt) {
  const mpi::Comm& comm = eng.comm();
  const engine::Plan plan = engine::plan_for_roads(opt.roads, comm.size(), opt.plan);
  JobResult jr;
  Halo halo;
  if (opt.halo_m > 0) {
    jr.halo.lat_deg = opt.halo_m / kMetresPerDeg;
    jr.halo.lon_deg = -1;  // per task, from its latitude
  } else {
    halo = measure_halo(comm, plan, opt.roads, opt);
    jr.halo = halo.box;
    jr.long_roads = halo.longs.size();
  }
  // Every rank holds the zkey column to turn halo boxes into row ranges (8 bytes per road).
  std::vector<uint64_t> zkey;
  std::vector<std::string> classes;
  {
    h5::File f(opt.roads, h5::File::Mode::kRead);
    const h5::Group g = f.root().open_group("roads");
    zkey = g.read_column<uint64_t>("zkey");
    classes = g.attr_strings("highway_classes");
  }
  nlohmann::json cfg;
  cfg["job"] = "links";
  cfg["roads"] = absolute(opt.roads);
  cfg["links"] = opt.links.to_json();
  cfg["halo_m"] = opt.halo_m;
  cfg["halo_deg"] = {{"lon", jr.halo.lon_deg}, {"lat", jr.halo.lat_deg}};
  cfg["long_reach_m"] = opt.long_reach_m;
  cfg["long_roads"] = jr.long_roads;
  cfg["plan"] = engine::plan_options_json(opt.plan);
  nlohmann::json with_ranks = cfg;  // (the run's inputs, cfg, leave the rank count out)
  with_ranks["ranks"] = comm.size();
  engine::write_run_json(comm, opt.run_dir, "links.json", with_ranks);

  engine::RunOptions ro;
  ro.run_dir = opt.run_dir;
  ro.job = "links";
  ro.inputs = cfg;
  ro.inputs["files"] = {engine::file_fingerprint(opt.roads)};  // (a table rewritten in place: a new plan)
  ro.progress = opt.progress;
  ro.sync_shards = opt.sync_shards;
  if (!opt.plan.cost_from.empty()) ro.weight_unit = "s (measured)";
  uint64_t own_rows = 0, halo_rows = 0;
  jr.run = eng.run(plan, ro, [&](const engine::Task& t, engine::ShardWriter& w) {
    double hx = jr.halo.lon_deg, hy = jr.halo.lat_deg;
    if (opt.halo_m > 0) {  // metres -> degrees of longitude at the box's most poleward latitude
      using namespace geohash::detail;
      const double lat = std::max(std::fabs(lat_line32(compact32(t.key_lo))),
                                  std::fabs(lat_line32(uint64_t{compact32(t.key_hi)} + 1))) + hy;
      const double c = std::cos(std::min(89.9, lat) * 0.017453292519943295769);
      hx = opt.halo_m / (kMetresPerDeg * c);
    }
    auto ranges = box_rows(halo_box(t, hx, hy), zkey);
    if (!halo.longs.empty()) {
      // Long carriageways whose box meets the cell widened by the links' reach: the only
      // places a link owned here can end. Added as one-row ranges, then merged.
      using namespace geohash::detail;
      const double bw = lon_line32(compact32(t.key_lo >> 1)) - halo.link.lon_deg;
      const double be = lon_line32(uint64_t{compact32(t.key_hi >> 1)} + 1) + halo.link.lon_deg;
      const double bs = lat_line32(compact32(t.key_lo)) - halo.link.lat_deg;
      const double bn = lat_line32(uint64_t{compact32(t.key_hi)} + 1) + halo.link.lat_deg;
      for (const LongRoad& l : halo.longs)
        if (l.east >= bw && l.west <= be && l.north >= bs && l.south <= bn) ranges.emplace_back(l.row, l.row + 1);
      std::sort(ranges.begin(), ranges.end());
      std::vector<std::pair<uint64_t, uint64_t>> merged;
      for (const auto& [b, e2] : ranges) {
        if (!merged.empty() && b <= merged.back().second)
          merged.back().second = std::max(merged.back().second, e2);
        else
          merged.emplace_back(b, e2);
      }
      ranges.swap(merged);
    }
    std::vector<RoadTable> tables;
    tables.reserve(ranges.size() * 2 + 1);
    const h5::File file(opt.roads, h5::File::Mode::kRead);
    const h5::Group group = file.root().open_group("roads");
    tables.push_back(read_slim(group, classes, t.row_begin, t.row_end, opt.roads));
    uint64_t bytes = tables.back().bytes(), extra = 0;
    for (const auto& [b, e] : ranges) {  // the halo: the ranges minus the task's own rows
      for (const auto& [x, y] : {std::pair{b, std::min(e, t.row_begin)}, std::pair{std::max(b, t.row_end), e}}) {
        if (x >= y) continue;
        tables.push_back(read_slim(group, classes, x, y, opt.roads));
        bytes += tables.back().bytes();
        extra += y - x;
      }
    }
    w.add_bytes_read(bytes);
    std::vector<RoadRef> refs;
    for (const RoadTable& tb : tables) append_refs(tb, 0, tb.rows(), refs);
    LinkCounts counts;
    const std::vector<LinkResult> res = classify_links(refs, 0, tables[0].rows(), opt.links, &counts);
    std::vector<uint8_t> is_link(res.size());
    std::vector<int64_t> a(res.size()), b(res.size());
    std::vector<std::string> cw(res.size());
    for (size_t i = 0; i < res.size(); ++i) {
      is_link[i] = res[i].link ? 1 : 0;
      a[i] = res[i].a;
      b[i] = res[i].b;
      cw[i] = res[i].carriageways();
    }
    h5::Group& g = w.group();
    g.write_column("intersection_link", is_link);
    g.write_column("link_a", a);
    g.write_column("link_b", b);
    g.write_strings("link_carriageways", cw);
    for (const auto& [name, m] : LinkCounts::fields()) g.set_attr(std::string("count_") + name, static_cast<int64_t>(counts.*m));
    g.set_attr("halo_rows", static_cast<int64_t>(extra));
    own_rows += tables[0].rows();
    halo_rows += extra;
    w.commit(tables[0].rows());
  });
  jr.own_rows = comm.sum(own_rows);
  jr.halo_rows = comm.sum(halo_rows);
  jr.run.record["links"] = {{"halo_deg", {{"lon", jr.halo.lon_deg}, {"lat", jr.halo.lat_deg}}},
                            {"long_reach_m", opt.long_reach_m}, {"long_roads", jr.long_roads},
                            {"own_rows", jr.own_rows}, {"halo_rows", jr.halo_rows},
                            {"halo_overhead", jr.own_rows ? static_cast<double>(jr.halo_rows) / static_cast<double>(jr.own_rows) : 0.0}};
  return jr;
}

nlohmann::json GatherSummary::to_json() const {
  nlohmann::json j = {{"rows", rows}, {"links", links}, {"counts", counts.to_json()}, {"halo_rows", halo_rows},
                      {"seconds", seconds}, {"out", out}};
  if (has_ground_truth)
    j["score"] = {{"tp", tp}, {"fp", fp}, {"fn", fn}, {"precision", precision()}, {"recall", recall()}};
  return j;
}

GatherSummary gather_links(engine::Engine& eng, const GatherOptions& opt, std::vector<LinkResult>* rows_out) {
  const auto t0 = std::chrono::steady_clock::now();
  const nlohmann::json cfg = read_json((fs::path(opt.run_dir) / "links.json").string());
  const std::string roads_path = cfg.at("roads");
  const engine::Plan plan = engine::read_plan(opt.run_dir);
  GatherSummary sum;
  sum.out = opt.out;
  if (!eng.comm().root()) {
    eng.gather(plan, opt.run_dir, [](const engine::Task&, h5::Group&) {});
    return sum;
  }
  if (rows_out) rows_out->clear();
  auto body = [&](std::FILE* f) {
    eng.gather(plan, opt.run_dir, [&](const engine::Task& t, h5::Group& g) {
      const RoadTable roads = read_road_table(roads_path, t.row_begin, t.row_end);
      const auto is_link = g.read_column<uint8_t>("intersection_link");
      const auto a = g.read_column<int64_t>("link_a");
      const auto b = g.read_column<int64_t>("link_b");
      if (is_link.size() != roads.rows() || a.size() != roads.rows() || b.size() != roads.rows())
        throw std::runtime_error("shard of task " + std::to_string(t.index) + " does not match the road table rows");
      LinkCounts c;
      for (const auto& [name, m] : LinkCounts::fields()) {
        const std::string attr = std::string("count_") + name;  // (a counter newer than the shard: 0)
        c.*m = g.has_attr(attr) ? static_cast<uint64_t>(g.attr_int(attr)) : 0;
      }
      sum.counts += c;
      sum.halo_rows += static_cast<uint64_t>(g.attr_int("halo_rows"));
      const bool gt = !roads.gt_intersection_link.empty();
      if (gt) sum.has_ground_truth = true;
      for (size_t i = 0; i < roads.rows(); ++i) {
        const bool l = is_link[i] != 0;
        ++sum.rows;
        sum.links += l;
        if (gt) {
          const bool want = roads.gt_intersection_link[i] != 0;
          sum.tp += l && want;
          sum.fp += l && !want;
          sum.fn += !l && want;
        }
        LinkResult r{l, a[i], b[i]};
        if (rows_out) rows_out->push_back(r);
        if (f && (l || !opt.links_only)) {
          std::fprintf(f, "%llu,%lld,%u,%d,%s", static_cast<unsigned long long>(t.row_begin + i),
                       static_cast<long long>(roads.id[i]), static_cast<unsigned>(roads.part[i]), l ? 1 : 0,
                       r.carriageways().c_str());
          if (gt) std::fprintf(f, ",%d", roads.gt_intersection_link[i] ? 1 : 0);
          std::fputc('\n', f);
        }
      }
    });
  };
  if (opt.out.empty()) {
    body(nullptr);
  } else {
    check_output_writable(opt.out);
    bool gt_known = false;
    {
      h5::File f(roads_path, h5::File::Mode::kRead);
      gt_known = f.root().open_group("roads").exists("gt_intersection_link");
    }
    write_atomically(opt.out, [&](const std::string& tmp) {
      std::FILE* f = std::fopen(tmp.c_str(), "w");
      if (!f) throw std::runtime_error("cannot write '" + tmp + "'");
      std::fprintf(f, "row,id,part,intersection_link,link_carriageways%s\n", gt_known ? ",gt_intersection_link" : "");
      try {
        body(f);
      } catch (...) {
        std::fclose(f);
        throw;
      }
      if (std::fclose(f) != 0) throw std::runtime_error("cannot write '" + tmp + "'");
    });
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

RowReader::RowReader(const std::string& run_dir, const std::string& roads_path, uint64_t rows) : run_dir_(run_dir) {
  const std::string cfg_path = (fs::path(run_dir) / "links.json").string();
  if (!fs::exists(cfg_path))
    throw std::runtime_error("'" + run_dir + "' holds no links run (no links.json): run 'geoshard links --run " + run_dir + "' first");
  const nlohmann::json cfg = read_json(cfg_path);
  const std::string links_roads = cfg.at("roads");
  std::error_code ec;
  if (!fs::equivalent(links_roads, roads_path, ec))
    throw std::runtime_error("the links run in '" + run_dir + "' was made on '" + links_roads + "', not on '" + roads_path +
                             "': run links on the same road table");
  plan_ = engine::read_plan(run_dir);
  plan_id_ = engine::gather_plan_id(plan_, run_dir);
  uint64_t next = 0;
  for (const engine::Task& t : plan_.tasks) {
    if (t.row_begin != next)
      throw std::runtime_error("the links run in '" + run_dir + "': its tasks do not cover the road table's rows in order");
    next = t.row_end;
  }
  if (next != rows)
    throw std::runtime_error("the links run in '" + run_dir + "' covers " + std::to_string(next) + " rows, the road table has " +
                             std::to_string(rows) + ": the table changed since; run links again");
}

void RowReader::load(size_t task) {
  if (loaded_ == task) return;
  const engine::Task& t = plan_.tasks[task];
  h5::File f = engine::open_committed_shard(run_dir_, t, plan_id_);
  const h5::Group g = f.root().open_group("shard");
  is_link_ = g.read_column<uint8_t>("intersection_link");
  a_ = g.read_column<int64_t>("link_a");
  b_ = g.read_column<int64_t>("link_b");
  const uint64_t n = t.row_end - t.row_begin;
  if (is_link_.size() != n || a_.size() != n || b_.size() != n)
    throw std::runtime_error("shard '" + engine::shard_path(run_dir_, t) + "' does not match its task's " + std::to_string(n) + " rows");
  loaded_ = task;
}

void RowReader::read(uint64_t begin, uint64_t end, std::vector<LinkResult>& out) {
  const auto& tasks = plan_.tasks;
  // The first task whose rows end after `begin` (tasks hold ascending, contiguous row ranges).
  size_t k = static_cast<size_t>(std::upper_bound(tasks.begin(), tasks.end(), begin,
                                                  [](uint64_t r, const engine::Task& t) { return r < t.row_end; }) -
                                 tasks.begin());
  for (uint64_t row = begin; row < end; ++k) {
    if (k >= tasks.size()) throw std::runtime_error("row " + std::to_string(row) + " lies beyond the links run's tasks");
    load(k);
    const uint64_t stop = std::min(end, tasks[k].row_end);
    for (; row < stop; ++row) {
      const size_t i = row - tasks[k].row_begin;
      out.push_back(LinkResult{is_link_[i] != 0, a_[i], b_[i]});
    }
  }
}

}  // namespace geoshard::links
