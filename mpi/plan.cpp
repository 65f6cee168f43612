// Tasks and plans (engine.h): cells of the Z-order curve holding rows, split where hot, and the
// exact contiguous bottleneck partition of them over ranks.
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "io/hdf5.h"
#include "kernels/geohash.h"
#include "mpi/engine.h"

namespace geoshard::engine {

std::string Task::shard_name() const {
  char buf[48];
  std::snprintf(buf, sizeof buf, "task-%016" PRIx64 "-p%d.h5", key_lo, precision);
  return buf;
}

std::string Task::cell() const {
  if (precision < 0 || precision > geohash::kMaxPrecision) return "";
  return geohash::to_string(geohash::Cell::from_key(key_lo, precision));
}

// ---------------------------------------------------------------------------------------------
// make_tasks

namespace {

struct TaskMaker {
  const std::vector<uint64_t>& zkey;
  const std::vector<double>& cum;
  double limit;
  uint64_t max_rows;
  int max_precision;
  std::vector<Task>& out;

  // Rows [begin, end) all lie in one cell of precision `precision - 1` (or are the whole table);
  // emits the cells of `precision` that hold them, splitting the heavy ones further.
  void emit(uint64_t begin, uint64_t end, int precision) {
    uint64_t i = begin;
    while (i < end) {
      const geohash::Cell c = geohash::Cell::from_key(zkey[i], precision);
      const uint64_t hi = c.key_hi();
      const uint64_t j = static_cast<uint64_t>(
          std::upper_bound(zkey.begin() + static_cast<std::ptrdiff_t>(i), zkey.begin() + static_cast<std::ptrdiff_t>(end), hi) -
          zkey.begin());
      const double w = cum[j] - cum[i];
      if ((w > limit || (max_rows && j - i > max_rows)) && precision < max_precision) {
        emit(i, j, precision + 1);
      } else {
        Task t;
        t.index = static_cast<uint32_t>(out.size());
        t.key_lo = c.key_lo();
        t.key_hi = hi;
        t.precision = precision;
        t.row_begin = i;
        t.row_end = j;
        t.weight = w;
        out.push_back(t);
      }
      i = j;
    }
  }
};

}  // namespace

std::vector<Task> make_tasks(const std::vector<uint64_t>& zkey, const std::vector<double>& cum_weight, int ranks,
                             const PlanOptions& opt) {
  if (ranks < 1) throw std::invalid_argument("make_tasks: ranks must be at least 1, got " + std::to_string(ranks));
  if (opt.partition_precision < 0 || opt.partition_precision > geohash::kMaxPrecision)
    throw std::invalid_argument("make_tasks: partition_precision must be in 0..12, got " +
                                std::to_string(opt.partition_precision));
  if (opt.max_precision < opt.partition_precision || opt.max_precision > geohash::kMaxPrecision)
    throw std::invalid_argument("make_tasks: max_precision must be in partition_precision..12, got " +
                                std::to_string(opt.max_precision));
  if (!(opt.max_task_fraction > 0) || !std::isfinite(opt.max_task_fraction))
    throw std::invalid_argument("make_tasks: max_task_fraction must be positive");
  if (cum_weight.size() != zkey.size() + 1)
    throw std::invalid_argument("make_tasks: cum_weight needs rows+1 = " + std::to_string(zkey.size() + 1) +
                                " entries, got " + std::to_string(cum_weight.size()));
  for (size_t i = 1; i < zkey.size(); ++i)
    if (zkey[i] < zkey[i - 1])
      throw std::invalid_argument("make_tasks: zkey is not sorted at row " + std::to_string(i));
  for (size_t i = 1; i < cum_weight.size(); ++i)
    if (!(cum_weight[i] >= cum_weight[i - 1]) || !std::isfinite(cum_weight[i]))
      throw std::invalid_argument("make_tasks: cum_weight decreases or is not finite at entry " + std::to_string(i));
  if (zkey.size() >= std::numeric_limits<uint32_t>::max())
    throw std::invalid_argument("make_tasks: too many rows");

  std::vector<Task> tasks;
  if (zkey.empty()) return tasks;
  const double total = cum_weight.back() - cum_weight.front();
  const double limit = opt.max_task_fraction * total / ranks;
  TaskMaker m{zkey, cum_weight, limit, opt.max_task_rows, opt.max_precision, tasks};
  m.emit(0, zkey.size(), opt.partition_precision);
  return tasks;
}

// ---------------------------------------------------------------------------------------------
// make_plan

double Plan::max_load() const {
  return rank_load.empty() ? 0.0 : *std::max_element(rank_load.begin(), rank_load.end());
}
double Plan::total_weight() const { return std::accumulate(rank_load.begin(), rank_load.end(), 0.0); }
double Plan::mean_load() const { return rank_load.empty() ? 0.0 : total_weight() / static_cast<double>(rank_load.size()); }
double Plan::imbalance() const {
  const double m = mean_load();
  return m > 0 ? max_load() / m : 1.0;
}
double Plan::max_task_weight() const {
  double m = 0;
  for (const Task& t : tasks) m = std::max(m, t.weight);
  return m;
}

namespace {

// Prefix sums P[0..T] of the task weights. Every load is computed as P[j] - P[i]; for fixed i
// that is non-decreasing in j (and for fixed j non-increasing in i) even after rounding, which
// is all the greedy passes below need to be exact on these computed values.
class Partitioner {
 public:
  explicit Partitioner(const std::vector<Task>& tasks) : p_(tasks.size() + 1, 0.0) {
    for (size_t i = 0; i < tasks.size(); ++i) p_[i + 1] = p_[i] + tasks[i].weight;
  }
  size_t size() const { return p_.size() - 1; }
  double load(size_t i, size_t j) const { return p_[j] - p_[i]; }
  double prefix(size_t i) const { return p_[i]; }

