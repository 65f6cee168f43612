// `geoshard submit job.toml`: the whole pipeline from one job file, submitted as Slurm batch jobs
// chained with --dependency=afterok (the gather last), from the templates in slurm/. The job
// file's keys are documented in docs/slurm.md; slurm/examples/synthetic.toml is one.
//
//   synth (when [region] asks for one) -> ingest roads, ingest areas -> cover -> localise,
//   links (when [links] enabled) -> gather (map.gpkg, with the links' columns)
//
// Inputs are passed to the templates as environment variables of the sbatch process (so values
// may hold any character); resources become sbatch options; every job runs in the work folder
// (--chdir), so its %x-%j.out lands there. A failed step fails its job and its dependents never
// start (afterok).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace geoshard::submit {

struct Resources {
  int nodes = 1, ntasks_per_node = 2, cpus_per_task = 1;
  int gpus_per_node = 0;  // > 0: --gres=gpu:N (GPU nodes; the jobs run on the CPU until the CUDA backend)
  std::string time = "01:00:00";
  std::string partition, account;  // "" = the cluster's default
};

struct JobFile {
  std::string path;                  // the file read
  std::string name = "pipeline";     // [job] name
  std::string work;                  // [job] work: absolute
  std::string geoshard;              // [job] geoshard: binary ("" = the running one)
  // [region]: a synthetic region, or real inputs.
  uint64_t synth_segments = 0, synth_seed = 1;
  std::string roads, areas_spec;     // absolute
  int precision = 7;                 // [grid]
  bool links = true;                 // [links] enabled
  Resources defaults;                // [resources]
  std::map<std::string, Resources> per_step;  // [resources.<step>]
};

// Reads and checks a job file. Throws std::runtime_error naming FILE:LINE and the key on a
// syntax error, an unknown table or key, a value of the wrong type or out of range, a missing
// [job] work, or a [region] that is neither synthetic nor real inputs.
JobFile read_job_file(const std::string& path);

struct Step {
  std::string name;                        // synth, ingest-roads, ... (the template's name)
  std::map<std::string, std::string> env;  // the template's inputs
  std::vector<std::string> after;          // steps it waits for (afterok)
  Resources res;
};

// The steps in submission order (every step after the ones it depends on).
std::vector<Step> plan_steps(const JobFile& job);

// The sbatch command for a step: argv, with the environment given separately.
std::vector<std::string> sbatch_argv(const JobFile& job, const Step& step, const std::string& slurm_dir,
                                     const std::vector<std::string>& dependency_ids);

struct Submitted {
  std::string step, job_id;
};

// Submits every step (sbatch --parsable), in order; returns the ids. With dry_run, submits
// nothing and returns ids "<step>" (the commands are printed to `log` either way when set).
// Throws naming the step when sbatch fails (the steps submitted before it stay queued: their
// ids are in the message, for scancel).
std::vector<Submitted> submit(const JobFile& job, const std::string& slurm_dir, const std::string& geoshard,
                              bool dry_run, std::FILE* log);

}  // namespace geoshard::submit
