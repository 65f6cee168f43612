// The geoshard command as a user meets it: --help, exit codes, errors that name the file,
// run records and dead letters on disk, and the bad-fraction verdict.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/area_table.h"
#include "tests/cover/test_areas.h"
#include "tests/testing/ogr_fixture.h"
#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

struct Result {
  int code;
  std::string output;  // stdout + stderr
};

Result run_shell(const std::string& command) {
  const std::string cmd = command + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

Result run(const std::string& args) { return run_shell(std::string(GEOSHARD_EXE) + " " + args); }

TEST(Cli, HelpExplainsSubcommandsAndExitCodes) {
  const Result r = run("--help");
  EXPECT_EQ(r.code, 0);
  for (const char* s : {"ingest", "synth", "Exit codes", "too many bad records", "run record"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  const Result ir = run("ingest roads --help");
  EXPECT_EQ(ir.code, 0);
  for (const char* s : {"--in", "--out", "--id-field", "--max-bad-fraction", "osm.pbf"})
    EXPECT_NE(ir.output.find(s), std::string::npos) << s;
  EXPECT_EQ(run("ingest areas --help").code, 0);
  EXPECT_EQ(run("synth --help").code, 0);
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("").code, 2);
  EXPECT_EQ(run("frobnicate").code, 2);
  EXPECT_EQ(run("ingest roads --in x.pbf").code, 2);  // --out missing
  EXPECT_EQ(run("ingest areas --out a.h5").code, 2);  // neither --spec nor --in
}

TEST(Cli, MissingInputNamesTheFileAndExitsOne) {
  testing::TempDir dir;
  const Result r = run("ingest roads --in " + dir.file("absent.osm.pbf") + " --out " + dir.file("r.h5"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("absent.osm.pbf"), std::string::npos) << r.output;
  std::ifstream rec(dir.file("r.h5.run.json"));
  ASSERT_TRUE(rec.good()) << "a failed run leaves its record";
  const auto j = nlohmann::json::parse(rec);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_NE(j["error"].get<std::string>().find("absent.osm.pbf"), std::string::npos);
  const Result w = run("ingest roads --in " + dir.file("absent.osm.pbf") + " --out /nonexistent-folder/r.h5");
  EXPECT_EQ(w.code, 1);
  EXPECT_NE(w.output.find("/nonexistent-folder"), std::string::npos) << w.output;
}

TEST(Cli, BadFractionDecidesTheExitCodeAndRecordsWhy) {
  testing::TempDir dir;
  {
    testing::OgrFixture fx(dir.file("r.gpkg"), "GPKG", "r", wkbLineString, {{"id", OFTInteger64}});
    for (int i = 0; i < 10; ++i)
      fx.add([&](OGRFeature& f) { f.SetField("id", i); },
             i < 3 ? testing::line({{1.0, 1.0}, {1.0, 1.0}}) : testing::line({{1.0, 1.0 + i}, {1.1, 1.0 + i}}));
    fx.close();
  }
  const std::string base = "ingest roads -q --in " + dir.file("r.gpkg") + " --out " + dir.file("r.h5");
  const Result strict = run(base + " --max-bad-fraction 0.2 --report " + dir.file("report.json"));
  EXPECT_EQ(strict.code, 3) << strict.output;
  EXPECT_NE(strict.output.find("3 of 10"), std::string::npos) << strict.output;
  std::ifstream in(dir.file("report.json"));
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["status"], "too_many_bad_records");
  EXPECT_EQ(j["records_in"], 10);
  EXPECT_EQ(j["records_out"], 7);
  EXPECT_EQ(j["dead_letter"]["TOO_FEW_POINTS"], 3);
  const Result lenient = run(base + " --max-bad-fraction 0.5");
  EXPECT_EQ(lenient.code, 0) << lenient.output;
  std::ifstream rec(dir.file("r.h5.run.json"));
  EXPECT_EQ(nlohmann::json::parse(rec)["status"], "ok");
  EXPECT_EQ(run(base + " --max-bad-fraction 1.5").code, 2);
  // The output opens in the standard HDF5 tool.
  if (std::system("command -v h5dump >/dev/null 2>&1") == 0) {
    const Result d = Result(run_shell("h5dump -H " + dir.file("r.h5")));
    EXPECT_EQ(d.code, 0) << d.output;
    EXPECT_NE(d.output.find("vertex_offset"), std::string::npos);
  }
}

// --backend on every job: auto falls back to the CPU on a machine without a GPU and says so in
// the log and the run record; cuda without a GPU is a clear error before any work; results do
// not depend on the choice.
TEST(Cli, BackendChoiceIsLoggedRecordedAndCudaWithoutAGpuIsAClearError) {
  testing::TempDir dir;
  ASSERT_EQ(run("synth -q --segments 3000 --seed 2 --out " + dir.file("reg")).code, 0);
  for (const char* sub : {"synth", "ingest roads", "ingest areas", "ingest images", "cover", "localise", "gather",
                          "links", "blur"}) {
    const Result h = run(std::string(sub) + " --help");
    EXPECT_NE(h.output.find("--backend"), std::string::npos) << sub;
  }
  const std::string roads = "ingest roads --in " + dir.file("reg/roads.fgb") + " --out ";
  const Result a = run(roads + dir.file("auto.h5") + " -q");
  ASSERT_EQ(a.code, 0) << a.output;
  std::ifstream ra(dir.file("auto.h5.run.json"));
  const auto ja = nlohmann::json::parse(ra);
  ASSERT_TRUE(ja.contains("backend")) << ja.dump();
  EXPECT_NE(a.output.find(std::string("[geoshard] backend: ") + ja["backend"].get<std::string>()), std::string::npos)
      << a.output;
  EXPECT_FALSE(ja["backend_reason"].get<std::string>().empty());
  EXPECT_EQ(ja["backend_stages"].size(), 1u) << ja.dump();
  const Result c = run(roads + dir.file("cpu.h5") + " -q --backend cpu");
  ASSERT_EQ(c.code, 0) << c.output;
  std::ifstream rc(dir.file("cpu.h5.run.json"));
  EXPECT_EQ(nlohmann::json::parse(rc)["backend"], "cpu");
  // The same table whichever backend computed the keys.
  const Result d = run_shell("h5dump " + dir.file("auto.h5") + " | tail -n +2 > " + dir.file("a.txt") + " && h5dump " +
                             dir.file("cpu.h5") + " | tail -n +2 > " + dir.file("c.txt") + " && cmp " + dir.file("a.txt") +
                             " " + dir.file("c.txt"));
  EXPECT_EQ(d.code, 0) << d.output;
  if (ja["backend"] == "cpu") {  // no GPU here: --backend cuda must refuse, naming why
    const Result g = run(roads + dir.file("gpu.h5") + " -q --backend cuda");
    EXPECT_EQ(g.code, 1) << g.output;
    EXPECT_NE(g.output.find("geoshard ingest roads: error: --backend cuda:"), std::string::npos) << g.output;
    EXPECT_NE(g.output.find("--backend auto|cpu"), std::string::npos) << g.output;
    EXPECT_FALSE(std::ifstream(dir.file("gpu.h5")).good()) << "no work is done";
  }
  EXPECT_EQ(run(roads + dir.file("x.h5") + " --backend gpu").code, 2);
}

TEST(Cli, CoverDeadLettersBadAreasWithReasonCodes) {
  // An areas.h5 written by another tool, with one good area and the bad-area corpus
  // (tests/cover/test_areas.h): cover completes, every bad area is a dead letter with its
  // reason code, the accounting holds, and the bad fraction decides the exit code.
  testing::TempDir dir;
  AreaLayer l;
  l.name = "zones";
  testing::add_raw_area(l, "good", {{{{20.0, 10.0}, {20.5, 10.0}, {20.5, 10.5}, {20.0, 10.5}, {20.0, 10.0}}}});
  const auto bad = testing::add_bad_areas(l, 20.1, 10.1);
  write_area_layers({l}, dir.file("areas.h5"));
  const std::string base = "cover -q --areas " + dir.file("areas.h5") + " --precision 5 --out " + dir.file("cov.h5");
  const Result strict = run(base);
  EXPECT_EQ(strict.code, 3) << strict.output;  // 10 of 11 > --max-bad-fraction 0.05
  const Result lenient = run(base + " --max-bad-fraction 1");
  ASSERT_EQ(lenient.code, 0) << lenient.output;
  std::ifstream rec(dir.file("cov.h5.run.json"));
  const auto j = nlohmann::json::parse(rec);
  EXPECT_EQ(j["records_in"], 1 + bad.size());
  EXPECT_EQ(j["records_out"], 1);
  EXPECT_EQ(j["dead_letter_total"], bad.size());
  std::ifstream dl(dir.file("cov.h5.dead-letter.jsonl"));
  size_t k = 0;
  for (std::string line; std::getline(dl, line); ++k) {
    ASSERT_LT(k, bad.size());
    const auto d = nlohmann::json::parse(line);
    EXPECT_EQ(d["reason"], bad[k].reason) << line;
    EXPECT_EQ(d["record"], "zones/" + bad[k].id) << line;
    EXPECT_EQ(d["source"], dir.file("areas.h5"));
  }
  EXPECT_EQ(k, bad.size());
}

}  // namespace
}  // namespace geoshard
