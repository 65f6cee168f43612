// The engine under MPI (1..4 ranks): every task runs exactly once across ranks, gather sees
// every shard in order, resume recomputes only what is not committed, a different plan is an
// error, a failing task makes every rank throw (no hang: ctest's timeout would catch one), and
// SIGUSR1 stops the run gracefully so that a rerun completes it.
#include <gtest/gtest.h>
#include <mpi.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <span>
#include <set>
#include <thread>

#include "io/road_table.h"
#include "mpi/engine.h"
#include "tests/testing/mpi_main.h"
#include "tests/testing/random_roads.h"

namespace geoshard::engine {
namespace {
namespace fs = std::filesystem;

// A folder shared by all ranks with a random road table in it (rank 0 writes; all read).
class SharedRun {
 public:
  explicit SharedRun(uint64_t seed, size_t rows = 3000) {
    std::string dir;
    if (comm_.root()) {
      char tmpl[] = "/tmp/geoshard-engine-XXXXXX";
      dir = ::mkdtemp(tmpl);
    }
    dir_ = comm_.broadcast(dir);
    roads_ = dir_ + "/roads.h5";
    table_ = testing::random_road_table(rows, seed);
    if (comm_.root()) write_road_table(table_, roads_, "engine test");
    comm_.barrier();
    PlanOptions opt;
    opt.partition_precision = 3;
    opt.max_task_fraction = 0.5;
    plan_ = plan_for_roads(roads_, comm_.size(), opt);
  }
  ~SharedRun() {
    comm_.barrier();
    if (comm_.root()) fs::remove_all(dir_);
  }
  const mpi::Comm& comm() const { return comm_; }
  const Plan& plan() const { return plan_; }
  const RoadTable& table() const { return table_; }
  std::string run_dir() const { return dir_ + "/run"; }
  const std::string& roads_path() const { return roads_; }
  RunOptions options() const {
    RunOptions o;
    o.run_dir = run_dir();
    o.job = "sum-km";
    o.inputs = {{"roads", file_fingerprint(roads_)}};
    o.progress = false;
    return o;
  }
  // The toy job: each shard holds the road-km of its rows, read from the table.
  TaskFunction job(std::vector<int>* runs, std::function<void(const Task&)> hook = nullptr) const {
    return [this, runs, hook](const Task& t, ShardWriter& w) {
      if (hook) hook(t);
      const RoadTable part = read_road_table(roads_, t.row_begin, t.row_end);
      w.add_bytes_read(part.lon.size() * 16);
      w.group().write_column("km", std::vector<double>{part.road_km()});
      w.group().write_column("id", part.id);
      if (runs) ++(*runs)[t.index];
      w.commit(part.rows());
    };
  }
  // Per-task run counts summed over ranks.
  std::vector<int> total(std::vector<int> v) const {
    std::vector<int> out(v.size());
    MPI_Allreduce(v.data(), out.data(), static_cast<int>(v.size()), MPI_INT, MPI_SUM, comm_.get());
    return out;
  }
  std::vector<int> zeros() const { return std::vector<int>(plan_.tasks.size(), 0); }
  // Committed shard files (task-*.h5) and temporaries in RUN/shards.
  size_t count_files(const std::string& prefix) const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(run_dir() + "/shards"))
      n += e.path().filename().string().rfind(prefix, 0) == 0;
    return n;
  }

 private:
  mpi::Comm comm_;
  std::string dir_, roads_;
  RoadTable table_;
  Plan plan_;
};

