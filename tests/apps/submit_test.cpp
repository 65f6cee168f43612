// geoshard submit: the job-file reader (every key, relative paths, bad files named with their
// line) and the planned chain of sbatch commands (dependencies, resources, inputs). The real
// submission to a Slurm cluster is tests/slurm/slurm_pipeline_test.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "apps/submit.h"
#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

const submit::Step& step(const std::vector<submit::Step>& s, const std::string& name) {
  const auto it = std::find_if(s.begin(), s.end(), [&](const submit::Step& x) { return x.name == name; });
  if (it == s.end()) throw std::runtime_error("no step " + name);
  return *it;
}

TEST(Submit, ShippedExampleReadsAndPlansTheWholeChain) {
  const std::string ex = std::string(GEOSHARD_SOURCE_DIR) + "/slurm/examples/synthetic.toml";
  const submit::JobFile j = submit::read_job_file(ex);
  EXPECT_EQ(j.name, "synthetic");
  EXPECT_EQ(j.work, std::string(GEOSHARD_SOURCE_DIR) + "/out/slurm-synthetic");  // relative to the file
  EXPECT_EQ(j.synth_segments, 200000u);
  EXPECT_TRUE(j.links);
  EXPECT_EQ(j.defaults.ntasks_per_node, 2);
  EXPECT_EQ(j.per_step.at("localise").time, "01:00:00");
  EXPECT_EQ(j.per_step.at("localise").ntasks_per_node, 2);  // from the defaults
  const auto steps = submit::plan_steps(j);
  std::vector<std::string> names;
  for (const auto& s : steps) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"synth", "ingest-roads", "ingest-areas", "cover", "localise", "links", "gather"}));
  // Every step comes after the steps it waits for.
  for (size_t i = 0; i < steps.size(); ++i)
    for (const auto& a : steps[i].after) {
      const auto k = std::find(names.begin(), names.end(), a) - names.begin();
      EXPECT_LT(static_cast<size_t>(k), i) << steps[i].name << " after " << a;
    }
  EXPECT_EQ(step(steps, "localise").after, (std::vector<std::string>{"ingest-roads", "cover"}));
  EXPECT_EQ(step(steps, "gather").after, (std::vector<std::string>{"localise", "links"}));
  EXPECT_EQ(step(steps, "gather").env.at("LINKS_RUN"), j.work + "/links-run");
  EXPECT_EQ(step(steps, "ingest-roads").env.at("IN"), j.work + "/region/roads.fgb");
  EXPECT_EQ(step(steps, "ingest-roads").res.ntasks_per_node, 1);  // one process, whatever the defaults
  EXPECT_EQ(step(steps, "synth").env.at("SEGMENTS"), "200000");
  EXPECT_EQ(step(steps, "cover").env.at("PRECISION"), "7");
  const auto argv = submit::sbatch_argv(j, step(steps, "gather"), "/s", {"11", "12"});
  EXPECT_EQ(argv.front(), "sbatch");
  EXPECT_EQ(argv.back(), "/s/gather.sbatch");
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--dependency=afterok:11:12"), argv.end());
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--chdir=" + j.work), argv.end());
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--job-name=geoshard-synthetic-gather"), argv.end());
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--ntasks-per-node=2"), argv.end());
  // Dry run: ids are the step names, nothing is created.
  const auto ids = submit::submit(j, "/s", "/bin/geoshard", true, nullptr);
  ASSERT_EQ(ids.size(), steps.size());
  EXPECT_EQ(ids.back().job_id, "gather");
}

