// The intersection-link classifier (jobs/links/links.h) on hand-made road graphs: the rule's
// every clause, the bad input of issue 5 (unnamed roads, unknown oneway values, self-loops,
// zero-length segments, ways visiting a node twice: counted, never a crash), ownership, input
// order independence, and random rotations/placements of a dual carriageway.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "jobs/links/links.h"

namespace geoshard::links {
namespace {

constexpr double kDeg = 0.017453292519943295769;
constexpr double kMPerDeg = 6371008.8 * kDeg;

// Roads given in local metres around (lon0, lat0); owns the coordinate storage.
struct Graph {
  double lon0 = 103.85, lat0 = 1.29;
  struct Road {
    int64_t id;
    int8_t oneway;
    std::string name;
    std::vector<double> lon, lat;
    std::string highway;
    bool roundabout = false;
  };
  std::deque<Road> roads;
  void add(int64_t id, int8_t oneway, std::string name, std::vector<std::pair<double, double>> xy) {
    Road r{id, oneway, std::move(name), {}, {}};
    for (auto [x, y] : xy) {
      r.lon.push_back(lon0 + x / (kMPerDeg * std::cos(lat0 * kDeg)));
      r.lat.push_back(lat0 + y / kMPerDeg);
    }
    roads.push_back(std::move(r));
  }
  std::vector<RoadRef> refs() const {
    std::vector<RoadRef> v;
    for (const Road& r : roads)
      v.push_back(RoadRef{r.id, r.oneway, r.name, r.highway, r.lon.data(), r.lat.data(), static_cast<uint32_t>(r.lon.size()),
                          r.roundabout});
    return v;
  }
  // Result for the road with this id, classifying all roads.
  LinkResult of(int64_t id, const LinkOptions& o = {}, LinkCounts* c = nullptr) const {
    const auto v = refs();
    const auto res = classify_links(v, 0, v.size(), o, c);
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i].id == id) return res[i];
    ADD_FAILURE() << "no road " << id;
    return {};
  }
};

// A: northbound at x=-10, B: southbound at x=+10, L: the 20 m U-turn at y=0 (id 3).
Graph dual(int8_t ow_b = 1, bool b_reversed_digitising = false, const std::string& name_b = "Jalan Besar") {
  Graph g;
  g.add(11, 1, "Jalan Besar", {{-10, -150}, {-10, 0}, {-10, 150}});
  if (b_reversed_digitising)
    g.add(7, ow_b, name_b, {{10, -150}, {10, 0}, {10, 150}});
  else
    g.add(7, ow_b, name_b, {{10, 150}, {10, 0}, {10, -150}});
  g.add(3, 0, "", {{-10, 0}, {10, 0}});
  return g;
}

TEST(LinksClassifier, UTurnBetweenDualCarriagewaysIsALink) {
  LinkCounts c;
  const LinkResult r = dual().of(3, {}, &c);
  EXPECT_TRUE(r.link);
  EXPECT_EQ(r.a, 7);
  EXPECT_EQ(r.b, 11);
  EXPECT_EQ(r.carriageways(), "7;11");
  EXPECT_EQ(c.links, 1u);
  EXPECT_EQ(c.roads, 3u);
  // The carriageways themselves are long: never links.
  EXPECT_FALSE(dual().of(11).link);
  EXPECT_EQ(dual().of(11).carriageways(), "");
}

TEST(LinksClassifier, RoadsNotDrivenAreNeitherLinksNorCarriageways) {
  Graph g = dual();
  g.roads[2].highway = "footway";  // a pedestrian crossing between the carriageways
  LinkCounts c;
  EXPECT_FALSE(g.of(3, {}, &c).link);
  EXPECT_EQ(c.not_driven, 1u);
  Graph h = dual();
  h.roads[2].highway = "service";
  EXPECT_TRUE(h.of(3).link);
  h.roads[0].highway = "cycleway";
  EXPECT_FALSE(h.of(3).link);
  LinkOptions all;
  all.not_driven.clear();
  EXPECT_TRUE(h.of(3, all).link);
}

TEST(LinksClassifier, RoundaboutsAreNeitherLinksNorCarriageways) {
  // An arc of a roundabout between the entry and the exit of a dual carriageway joins two
  // anti-parallel one-way ways of one name, but it is the roundabout's circulation, not a link.
  Graph g = dual();
  g.roads[2].roundabout = true;
  g.roads[2].oneway = 1;
  LinkCounts c;
  EXPECT_FALSE(g.of(3, {}, &c).link);
  EXPECT_EQ(c.roundabout, 1u);
  // Two arcs of one roundabout named alike, with a cut-through across its middle: not a link.
  Graph h = dual();
  h.roads[0].roundabout = true;
  EXPECT_FALSE(h.of(3).link);
  h.roads[0].roundabout = false;
  EXPECT_TRUE(h.of(3).link);
}

