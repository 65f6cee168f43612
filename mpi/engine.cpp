// The task loop (engine.h): shards, resume, failure and stop agreement, progress, run record,
// gather.
#include "mpi/engine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <new>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cmath>
#include <csignal>
#include <sys/resource.h>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <thread>

#include "io/output.h"

namespace geoshard::engine {
namespace fs = std::filesystem;

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

// ---- 128-bit FNV-1a: small, dependency-free, and stable across platforms and versions.
class Hash128 {
 public:
  void bytes(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h_ ^= b[i];
      h_ *= kPrime;
    }
  }
  void str(const std::string& s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  void u64(uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));  // little-endian, fixed
    bytes(b, 8);
  }
  void f64(double v) {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    u64(u);
  }
  std::string hex() const {
    return hex64(static_cast<uint64_t>(h_ >> 64)) + hex64(static_cast<uint64_t>(h_));
  }

 private:
  static constexpr unsigned __int128 kPrime = (static_cast<unsigned __int128>(1) << 88) + 0x13B;
  unsigned __int128 h_ = (static_cast<unsigned __int128>(0x6c62272e07bb0142ull) << 64) | 0x62b821756295c58dull;
};

std::string tasks_hash(const Plan& plan) {
  Hash128 h;
  h.str("geoshard-tasks-v1");
  h.u64(plan.tasks.size());
  for (const Task& t : plan.tasks) {
    h.u64(t.key_lo);
    h.u64(t.key_hi);
    h.u64(static_cast<uint64_t>(t.precision));
    h.u64(t.row_begin);
    h.u64(t.row_end);
    h.f64(t.weight);
  }
  return h.hex();
}

// ---- Stop flag and signal handlers.
volatile std::sig_atomic_t g_stop = 0;
// When the first stop signal arrived (steady clock, ns; 0 = none): the start of the stop latency
// the run record reports. A lock-free atomic, so the handler may store it.
std::atomic<int64_t> g_stop_ns{0};
static_assert(std::atomic<int64_t>::is_always_lock_free);
void on_stop_signal(int) {
  if (g_stop_ns.load(std::memory_order_relaxed) == 0)
    g_stop_ns.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  g_stop = 1;
}

// Installs the stop handlers for its lifetime; restores the previous ones after.
class ScopedStopHandlers {
 public:
  ScopedStopHandlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // file and MPI calls in flight carry on
    sigaction(SIGTERM, &sa, &old_term_);
    sigaction(SIGUSR1, &sa, &old_usr1_);
  }
  ~ScopedStopHandlers() {
    sigaction(SIGTERM, &old_term_, nullptr);
    sigaction(SIGUSR1, &old_usr1_, nullptr);
  }
  ScopedStopHandlers(const ScopedStopHandlers&) = delete;
  ScopedStopHandlers& operator=(const ScopedStopHandlers&) = delete;

 private:
  struct sigaction old_term_ {}, old_usr1_ {};
};

// ---- First non-empty message over all ranks (collective), "" when none.
std::string first_error(MPI_Comm c, const std::string& mine) {
  int size = 1;
  MPI_Comm_size(c, &size);
  const int n = static_cast<int>(mine.size());
  std::vector<int> lens(size);
  MPI_Allgather(&n, 1, MPI_INT, lens.data(), 1, MPI_INT, c);
  std::vector<int> displs(size, 0);
  for (int r = 1; r < size; ++r) displs[r] = displs[r - 1] + lens[r - 1];
  const int total = displs[size - 1] + lens[size - 1];
  if (total == 0) return "";
  std::string all(static_cast<size_t>(total), '\0');
  MPI_Allgatherv(mine.data(), n, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, c);
  for (int r = 0; r < size; ++r)
    if (lens[r]) return all.substr(static_cast<size_t>(displs[r]), static_cast<size_t>(lens[r]));
  return "";
}

// ---- Non-blocking notices between ranks: "I stopped" / "a task failed here". A rank sends at
// most one notice per run, to every other rank; receivers poll between tasks. After the final
// reduction every rank receives the notices it has not seen yet, so no message is left behind.
class Notices {
 public:
  static constexpr int kStop = 1, kFail = 2;
  explicit Notices(MPI_Comm c) : c_(c) {
    MPI_Comm_rank(c_, &rank_);
    MPI_Comm_size(c_, &size_);
    received_.assign(static_cast<size_t>(size_), 0);
  }
  void send(int kind) {
    if (sent_) return;
    sent_ = true;
    buf_ = kind;
    for (int p = 0; p < size_; ++p) {
      if (p == rank_) continue;
      MPI_Request req;
      MPI_Isend(&buf_, 1, MPI_INT, p, kTag, c_, &req);
      reqs_.push_back(req);
    }
  }
  void poll() {
    for (;;) {
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, kTag, c_, &flag, &st);
      if (!flag) return;
      receive(st.MPI_SOURCE);
    }
  }
  // Collective: after it, every notice sent has been received and every send completed.
  void drain() {
    int mine = sent_ ? 1 : 0;
    std::vector<int> sent(static_cast<size_t>(size_));
    MPI_Allgather(&mine, 1, MPI_INT, sent.data(), 1, MPI_INT, c_);
    for (int p = 0; p < size_; ++p)
      if (p != rank_ && sent[p] && !received_[p]) receive(p);
    if (!reqs_.empty()) MPI_Waitall(static_cast<int>(reqs_.size()), reqs_.data(), MPI_STATUSES_IGNORE);
    reqs_.clear();
  }
  bool peer_stopped() const { return peer_stop_; }
  bool peer_failed() const { return peer_fail_; }

 private:
  static constexpr int kTag = 4711;
  void receive(int src) {
    int v = 0;
    MPI_Recv(&v, 1, MPI_INT, src, kTag, c_, MPI_STATUS_IGNORE);
    received_[static_cast<size_t>(src)] = 1;
    if (v == kStop) peer_stop_ = true;
    if (v == kFail) peer_fail_ = true;
  }
  MPI_Comm c_;
  int rank_ = 0, size_ = 1;
  bool sent_ = false, peer_stop_ = false, peer_fail_ = false;
  int buf_ = 0;
  std::vector<MPI_Request> reqs_;
  std::vector<char> received_;
};

