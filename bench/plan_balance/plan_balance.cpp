// Plan balance benchmark: max/mean planned load of geoshard's plan for R = 2, 4, ..., 1024 on a
// road table, side by side (same tasks, same weights, same run) with
//   - Zoltan's HSFC (Hilbert space-filling curve partitioner, Debian libtrilinos-zoltan-dev) on
//     the tasks' weights and cell-centre coordinates, when built with Zoltan;
//   - a plain quantile cut of the same task sequence (cut where the prefix passes k*total/R),
//     the usual hand-written approach, to show what the exact partition adds.
// Prints a Markdown table (docs/benchmarks.md, "plan balance").
//
//   plan_balance --roads roads.h5 [--max-ranks 1024] [--partition-precision 5]
//                [--max-task-fraction 0.05] [--zoltan-tol 1.0] [--json out.json]
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <numeric>

#include "io/hdf5.h"
#include "kernels/geohash.h"
#include "mpi/comm.h"
#include "mpi/engine.h"

#ifdef GEOSHARD_HAVE_ZOLTAN
#include <zoltan.h>
#endif

namespace {
using geoshard::engine::Plan;
using geoshard::engine::Task;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double max_over_mean(const std::vector<double>& loads) {
  const double total = std::accumulate(loads.begin(), loads.end(), 0.0);
  const double mean = total / static_cast<double>(loads.size());
  return mean > 0 ? *std::max_element(loads.begin(), loads.end()) / mean : 1.0;
}

// Cut the task sequence where the running sum first reaches k * total / R.
double quantile_cut_imbalance(const std::vector<Task>& tasks, int ranks) {
  double total = 0;
  for (const Task& t : tasks) total += t.weight;
  std::vector<double> loads(static_cast<size_t>(ranks), 0.0);
  double prefix = 0;
  for (const Task& t : tasks) {
    const int r = std::min(ranks - 1, static_cast<int>(prefix / total * ranks));
    loads[static_cast<size_t>(r)] += t.weight;
    prefix += t.weight;
  }
  return max_over_mean(loads);
}

#ifdef GEOSHARD_HAVE_ZOLTAN
struct ZoltanInput {
  std::vector<float> weight;
  std::vector<double> xy;
};

int z_num_obj(void* d, int* ierr) {
  *ierr = ZOLTAN_OK;
  return static_cast<int>(static_cast<ZoltanInput*>(d)->weight.size());
}
void z_obj_list(void* d, int, int, ZOLTAN_ID_PTR gids, ZOLTAN_ID_PTR lids, int wdim, float* w, int* ierr) {
  const auto* in = static_cast<ZoltanInput*>(d);
  for (size_t i = 0; i < in->weight.size(); ++i) {
    gids[i] = static_cast<ZOLTAN_ID_TYPE>(i);
    lids[i] = static_cast<ZOLTAN_ID_TYPE>(i);
    if (wdim == 1) w[i] = in->weight[i];
  }
  *ierr = ZOLTAN_OK;
}
int z_num_geom(void*, int* ierr) {
  *ierr = ZOLTAN_OK;
  return 2;
}
void z_geom_multi(void* d, int, int, int n, ZOLTAN_ID_PTR, ZOLTAN_ID_PTR lids, int dim, double* g, int* ierr) {
  const auto* in = static_cast<ZoltanInput*>(d);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < dim; ++k) g[i * dim + k] = in->xy[2 * lids[i] + static_cast<size_t>(k)];
  *ierr = ZOLTAN_OK;
}

