#include "io/hdf5.h"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include <fstream>
#include <random>

#include "tests/testing/temp_dir.h"

namespace geoshard::h5 {
namespace {

TEST(Hdf5, ColumnsRoundTripAndRowRanges) {
  testing::TempDir dir;
  const std::string path = dir.file("t.h5");
  std::mt19937_64 rng(7);
  std::vector<double> d(10007);
  std::vector<int64_t> i64(d.size());
  std::vector<uint8_t> u8(d.size());
  for (size_t k = 0; k < d.size(); ++k) {
    d[k] = std::uniform_real_distribution<double>(-1e9, 1e9)(rng);
    i64[k] = static_cast<int64_t>(rng());
    u8[k] = static_cast<uint8_t>(rng());
  }
  std::vector<std::string> s = {"", "Orchard Road", "ถนนสุขุมวิท", "Đường Lê Lợi", std::string(5000, 'x')};
  {
    File f(path, File::Mode::kCreate);
    Group g = f.root().create_group("t");
    g.write_column("d", d);
    g.write_column("i64", i64);
    g.write_column("u8", u8);
    g.write_strings("s", s);
    g.write_column("empty", std::vector<float>{});
    g.set_attr("name", std::string("roads"));
    g.set_attr("n", int64_t{42});
    g.set_attr("x", 2.5);
    g.set_attr("list", std::vector<std::string>{"a", "bb", ""});
    f.close();
  }
  File f(path, File::Mode::kRead);
  Group g = f.root().open_group("t");
  EXPECT_EQ(g.read_column<double>("d"), d);
  EXPECT_EQ(g.read_column<int64_t>("i64"), i64);
  EXPECT_EQ(g.read_column<uint8_t>("u8"), u8);
  EXPECT_EQ(g.read_strings("s"), s);
  EXPECT_TRUE(g.read_column<float>("empty").empty());
  EXPECT_EQ(g.attr_string("name"), "roads");
  EXPECT_EQ(g.attr_int("n"), 42);
  EXPECT_EQ(g.attr_double("x"), 2.5);
  EXPECT_EQ(g.attr_strings("list"), (std::vector<std::string>{"a", "bb", ""}));
  // Random row ranges equal the slices of the whole column.
  Column c = g.column("d");
  for (int trial = 0; trial < 200; ++trial) {
    uint64_t a = rng() % (d.size() + 1), b = rng() % (d.size() + 1);
    if (a > b) std::swap(a, b);
    auto part = c.read<double>(a, b - a);
    ASSERT_EQ(part, std::vector<double>(d.begin() + a, d.begin() + b));
  }
  auto strs = g.column("s").read_strings(1, 3);
  EXPECT_EQ(strs, std::vector<std::string>(s.begin() + 1, s.begin() + 4));
  EXPECT_THROW(c.read<double>(d.size() - 1, 2), Error);
}

// content_checksum: the same datasets and values give the same sum whatever the write order,
// file or attributes; any change of a value, a name, a type, a length, a string, or a dataset
// more or less in any subgroup changes it (over many random groups).
TEST(Hdf5, ContentChecksumSeesEveryValueAndNothingElse) {
  testing::TempDir dir;
  std::mt19937_64 rng(11);
  struct Data {
    std::vector<double> d;
    std::vector<int32_t> i;
    std::vector<std::string> s;
    std::vector<uint64_t> sub;
  };
  enum Change { kNone, kValue, kString, kLength, kType, kName, kExtra, kMissing, kSubValue };
  const auto write = [&](const std::string& path, const Data& x, Change c, bool reversed, bool attrs) {
    File f(path, File::Mode::kCreate);
    Group g = f.root().create_group("shard");
    if (attrs) g.set_attr("seconds", 1.5), g.set_attr("complete", int64_t{1});
    Data y = x;
    if (c == kValue) y.d[rng() % y.d.size()] += 1e-9;
    if (c == kString) y.s[rng() % y.s.size()] += "x";
    if (c == kLength) y.i.push_back(0);
    if (c == kSubValue) y.sub[rng() % y.sub.size()] ^= 1;
    const auto part = [&](int k) {
      if (k == 0) {
        if (c == kType) g.write_column("d", std::vector<float>(y.d.begin(), y.d.end()));
        else g.write_column(c == kName ? "e" : "d", y.d);
      }
      if (k == 1 && c != kMissing) g.write_column("i", y.i);
      if (k == 2) g.write_strings("s", y.s);
      if (k == 3) g.create_group("sub").write_column("v", y.sub);
      if (k == 4 && c == kExtra) g.write_column("more", std::vector<uint8_t>{1});
    };
    for (int k = 0; k < 5; ++k) part(reversed ? 4 - k : k);
    const uint64_t sum = g.content_checksum();
    f.close();
    File r(path, File::Mode::kRead);
    EXPECT_EQ(r.root().open_group("shard").content_checksum(), sum) << "the sum read back differs from the sum at write";
    return sum;
  };
  for (int trial = 0; trial < 60; ++trial) {
    Data x;
    x.d.resize(1 + rng() % 500);
    for (double& v : x.d) v = std::uniform_real_distribution<double>(-180, 180)(rng);
    x.i.resize(1 + rng() % 50);
    for (int32_t& v : x.i) v = static_cast<int32_t>(rng());
    x.s.resize(1 + rng() % 20);
    for (auto& v : x.s) v = std::string(rng() % 12, static_cast<char>('a' + rng() % 26));
    x.sub.resize(1 + rng() % 30);
    for (uint64_t& v : x.sub) v = rng();
    const uint64_t base = write(dir.file("a.h5"), x, kNone, false, false);
    EXPECT_EQ(write(dir.file("b.h5"), x, kNone, true, true), base) << "trial " << trial;
    for (Change c : {kValue, kString, kLength, kType, kName, kExtra, kMissing, kSubValue})
      EXPECT_NE(write(dir.file("c.h5"), x, c, trial % 2 == 1, false), base) << "trial " << trial << " change " << c;
  }
}

TEST(Hdf5, ErrorsNameTheFileAndObject) {
  testing::TempDir dir;
  try {
    File f(dir.file("missing.h5"), File::Mode::kRead);
    FAIL() << "opened a missing file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.h5"), std::string::npos) << e.what();
  }
  // Not HDF5 at all.
  { std::ofstream(dir.file("text.h5")) << "hello, not hdf5\n"; }
  EXPECT_FALSE(is_hdf5(dir.file("text.h5")));
  EXPECT_THROW(File(dir.file("text.h5"), File::Mode::kRead), Error);
  // Truncated HDF5 file.
  {
    File f(dir.file("full.h5"), File::Mode::kCreate);
    f.root().create_group("g").write_column("x", std::vector<double>(100000, 1.0));
    f.close();
    std::ifstream in(dir.file("full.h5"), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(dir.file("trunc.h5"), std::ios::binary).write(bytes.data(), 1000);
  }
  bool threw = false;
  try {
    File f(dir.file("trunc.h5"), File::Mode::kRead);
    f.root().open_group("g").read_column<double>("x");
  } catch (const Error& e) {
    threw = true;
    EXPECT_NE(std::string(e.what()).find("trunc.h5"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(threw);
  File f(dir.file("full.h5"), File::Mode::kRead);
  try {
    f.root().open_group("g").column("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
  }
  // Unwritable location.
  EXPECT_THROW(File("/proc/geoshard-cannot-write.h5", File::Mode::kCreate), Error);
}

// A write that cannot reach the disk must fail the column, not vanish. HDF5 keeps small raw
// data in its sieve buffer and writes it when the dataset is closed; a failure there used to be
// ignored, so the column read back as zeros, the shard's checksum was computed over the zeros,
// and -- when the file's final flush then succeeded because space had come back -- a corrupt
// shard was committed (found by reliability_output_lost_test on a full tmpfs). Here the file
// size limit (RLIMIT_FSIZE; writes past it fail with EFBIG) stands in for the full disk while
// the column is written, and is lifted before the file is closed.
TEST(Hdf5, AColumnThatCannotReachTheDiskIsAnError) {
  testing::TempDir dir;
  const std::string path = dir.file("limited.h5");
  std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the signal
  File f(path, File::Mode::kCreate);
  Group g = f.root().create_group("shard");
  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = static_cast<rlim_t>(std::filesystem::file_size(path));
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::string error;
  try {
    g.write_column("row", std::vector<uint64_t>{1447, 1447, 1447});
  } catch (const Error& e) {
    error = e.what();
  }
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &saved), 0);
  EXPECT_NE(error.find("cannot write column"), std::string::npos)
      << "a column that never reached the file did not fail: '" << error << "'";
  EXPECT_NE(error.find("limited.h5:/shard/row"), std::string::npos) << error;
  EXPECT_NE(error.find("File too large"), std::string::npos) << error;  // the system's reason
}

}  // namespace
}  // namespace geoshard::h5

