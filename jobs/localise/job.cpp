#include "jobs/localise/job.h"

#include <gdal_priv.h>
#include <gdal_utils.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>

#include "io/dead_letter.h"
#include "io/ogr_source.h"
#include "io/output.h"
#include "io/road_table.h"
#include "io/rules.h"
#include "io/run_record.h"
#include "jobs/links/job.h"
#include "jobs/localise/localise.h"
#include "jobs/localise/localise_s2.h"
#include "jobs/localise/map_writer.h"

namespace geoshard::localise {
namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read '" + path + "': is this a localise run folder?");
  try {
    return nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error("'" + path + "' is not valid JSON: " + e.what());
  }
}

std::string absolute(const std::string& p) { return p.empty() ? p : fs::absolute(p).lexically_normal().string(); }

// A road row that breaks the road table's invariants (io/road_table.h): ingest never writes one,
// but a table from another tool or an older version may. Such a row is not localised; it goes
// to the dead letters (shard columns dead_row / dead_reason / dead_message) and not to the map.
struct DeadRoad {
  uint64_t row;
  Reason reason;
  std::string message;
};

std::optional<DeadRoad> check_road(const RoadTable& t, size_t i) {
  const uint64_t base = t.vertex_offset[0], v0 = t.vertex_offset[i] - base, v1 = t.vertex_offset[i + 1] - base;
  const uint64_t row = t.row_offset + i;
  // The row, named in a message only when it is bad (built then: most rows are good).
  auto what = [&] {
    return "row " + std::to_string(row) + " (road " + std::to_string(t.id[i]) + " part " + std::to_string(t.part[i]) + ")";
  };
  bool distinct = false;
  for (uint64_t v = v0; v < v1; ++v) {
    const double x = t.lon[v], y = t.lat[v];
    if (!std::isfinite(x) || !std::isfinite(y))
      return DeadRoad{row, Reason::kNonFiniteCoordinate, what() + ": vertex " + std::to_string(v - v0) + " is not finite"};
    if (x < -180 || x > 180 || y < -90 || y > 90)
      return DeadRoad{row, Reason::kCoordinateOutOfRange, what() + ": vertex " + std::to_string(v - v0) + " (" +
                      std::to_string(x) + ", " + std::to_string(y) + ") is outside [-180,180] x [-90,90]"};
    distinct = distinct || x != t.lon[v0] || y != t.lat[v0];
  }
  if (!distinct) return DeadRoad{row, Reason::kTooFewPoints, what() + ": fewer than two distinct points"};
  return std::nullopt;
}

// Rows [b, e) of t, geometry and ids only (what the localiser reads).
RoadTable geometry_slice(const RoadTable& t, size_t b, size_t e) {
  RoadTable s;
  s.row_offset = t.row_offset + b;
  s.id.assign(t.id.begin() + b, t.id.begin() + e);
  s.vertex_offset.assign(t.vertex_offset.begin() + b, t.vertex_offset.begin() + e + 1);
  const uint64_t base = t.vertex_offset[0];
  s.lon.assign(t.lon.begin() + (s.vertex_offset.front() - base), t.lon.begin() + (s.vertex_offset.back() - base));
  s.lat.assign(t.lat.begin() + (s.vertex_offset.front() - base), t.lat.begin() + (s.vertex_offset.back() - base));
  return s;
}

}  // namespace

uint64_t default_group_rows(const backend::Choice& backend) {
  return backend.kind == backend::Kind::cuda ? 100000 : 0;
}