TEST(LinksClassifier, BackwardOnewayIsReversed) {
  EXPECT_TRUE(dual(-1, true).of(3).link);   // digitised north, travels south
  EXPECT_FALSE(dual(-1, false).of(3).link);  // digitised south, travels north: parallel to A
  EXPECT_FALSE(dual(1, true).of(3).link);    // both northbound
}

TEST(LinksClassifier, CarriagewaysMustBeOneway) {
  for (int8_t ow : {int8_t{0}, int8_t{2}}) EXPECT_FALSE(dual(ow).of(3).link) << int(ow);
  LinkCounts c;
  EXPECT_FALSE(dual(7).of(3, {}, &c).link);  // a value outside the known set: not one-way
  EXPECT_EQ(c.oneway_unknown, 1u);
  LinkCounts c2;
  EXPECT_FALSE(dual(-5).of(3, {}, &c2).link);
  EXPECT_EQ(c2.oneway_unknown, 1u);
}

TEST(LinksClassifier, NamesMustMatchAfterNormalisationAndUnnamedNeverPair) {
  EXPECT_TRUE(dual(1, false, "  JALAN   besar ").of(3).link);
  EXPECT_FALSE(dual(1, false, "Jalan Kecil").of(3).link);
  LinkCounts c;
  EXPECT_FALSE(dual(1, false, "").of(3, {}, &c).link);
  EXPECT_EQ(c.unnamed_oneway, 1u);
  Graph g = dual(1, false, "");
  g.roads[0].name = "";  // both unnamed: equal, but unnamed carriageways never pair
  EXPECT_FALSE(g.of(3).link);
  EXPECT_FALSE(dual(1, false, " \t ").of(3).link);  // whitespace only = unnamed
}

TEST(LinksClassifier, NormaliseName) {
  EXPECT_EQ(normalise_name("  Jalan  Sultan "), "jalan sultan");
  EXPECT_EQ(normalise_name("JALAN SULT\xC3\x81N"), "jalan sultan");   // precomposed Á
  EXPECT_EQ(normalise_name("Sulta\xCC\x81n"), "sultan");              // a + combining acute
  EXPECT_EQ(normalise_name("\xC4\x90\xC6\xB0\xE1\xBB\x9Dng L\xC3\xAA L\xE1\xBB\xA3i"), "duong le loi");  // Đường Lê Lợi
  EXPECT_EQ(normalise_name("\xE0\xB8\x96\xE0\xB8\x99\xE0\xB8\x99"), "\xE0\xB8\x96\xE0\xB8\x99\xE0\xB8\x99");  // Thai kept
  EXPECT_EQ(normalise_name("a\xFF" "b"), "a\xFF" "b");  // invalid UTF-8 kept, no crash
  EXPECT_EQ(normalise_name(""), "");
}

TEST(LinksClassifier, LengthGapAndAngleThresholds) {
  // Carriageways 100 m apart: the link is too long and the gap too wide.
  Graph g;
  g.add(1, 1, "X", {{-50, -150}, {-50, 0}, {-50, 150}});
  g.add(2, 1, "X", {{50, 150}, {50, 0}, {50, -150}});
  g.add(3, 0, "", {{-50, 0}, {50, 0}});
  EXPECT_FALSE(g.of(3).link);
  LinkOptions wide;
  wide.max_link_m = 120;
  wide.max_gap_m = 120;
  EXPECT_TRUE(g.of(3, wide).link);
  wide.max_gap_m = 90;
  EXPECT_FALSE(g.of(3, wide).link);

  // Anti-parallel within the tolerance: B turned by 20 deg is a link, by 40 deg is not.
  for (double turn : {20.0, 40.0}) {
    Graph h;
    const double s = std::sin(turn * kDeg), c = std::cos(turn * kDeg);
    h.add(1, 1, "X", {{-10, -150}, {-10, 0}, {-10, 150}});
    h.add(2, 1, "X", {{10 + 150 * s, 150 * c}, {10, 0}, {10 - 150 * s, -150 * c}});
    h.add(3, 0, "", {{-10, 0}, {10, 0}});
    EXPECT_EQ(h.of(3).link, turn < 30) << turn;
  }

  // A road running along the carriageways (4 deg off) is not a link.
  Graph k;
  k.add(1, 1, "X", {{0, -150}, {0, 0}, {0, 150}});
  k.add(2, 1, "X", {{3, 200}, {3, 40}, {3, -150}});
  k.add(3, 0, "", {{0, 0}, {3, 40}});
  EXPECT_FALSE(k.of(3).link);
  LinkOptions loose;
  loose.min_meet_angle_deg = 0;
  EXPECT_TRUE(k.of(3, loose).link);

  // Carriageways on one line (gap < min_gap_m) are not a dual pair.
  Graph m;
  m.add(1, 1, "X", {{0, -150}, {0, 0}});
  m.add(2, 1, "X", {{0.5, 150}, {0.5, 20}});
  m.add(3, 0, "", {{0, 0}, {0.5, 20}});
  LinkOptions any_angle;
  any_angle.min_meet_angle_deg = 0;
  EXPECT_FALSE(m.of(3, any_angle).link);
}

