// `geoshard cost`: the cost-vs-runtime study of measured configurations (docs/cost.md).
//
// Input: points measured by bench/cost/run.sh (or by hand): one CSV row per configuration —
// machine shape (nodes, ranks per node, threads per rank), grid and partition precision — with
// its wall time and peak memory per rank; and a price table (TOML): machine type -> cores,
// memory, GPUs, price per node-hour. Every point is priced on every machine type that can hold
// its shape (cores >= ranks x threads per node, memory >= ranks x peak RSS x headroom, GPUs):
//   runtime = wall / relative_speed,  cost = nodes x max(runtime, minimum billed) / 3600 x price
// (x the cores held per node when the table bills by the core).
// Output: every option (with why it does not fit), the Pareto front of (runtime, cost), and the
// cheapest option that meets a deadline.
//
// The runtimes are the ones measured; on another machine type they are scaled only by the
// table's relative_speed (default 1: the same per-core speed as where the points were measured).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace geoshard::cost {

struct Machine {
  std::string name;
  int line = 0;                 // in the price table
  int cores = 0;                // per node (vCPUs where the provider counts those)
  double memory_gib = 0;        // per node
  int gpus = 0;                 // per node
  double price_per_hour = 0;    // per node
  double relative_speed = 1.0;  // per-core speed against the machine the points were measured on
};

struct PriceTable {
  std::string path;
  std::string provider, date, url, note;  // [source]; date is required
  double minimum_seconds = 0;             // [billing]: each node is billed at least this per run
  // [billing] unit: "node" (default) bills whole nodes, price_per_hour per node-hour (cloud
  // instances); "core" bills the cores a job holds (ranks x threads per node), price_per_hour
  // per core-hour, as HPC centres charge Slurm jobs. Either way the machine's cores and memory
  // bound what fits on a node.
  bool per_core = false;
  std::vector<Machine> machines;          // in file order
};

// Reads and checks a price table. Throws std::runtime_error naming FILE:LINE and the key on a
// syntax error, an unknown table or key, a value of the wrong type or out of range, a missing
// required key ([source] date; cores, memory_gib, price_per_hour per machine) or no machine.
PriceTable read_price_table(const std::string& path);

// One measured configuration.
struct Point {
  int line = 0;  // in the points file
  std::string job;
  uint64_t segments = 0;
  int nodes = 1, ranks_per_node = 1, threads_per_rank = 1, gpus_per_node = 0;
  int grid_precision = 0, partition_precision = 0;  // 0 = not given
  double wall_seconds = 0;
  double peak_rss_per_rank_bytes = 0;  // 0 = not measured (memory is then not checked)
  std::string git_revision, slurm_job_id, run;
};

// The columns of a points file: the required ones, then the optional ones.
const std::vector<std::string>& point_columns_required();
const std::vector<std::string>& point_columns_optional();

// Reads a points CSV (header line, then one row per point; '#' lines are comments). Columns are
// found by name. Throws std::runtime_error naming FILE:LINE and the column on a missing
// required column, an unknown or repeated column, a row with another number of fields, a value
// that is not a number or out of range, or a file without rows.
std::vector<Point> read_points(const std::string& path);

// One point priced on one machine type.
struct Option {
  size_t point = 0, machine = 0;   // indices into the study's points and machines
  bool fits = false;
  std::string why_not;             // when it does not fit
  double runtime_seconds = 0;      // wall / relative_speed
  double billed_seconds = 0;       // max(runtime, minimum_seconds)
  double node_hours = 0;           // nodes x billed / 3600
  double core_hours = 0;           // node_hours x cores held per node (ranks x threads)
  double cost = 0;                 // node_hours (or core_hours when billed by the core) x price_per_hour
  bool pareto = false;
};

struct Study {
  std::vector<Point> points;
  PriceTable prices;
  double memory_headroom = 1.25;
  std::vector<Option> options;     // point-major: points[0] on every machine, then points[1], ...
};

// Prices every point on every machine type (memory_headroom >= 1 multiplies the measured
// peak memory) and marks the Pareto front. Throws std::invalid_argument on headroom < 1.
Study evaluate(std::vector<Point> points, PriceTable prices, double memory_headroom = 1.25);

// The options that fit and that no other fitting option beats on both runtime and cost (no
// other has runtime <= and cost <= with one of them <), sorted by runtime then cost then index.
std::vector<size_t> pareto_front(const std::vector<Option>& options);

// The cheapest fitting option with runtime <= deadline (ties: shorter runtime, then fewer
// node-hours, then the earlier option); none when no option meets it.
std::optional<size_t> cheapest_within(const std::vector<Option>& options, double deadline_seconds);

// The fitting option with the shortest runtime (ties: cheaper, then earlier); none if none fits.
std::optional<size_t> fastest(const std::vector<Option>& options);

// "90", "90s", "15m", "1.5h", "1h30m", "01:30:00", "30:00" -> seconds. Throws
// std::invalid_argument naming the text when it is not a positive duration.
double parse_duration(const std::string& text);

// "2 nodes x 2 ranks x 1 thread; grid P7; partition P2 on c7i.large" (no commas: plots read the CSV)
std::string describe(const Study& s, const Option& o);

// Writes DIR/options.csv (every option), DIR/pareto.csv (the front, by runtime) and
// DIR/summary.txt (the text of summary()), each written to a temporary name and renamed.
void write_outputs(const Study& s, const std::string& dir, std::optional<double> deadline_seconds);

// What the study shows: counts, the fastest and cheapest options, the front, and the cheapest
// option meeting the deadline (or that none does and the fastest one's runtime).
std::string summary(const Study& s, std::optional<double> deadline_seconds);

}  // namespace geoshard::cost