// A duplicate of the engine's communicator for one run, so the notices never meet a job's or
// another library's messages.
class DupComm {
 public:
  explicit DupComm(MPI_Comm c) { MPI_Comm_dup(c, &c_); }
  ~DupComm() { MPI_Comm_free(&c_); }
  DupComm(const DupComm&) = delete;
  DupComm& operator=(const DupComm&) = delete;
  MPI_Comm get() const { return c_; }

 private:
  MPI_Comm c_ = MPI_COMM_NULL;
};

// ---- Progress: rank 0's thread counts committed shard files of the plan (shared file system).
std::string human(double v) {
  char buf[32];
  const double a = std::abs(v);
  if (a >= 1e9) std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  else if (a >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (a >= 1e4) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

class ProgressThread {
 public:
  ProgressThread(const Plan& plan, std::string shards_dir, const RunOptions& opt,
                 std::function<void(const std::string&)> out)
      : plan_(plan), dir_(std::move(shards_dir)), opt_(opt), out_(std::move(out)) {
    keys_.reserve(plan.tasks.size());
    for (size_t i = 0; i < plan.tasks.size(); ++i)
      keys_.push_back({plan.tasks[i].key_lo, plan.tasks[i].precision, static_cast<uint32_t>(i)});
    std::sort(keys_.begin(), keys_.end(), [](const Key& a, const Key& b) {
      return a.key != b.key ? a.key < b.key : a.precision < b.precision;
    });
    total_weight_ = plan.total_weight();
    thread_ = std::thread([this] { loop(); });
  }
  ~ProgressThread() { stop(); }
  void stop() {
    {
      std::lock_guard<std::mutex> l(m_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Key {
    uint64_t key;
    int precision;
    uint32_t index;
  };
  // Index of the task whose shard file is `name`, or -1.
  int64_t lookup(const std::string& name) const {
    // task-<16 hex>-p<precision>.h5
    if (name.size() < 5 + 16 + 2 + 1 + 3 || name.compare(0, 5, "task-") != 0) return -1;
    if (name.compare(name.size() - 3, 3, ".h5") != 0 || name.compare(21, 2, "-p") != 0) return -1;
    uint64_t key = 0;
    for (int i = 5; i < 21; ++i) {
      const char c = name[static_cast<size_t>(i)];
      const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (v < 0) return -1;
      key = key << 4 | static_cast<uint64_t>(v);
    }
    int p = 0;
    for (size_t i = 23; i + 3 < name.size(); ++i) {
      if (name[i] < '0' || name[i] > '9') return -1;
      p = p * 10 + (name[i] - '0');
    }
    auto it = std::lower_bound(keys_.begin(), keys_.end(), Key{key, p, 0}, [](const Key& a, const Key& b) {
      return a.key != b.key ? a.key < b.key : a.precision < b.precision;
    });
    if (it == keys_.end() || it->key != key || it->precision != p) return -1;
    return it->index;
  }
  void scan(uint64_t& n, double& w) const {
    n = 0;
    w = 0;
    std::error_code ec;
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
      const int64_t i = lookup(it->path().filename().string());
      if (i < 0) continue;
      ++n;
      w += plan_.tasks[static_cast<size_t>(i)].weight;
    }
  }
  void loop() {
    const double t0 = now_seconds();
    uint64_t n0 = 0;
    double w0 = 0;
    scan(n0, w0);
    double interval = opt_.progress_interval_seconds;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(m_);
        if (cv_.wait_for(l, std::chrono::duration<double>(interval), [this] { return stop_; })) return;
      }
      const double s0 = now_seconds();
      uint64_t n = 0;
      double w = 0;
      scan(n, w);
      const double s1 = now_seconds();
      // A listing of a huge folder on a busy parallel file system is not free: never spend
      // more than a tenth of the time on it.
      interval = std::max(opt_.progress_interval_seconds, 10 * (s1 - s0));
      const uint64_t total = plan_.tasks.size();
      if (n >= total) continue;  // all there (a rerun that reuses everything): the final line says so
      const double t = s1 - t0;
      const double rate = t > 0 ? (w - w0) / t : 0;
      char buf[512];
      const std::string eta =
          rate > 0 ? std::to_string(static_cast<long long>(std::max(0.0, total_weight_ - w) / rate)) + " s" : "?";
      std::snprintf(buf, sizeof buf, "[%s] %llu/%llu tasks (%.1f%%), %s/%s %s, %s %s/s, ETA %s", opt_.job.c_str(),
                    static_cast<unsigned long long>(n), static_cast<unsigned long long>(total),
                    total ? 100.0 * static_cast<double>(n) / static_cast<double>(total) : 100.0, human(w).c_str(),
                    human(total_weight_).c_str(), opt_.weight_unit.c_str(), human(rate).c_str(),
                    opt_.weight_unit.c_str(), eta.c_str());
      out_(buf);
    }
  }

  const Plan& plan_;
  std::string dir_;
  const RunOptions& opt_;
  std::function<void(const std::string&)> out_;
  std::vector<Key> keys_;
  double total_weight_ = 0;
  std::mutex m_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// ---- plan.json

// Reads the top-level scalars of plan.json, skipping the (possibly huge) arrays.
nlohmann::json read_plan_header(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read '" + path + "'");
  try {
    return nlohmann::json::parse(in, [](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
      if (ev == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string()) {
        const std::string& k = parsed.get_ref<const std::string&>();
        return k != "tasks" && k != "rank_begin" && k != "rank_load";
      }
      return true;
    });
  } catch (const std::exception& e) {
    throw std::runtime_error("'" + path + "' is not a valid plan file (" + e.what() +
                             "); use a new --run folder");
  }
}

void write_plan_json(const std::string& path, const Plan& plan, const RunOptions& opt, const std::string& id) {
  nlohmann::json j;
  j["format"] = "geoshard.plan";
  j["format_version"] = 1;
  j["plan_id"] = id;
  j["tasks_hash"] = tasks_hash(plan);
  j["job"] = opt.job;
  j["inputs"] = opt.inputs;
  j["options"] = {{"partition_precision", plan.options.partition_precision},
                  {"max_precision", plan.options.max_precision},
                  {"max_task_fraction", plan.options.max_task_fraction},
                  {"max_task_rows", plan.options.max_task_rows},
                  {"target_imbalance", plan.options.target_imbalance},
                  {"refine_rounds", plan.options.refine_rounds},
                  {"cost_from", plan.options.cost_from}};
  j["ranks"] = plan.ranks();
  j["weight_unit"] = opt.weight_unit;
  j["total_weight"] = plan.total_weight();
  j["imbalance"] = plan.imbalance();
  j["rank_begin"] = plan.rank_begin;
  j["rank_load"] = plan.rank_load;
  const size_t n = plan.tasks.size();
  std::vector<std::string> cell(n), key_lo(n), key_hi(n);
  std::vector<int> precision(n);
  std::vector<uint64_t> row_begin(n), row_end(n);
  std::vector<double> weight(n);
  for (size_t i = 0; i < n; ++i) {
    const Task& t = plan.tasks[i];
    cell[i] = t.cell();
    key_lo[i] = hex64(t.key_lo);
    key_hi[i] = hex64(t.key_hi);
    precision[i] = t.precision;
    row_begin[i] = t.row_begin;
    row_end[i] = t.row_end;
    weight[i] = t.weight;
  }
  j["tasks"] = {{"cell", cell},           {"key_lo", key_lo},   {"key_hi", key_hi},  {"precision", precision},
                {"row_begin", row_begin}, {"row_end", row_end}, {"weight", weight}};
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp);
    out << j.dump() << "\n";
    out.close();
    if (!out) throw std::runtime_error("cannot write '" + tmp + "'");
  });
}

