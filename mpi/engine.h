// The engine: plans tasks over a curve-sorted table, runs them on MPI ranks, commits one shard
// per task, resumes, reports progress, and records what every rank did (DESIGN.md, "Data flow"
// and "Engine behaviour users rely on"). Jobs hand it tasks and a per-task function; they never
// call MPI themselves.
//
// Tasks. The rows of a table are sorted by the Z-order key of their first vertex (roads.h5), so
// a grid cell is a contiguous row range. A task is a cell of the partition precision (or a finer
// cell where a cell is hot) with its row range and its weight (road-km by default; megapixels
// for images; or the cost measured per task in an earlier run). Hot cells are split into their
// children, recursively, until no task weighs more than max_task_fraction of a rank's share
// (or the finest precision is reached: a single cell's rows are never split).
//
// Plan. Tasks stay in curve order; the plan cuts them into R contiguous runs (one per rank)
// minimising the largest run's weight (exact bottleneck partition). imbalance = max / mean.
// Among the optimal cuts, each rank's run is chosen as close to an even share of what is left
// as the optimum allows, so no rank is idle needlessly.
//
// Shards. A task's output is RUN/shards/task-<key_lo as 16 hex digits>-p<precision>.h5, written
// to a temporary name, verified, closed, renamed: complete or absent. RUN/plan.json records the
// inputs (paths, sizes, modification times), the options and the task list; a rerun into the
// same RUN with the same plan reuses every committed shard; a different plan is an error.
// A shard counts as committed when it opens as HDF5 and its group /shard has complete=1 and the
// run's plan_id; anything else (missing, .tmp leftovers, truncated, other plan) is recomputed.
//
// Failures and stops. A task that throws never hangs the other ranks: the failing rank tells
// the others with a non-blocking message (they stop taking new tasks unless
// RunOptions::fail_fast is false), every rank meets the others in one final reduction, and then
// every rank throws RunFailed naming the failed shard. SIGTERM/SIGUSR1 during run() set a flag:
// the rank finishes and commits the task in hand, takes no new ones, tells the others, and
// run() returns with RunResult::interrupted on every rank (the CLI exits with code 4 so that
// Slurm requeues; the rerun reuses what was committed).
//
// Progress. Rank 0 runs a small thread that counts committed shard files in RUN/shards every
// ~2 s (the durable state, on the shared file system; no MPI, so it keeps reporting while rank 0
// itself is deep in a long task) and prints tasks done/total, weight/s and ETA on stderr.
//
// Example:
//   engine::Engine eng{mpi::Comm()};
//   const engine::Plan plan = engine::plan_for_roads("roads.h5", eng.comm().size(), {});
//   engine::RunOptions ro{.run_dir = "run", .job = "sum", .inputs = engine::file_fingerprint("roads.h5")};
//   engine::RunResult res = eng.run(plan, ro, [](const engine::Task& t, engine::ShardWriter& w) {
//     const RoadTable roads = read_road_table("roads.h5", t.row_begin, t.row_end);
//     w.group().write_column("km", std::vector<double>{roads.road_km()});
//     w.commit(roads.rows());
//   });
//   if (res.interrupted) return 4;
//   eng.gather(plan, "run", [](const engine::Task& t, h5::Group& g) { ... });
//
// Task groups. run_groups hands the job a rank's next consecutive uncommitted tasks at once (up
// to RunOptions::group_rows rows), one ShardWriter each: jobs whose batches should be large (a
// GPU launch per batch) compute the group in one go and split the results per task, so shards,
// resume and gather are exactly as with one task per call.
//
// Thread-safety: one Engine per process, used from the main thread. The task function runs on
// the main thread; RunOptions::progress_sink is called from the progress thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/hdf5.h"
#include "mpi/comm.h"

