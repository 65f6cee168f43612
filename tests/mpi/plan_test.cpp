// Properties of tasks and plans over many random cases (engine.h): tasks partition the rows
// along the curve and respect the weight limit; plans are contiguous, cover every task once and
// are optimal (checked against a brute-force dynamic programme on small cases).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "io/road_table.h"
#include "kernels/geohash.h"
#include "mpi/engine.h"
#include "tests/testing/random_roads.h"
#include "tests/testing/temp_dir.h"

namespace geoshard::engine {
namespace {

std::vector<Task> tasks_with_weights(const std::vector<double>& w) {
  std::vector<Task> t(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    t[i].key_lo = i;
    t[i].key_hi = i;
    t[i].row_begin = i;
    t[i].row_end = i + 1;
    t[i].weight = w[i];
  }
  return t;
}

// Minimal bottleneck of a contiguous partition of w into r runs (O(r n^2) dynamic programme).
double brute_force_bottleneck(const std::vector<double>& w, int r) {
  const size_t n = w.size();
  std::vector<double> p(n + 1, 0);
  for (size_t i = 0; i < n; ++i) p[i + 1] = p[i] + w[i];
  std::vector<double> prev(n + 1), cur(n + 1);
  for (size_t j = 0; j <= n; ++j) prev[j] = p[j] - p[0];
  for (int k = 2; k <= r; ++k) {
    for (size_t j = 0; j <= n; ++j) {
      double best = std::numeric_limits<double>::infinity();
      for (size_t i = 0; i <= j; ++i) best = std::min(best, std::max(prev[i], p[j] - p[i]));
      cur[j] = best;
    }
    prev.swap(cur);
  }
  return prev[n];
}

void expect_valid_plan(const Plan& plan, const std::vector<double>& w, int ranks) {
  ASSERT_EQ(plan.ranks(), ranks);
  ASSERT_EQ(plan.rank_begin.size(), static_cast<size_t>(ranks) + 1);
  ASSERT_EQ(plan.rank_load.size(), static_cast<size_t>(ranks));
  EXPECT_EQ(plan.rank_begin.front(), 0u);
  EXPECT_EQ(plan.rank_begin.back(), w.size());
  double total = 0;
  for (int r = 0; r < ranks; ++r) {
    ASSERT_LE(plan.rank_begin[r], plan.rank_begin[r + 1]) << "runs must be contiguous and ordered";
    double load = 0;
    for (uint32_t i = plan.rank_begin[r]; i < plan.rank_begin[r + 1]; ++i) load += w[i];
    EXPECT_NEAR(plan.rank_load[r], load, 1e-9 * (1 + load));
    total += load;
  }
  ASSERT_EQ(plan.tasks.size(), w.size());
  for (size_t i = 0; i < w.size(); ++i) EXPECT_EQ(plan.tasks[i].index, i);
  const double mean = total / ranks;
  const double max_w = w.empty() ? 0 : *std::max_element(w.begin(), w.end());
  if (mean > 0) { EXPECT_LE(plan.imbalance(), 1 + max_w / mean + 1e-9); }
}

TEST(MakePlan, OptimalOnRandomIntegerWeights) {
  std::mt19937_64 rng(1);
  for (int iter = 0; iter < 3000; ++iter) {
    const size_t n = rng() % 30;
    const int ranks = 1 + static_cast<int>(rng() % 12);
    std::vector<double> w(n);
    const int max_w = 1 + static_cast<int>(rng() % 50);
    for (auto& x : w) x = (rng() % 4 == 0) ? 0 : static_cast<double>(rng() % max_w);
    const Plan plan = make_plan(tasks_with_weights(w), ranks);
    SCOPED_TRACE("iter " + std::to_string(iter) + " n " + std::to_string(n) + " ranks " + std::to_string(ranks));
    expect_valid_plan(plan, w, ranks);
    EXPECT_EQ(plan.max_load(), brute_force_bottleneck(w, ranks));  // integers: exact
  }
}

TEST(MakePlan, OptimalOnHeavyTailedRealWeights) {
  std::mt19937_64 rng(2);
  std::lognormal_distribution<double> heavy(0.0, 2.0);
  for (int iter = 0; iter < 1500; ++iter) {
    const size_t n = 1 + rng() % 40;
    const int ranks = 1 + static_cast<int>(rng() % 16);
    std::vector<double> w(n);
    for (auto& x : w) x = heavy(rng);
    const Plan plan = make_plan(tasks_with_weights(w), ranks);
    SCOPED_TRACE("iter " + std::to_string(iter));
    expect_valid_plan(plan, w, ranks);
    const double best = brute_force_bottleneck(w, ranks);
    EXPECT_NEAR(plan.max_load(), best, 1e-12 * best);
  }
}

TEST(MakePlan, MoreRanksThanTasksLeavesRanksEmpty) {
  const std::vector<double> w = {3, 1, 4, 1, 5};
  const Plan plan = make_plan(tasks_with_weights(w), 9);
  expect_valid_plan(plan, w, 9);
  EXPECT_EQ(plan.max_load(), 5);
  int empty = 0;
  for (int r = 0; r < 9; ++r) empty += plan.rank_begin[r] == plan.rank_begin[r + 1];
  EXPECT_EQ(empty, 4);
}

TEST(MakePlan, EdgeCases) {
  const Plan none = make_plan({}, 4);
  EXPECT_EQ(none.rank_begin, std::vector<uint32_t>(5, 0));
  EXPECT_EQ(none.imbalance(), 1.0);
  const Plan zeros = make_plan(tasks_with_weights({0, 0, 0}), 2);
  expect_valid_plan(zeros, {0, 0, 0}, 2);
  EXPECT_EQ(zeros.imbalance(), 1.0);
  const Plan one = make_plan(tasks_with_weights({2, 7, 1}), 1);
  EXPECT_EQ(one.rank_begin, (std::vector<uint32_t>{0, 3}));
  EXPECT_THROW(make_plan(tasks_with_weights({1, -1}), 2), std::invalid_argument);
  EXPECT_THROW(make_plan(tasks_with_weights({1, std::nan("")}), 2), std::invalid_argument);
  EXPECT_THROW(make_plan(tasks_with_weights({1}), 0), std::invalid_argument);
}

TEST(MakePlan, SpreadsLoadOverRanksNotJustTheBottleneck) {
  // 100 equal tasks over 8 ranks: the optimum is 13; a plain greedy cut would leave the last
  // rank with 9. Every rank should get 12 or 13.
  const std::vector<double> w(100, 1.0);
  const Plan plan = make_plan(tasks_with_weights(w), 8);
  EXPECT_EQ(plan.max_load(), 13);
  for (double l : plan.rank_load) EXPECT_GE(l, 12);
}

TEST(MakePlan, HundredThousandRanksMillionTasksUnderASecond) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> heavy(0.0, 1.5);
  std::vector<double> w(1000000);
  for (auto& x : w) x = heavy(rng);
  auto tasks = tasks_with_weights(w);
  const auto t0 = std::chrono::steady_clock::now();
  const Plan plan = make_plan(std::move(tasks), 100000);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 1.0);
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  const double max_w = *std::max_element(w.begin(), w.end());
  const double lower = std::max(total / 100000, max_w);
  EXPECT_GE(plan.max_load(), lower * (1 - 1e-12));
  EXPECT_LE(plan.max_load(), total / 100000 + max_w);
  EXPECT_EQ(plan.rank_begin.back(), w.size());
  for (size_t r = 0; r < 100000; ++r) ASSERT_LE(plan.rank_begin[r], plan.rank_begin[r + 1]);
  std::printf("make_plan: 1e6 tasks over 1e5 ranks in %.3f s, imbalance %.4f\n", s, plan.imbalance());
}

