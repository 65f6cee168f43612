#include "apps/cost.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <numeric>
#include <stdexcept>

#include "io/csv.h"
#include "io/output.h"
#include "io/toml_file.h"

namespace geoshard::cost {
namespace {

[[noreturn]] void bad(const std::string& path, const toml::node& n, const std::string& what) {
  throw std::runtime_error("price table " + toml_where(path, n.source()) + ": " + what);
}

std::string get_string(const std::string& path, const std::string& key, const toml::node& v) {
  if (!v.is_string()) bad(path, v, "'" + key + "' must be a string");
  return *v.value<std::string>();
}

double get_number(const std::string& path, const std::string& key, const toml::node& v, double lo, double hi,
                  bool lo_open) {
  if (!v.is_number()) bad(path, v, "'" + key + "' must be a number");
  const double x = *v.value<double>();
  if (!std::isfinite(x) || x < lo || (lo_open && x == lo) || x > hi) {
    char b[160];
    std::snprintf(b, sizeof b, "'%s' = %g is outside %s%g..%g%s", key.c_str(), x, lo_open ? "(" : "[", lo, hi, "]");
    bad(path, v, b);
  }
  return x;
}

int get_int(const std::string& path, const std::string& key, const toml::node& v, int lo, int hi) {
  if (!v.is_integer()) bad(path, v, "'" + key + "' must be an integer");
  const int64_t x = *v.value<int64_t>();
  if (x < lo || x > hi) bad(path, v, "'" + key + "' = " + std::to_string(x) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<int>(x);
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string fmt(const char* f, double x) {
  char b[64];
  std::snprintf(b, sizeof b, f, x);
  return b;
}

// A CSV field, quoted when it has a comma, quote or newline.
std::string csv(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string duration_text(double s) {
  if (s < 120) return fmt("%.2f s", s);
  if (s < 7200) return fmt("%.1f min", s / 60);
  return fmt("%.2f h", s / 3600);
}

}  // namespace

PriceTable read_price_table(const std::string& path) {
  const toml::table t = parse_toml_file(path, "price table");
  PriceTable p;
  p.path = path;
  bool have_date = false;
  for (auto&& [k, v] : t) {
    const std::string key(k.str());
    if (key == "source") {
      if (!v.is_table()) bad(path, v, "[source] must be a table");
      for (auto&& [sk, sv] : *v.as_table()) {
        const std::string s(sk.str());
        if (s == "provider") p.provider = get_string(path, s, sv);
        else if (s == "date") p.date = get_string(path, s, sv), have_date = true;
        else if (s == "url") p.url = get_string(path, s, sv);
        else if (s == "note") p.note = get_string(path, s, sv);
        else bad(path, sv, "unknown key '" + s + "' in [source] (known: provider, date, url, note)");
      }
    } else if (key == "billing") {
      if (!v.is_table()) bad(path, v, "[billing] must be a table");
      for (auto&& [bk, bv] : *v.as_table()) {
        const std::string s(bk.str());
        if (s == "minimum_seconds") {
          p.minimum_seconds = get_number(path, s, bv, 0, 1e7, false);
        } else if (s == "unit") {
          const std::string u = get_string(path, s, bv);
          if (u != "node" && u != "core") bad(path, bv, "'unit' = \"" + u + "\" must be \"node\" or \"core\"");
          p.per_core = u == "core";
        } else {
          bad(path, bv, "unknown key '" + s + "' in [billing] (known: unit, minimum_seconds)");
        }
      }
    } else if (key == "machine") {
      if (!v.is_table()) bad(path, v, "[machine] must hold one table per machine type, e.g. [machine.\"c7i.large\"]");
      for (auto&& [mk, mv] : *v.as_table()) {
        Machine m;
        m.name = std::string(mk.str());
        m.line = static_cast<int>(mv.source().begin.line);
        if (!mv.is_table()) bad(path, mv, "[machine." + m.name + "] must be a table");
        bool have_cores = false, have_mem = false, have_price = false;
        for (auto&& [fk, fv] : *mv.as_table()) {
          const std::string s(fk.str());
          if (s == "cores") m.cores = get_int(path, s, fv, 1, 1 << 20), have_cores = true;
          else if (s == "memory_gib") m.memory_gib = get_number(path, s, fv, 0, 1e9, true), have_mem = true;
          else if (s == "gpus") m.gpus = get_int(path, s, fv, 0, 1 << 16);
          else if (s == "price_per_hour") m.price_per_hour = get_number(path, s, fv, 0, 1e9, false), have_price = true;
          else if (s == "relative_speed") m.relative_speed = get_number(path, s, fv, 0, 1e6, true);
          else if (s == "note") get_string(path, s, fv);
          else
            bad(path, fv, "unknown key '" + s + "' in [machine." + m.name +
                              "] (known: cores, memory_gib, gpus, price_per_hour, relative_speed, note)");
        }
        const char* missing = !have_cores ? "cores" : !have_mem ? "memory_gib" : !have_price ? "price_per_hour" : nullptr;
        if (missing) bad(path, mv, "[machine." + m.name + "] has no '" + missing + "'");
        p.machines.push_back(std::move(m));
      }
    } else {
      bad(path, v, "unknown table '" + key + "' (known: [source], [billing], [machine.<type>])");
    }
  }
  if (!have_date)
    throw std::runtime_error("price table " + path + ": [source] date is required (prices change: say when they were read)");
  if (p.machines.empty()) throw std::runtime_error("price table " + path + ": no [machine.<type>] table");
  std::sort(p.machines.begin(), p.machines.end(), [](const Machine& a, const Machine& b) { return a.line < b.line; });
  return p;
}

const std::vector<std::string>& point_columns_required() {
  static const std::vector<std::string> c = {"nodes", "ranks_per_node", "threads_per_rank", "wall_s"};
  return c;
}

const std::vector<std::string>& point_columns_optional() {
  static const std::vector<std::string> c = {"job", "segments", "gpus_per_node", "grid_precision",
                                             "partition_precision", "peak_rss_per_rank_bytes", "git_revision",
                                             "slurm_job_id", "run"};
  return c;
}

std::vector<Point> read_points(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open points file '" + path + "'");
  const auto where = [&](int line, const std::string& col) {
    return "points file " + path + ":" + std::to_string(line) + (col.empty() ? "" : " column '" + col + "'") + ": ";
  };
  std::map<std::string, size_t> col;
  std::vector<Point> out;
  std::string line;
  int line_no = 0;
  bool header = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line == "\r" || line[0] == '#') continue;
    std::vector<std::string> f;
    try {
      f = split_csv_line(line);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(where(line_no, "") + e.what());
    }
    if (!header) {
      header = true;
      const auto& req = point_columns_required();
      const auto& opt = point_columns_optional();
      for (size_t i = 0; i < f.size(); ++i) {
        if (std::count(req.begin(), req.end(), f[i]) + std::count(opt.begin(), opt.end(), f[i]) == 0)
          throw std::runtime_error(where(line_no, f[i]) + "unknown column (known: " + join(req) + ", " + join(opt) + ")");
        if (!col.emplace(f[i], i).second) throw std::runtime_error(where(line_no, f[i]) + "column given twice");
      }
      for (const auto& r : req)
        if (!col.count(r)) throw std::runtime_error(where(line_no, r) + "required column missing (required: " + join(req) + ")");
      continue;
    }
    if (f.size() != col.size())
      throw std::runtime_error(where(line_no, "") + std::to_string(f.size()) + " fields, the header has " +
                               std::to_string(col.size()));
    const auto text = [&](const std::string& c) -> std::string {
      const auto it = col.find(c);
      return it == col.end() ? std::string() : f[it->second];
    };
    const auto number = [&](const std::string& c, double lo, double hi, bool lo_open, double dflt) -> double {
      const std::string s = text(c);
      if (s.empty()) {
        if (std::count(point_columns_required().begin(), point_columns_required().end(), c))
          throw std::runtime_error(where(line_no, c) + "empty");
        return dflt;
      }
      double x = 0;
      const auto r = std::from_chars(s.data(), s.data() + s.size(), x);
      if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(x))
        throw std::runtime_error(where(line_no, c) + "'" + s + "' is not a number");
      if (x < lo || (lo_open && x == lo) || x > hi)
        throw std::runtime_error(where(line_no, c) + "'" + s + "' is out of range");
      return x;
    };
    const auto integer = [&](const std::string& c, double lo, double hi, double dflt) -> int64_t {
      const double x = number(c, lo, hi, false, dflt);
      if (x != std::floor(x)) throw std::runtime_error(where(line_no, c) + "'" + text(c) + "' is not a whole number");
      return static_cast<int64_t>(x);
    };
    Point p;
    p.line = line_no;
    p.job = text("job");
    p.segments = static_cast<uint64_t>(integer("segments", 0, 1e15, 0));
    p.nodes = static_cast<int>(integer("nodes", 1, 1e6, 1));
    p.ranks_per_node = static_cast<int>(integer("ranks_per_node", 1, 1e6, 1));
    p.threads_per_rank = static_cast<int>(integer("threads_per_rank", 1, 1e5, 1));
    p.gpus_per_node = static_cast<int>(integer("gpus_per_node", 0, 1e4, 0));
    p.grid_precision = static_cast<int>(integer("grid_precision", 0, 12, 0));
    p.partition_precision = static_cast<int>(integer("partition_precision", 0, 12, 0));
    p.wall_seconds = number("wall_s", 0, 1e9, true, 0);
    p.peak_rss_per_rank_bytes = number("peak_rss_per_rank_bytes", 0, 1e15, false, 0);
    p.git_revision = text("git_revision");
    p.slurm_job_id = text("slurm_job_id");
    p.run = text("run");
    out.push_back(std::move(p));
  }
  if (!header) throw std::runtime_error("points file " + path + ": empty (no header line)");
  if (out.empty()) throw std::runtime_error("points file " + path + ": no rows after the header");
  return out;
}

Study evaluate(std::vector<Point> points, PriceTable prices, double memory_headroom) {
  if (!(memory_headroom >= 1.0)) throw std::invalid_argument("memory headroom must be >= 1");
  Study s;
  s.points = std::move(points);
  s.prices = std::move(prices);
  s.memory_headroom = memory_headroom;
  for (size_t i = 0; i < s.points.size(); ++i) {
    const Point& p = s.points[i];
    for (size_t j = 0; j < s.prices.machines.size(); ++j) {
      const Machine& m = s.prices.machines[j];
      Option o;
      o.point = i;
      o.machine = j;
      const int cores = p.ranks_per_node * p.threads_per_rank;
      const double mem_gib = p.ranks_per_node * p.peak_rss_per_rank_bytes * memory_headroom / (1024.0 * 1024 * 1024);
      if (cores > m.cores)
        o.why_not = "needs " + std::to_string(cores) + " cores per node; " + m.name + " has " + std::to_string(m.cores);
      else if (mem_gib > m.memory_gib)
        o.why_not = "needs " + fmt("%.2f", mem_gib) + " GiB per node (peak x " + fmt("%.2f", memory_headroom) + "); " +
                    m.name + " has " + fmt("%g", m.memory_gib);
      else if (p.gpus_per_node > m.gpus)
        o.why_not = "needs " + std::to_string(p.gpus_per_node) + " GPUs per node; " + m.name + " has " + std::to_string(m.gpus);
      o.fits = o.why_not.empty();
      o.runtime_seconds = p.wall_seconds / m.relative_speed;
      o.billed_seconds = std::max(o.runtime_seconds, s.prices.minimum_seconds);
      o.node_hours = p.nodes * o.billed_seconds / 3600.0;
      o.core_hours = o.node_hours * cores;
      o.cost = (s.prices.per_core ? o.core_hours : o.node_hours) * m.price_per_hour;
      s.options.push_back(std::move(o));
    }
  }
  for (size_t k : pareto_front(s.options)) s.options[k].pareto = true;
  return s;
}

std::vector<size_t> pareto_front(const std::vector<Option>& options) {
  std::vector<size_t> idx;
  for (size_t k = 0; k < options.size(); ++k)
    if (options[k].fits) idx.push_back(k);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    const Option &x = options[a], &y = options[b];
    if (x.runtime_seconds != y.runtime_seconds) return x.runtime_seconds < y.runtime_seconds;
    if (x.cost != y.cost) return x.cost < y.cost;
    return a < b;
  });
  // Sweep runtime groups in increasing order: a group's cheapest options are on the front when
  // they are cheaper than everything faster; all the others are beaten.
  std::vector<size_t> front;
  double best = INFINITY;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j < idx.size() && options[idx[j]].runtime_seconds == options[idx[i]].runtime_seconds) ++j;
    const double group_min = options[idx[i]].cost;  // sorted by cost within the group
    if (group_min < best) {
      for (size_t k = i; k < j && options[idx[k]].cost == group_min; ++k) front.push_back(idx[k]);
      best = group_min;
    }
    i = j;
  }
  return front;
}

