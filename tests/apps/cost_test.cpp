// geoshard cost: the price table and points readers (every bad file named with its line), the
// fit rules and cost arithmetic, and the Pareto front, cheapest-within-deadline and fastest
// choices against brute force over many random option sets (with ties).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "apps/cost.h"
#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The message of the runtime_error `f` throws ("" when it throws nothing).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

const char* kPrices = R"([source]
provider = "test"
date = "2026-12-03"

[billing]
minimum_seconds = 0

[machine.small]
cores = 2
memory_gib = 4
price_per_hour = 0.1

[machine.big]
cores = 8
memory_gib = 32
price_per_hour = 0.5

[machine.gpu]
cores = 4
memory_gib = 16
gpus = 1
price_per_hour = 1.0
relative_speed = 2.0
)";

TEST(Cost, ShippedAwsExampleReads) {
  const auto p = cost::read_price_table(std::string(GEOSHARD_SOURCE_DIR) + "/bench/cost/prices-aws-example.toml");
  EXPECT_EQ(p.date, "2026-06-17");
  ASSERT_GE(p.machines.size(), 5u);
  EXPECT_FALSE(p.per_core);
  EXPECT_EQ(p.machines.front().name, "c7i.large");  // file order
  EXPECT_EQ(p.machines.front().cores, 2);
  EXPECT_DOUBLE_EQ(p.machines.front().price_per_hour, 0.08925);
  const auto g = std::find_if(p.machines.begin(), p.machines.end(), [](const cost::Machine& m) { return m.name == "g5.xlarge"; });
  ASSERT_NE(g, p.machines.end());
  EXPECT_EQ(g->gpus, 1);
  for (const auto& m : p.machines) {
    EXPECT_GT(m.price_per_hour, 0) << m.name;
    EXPECT_EQ(m.relative_speed, 1.0) << m.name;
  }
}

