#include "jobs/localise/job.h"

#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "io/ogr_source.h"
#include "io/output.h"
#include "io/road_table.h"
#include "io/run_record.h"
#include "jobs/localise/localise.h"
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

}  // namespace

engine::RunResult run_job(engine::Engine& eng, const JobOptions& opt) {
  const mpi::Comm& comm = eng.comm();
  // Every rank loads the coverage (it is small next to the roads) and plans identically.
  const Localiser loc(opt.coverage, opt.layers);
  const engine::Plan plan = engine::plan_for_roads(opt.roads, comm.size(), opt.plan);
  nlohmann::json cfg;
  cfg["job"] = "localise";
  cfg["roads"] = absolute(opt.roads);
  cfg["coverage"] = absolute(opt.coverage);
  cfg["rules"] = absolute(opt.rules);
  std::vector<std::string> names;
  for (const auto& l : loc.layers()) names.push_back(l.coverage.name);
  cfg["layers"] = names;
  cfg["precision"] = loc.precision();
  cfg["ranks"] = comm.size();
  cfg["plan"] = {{"partition_precision", opt.plan.partition_precision},
                 {"max_precision", opt.plan.max_precision},
                 {"max_task_fraction", opt.plan.max_task_fraction}};
  if (comm.root()) {
    fs::create_directories(opt.run_dir);
    write_atomically((fs::path(opt.run_dir) / "localise.json").string(), [&](const std::string& tmp) {
      std::ofstream out(tmp);
      out << cfg.dump(2) << "\n";
      if (!out) throw std::runtime_error("cannot write '" + tmp + "'");
    });
  }
  comm.barrier();

  engine::RunOptions ro;
  ro.run_dir = opt.run_dir;
  ro.job = "localise";
  ro.inputs = cfg;
  ro.progress = opt.progress;
  return eng.run(plan, ro, [&](const engine::Task& t, engine::ShardWriter& w) {
    const RoadTable roads = read_road_table(opt.roads, t.row_begin, t.row_end);
    w.add_bytes_read(roads.lon.size() * 16 + roads.rows() * 64);
    std::vector<Hit> hits;
    std::vector<double> road_len;
    loc.localise(roads, hits, road_len);
    std::vector<uint64_t> row(hits.size());
    std::vector<uint16_t> layer(hits.size());
    std::vector<uint32_t> area(hits.size());
    std::vector<double> len(hits.size());
    for (size_t i = 0; i < hits.size(); ++i) {
      row[i] = hits[i].row;
      layer[i] = hits[i].layer;
      area[i] = hits[i].area;
      len[i] = hits[i].length_m;
    }
    h5::Group& g = w.group();
    g.set_attr("row_begin", static_cast<int64_t>(t.row_begin));
    g.set_attr("row_end", static_cast<int64_t>(t.row_end));
    g.set_attr("layers", names);
    g.write_column("row", row);
    g.write_column("layer", layer);
    g.write_column("area", area);
    g.write_column("length_m", len);
    g.write_column("road_length_m", road_len);
    w.commit(roads.rows());
  });
}

MapSummary write_map(engine::Engine& eng, const MapOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const nlohmann::json cfg = read_json((fs::path(opt.run_dir) / "localise.json").string());
  const std::string roads_path = cfg.at("roads");
  const std::string coverage_path = cfg.at("coverage");
  const std::vector<std::string> layers = cfg.at("layers");
  // The plan exactly as the run recorded it (RUN/plan.json), so gather reads the shards the run wrote.
  const engine::Plan plan = engine::read_plan(opt.run_dir);
  MapSummary sum;
  sum.out = opt.out;
  if (!eng.comm().root()) {
    eng.gather(plan, opt.run_dir, [](const engine::Task&, h5::Group&) {});
    return sum;
  }
  check_output_writable(opt.out);
  std::vector<AreaLayer> areas;
  for (const auto& l : layers) areas.push_back(read_coverage_areas(coverage_path, l));
  MapWriterOptions mo;
  mo.rules = !opt.rules.empty() ? opt.rules : cfg.value("rules", std::string());
  mo.country_layer = opt.country_layer;
  mo.urban_layer = opt.urban_layer;
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
      for (size_t i = 0; i < row.size(); ++i) hits[i] = Hit{row[i], layer[i], area[i], len[i]};
      mw.add(roads, hits, road_len);
    });
    mw.close();
    sum.roads = mw.roads();
    sum.road_areas = mw.road_areas();
    sum.roads_without_area = mw.roads_without_area();
  });
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace geoshard::localise