// Rank 0, before any task: the shards folder, the plan check, leftovers of interrupted writes.
void prepare_run_dir(const Plan& plan, const RunOptions& opt, const std::string& id) {
  const fs::path run(opt.run_dir), shards = run / "shards", plan_path = run / "plan.json";
  std::error_code ec;
  fs::create_directories(shards, ec);
  if (ec) throw std::runtime_error("cannot create '" + shards.string() + "': " + ec.message());
  bool write = true;
  if (fs::exists(plan_path)) {
    const nlohmann::json h = read_plan_header(plan_path.string());
    const std::string old = h.value("plan_id", std::string());
    if (old != id)
      throw std::runtime_error("RUN '" + opt.run_dir + "' holds a run of a different plan (inputs or ranks changed): " +
                               "plan " + old + " there, " + id + " now; use a new --run folder");
    write = h.value("ranks", -1) != plan.ranks();  // same tasks, other cuts: record the new cuts
  }
  // Temporaries of writes that never committed (a killed run): nobody writes yet, remove them.
  for (fs::directory_iterator it(shards, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(".tmp-", 0) == 0) {
      std::error_code rec;
      fs::remove_all(it->path(), rec);
    }
  }
  if (write) write_plan_json(plan_path.string(), plan, opt, id);
}

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open '" + path + "' to sync it: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("cannot sync '" + path + "': " + std::strerror(err));
}

}  // namespace

// ---------------------------------------------------------------------------------------------

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
}
bool stop_requested() { return g_stop != 0; }
void request_stop() { g_stop = 1; }
void clear_stop_request() {
  g_stop = 0;
  g_stop_ns = 0;
}

std::string plan_id(const Plan& plan, const RunOptions& opt) {
  Hash128 h;
  h.str("geoshard-plan-v1");
  h.str(opt.job);
  h.str(opt.inputs.dump());  // objects dump with sorted keys: canonical
  h.u64(static_cast<uint64_t>(plan.options.partition_precision));
  h.u64(static_cast<uint64_t>(plan.options.max_precision));
  h.f64(plan.options.max_task_fraction);
  h.u64(plan.options.max_task_rows);
  h.f64(plan.options.target_imbalance);
  h.u64(static_cast<uint64_t>(plan.options.refine_rounds));
  if (!plan.options.cost_from.empty()) h.str(plan.options.cost_from);  // (keeps road-km plan ids as they were)
  h.str(tasks_hash(plan));
  return h.hex();
}