engine::RunResult run_job(engine::Engine& eng, const JobOptions& opt) {
  const mpi::Comm& comm = eng.comm();
  // Every rank loads the coverage (it is small next to the roads) and plans identically.
  GridLocaliser loc(opt.coverage, opt.layers, opt.backend);  // geohash or S2, by the coverage's grid attribute
  const uint64_t batch = opt.batch ? opt.batch : Localiser::kPipBatch;
  loc.set_pip_batch(batch);
  const engine::Plan plan = engine::plan_for_roads(opt.roads, comm.size(), opt.plan);
  // The rules table is used by gather; a bad one is an error now, before every shard is computed.
  if (!opt.rules.empty()) RuleTable::load(opt.rules);
  nlohmann::json cfg;
  cfg["job"] = "localise";
  cfg["roads"] = absolute(opt.roads);
  cfg["coverage"] = absolute(opt.coverage);
  cfg["rules"] = absolute(opt.rules);
  std::vector<std::string> names;
  for (const auto& l : loc.layers()) names.push_back(l.coverage.name);
  cfg["layers"] = names;
  cfg["precision"] = loc.precision();
  cfg["grid"] = loc.grid();
  cfg["ranks"] = comm.size();
  cfg["plan"] = engine::plan_options_json(opt.plan);
  engine::write_run_json(comm, opt.run_dir, "localise.json", cfg);

  engine::RunOptions ro;
  ro.run_dir = opt.run_dir;
  ro.job = "localise";
  ro.inputs = cfg;
  // The input files' sizes and modification times are part of the plan: a coverage rebuilt at
  // the same path (or new roads) makes a rerun into the same RUN an error, not a reuse of stale
  // shards.
  ro.inputs["files"] = {engine::file_fingerprint(opt.roads), engine::file_fingerprint(opt.coverage)};
  if (!opt.rules.empty()) ro.inputs["files"].push_back(engine::file_fingerprint(opt.rules));
  ro.progress = opt.progress;
  if (!opt.plan.cost_from.empty()) ro.weight_unit = "s (measured)";
  ro.group_rows = opt.group_rows;
  uint64_t max_task_bytes = 0;  // the largest road slice this rank held
  std::vector<Hit> hits;
  std::vector<double> road_len;
  std::vector<DeadRoad> dead;
  engine::RunResult res = eng.run_groups(plan, ro, [&](std::span<const engine::Task> tasks,
                                                       std::span<engine::ShardWriter* const> writers) {
    // The group's rows at once (one localise call: its boundary-cell batches span the tasks),
    // then each task's part of the results into its shard. Hits come sorted by row, so a
    // task's hits are a contiguous run; its shard holds exactly what the task alone would give.
    const RoadTable roads =
        read_road_table(opt.roads, tasks.front().row_begin, tasks.back().row_end, std::nullopt, RoadColumns::kGeometry);
    writers[0]->add_bytes_read(roads.bytes());
    max_task_bytes = std::max(max_task_bytes, roads.bytes());
    hits.clear();
    road_len.clear();
    dead.clear();
    for (size_t i = 0; i < roads.rows(); ++i)
      if (auto d = check_road(roads, i)) dead.push_back(std::move(*d));
    if (dead.empty()) {
      loc.localise(roads, hits, road_len);
    } else {  // localise the runs of good rows; dead rows get length 0 and no hits
      size_t b = 0;
      for (size_t k = 0; k <= dead.size(); ++k) {
        const size_t e = k < dead.size() ? dead[k].row - roads.row_offset : roads.rows();
        if (e > b) loc.localise(geometry_slice(roads, b, e), hits, road_len);
        if (k < dead.size()) road_len.push_back(0.0);
        b = e + 1;
      }
    }
    size_t h = 0, d = 0;
    for (size_t k = 0; k < tasks.size(); ++k) {
      const engine::Task& t = tasks[k];
      const size_t h0 = h, d0 = d;
      while (h < hits.size() && hits[h].row < t.row_end) ++h;
      while (d < dead.size() && dead[d].row < t.row_end) ++d;
      const size_t n = h - h0;
      std::vector<uint64_t> row(n);
      std::vector<uint16_t> layer(n);
      std::vector<uint32_t> area(n);
      std::vector<double> len(n);
      for (size_t i = 0; i < n; ++i) {
        const Hit& x = hits[h0 + i];
        row[i] = x.row;
        layer[i] = x.layer;
        area[i] = x.area;
        len[i] = x.length_m;
      }
      const auto rb = static_cast<ptrdiff_t>(t.row_begin - roads.row_offset);
      const auto re = static_cast<ptrdiff_t>(t.row_end - roads.row_offset);
      h5::Group& g = writers[k]->group();
      g.set_attr("row_begin", static_cast<int64_t>(t.row_begin));
      g.set_attr("row_end", static_cast<int64_t>(t.row_end));
      g.set_attr("layers", names);
      g.write_column("row", row);
      g.write_column("layer", layer);
      g.write_column("area", area);
      g.write_column("length_m", len);
      g.write_column("road_length_m", std::vector<double>(road_len.begin() + rb, road_len.begin() + re));
      g.set_attr("dead_letters", static_cast<int64_t>(d - d0));
      if (d > d0) {
        std::vector<uint64_t> drow;
        std::vector<std::string> dreason, dmessage;
        for (size_t i = d0; i < d; ++i) {
          drow.push_back(dead[i].row);
          dreason.emplace_back(reason_code(dead[i].reason));
          dmessage.push_back(dead[i].message);
        }
        g.write_column("dead_row", drow);
        g.write_strings("dead_reason", dreason);
        g.write_strings("dead_message", dmessage);
      }
      writers[k]->commit(t.row_end - t.row_begin);
    }
  });
  // Memory: each rank holds the coverage (loaded once) and one task's roads at a time. The
  // issue's bound is peak RSS < 2 x (roads held + coverage); the record states both sides.
  const std::vector<uint64_t> task_bytes = comm.all_gather(max_task_bytes);
  nlohmann::json mem;
  mem["coverage_bytes"] = loc.bytes();
  mem["max_task_road_bytes"] = task_bytes;
  nlohmann::json ratio = nlohmann::json::array();
  for (size_t r = 0; r < res.ranks.size(); ++r)
    ratio.push_back(static_cast<double>(res.ranks[r].peak_rss_bytes) / static_cast<double>(loc.bytes() + task_bytes[r]));
  mem["peak_rss_over_held_bytes"] = ratio;
  res.record["memory"] = mem;
  res.record["boundary_batch"] = batch;
  return res;
}

