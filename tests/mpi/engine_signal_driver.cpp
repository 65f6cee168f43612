// Driver for engine_signal_test.sh: runs a slow toy job on the engine under mpirun and exits
// 0 when the run completed, 4 when it was interrupted by SIGTERM/SIGUSR1, 1 on error. Prints
// "committed N reused M" on rank 0.
//   engine_signal_driver DIR      (DIR/roads.h5 is made by rank 0 when missing)
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "io/road_table.h"
#include "mpi/engine.h"
#include "tests/testing/random_roads.h"

using namespace geoshard;

int main(int argc, char** argv) {
  mpi::Environment env(&argc, &argv);
  if (argc != 2) return 2;
  const std::string dir = argv[1], roads = dir + "/roads.h5";
  mpi::Comm comm;
  try {
    if (comm.root() && !std::filesystem::exists(roads)) {
      std::filesystem::create_directories(dir);
      write_road_table(testing::random_road_table(2000, 5), roads, "signal test");
    }
    comm.barrier();
    engine::PlanOptions po;
    po.partition_precision = 3;
    po.max_task_fraction = 0.5;
    const engine::Plan plan = engine::plan_for_roads(roads, comm.size(), po);
    engine::RunOptions ro;
    ro.run_dir = dir + "/run";
    ro.job = "signal-test";
    ro.inputs = engine::file_fingerprint(roads);
    ro.progress = false;
    engine::Engine eng(comm);
    const engine::RunResult res = eng.run(plan, ro, [&](const engine::Task& t, engine::ShardWriter& w) {
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      const RoadTable part = read_road_table(roads, t.row_begin, t.row_end);
      w.group().write_column("km", std::vector<double>{part.road_km()});
      w.commit(part.rows());
    });
    if (comm.root())
      std::printf("tasks %zu committed %llu reused %llu%s\n", plan.tasks.size(),
                  static_cast<unsigned long long>(res.shards_committed),
                  static_cast<unsigned long long>(res.shards_reused), res.interrupted ? " interrupted" : "");
    return res.interrupted ? 4 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rank %d: %s\n", comm.rank(), e.what());
    return 1;
  }
}