nlohmann::json file_fingerprint(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::runtime_error("cannot stat input '" + path + "': " + std::strerror(errno));
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return {{"path", fs::absolute(path).lexically_normal().string()},
          {"size", static_cast<uint64_t>(st.st_size)},
          {"mtime_ns", mtime_ns}};
}

const char* to_string(ShardState s) {
  switch (s) {
    case ShardState::kCommitted: return "committed";
    case ShardState::kMissing: return "missing";
    case ShardState::kCorrupt: return "corrupt (not a readable HDF5 file)";
    case ShardState::kIncomplete: return "incomplete (no complete=1 on /shard)";
    case ShardState::kOtherPlan: return "from another plan";
    case ShardState::kWrongTask: return "made for another task (task_index, row range or row count differ)";
    case ShardState::kBadChecksum: return "damaged (its data does not match its checksum)";
  }
  return "?";
}

ShardState shard_state(const std::string& path, const std::string& id, const Task* task) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return ShardState::kMissing;
  try {
    if (!h5::is_hdf5(path)) return ShardState::kCorrupt;
    h5::File f(path, h5::File::Mode::kRead);
    const h5::Group root = f.root();
    if (!root.exists("shard")) return ShardState::kIncomplete;
    const h5::Group g = root.open_group("shard");
    if (!g.has_attr("complete") || g.attr_int("complete") != 1) return ShardState::kIncomplete;
    if (!g.has_attr("plan_id") || g.attr_string("plan_id") != id) return ShardState::kOtherPlan;
    if (!task) return ShardState::kCommitted;
    for (const char* a : {"task_index", "row_begin", "row_end", "rows"})
      if (!g.has_attr(a)) return ShardState::kWrongTask;
    if (g.attr_int("task_index") != static_cast<int64_t>(task->index) ||
        g.attr_int("row_begin") != static_cast<int64_t>(task->row_begin) ||
        g.attr_int("row_end") != static_cast<int64_t>(task->row_end) || g.attr_int("rows") < 0)
      return ShardState::kWrongTask;
    if (!g.has_attr("checksum")) return ShardState::kBadChecksum;
    uint64_t sum = 0;
    try {
      sum = g.content_checksum();
    } catch (const std::exception&) {
      return ShardState::kBadChecksum;  // a dataset that cannot be read back
    }
    if (g.attr_string("checksum") != hex64(sum)) return ShardState::kBadChecksum;
    return ShardState::kCommitted;
  } catch (...) {
    return ShardState::kCorrupt;
  }
}

nlohmann::json read_plan_inputs(const std::string& run_dir) {
  return read_plan_header((fs::path(run_dir) / "plan.json").string()).value("inputs", nlohmann::json::object());
}

Plan read_plan(const std::string& run_dir) {
  const std::string path = (fs::path(run_dir) / "plan.json").string();
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read '" + path + "': no run was started in '" + run_dir + "'");
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    if (j.value("format", std::string()) != "geoshard.plan") throw std::runtime_error("not a geoshard plan file");
    Plan plan;
    const nlohmann::json& o = j.at("options");
    plan.options.partition_precision = o.at("partition_precision").get<int>();
    plan.options.max_precision = o.at("max_precision").get<int>();
    plan.options.max_task_fraction = o.at("max_task_fraction").get<double>();
    plan.options.max_task_rows = o.value("max_task_rows", plan.options.max_task_rows);
    plan.options.target_imbalance = o.value("target_imbalance", plan.options.target_imbalance);
    plan.options.refine_rounds = o.value("refine_rounds", plan.options.refine_rounds);
    plan.options.cost_from = o.value("cost_from", std::string());
    plan.rank_begin = j.at("rank_begin").get<std::vector<uint32_t>>();
    plan.rank_load = j.at("rank_load").get<std::vector<double>>();
    const nlohmann::json& t = j.at("tasks");
    const auto key_lo = t.at("key_lo").get<std::vector<std::string>>();
    const auto key_hi = t.at("key_hi").get<std::vector<std::string>>();
    const auto precision = t.at("precision").get<std::vector<int>>();
    const auto row_begin = t.at("row_begin").get<std::vector<uint64_t>>();
    const auto row_end = t.at("row_end").get<std::vector<uint64_t>>();
    const auto weight = t.at("weight").get<std::vector<double>>();
    const size_t n = key_lo.size();
    if (key_hi.size() != n || precision.size() != n || row_begin.size() != n || row_end.size() != n ||
        weight.size() != n || plan.rank_begin.size() != plan.rank_load.size() + 1 || plan.rank_begin.empty() ||
        plan.rank_begin.back() != n)
      throw std::runtime_error("inconsistent task or rank columns");
    plan.tasks.resize(n);
    for (size_t i = 0; i < n; ++i) {
      Task& k = plan.tasks[i];
      k.index = static_cast<uint32_t>(i);
      k.key_lo = std::stoull(key_lo[i], nullptr, 16);
      k.key_hi = std::stoull(key_hi[i], nullptr, 16);
      k.precision = precision[i];
      k.row_begin = row_begin[i];
      k.row_end = row_end[i];
      k.weight = weight[i];
    }
    if (tasks_hash(plan) != j.at("tasks_hash").get<std::string>())
      throw std::runtime_error("its tasks do not match its tasks_hash");
    return plan;
  } catch (const std::exception& e) {
    throw std::runtime_error("'" + path + "' is not a valid plan file: " + e.what());
  }
}