TEST(Engine, EveryTaskRunsOnceAndGatherSeesAllInOrder) {
  SharedRun s(11);
  const Plan& plan = s.plan();
  ASSERT_GE(plan.tasks.size(), 2u * s.comm().size());
  Engine eng(s.comm());
  std::vector<int> runs = s.zeros();
  const RunResult res = eng.run(plan, s.options(), s.job(&runs));
  for (int n : s.total(runs)) EXPECT_EQ(n, 1);
  EXPECT_EQ(res.shards_total, plan.tasks.size());
  EXPECT_EQ(res.shards_committed, plan.tasks.size());
  EXPECT_EQ(res.shards_reused, 0u);
  EXPECT_FALSE(res.interrupted);
  ASSERT_EQ(res.ranks.size(), static_cast<size_t>(s.comm().size()));
  for (int r = 0; r < s.comm().size(); ++r)
    EXPECT_EQ(res.ranks[r].tasks_run, plan.rank_begin[r + 1] - plan.rank_begin[r]);
  EXPECT_EQ(res.plan_id, plan_id(plan, s.options()));
  const nlohmann::json& rec = res.record;
  EXPECT_EQ(rec["status"], "ok");
  EXPECT_EQ(rec["shards_committed"], plan.tasks.size());
  EXPECT_EQ(rec["ranks"], s.comm().size());
  for (const char* k : {"busy_seconds", "idle_seconds", "tasks_run", "tasks_reused", "bytes_read", "bytes_written",
                        "weight_done"})
    EXPECT_EQ(rec["per_rank"][k].size(), static_cast<size_t>(s.comm().size())) << k;
  EXPECT_DOUBLE_EQ(rec["planned_imbalance"].get<double>(), plan.imbalance());
  EXPECT_TRUE(rec["measured_imbalance"].is_number());
  EXPECT_NEAR(rec["weight_done"].get<double>(), s.table().road_km(), 1e-9 * s.table().road_km());
  EXPECT_GT(res.ranks[0].bytes_written + res.ranks.back().bytes_written, 0u);

  if (s.comm().root()) {
    EXPECT_EQ(s.count_files("task-"), plan.tasks.size());
    EXPECT_EQ(s.count_files(".tmp-"), 0u);
    std::ifstream in(s.run_dir() + "/plan.json");
    const nlohmann::json pj = nlohmann::json::parse(in);
    EXPECT_EQ(pj["plan_id"], res.plan_id);
    EXPECT_EQ(pj["tasks"]["cell"].size(), plan.tasks.size());
    EXPECT_EQ(pj["rank_begin"].get<std::vector<uint32_t>>(), plan.rank_begin);
  }
  // Gather: rank 0 sees every shard, in task order; the sum is the table's road-km.
  double km = 0;
  uint32_t next = 0;
  uint64_t rows = 0;
  eng.gather(plan, s.run_dir(), [&](const Task& t, h5::Group& g) {
    EXPECT_EQ(t.index, next++);
    EXPECT_EQ(g.attr_int("complete"), 1);
    EXPECT_EQ(g.attr_int("rows"), static_cast<int64_t>(t.row_end - t.row_begin));
    EXPECT_EQ(g.attr_string("plan_id"), res.plan_id);
    EXPECT_EQ(g.attr_int("task_index"), t.index);
    rows += g.read_column<int64_t>("id").size();
    km += g.read_column<double>("km").at(0);
  });
  if (s.comm().root()) {
    EXPECT_EQ(next, plan.tasks.size());
    EXPECT_EQ(rows, s.table().rows());
    EXPECT_NEAR(km, s.table().road_km(), 1e-9 * s.table().road_km());
    // The plan read back from plan.json is the same plan, and gathers the same shards.
    const Plan back = read_plan(s.run_dir());
    ASSERT_EQ(back.tasks.size(), plan.tasks.size());
    for (size_t i = 0; i < plan.tasks.size(); ++i) {
      EXPECT_EQ(back.tasks[i].key_lo, plan.tasks[i].key_lo);
      EXPECT_EQ(back.tasks[i].key_hi, plan.tasks[i].key_hi);
      EXPECT_EQ(back.tasks[i].precision, plan.tasks[i].precision);
      EXPECT_EQ(back.tasks[i].row_end, plan.tasks[i].row_end);
      EXPECT_EQ(back.tasks[i].weight, plan.tasks[i].weight);
    }
    EXPECT_EQ(back.rank_begin, plan.rank_begin);
    EXPECT_EQ(back.options.partition_precision, 3);
    size_t n = 0;
    eng.gather(back, s.run_dir(), [&](const Task&, h5::Group&) { ++n; });
    EXPECT_EQ(n, plan.tasks.size());
    EXPECT_THROW(read_plan(s.run_dir() + "/nowhere"), std::runtime_error);
  }
}