// Skewed keys: a few dense clusters in a sparse background, like cities in a region.
struct KeyedRows {
  std::vector<uint64_t> zkey;
  std::vector<double> cum;
};
KeyedRows random_rows(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> lon(95, 110), lat(-5, 10), u(0, 1);
  std::normal_distribution<double> city(0, 0.02);
  std::lognormal_distribution<double> len(-1, 1);
  const double cx[3] = {103.8, 100.5, 106.8}, cy[3] = {1.35, 5.4, -0.2};
  KeyedRows k;
  for (size_t i = 0; i < n; ++i) {
    double x, y;
    if (u(rng) < 0.6) {
      const int c = static_cast<int>(rng() % 3);
      x = cx[c] + city(rng);
      y = cy[c] + city(rng);
    } else {
      x = lon(rng);
      y = lat(rng);
    }
    k.zkey.push_back(geohash::zkey(x, y));
  }
  std::sort(k.zkey.begin(), k.zkey.end());
  k.cum.push_back(0);
  for (size_t i = 0; i < n; ++i) k.cum.push_back(k.cum.back() + (rng() % 10 == 0 ? 0.0 : len(rng)));
  return k;
}

TEST(MakeTasks, TasksPartitionRowsAlongTheCurveAndRespectTheLimit) {
  std::mt19937_64 rng(4);
  for (int iter = 0; iter < 60; ++iter) {
    const KeyedRows k = random_rows(1 + rng() % 5000, 100 + iter);
    PlanOptions opt;
    opt.partition_precision = static_cast<int>(rng() % 5);
    opt.max_precision = std::min(12, opt.partition_precision + static_cast<int>(rng() % 8));
    opt.max_task_fraction = std::vector<double>{0.01, 0.05, 0.25, 1.0}[rng() % 4];
    opt.max_task_rows = std::vector<uint64_t>{0, 50, 400, 500000}[rng() % 4];
    const int ranks = 1 + static_cast<int>(rng() % 64);
    SCOPED_TRACE("iter " + std::to_string(iter));
    const auto tasks = make_tasks(k.zkey, k.cum, ranks, opt);
    const size_t n = k.zkey.size();
    const double limit = opt.max_task_fraction * k.cum.back() / ranks;
    ASSERT_FALSE(tasks.empty());
    EXPECT_EQ(tasks.front().row_begin, 0u);
    EXPECT_EQ(tasks.back().row_end, n);
    for (size_t i = 0; i < tasks.size(); ++i) {
      const Task& t = tasks[i];
      EXPECT_EQ(t.index, i);
      ASSERT_LT(t.row_begin, t.row_end) << "only cells holding rows are tasks";
      if (i) {
        EXPECT_EQ(t.row_begin, tasks[i - 1].row_end) << "row ranges are consecutive";
        EXPECT_GT(t.key_lo, tasks[i - 1].key_hi) << "cells are disjoint and in curve order";
      }
      ASSERT_GE(t.precision, opt.partition_precision);
      ASSERT_LE(t.precision, opt.max_precision);
      const geohash::Cell c = geohash::Cell::from_key(t.key_lo, t.precision);
      EXPECT_EQ(c.key_lo(), t.key_lo);
      EXPECT_EQ(c.key_hi(), t.key_hi);
      // Exactly the rows whose key lies in the cell.
      EXPECT_GE(k.zkey[t.row_begin], t.key_lo);
      EXPECT_LE(k.zkey[t.row_end - 1], t.key_hi);
      if (t.row_begin > 0) { EXPECT_LT(k.zkey[t.row_begin - 1], t.key_lo); }
      if (t.row_end < n) { EXPECT_GT(k.zkey[t.row_end], t.key_hi); }
      EXPECT_EQ(t.weight, k.cum[t.row_end] - k.cum[t.row_begin]);
      if (t.precision < opt.max_precision) {
        EXPECT_LE(t.weight, limit);
        if (opt.max_task_rows) { EXPECT_LE(t.row_end - t.row_begin, opt.max_task_rows); }
      }
      if (t.precision > opt.partition_precision) {
        // It was split because its parent was too heavy or held too many rows.
        const geohash::Cell p = c.parent();
        const auto lo = std::lower_bound(k.zkey.begin(), k.zkey.end(), p.key_lo()) - k.zkey.begin();
        const auto hi = std::upper_bound(k.zkey.begin(), k.zkey.end(), p.key_hi()) - k.zkey.begin();
        EXPECT_TRUE(k.cum[hi] - k.cum[lo] > limit ||
                    (opt.max_task_rows && static_cast<uint64_t>(hi - lo) > opt.max_task_rows));
      }
    }
  }
}

