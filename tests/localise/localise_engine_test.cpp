// localise on the engine at 1-4 ranks: the map's road_areas equal, bit for bit, a serial
// localisation of the whole table (so every rank count gives the same map), every road is in
// the map once, and a rerun reuses every committed shard.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <map>
#include <tuple>

#include "io/coverage_table.h"
#include "io/ogr_source.h"
#include "jobs/cover/cover.h"
#include "jobs/ingest/ingest.h"
#include "jobs/links/job.h"
#include "jobs/localise/job.h"
#include "jobs/localise/localise.h"
#include "jobs/synth/synth.h"
#include "mpi/engine.h"
#include "tests/testing/mpi_main.h"

namespace geoshard {
namespace {

// Rank 0 writes a synthetic region (jobs/synth) into a new temporary folder and ingests it:
// DIR/<roads_name> and DIR/areas.h5. Every rank gets the folder's name.
std::string make_region(const mpi::Comm& comm, const char* prefix, uint64_t segments, uint64_t seed,
                        const std::string& roads_name = "roads.h5") {
  std::string dir;
  if (comm.root()) {
    std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
    dir = ::mkdtemp(tmpl.data());
    synth::SynthOptions so;
    so.segments = segments;
    so.seed = seed;
    so.out_dir = dir + "/region";
    synth::generate(so);
    ingest::RoadOptions ro;
    ro.in = dir + "/region/roads.fgb";
    ro.out = dir + "/" + roads_name;
    ingest::ingest_roads(ro);
    ingest::AreaOptions ao;
    ao.layers = ingest::read_area_spec(dir + "/region/areas.toml");
    ao.out = dir + "/areas.h5";
    ingest::ingest_areas(ao);
  }
  return comm.broadcast(dir);
}

// Covers DIR/areas.h5 at precision p on all ranks; rank 0 writes DIR/coverage.h5.
void make_coverage(const mpi::Comm& comm, const std::string& dir, int p) {
  std::vector<AreaLayer> layers;
  for (const auto& n : area_layer_names(dir + "/areas.h5")) layers.push_back(read_area_layer(dir + "/areas.h5", n));
  cover::CoverOptions co;
  co.precision = p;
  const auto cov = cover::cover_layers(layers, co, &comm);
  if (comm.root()) write_coverage(dir + "/coverage.h5", cov.layers, layers);
  comm.barrier();
}

// The localise job on DIR's roads and coverage, run folder DIR/run.
localise::JobOptions job_options(const std::string& dir, int partition_precision) {
  localise::JobOptions jo;
  jo.roads = dir + "/roads.h5";
  jo.coverage = dir + "/coverage.h5";
  jo.run_dir = dir + "/run";
  jo.progress = false;
  jo.plan.partition_precision = partition_precision;
  return jo;
}

TEST(LocaliseEngine, MapEqualsSerialLocalisationAtAnyRankCount) {
  mpi::Comm comm;
  const std::string dir = make_region(comm, "geoshard-loc", 40000, 11);
  make_coverage(comm, dir, 7);

  engine::Engine eng(comm);
  const localise::JobOptions jo = job_options(dir, 6);
  const auto first = run_job(eng, jo);
  EXPECT_FALSE(first.interrupted);
  if (comm.root()) {
    EXPECT_EQ(first.shards_committed, first.shards_total);
    EXPECT_EQ(first.shards_reused, 0u);
  }
  const auto second = run_job(eng, jo);
  if (comm.root()) {
    EXPECT_EQ(second.shards_reused, first.shards_total);
    EXPECT_EQ(second.shards_committed, 0u);
  }
  localise::MapOptions mo;
  mo.run_dir = jo.run_dir;
  mo.out = dir + "/map.gpkg";
  const auto m = localise::write_map(eng, mo);
  if (comm.root()) {
    const RoadTable roads = read_road_table(jo.roads);
    EXPECT_EQ(m.roads, roads.rows());
    // Serial reference.
    const localise::Localiser loc(jo.coverage);
    std::vector<localise::Hit> hits;
    std::vector<double> len;
    loc.localise(roads, hits, len);
    std::map<std::tuple<int64_t, std::string, std::string>, double> want, got;
    for (const auto& h : hits)
      want[{roads.id[h.row], loc.layers()[h.layer].coverage.name, loc.layers()[h.layer].areas.id[h.area]}] = h.length_m;
    GdalDatasetPtr ds = open_vector(mo.out);
    OGRLayer* ra = ds->GetLayerByName("road_areas");
    ASSERT_NE(ra, nullptr);
    for (auto& f : *ra)
      got[{f->GetFieldAsInteger64("road_id"), f->GetFieldAsString("layer"), f->GetFieldAsString("area_id")}] =
          f->GetFieldAsDouble("length_m");
    EXPECT_EQ(got.size(), want.size());
    EXPECT_TRUE(got == want) << "road_areas differ from the serial localisation";
    OGRLayer* rl = ds->GetLayerByName("roads");
    ASSERT_NE(rl, nullptr);
    EXPECT_EQ(rl->GetFeatureCount(), static_cast<GIntBig>(roads.rows()));
    ds.reset();
    std::filesystem::remove_all(dir);
  }
}

// Task groups (--group-rows): consecutive tasks localised in one call, so the boundary cells'
// batches span tasks; every shard must hold exactly what its task alone gives, bit for bit.
TEST(LocaliseEngine, TaskGroupsGiveTheSameShardsBitForBit) {
  mpi::Comm comm;
  const std::string dir = make_region(comm, "geoshard-locgroup", 40000, 12);
  make_coverage(comm, dir, 7);
  engine::Engine eng(comm);
  localise::JobOptions jo = job_options(dir, 6);
  const uint64_t rows = road_table_rows(jo.roads);
  jo.run_dir = dir + "/alone";
  const auto alone = run_job(eng, jo);
  for (const uint64_t group_rows : {rows / 7, uint64_t{1} << 40}) {
    jo.run_dir = dir + "/group-" + std::to_string(group_rows);
    jo.group_rows = group_rows;
    jo.batch = group_rows == rows / 7 ? 0 : 333;  // small boundary-cell batches change nothing either
    const auto grouped = run_job(eng, jo);
    EXPECT_EQ(grouped.plan_id, alone.plan_id) << "the group size is not part of the plan";
    uint64_t tasks = 0, groups = 0;
    for (const auto& r : grouped.ranks) tasks += r.tasks_run, groups += r.groups_run;
    EXPECT_EQ(tasks, grouped.shards_total);
    EXPECT_LT(groups, tasks) << "no group held two tasks (group_rows " << group_rows << ")";
    if (!comm.root()) continue;
    const engine::Plan plan = engine::read_plan(jo.run_dir);
    for (const engine::Task& t : plan.tasks) {
      h5::File fa(engine::shard_path(dir + "/alone", t), h5::File::Mode::kRead);
      h5::File fb(engine::shard_path(jo.run_dir, t), h5::File::Mode::kRead);
      const h5::Group a = fa.root().open_group("shard"), b = fb.root().open_group("shard");
      EXPECT_EQ(a.read_column<uint64_t>("row"), b.read_column<uint64_t>("row")) << "task " << t.index;
      EXPECT_EQ(a.read_column<uint16_t>("layer"), b.read_column<uint16_t>("layer")) << "task " << t.index;
      EXPECT_EQ(a.read_column<uint32_t>("area"), b.read_column<uint32_t>("area")) << "task " << t.index;
      EXPECT_EQ(a.read_column<double>("length_m"), b.read_column<double>("length_m")) << "task " << t.index;
      EXPECT_EQ(a.read_column<double>("road_length_m"), b.read_column<double>("road_length_m")) << "task " << t.index;
      EXPECT_EQ(b.attr_int("rows"), static_cast<int64_t>(t.row_end - t.row_begin));
      EXPECT_EQ(a.attr_string("checksum"), b.attr_string("checksum")) << "task " << t.index;
    }
  }
  comm.barrier();
  if (comm.root()) std::filesystem::remove_all(dir);
}

TEST(LocaliseEngine, BadRoadsAreDeadLetteredAtAnyRankCount) {
  // A road table written by another tool may break roads.h5's invariants (ingest never does):
  // such rows are not localised, go to RUN/localise.dead-letter.jsonl with a reason code, and
  // are left out of the map; every other road is localised as usual.
  mpi::Comm comm;
  std::map<int64_t, std::string> bad;  // road id -> expected reason
  const std::string dir = make_region(comm, "geoshard-locbad", 20000, 5, "good.h5");
  if (comm.root()) {
    RoadTable t = read_road_table(dir + "/good.h5");
    const size_t n = t.rows();
    auto vertex = [&](size_t row, size_t k) { return t.vertex_offset[row] + k; };
    t.lat[vertex(5, 1)] = std::nan("");
    bad[t.id[5]] = "NON_FINITE_COORDINATE";
    t.lon[vertex(n / 2, 0)] = 250.0;
    bad[t.id[n / 2]] = "COORDINATE_OUT_OF_RANGE";
    for (uint64_t v = t.vertex_offset[n / 3]; v < t.vertex_offset[n / 3 + 1]; ++v) {
      t.lon[v] = t.lon[t.vertex_offset[n / 3]];
      t.lat[v] = t.lat[t.vertex_offset[n / 3]];
    }
    bad[t.id[n / 3]] = "TOO_FEW_POINTS";
    t.lon[vertex(n - 1, 0)] = -std::numeric_limits<double>::infinity();
    bad[t.id[n - 1]] = "NON_FINITE_COORDINATE";
    ASSERT_EQ(bad.size(), 4u);
    write_road_table(t, dir + "/roads.h5", "test: corrupted copy");
  }
  make_coverage(comm, dir, 6);

  engine::Engine eng(comm);
  localise::JobOptions jo = job_options(dir, 5);
  jo.group_rows = uint64_t{1} << 40;  // each rank's tasks in one group: the dead rows are split per task
  EXPECT_FALSE(run_job(eng, jo).interrupted);
  const auto dl = localise::write_dead_letters(eng, jo.run_dir);
  localise::MapOptions mo;
  mo.run_dir = jo.run_dir;
  mo.out = dir + "/map.gpkg";
  const auto m = localise::write_map(eng, mo);
  if (!comm.root()) return;
  EXPECT_EQ(dl.total, 4u);
  EXPECT_EQ(dl.reasons.at("NON_FINITE_COORDINATE"), 2u);
  EXPECT_EQ(dl.reasons.at("COORDINATE_OUT_OF_RANGE"), 1u);
  EXPECT_EQ(dl.reasons.at("TOO_FEW_POINTS"), 1u);
  std::ifstream in(dl.path);
  std::map<int64_t, std::string> got_dead;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::string msg = j.at("message");
    const auto at = msg.find("(road ");
    ASSERT_NE(at, std::string::npos) << msg;
    got_dead[std::stoll(msg.substr(at + 6))] = j.at("reason");
    EXPECT_EQ(j.at("source"), jo.roads);
  }
  EXPECT_EQ(got_dead, bad);
  const RoadTable good = read_road_table(dir + "/good.h5");
  EXPECT_EQ(m.rows, good.rows());
  EXPECT_EQ(m.dead, 4u);
  EXPECT_EQ(m.roads, good.rows() - 4);
  // Every other road: the serial localisation of the uncorrupted table.
  const localise::Localiser loc(jo.coverage);
  std::vector<localise::Hit> hits;
  std::vector<double> len;
  loc.localise(good, hits, len);
  std::map<std::tuple<int64_t, std::string, std::string>, double> want, got;
  for (const auto& h : hits)
    if (!bad.count(good.id[h.row]))
      want[{good.id[h.row], loc.layers()[h.layer].coverage.name, loc.layers()[h.layer].areas.id[h.area]}] = h.length_m;
  GdalDatasetPtr ds = open_vector(mo.out);
  for (auto& f : *ds->GetLayerByName("road_areas"))
    got[{f->GetFieldAsInteger64("road_id"), f->GetFieldAsString("layer"), f->GetFieldAsString("area_id")}] =
        f->GetFieldAsDouble("length_m");
  EXPECT_TRUE(got == want) << "road_areas of the good roads differ from the serial localisation";
  for (auto& f : *ds->GetLayerByName("roads")) EXPECT_EQ(bad.count(f->GetFieldAsInteger64("road_id")), 0u);
  ds.reset();
  std::filesystem::remove_all(dir);
}

TEST(LocaliseEngine, MapCarriesTheLinksColumnsOfALinksRun) {
  // gather --links: the links run has its own plan (other partition precision here), so the
  // map's rows are looked up across its shards; every road's columns must equal the links
  // gather's result, and the synthetic ground truth's U-turn connectors must all be there.
  mpi::Comm comm;
  const std::string dir = make_region(comm, "geoshard-loclinks", 60000, 17);
  make_coverage(comm, dir, 7);
  engine::Engine eng(comm);
  const localise::JobOptions jo = job_options(dir, 6);
  EXPECT_FALSE(run_job(eng, jo).interrupted);
  links::JobOptions lj;
  lj.roads = jo.roads;
  lj.run_dir = dir + "/links-run";
  lj.progress = false;
  lj.sync_shards = false;
  lj.plan.partition_precision = 5;
  EXPECT_FALSE(links::run_job(eng, lj).run.interrupted);
  std::vector<links::LinkResult> want;
  const auto lg = links::gather_links(eng, {lj.run_dir, "", false}, &want);

  localise::MapOptions mo;
  mo.run_dir = jo.run_dir;
  mo.out = dir + "/map.gpkg";
  mo.links_run = lj.run_dir;
  const auto m = localise::write_map(eng, mo);
  // A folder without a links run, and a links run on another (identical) table, are refused.
  if (comm.root()) std::filesystem::copy_file(jo.roads, dir + "/copy.h5");
  comm.barrier();
  lj.roads = dir + "/copy.h5";
  lj.run_dir = dir + "/links-copy";
  links::run_job(eng, lj);
  for (const auto& [run, expect] : {std::pair<std::string, std::string>{dir + "/run", "holds no links run"},
                                    {lj.run_dir, "not on '" + jo.roads + "'"}}) {
    localise::MapOptions bad = mo;
    bad.out = dir + "/bad.gpkg";
    bad.links_run = run;
    try {
      localise::write_map(eng, bad);
      if (comm.root()) ADD_FAILURE() << "write_map accepted links run " << run;
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(bad.out));
  }
  if (!comm.root()) return;
  const RoadTable roads = read_road_table(jo.roads);
  ASSERT_EQ(want.size(), roads.rows());
  ASSERT_EQ(m.roads, roads.rows());
  uint64_t gt = 0;
  for (uint8_t g : roads.gt_intersection_link) gt += g;
  ASSERT_GT(gt, 20u) << "the region should have U-turn connectors";
  EXPECT_EQ(lg.links, gt);
  EXPECT_EQ(m.links, gt);
  GdalDatasetPtr ds = open_vector(mo.out);
  OGRLayer* rl = ds->GetLayerByName("roads");
  ASSERT_NE(rl, nullptr);
  size_t i = 0, links_seen = 0;
  for (auto& f : *rl) {  // features in table order
    ASSERT_LT(i, roads.rows());
    EXPECT_EQ(f->GetFieldAsInteger64("road_id"), roads.id[i]);
    EXPECT_EQ(f->GetFieldAsInteger("intersection_link"), want[i].link ? 1 : 0) << "road " << roads.id[i];
    EXPECT_EQ(f->GetFieldAsInteger("intersection_link"), roads.gt_intersection_link[i]) << "road " << roads.id[i];
    EXPECT_EQ(std::string(f->GetFieldAsString("link_carriageways")), want[i].carriageways()) << "road " << roads.id[i];
    links_seen += want[i].link;
    ++i;
  }
  EXPECT_EQ(i, roads.rows());
  EXPECT_EQ(links_seen, gt);
  ds.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace geoshard

GEOSHARD_MPI_TEST_MAIN()