std::optional<size_t> cheapest_within(const std::vector<Option>& options, double deadline_seconds) {
  std::optional<size_t> best;
  for (size_t k = 0; k < options.size(); ++k) {
    const Option& o = options[k];
    if (!o.fits || o.runtime_seconds > deadline_seconds) continue;
    if (!best) {
      best = k;
      continue;
    }
    const Option& b = options[*best];
    if (std::tie(o.cost, o.runtime_seconds, o.node_hours) < std::tie(b.cost, b.runtime_seconds, b.node_hours)) best = k;
  }
  return best;
}

std::optional<size_t> fastest(const std::vector<Option>& options) {
  std::optional<size_t> best;
  for (size_t k = 0; k < options.size(); ++k) {
    const Option& o = options[k];
    if (!o.fits) continue;
    if (!best || std::tie(o.runtime_seconds, o.cost) < std::tie(options[*best].runtime_seconds, options[*best].cost)) best = k;
  }
  return best;
}

double parse_duration(const std::string& text) {
  const auto fail = [&]() -> double {
    throw std::invalid_argument("'" + text + "' is not a duration (e.g. 90, 90s, 15m, 1.5h, 1h30m, 01:30:00)");
  };
  if (text.empty()) return fail();
  double total = 0;
  if (text.find(':') != std::string::npos) {  // [[H:]M:]S, Slurm's time format
    std::vector<double> parts;
    size_t start = 0;
    while (true) {
      const size_t end = std::min(text.find(':', start), text.size());
      const std::string f = text.substr(start, end - start);
      double x = 0;
      const auto r = std::from_chars(f.data(), f.data() + f.size(), x);
      if (f.empty() || r.ec != std::errc() || r.ptr != f.data() + f.size() || x < 0) return fail();
      parts.push_back(x);
      if (end == text.size()) break;
      start = end + 1;
    }
    if (parts.size() > 3) return fail();
    for (double x : parts) total = total * 60 + x;
  } else {
    size_t i = 0;
    while (i < text.size()) {
      double x = 0;
      const auto r = std::from_chars(text.data() + i, text.data() + text.size(), x);
      if (r.ec != std::errc() || x < 0) return fail();
      i = static_cast<size_t>(r.ptr - text.data());
      double unit = 1;
      if (i < text.size()) {
        const char u = text[i++];
        unit = u == 's' ? 1 : u == 'm' ? 60 : u == 'h' ? 3600 : u == 'd' ? 86400 : fail();
      } else if (total > 0) {
        return fail();  // "1h30": a bare number only alone
      }
      total += x * unit;
    }
  }
  if (!(total > 0) || !std::isfinite(total)) return fail();
  return total;
}

