// The links job on the engine at 1-4 ranks (one ctest per rank count) on a synthetic region:
// precision and recall 1.0 against the generator's ground truth (gt_intersection_link), every
// row's result equal to a serial classification of the whole table (so every rank count gives
// the same output), resume reuses every shard, links whose carriageways lie in other tasks are
// found exactly once, and a halo that is too small loses exactly those.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "io/road_table.h"
#include "jobs/ingest/ingest.h"
#include "jobs/links/job.h"
#include "jobs/links/links.h"
#include "jobs/synth/synth.h"
#include "mpi/engine.h"
#include "tests/testing/mpi_main.h"

namespace geoshard {
namespace {

// Rank 0 writes a synthetic region and ingests its roads into DIR/roads.h5 (once per process).
std::string g_dir;  // the region of this process (rank 0 removes it at exit)

struct RemoveRegion : ::testing::Environment {
  void TearDown() override {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0 && !g_dir.empty()) std::filesystem::remove_all(g_dir);
  }
};
const auto* const g_env = ::testing::AddGlobalTestEnvironment(new RemoveRegion);

const std::string& region(const mpi::Comm& comm) {
  std::string& dir = g_dir;
  if (!dir.empty()) return dir;
  std::string d;
  if (comm.root()) {
    std::string tmpl = "/tmp/geoshard-links-XXXXXX";
    d = ::mkdtemp(tmpl.data());
    synth::SynthOptions so;
    so.segments = 100000;
    so.seed = 3;
    so.out_dir = d + "/region";
    synth::generate(so);
    ingest::RoadOptions ro;
    ro.in = d + "/region/roads.fgb";
    ro.out = d + "/roads.h5";
    ingest::ingest_roads(ro);
  }
  dir = comm.broadcast(d);
  return dir;
}

// The serial reference: the whole table as one task.
std::vector<links::LinkResult> serial(const RoadTable& t) {
  std::vector<links::RoadRef> refs;
  links::append_refs(t, 0, t.rows(), refs);
  return links::classify_links(refs, 0, refs.size(), {});
}

TEST(LinksEngine, GroundTruthAndSerialEqualityAtAnyRankCount) {
  mpi::Comm comm;
  const std::string dir = region(comm);
  engine::Engine eng(comm);
  links::JobOptions jo;
  jo.roads = dir + "/roads.h5";
  jo.run_dir = dir + "/run-np" + std::to_string(comm.size());
  jo.progress = false;
  jo.plan.partition_precision = 5;
  jo.sync_shards = false;  // tests need no crash safety; fsync per shard dominates otherwise
  const auto first = links::run_job(eng, jo);
  EXPECT_FALSE(first.run.interrupted);
  links::GatherOptions go;
  go.run_dir = jo.run_dir;
  go.out = jo.run_dir + "/links.csv";
  std::vector<links::LinkResult> rows;
  const auto sum = links::gather_links(eng, go, &rows);
  const auto second = links::run_job(eng, jo);
  if (comm.root()) {
    EXPECT_EQ(first.run.shards_committed, first.run.shards_total);
    EXPECT_EQ(second.run.shards_reused, first.run.shards_total);
    EXPECT_EQ(second.run.shards_committed, 0u);
    const RoadTable t = read_road_table(jo.roads);
    ASSERT_EQ(rows.size(), t.rows());
    EXPECT_EQ(sum.rows, t.rows());
    ASSERT_TRUE(sum.has_ground_truth);
    uint64_t gt = 0;
    for (uint8_t g : t.gt_intersection_link) gt += g;
    EXPECT_GT(gt, 20u) << "the region should have U-turn connectors";
    EXPECT_EQ(sum.tp, gt);
    EXPECT_EQ(sum.fp, 0u);
    EXPECT_EQ(sum.fn, 0u);
    EXPECT_EQ(sum.precision(), 1.0);
    EXPECT_EQ(sum.recall(), 1.0);
    EXPECT_EQ(sum.counts.roads, t.rows());
    EXPECT_EQ(sum.counts.links, gt);
    const auto want = serial(t);
    size_t diff = 0;
    for (size_t i = 0; i < t.rows(); ++i)
      diff += rows[i].link != want[i].link || rows[i].a != want[i].a || rows[i].b != want[i].b;
    EXPECT_EQ(diff, 0u) << "rows differ from the serial classification";
    // The CSV: a header and one line per road.
    std::ifstream in(go.out);
    std::string line;
    size_t lines = 0;
    std::getline(in, line);
    EXPECT_EQ(line, "row,id,part,intersection_link,link_carriageways,gt_intersection_link");
    while (std::getline(in, line)) ++lines;
    EXPECT_EQ(lines, t.rows());
  }
}

TEST(LinksEngine, LinksWhoseCarriagewaysLieInOtherTasksAreFoundOnce) {
  mpi::Comm comm;
  const std::string dir = region(comm);
  engine::Engine eng(comm);
  links::JobOptions jo;
  jo.roads = dir + "/roads.h5";
  jo.progress = false;
  jo.plan.partition_precision = 6;  // ~1.2 km x 0.6 km cells: many carriageways start elsewhere
  jo.plan.max_task_rows = 1000;
  jo.sync_shards = false;
  uint64_t fn_small = 0;
  for (const double halo_m : {-1.0, 30.0}) {
    jo.halo_m = halo_m;
    jo.run_dir = dir + "/run-fine-np" + std::to_string(comm.size()) + (halo_m > 0 ? "-small-halo" : "");
    links::run_job(eng, jo);
    links::GatherOptions go;
    go.run_dir = jo.run_dir;
    std::vector<links::LinkResult> rows;
    const auto sum = links::gather_links(eng, go, &rows);
    if (!comm.root()) continue;
    if (halo_m > 0) {  // too small a halo misses carriageways whose first vertex is farther away
      fn_small = sum.fn;
      EXPECT_EQ(sum.fp, 0u);
      continue;
    }
    EXPECT_EQ(sum.fp, 0u);
    EXPECT_EQ(sum.fn, 0u);
    const RoadTable t = read_road_table(jo.roads);
    const engine::Plan plan = engine::read_plan(jo.run_dir);
    EXPECT_GT(plan.tasks.size(), 20u);
    std::vector<uint32_t> task_of(t.rows());
    for (const auto& task : plan.tasks)
      for (uint64_t r = task.row_begin; r < task.row_end; ++r) task_of[r] = task.index;
    std::multimap<int64_t, size_t> row_of_id;
    for (size_t i = 0; i < t.rows(); ++i) row_of_id.emplace(t.id[i], i);
    uint64_t cross = 0, found = 0;
    for (size_t i = 0; i < t.rows(); ++i) {
      if (!rows[i].link) continue;
      ++found;
      bool elsewhere = false;
      for (int64_t id : {rows[i].a, rows[i].b}) {
        auto [b, e] = row_of_id.equal_range(id);
        ASSERT_NE(b, e) << "carriageway " << id << " not in the table";
        for (auto it = b; it != e; ++it) elsewhere = elsewhere || task_of[it->second] != task_of[i];
      }
      cross += elsewhere;
    }
    uint64_t gt = 0;
    for (uint8_t g : t.gt_intersection_link) gt += g;
    EXPECT_EQ(found, gt);  // each link reported once: one row, one result
    EXPECT_GT(cross, 10u) << "links whose carriageways lie in other tasks: " << cross << " of " << found;
    RecordProperty("cross_task_links", static_cast<int>(cross));
  }
  if (comm.root()) {
    EXPECT_GT(fn_small, 0u) << "a 30 m halo should miss some carriageways";
  }
}

}  // namespace
}  // namespace geoshard

GEOSHARD_MPI_TEST_MAIN()