TEST(PlanForTable, RefinementKeepsTheRowPartitionAndNeverWorsensTheBalance) {
  std::mt19937_64 rng(5);
  for (int iter = 0; iter < 40; ++iter) {
    const KeyedRows k = random_rows(100 + rng() % 20000, 300 + iter);
    PlanOptions opt;
    opt.partition_precision = static_cast<int>(rng() % 4);
    opt.max_task_fraction = std::vector<double>{0.05, 0.25, 1.0}[rng() % 3];
    const int ranks = 1 + static_cast<int>(rng() % 40);
    SCOPED_TRACE("iter " + std::to_string(iter) + " ranks " + std::to_string(ranks));
    const Plan plain = make_plan(make_tasks(k.zkey, k.cum, ranks, opt), ranks);
    const Plan refined = plan_for_table(k.zkey, k.cum, ranks, opt);
    EXPECT_LE(refined.max_load(), plain.max_load() * (1 + 1e-12));
    EXPECT_GE(refined.tasks.size(), plain.tasks.size());
    EXPECT_EQ(refined.options.max_task_fraction, opt.max_task_fraction);
    const auto& tasks = refined.tasks;
    EXPECT_EQ(tasks.front().row_begin, 0u);
    EXPECT_EQ(tasks.back().row_end, k.zkey.size());
    for (size_t i = 0; i < tasks.size(); ++i) {
      const Task& t = tasks[i];
      ASSERT_LT(t.row_begin, t.row_end);
      if (i) {
        ASSERT_EQ(t.row_begin, tasks[i - 1].row_end);
        ASSERT_GT(t.key_lo, tasks[i - 1].key_hi);
      }
      const geohash::Cell c = geohash::Cell::from_key(t.key_lo, t.precision);
      ASSERT_EQ(c.key_hi(), t.key_hi);
      ASSERT_GE(k.zkey[t.row_begin], t.key_lo);
      ASSERT_LE(k.zkey[t.row_end - 1], t.key_hi);
      EXPECT_EQ(t.weight, k.cum[t.row_end] - k.cum[t.row_begin]);
    }
    expect_valid_plan(refined, [&] {
      std::vector<double> w;
      for (const Task& t : tasks) w.push_back(t.weight);
      return w;
    }(), ranks);
  }
}

