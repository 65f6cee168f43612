// Fuzz target: the job file reader of `geoshard submit` (apps/submit.h), then the steps and
// sbatch commands it plans. Input: the TOML file. Checked: the reader either throws
// std::runtime_error naming the file, or returns a job whose every step has an sbatch command
// with sane resources, and whose dependencies name earlier steps only.
#include <set>
#include <stdexcept>

#include "apps/submit.h"
#include "tests/fuzz/fuzz.h"

using namespace geoshard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input("job.toml", data, size);
  submit::JobFile job;
  try {
    job = submit::read_job_file(path);
  } catch (const std::runtime_error& e) {
    FUZZ_CHECK(std::string(e.what()).find(path) != std::string::npos);
    return 0;
  }
  FUZZ_CHECK(!job.work.empty() && job.work.front() == '/');
  FUZZ_CHECK(job.precision >= 1 && job.precision <= 12);
  const auto steps = submit::plan_steps(job);
  FUZZ_CHECK(!steps.empty());
  std::set<std::string> planned;
  for (const auto& step : steps) {
    for (const auto& a : step.after) FUZZ_CHECK(planned.count(a));
    FUZZ_CHECK(step.res.nodes >= 1 && step.res.ntasks_per_node >= 1 && step.res.cpus_per_task >= 1 &&
               step.res.gpus_per_node >= 0);
    const auto argv = submit::sbatch_argv(job, step, "/nonexistent/slurm", std::vector<std::string>(step.after.size(), "1"));
    FUZZ_CHECK(!argv.empty() && argv.front() == "sbatch");
    planned.insert(step.name);
  }
  return 0;
}
