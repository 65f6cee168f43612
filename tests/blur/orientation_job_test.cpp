// The blur job with EXIF orientation and a wide photo: JPEGs written with each Orientation tag
// (1-8) holding "faces" that a detector finds only upright, and a 120° wide photo (manifest hfov)
// stored turned (orientation 6). ingest reads the tag into images.h5; the job turns the pixels
// upright for the detector, blurs in stored pixels, keeps every marker segment (the EXIF tag
// included) and the stored size, and the audit polygons are in stored pixels.
#include <gtest/gtest.h>
#include <jpeglib.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "io/image_table.h"
#include "io/jpeg_region.h"
#include "jobs/blur/anonymise.h"
#include "jobs/blur/job.h"
#include "jobs/ingest/ingest.h"
#include "kernels/blur.h"
#include "tests/testing/jpeg_fixture.h"
#include "tests/testing/mpi_main.h"
#include "tests/testing/temp_dir.h"
#include "tests/blur/test_detectors.h"

namespace geoshard::blur {
namespace {
using namespace geoshard::blur::test_support;
namespace fs = std::filesystem;




// An upright photo W x H with faces (red ellipse + blue bar above) in the given boxes; the red
// pixels in `red`.
cv::Mat faces_photo(int W, int H, const std::vector<cv::Rect>& faces, cv::Mat* red) {
  cv::Mat up(H, W, CV_8UC3);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x)
      up.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(40 + (x * 3) % 50), static_cast<uint8_t>(120 + (y * 5) % 80), 30);
  *red = cv::Mat(H, W, CV_8U, cv::Scalar(0));
  for (const auto& f : faces) {
    cv::ellipse(up, (f.tl() + f.br()) / 2, f.size() / 2, 0, 0, 360, cv::Scalar(0, 0, 255), cv::FILLED);
    cv::ellipse(*red, (f.tl() + f.br()) / 2, f.size() / 2, 0, 0, 360, cv::Scalar(1), cv::FILLED);
    cv::rectangle(up, cv::Rect(f.x, f.y - 10, f.width, 7), cv::Scalar(255, 0, 0), cv::FILLED);
  }
  return up;
}

void write_jpeg(const std::string& path, const cv::Mat& bgr, int o) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  testing::JpegOptions jo;
  jo.quality = 98;
  jo.h_samp = 1, jo.v_samp = 1;
  jo.markers.emplace_back(JPEG_APP0 + 1, exif_orientation(o));
  jo.markers.emplace_back(JPEG_COM, "geoshard orientation test");
  const auto bytes = testing::encode_jpeg(rgb.data, rgb.cols, rgb.rows, 3, rgb.step, jo);
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// The job on DIR/<images> with one detector, into DIR/run and DIR/out.
BlurJobOptions job_options(const std::string& dir, const std::string& images, Detector* det) {
  BlurJobOptions o;
  o.images = dir + "/" + images;
  o.run_dir = dir + "/run";
  o.out_dir = dir + "/out";
  o.detectors = {det};
  o.progress = false;
  return o;
}

