// Engine overhead per task: runs the engine over the plan of a road table with a task that
// only reads its rows' road-km (one hyperslab of cum_km) and commits a one-value shard, then
// runs it again (every shard verified and reused), then gathers. What is left is the cost of
// the engine itself: shard create, attributes, close, fsync, rename; the reuse check; gather.
//   mpirun -np R engine_overhead --roads roads.h5 --run DIR [--max-task-fraction F]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "io/hdf5.h"
#include "mpi/engine.h"

using namespace geoshard;

int main(int argc, char** argv) {
  mpi::Environment env(&argc, &argv);
  CLI::App app{"engine overhead per task"};
  std::string roads, run;
  engine::PlanOptions po;
  bool progress = false;
  app.add_option("--roads", roads)->required();
  app.add_option("--run", run)->required();
  app.add_option("--partition-precision", po.partition_precision);
  app.add_option("--max-task-fraction", po.max_task_fraction);
  app.add_flag("--progress", progress);
  CLI11_PARSE(app, argc, argv);
  mpi::Comm comm;
  const auto t0 = std::chrono::steady_clock::now();
  const engine::Plan plan = engine::plan_for_roads(roads, comm.size(), po);
  const double plan_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  engine::RunOptions ro;
  ro.run_dir = run;
  ro.job = "overhead";
  ro.inputs = engine::file_fingerprint(roads);
  ro.progress = progress;
  engine::Engine eng(comm);
  // One open file per rank; a task reads two values of cum_km.
  h5::File f(roads, h5::File::Mode::kRead);
  const h5::Column cum = f.root().open_group("roads").column("cum_km");
  const auto task = [&](const engine::Task& t, engine::ShardWriter& w) {
    const auto c = cum.read<double>(t.row_begin, 1);
    const auto d = cum.read<double>(t.row_end, 1);
    w.group().write_column("km", std::vector<double>{d[0] - c[0]});
    w.commit(t.row_end - t.row_begin);
  };
  const engine::RunResult first = eng.run(plan, ro, task);
  const engine::RunResult second = eng.run(plan, ro, task);
  const auto g0 = std::chrono::steady_clock::now();
  double km = 0;
  eng.gather(plan, run, [&](const engine::Task&, h5::Group& g) { km += g.read_column<double>("km")[0]; });
  const double gather_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count();
  if (comm.root()) {
    const double n = static_cast<double>(plan.tasks.size());
    std::printf("ranks %d, tasks %zu, plan %.3f s\n", comm.size(), plan.tasks.size(), plan_s);
    std::printf("run (all tasks committed): %.2f s wall, %.2f ms per task per rank, measured imbalance %s\n",
                first.wall_seconds, 1e3 * first.wall_seconds * comm.size() / n,
                first.record["measured_imbalance"].dump().c_str());
    double busy = 0;
    for (const auto& r : first.ranks) busy += r.busy_seconds;
    std::printf("  of which in tasks (busy, incl. shard commit): %.2f ms per task\n", 1e3 * busy / n);
    std::printf("rerun (all %llu shards verified and reused): %.2f s wall, %.3f ms per shard per rank\n",
                static_cast<unsigned long long>(second.shards_reused), second.wall_seconds,
                1e3 * second.wall_seconds * comm.size() / n);
    std::printf("gather (rank 0 opens every shard): %.2f s, %.3f ms per shard; total %.1f road-km\n", gather_s,
                1e3 * gather_s / n, km);
  }
  return 0;
}