// Zoltan HSFC on the tasks (weights and cell centres) into `ranks` parts; returns max/mean.
double zoltan_hsfc_imbalance(const std::vector<Task>& tasks, int ranks, double tol, double* seconds) {
  ZoltanInput in;
  for (const Task& t : tasks) {
    in.weight.push_back(static_cast<float>(t.weight));
    const auto b = geoshard::geohash::Cell::from_key(t.key_lo, t.precision).bounds();
    in.xy.push_back((b.west + b.east) / 2);
    in.xy.push_back((b.south + b.north) / 2);
  }
  const auto t0 = std::chrono::steady_clock::now();
  Zoltan_Struct* zz = Zoltan_Create(MPI_COMM_SELF);
  Zoltan_Set_Param(zz, "DEBUG_LEVEL", "0");
  Zoltan_Set_Param(zz, "LB_METHOD", "HSFC");
  Zoltan_Set_Param(zz, "NUM_GID_ENTRIES", "1");
  Zoltan_Set_Param(zz, "NUM_LID_ENTRIES", "1");
  Zoltan_Set_Param(zz, "OBJ_WEIGHT_DIM", "1");
  Zoltan_Set_Param(zz, "RETURN_LISTS", "PARTS");
  Zoltan_Set_Param(zz, "NUM_GLOBAL_PARTS", std::to_string(ranks).c_str());
  Zoltan_Set_Param(zz, "IMBALANCE_TOL", std::to_string(tol).c_str());
  Zoltan_Set_Param(zz, "KEEP_CUTS", "0");
  Zoltan_Set_Num_Obj_Fn(zz, z_num_obj, &in);
  Zoltan_Set_Obj_List_Fn(zz, z_obj_list, &in);
  Zoltan_Set_Num_Geom_Fn(zz, z_num_geom, &in);
  Zoltan_Set_Geom_Multi_Fn(zz, z_geom_multi, &in);
  int changes = 0, ngid = 0, nlid = 0, nimp = 0, nexp = 0;
  ZOLTAN_ID_PTR igid = nullptr, ilid = nullptr, egid = nullptr, elid = nullptr;
  int *iproc = nullptr, *ipart = nullptr, *eproc = nullptr, *epart = nullptr;
  const int rc = Zoltan_LB_Partition(zz, &changes, &ngid, &nlid, &nimp, &igid, &ilid, &iproc, &ipart, &nexp, &egid,
                                     &elid, &eproc, &epart);
  *seconds = seconds_since(t0);
  if (rc != ZOLTAN_OK) {
    std::fprintf(stderr, "Zoltan_LB_Partition failed (%d)\n", rc);
    Zoltan_Destroy(&zz);
    return -1;
  }
  std::vector<double> loads(static_cast<size_t>(ranks), 0.0);
  std::vector<int> part(tasks.size(), 0);
  for (int i = 0; i < nexp; ++i) part[elid[i]] = epart[i];
  for (size_t i = 0; i < tasks.size(); ++i) loads[static_cast<size_t>(part[i])] += tasks[i].weight;
  Zoltan_LB_Free_Part(&igid, &ilid, &iproc, &ipart);
  Zoltan_LB_Free_Part(&egid, &elid, &eproc, &epart);
  Zoltan_Destroy(&zz);
  return max_over_mean(loads);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  geoshard::mpi::Environment env(&argc, &argv);
  CLI::App app{"plan balance: geoshard's plan against Zoltan HSFC on the same tasks"};
  std::string roads, json_out;
  int min_ranks = 2, max_ranks = 1024;
  geoshard::engine::PlanOptions opt;
  double zoltan_tol = 1.0;
  app.add_option("--roads", roads, "road table (roads.h5)")->required();
  app.add_option("--min-ranks", min_ranks);
  app.add_option("--max-ranks", max_ranks);
  app.add_option("--partition-precision", opt.partition_precision);
  app.add_option("--max-precision", opt.max_precision);
  app.add_option("--max-task-fraction", opt.max_task_fraction);
  app.add_option("--target-imbalance", opt.target_imbalance);
  app.add_option("--zoltan-tol", zoltan_tol, "Zoltan IMBALANCE_TOL (1.0 = as balanced as it can)");
  app.add_option("--json", json_out, "also write the figures as JSON");
  CLI11_PARSE(app, argc, argv);

#ifdef GEOSHARD_HAVE_ZOLTAN
  float zver = 0;
  Zoltan_Initialize(argc, argv, &zver);
#endif

  auto t0 = std::chrono::steady_clock::now();
  std::vector<uint64_t> zkey;
  std::vector<double> cum;
  {
    geoshard::h5::File f(roads, geoshard::h5::File::Mode::kRead);
    const auto g = f.root().open_group("roads");
    zkey = g.read_column<uint64_t>("zkey");
    cum = g.read_column<double>("cum_km");
  }
  const double read_s = seconds_since(t0);
  std::printf("roads: %s, %zu rows, %.0f road-km; columns zkey+cum_km read in %.2f s\n", roads.c_str(), zkey.size(),
              cum.back(), read_s);
  std::printf("options: partition_precision %d, max_precision %d, max_task_fraction %g, max_task_rows %llu, "
              "target_imbalance %g\n\n",
              opt.partition_precision, opt.max_precision, opt.max_task_fraction,
              static_cast<unsigned long long>(opt.max_task_rows), opt.target_imbalance);
  std::printf("| ranks | tasks | geoshard max/mean | without refinement (tasks, max/mean) | bound 1+max_task/mean | plan s | quantile cut max/mean |%s\n",
#ifdef GEOSHARD_HAVE_ZOLTAN
              " Zoltan HSFC max/mean | Zoltan s |"
#else
              ""
#endif
  );
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |%s\n",
#ifdef GEOSHARD_HAVE_ZOLTAN
              " ---: | ---: |"
#else
              ""
#endif
  );
  nlohmann::json rows = nlohmann::json::array();
  for (int r = min_ranks; r <= max_ranks; r *= 2) {
    // What the engine uses: tasks, exact cut, boundary refinement.
    t0 = std::chrono::steady_clock::now();
    const Plan plan = geoshard::engine::plan_for_table(zkey, cum, r, opt);
    const double plan_s = seconds_since(t0);
    // The same without refinement, for reference.
    const Plan plain = geoshard::engine::make_plan(geoshard::engine::make_tasks(zkey, cum, r, opt), r);
    const std::vector<Task>& tasks = plan.tasks;
    const double bound = 1 + plan.max_task_weight() / plan.mean_load();
    const double quantile = quantile_cut_imbalance(tasks, r);
    nlohmann::json row = {{"ranks", r},
                          {"tasks", tasks.size()},
                          {"imbalance", plan.imbalance()},
                          {"unrefined_tasks", plain.tasks.size()},
                          {"unrefined_imbalance", plain.imbalance()},
                          {"bound", bound},
                          {"plan_s", plan_s},
                          {"quantile_imbalance", quantile}};
    std::printf("| %d | %zu | %.4f | %zu, %.4f | %.4f | %.3f | %.4f |", r, tasks.size(), plan.imbalance(),
                plain.tasks.size(), plain.imbalance(), bound, plan_s, quantile);
#ifdef GEOSHARD_HAVE_ZOLTAN
    double zs = 0;
    const double zi = zoltan_hsfc_imbalance(tasks, r, zoltan_tol, &zs);
    row["zoltan_hsfc_imbalance"] = zi;
    row["zoltan_s"] = zs;
    std::printf(" %.4f | %.3f |", zi, zs);
#endif
    std::printf("\n");
    std::fflush(stdout);
    rows.push_back(row);
  }
  if (!json_out.empty()) {
    std::ofstream o(json_out);
    o << nlohmann::json{{"roads", roads},
                        {"rows", zkey.size()},
                        {"road_km", cum.back()},
                        {"options",
                         {{"partition_precision", opt.partition_precision},
                          {"max_precision", opt.max_precision},
                          {"max_task_fraction", opt.max_task_fraction}}},
                        {"zoltan_tol", zoltan_tol},
                        {"results", rows}}
             .dump(2)
      << "\n";
  }
  return 0;
}