namespace geoshard::engine {

// What a std::bad_alloc is reported as (a task's failure, the command's error): what happened
// and what to do, rather than "std::bad_alloc".
inline constexpr const char* kOutOfMemory =
    "out of memory (std::bad_alloc): this process could not allocate what the job needs. Give it "
    "more memory (Slurm --mem-per-cpu or --mem; check `ulimit -v`); for cover, localise, links and "
    "blur, more ranks also make each rank hold a smaller part of the input";

struct Task {
  uint32_t index = 0;        // position in curve order
  uint64_t key_lo = 0, key_hi = 0;  // the task's cell as a closed key interval
  int precision = 0;         // the cell's precision
  uint64_t row_begin = 0, row_end = 0;  // rows [row_begin, row_end) of the sorted table
  double weight = 0;         // road-km (or megapixels, or measured cost)
  std::string shard_name() const;  // "task-<16 hex>-p<precision>.h5"
  std::string cell() const;        // the geohash of the task's cell ("" for the world cell)
};

struct PlanOptions {
  // Geohash precision of the base tasks. Coarse by default: splitting adapts the cells to the
  // density, so a coarse start gives the fewest tasks that meet the limits below (every task
  // costs a shard file and ~1-5 ms of engine time; docs/benchmarks.md, "plan balance").
  int partition_precision = 2;
  int max_precision = 12;          // never split finer than this
  // Split cells heavier than this fraction of total/ranks. The optimal plan's imbalance is at
  // most 1 + (heaviest task)/mean, so this bounds the imbalance by 1 + max_task_fraction
  // (unless a single finest cell is heavier); smaller values mean more, smaller shards.
  double max_task_fraction = 0.05;
  // Also split cells holding more rows than this (a task's rows are in memory at once);
  // 0 = no limit.
  uint64_t max_task_rows = 500000;
  // plan_for_table/plan_for_roads: while the plan's imbalance is above target_imbalance, split
  // the first and last task of every rank above it into their children and plan again (at most
  // refine_rounds times). Adds a few tasks where the cuts are; 0 rounds = off.
  double target_imbalance = 1.002;
  int refine_rounds = 8;
  // plan_for_roads: weigh rows by the cost measured in an earlier run of the same table (that
  // run folder) instead of road-km -- see measured_cum_weight. "" = road-km.
  std::string cost_from;
};

// Tasks for a table whose rows have keys `zkey` (non-decreasing) and cumulative weight
// `cum_weight` (rows+1 entries, cum_weight[0] = 0). Only cells holding rows become tasks.
// Throws std::invalid_argument on bad options, unsorted keys or a decreasing cum_weight.
//
// Invariants of the result: tasks are in key order, their row ranges partition [0, rows)
// without gaps, the rows of a task are exactly the rows whose key lies in [key_lo, key_hi],
// and no task weighs more than max_task_fraction * total / ranks or holds more than
// max_task_rows rows unless it is a cell at max_precision.
std::vector<Task> make_tasks(const std::vector<uint64_t>& zkey, const std::vector<double>& cum_weight,
                             int ranks, const PlanOptions& opt);

struct Plan {
  std::vector<Task> tasks;
  std::vector<uint32_t> rank_begin;  // ranks+1: rank r runs tasks [rank_begin[r], rank_begin[r+1])
  std::vector<double> rank_load;     // planned weight per rank
  PlanOptions options;               // what made the tasks (recorded in plan.json)
  double max_load() const;
  double mean_load() const;
  double imbalance() const;          // max / mean (1 when all ranks are idle)
  int ranks() const { return rank_begin.empty() ? 0 : static_cast<int>(rank_begin.size()) - 1; }
  double total_weight() const;
  double max_task_weight() const;
};

// Contiguous partition of `tasks` (in order) into `ranks` runs minimising the maximum load.
// Exact: the bottleneck is searched among loads of actual runs (a bisection that snaps to
// achievable values, each probe a greedy pass with galloping search over prefix sums), so it is
// O(R log(T/R)) per probe; 100,000 ranks over 1e6 tasks plan in well under a second.
// Ranks get zero tasks when R > T. Throws std::invalid_argument when ranks < 1 or a weight is
// negative or not finite. Re-indexes the tasks 0..T-1.
Plan make_plan(std::vector<Task> tasks, int ranks);

// make_tasks + make_plan + boundary refinement (PlanOptions::target_imbalance), with the
// options recorded in the plan. The tasks keep every make_tasks invariant except that cells at
// rank boundaries may be finer than the limits need.
Plan plan_for_table(const std::vector<uint64_t>& zkey, const std::vector<double>& cum_weight, int ranks,
                    const PlanOptions& opt);

// The plan for a road table file: reads only its zkey and cum_km columns.
Plan plan_for_roads(const std::string& roads_h5, int ranks, const PlanOptions& opt);

// Cumulative per-row weights (rows+1 entries) from the cost an earlier run measured: every task
// of the run in `run_dir` recorded the seconds it took (shard attribute `seconds`); each task's
// seconds are spread over its rows in proportion to their road-km (`cum_km` of the same table;
// evenly when the task has no length). Tasks cost what their borders, not their kilometres, make
// them cost; weighing by measured cost balances the next run by time. Throws naming the run when
// its plan does not cover exactly the table's rows or a shard is not committed.
std::vector<double> measured_cum_weight(const std::string& run_dir, const std::vector<double>& cum_km);

// `geoshard plan`: the plan's summary and per-rank loads as JSON, and as a text table of at
// most max_rows ranks (all ranks when they fit, else the heaviest and the lightest).
nlohmann::json plan_report(const Plan& plan);
std::string plan_table(const Plan& plan, size_t max_rows, const std::string& unit = "road-km");

// What one rank did, gathered into the run record.
struct RankStats {
  double busy_seconds = 0, idle_seconds = 0;  // per phase, see Engine::run
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t tasks_run = 0, tasks_reused = 0;
  uint64_t groups_run = 0;  // calls of the group function (run: one per task run)
  double weight_done = 0;
  uint64_t peak_rss_bytes = 0;  // the rank's peak resident set (getrusage) at the end of run()
};

// Handed to a job's per-task function: the task, a writer for its shard, and counters.
// The engine creates it (and sets the task attributes on /shard); the job writes columns into
// group() and calls commit(). A writer destroyed without commit removes its temporary file.
class ShardWriter {
 public:
  // With `sync`, commit() fsyncs the file before the rename, so a node crash cannot leave a
  // committed name with lost data (costs ~0.2-3 ms per shard on a local disk).
  ShardWriter(const std::string& final_path, const std::string& tmp_path, bool sync = true);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;
  h5::Group& group();  // the shard's root group "/shard" for the job's columns
  void add_bytes_read(uint64_t n) { bytes_read_ += n; }
  // The shard's `seconds` attribute becomes share x (the time from `start` to its commit): the
  // engine's way of giving each task of a group (RunOptions::group_rows) its part of the
  // group's time. Default: the time since the writer was made, whole.
  void time_as_share(double start, double share) {
    start_ = start;
    share_ = share;
  }
  // Marks complete (attributes rows, seconds (see time_as_share), checksum of the data,
  // complete=1), closes, renames; throws on any failure (the temporary is then removed, the
  // final name untouched).
  void commit(uint64_t rows);
  bool committed() const { return committed_; }
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t bytes_written() const { return bytes_written_; }
  const std::string& path() const { return final_; }

