#include "apps/submit.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "io/toml_file.h"

namespace geoshard::submit {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void bad(const std::string& path, const toml::node& n, const std::string& what) {
  throw std::runtime_error("job file " + toml_where(path, n.source()) + ": " + what);
}

std::string get_string(const std::string& path, const std::string& key, const toml::node& v) {
  if (!v.is_string()) bad(path, v, "'" + key + "' must be a string");
  return *v.value<std::string>();
}

int64_t get_int(const std::string& path, const std::string& key, const toml::node& v, int64_t lo, int64_t hi) {
  if (!v.is_integer()) bad(path, v, "'" + key + "' must be an integer");
  const int64_t x = *v.value<int64_t>();
  if (x < lo || x > hi) bad(path, v, "'" + key + "' = " + std::to_string(x) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
  return x;
}

const std::vector<std::string>& step_names() {
  static const std::vector<std::string> s = {"synth", "ingest-roads", "ingest-areas", "cover", "localise", "links", "gather"};
  return s;
}

void read_resources(const std::string& path, const toml::table& t, Resources& r, bool allow_steps,
                    std::map<std::string, Resources>* per_step) {
  for (auto&& [k, v] : t) {
    const std::string key(k.str());
    if (key == "nodes") r.nodes = static_cast<int>(get_int(path, key, v, 1, 100000));
    else if (key == "ntasks_per_node") r.ntasks_per_node = static_cast<int>(get_int(path, key, v, 1, 100000));
    else if (key == "cpus_per_task") r.cpus_per_task = static_cast<int>(get_int(path, key, v, 1, 4096));
    else if (key == "gpus_per_node") r.gpus_per_node = static_cast<int>(get_int(path, key, v, 0, 1024));
    else if (key == "time") r.time = get_string(path, key, v);
    else if (key == "partition") r.partition = get_string(path, key, v);
    else if (key == "account") r.account = get_string(path, key, v);
    else if (allow_steps && std::count(step_names().begin(), step_names().end(), key)) {
      if (!v.is_table()) bad(path, v, "[resources." + key + "] must be a table");
    } else {
      std::string known = "nodes, ntasks_per_node, cpus_per_task, gpus_per_node, time, partition, account";
      if (allow_steps) known += ", and a table per step (synth, ingest-roads, ingest-areas, cover, localise, links, gather)";
      bad(path, v, "unknown key '" + key + "' in [resources] (known: " + known + ")");
    }
  }
  if (!allow_steps) return;
  // Per-step tables start from the defaults read above.
  for (auto&& [k, v] : t) {
    const std::string key(k.str());
    if (!v.is_table()) continue;
    Resources s = r;
    read_resources(path, *v.as_table(), s, false, nullptr);
    (*per_step)[key] = s;
  }
}

// Single-quoted for a POSIX shell (for printing the commands).
std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

JobFile read_job_file(const std::string& path) {
  const toml::table doc = parse_toml_file(path, "job file");
  JobFile j;
  j.path = fs::absolute(path).lexically_normal().string();
  const fs::path base = fs::path(j.path).parent_path();
  auto abs = [&](const std::string& p) { return fs::path(p).is_relative() ? (base / p).lexically_normal().string() : p; };
  auto table = [&](const std::string& key, const toml::node& v) -> const toml::table& {
    if (!v.is_table()) bad(path, v, "'" + key + "' must be a table ([" + key + "])");
    return *v.as_table();
  };
  for (auto&& [k, v] : doc) {
    const std::string sect(k.str());
    if (sect == "job") {
      for (auto&& [k2, v2] : table(sect, v)) {
        const std::string key(k2.str());
        if (key == "name") j.name = get_string(path, key, v2);
        else if (key == "work") j.work = abs(get_string(path, key, v2));
        else if (key == "geoshard") j.geoshard = abs(get_string(path, key, v2));
        else bad(path, v2, "unknown key '" + key + "' in [job] (known: name, work, geoshard)");
      }
    } else if (sect == "region") {
      for (auto&& [k2, v2] : table(sect, v)) {
        const std::string key(k2.str());
        if (key == "synth_segments") j.synth_segments = static_cast<uint64_t>(get_int(path, key, v2, 1, int64_t{1} << 40));
        else if (key == "synth_seed") j.synth_seed = static_cast<uint64_t>(get_int(path, key, v2, 0, INT64_MAX));
        else if (key == "roads") j.roads = abs(get_string(path, key, v2));
        else if (key == "areas_spec") j.areas_spec = abs(get_string(path, key, v2));
        else bad(path, v2, "unknown key '" + key + "' in [region] (known: synth_segments, synth_seed, roads, areas_spec)");
      }
    } else if (sect == "grid") {
      for (auto&& [k2, v2] : table(sect, v)) {
        const std::string key(k2.str());
        if (key == "precision") j.precision = static_cast<int>(get_int(path, key, v2, 1, 12));
        else bad(path, v2, "unknown key '" + key + "' in [grid] (known: precision)");
      }
    } else if (sect == "links") {
      for (auto&& [k2, v2] : table(sect, v)) {
        const std::string key(k2.str());
        if (key != "enabled") bad(path, v2, "unknown key '" + key + "' in [links] (known: enabled)");
        if (!v2.is_boolean()) bad(path, v2, "'enabled' must be true or false");
        j.links = *v2.value<bool>();
      }
    } else if (sect == "resources") {
      read_resources(path, table(sect, v), j.defaults, true, &j.per_step);
    } else {
      bad(path, v, "unknown table '" + sect + "' (known: job, region, grid, links, resources)");
    }
  }
  if (j.work.empty()) throw std::runtime_error("job file '" + path + "': [job] work (the output folder) is missing");
  const bool synth = j.synth_segments > 0, real = !j.roads.empty() || !j.areas_spec.empty();
  if (synth == real)
    throw std::runtime_error("job file '" + path + "': [region] needs either synth_segments (a synthetic region) or roads and " +
                             "areas_spec (real inputs), not " + (synth ? "both" : "neither"));
  if (real && (j.roads.empty() || j.areas_spec.empty()))
    throw std::runtime_error("job file '" + path + "': [region] needs both roads and areas_spec");
  return j;
}

std::vector<Step> plan_steps(const JobFile& job) {
  const std::string w = job.work;
  auto res = [&](const std::string& s) {
    const auto it = job.per_step.find(s);
    return it != job.per_step.end() ? it->second : job.defaults;
  };
  std::vector<Step> steps;
  std::string roads_in = job.roads, spec = job.areas_spec;
  std::vector<std::string> inputs_after;
  if (job.synth_segments > 0) {
    Step s{"synth", {{"REGION", w + "/region"}, {"SEGMENTS", std::to_string(job.synth_segments)}, {"SEED", std::to_string(job.synth_seed)}}, {}, res("synth")};
    s.res.nodes = 1, s.res.ntasks_per_node = 1;  // one process
    steps.push_back(s);
    roads_in = w + "/region/roads.fgb";
    spec = w + "/region/areas.toml";
    inputs_after = {"synth"};
  }
  Step ir{"ingest-roads", {{"IN", roads_in}, {"ROADS", w + "/roads.h5"}}, inputs_after, res("ingest-roads")};
  Step ia{"ingest-areas", {{"SPEC", spec}, {"AREAS", w + "/areas.h5"}}, inputs_after, res("ingest-areas")};
  ir.res.nodes = ia.res.nodes = 1;  // ingest is one process
  ir.res.ntasks_per_node = ia.res.ntasks_per_node = 1;
  steps.push_back(ir);
  steps.push_back(ia);
  steps.push_back(Step{"cover", {{"AREAS", w + "/areas.h5"}, {"COVERAGE", w + "/coverage.h5"}, {"PRECISION", std::to_string(job.precision)}},
                       {"ingest-areas"}, res("cover")});
  steps.push_back(Step{"localise", {{"ROADS", w + "/roads.h5"}, {"COVERAGE", w + "/coverage.h5"}, {"RUN", w + "/run"}},
                       {"ingest-roads", "cover"}, res("localise")});
  std::vector<std::string> gather_after = {"localise"};
  std::map<std::string, std::string> gather_env = {{"RUN", w + "/run"}, {"MAP", w + "/map.gpkg"}};
  if (job.links) {
    steps.push_back(Step{"links", {{"ROADS", w + "/roads.h5"}, {"LINKS_RUN", w + "/links-run"}, {"LINKS_CSV", w + "/links.csv"}},
                         {"ingest-roads"}, res("links")});
    gather_after.push_back("links");
    gather_env["LINKS_RUN"] = w + "/links-run";
  }
  steps.push_back(Step{"gather", gather_env, gather_after, res("gather")});
  return steps;
}

std::vector<std::string> sbatch_argv(const JobFile& job, const Step& step, const std::string& slurm_dir,
                                     const std::vector<std::string>& dependency_ids) {
  const Resources& r = step.res;
  std::vector<std::string> a = {"sbatch", "--parsable", "--job-name=geoshard-" + job.name + "-" + step.name,
                                "--chdir=" + job.work, "--nodes=" + std::to_string(r.nodes),
                                "--ntasks-per-node=" + std::to_string(r.ntasks_per_node),
                                "--cpus-per-task=" + std::to_string(r.cpus_per_task), "--time=" + r.time};
  if (r.gpus_per_node > 0) a.push_back("--gres=gpu:" + std::to_string(r.gpus_per_node));
  if (!r.partition.empty()) a.push_back("--partition=" + r.partition);
  if (!r.account.empty()) a.push_back("--account=" + r.account);
  if (!dependency_ids.empty()) {
    std::string d = "--dependency=afterok";
    for (const auto& id : dependency_ids) d += ":" + id;
    a.push_back(d);
    a.push_back("--kill-on-invalid-dep=yes");  // a failed step cancels the rest of the chain
  }
  a.push_back((fs::path(slurm_dir) / (step.name + ".sbatch")).string());
  return a;
}

std::vector<Submitted> submit(const JobFile& job, const std::string& slurm_dir, const std::string& geoshard, bool dry_run,
                              std::FILE* log) {
  if (!dry_run) {
    std::error_code ec;
    fs::create_directories(job.work, ec);
    if (ec) throw std::runtime_error("cannot create the work folder '" + job.work + "': " + ec.message());
  }
  std::map<std::string, std::string> id_of;
  std::vector<Submitted> out;
  for (const Step& s : plan_steps(job)) {
    std::vector<std::string> deps;
    for (const auto& a : s.after) deps.push_back(id_of.at(a));
    const std::vector<std::string> argv = sbatch_argv(job, s, slurm_dir, deps);
    std::map<std::string, std::string> env = s.env;
    env["GEOSHARD"] = geoshard;
    env["GEOSHARD_SLURM"] = slurm_dir;
    if (log) {
      std::string line;
      for (const auto& [k, v] : env) line += k + "=" + quote(v) + " ";
      for (const auto& x : argv) line += quote(x) + " ";
      std::fprintf(log, "[submit] %s\n", line.c_str());
    }
    std::string id = s.name;
    if (!dry_run) {
      int fd[2];
      if (pipe(fd) != 0) throw std::runtime_error("cannot create a pipe for sbatch");
      const pid_t pid = fork();
      if (pid < 0) throw std::runtime_error("cannot fork for sbatch");
      if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> cargv;
        for (const auto& x : argv) cargv.push_back(const_cast<char*>(x.c_str()));
        cargv.push_back(nullptr);
        execvp(cargv[0], cargv.data());
        std::fprintf(stderr, "geoshard submit: cannot run sbatch: %s\n", std::strerror(errno));
        _exit(127);
      }
      close(fd[1]);
      std::string text;
      char buf[256];
      for (ssize_t n; (n = read(fd[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
      close(fd[0]);
      int status = 0;
      waitpid(pid, &status, 0);
      id = text.substr(0, text.find_first_of(";\n"));
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || id.empty() ||
          id.find_first_not_of("0123456789") != std::string::npos) {
        std::string queued;
        for (const auto& q : out) queued += " " + q.job_id;
        throw std::runtime_error("sbatch failed for step '" + s.name + "' (exit " +
                                 std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ", output '" + text + "')" +
                                 (queued.empty() ? std::string() : "; already queued (scancel them):" + queued));
      }
    }
    id_of[s.name] = id;
    out.push_back(Submitted{s.name, id});
  }
  return out;
}

}  // namespace geoshard::submit