TEST(BlurJobOrientation, UprightForTheDetectorStoredForTheOutputAndTheAudit) {
  mpi::Comm comm;
  std::string dir;
  std::map<std::string, cv::Mat> red_stored;
  std::map<std::string, int> orientation_of;
  std::optional<geoshard::testing::TempDir> tmp;  // rank 0 makes it and removes it at the end (the other ranks stop after the last collective call)
  if (comm.root()) {
    tmp.emplace();
    dir = tmp->path();
    fs::create_directories(dir + "/in");
    std::ofstream m(dir + "/in/manifest.csv");
    m << "path,projection,hfov\n";
    cv::Mat red;
    const cv::Mat up = faces_photo(320, 200, {cv::Rect(60, 80, 40, 30), cv::Rect(220, 40, 24, 50)}, &red);
    for (int o = 1; o <= 8; ++o) {
      const std::string rel = "o" + std::to_string(o) + ".jpg";
      write_jpeg(dir + "/in/" + rel, stored_for(up, o), o);
      red_stored[rel] = stored_for(red, o);
      orientation_of[rel] = o;
      m << rel << ",perspective,\n";
    }
    // A 120° wide photo (4:3), faces near its centre and towards its sides, stored turned (6).
    cv::Mat wred;
    const cv::Mat wide = faces_photo(800, 600, {cv::Rect(380, 280, 40, 44), cv::Rect(90, 300, 36, 40), cv::Rect(640, 150, 40, 40)}, &wred);
    write_jpeg(dir + "/in/wide.jpg", stored_for(wide, 6), 6);
    red_stored["wide.jpg"] = stored_for(wred, 6);
    orientation_of["wide.jpg"] = 6;
    m << "wide.jpg,perspective,120\n";
    m.close();
    ingest::ImageOptions io;
    io.manifest = dir + "/in/manifest.csv";
    io.out = dir + "/images.h5";
    ingest::ingest_images(io);
  }
  dir = comm.broadcast(dir);
  engine::Engine eng(comm);
  UprightDetector det;
  BlurJobOptions o = job_options(dir, "images.h5", &det);
  o.anonymise.blur.mode = Mode::kSolid;
  o.anonymise.blur.solid[1] = 255;  // green
  run_blur(eng, o);
  const auto audit = write_audit(eng, o.run_dir);
  if (!comm.root()) return;
  const ImageTable t = read_image_table(o.images);
  ASSERT_EQ(t.rows(), 9u);
  EXPECT_EQ(audit.dead, 0u);
  for (size_t r = 0; r < t.rows(); ++r) {
    const std::string& rel = t.path[r];
    SCOPED_TRACE(rel);
    EXPECT_EQ(t.orientation[r], orientation_of[rel]);  // ingest read the tag
    const std::string in = dir + "/in/" + rel, out = o.out_dir + "/" + rel;
    const auto bin = jpeg::read_file(in), bout = jpeg::read_file(out);
    // Every marker segment (the EXIF orientation among them) byte for byte; the stored size.
    const auto mi = jpeg::read_markers(bin, in), mo = jpeg::read_markers(bout, out);
    ASSERT_EQ(mi.size(), mo.size());
    for (size_t k = 0; k < mi.size(); ++k) EXPECT_EQ(mi[k].data, mo[k].data);
    const auto a = jpeg::decode_memory(bin, in), b = jpeg::decode_memory(bout, out);
    ASSERT_EQ(a.width, b.width);
    ASSERT_EQ(a.height, b.height);
    // Every face pixel (stored coordinates) blurred green.
    const cv::Mat& red = red_stored[rel];
    ASSERT_EQ(red.cols, b.width);
    uint64_t left = 0, faces = 0;
    for (int y = 0; y < b.height; ++y)
      for (int x = 0; x < b.width; ++x)
        if (red.at<uint8_t>(y, x)) {
          ++faces;
          const uint8_t* p = &b.pixels[(static_cast<size_t>(y) * b.width + x) * 3];
          left += !(p[1] > 150 && p[0] < 100);
        }
    EXPECT_GT(faces, 1000u);
    EXPECT_EQ(left, 0u) << "face pixels not blurred";
    // The audit's polygons are in stored pixels (pixel-edge coordinates): every face's centre
    // lies inside one of them.
    std::ifstream side(out + ".json");
    const auto j = nlohmann::json::parse(side);
    EXPECT_EQ(j["width"], a.width);
    EXPECT_EQ(j["height"], a.height);
    if (rel == "wide.jpg") {  // searched in perspective views (view >= 0), not as it is (-1)
      for (const auto& d : j["detections"]) EXPECT_GE(d["view"].get<int>(), 0);
    }
    cv::Mat labels;
    const int n = cv::connectedComponents(red, labels, 8);
    EXPECT_EQ(n - 1, rel == "wide.jpg" ? 3 : 2);
    for (int c = 1; c < n; ++c) {
      double cx = 0, cy = 0, cnt = 0;
      for (int y = 0; y < labels.rows; ++y)
        for (int x = 0; x < labels.cols; ++x)
          if (labels.at<int>(y, x) == c) cx += x, cy += y, ++cnt;
      cx /= cnt, cy /= cnt;
      bool inside = false;
      for (const auto& d : j["detections"]) {
        std::vector<double> u, v;
        for (const auto& q : d["polygon"]) u.push_back(q[0].get<double>() - 0.5 - cx), v.push_back(q[1].get<double>() - 0.5 - cy);
        inside |= covers(u.data(), v.data(), static_cast<int>(u.size()), 0, 0);
      }
      EXPECT_TRUE(inside) << "face " << c << " centre " << cx << "," << cy << " in no audit polygon";
    }
  }
}