TEST(Cost, PriceTableErrorsNameFileLineAndKey) {
  testing::TempDir d;
  const auto err = [&](const std::string& text) {
    const std::string p = d.write("p.toml", text);
    return error_of([&] { cost::read_price_table(p); });
  };
  const std::string base = "[source]\ndate = \"x\"\n";
  std::string e = err(base + "[machine.a]\ncores = 2\nmemory_gib = 4\nprice_per_hour = 1\nprize = 3\n");
  EXPECT_NE(e.find("p.toml:7"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'prize'"), std::string::npos) << e;
  e = err("[machine.a]\ncores = 2\nmemory_gib = 4\nprice_per_hour = 1\n");
  EXPECT_NE(e.find("date is required"), std::string::npos) << e;
  e = err(base + "[machine.a]\ncores = 2\nmemory_gib = 4\n");
  EXPECT_NE(e.find("has no 'price_per_hour'"), std::string::npos) << e;
  e = err(base + "[machine.a]\ncores = 2\nmemory_gib = 4\nprice_per_hour = -1\n");
  EXPECT_NE(e.find("p.toml:6"), std::string::npos) << e;
  EXPECT_NE(e.find("outside"), std::string::npos) << e;
  e = err(base + "[machine.a]\ncores = \"two\"\nmemory_gib = 4\nprice_per_hour = 1\n");
  EXPECT_NE(e.find("'cores' must be an integer"), std::string::npos) << e;
  e = err(base + "[machine.a]\ncores = 0\nmemory_gib = 4\nprice_per_hour = 1\n");
  EXPECT_NE(e.find("'cores' = 0 is outside"), std::string::npos) << e;
  e = err(base + "[machine.a]\ncores = 2\nmemory_gib = 0\nprice_per_hour = 1\n");
  EXPECT_NE(e.find("memory_gib"), std::string::npos) << e;
  e = err(base);
  EXPECT_NE(e.find("no [machine.<type>]"), std::string::npos) << e;
  e = err(base + "[machines.a]\ncores = 2\n");
  EXPECT_NE(e.find("unknown table 'machines'"), std::string::npos) << e;
  e = err(base + "[billing]\nunit = \"socket\"\n");
  EXPECT_NE(e.find("p.toml:4: 'unit' = \"socket\" must be \"node\" or \"core\""), std::string::npos) << e;
  e = err(base + "[billing]\nminimum_seconds = -5\n");
  EXPECT_NE(e.find("minimum_seconds"), std::string::npos) << e;
  e = err("[source\n");
  EXPECT_NE(e.find("p.toml:1"), std::string::npos) << e;
  e = error_of([&] { cost::read_price_table(d.file("absent.toml")); });
  EXPECT_NE(e.find("no such file"), std::string::npos) << e;
}

TEST(Cost, PointsErrorsNameFileLineAndColumn) {
  testing::TempDir d;
  const auto err = [&](const std::string& text) {
    const std::string p = d.write("pts.csv", text);
    return error_of([&] { cost::read_points(p); });
  };
  const std::string h = "nodes,ranks_per_node,threads_per_rank,wall_s\n";
  std::string e = err("nodes,ranks_per_node,threads_per_rank,wall_s,colour\n1,1,1,2,red\n");
  EXPECT_NE(e.find("pts.csv:1 column 'colour': unknown column"), std::string::npos) << e;
  e = err("nodes,ranks_per_node,wall_s\n1,1,2\n");
  EXPECT_NE(e.find("column 'threads_per_rank': required column missing"), std::string::npos) << e;
  e = err("nodes,nodes,ranks_per_node,threads_per_rank,wall_s\n");
  EXPECT_NE(e.find("column 'nodes': column given twice"), std::string::npos) << e;
  e = err(h + "1,1,1,2\n1,1,1,2,9\n");
  EXPECT_NE(e.find("pts.csv:3: 5 fields, the header has 4"), std::string::npos) << e;
  e = err(h + "1,1,1,fast\n");
  EXPECT_NE(e.find("pts.csv:2 column 'wall_s': 'fast' is not a number"), std::string::npos) << e;
  e = err(h + "1,1,1,nan\n");
  EXPECT_NE(e.find("'nan' is not a number"), std::string::npos) << e;
  e = err(h + "1,1,1,0\n");
  EXPECT_NE(e.find("'0' is out of range"), std::string::npos) << e;
  e = err(h + "1,1.5,1,3\n");
  EXPECT_NE(e.find("column 'ranks_per_node': '1.5' is not a whole number"), std::string::npos) << e;
  e = err(h + "0,1,1,3\n");
  EXPECT_NE(e.find("column 'nodes': '0' is out of range"), std::string::npos) << e;
  e = err(h + "1,,1,3\n");
  EXPECT_NE(e.find("column 'ranks_per_node': empty"), std::string::npos) << e;
  e = err(h);
  EXPECT_NE(e.find("no rows after the header"), std::string::npos) << e;
  e = err("");
  EXPECT_NE(e.find("empty"), std::string::npos) << e;
  e = err(h + "1,1,\"1,3\n");
  EXPECT_NE(e.find("pts.csv:2"), std::string::npos) << e;
  EXPECT_NE(e.find("not closed"), std::string::npos) << e;
  e = error_of([&] { cost::read_points(d.file("absent.csv")); });
  EXPECT_NE(e.find("cannot open"), std::string::npos) << e;
  // Comments, CRLF, spaces, optional columns in any order.
  const auto pts = cost::read_points(d.write(
      "ok.csv", "# measured\r\nwall_s, run, nodes,ranks_per_node,threads_per_rank,grid_precision\r\n2.5, \"a,b\", 3,2,1,7\r\n"));
  ASSERT_EQ(pts.size(), 1u);
  EXPECT_EQ(pts[0].nodes, 3);
  EXPECT_EQ(pts[0].ranks_per_node, 2);
  EXPECT_EQ(pts[0].grid_precision, 7);
  EXPECT_EQ(pts[0].run, "a,b");
  EXPECT_DOUBLE_EQ(pts[0].wall_seconds, 2.5);
  EXPECT_EQ(pts[0].line, 3);
}

cost::Point point(int nodes, int ranks, int threads, double wall, double rss_gib = 0, int gpus = 0) {
  cost::Point p;
  p.nodes = nodes;
  p.ranks_per_node = ranks;
  p.threads_per_rank = threads;
  p.wall_seconds = wall;
  p.peak_rss_per_rank_bytes = rss_gib * 1024 * 1024 * 1024;
  p.gpus_per_node = gpus;
  return p;
}

TEST(Cost, FitRulesAndArithmetic) {
  testing::TempDir d;
  auto prices = cost::read_price_table(d.write("p.toml", kPrices));
  // machines: small (2 cores, 4 GiB, $0.1), big (8, 32, $0.5), gpu (4, 16, 1 GPU, $1, speed 2)
  const auto s = cost::evaluate({point(3, 2, 2, 1800),     // 4 cores per node: not on small
                                 point(1, 2, 1, 100, 1.8),  // 2 x 1.8 x 1.25 = 4.5 GiB: not on small
                                 point(1, 1, 1, 7200, 0, 1)},  // needs a GPU
                                prices, 1.25);
  ASSERT_EQ(s.options.size(), 9u);
  const auto& o = [&](size_t p, size_t m) -> const cost::Option& { return s.options[p * 3 + m]; };
  EXPECT_FALSE(o(0, 0).fits);
  EXPECT_EQ(o(0, 0).why_not, "needs 4 cores per node; small has 2");
  EXPECT_TRUE(o(0, 1).fits);
  EXPECT_DOUBLE_EQ(o(0, 1).node_hours, 1.5);  // 3 nodes x 0.5 h
  EXPECT_DOUBLE_EQ(o(0, 1).cost, 0.75);
  EXPECT_TRUE(o(0, 2).fits);
  EXPECT_DOUBLE_EQ(o(0, 2).runtime_seconds, 900);  // relative speed 2
  EXPECT_DOUBLE_EQ(o(0, 2).cost, 0.75);            // 3 x 0.25 h x $1
  EXPECT_FALSE(o(1, 0).fits);
  EXPECT_NE(o(1, 0).why_not.find("needs 4.50 GiB per node"), std::string::npos) << o(1, 0).why_not;
  EXPECT_TRUE(o(1, 1).fits);
  EXPECT_FALSE(o(2, 0).fits);
  EXPECT_FALSE(o(2, 1).fits);
  EXPECT_EQ(o(2, 1).why_not, "needs 1 GPUs per node; big has 0");
  EXPECT_TRUE(o(2, 2).fits);
  // A minimum billed time.
  prices.minimum_seconds = 60;
  const auto m = cost::evaluate({point(2, 1, 1, 10)}, prices, 1.0);
  EXPECT_DOUBLE_EQ(m.options[0].runtime_seconds, 10);
  EXPECT_DOUBLE_EQ(m.options[0].billed_seconds, 60);
  EXPECT_NEAR(m.options[0].cost, 2 * 60 / 3600.0 * 0.1, 1e-15);
  EXPECT_THROW(cost::evaluate({point(1, 1, 1, 1)}, prices, 0.9), std::invalid_argument);
  // Billed by the core: 2 nodes x 3 ranks x 2 threads for 1800 s = 6 core-hours.
  prices.minimum_seconds = 0;
  prices.per_core = true;
  const auto c = cost::evaluate({point(2, 3, 2, 1800)}, prices, 1.0);
  EXPECT_FALSE(c.options[0].fits);  // 6 cores on small
  EXPECT_DOUBLE_EQ(c.options[1].node_hours, 1.0);
  EXPECT_DOUBLE_EQ(c.options[1].core_hours, 6.0);
  EXPECT_DOUBLE_EQ(c.options[1].cost, 3.0);  // 6 core-hours x $0.5
  EXPECT_NE(cost::summary(c, std::nullopt).find("6.000000 core-hours"), std::string::npos) << cost::summary(c, std::nullopt);
}

// Brute force: fits, and no other fitting option is <= on both and < on one.
bool dominated(const std::vector<cost::Option>& v, size_t k) {
  for (size_t j = 0; j < v.size(); ++j) {
    if (j == k || !v[j].fits) continue;
    if (v[j].runtime_seconds <= v[k].runtime_seconds && v[j].cost <= v[k].cost &&
        (v[j].runtime_seconds < v[k].runtime_seconds || v[j].cost < v[k].cost))
      return true;
  }
  return false;
}

TEST(Cost, ParetoCheapestAndFastestMatchBruteForceOnRandomSets) {
  std::mt19937_64 rng(20261203);
  for (int trial = 0; trial < 3000; ++trial) {
    const size_t n = std::uniform_int_distribution<size_t>(0, 40)(rng);
    const int grid = trial % 3 == 0 ? 4 : 1000;  // small grids force ties
    std::vector<cost::Option> v(n);
    for (auto& o : v) {
      o.fits = std::uniform_int_distribution<int>(0, 4)(rng) != 0;
      o.runtime_seconds = 1 + std::uniform_int_distribution<int>(0, grid)(rng);
      o.cost = 0.01 * std::uniform_int_distribution<int>(0, grid)(rng);
      o.node_hours = std::uniform_int_distribution<int>(1, 3)(rng);
    }
    const auto front = cost::pareto_front(v);
    std::vector<size_t> expect;
    for (size_t k = 0; k < n; ++k)
      if (v[k].fits && !dominated(v, k)) expect.push_back(k);
    std::vector<size_t> got = front;
    std::sort(got.begin(), got.end());
    ASSERT_EQ(got, expect) << "trial " << trial;
    for (size_t i = 1; i < front.size(); ++i) {  // by runtime; cost falls along the front
      ASSERT_LE(v[front[i - 1]].runtime_seconds, v[front[i]].runtime_seconds);
      ASSERT_GE(v[front[i - 1]].cost, v[front[i]].cost);
    }
    const double deadline = 1 + std::uniform_int_distribution<int>(0, grid + 1)(rng);
    const auto c = cost::cheapest_within(v, deadline);
    std::optional<size_t> bc;
    for (size_t k = 0; k < n; ++k) {
      if (!v[k].fits || v[k].runtime_seconds > deadline) continue;
      if (!bc || v[k].cost < v[*bc].cost ||
          (v[k].cost == v[*bc].cost && (v[k].runtime_seconds < v[*bc].runtime_seconds ||
                                        (v[k].runtime_seconds == v[*bc].runtime_seconds && v[k].node_hours < v[*bc].node_hours))))
        bc = k;
    }
    ASSERT_EQ(c, bc) << "trial " << trial;
    // Anything that beat it would be within the deadline and cheaper, or as cheap and faster.
    if (c) {
      ASSERT_TRUE(std::count(front.begin(), front.end(), *c) > 0) << "trial " << trial;
    }
    const auto f = cost::fastest(v);
    std::optional<size_t> bf;
    for (size_t k = 0; k < n; ++k)
      if (v[k].fits && (!bf || v[k].runtime_seconds < v[*bf].runtime_seconds ||
                        (v[k].runtime_seconds == v[*bf].runtime_seconds && v[k].cost < v[*bf].cost)))
        bf = k;
    ASSERT_EQ(f, bf) << "trial " << trial;
    if (f) {  // the fastest is always on the front
      ASSERT_TRUE(std::count(front.begin(), front.end(), *f) > 0) << "trial " << trial;
    }
  }
}

TEST(Cost, Durations) {
  EXPECT_DOUBLE_EQ(cost::parse_duration("90"), 90);
  EXPECT_DOUBLE_EQ(cost::parse_duration("90s"), 90);
  EXPECT_DOUBLE_EQ(cost::parse_duration("15m"), 900);
  EXPECT_DOUBLE_EQ(cost::parse_duration("1.5h"), 5400);
  EXPECT_DOUBLE_EQ(cost::parse_duration("1h30m"), 5400);
  EXPECT_DOUBLE_EQ(cost::parse_duration("2d"), 172800);
  EXPECT_DOUBLE_EQ(cost::parse_duration("01:30:00"), 5400);
  EXPECT_DOUBLE_EQ(cost::parse_duration("30:00"), 1800);
  EXPECT_DOUBLE_EQ(cost::parse_duration("0.25"), 0.25);
  for (const char* bad : {"", "0", "-5", "5x", "1h30", "nan", "inf", "1:2:3:4", "::", "1::2", "h", "1:-2"})
    EXPECT_THROW(cost::parse_duration(bad), std::invalid_argument) << bad;
}

TEST(Cost, SummaryAndOutputs) {
  testing::TempDir d;
  const auto prices = cost::read_price_table(d.write("p.toml", kPrices));
  auto p1 = point(1, 2, 1, 100);
  p1.grid_precision = 7;
  p1.partition_precision = 2;
  p1.run = "runs/a,1";
  const auto s = cost::evaluate({p1, point(1, 1, 1, 190), point(1, 4, 2, 40)}, prices);
  // Options: p1 small 100 s $0.00278, big $0.0139, gpu 50 s $0.0139; p2 small 190 s $0.00528,
  // big, gpu 95 s; p3 (8 cores) only on big: 40 s $0.00556.
  const std::string text = cost::summary(s, 60.0);
  EXPECT_NE(text.find("3 measured configurations x 3 machine types"), std::string::npos) << text;
  EXPECT_NE(text.find("Fastest:  1 node x 4 ranks x 2 threads on big: 40.00 s"), std::string::npos) << text;
  EXPECT_NE(text.find("Cheapest: 1 node x 2 ranks x 1 thread; grid P7; partition P2 on small: 100.00 s"), std::string::npos)
      << text;
  EXPECT_NE(text.find("Cheapest within the deadline of 60.00 s: 1 node x 4 ranks x 2 threads on big"), std::string::npos)
      << text;
  EXPECT_NE(cost::summary(s, 20.0).find("No configuration meets the deadline of 20.00 s; the fastest takes 40.00 s."),
            std::string::npos);
  cost::write_outputs(s, d.path(), 60.0);
  const std::string all = slurp(d.file("options.csv")), front = slurp(d.file("pareto.csv"));
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 10);  // header + 9 options
  EXPECT_NE(all.find("\"runs/a,1\""), std::string::npos);
  EXPECT_NE(all.find(",needs 8 cores per node; small has 2,"), std::string::npos) << all;
  EXPECT_NE(all.find(",60.000,"), std::string::npos) << all;  // deadline_s
  // The front: p3 on big (40 s), p1 on gpu (50 s, $0.0139) is beaten by p3 on big ($0.00556);
  // p1 on small (100 s, $0.00278) is the cheapest.
  EXPECT_EQ(std::count(front.begin(), front.end(), '\n'), 3) << front;
  EXPECT_EQ(slurp(d.file("summary.txt")), text);
}

}  // namespace
}  // namespace geoshard