std::string describe(const Study& s, const Option& o) {
  const Point& p = s.points[o.point];
  std::string d = std::to_string(p.nodes) + (p.nodes == 1 ? " node" : " nodes") + " x " + std::to_string(p.ranks_per_node) +
                  (p.ranks_per_node == 1 ? " rank" : " ranks") + " x " + std::to_string(p.threads_per_rank) +
                  (p.threads_per_rank == 1 ? " thread" : " threads");
  if (p.gpus_per_node) d += " x " + std::to_string(p.gpus_per_node) + " GPU";
  if (p.grid_precision) d += "; grid P" + std::to_string(p.grid_precision);
  if (p.partition_precision) d += "; partition P" + std::to_string(p.partition_precision);
  return d + " on " + s.prices.machines[o.machine].name;
}

std::string summary(const Study& s, std::optional<double> deadline_seconds) {
  const auto front = pareto_front(s.options);
  const size_t fits = static_cast<size_t>(std::count_if(s.options.begin(), s.options.end(), [](const Option& o) { return o.fits; }));
  std::string t;
  const auto line = [&](const std::string& x) { t += x + "\n"; };
  line(std::to_string(s.points.size()) + " measured configurations x " + std::to_string(s.prices.machines.size()) +
       " machine types (" + s.prices.path + ", prices of " + s.prices.date +
       (s.prices.per_core ? ", billed per core-hour" : ", billed per node-hour") + "): " + std::to_string(fits) + " of " +
       std::to_string(s.options.size()) + " options fit, " + std::to_string(front.size()) + " on the Pareto front.");
  if (fits == 0) {
    line("No option fits: every machine type is too small for every configuration (see options.csv, why_not).");
    return t;
  }
  const auto show = [&](const Option& o) {
    return describe(s, o) + ": " + duration_text(o.runtime_seconds) + ", " + fmt("$%.6f", o.cost) + " (" +
           (s.prices.per_core ? fmt("%.6f", o.core_hours) + " core-hours)" : fmt("%.6f", o.node_hours) + " node-hours)");
  };
  line("Fastest:  " + show(s.options[*fastest(s.options)]));
  line("Cheapest: " + show(s.options[front.back()]));
  line("Pareto front (fastest first):");
  for (size_t k : front) line("  " + show(s.options[k]));
  if (deadline_seconds) {
    const auto c = cheapest_within(s.options, *deadline_seconds);
    if (c) {
      line("Cheapest within the deadline of " + duration_text(*deadline_seconds) + ": " + show(s.options[*c]));
    } else {
      line("No configuration meets the deadline of " + duration_text(*deadline_seconds) + "; the fastest takes " +
           duration_text(s.options[*fastest(s.options)].runtime_seconds) + ".");
    }
  }
  return t;
}