std::vector<double> measured_cum_weight(const std::string& run_dir, const std::vector<double>& cum_km) {
  const Plan prev = read_plan(run_dir);
  const uint64_t rows = cum_km.empty() ? 0 : cum_km.size() - 1;
  auto fail = [&](const std::string& m) { return std::runtime_error("cost from run '" + run_dir + "': " + m); };
  if (prev.tasks.empty() || prev.tasks.front().row_begin != 0 || prev.tasks.back().row_end != rows)
    throw fail("its tasks do not cover the table's " + std::to_string(rows) + " rows (a run of another table?)");
  std::vector<double> cum(cum_km.size(), 0.0);
  for (size_t k = 0; k < prev.tasks.size(); ++k) {
    const Task& t = prev.tasks[k];
    if (t.row_begin != (k ? prev.tasks[k - 1].row_end : 0)) throw fail("tasks are not contiguous");
    const std::string path = (fs::path(run_dir) / "shards" / t.shard_name()).string();
    double sec = 0;
    try {
      h5::File f(path, h5::File::Mode::kRead);
      const h5::Group g = f.root().open_group("shard");
      if (g.attr_int("complete") != 1) throw std::runtime_error("not complete");
      sec = g.attr_double("seconds");
    } catch (const std::exception& e) {
      throw fail("shard '" + path + "' is not a committed shard (" + e.what() + "): finish that run first");
    }
    if (!(sec >= 0) || !std::isfinite(sec)) throw fail("shard '" + path + "' has no valid seconds");
    const double km = cum_km[t.row_end] - cum_km[t.row_begin];
    const uint64_t n = t.row_end - t.row_begin;
    for (uint64_t r = t.row_begin; r < t.row_end; ++r) {
      const double share = km > 0 ? (cum_km[r + 1] - cum_km[r]) / km : 1.0 / static_cast<double>(n);
      cum[r + 1] = cum[r] + sec * share;
    }
  }
  // make_tasks needs a non-decreasing sum: rounding in the shares can only add, never subtract.
  return cum;
}

std::string shard_path(const std::string& run_dir, const Task& t) {
  return (fs::path(run_dir) / "shards" / t.shard_name()).string();
}

// ---------------------------------------------------------------------------------------------
// ShardWriter

ShardWriter::ShardWriter(const std::string& final_path, const std::string& tmp_path, bool sync)
    : final_(final_path), tmp_(tmp_path), sync_(sync), start_(now_seconds()) {
  file_ = std::make_unique<h5::File>(tmp_, h5::File::Mode::kCreate);
  group_ = std::make_unique<h5::Group>(file_->root().create_group("shard"));
}

ShardWriter::~ShardWriter() {
  if (committed_) return;
  group_.reset();
  file_.reset();
  std::error_code ec;
  fs::remove(tmp_, ec);
}

h5::Group& ShardWriter::group() {
  if (!group_) throw std::logic_error("ShardWriter: shard '" + final_ + "' is already committed");
  return *group_;
}

void ShardWriter::commit(uint64_t rows) {
  if (committed_ || !group_) throw std::logic_error("ShardWriter: shard '" + final_ + "' committed twice");
  group_->set_attr("rows", static_cast<int64_t>(rows));
  group_->set_attr("seconds", (now_seconds() - start_) * share_);
  group_->set_attr("checksum", hex64(group_->content_checksum()));
  group_->set_attr("complete", int64_t{1});
  group_.reset();  // an open group would keep the file open past close()
  file_->close();
  file_.reset();
  if (sync_) fsync_path(tmp_);  // the rename must not be durable before the data is
  std::error_code ec;
  bytes_written_ = fs::file_size(tmp_, ec);
  if (ec) bytes_written_ = 0;
  if (std::rename(tmp_.c_str(), final_.c_str()) != 0)
    throw std::runtime_error("cannot rename shard '" + tmp_ + "' to '" + final_ + "': " + std::strerror(errno));
  committed_ = true;
}

// ---------------------------------------------------------------------------------------------
// Engine

Engine::Engine(mpi::Comm comm) : comm_(comm) {}

RunResult Engine::run(const Plan& plan, const RunOptions& opt, const TaskFunction& fn) {
  RunOptions one = opt;
  one.group_rows = 0;
  return run_groups(plan, one, [&fn](std::span<const Task> tasks, std::span<ShardWriter* const> writers) {
    fn(tasks[0], *writers[0]);
  });
}

