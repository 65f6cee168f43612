// localise on the engine at 1-4 ranks: the map's road_areas equal, bit for bit, a serial
// localisation of the whole table (so every rank count gives the same map), every road is in
// the map once, and a rerun reuses every committed shard.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <tuple>

#include "io/coverage_table.h"
#include "io/ogr_source.h"
#include "jobs/cover/cover.h"
#include "jobs/ingest/ingest.h"
#include "jobs/localise/job.h"
#include "jobs/localise/localise.h"
#include "jobs/synth/synth.h"
#include "mpi/engine.h"
#include "tests/testing/mpi_main.h"

namespace geoshard {
namespace {

TEST(LocaliseEngine, MapEqualsSerialLocalisationAtAnyRankCount) {
  mpi::Comm comm;
  std::string dir;
  if (comm.root()) {
    char tmpl[] = "/tmp/geoshard-loc-XXXXXX";
    dir = ::mkdtemp(tmpl);
    synth::SynthOptions so;
    so.segments = 40000;
    so.seed = 11;
    so.out_dir = dir + "/region";
    synth::generate(so);
    ingest::RoadOptions ro;
    ro.in = dir + "/region/roads.fgb";
    ro.out = dir + "/roads.h5";
    ingest::ingest_roads(ro);
    ingest::AreaOptions ao;
    ao.layers = ingest::read_area_spec(dir + "/region/areas.toml");
    ao.out = dir + "/areas.h5";
    ingest::ingest_areas(ao);
  }
  dir = comm.broadcast(dir);
  std::vector<AreaLayer> layers;
  for (const auto& n : area_layer_names(dir + "/areas.h5")) layers.push_back(read_area_layer(dir + "/areas.h5", n));
  cover::CoverOptions co;
  co.precision = 7;
  const auto cov = cover::cover_layers(layers, co, &comm);
  if (comm.root()) write_coverage(dir + "/coverage.h5", cov.layers, layers);
  comm.barrier();

  engine::Engine eng(comm);
  localise::JobOptions jo;
  jo.roads = dir + "/roads.h5";
  jo.coverage = dir + "/coverage.h5";
  jo.run_dir = dir + "/run";
  jo.progress = false;
  jo.plan.partition_precision = 6;
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

}  // namespace
}  // namespace geoshard

GEOSHARD_MPI_TEST_MAIN()