TEST(Engine, CostMeasuredInOneRunWeighsTheNextPlan) {
  SharedRun s(13);
  const Plan& plan = s.plan();
  Engine eng(s.comm());
  // Even tasks are slow: their measured cost, not their road-km, should weigh them.
  eng.run(plan, s.options(), s.job(nullptr, [](const Task& t) {
    if (t.index % 2 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }));
  std::vector<double> seconds;
  eng.gather(plan, s.run_dir(), [&](const Task&, h5::Group& g) { seconds.push_back(g.attr_double("seconds")); });
  if (!s.comm().root()) return;
  const RoadTable& t = s.table();
  const std::vector<double>& km = t.cum_km;
  const std::vector<double> cum = measured_cum_weight(s.run_dir(), km);
  ASSERT_EQ(cum.size(), km.size());
  EXPECT_EQ(cum[0], 0.0);
  for (size_t r = 0; r + 1 < cum.size(); ++r) ASSERT_LE(cum[r], cum[r + 1]) << r;
  double total = 0;
  for (size_t k = 0; k < plan.tasks.size(); ++k) {
    const Task& task = plan.tasks[k];
    const double got = cum[task.row_end] - cum[task.row_begin];
    EXPECT_NEAR(got, seconds[k], 1e-9 * seconds[k] + 1e-15) << "task " << k;
    if (k % 2 == 0) {
      EXPECT_GE(seconds[k], 0.019);
    }
    total += seconds[k];
    // Within a task, in proportion to road-km.
    const double task_km = km[task.row_end] - km[task.row_begin];
    if (task.row_end - task.row_begin >= 2 && task_km > 0) {
      const uint64_t r = task.row_begin;
      EXPECT_NEAR((cum[r + 1] - cum[r]) / got, (km[r + 1] - km[r]) / task_km, 1e-9);
    }
  }
  EXPECT_NEAR(cum.back(), total, 1e-9 * total);
  // The next plan, by measured cost.
  PlanOptions opt = plan.options;
  opt.cost_from = s.run_dir();
  const Plan by_cost = plan_for_roads(s.run_dir() + "/../roads.h5", s.comm().size(), opt);
  EXPECT_NEAR(by_cost.total_weight(), total, 1e-9 * total);
  EXPECT_EQ(by_cost.options.cost_from, s.run_dir());
  // Not the same table, or a run that is not complete: clear errors.
  std::vector<double> other(km.begin(), km.end() - 1);
  EXPECT_THROW(measured_cum_weight(s.run_dir(), other), std::runtime_error);
  EXPECT_THROW(measured_cum_weight(s.run_dir() + "/nowhere", km), std::runtime_error);
  fs::remove(s.run_dir() + "/shards/" + plan.tasks.back().shard_name());
  try {
    measured_cum_weight(s.run_dir(), km);
    ADD_FAILURE() << "a missing shard must be an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(plan.tasks.back().shard_name()), std::string::npos) << e.what();
  }
}

TEST(Engine, ResumeRecomputesOnlyShardsThatAreNotCommitted) {
  SharedRun s(12);
  const Plan& plan = s.plan();
  const size_t n = plan.tasks.size();
  ASSERT_GE(n, 12u);
  Engine eng(s.comm());
  eng.run(plan, s.options(), s.job(nullptr));
  // Break six shards in six ways; leave a stale temporary beside a good one.
  const size_t gone = 0, truncated = n / 3, incomplete = n / 2, other_plan = n - 1, stale_tmp = 1, wrong_task = 2,
               flipped = 3;
  std::set<size_t> broken = {gone, truncated, incomplete, other_plan, wrong_task, flipped};
  ASSERT_EQ(broken.size(), 6u);
  if (s.comm().root()) {
    auto path = [&](size_t i) { return shard_path(s.run_dir(), plan.tasks[i]); };
    fs::remove(path(gone));
    fs::resize_file(path(truncated), fs::file_size(path(truncated)) / 2);
    {
      h5::File f(path(incomplete), h5::File::Mode::kReadWrite);
      f.root().open_group("shard").set_attr("complete", int64_t{0});
      f.close();
    }
    {
      h5::File f(path(other_plan), h5::File::Mode::kReadWrite);
      f.root().open_group("shard").set_attr("plan_id", std::string("another plan"));
      f.close();
    }
    {  // a shard renamed (or copied) over another task's name
      h5::File f(path(wrong_task), h5::File::Mode::kReadWrite);
      f.root().open_group("shard").set_attr("row_begin", static_cast<int64_t>(plan.tasks[wrong_task].row_begin + 1));
      f.close();
    }
    {  // one bit of one stored id flipped on disk: the file still reads, its data is wrong
      std::vector<int64_t> ids;
      {
        h5::File f(path(flipped), h5::File::Mode::kRead);
        ids = f.root().open_group("shard").read_column<int64_t>("id");
      }
      ASSERT_GE(ids.size(), 2u);
      std::string bytes;
      {
        std::ifstream in(path(flipped), std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
      }
      const size_t at = bytes.find(std::string(reinterpret_cast<const char*>(ids.data()), 2 * sizeof(int64_t)));
      ASSERT_NE(at, std::string::npos) << "the ids are not stored contiguously";
      bytes[at + sizeof(int64_t)] ^= 0x04;
      std::ofstream(path(flipped), std::ios::binary | std::ios::trunc) << bytes;
    }
    std::ofstream(s.run_dir() + "/shards/.tmp-" + plan.tasks[stale_tmp].shard_name() + "-0") << "half a shard";
    const std::string id = plan_id(plan, s.options());
    EXPECT_EQ(shard_state(path(gone), id), ShardState::kMissing);
    EXPECT_EQ(shard_state(path(truncated), id), ShardState::kCorrupt);
    EXPECT_EQ(shard_state(path(incomplete), id), ShardState::kIncomplete);
    EXPECT_EQ(shard_state(path(other_plan), id), ShardState::kOtherPlan);
    EXPECT_EQ(shard_state(path(stale_tmp), id), ShardState::kCommitted);
    EXPECT_EQ(shard_state(path(stale_tmp), id, &plan.tasks[stale_tmp]), ShardState::kCommitted);
    EXPECT_EQ(shard_state(path(wrong_task), id), ShardState::kCommitted);  // its flags are fine ...
    EXPECT_EQ(shard_state(path(wrong_task), id, &plan.tasks[wrong_task]), ShardState::kWrongTask);  // ... its task is not
    EXPECT_EQ(shard_state(path(stale_tmp), id, &plan.tasks[stale_tmp + 1]), ShardState::kWrongTask);
    EXPECT_EQ(shard_state(path(flipped), id), ShardState::kCommitted);
    EXPECT_EQ(shard_state(path(flipped), id, &plan.tasks[flipped]), ShardState::kBadChecksum);
    for (size_t i = 0; i < n; ++i) {
      if (broken.count(i)) continue;
      EXPECT_EQ(shard_state(path(i), id, &plan.tasks[i]), ShardState::kCommitted) << "task " << i;
    }
    // gather refuses an incomplete run, naming the shard.
    try {
      eng.gather(plan, s.run_dir(), [](const Task&, h5::Group&) {});
      ADD_FAILURE() << "gather accepted a run with missing shards";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(plan.tasks[gone].shard_name()), std::string::npos) << e.what();
    }
  }
  s.comm().barrier();
  std::vector<int> runs = s.zeros();
  const RunResult res = eng.run(plan, s.options(), s.job(&runs));
  EXPECT_EQ(res.shards_committed, broken.size());
  EXPECT_EQ(res.shards_reused, n - broken.size());
  const auto total = s.total(runs);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(total[i], broken.count(i) ? 1 : 0) << "task " << i;
  double km = 0;
  eng.gather(plan, s.run_dir(), [&](const Task&, h5::Group& g) { km += g.read_column<double>("km").at(0); });
  if (s.comm().root()) {
    EXPECT_EQ(s.count_files(".tmp-"), 0u);
    EXPECT_NEAR(km, s.table().road_km(), 1e-9 * s.table().road_km());
  }
  // A third run reuses everything.
  const RunResult again = eng.run(plan, s.options(), s.job(nullptr));
  EXPECT_EQ(again.shards_reused, n);
  EXPECT_EQ(again.shards_committed, 0u);
  EXPECT_TRUE(again.record["measured_imbalance"].is_null());
}

TEST(Engine, DifferentPlanInTheSameRunFolderIsAnError) {
  SharedRun s(13);
  Engine eng(s.comm());
  RunOptions o = s.options();
  eng.run(s.plan(), o, s.job(nullptr));
  o.inputs["extra"] = "changed";
  try {
    eng.run(s.plan(), o, s.job(nullptr));
    ADD_FAILURE() << "a different plan was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("different plan"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("new --run folder"), std::string::npos) << e.what();
  }
  // A plan for another rank count is refused on every rank, as is a wrongly launched job.
  const Plan other = make_plan(s.plan().tasks, s.comm().size() + 1);
  EXPECT_THROW(eng.run(other, s.options(), s.job(nullptr)), std::runtime_error);
  ::setenv("SLURM_NTASKS", std::to_string(s.comm().size() + 3).c_str(), 1);
  try {
    eng.run(s.plan(), s.options(), s.job(nullptr));
    ADD_FAILURE() << "MPI size != SLURM_NTASKS was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("SLURM_NTASKS"), std::string::npos) << e.what();
  }
  ::unsetenv("SLURM_NTASKS");
}

TEST(Engine, FailingTaskMakesEveryRankThrow) {
  for (bool fail_fast : {true, false}) {
    SharedRun s(14);
    const Plan& plan = s.plan();
    const uint32_t bad = static_cast<uint32_t>(plan.tasks.size() / 2);
    Engine eng(s.comm());
    RunOptions o = s.options();
    o.fail_fast = fail_fast;
    try {
      eng.run(plan, o, s.job(nullptr, [&](const Task& t) {
        if (t.index == bad) throw std::runtime_error("boom in the task");
      }));
      ADD_FAILURE() << "no exception on rank " << s.comm().rank();
    } catch (const RunFailed& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("boom in the task"), std::string::npos) << what;
      EXPECT_NE(what.find(plan.tasks[bad].shard_name()), std::string::npos) << what;
      EXPECT_EQ(e.result().record["status"], "failed");
      if (!fail_fast) { EXPECT_EQ(e.result().shards_committed, plan.tasks.size() - 1); }
    }
    if (s.comm().root()) {
      EXPECT_FALSE(fs::exists(shard_path(s.run_dir(), plan.tasks[bad])));
      EXPECT_EQ(s.count_files(".tmp-"), 0u);
    }
    // The rerun without the fault completes, reusing what was committed.
    std::vector<int> runs = s.zeros();
    const RunResult res = eng.run(plan, o, s.job(&runs));
    EXPECT_EQ(res.shards_committed + res.shards_reused, plan.tasks.size());
    EXPECT_EQ(s.total(runs)[bad], 1);
  }
}