DeadLetterSummary write_dead_letters(engine::Engine& eng, const std::string& run_dir) {
  const nlohmann::json cfg = read_json((fs::path(run_dir) / "localise.json").string());
  const std::string roads_path = cfg.at("roads");
  const engine::Plan plan = engine::read_plan(run_dir);
  const mpi::Comm& comm = eng.comm();
  // This rank's tasks when the plan was made for this many ranks, else rank 0 reads them all.
  uint32_t t0 = 0, t1 = static_cast<uint32_t>(plan.tasks.size());
  if (plan.ranks() == comm.size()) {
    t0 = plan.rank_begin[comm.rank()];
    t1 = plan.rank_begin[comm.rank() + 1];
  } else if (!comm.root()) {
    t1 = 0;
  }
  // One line per dead letter: reason \t row \t message (our own messages hold no tab or newline).
  std::string mine;
  for (uint32_t k = t0; k < t1; ++k) {
    const std::string path = (fs::path(run_dir) / "shards" / plan.tasks[k].shard_name()).string();
    h5::File f(path, h5::File::Mode::kRead);
    h5::Group g = f.root().open_group("shard");
    if (!g.has_attr("dead_letters") || g.attr_int("dead_letters") == 0) continue;
    const auto row = g.read_column<uint64_t>("dead_row");
    const auto reason = g.read_strings("dead_reason");
    const auto message = g.read_strings("dead_message");
    if (reason.size() != row.size() || message.size() != row.size())
      throw std::runtime_error("shard '" + path + "': dead-letter columns have different lengths");
    for (size_t i = 0; i < row.size(); ++i) mine += reason[i] + "\t" + std::to_string(row[i]) + "\t" + message[i] + "\n";
  }
  const std::vector<std::vector<char>> all = comm.gather_bytes(std::vector<char>(mine.begin(), mine.end()));
  DeadLetterSummary sum;
  if (!comm.root()) return sum;
  sum.path = (fs::path(run_dir) / "localise.dead-letter.jsonl").string();
  DeadLetterWriter w(sum.path);
  for (const auto& buf : all) {
    const std::string text(buf.begin(), buf.end());
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t nl = text.find('\n', pos), a = text.find('\t', pos), b = text.find('\t', a + 1);
      const std::string code = text.substr(pos, a - pos);
      const std::optional<Reason> r = reason_from_code(code);
      if (!r) throw std::runtime_error("run '" + run_dir + "': unknown dead-letter reason '" + code + "' in a shard");
      w.write(roads_path, "row " + text.substr(a + 1, b - a - 1), *r, text.substr(b + 1, nl - b - 1));
      pos = nl + 1;
    }
  }
  w.close();
  sum.total = w.total();
  sum.reasons = w.counts();
  return sum;
}