  // Largest j in [i, T] with load(i, j) <= b (galloping, then binary search).
  size_t reach(size_t i, double b) const {
    const size_t t = size();
    size_t good = i, step = 1;
    while (good + step <= t && load(i, good + step) <= b) {
      good += step;
      step *= 2;
    }
    size_t bad = std::min(good + step, t + 1);  // first index known (or assumed) too far
    while (bad - good > 1) {
      const size_t mid = good + (bad - good) / 2;
      if (load(i, mid) <= b) good = mid;
      else bad = mid;
    }
    return good;
  }
  // Smallest s in [0, j] with load(s, j) <= b.
  size_t reach_back(size_t j, double b) const {
    size_t good = j, step = 1;
    while (step <= good && load(good - step, j) <= b) {
      good -= step;
      step *= 2;
    }
    size_t bad_plus1 = good >= step ? good - step + 1 : 0;  // candidates [bad_plus1, good)
    // Binary search the smallest s in [bad_plus1, good] with load(s, j) <= b.
    size_t lo = bad_plus1, hi = good;
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (load(mid, j) <= b) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  struct Probe {
    bool feasible = false;
    double achieved = 0;  // largest run load of the greedy partition (feasible case)
    double extend = std::numeric_limits<double>::infinity();  // smallest b that changes a cut
  };
  // Greedy left-to-right pass with bottleneck b over `ranks` runs.
  Probe probe(double b, size_t ranks) const {
    Probe pr;
    const size_t t = size();
    size_t i = 0;
    for (size_t r = 0; r < ranks && i < t; ++r) {
      const size_t j = reach(i, b);
      pr.achieved = std::max(pr.achieved, load(i, j));
      if (j < t) pr.extend = std::min(pr.extend, load(i, j + 1));
      i = j;
    }
    pr.feasible = i == t;
    return pr;
  }

 private:
  std::vector<double> p_;
};

}  // namespace

Plan make_plan(std::vector<Task> tasks, int ranks) {
  if (ranks < 1) throw std::invalid_argument("make_plan: ranks must be at least 1, got " + std::to_string(ranks));
  double max_w = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const double w = tasks[i].weight;
    if (!(w >= 0) || !std::isfinite(w))
      throw std::invalid_argument("make_plan: task " + std::to_string(i) + " has weight " + std::to_string(w) +
                                  " (weights must be finite and >= 0)");
    max_w = std::max(max_w, w);
    tasks[i].index = static_cast<uint32_t>(i);
  }
  const size_t t = tasks.size(), r = static_cast<size_t>(ranks);
  const Partitioner part(tasks);