// run_groups: groups are the rank's next uncommitted tasks in order, as many as fit in
// group_rows (at least one), cut by committed shards; every shard holds what its task alone
// gives; each shard's seconds is the group's time shared, not the whole; a group that fails
// keeps the shards it committed and names the first task it did not.
TEST(Engine, GroupsTakeConsecutiveUncommittedTasksUpToTheRowLimit) {
  SharedRun s(18, 6000);
  const Plan& plan = s.plan();
  const size_t n = plan.tasks.size();
  Engine eng(s.comm());
  // First every task alone, to know each shard's content; then remove every third shard
  // and a run of four, so that the rerun's groups are cut by committed shards.
  eng.run(plan, s.options(), s.job(nullptr));
  std::vector<double> km_alone(n);
  eng.gather(plan, s.run_dir(), [&](const Task& t, h5::Group& g) { km_alone[t.index] = g.read_column<double>("km").at(0); });
  MPI_Bcast(km_alone.data(), static_cast<int>(n), MPI_DOUBLE, 0, s.comm().get());
  std::set<uint32_t> removed;
  for (uint32_t i = 0; i < n; ++i)
    if (i % 3 == 0 || (i >= n / 2 && i < n / 2 + 4)) removed.insert(i);
  if (s.comm().root())
    for (uint32_t i : removed) fs::remove(shard_path(s.run_dir(), plan.tasks[i]));
  s.comm().barrier();

  RunOptions o = s.options();
  uint64_t rows_total = 0;
  for (const Task& t : plan.tasks) rows_total += t.row_end - t.row_begin;
  o.group_rows = 3 * rows_total / n;  // about three average tasks
  struct Group {
    std::vector<uint32_t> tasks;
    double seconds;
  };
  std::vector<Group> groups;
  const RunResult res = eng.run_groups(plan, o, [&](std::span<const Task> tasks, std::span<ShardWriter* const> w) {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(tasks.size(), w.size());
    Group g;
    const RoadTable part = read_road_table(s.roads_path(), tasks.front().row_begin, tasks.back().row_end);
    // A group of several tasks lasts long enough that the engine's own time (creating and
    // committing shard files) is small beside it, even under sanitizers on a loaded machine.
    if (tasks.size() > 1) std::this_thread::sleep_for(std::chrono::milliseconds(150));
    for (size_t k = 0; k < tasks.size(); ++k) {
      g.tasks.push_back(tasks[k].index);
      const double km = part.cum_km[tasks[k].row_end - part.row_offset] - part.cum_km[tasks[k].row_begin - part.row_offset];
      w[k]->group().write_column("km", std::vector<double>{km});
      w[k]->commit(tasks[k].row_end - tasks[k].row_begin);
    }
    g.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    groups.push_back(g);
  });
  EXPECT_EQ(res.shards_committed, removed.size());
  EXPECT_EQ(res.shards_reused, n - removed.size());
  EXPECT_EQ(res.record["group_rows"], o.group_rows);
  uint64_t groups_run = 0;
  for (const RankStats& r : res.ranks) groups_run += r.groups_run;
  uint64_t mine = groups.size();
  EXPECT_EQ(groups_run, s.comm().sum(mine));
  const uint32_t rb = plan.rank_begin[s.comm().rank()], re = plan.rank_begin[s.comm().rank() + 1];
  std::set<uint32_t> seen;
  bool multi = false;
  for (const Group& g : groups) {
    uint64_t rows = 0;
    for (size_t k = 0; k < g.tasks.size(); ++k) {
      const uint32_t i = g.tasks[k];
      EXPECT_TRUE(removed.count(i)) << "task " << i << " was committed and ran again";
      EXPECT_TRUE(i >= rb && i < re) << "task " << i << " is another rank's";
      if (k) { EXPECT_EQ(i, g.tasks[k - 1] + 1) << "a group's tasks are consecutive"; }
      EXPECT_TRUE(seen.insert(i).second) << "task " << i << " ran twice";
      rows += plan.tasks[i].row_end - plan.tasks[i].row_begin;
    }
    if (g.tasks.size() > 1) { EXPECT_LE(rows, o.group_rows); }
    // Maximal: the next task (same rank, uncommitted) would not have fitted.
    const uint32_t next = g.tasks.back() + 1;
    if (next < re && removed.count(next)) {
      EXPECT_GT(rows + plan.tasks[next].row_end - plan.tasks[next].row_begin, o.group_rows) << "group could take task " << next;
    }
    if (g.tasks.size() > 1) {
      multi = true;
      double sum = 0;
      for (uint32_t i : g.tasks) {
        h5::File f(shard_path(s.run_dir(), plan.tasks[i]), h5::File::Mode::kRead);
        const double sec = f.root().open_group("shard").attr_double("seconds");
        EXPECT_GE(sec, 0);
        sum += sec;
      }
      // Shared, not whole: the group's shards together took the group's time (each alone would
      // take all of it, >= 2 x with two or more tasks).
      EXPECT_LT(sum, g.seconds + 0.1) << "group of " << g.tasks.size() << " tasks";
      EXPECT_GT(sum, 0.5 * g.seconds);
    }
  }
  EXPECT_TRUE(s.comm().max(uint64_t{multi}) == 1) << "no rank ran a group of two or more tasks";
  for (uint32_t i = rb; i < re; ++i) EXPECT_EQ(seen.count(i), removed.count(i)) << "task " << i;
  eng.gather(plan, s.run_dir(), [&](const Task& t, h5::Group& g) {
    EXPECT_NEAR(g.read_column<double>("km").at(0), km_alone[t.index], 1e-9 * (1 + km_alone[t.index])) << "task " << t.index;
  });

  // A failure in a group: the shards committed before it stay; the error names the first task
  // it did not commit and the group; the rerun (other group size) reuses what was committed.
  if (s.comm().root())
    for (uint32_t i : removed) fs::remove(shard_path(s.run_dir(), plan.tasks[i]));
  s.comm().barrier();
  std::set<uint32_t> committed_before_failure;
  try {
    eng.run_groups(plan, o, [&](std::span<const Task> tasks, std::span<ShardWriter* const> w) {
      for (size_t k = 0; k < tasks.size(); ++k) {
        if (k == 1) throw std::runtime_error("boom in the group");
        w[k]->group().write_column("km", std::vector<double>{km_alone[tasks[k].index]});
        w[k]->commit(1);
        if (tasks.size() > 1) committed_before_failure.insert(tasks[k].index);
      }
    });
    if (s.comm().max(uint64_t{multi}) == 1) ADD_FAILURE() << "no exception on rank " << s.comm().rank();
  } catch (const RunFailed& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("boom in the group"), std::string::npos) << what;
    EXPECT_NE(what.find("in a group of"), std::string::npos) << what;
  }
  for (uint32_t i : committed_before_failure) {
    EXPECT_EQ(shard_state(shard_path(s.run_dir(), plan.tasks[i]), res.plan_id, &plan.tasks[i]), ShardState::kCommitted)
        << "task " << i;
  }
  o.group_rows = 0;
  std::vector<int> runs = s.zeros();
  const RunResult again = eng.run(plan, o, s.job(&runs));
  EXPECT_EQ(again.shards_committed + again.shards_reused, n);
  const auto total = s.total(runs);
  for (uint32_t i : committed_before_failure) EXPECT_EQ(total[i], 0) << "task " << i << " ran again";
}