TEST(MakeTasks, RejectsBadInput) {
  PlanOptions opt;
  EXPECT_THROW(make_tasks({2, 1}, {0, 1, 2}, 1, opt), std::invalid_argument);
  EXPECT_THROW(make_tasks({1, 2}, {0, 1}, 1, opt), std::invalid_argument);
  EXPECT_THROW(make_tasks({1, 2}, {0, 2, 1}, 1, opt), std::invalid_argument);
  opt.partition_precision = 4;
  opt.max_precision = 3;
  EXPECT_THROW(make_tasks({1, 2}, {0, 1, 2}, 1, opt), std::invalid_argument);
  opt.max_precision = 12;
  opt.max_task_fraction = 0;
  EXPECT_THROW(make_tasks({1, 2}, {0, 1, 2}, 1, opt), std::invalid_argument);
  EXPECT_TRUE(make_tasks({}, {0}, 1, PlanOptions{}).empty());
}

TEST(MakeTasks, HotSingleCellStaysWholeAtMaxPrecision) {
  // All weight on one key: the cell at max_precision cannot be split further.
  std::vector<uint64_t> z(100, geohash::zkey(103.8, 1.35));
  std::vector<double> cum(101);
  for (size_t i = 0; i <= 100; ++i) cum[i] = static_cast<double>(i);
  PlanOptions opt;
  opt.partition_precision = 2;
  opt.max_precision = 6;
  const auto tasks = make_tasks(z, cum, 8, opt);
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].precision, 6);
  EXPECT_EQ(tasks[0].row_end, 100u);
}

