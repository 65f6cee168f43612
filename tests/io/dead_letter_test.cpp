#include "io/dead_letter.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

// Reference: decode with the standard rules, byte by byte, written differently on purpose.
bool reference_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    int len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!len || i + len > s.size()) return false;
    for (int k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    const unsigned char d = len > 1 ? s[i + 1] : 0;
    if (c == 0xE0 && d < 0xA0) return false;  // overlong
    if (c == 0xED && d >= 0xA0) return false;  // surrogate
    if (c == 0xF0 && d < 0x90) return false;  // overlong
    if (c == 0xF4 && d >= 0x90) return false;  // > U+10FFFF
    i += len;
  }
  return true;
}

TEST(Utf8, AgreesWithReferenceOnRandomBytes) {
  std::mt19937_64 rng(11);
  int valid = 0;
  for (int t = 0; t < 200000; ++t) {
    std::string s(rng() % 8, '\0');
    for (char& c : s) {
      // Bias toward bytes that form multi-byte sequences.
      const unsigned r = rng() % 4;
      c = static_cast<char>(r == 0 ? rng() % 0x80 : r == 1 ? 0x80 + rng() % 0x40 : 0xC0 + rng() % 0x40);
    }
    ASSERT_EQ(is_valid_utf8(s), reference_utf8(s)) << "case " << t;
    valid += is_valid_utf8(s);
  }
  EXPECT_GT(valid, 1000);  // the generator reaches valid multi-byte text too
  EXPECT_TRUE(is_valid_utf8("Jalan Sultan ถนน Đường 道路"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));
  EXPECT_FALSE(is_valid_utf8("abc\xFF"));
}

TEST(DeadLetter, WritesJsonLinesAndCounts) {
  testing::TempDir dir;
  DeadLetterWriter w(dir.file("dl.jsonl"));
  w.write("roads.fgb", "17", Reason::kNonFiniteCoordinate, "vertex 2 is not finite");
  w.write("roads.fgb", "bad\xFFid", Reason::kInvalidUtf8, "name \xFE");
  w.write("roads.fgb", "18", Reason::kNonFiniteCoordinate, "x");
  w.close();
  EXPECT_EQ(w.total(), 3u);
  EXPECT_EQ(w.counts().at("NON_FINITE_COORDINATE"), 2u);
  EXPECT_EQ(w.counts().at("INVALID_UTF8"), 1u);
  std::ifstream in(dir.file("dl.jsonl"));
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);  // throws if the file is not valid JSON
    EXPECT_TRUE(j.contains("source") && j.contains("record") && j.contains("reason") && j.contains("message"));
    if (n == 1) {
      EXPECT_EQ(j["record"], "bad\\xFFid");
    }
    ++n;
  }
  EXPECT_EQ(n, 3);
}

TEST(DeadLetter, UnwritablePathIsAClearError) {
  try {
    DeadLetterWriter w("/nonexistent-dir/dl.jsonl");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/dl.jsonl"), std::string::npos);
  }
}

}  // namespace
}  // namespace geoshard
