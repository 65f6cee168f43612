// ingest images: folder scan with EXIF GPS / orientation and XMP GPano read through GDAL,
// manifests (CSV and JSON lines) whose values win, the bad cases as dead letters with reason
// codes (missing file, unreadable image, bad rows), wrong manifest headers as clear errors,
// rows sorted by geohash with the unlocated last, and a plan by megapixels.
#include <gdal_priv.h>
#include <gtest/gtest.h>
#include <jpeglib.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/dead_letter.h"
#include "io/image_table.h"
#include "io/ogr_source.h"
#include "jobs/ingest/ingest.h"
#include "kernels/geohash.h"
#include "mpi/engine.h"
#include "tests/testing/jpeg_fixture.h"
#include "tests/testing/temp_dir.h"

namespace geoshard {
namespace {

// A big-endian TIFF/EXIF block: IFD0 with Orientation and a GPS IFD pointer; GPS IFD with
// latitude/longitude as degrees, minutes, seconds rationals and their N/S, E/W references.
std::string exif_app1(double lat, double lon, int orientation) {
  std::string b = std::string("Exif\0\0", 6);
  const size_t base = b.size();
  auto u16 = [&](uint32_t v) { b += static_cast<char>(v >> 8), b += static_cast<char>(v & 255); };
  auto u32 = [&](uint32_t v) { u16(v >> 16), u16(v & 0xffff); };
  b += "MM";
  u16(42);
  u32(8);  // IFD0 at 8
  // IFD0: 2 entries (12 bytes each) + next-IFD 0 -> ends at 8 + 2 + 24 + 4 = 38.
  u16(2);
  u16(0x0112), u16(3), u32(1), u16(static_cast<uint32_t>(orientation)), u16(0);  // Orientation SHORT
  u16(0x8825), u16(4), u32(1), u32(38);                                        // GPS IFD at 38
  u32(0);
  // GPS IFD: 4 entries -> 38 + 2 + 48 + 4 = 92; rationals follow at 92 (lat) and 116 (lon).
  u16(4);
  u16(1), u16(2), u32(2), b += lat < 0 ? 'S' : 'N', b += '\0', u16(0);
  u16(2), u16(5), u32(3), u32(92);
  u16(3), u16(2), u32(2), b += lon < 0 ? 'W' : 'E', b += '\0', u16(0);
  u16(4), u16(5), u32(3), u32(116);
  u32(0);
  for (double v : {std::fabs(lat), std::fabs(lon)}) {
    const double d = std::floor(v), m = std::floor((v - d) * 60), s = ((v - d) * 60 - m) * 60;
    u32(static_cast<uint32_t>(d)), u32(1), u32(static_cast<uint32_t>(m)), u32(1), u32(static_cast<uint32_t>(std::lround(s * 1000))), u32(1000);
  }
  EXPECT_EQ(b.size() - base, 140u);
  return b;
}

void write_jpeg(const std::string& path, int W, int H, const std::vector<std::string>& app1) {
  const std::vector<uint8_t> grey(static_cast<size_t>(W) * H * 3, 120);
  testing::JpegOptions o;
  for (const auto& m : app1) o.markers.emplace_back(JPEG_APP0 + 1, m);
  const auto bytes = testing::encode_jpeg(grey.data(), W, H, 3, static_cast<size_t>(W) * 3, o);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_png(const std::string& path, int W, int H) {
  gdal_init();
  GDALDriver* mem = GetGDALDriverManager()->GetDriverByName("MEM");
  GDALDataset* ds = mem->Create("", W, H, 3, GDT_Byte, nullptr);
  GDALDataset* out = GetGDALDriverManager()->GetDriverByName("PNG")->CreateCopy(path.c_str(), ds, FALSE, nullptr, nullptr, nullptr);
  ASSERT_NE(out, nullptr);
  GDALClose(out);
  GDALClose(ds);
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::map<std::string, uint64_t> reasons(const std::string& dead_letter_file) {
  std::map<std::string, uint64_t> r;
  std::ifstream in(dead_letter_file);
  for (std::string line; std::getline(in, line);) ++r[nlohmann::json::parse(line).at("reason").get<std::string>()];
  return r;
}

const std::string kXmp =
    std::string("http://ns.adobe.com/xap/1.0/\0", 29) +
    "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
    "<rdf:Description xmlns:GPano='http://ns.google.com/photos/1.0/panorama/' GPano:ProjectionType='equirectangular' "
    "GPano:CroppedAreaImageWidthPixels='256' GPano:FullPanoWidthPixels='512'/></rdf:RDF></x:xmpmeta>";

class IngestImages : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir.file("photos/a/b"));
    write_jpeg(dir.file("photos/a/pano.jpg"), 256, 100, {exif_app1(-1.2918, 103.85, 6), kXmp});
    write_jpeg(dir.file("photos/a/b/plain.jpg"), 300, 200, {});
    write_png(dir.file("photos/wide.png"), 400, 200);
    write_text(dir.file("photos/corrupt.jpg"), std::string("\xFF\xD8\xFF\xE0garbage that is no JPEG", 26));
    write_text(dir.file("photos/zero.jpg"), "");
    write_text(dir.file("photos/notes.txt"), "not a photo");
  }
  testing::TempDir dir;
};

TEST_F(IngestImages, FolderWithExifXmpAndBadFiles) {
  ingest::ImageOptions o;
  o.in = dir.file("photos");
  o.out = dir.file("images.h5");
  const auto s = ingest::ingest_images(o);
  EXPECT_EQ(s.acc.records_in, 5u);  // notes.txt is not a photo
  EXPECT_EQ(s.acc.records_out, 3u);
  EXPECT_EQ(s.acc.dead_letter.at("UNREADABLE_IMAGE"), 2u);
  EXPECT_EQ(reasons(s.dead_letter_path).at("UNREADABLE_IMAGE"), 2u);
  const ImageTable t = read_image_table(o.out);
  ASSERT_NO_THROW(t.validate());
  ASSERT_EQ(t.rows(), 3u);
  // Located first, then the unlocated by path.
  EXPECT_EQ(t.path[0], "a/pano.jpg");
  EXPECT_EQ(t.path[1], "a/b/plain.jpg");
  EXPECT_EQ(t.path[2], "wide.png");
  EXPECT_NEAR(t.lat[0], -1.2918, 1e-6);
  EXPECT_NEAR(t.lon[0], 103.85, 1e-6);
  EXPECT_EQ(t.zkey[0], geohash::zkey(t.lon[0], t.lat[0]));
  EXPECT_EQ(t.location_source[0], "exif");
  EXPECT_EQ(t.orientation[0], 6);
  EXPECT_EQ(t.projection[0], "equirect");       // from XMP GPano (the photo is not 2:1)
  EXPECT_NEAR(t.hfov_deg[0], 180.0, 1e-9);       // cropped: 256 of 512 pixels
  EXPECT_TRUE(std::isnan(t.lat[1]));
  EXPECT_EQ(t.zkey[1], kNoLocationKey);
  EXPECT_EQ(t.projection[1], "perspective");
  EXPECT_EQ(t.projection[2], "equirect");       // 2:1 without metadata
  EXPECT_NEAR(t.megapixels[1], 0.06, 1e-12);
  EXPECT_NEAR(t.cum_mp.back(), 0.0256 + 0.06 + 0.08, 1e-12);
  // The engine plans these rows by megapixels like roads by road-km.
  const engine::Plan plan = engine::plan_for_table(t.zkey, t.cum_mp, 2, engine::PlanOptions{});
  EXPECT_EQ(plan.tasks.front().row_begin, 0u);
  EXPECT_EQ(plan.tasks.back().row_end, 3u);
  EXPECT_NEAR(plan.total_weight(), t.cum_mp.back(), 1e-12);
}

TEST_F(IngestImages, CsvManifestValuesWinAndBadRowsAreDeadLetters) {
  write_jpeg(dir.file("photos/x,y.jpg"), 64, 48, {});
  write_text(dir.file("photos/manifest.csv"),
             "path,lat,lon,heading,projection,hfov\n"
             "a/pano.jpg,10.5,20.25,90,,\n"            // manifest location wins over EXIF
             "\"x,y.jpg\",1,2,,perspective,65\n"       // quoted path with a comma
             "a/b/plain.jpg,1,2,3,perspective,60,extra\n"  // extra column
             "wide.png,abc,2,,,\n"                     // bad number
             "missing.jpg,1,2,,,\n"                    // no such file
             "wide.png,95,2,,,\n"                      // latitude out of range
             "wide.png,1,,,,\n"                        // lat without lon
             "\n"                                      // blank: not a record
             "wide.png,,,,fisheye,190\n");
  ingest::ImageOptions o;
  o.manifest = dir.file("photos/manifest.csv");
  o.out = dir.file("m.h5");
  const auto s = ingest::ingest_images(o);
  EXPECT_EQ(s.acc.records_in, 8u);
  EXPECT_EQ(s.acc.records_out, 3u);
  const auto r = reasons(s.dead_letter_path);
  EXPECT_EQ(r.at("BAD_MANIFEST_ROW"), 3u);
  EXPECT_EQ(r.at("FILE_NOT_FOUND"), 1u);
  EXPECT_EQ(r.at("COORDINATE_OUT_OF_RANGE"), 1u);
  const ImageTable t = read_image_table(o.out);
  ASSERT_EQ(t.rows(), 3u);
  std::map<std::string, size_t> at;
  for (size_t i = 0; i < t.rows(); ++i) at[t.path[i]] = i;
  const size_t p = at.at("a/pano.jpg"), q = at.at("x,y.jpg"), w = at.at("wide.png");
  EXPECT_EQ(t.lat[p], 10.5);
  EXPECT_EQ(t.lon[p], 20.25);
  EXPECT_EQ(t.location_source[p], "manifest");
  EXPECT_EQ(t.heading_deg[p], 90);
  EXPECT_EQ(t.projection[q], "perspective");
  EXPECT_EQ(t.hfov_deg[q], 65);
  EXPECT_EQ(t.projection[w], "fisheye");
  EXPECT_EQ(t.hfov_deg[w], 190);
  EXPECT_EQ(w, 2u);  // unlocated last
}

// Text that images.h5 cannot hold as UTF-8 is a dead letter (INVALID_UTF8); EXIF GPS that is no
// lat/lon (latitude 123) is dropped and counted, the photo kept (tests/reliability has more).
TEST_F(IngestImages, NonUtf8NamesAndAbsurdExifGps) {
  write_jpeg(dir.file("photos/caf\xE9.jpg"), 32, 32, {});
  write_jpeg(dir.file("photos/lat123.jpg"), 32, 32, {exif_app1(123.0, 100.5, 1)});
  ingest::ImageOptions o;
  o.in = dir.file("photos");
  o.out = dir.file("images.h5");
  const auto s = ingest::ingest_images(o);
  EXPECT_EQ(s.acc.records_in, 7u);
  EXPECT_EQ(s.acc.records_out, 4u);
  EXPECT_EQ(s.acc.dead_letter.at("INVALID_UTF8"), 1u);
  EXPECT_EQ(s.acc.dead_letter.at("UNREADABLE_IMAGE"), 2u);
  EXPECT_EQ(s.exif_location_rejected, 1u);
  EXPECT_EQ(s.located, 1u);  // pano.jpg only
  EXPECT_EQ(s.to_json().at("exif_location_rejected"), 1u);
  const ImageTable t = read_image_table(o.out);
  for (const auto& p : t.path) EXPECT_TRUE(is_valid_utf8(p)) << p;
  write_text(dir.file("photos/m.csv"), "path,captured_at\nlat123.jpg,2026\ncaf\xE9.jpg,2026\nlat123.jpg,\xFF\n");
  o.in.clear();
  o.manifest = dir.file("photos/m.csv");
  o.out = dir.file("m.h5");
  const auto m = ingest::ingest_images(o);
  EXPECT_EQ(m.acc.records_out, 1u);
  EXPECT_EQ(m.acc.dead_letter.at("INVALID_UTF8"), 2u);
}

TEST_F(IngestImages, WrongManifestHeadersAndJsonLines) {
  write_text(dir.file("photos/bad.csv"), "file,lat,lon\na/pano.jpg,1,2\n");
  ingest::ImageOptions o;
  o.manifest = dir.file("photos/bad.csv");
  o.out = dir.file("bad.h5");
  try {
    ingest::ingest_images(o);
    ADD_FAILURE() << "a header without 'path' must be an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unknown: file"), std::string::npos) << e.what();
  }
  write_text(dir.file("photos/m.jsonl"),
             "{\"path\": \"a/pano.jpg\", \"lat\": 1.5, \"lon\": 2.5, \"captured_at\": \"2026-01-02T03:04:05Z\"}\n"
             "{\"path\": \"wide.png\", \"latitude\": 1}\n"
             "not json\n"
             "[1, 2]\n");
  o.manifest = dir.file("photos/m.jsonl");
  o.out = dir.file("j.h5");
  const auto s = ingest::ingest_images(o);
  EXPECT_EQ(s.acc.records_in, 4u);
  EXPECT_EQ(s.acc.records_out, 1u);
  EXPECT_EQ(s.acc.dead_letter.at("BAD_MANIFEST_ROW"), 3u);
  const ImageTable t = read_image_table(o.out);
  EXPECT_EQ(t.captured_at[0], "2026-01-02T03:04:05Z");
  EXPECT_EQ(t.lat[0], 1.5);
  // Neither or both of --in / --manifest: an error.
  ingest::ImageOptions both;
  both.in = dir.file("photos");
  both.manifest = dir.file("photos/m.jsonl");
  both.out = dir.file("x.h5");
  EXPECT_THROW(ingest::ingest_images(both), std::invalid_argument);
}

TEST(IngestImagesRealData, Pano360AndFaces) {
  const std::filesystem::path data = std::filesystem::path(GEOSHARD_SHARED_DATA);
  if (!std::filesystem::exists(data / "pano360")) GTEST_SKIP() << "no " << data / "pano360" << " (../shared/data absent)";
  testing::TempDir dir;
  ingest::ImageOptions o;
  o.in = (data / "pano360").string();
  o.out = dir.file("p.h5");
  const auto s = ingest::ingest_images(o);
  EXPECT_EQ(s.acc.dead_letter_total, 0u);
  const ImageTable t = read_image_table(o.out);
  ASSERT_GE(t.rows(), 2u);
  for (size_t i = 0; i < t.rows(); ++i) {
    EXPECT_EQ(t.projection[i], "equirect") << t.path[i];  // 2:1 panoramas
    EXPECT_EQ(t.width[i], 2 * t.height[i]);
  }
}

}  // namespace
}  // namespace geoshard