RunResult Engine::run_groups(const Plan& plan, const RunOptions& opt, const GroupFunction& fn) {
  const double t_start = now_seconds();
  const int nranks = comm_.size(), me = comm_.rank();

  // Start checks: every rank checks, every rank throws the first rank's complaint.
  std::string id;
  {
    std::string err = mpi::check_slurm_size(nranks);
    if (err.empty() && plan.ranks() != nranks)
      err = "the plan is for " + std::to_string(plan.ranks()) + " ranks but the run has " + std::to_string(nranks);
    if (err.empty() && opt.run_dir.empty()) err = "no run folder given";
    if (err.empty()) {
      bool ok = plan.rank_begin.front() == 0 && plan.rank_begin.back() == plan.tasks.size() &&
                plan.rank_load.size() == static_cast<size_t>(nranks);
      for (int r = 0; ok && r < nranks; ++r) ok = plan.rank_begin[r] <= plan.rank_begin[r + 1];
      if (!ok) err = "the plan's rank cuts are inconsistent with its tasks (not made by make_plan?)";
    }
    if (err.empty()) {
      try {
        id = plan_id(plan, opt);
      } catch (const std::exception& e) {
        err = std::string("cannot compute the plan id: ") + e.what();
      }
    }
    err = first_error(comm_.get(), err);
    if (!err.empty()) throw std::runtime_error(err);
    const std::string root_id = comm_.broadcast(id);
    if (comm_.max(uint64_t{root_id != id ? 1u : 0u}))
      throw std::runtime_error("the ranks computed different plans (rank 0: plan " + root_id +
                               "): every rank must see the same inputs and options");
    if (comm_.root()) {
      try {
        prepare_run_dir(plan, opt, id);
      } catch (const std::exception& e) {
        err = e.what();
      }
    }
    err = comm_.broadcast(err);
    if (!err.empty()) throw std::runtime_error(err);
  }

  const fs::path shards_dir = fs::path(opt.run_dir) / "shards";
  const DupComm dup(comm_.get());
  Notices notices(dup.get());
  const ScopedStopHandlers handlers;
  std::function<void(const std::string&)> out;
  if (opt.progress_sink) out = opt.progress_sink;
  else if (opt.progress) out = [](const std::string& s) {
    std::fprintf(stderr, "%s\n", s.c_str());
    std::fflush(stderr);
  };
  std::unique_ptr<ProgressThread> progress;
  if (comm_.root() && out) progress = std::make_unique<ProgressThread>(plan, shards_dir.string(), opt, out);

  RankStats st;
  const uint32_t begin = plan.rank_begin[static_cast<size_t>(me)], end = plan.rank_begin[static_cast<size_t>(me) + 1];
  uint64_t failed = 0, processed = 0;
  bool signalled = false;
  double t_stop_known = 0, max_task = 0;  // when this rank learnt of a stop (its signal, or a peer's notice)
  std::string fail_msg;
  for (uint32_t i = begin; i < end;) {
    notices.poll();
    if (stop_requested() && !signalled) {
      signalled = true;
      const int64_t ns = g_stop_ns.load();
      t_stop_known = ns ? std::chrono::duration<double>(std::chrono::steady_clock::duration(ns)).count() : now_seconds();
      notices.send(Notices::kStop);
    }
    if (notices.peer_stopped() && t_stop_known == 0) t_stop_known = now_seconds();
    if (signalled || notices.peer_stopped() || (opt.fail_fast && (failed || notices.peer_failed()))) break;
    // The group: the next uncommitted tasks in order, up to group_rows rows (at least one task).
    // A committed shard ends it; met first, it is counted as reused.
    const double a = now_seconds();
    const uint32_t g0 = i;
    uint64_t rows = 0;
    bool reused = false;
    for (; i < end; ++i) {
      const Task& task = plan.tasks[i];
      const uint64_t task_rows = task.row_end - task.row_begin;
      if (i > g0 && (opt.group_rows == 0 || rows + task_rows > opt.group_rows)) break;
      if (shard_state((shards_dir / task.shard_name()).string(), id, &task) == ShardState::kCommitted) {
        reused = i == g0;
        break;
      }
      rows += task_rows;
    }
    if (reused) {
      ++st.tasks_reused;
      ++processed;
      ++i;
      continue;
    }
    const std::span<const Task> tasks(plan.tasks.data() + g0, i - g0);
    std::vector<std::unique_ptr<ShardWriter>> writers;
    size_t counted = 0;  // tasks of the group committed and counted
    auto count_committed = [&] {
      for (; counted < writers.size() && writers[counted]->committed(); ++counted) {
        st.bytes_read += writers[counted]->bytes_read();
        st.bytes_written += writers[counted]->bytes_written();
        ++st.tasks_run;
        st.weight_done += tasks[counted].weight;
      }
    };
    std::string error;
    try {
      double group_weight = 0;
      for (const Task& task : tasks) group_weight += task.weight;
      std::vector<ShardWriter*> wp;
      for (const Task& task : tasks) {
        const std::string path = (shards_dir / task.shard_name()).string();
        const std::string tmp = (shards_dir / (".tmp-" + task.shard_name() + "-" + std::to_string(me))).string();
        writers.push_back(std::make_unique<ShardWriter>(path, tmp, opt.sync_shards));
        ShardWriter& w = *writers.back();
        if (tasks.size() > 1)
          w.time_as_share(a, group_weight > 0 ? task.weight / group_weight : 1.0 / static_cast<double>(tasks.size()));
        h5::Group& g = w.group();
        g.set_attr("complete", int64_t{0});
        g.set_attr("plan_id", id);
        g.set_attr("job", opt.job);
        g.set_attr("task_index", static_cast<int64_t>(task.index));
        g.set_attr("key_lo", hex64(task.key_lo));
        g.set_attr("key_hi", hex64(task.key_hi));
        g.set_attr("precision", static_cast<int64_t>(task.precision));
        g.set_attr("cell", task.cell());
        g.set_attr("row_begin", static_cast<int64_t>(task.row_begin));
        g.set_attr("row_end", static_cast<int64_t>(task.row_end));
        g.set_attr("weight", task.weight);
        wp.push_back(&w);
      }
      fn(tasks, wp);
      for (auto& w : writers) {
        if (!w->committed()) w->commit(0);
      }
      count_committed();
      ++st.groups_run;
    } catch (const std::bad_alloc&) {
      error = kOutOfMemory;
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    if (!error.empty()) {
      count_committed();  // shards committed before the failure stay (complete)
      const Task& task = tasks[std::min(counted, tasks.size() - 1)];
      if (!failed)
        fail_msg = "task " + std::to_string(task.index) + " (" + task.shard_name() + ", cell " + task.cell() +
                   ") failed on rank " + std::to_string(me) +
                   (tasks.size() > 1 ? " (in a group of " + std::to_string(tasks.size()) + " tasks)" : std::string()) +
                   ": " + error;
      failed += std::max<size_t>(1, tasks.size() - counted);
      notices.send(Notices::kFail);
    }
    writers.clear();  // uncommitted temporaries are removed
    st.busy_seconds += now_seconds() - a;
    max_task = std::max(max_task, now_seconds() - a);
    processed += tasks.size();
  }
  const double t_loop_end = now_seconds();
  // A signal that came during this rank's last task (or after its tasks ran out) ends the run
  // too: its latency counts from the signal.
  if (t_stop_known == 0 && stop_requested()) {
    const int64_t ns = g_stop_ns.load();
    t_stop_known = ns ? std::chrono::duration<double>(std::chrono::steady_clock::duration(ns)).count() : t_loop_end;
  }
  const double stop_latency = t_stop_known > 0 ? std::max(0.0, t_loop_end - t_stop_known) : -1.0;

  // The final reduction: every rank gets here whatever happened in its loop.
  uint64_t local[2] = {failed, (end - begin) - processed}, global[2] = {0, 0};
  MPI_Allreduce(local, global, 2, MPI_UINT64_T, MPI_SUM, dup.get());
  st.idle_seconds = now_seconds() - t_loop_end;
  const std::string first_fail = first_error(dup.get(), fail_msg);
  notices.drain();
  if (progress) progress->stop();

  double dl[4] = {st.busy_seconds, st.idle_seconds, st.weight_done, stop_latency};
  const double max_task_all = comm_.max(max_task);
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  const uint64_t rss = static_cast<uint64_t>(ru.ru_maxrss) * 1024;  // Linux: kilobytes
  uint64_t ul[6] = {st.bytes_read, st.bytes_written, st.tasks_run, st.tasks_reused, rss, st.groups_run};
  std::vector<double> dall(4 * static_cast<size_t>(nranks));
  std::vector<uint64_t> uall(6 * static_cast<size_t>(nranks));
  MPI_Allgather(dl, 4, MPI_DOUBLE, dall.data(), 4, MPI_DOUBLE, dup.get());
  MPI_Allgather(ul, 6, MPI_UINT64_T, uall.data(), 6, MPI_UINT64_T, dup.get());

  RunResult res;
  res.plan_id = id;
  res.shards_total = plan.tasks.size();
  res.ranks.resize(static_cast<size_t>(nranks));
  for (int r = 0; r < nranks; ++r) {
    RankStats& s = res.ranks[static_cast<size_t>(r)];
    s.busy_seconds = dall[4 * r];
    s.idle_seconds = dall[4 * r + 1];
    s.weight_done = dall[4 * r + 2];
    s.bytes_read = uall[6 * r];
    s.bytes_written = uall[6 * r + 1];
    s.tasks_run = uall[6 * r + 2];
    s.tasks_reused = uall[6 * r + 3];
    s.peak_rss_bytes = uall[6 * r + 4];
    s.groups_run = uall[6 * r + 5];
    res.shards_committed += s.tasks_run;
    res.shards_reused += s.tasks_reused;
  }
  const uint64_t failures = global[0], skipped = global[1];
  res.interrupted = failures == 0 && skipped > 0;
  res.wall_seconds = now_seconds() - t_start;

  // The engine's part of the run record.
  nlohmann::json& j = res.record;
  j["job"] = opt.job;
  j["run_dir"] = opt.run_dir;
  j["plan_id"] = id;
  j["status"] = failures ? "failed" : res.interrupted ? "interrupted" : "ok";
  j["ranks"] = nranks;
  j["shards_total"] = res.shards_total;
  j["shards_committed"] = res.shards_committed;
  j["shards_reused"] = res.shards_reused;
  j["shards_failed"] = failures;
  j["tasks_not_run"] = skipped;
  j["group_rows"] = opt.group_rows;
  j["weight_unit"] = opt.weight_unit;
  j["weight_total"] = plan.total_weight();
  double weight_done = 0, busy_max = 0, busy_sum = 0;
  nlohmann::json per = {{"busy_seconds", nlohmann::json::array()},  {"idle_seconds", nlohmann::json::array()},
                        {"tasks_run", nlohmann::json::array()},     {"tasks_reused", nlohmann::json::array()},
                        {"bytes_read", nlohmann::json::array()},    {"bytes_written", nlohmann::json::array()},
                        {"weight_done", nlohmann::json::array()},   {"planned_load", nlohmann::json::array()},
                        {"peak_rss_bytes", nlohmann::json::array()}, {"groups_run", nlohmann::json::array()}};
  for (int r = 0; r < nranks; ++r) {
    const RankStats& s = res.ranks[static_cast<size_t>(r)];
    per["busy_seconds"].push_back(s.busy_seconds);
    per["idle_seconds"].push_back(s.idle_seconds);
    per["tasks_run"].push_back(s.tasks_run);
    per["tasks_reused"].push_back(s.tasks_reused);
    per["bytes_read"].push_back(s.bytes_read);
    per["bytes_written"].push_back(s.bytes_written);
    per["weight_done"].push_back(s.weight_done);
    per["planned_load"].push_back(plan.rank_load[static_cast<size_t>(r)]);
    per["peak_rss_bytes"].push_back(s.peak_rss_bytes);
    per["groups_run"].push_back(s.groups_run);
    weight_done += s.weight_done;
    busy_max = std::max(busy_max, s.busy_seconds);
    busy_sum += s.busy_seconds;
  }
  j["weight_done"] = weight_done;
  j["planned_imbalance"] = plan.imbalance();
  // Measured: max/mean of the time in task functions (null when nothing ran).
  j["measured_imbalance"] = busy_sum > 0 ? nlohmann::json(busy_max / (busy_sum / nranks)) : nlohmann::json(nullptr);
  j["wall_seconds"] = res.wall_seconds;
  if (const char* sj = std::getenv("SLURM_JOB_ID"); sj && *sj) j["slurm_job_id"] = sj;
  j["per_rank"] = std::move(per);
  // Stop latency: from the stop signal (or the peer's notice) to the end of each rank's task
  // loop, i.e. the task in hand finished and committed. Bounded by the longest task.
  {
    nlohmann::json lat = nlohmann::json::array();
    double lat_max = -1;
    for (int r = 0; r < nranks; ++r) {
      const double v = dall[4 * r + 3];
      lat.push_back(v >= 0 ? nlohmann::json(v) : nlohmann::json(nullptr));
      lat_max = std::max(lat_max, v);
    }
    if (lat_max >= 0)
      j["stop"] = {{"seconds_to_stop", lat}, {"max_seconds_to_stop", lat_max}, {"longest_task_seconds", max_task_all}};
  }

  if (out && comm_.root()) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "[%s] %s: %llu/%llu tasks (%llu run, %llu reused) on %d ranks, %s %s in %.1f s (%s %s/s)",
                  opt.job.c_str(), failures ? "failed" : res.interrupted ? "interrupted" : "done",
                  static_cast<unsigned long long>(res.shards_committed + res.shards_reused),
                  static_cast<unsigned long long>(res.shards_total), static_cast<unsigned long long>(res.shards_committed),
                  static_cast<unsigned long long>(res.shards_reused), nranks, human(weight_done).c_str(),
                  opt.weight_unit.c_str(), res.wall_seconds, human(res.wall_seconds > 0 ? weight_done / res.wall_seconds : 0).c_str(),
                  opt.weight_unit.c_str());
    out(buf);
  }

  if (failures) {
    std::string msg = first_fail;
    if (failures > 1) msg += " (and " + std::to_string(failures - 1) + " more failed tasks)";
    throw RunFailed(msg, std::move(res));
  }
  if (res.interrupted) clear_stop_request();
  return res;
}