 private:
  std::string final_, tmp_;
  std::unique_ptr<h5::File> file_;
  std::unique_ptr<h5::Group> group_;
  uint64_t bytes_read_ = 0, bytes_written_ = 0;
  bool committed_ = false, sync_ = true;
  double start_ = 0, share_ = 1;
};

using TaskFunction = std::function<void(const Task&, ShardWriter&)>;
// A group of consecutive tasks of one rank (their rows are contiguous: [tasks.front().row_begin,
// tasks.back().row_end)) with one writer per task, writers[k] for tasks[k]. The job commits each
// writer (the engine commits with 0 rows any it left open). For jobs whose batches gain from
// being large (a GPU launch per batch): they read and compute the group at once and split the
// results per task, so each shard holds exactly what its task alone would have.
using GroupFunction = std::function<void(std::span<const Task> tasks, std::span<ShardWriter* const> writers)>;

struct RunOptions {
  std::string run_dir;           // created if missing
  std::string job;               // e.g. "localise"
  nlohmann::json inputs;         // what the plan depends on besides the tasks (paths, options)
  bool progress = true;          // rank 0 prints progress on stderr
  std::string weight_unit = "road-km";
  double progress_interval_seconds = 2.0;
  // When false, a task failure does not stop the other ranks: they finish their tasks (more
  // committed shards for the rerun) before every rank throws.
  bool fail_fast = true;
  bool sync_shards = true;        // fsync each shard before its rename (see ShardWriter)
  // Receives each progress line instead of stderr (rank 0, from the progress thread).
  std::function<void(const std::string&)> progress_sink;
  // run_groups: a group takes a rank's next uncommitted tasks, in order, while their rows total
  // at most this many (a single task may hold more); a committed shard ends a group. 0 = one
  // task per group. Not part of the plan id: shards do not depend on it, so a run can resume
  // with another value. Each shard's `seconds` is the group's time shared by task weight
  // (evenly when the weights are 0), so a later --cost-from sees the group's mean cost.
  uint64_t group_rows = 0;
};

struct RunResult {
  uint64_t shards_total = 0, shards_committed = 0, shards_reused = 0;
  double wall_seconds = 0;
  bool interrupted = false;      // a stop signal reached a rank; not every task ran
  std::string plan_id;
  std::vector<RankStats> ranks;  // per rank, on every rank
  nlohmann::json record;  // engine part of the run record (rank 0): per-rank stats, imbalance...
};

// Thrown by Engine::run on every rank when a task failed on any rank. result() holds what was
// done (committed shards stay; a rerun reuses them).
class RunFailed : public std::runtime_error {
 public:
  RunFailed(const std::string& what, RunResult result)
      : std::runtime_error(what), result_(std::move(result)) {}
  const RunResult& result() const { return result_; }