// Fields of view a photo's projection cannot have: ingest dead-letters them (BAD_FIELD_OF_VIEW,
// the file and the value named) and keeps the good ones, 120° pinhole and 200° fisheye among
// them; an images.h5 that holds one anyway (written by another tool) gets the same dead letter
// from the blur job instead of a crash or "unreadable image", and the other photos are blurred.
TEST(BlurJobFieldOfView, ImpossibleFieldsOfViewAreDeadLettersAtIngestAndInTheJob) {
  mpi::Comm comm;
  std::string dir;
  std::optional<geoshard::testing::TempDir> tmp;
  if (comm.root()) {
    tmp.emplace();
    dir = tmp->path();
    fs::create_directories(dir + "/in");
    cv::Mat red;
    write_jpeg(dir + "/in/p.jpg", faces_photo(320, 200, {cv::Rect(60, 80, 40, 30)}, &red), 1);
    for (int k = 2; k <= 8; ++k)  // one photo per row (a photo listed twice is a DUPLICATE_ID)
      fs::copy_file(dir + "/in/p.jpg", dir + "/in/p" + std::to_string(k) + ".jpg");
    std::ofstream m(dir + "/in/manifest.csv");
    m << "path,projection,hfov\n"
      << "p.jpg,perspective,120\n"   // line 2: good (wide pinhole)
      << "p2.jpg,fisheye,200\n"      // 3: good
      << "p3.jpg,perspective,-5\n"   // 4
      << "p4.jpg,perspective,180\n"  // 5
      << "p5.jpg,fisheye,360\n"      // 6
      << "p6.jpg,fisheye,0\n"        // 7
      << "p7.jpg,equirect,500\n"     // 8
      << "p8.jpg,perspective,\n";    // 9: good (not known)
    m.close();
    ingest::ImageOptions io;
    io.manifest = dir + "/in/manifest.csv";
    io.out = dir + "/images.h5";
    const auto sum = ingest::ingest_images(io);
    EXPECT_EQ(sum.acc.records_in, 8u);
    EXPECT_EQ(sum.acc.records_out, 3u);
    EXPECT_EQ(sum.acc.dead_letter_total, 5u);
    EXPECT_EQ(sum.acc.dead_letter.count("BAD_FIELD_OF_VIEW") ? sum.acc.dead_letter.at("BAD_FIELD_OF_VIEW") : 0u, 5u);
    std::ifstream dl(sum.dead_letter_path);
    const std::string dead((std::istreambuf_iterator<char>(dl)), std::istreambuf_iterator<char>());
    for (const char* want : {"field of view -5 degrees", "field of view 180 degrees", "field of view 360 degrees",
                             "field of view 0 degrees", "field of view 500 degrees", "p3.jpg", "p7.jpg"})
      EXPECT_NE(dead.find(want), std::string::npos) << want << " not in\n" << dead;
    // The table another tool might write: the 120° photo claimed to be 190° wide.
    ImageTable t = read_image_table(dir + "/images.h5");
    ASSERT_EQ(t.rows(), 3u);
    ASSERT_EQ(t.hfov_deg[0], 120.0);
    t.hfov_deg[0] = 190;
    write_image_table(t, dir + "/images-bad.h5", "test");
  }
  dir = comm.broadcast(dir);
  engine::Engine eng(comm);
  UprightDetector det;
  const BlurJobOptions o = job_options(dir, "images-bad.h5", &det);
  run_blur(eng, o);
  const auto audit = write_audit(eng, o.run_dir);
  if (!comm.root()) return;
  EXPECT_EQ(audit.images, 3u);
  EXPECT_EQ(audit.written, 2u);
  EXPECT_EQ(audit.dead, 1u);
  EXPECT_EQ(audit.dead_reasons.count("BAD_FIELD_OF_VIEW") ? audit.dead_reasons.at("BAD_FIELD_OF_VIEW") : 0u, 1u);
  std::ifstream dl(audit.dead_letter_path);
  const std::string dead((std::istreambuf_iterator<char>(dl)), std::istreambuf_iterator<char>());
  EXPECT_NE(dead.find("field of view 190 degrees is out of range for a perspective photo"), std::string::npos) << dead;
}

}  // namespace
}  // namespace geoshard::blur

GEOSHARD_MPI_TEST_MAIN()