MapSummary write_map(engine::Engine& eng, const MapOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string cfg_path = (fs::path(opt.run_dir) / "localise.json").string();
  const nlohmann::json cfg = read_json(cfg_path);
  std::string roads_path, coverage_path;
  std::vector<std::string> layers;
  try {
    roads_path = cfg.at("roads");
    coverage_path = cfg.at("coverage");
    layers = cfg.at("layers").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("'" + cfg_path + "' is not a localise run's record (" + e.what() + ")");
  }
  if (layers.empty()) throw std::runtime_error("'" + cfg_path + "' names no layer");
  // The plan exactly as the run recorded it (RUN/plan.json), so gather reads the shards the run wrote.
  const engine::Plan plan = engine::read_plan(opt.run_dir);
  MapSummary sum;
  sum.out = opt.out;
  if (!eng.comm().root()) {
    eng.gather(plan, opt.run_dir, [](const engine::Task&, h5::Group&) {});
    return sum;
  }
  check_output_writable(opt.out);
  if (!opt.fgb.empty()) check_output_writable(opt.fgb);  // (before the map's work, not after it)
  // The input files must be the ones the run read (size and modification time, as recorded in
  // RUN/plan.json): a map from shards of other inputs would be wrong, or name areas that are not there.
  {
    const nlohmann::json inputs = engine::read_plan_inputs(opt.run_dir);
    if (inputs.contains("files"))
      for (const auto& f : inputs.at("files")) {
        const std::string path = f.at("path");
        std::error_code ec;
        if (!fs::exists(path, ec)) throw std::runtime_error("input '" + path + "' of run '" + opt.run_dir + "' is gone");
        if (engine::file_fingerprint(path) != f)
          throw std::runtime_error("input '" + path + "' changed since run '" + opt.run_dir +
                                   "' read it (size or modification time): localise again into a new --run");
      }
  }
  std::vector<AreaLayer> areas;
  for (const auto& l : layers) areas.push_back(read_coverage_areas(coverage_path, l));
  MapWriterOptions mo;
  mo.rules = !opt.rules.empty() ? opt.rules : cfg.value("rules", std::string());
  mo.country_layer = opt.country_layer;
  mo.urban_layer = opt.urban_layer;
  mo.link_columns = !opt.links_run.empty();
  std::optional<links::RowReader> link_rows;
  if (mo.link_columns) link_rows.emplace(opt.links_run, roads_path, road_table_rows(roads_path));
  std::vector<links::LinkResult> link_results;
  write_atomically(opt.out, [&](const std::string& tmp) {
    MapWriter mw(tmp, areas, mo);
    eng.gather(plan, opt.run_dir, [&](const engine::Task& t, h5::Group& g) {
      const RoadTable roads = read_road_table(roads_path, t.row_begin, t.row_end);
      const auto row = g.read_column<uint64_t>("row");
      const auto layer = g.read_column<uint16_t>("layer");
      const auto area = g.read_column<uint32_t>("area");
      const auto len = g.read_column<double>("length_m");
      const auto road_len = g.read_column<double>("road_length_m");
      if (road_len.size() != roads.rows())
        throw std::runtime_error("shard of task " + std::to_string(t.index) + " does not match the road table rows");
      std::vector<Hit> hits(row.size());
      for (size_t i = 0; i < row.size(); ++i) {
        // A shard's area ids index the coverage the run used: one that is not there means the
        // coverage was rebuilt since (its areas renumbered) or the shard is foreign.
        if (layer[i] >= areas.size() || area[i] >= areas[layer[i]].areas() || row[i] < t.row_begin || row[i] >= t.row_end)
          throw std::runtime_error("shard of task " + std::to_string(t.index) + ": hit " + std::to_string(i) +
                                   " names layer " + std::to_string(layer[i]) + " area " + std::to_string(area[i]) +
                                   " (row " + std::to_string(row[i]) + "), not in coverage '" + coverage_path +
                                   "' and the task's rows (the coverage changed since the run? localise again into a new --run)");
        hits[i] = Hit{row[i], layer[i], area[i], len[i]};
      }
      std::vector<char> skip;
      if (g.has_attr("dead_letters") && g.attr_int("dead_letters") > 0) {
        skip.assign(roads.rows(), 0);
        const auto dead_row = g.read_column<uint64_t>("dead_row");
        const auto dead_reason = g.read_strings("dead_reason");
        for (size_t k = 0; k < dead_row.size(); ++k) {
          if (dead_row[k] < t.row_begin || dead_row[k] >= t.row_end)
            throw std::runtime_error("shard of task " + std::to_string(t.index) + ": dead row outside the task");
          skip[dead_row[k] - t.row_begin] = 1;
          ++sum.dead;
          ++sum.dead_reasons[k < dead_reason.size() ? dead_reason[k] : std::string("UNKNOWN")];
        }
      }
      sum.rows += roads.rows();
      link_results.clear();
      if (link_rows) link_rows->read(t.row_begin, t.row_end, link_results);
      mw.add(roads, hits, road_len, skip, link_rows ? &link_results : nullptr);
    });
    mw.close();
    sum.roads = mw.roads();
    sum.road_areas = mw.road_areas();
    sum.links = mw.links();
    sum.roads_without_area = mw.roads_without_area();
  });
  if (!opt.fgb.empty()) {
    // The roads layer as FlatGeobuf (with its spatial index), translated by GDAL from the map
    // just written; road_areas has no geometry and stays in the GeoPackage only.
    check_output_writable(opt.fgb);
    write_atomically(opt.fgb, [&](const std::string& tmp) {
      GdalDatasetPtr src = open_vector(opt.out);
      const char* args[] = {"-f", "FlatGeobuf", "roads", nullptr};
      GDALVectorTranslateOptions* o = GDALVectorTranslateOptionsNew(const_cast<char**>(args), nullptr);
      if (!o) throw std::runtime_error("GDAL: bad translate options: " + gdal_last_error());
      GDALDatasetH in = GDALDataset::ToHandle(src.get());
      int usage_error = 0;
      GDALDatasetH out = GDALVectorTranslate(tmp.c_str(), nullptr, 1, &in, o, &usage_error);
      GDALVectorTranslateOptionsFree(o);
      if (!out) throw std::runtime_error("cannot write FlatGeobuf '" + tmp + "': " + gdal_last_error());
      GDALClose(out);
    });
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace geoshard::localise