 private:
  RunResult result_;
};

// The plan id: a 128-bit hash (32 hex digits) of the job name, the inputs JSON, the plan
// options and the task list (cells, row ranges, weights). The rank cuts are not part of it: a
// shard's content depends on its task only.
std::string plan_id(const Plan& plan, const RunOptions& opt);

// {"path": absolute path, "size": bytes, "mtime_ns": modification time} of an input file, for
// RunOptions::inputs. Throws when the file is missing.
nlohmann::json file_fingerprint(const std::string& path);

enum class ShardState { kCommitted, kMissing, kCorrupt, kIncomplete, kOtherPlan, kWrongTask, kBadChecksum };
const char* to_string(ShardState s);
// State of a shard file against a plan id (never throws). With `task`, the shard is verified
// before it is called committed: its task attributes (task_index, row_begin, row_end) are the
// task's, it has a row count, and the checksum of its data (h5::Group::content_checksum,
// written at commit) matches the data read back now. The engine reuses and gathers only shards
// that pass; without `task` only the flags are read (complete, plan_id).
ShardState shard_state(const std::string& path, const std::string& plan_id, const Task* task = nullptr);

// The plan a run was made with, read back from RUN/plan.json (tasks, cuts, options): what a
// later gather needs without re-planning from the inputs. Throws naming the file.
Plan read_plan(const std::string& run_dir);

// The inputs a run recorded (RunOptions::inputs, from RUN/plan.json; an empty object when none).
nlohmann::json read_plan_inputs(const std::string& run_dir);

// The plan options a job records in RUN/<job>.json and its run inputs (cost_from absolute).
nlohmann::json plan_options_json(const PlanOptions& o);

// Collective: rank 0 creates RUN and writes `j` to RUN/<name> (atomically: complete or absent);
// every rank returns when it is written, or throws the same error (naming the file) when it
// could not be.
void write_run_json(const mpi::Comm& comm, const std::string& run_dir, const std::string& name, const nlohmann::json& j);

// Path of RUN/shards/<task's shard name>.
std::string shard_path(const std::string& run_dir, const Task& t);

// For readers of a finished run (Engine::gather, and jobs that read another run's shards by
// row range): checks the plan against RUN/plan.json and returns its plan id; throws naming the
// folder when there is no run or it was made with another plan.
std::string gather_plan_id(const Plan& plan, const std::string& run_dir);
// Opens a task's shard for reading after checking it is committed under plan_id; throws naming
// the shard (missing, incomplete, corrupt, other plan) otherwise.
h5::File open_committed_shard(const std::string& run_dir, const Task& t, const std::string& plan_id);

// Graceful stop. run() installs handlers for SIGTERM and SIGUSR1 while it runs (and restores
// the previous ones); a flag set before run() (request_stop, or a handler installed earlier
// with install_stop_handlers) stops it before its first task. run() clears the flag when it
// reports an interruption.
void install_stop_handlers();
bool stop_requested();
void request_stop();
void clear_stop_request();

class Engine {
 public:
  explicit Engine(mpi::Comm comm);
  const mpi::Comm& comm() const { return comm_; }
  // Runs the plan: every rank runs its tasks (skipping committed shards), all ranks return
  // when all are done. Collective. Throws on a task failure (after telling the other ranks).
  // Throws std::runtime_error on every rank when MPI size != SLURM_NTASKS, when the plan has a
  // different rank count, when the ranks computed different plans, or when RUN holds a run of
  // a different plan.
  RunResult run(const Plan& plan, const RunOptions& opt, const TaskFunction& fn);
  // The same with groups of tasks per call (RunOptions::group_rows; see GroupFunction). Stop
  // signals and failures act between groups: a stop lets the group in hand finish and commit;
  // a group that throws fails its uncommitted tasks (the error names the first of them).
  RunResult run_groups(const Plan& plan, const RunOptions& opt, const GroupFunction& fn);

  // Calls fn for every committed shard of the plan, in task order, on rank 0 only (others
  // return at once). Throws naming the shard when one is missing or incomplete.
  // Checks the plan's task list against RUN/plan.json and every shard's plan_id against it.
  void gather(const Plan& plan, const std::string& run_dir,
              const std::function<void(const Task&, h5::Group& shard)>& fn) const;

 private:
  mpi::Comm comm_;
};

}  // namespace geoshard::engine