nlohmann::json plan_options_json(const PlanOptions& o) {
  return {{"partition_precision", o.partition_precision},
          {"max_precision", o.max_precision},
          {"max_task_fraction", o.max_task_fraction},
          {"cost_from", o.cost_from.empty() ? std::string() : fs::absolute(o.cost_from).lexically_normal().string()}};
}

void write_run_json(const mpi::Comm& comm, const std::string& run_dir, const std::string& name, const nlohmann::json& j) {
  std::string error;
  if (comm.root()) {
    try {
      fs::create_directories(run_dir);
      write_atomically((fs::path(run_dir) / name).string(), [&](const std::string& tmp) {
        std::ofstream out(tmp);
        out << j.dump(2) << "\n";
        if (!out) throw std::runtime_error("cannot write '" + tmp + "'");
      });
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "cannot write '" + (fs::path(run_dir) / name).string() + "'";
    }
  }
  error = comm.broadcast(error);
  if (!error.empty()) throw std::runtime_error(error);
}

std::string gather_plan_id(const Plan& plan, const std::string& run_dir) {
  const std::string plan_path = (fs::path(run_dir) / "plan.json").string();
  if (!fs::exists(plan_path))
    throw std::runtime_error("'" + run_dir + "' has no plan.json: no run was started there");
  const nlohmann::json h = read_plan_header(plan_path);
  if (h.value("tasks_hash", std::string()) != tasks_hash(plan))
    throw std::runtime_error("the plan to gather differs from the one the run in '" + run_dir +
                             "' was made with (inputs or options changed)");
  return h.value("plan_id", std::string());
}

h5::File open_committed_shard(const std::string& run_dir, const Task& t, const std::string& plan_id) {
  const std::string path = shard_path(run_dir, t);
  const ShardState s = shard_state(path, plan_id, &t);
  if (s != ShardState::kCommitted)
    throw std::runtime_error("shard '" + path + "' of task " + std::to_string(t.index) + " (cell " + t.cell() +
                             ") is " + to_string(s) + ": run the job again with the same --run to complete it");
  return h5::File(path, h5::File::Mode::kRead);
}

void Engine::gather(const Plan& plan, const std::string& run_dir,
                    const std::function<void(const Task&, h5::Group& shard)>& fn) const {
  if (!comm_.root()) return;
  const std::string id = gather_plan_id(plan, run_dir);
  for (const Task& t : plan.tasks) {
    h5::File f = open_committed_shard(run_dir, t, id);
    h5::Group g = f.root().open_group("shard");
    fn(t, g);
  }
}

}  // namespace geoshard::engine