  // The optimal bottleneck B*. Invariants: lo <= B* (lo is 0 or a proven lower bound: a
  // greedy pass that fails at b cannot succeed below its `extend`), hi >= B* is the achieved
  // bottleneck of a feasible partition. Each probe moves hi down to an achieved value <= mid or
  // lo up to an `extend` value > mid, so the loop ends with lo == hi == B* (exactly one of the
  // computed run loads).
  double hi = part.probe(part.load(0, t), r).achieved;
  double lo = 0;
  double mid = std::max(max_w, t ? part.load(0, t) / static_cast<double>(r) : 0.0);  // first probe: the ideal
  while (lo < hi) {
    if (!(mid > lo && mid < hi)) mid = lo + (hi - lo) / 2;
    if (!(mid >= lo && mid <= hi)) mid = lo;  // adjacent doubles
    const auto pr = part.probe(mid, r);
    if (pr.feasible) {
      hi = pr.achieved;
    } else {
      lo = std::min(pr.extend, hi);
    }
    mid = lo + (hi - lo) / 2;
  }
  const double best = hi;

  // Earliest start of each rank's run in any optimal partition (right-to-left greedy).
  std::vector<size_t> min_start(r + 1, 0);
  min_start[r] = t;
  {
    size_t e = t;
    for (size_t k = r; k-- > 1;) {
      e = e > 0 ? part.reach_back(e, best) : 0;
      min_start[k] = e;
    }
  }
  // Left to right: each cut as close to an even share of what is left as the optimum allows.
  Plan plan;
  plan.rank_begin.assign(r + 1, 0);
  plan.rank_begin[r] = static_cast<uint32_t>(t);
  size_t start = 0;
  for (size_t k = 0; k + 1 < r; ++k) {
    const size_t far = part.reach(start, best);
    const size_t near = std::min(std::max(min_start[k + 1], start), far);
    const double target = part.prefix(start) + part.load(start, t) / static_cast<double>(r - k);
    // First index in [near, far] whose prefix reaches the target, and its predecessor.
    size_t lo_i = near, hi_i = far + 1;
    while (lo_i < hi_i) {
      const size_t m = lo_i + (hi_i - lo_i) / 2;
      if (part.prefix(m) < target) lo_i = m + 1;
      else hi_i = m;
    }
    size_t cut = std::min(lo_i, far);
    if (cut > near && std::abs(part.prefix(cut - 1) - target) < std::abs(part.prefix(cut) - target)) --cut;
    plan.rank_begin[k + 1] = static_cast<uint32_t>(cut);
    start = cut;
  }
  plan.rank_load.resize(r);
  for (size_t k = 0; k < r; ++k) plan.rank_load[k] = part.load(plan.rank_begin[k], plan.rank_begin[k + 1]);
  plan.tasks = std::move(tasks);
  return plan;
}

namespace {

// Undoes the refinement splits that the cuts did not need: the tasks inside a cell that all
// went to one rank become that cell again, as long as it is within make_tasks' limits (so
// only refinement splits are undone). The old partition stays expressible, so replanning the
// merged tasks keeps the optimum.
Plan merge_siblings(Plan plan, const std::vector<uint64_t>& zkey, const std::vector<double>& cum, int ranks,
                    const PlanOptions& opt) {
  const double total = cum.back() - cum.front();
  const double limit = opt.max_task_fraction * total / ranks;
  std::vector<Task> tasks = std::move(plan.tasks);
  std::vector<uint32_t> rank(tasks.size());
  for (int r = 0; r < ranks; ++r)
    for (uint32_t i = plan.rank_begin[r]; i < plan.rank_begin[r + 1]; ++i) rank[i] = static_cast<uint32_t>(r);
  bool changed = true, any = false;
  while (changed) {
    changed = false;
    std::vector<Task> out;
    std::vector<uint32_t> out_rank;
    out.reserve(tasks.size());
    out_rank.reserve(tasks.size());
    for (size_t i = 0; i < tasks.size();) {
      const Task& t = tasks[i];
      if (t.precision > opt.partition_precision) {
        const geohash::Cell p = geohash::Cell::from_key(t.key_lo, t.precision - 1);
        if (i == 0 || tasks[i - 1].key_hi < p.key_lo()) {  // t is the first task inside p
          size_t k = i;
          while (k + 1 < tasks.size() && tasks[k + 1].key_lo <= p.key_hi()) ++k;
          const uint64_t rows = tasks[k].row_end - t.row_begin;
          const double w = cum[tasks[k].row_end] - cum[t.row_begin];
          if (rank[i] == rank[k] && w <= limit && (opt.max_task_rows == 0 || rows <= opt.max_task_rows)) {
            Task m = t;
            m.key_lo = p.key_lo();
            m.key_hi = p.key_hi();
            m.precision = p.precision;
            m.row_end = tasks[k].row_end;
            m.weight = w;
            out.push_back(m);
            out_rank.push_back(rank[i]);
            i = k + 1;
            changed = any = true;
            continue;
          }
        }
      }
      out.push_back(t);
      out_rank.push_back(rank[i]);
      ++i;
    }
    tasks = std::move(out);
    rank = std::move(out_rank);
  }
  (void)zkey;
  if (!any) {
    plan.tasks = std::move(tasks);
    return plan;
  }
  return make_plan(std::move(tasks), ranks);
}

}  // namespace

Plan plan_for_table(const std::vector<uint64_t>& zkey, const std::vector<double>& cum_weight, int ranks,
                    const PlanOptions& opt) {
  Plan plan = make_plan(make_tasks(zkey, cum_weight, ranks, opt), ranks);
  // Boundary refinement: where a rank is above the target, its first and last tasks are what
  // keeps its cuts from moving; replacing them by their children gives the partition finer
  // steps exactly there. The old partition stays expressible, so the optimum never gets worse.
  std::vector<Task> next;
  for (int round = 0; round < opt.refine_rounds && plan.imbalance() > opt.target_imbalance; ++round) {
    const double cap = opt.target_imbalance * plan.mean_load();
    std::vector<char> split(plan.tasks.size(), 0);
    bool any = false;
    for (int r = 0; r < ranks; ++r) {
      const uint32_t b = plan.rank_begin[r], e = plan.rank_begin[r + 1];
      if (b == e || plan.rank_load[r] <= cap) continue;
      for (uint32_t i : {b, e - 1}) {
        const Task& t = plan.tasks[i];
        // A cell whose rows share one key cannot get a finer boundary.
        if (t.precision < opt.max_precision && zkey[t.row_begin] != zkey[t.row_end - 1]) {
          split[i] = 1;
          any = true;
        }
      }
    }
    if (!any) break;
    next.clear();
    TaskMaker m{zkey, cum_weight, std::numeric_limits<double>::infinity(), 0, opt.max_precision, next};
    for (size_t i = 0; i < plan.tasks.size(); ++i) {
      const Task& t = plan.tasks[i];
      if (!split[i]) {
        next.push_back(t);
        continue;
      }
      // Children holding rows; a cell whose rows sit in one child goes down until they part.
      const size_t before = next.size();
      int p = t.precision + 1;
      for (;;) {
        m.emit(t.row_begin, t.row_end, p);
        if (next.size() - before > 1 || p >= opt.max_precision) break;
        next.resize(before);
        ++p;
      }
    }
    plan = make_plan(std::move(next), ranks);
    next = std::vector<Task>();
  }
  if (plan.tasks.size() > 1) plan = merge_siblings(std::move(plan), zkey, cum_weight, ranks, opt);
  plan.options = opt;
  return plan;
}

Plan plan_for_roads(const std::string& roads_h5, int ranks, const PlanOptions& opt) {
  std::vector<uint64_t> zkey;
  std::vector<double> cum;
  {
    h5::File f(roads_h5, h5::File::Mode::kRead);
    const h5::Group g = f.root().open_group("roads");
    zkey = g.read_column<uint64_t>("zkey");
    cum = g.read_column<double>("cum_km");
  }
  if (cum.size() != zkey.size() + 1)
    throw std::runtime_error("'" + roads_h5 + "': cum_km has " + std::to_string(cum.size()) + " entries for " +
                             std::to_string(zkey.size()) + " rows (expected rows+1)");
  if (!opt.cost_from.empty()) cum = measured_cum_weight(opt.cost_from, cum);
  try {
    return plan_for_table(zkey, cum, ranks, opt);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error("'" + roads_h5 + "': " + e.what());
  }
}

// ---------------------------------------------------------------------------------------------
// Reports

nlohmann::json plan_report(const Plan& plan) {
  nlohmann::json j;
  const int r = plan.ranks();
  j["ranks"] = r;
  j["tasks"] = plan.tasks.size();
  j["total_weight"] = plan.total_weight();
  j["mean_load"] = plan.mean_load();
  j["max_load"] = plan.max_load();
  j["min_load"] = plan.rank_load.empty() ? 0.0 : *std::min_element(plan.rank_load.begin(), plan.rank_load.end());
  j["imbalance"] = plan.imbalance();
  j["max_task_weight"] = plan.max_task_weight();
  j["options"] = {{"partition_precision", plan.options.partition_precision},
                  {"max_precision", plan.options.max_precision},
                  {"max_task_fraction", plan.options.max_task_fraction},
                  {"max_task_rows", plan.options.max_task_rows},
                  {"target_imbalance", plan.options.target_imbalance},
                  {"refine_rounds", plan.options.refine_rounds},
                  {"cost_from", plan.options.cost_from}};
  std::map<int, uint64_t> by_precision;
  for (const Task& t : plan.tasks) ++by_precision[t.precision];
  nlohmann::json bp = nlohmann::json::object();
  for (auto [p, n] : by_precision) bp[std::to_string(p)] = n;
  j["tasks_by_precision"] = bp;
  uint64_t idle = 0;
  nlohmann::json per = nlohmann::json::array();
  for (int k = 0; k < r; ++k) {
    const uint32_t b = plan.rank_begin[k], e = plan.rank_begin[k + 1];
    if (b == e) ++idle;
    nlohmann::json row = {{"rank", k}, {"task_begin", b}, {"task_end", e}, {"tasks", e - b},
                          {"load", plan.rank_load[k]}};
    if (b < e) {
      row["first_cell"] = plan.tasks[b].cell();
      row["last_cell"] = plan.tasks[e - 1].cell();
      row["row_begin"] = plan.tasks[b].row_begin;
      row["row_end"] = plan.tasks[e - 1].row_end;
    }
    per.push_back(std::move(row));
  }
  j["ranks_without_tasks"] = idle;
  j["per_rank"] = std::move(per);
  return j;
}

std::string plan_table(const Plan& plan, size_t max_rows, const std::string& unit) {
  std::ostringstream o;
  const int r = plan.ranks();
  const double mean = plan.mean_load();
  char buf[256];
  std::map<int, uint64_t> by_precision;
  for (const Task& t : plan.tasks) ++by_precision[t.precision];
  o << plan.tasks.size() << " tasks (";
  bool first = true;
  for (auto [p, n] : by_precision) {
    o << (first ? "" : ", ") << "p" << p << ": " << n;
    first = false;
  }
  o << ") over " << r << " ranks\n";
  std::snprintf(buf, sizeof buf, "total %.6g %s, mean %.6g, max %.6g, heaviest task %.6g, imbalance (max/mean) %.4f\n",
                plan.total_weight(), unit.c_str(), mean, plan.max_load(), plan.max_task_weight(), plan.imbalance());
  o << buf;
  std::vector<int> shown(static_cast<size_t>(r));
  std::iota(shown.begin(), shown.end(), 0);
  if (static_cast<size_t>(r) > max_rows) {
    // The heaviest and the lightest ranks say the most about the balance.
    std::vector<int> by_load = shown;
    std::stable_sort(by_load.begin(), by_load.end(),
                     [&](int a, int b) { return plan.rank_load[a] > plan.rank_load[b]; });
    const size_t heavy = (max_rows + 1) / 2, light = max_rows - heavy;
    shown.assign(by_load.begin(), by_load.begin() + static_cast<std::ptrdiff_t>(heavy));
    shown.insert(shown.end(), by_load.end() - static_cast<std::ptrdiff_t>(light), by_load.end());
    std::sort(shown.begin(), shown.end());
    o << "(showing the " << heavy << " heaviest and " << light << " lightest of " << r << " ranks)\n";
  }
  std::snprintf(buf, sizeof buf, "%8s %10s %14s %-12s %-12s %16s %9s\n", "rank", "tasks", "first task", "first cell",
                "last cell", ("load " + unit).c_str(), "load/mean");
  o << buf;
  for (int k : shown) {
    const uint32_t b = plan.rank_begin[k], e = plan.rank_begin[k + 1];
    const std::string fc = b < e ? plan.tasks[b].cell() : "-", lc = b < e ? plan.tasks[e - 1].cell() : "-";
    std::snprintf(buf, sizeof buf, "%8d %10u %14u %-12s %-12s %16.6g %9.4f\n", k, e - b, b, fc.c_str(), lc.c_str(),
                  plan.rank_load[k], mean > 0 ? plan.rank_load[k] / mean : 0.0);
    o << buf;
  }
  return o.str();
}

}  // namespace geoshard::engine