TEST(LinksClassifier, LinkMustTouchBothCarriagewaysAtItsEnds) {
  Graph g = dual();
  g.roads[2].lon[1] += 1e-9;  // the link's end misses B's vertex by ~0.1 mm: no shared node
  EXPECT_FALSE(g.of(3).link);
  // Touching one carriageway twice is no pair: A with a short road to its own other vertex.
  Graph h;
  h.add(1, 1, "X", {{0, -150}, {0, 0}, {20, 0}, {20, 150}});
  h.add(3, 0, "", {{0, 0}, {20, 0}});
  EXPECT_FALSE(h.of(3).link);
}

TEST(LinksClassifier, BadInputIsCountedNeverACrash) {
  LinkCounts c;
  Graph g = dual();
  g.add(20, 0, "loop", {{-10, 0}, {10, 0}, {0, 5}, {-10, 0}});           // self-loop
  g.add(21, 0, "", {{-10, 0}, {-10, 0}, {-10, 0}});                       // zero length
  g.add(22, 0, "", {{-10, 0}, {0, 2}, {5, 0}, {0, 2}, {10, 0}});           // visits (0,2) twice
  g.add(23, 0, "", {{-10, 0}, {-10, 0}, {10, 0}, {10, 0}});                // zero-length segments
  g.add(24, 0, "", {{-10, 0}});                                           // one vertex
  g.add(25, 1, "", {{-10, 0}, {-10, 30}});                                // unnamed one-way
  g.add(26, 0, "", {{-10, 0}, {10, 0}});
  g.roads.back().lat[1] = std::numeric_limits<double>::quiet_NaN();      // NaN vertex
  g.add(27, 0, "", {});                                                   // no vertex at all
  const auto v = g.refs();
  const auto res = classify_links(v, 0, v.size(), {}, &c);
  auto of = [&](int64_t id) {
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i].id == id) return res[i];
    return LinkResult{};
  };
  EXPECT_TRUE(of(3).link);
  EXPECT_FALSE(of(20).link);
  EXPECT_FALSE(of(21).link);
  EXPECT_FALSE(of(22).link);
  EXPECT_TRUE(of(23).link);  // zero-length segments are skipped, the link is still a link
  EXPECT_FALSE(of(24).link);
  EXPECT_FALSE(of(26).link);
  EXPECT_EQ(c.self_loops, 1u);
  EXPECT_EQ(c.zero_length, 1u);
  EXPECT_EQ(c.repeated_node, 1u);
  EXPECT_EQ(c.zero_length_segments, 2u);  // roads 21 (before it is found zero-length) and 23
  EXPECT_EQ(c.too_few_points, 2u);
  EXPECT_EQ(c.non_finite, 1u);
  EXPECT_EQ(c.unnamed_oneway, 1u);
  EXPECT_EQ(c.links, 2u);
  EXPECT_EQ(c.roads, v.size());
}

TEST(LinksClassifier, CarriagewayWithZeroLengthSegmentAtTheNode) {
  Graph g;
  g.add(1, 1, "X", {{-10, -150}, {-10, 0}, {-10, 0}, {-10, 150}});
  g.add(2, 1, "X", {{10, 150}, {10, 0}, {10, -150}});
  g.add(3, 0, "", {{-10, 0}, {10, 0}});
  EXPECT_TRUE(g.of(3).link);
  // Carriageways whose ways end at the node: a crossing street of another name (or none) is the
  // junction's link between them; a road of their own name is the road itself turning back (the
  // turnaround at the end of a one-way pair) unless their ways carry on past the node.
  Graph h;
  h.add(1, 1, "X", {{-10, -150}, {-10, 0}});
  h.add(2, 1, "X", {{10, 0}, {10, -150}});
  h.add(3, 0, "", {{-10, 0}, {10, 0}});
  EXPECT_TRUE(h.of(3).link);
  h.roads[2].name = "Y Street";
  EXPECT_TRUE(h.of(3).link);
  h.roads[2].name = "X";
  EXPECT_FALSE(h.of(3).link);
  // Ways split at the node, each carriageway carried on by the next way of its name: a link
  // (the direction of a way ending at the node is taken from one side only).
  h.add(4, 1, "X", {{-10, 0}, {-10, 150}});
  EXPECT_FALSE(h.of(3).link);  // B still ends there
  h.add(5, 1, "x ", {{10, 150}, {10, 0}});  // same normalised name
  EXPECT_TRUE(h.of(3).link);
  EXPECT_EQ(h.of(3).carriageways(), "1;2");
  // What carries on must be a carriageway candidate: a two-way way of the name does not count.
  h.roads[4].oneway = 0;
  EXPECT_FALSE(h.of(3).link);
}