void write_outputs(const Study& s, const std::string& dir, std::optional<double> deadline_seconds) {
  const auto write_file = [](const std::string& path, const std::string& text) {
    write_atomically(path, [&](const std::string& tmp) {
      std::FILE* f = std::fopen(tmp.c_str(), "w");
      if (!f) throw std::runtime_error("cannot write '" + path + "'");
      const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
      if (std::fclose(f) != 0 || !ok) throw std::runtime_error("cannot write '" + path + "'");
    });
  };
  const std::string header =
      "job,segments,nodes,ranks_per_node,threads_per_rank,gpus_per_node,grid_precision,partition_precision,wall_s,"
      "peak_rss_per_rank_bytes,machine,machine_cores,machine_memory_gib,machine_gpus,price_per_hour,fits,why_not,"
      "runtime_s,billed_s,node_hours,core_hours,cost,pareto,meets_deadline,deadline_s,config,git_revision,slurm_job_id,run\n";
  const auto row = [&](const Option& o) {
    const Point& p = s.points[o.point];
    const Machine& m = s.prices.machines[o.machine];
    const bool meets = o.fits && deadline_seconds && o.runtime_seconds <= *deadline_seconds;
    return csv(p.job) + "," + std::to_string(p.segments) + "," + std::to_string(p.nodes) + "," +
           std::to_string(p.ranks_per_node) + "," + std::to_string(p.threads_per_rank) + "," +
           std::to_string(p.gpus_per_node) + "," + std::to_string(p.grid_precision) + "," +
           std::to_string(p.partition_precision) + "," + fmt("%.6f", p.wall_seconds) + "," +
           fmt("%.0f", p.peak_rss_per_rank_bytes) + "," + csv(m.name) + "," + std::to_string(m.cores) + "," +
           fmt("%g", m.memory_gib) + "," + std::to_string(m.gpus) + "," + fmt("%.6f", m.price_per_hour) + "," +
           (o.fits ? "1" : "0") + "," + csv(o.why_not) + "," + fmt("%.6f", o.runtime_seconds) + "," +
           fmt("%.6f", o.billed_seconds) + "," + fmt("%.9f", o.node_hours) + "," + fmt("%.9f", o.core_hours) + "," + fmt("%.9f", o.cost) + "," +
           (o.pareto ? "1" : "0") + "," + (meets ? "1" : "0") + "," +
           (deadline_seconds ? fmt("%.3f", *deadline_seconds) : std::string()) + "," + csv(describe(s, o)) + "," + csv(p.git_revision) +
           "," + csv(p.slurm_job_id) + "," + csv(p.run) + "\n";
  };
  std::string all = header, front = header;
  for (const Option& o : s.options) all += row(o);
  for (size_t k : pareto_front(s.options)) front += row(s.options[k]);
  write_file(dir + "/options.csv", all);
  write_file(dir + "/pareto.csv", front);
  write_file(dir + "/summary.txt", summary(s, deadline_seconds));
}

}  // namespace geoshard::cost
