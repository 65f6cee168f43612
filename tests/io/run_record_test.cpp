#include "io/run_record.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

TEST(RunRecord, HasTheDocumentedKeys) {
  testing::TempDir dir;
  RunRecord r("ingest roads", {"geoshard", "ingest", "roads"});
  r.set_accounting(10, 8, 2, {{"TOO_FEW_POINTS", 2}});
  r.extra()["rows"] = 8;
  std::vector<char> big(64 << 20, 1);  // make peak RSS visibly non-zero
  volatile char sink = big[12345];
  (void)sink;
  const auto j = r.finish();
  RunRecord::write(j, dir.file("run.json"));
  std::ifstream in(dir.file("run.json"));
  const auto back = nlohmann::json::parse(in);
  for (const char* k : {"command", "args", "version", "git_revision", "start_time", "end_time", "wall_seconds",
                        "peak_rss_bytes", "records_in", "records_out", "dead_letter_total", "dead_letter", "status"})
    EXPECT_TRUE(back.contains(k)) << k;
  EXPECT_EQ(back["records_in"], 10);
  EXPECT_EQ(back["dead_letter"]["TOO_FEW_POINTS"], 2);
  EXPECT_EQ(back["rows"], 8);
  EXPECT_GT(back["peak_rss_bytes"].get<uint64_t>(), 64ull << 20);
  EXPECT_EQ(back["records_in"].get<uint64_t>(),
            back["records_out"].get<uint64_t>() + back["dead_letter_total"].get<uint64_t>());
  EXPECT_THROW(RunRecord::write(j, "/nonexistent-dir/run.json"), std::runtime_error);
}

}  // namespace
}  // namespace geoshard