TEST(LinksClassifier, SeveralPairsChooseTheSmallestIds) {
  Graph g;
  g.add(40, 1, "X", {{-10, -150}, {-10, 0}});  // A ends at the node ...
  g.add(30, 1, "X", {{-10, 0}, {-10, 150}});   // ... and A' begins there
  g.add(50, 1, "X", {{10, 150}, {10, 0}, {10, -150}});
  g.add(3, 0, "", {{-10, 0}, {10, 0}});
  EXPECT_EQ(g.of(3).carriageways(), "30;50");
}

TEST(LinksClassifier, OnlyOwnedRoadsAreClassifiedAndTheHaloIsUsed) {
  const Graph g = dual();
  auto v = g.refs();
  std::rotate(v.begin(), v.begin() + 2, v.end());  // the link first: own [0, 1), halo after
  LinkCounts c;
  const auto res = classify_links(v, 0, 1, {}, &c);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_TRUE(res[0].link);
  EXPECT_EQ(c.roads, 1u);
  // Without the halo (the carriageways) the link cannot be seen.
  EXPECT_FALSE(classify_links(std::span<const RoadRef>(v.data(), 1), 0, 1, {})[0].link);
  // Owning only the carriageways reports no link.
  const auto res2 = classify_links(v, 1, 3, {});
  EXPECT_FALSE(res2[0].link || res2[1].link);
}

TEST(LinksClassifier, RandomPlacementsRotationsAndOrders) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> U(0, 1);
  for (int trial = 0; trial < 500; ++trial) {
    Graph g;
    g.lon0 = -179 + 358 * U(rng) * 0.99 + 1;
    g.lat0 = -70 + 140 * U(rng);
    const double th = 2 * std::numbers::pi * U(rng), half = 4 + 20 * U(rng);  // half the gap, 4..24 m
    const double cx = std::cos(th), sy = std::sin(th);
    auto P = [&](double x, double y) { return std::pair{x * cx - y * sy, x * sy + y * cx}; };
    const bool flip = U(rng) < 0.3;  // B runs the same way as A: no link
    std::vector<std::pair<double, double>> a, b;
    for (double y : {-200.0, -60.0, 0.0, 70.0, 210.0}) a.push_back(P(-half, y));
    for (double y : {220.0, 50.0, 0.0, -80.0, -190.0}) b.push_back(P(half, y));
    if (flip) std::reverse(b.begin(), b.end());
    g.add(100 + trial, 1, "Avenue " + std::to_string(trial % 3), a);
    g.add(200 + trial, 1, "avenue  " + std::to_string(trial % 3), b);
    g.add(5, static_cast<int8_t>(trial % 2), "", {P(-half, 0), P(0, 1), P(half, 0)});
    auto v = g.refs();
    std::shuffle(v.begin(), v.end(), rng);
    const auto res = classify_links(v, 0, v.size(), {});
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i].id != 5) {
        EXPECT_FALSE(res[i].link);
        continue;
      }
      EXPECT_EQ(res[i].link, !flip) << "trial " << trial << " lat " << g.lat0 << " th " << th << " half " << half;
      if (!flip) EXPECT_EQ(res[i].carriageways(), std::to_string(100 + trial) + ";" + std::to_string(200 + trial));
    }
  }
}

TEST(LinksClassifier, ReachIsPerAxisFromTheFirstVertex) {
  Graph g;
  g.add(1, 1, "X", {{0, 0}, {100, -50}, {-30, 200}});
  const auto v = g.refs();
  const Reach r = road_reach(v[0]);
  EXPECT_NEAR(r.lon_deg * kMPerDeg * std::cos(g.lat0 * kDeg), 100, 1e-6);
  EXPECT_NEAR(r.lat_deg * kMPerDeg, 200, 1e-6);
  EXPECT_NEAR(road_length_m(v[0]), std::hypot(100, 50) + std::hypot(130, 250), 0.5);
}

}  // namespace
}  // namespace geoshard::links