TEST(Engine, SigusrStopsGracefullyAndRerunCompletes) {
  SharedRun s(15);
  const Plan& plan = s.plan();
  ASSERT_GE(plan.rank_begin[1] - plan.rank_begin[0], 2u) << "rank 0 needs two tasks";
  Engine eng(s.comm());
  std::vector<int> runs = s.zeros();
  bool raised = false;
  const RunResult first = eng.run(plan, s.options(), s.job(&runs, [&](const Task&) {
    // Rank 0 is signalled while it runs its first task: it finishes and commits it, then stops.
    if (s.comm().root() && !raised) {
      raised = true;
      std::raise(SIGUSR1);
    }
  }));
  EXPECT_TRUE(first.interrupted);
  EXPECT_EQ(first.record["status"], "interrupted");
  EXPECT_FALSE(stop_requested()) << "run() consumes the stop request it reports";
  EXPECT_LT(first.shards_committed, plan.tasks.size());
  EXPECT_EQ(first.ranks[0].tasks_run, 1u);
  if (s.comm().root()) { EXPECT_EQ(s.count_files("task-"), first.shards_committed); }
  const RunResult second = eng.run(plan, s.options(), s.job(&runs));
  EXPECT_FALSE(second.interrupted);
  EXPECT_EQ(second.shards_reused, first.shards_committed);
  EXPECT_EQ(second.shards_committed, plan.tasks.size() - first.shards_committed);
  for (int n : s.total(runs)) EXPECT_EQ(n, 1);
}

