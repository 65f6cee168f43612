// The links classifier on the real OSM extracts in ../shared/data (skips when absent): the
// counts recorded in docs/links.md, no link or carriageway that is not driven on, every link a
// short simple path, and the bad input of real data (self-loops, ways visiting a node twice,
// unnamed one-way roads) counted without a crash. The whole table is one task (the engine's
// task split gives the same result: tests/links/links_engine_test.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "io/road_table.h"
#include "jobs/ingest/ingest.h"
#include "jobs/links/job.h"
#include "jobs/links/links.h"
#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

struct Classified {
  RoadTable roads;
  std::vector<links::LinkResult> res;
  links::LinkCounts counts;
};

Classified classify_extract(const std::string& pbf) {
  testing::TempDir dir;
  ingest::RoadOptions o;
  o.in = pbf;
  o.out = dir.file("roads.h5");
  ingest::ingest_roads(o);
  Classified c;
  c.roads = read_road_table(o.out);
  const RoadTable& t = c.roads;
  std::vector<links::RoadRef> refs;
  links::append_refs(t, 0, t.rows(), refs);
  c.res = links::classify_links(refs, 0, refs.size(), {}, &c.counts);
  // Every link: a driven, short road whose carriageways are driven, one-way, named alike.
  std::map<int64_t, size_t> row_of;
  for (size_t i = 0; i < t.rows(); ++i) row_of.emplace(t.id[i], i);
  const links::LinkOptions lo;
  for (size_t i = 0; i < t.rows(); ++i) {
    if (!c.res[i].link) continue;
    EXPECT_LE(links::road_length_m(refs[i]), lo.max_link_m);
    for (int64_t id : {c.res[i].a, c.res[i].b}) {
      const size_t r = row_of.at(id);
      EXPECT_TRUE(links::is_oneway(t.oneway[r])) << id;
      EXPECT_FALSE(links::normalise_name(t.name[r]).empty()) << id;
      EXPECT_EQ(std::count(lo.not_driven.begin(), lo.not_driven.end(), refs[r].highway), 0) << id;
    }
    EXPECT_EQ(links::normalise_name(t.name[row_of.at(c.res[i].a)]), links::normalise_name(t.name[row_of.at(c.res[i].b)]));
    EXPECT_EQ(std::count(lo.not_driven.begin(), lo.not_driven.end(), refs[i].highway), 0) << t.id[i];
  }
  return c;
}

TEST(LinksRealData, SingaporeBayfront) {
  GEOSHARD_REQUIRE_SHARED_DATA(pbf, "osm/singapore-bayfront-2019.osm.pbf");
  const auto c = classify_extract(pbf);
  EXPECT_EQ(c.counts.roads, 326u);
  EXPECT_EQ(c.counts.links, 17u);  // 18 before clause 8 (Bayfront Link's turnaround, docs/links.md)
  EXPECT_EQ(c.counts.roundabout, 0u);
  EXPECT_EQ(c.counts.self_loops, 2u);
}

TEST(LinksRealData, Monaco) {
  GEOSHARD_REQUIRE_SHARED_DATA(pbf, "osm/monaco-2026.osm.pbf");
  const auto c = classify_extract(pbf);
  EXPECT_EQ(c.counts.roads, 3576u);
  // 26 before roundabouts were excluded (10 arcs of roundabouts), 16 before clause 8 (3 pieces of
  // one-way streets going on or looping round a square: docs/links.md "Real data").
  EXPECT_EQ(c.counts.links, 13u);
  // ogrinfo -dialect sqlite: lines with a highway tag and junction=roundabout|circular: 99.
  EXPECT_EQ(c.counts.roundabout, 99u);
  EXPECT_EQ(c.counts.self_loops, 9u);  // closed roundabouts are counted as roundabouts first
  EXPECT_EQ(c.counts.repeated_node, 1u);
}

TEST(LinksRealData, Liechtenstein) {
  GEOSHARD_REQUIRE_SHARED_DATA(pbf, "osm/liechtenstein-2013.osm.pbf");
  const auto c = classify_extract(pbf);
  EXPECT_EQ(c.counts.roads, 2751u);
  EXPECT_EQ(c.counts.links, 0u);
  EXPECT_EQ(c.counts.roundabout, 13u);  // as counted by ogrinfo (Monaco above)
  EXPECT_EQ(c.counts.repeated_node, 13u);
}

}  // namespace
}  // namespace geoshard