TEST(PlanForRoads, ReadsKeysAndLengthsOfTheTable) {
  testing::TempDir dir;
  const RoadTable t = testing::random_road_table(4000, 9);
  write_road_table(t, dir.file("roads.h5"), "test");
  PlanOptions opt;
  opt.partition_precision = 4;
  const Plan a = plan_for_roads(dir.file("roads.h5"), 3, opt);
  const Plan b = plan_for_table(t.zkey, t.cum_km, 3, opt);
  ASSERT_EQ(a.tasks.size(), b.tasks.size());
  for (size_t i = 0; i < a.tasks.size(); ++i) {
    EXPECT_EQ(a.tasks[i].key_lo, b.tasks[i].key_lo);
    EXPECT_EQ(a.tasks[i].row_end, b.tasks[i].row_end);
  }
  EXPECT_EQ(a.rank_begin, b.rank_begin);
  EXPECT_NEAR(a.total_weight(), t.road_km(), 1e-9 * t.road_km());
  EXPECT_EQ(a.options.partition_precision, 4);
  EXPECT_THROW(plan_for_roads(dir.file("missing.h5"), 3, opt), std::exception);
}

TEST(PlanReport, JsonAndTable) {
  const std::vector<double> w = {5, 1, 1, 1, 1, 1, 4, 2, 2, 2};
  Plan plan = make_plan(tasks_with_weights(w), 4);
  for (auto& t : plan.tasks) t.precision = 12;
  const nlohmann::json j = plan_report(plan);
  EXPECT_EQ(j["ranks"], 4);
  EXPECT_EQ(j["tasks"], 10);
  EXPECT_DOUBLE_EQ(j["total_weight"].get<double>(), 20);
  EXPECT_DOUBLE_EQ(j["max_load"].get<double>(), plan.max_load());
  EXPECT_DOUBLE_EQ(j["imbalance"].get<double>(), plan.imbalance());
  ASSERT_EQ(j["per_rank"].size(), 4u);
  EXPECT_EQ(j["tasks_by_precision"]["12"], 10);
  const std::string all = plan_table(plan, 10);
  EXPECT_NE(all.find("imbalance"), std::string::npos);
  EXPECT_EQ(std::count(all.begin(), all.end(), '\n'), 3 + 4);  // 2 summary lines, header, 4 ranks
  const std::string cut = plan_table(plan, 2);
  EXPECT_NE(cut.find("heaviest"), std::string::npos);
  EXPECT_EQ(std::count(cut.begin(), cut.end(), '\n'), 4 + 2);
}

TEST(Task, ShardNameAndCell) {
  Task t;
  const geohash::Cell c = geohash::decode("w21z7");
  t.key_lo = c.key_lo();
  t.key_hi = c.key_hi();
  t.precision = 5;
  EXPECT_EQ(t.cell(), "w21z7");
  const std::string name = t.shard_name();
  EXPECT_EQ(name.size(), std::string("task-0123456789abcdef-p5.h5").size());
  EXPECT_EQ(name.rfind("task-", 0), 0u);
  EXPECT_EQ(name.substr(name.size() - 6), "-p5.h5");
}

}  // namespace
}  // namespace geoshard::engine