TEST(Submit, RealInputsWithoutLinksAndPerStepResources) {
  testing::TempDir d;
  const std::string p = d.write("job.toml", R"(
[job]
work = "out"
[region]
roads = "data/roads.osm.pbf"
areas_spec = "/abs/areas.toml"
[links]
enabled = false
[resources]
nodes = 4
ntasks_per_node = 32
partition = "compute"
[resources.localise]
gpus_per_node = 2
[resources.cover]
nodes = 1
)");
  const submit::JobFile j = submit::read_job_file(p);
  EXPECT_EQ(j.work, d.file("out"));
  EXPECT_EQ(j.roads, d.file("data/roads.osm.pbf"));
  EXPECT_EQ(j.areas_spec, "/abs/areas.toml");
  const auto steps = submit::plan_steps(j);
  for (const auto& s : steps) EXPECT_NE(s.name, "links");
  for (const auto& s : steps) EXPECT_NE(s.name, "synth");
  EXPECT_EQ(step(steps, "gather").after, std::vector<std::string>{"localise"});
  EXPECT_EQ(step(steps, "gather").env.count("LINKS_RUN"), 0u);
  EXPECT_EQ(step(steps, "ingest-roads").after, std::vector<std::string>{});
  EXPECT_EQ(step(steps, "localise").res.nodes, 4);
  EXPECT_EQ(step(steps, "cover").res.nodes, 1);
  EXPECT_EQ(step(steps, "cover").res.ntasks_per_node, 32);
  const auto argv = submit::sbatch_argv(j, step(steps, "localise"), "/s", {});
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--partition=compute"), argv.end());
  EXPECT_NE(std::find(argv.begin(), argv.end(), "--gres=gpu:2"), argv.end());
  for (const auto& a : argv) EXPECT_EQ(a.rfind("--dependency", 0), std::string::npos);
  const auto cover_argv = submit::sbatch_argv(j, step(steps, "cover"), "/s", {});
  for (const auto& a : cover_argv) EXPECT_EQ(a.rfind("--gres", 0), std::string::npos) << a;
}

TEST(Submit, BadJobFilesAreNamedWithTheirLine) {
  testing::TempDir d;
  const std::map<std::string, std::pair<std::string, std::string>> cases = {
      {"unknown_table", {"[job]\nwork = \"o\"\n[region]\nsynth_segments = 5\n[gird]\nprecision = 7\n", "job.toml:5: unknown table 'gird'"}},
      {"unknown_key", {"[job]\nwork = \"o\"\nwrk = \"x\"\n[region]\nsynth_segments = 5\n", "job.toml:3: unknown key 'wrk' in [job]"}},
      {"wrong_type", {"[job]\nwork = \"o\"\n[region]\nsynth_segments = \"many\"\n", "job.toml:4: 'synth_segments' must be an integer"}},
      {"out_of_range", {"[job]\nwork = \"o\"\n[region]\nsynth_segments = 5\n[grid]\nprecision = 13\n", "job.toml:6: 'precision' = 13 is outside 1..12"}},
      {"bad_resource", {"[job]\nwork = \"o\"\n[region]\nsynth_segments = 5\n[resources.localise]\nmemory = 2\n", "job.toml:6: unknown key 'memory' in [resources]"}},
      {"no_work", {"[region]\nsynth_segments = 5\n", "[job] work (the output folder) is missing"}},
      {"no_region", {"[job]\nwork = \"o\"\n", "not neither"}},
      {"both_regions", {"[job]\nwork = \"o\"\n[region]\nsynth_segments = 5\nroads = \"r\"\nareas_spec = \"a\"\n", "not both"}},
      {"half_real", {"[job]\nwork = \"o\"\n[region]\nroads = \"r\"\n", "needs both roads and areas_spec"}},
      {"syntax", {"[job\nwork = 1\n", "job.toml:1:"}},
  };
  for (const auto& [name, c] : cases) {
    testing::TempDir sub;
    const std::string p = sub.write("job.toml", c.first);
    try {
      submit::read_job_file(p);
      ADD_FAILURE() << name << ": accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(c.second), std::string::npos) << name << ": " << e.what();
    }
  }
  EXPECT_THROW(submit::read_job_file(d.file("missing.toml")), std::runtime_error);
}

}  // namespace
}  // namespace geoshard