TEST(Engine, StopRequestedBeforeTheRunRunsNothing) {
  SharedRun s(16);
  Engine eng(s.comm());
  request_stop();
  const RunResult res = eng.run(s.plan(), s.options(), s.job(nullptr));
  EXPECT_TRUE(res.interrupted);
  EXPECT_EQ(res.shards_committed, 0u);
}

TEST(Engine, ProgressLinesOnRankZero) {
  SharedRun s(17);
  Engine eng(s.comm());
  RunOptions o = s.options();
  o.progress_interval_seconds = 0.02;
  std::vector<std::string> lines;
  o.progress_sink = [&](const std::string& l) { lines.push_back(l); };
  eng.run(s.plan(), o, s.job(nullptr, [](const Task&) { std::this_thread::sleep_for(std::chrono::milliseconds(15)); }));
  if (s.comm().root()) {
    ASSERT_GE(lines.size(), 2u);
    EXPECT_NE(lines.front().find("tasks"), std::string::npos) << lines.front();
    EXPECT_NE(lines.front().find("road-km/s"), std::string::npos) << lines.front();
    EXPECT_NE(lines.back().find("done: " + std::to_string(s.plan().tasks.size())), std::string::npos) << lines.back();
  } else {
    EXPECT_TRUE(lines.empty());
  }
}

}  // namespace
}  // namespace geoshard::engine

GEOSHARD_MPI_TEST_MAIN()
