// The blur job on the engine at 1-3 ranks with an oracle detector: painted targets in a 360°
// JPEG (with EXIF/XMP segments), a planar PNG (also one named .jpg) and a planar JPEG without
// targets, plus a corrupt JPEG. Outputs are identical for every rank count; targets are covered; the JPEG's markers and
// its untouched blocks are unchanged; a photo without targets is copied byte for byte; the
// corrupt one is a dead letter; sidecars and the summary say what was found; a rerun reuses
// every shard.
#include <gtest/gtest.h>
#include <jpeglib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/image_table.h"
#include "io/jpeg_region.h"
#include "jobs/blur/job.h"
#include "jobs/ingest/ingest.h"
#include "kernels/projection.h"
#include "tests/testing/jpeg_fixture.h"
#include "tests/testing/mpi_main.h"
#include "tests/testing/temp_dir.h"

namespace geoshard::blur {
namespace {
namespace fs = std::filesystem;

class OracleDetector : public Detector {
 public:
  OracleDetector() : Detector(ModelSpec{"face", "oracle", "", 0, 0, 0.5, 0.3, "oracle"}) {}
  std::vector<Detection> detect(const cv::Mat& bgr) override {
    cv::Mat mask, labels, stats, centroids;
    cv::inRange(bgr, cv::Scalar(0, 0, 100), cv::Scalar(100, 100, 255), mask);
    const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8);
    std::vector<Detection> out;
    for (int i = 1; i < n; ++i)
      out.push_back(Detection{"face", 1.0, double(stats.at<int>(i, 0)), double(stats.at<int>(i, 1)),
                              double(stats.at<int>(i, 0) + stats.at<int>(i, 2)), double(stats.at<int>(i, 1) + stats.at<int>(i, 3)), "oracle"});
    return out;
  }
};

std::vector<uint8_t> encode_jpeg(const cv::Mat& bgr, const std::vector<std::string>& app1) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  testing::JpegOptions o;
  o.quality = 92;
  for (const auto& m : app1) o.markers.emplace_back(JPEG_APP0 + 1, m);
  return testing::encode_jpeg(rgb.data, rgb.cols, rgb.rows, 3, rgb.step, o);
}

void write_bytes(const std::string& p, const std::vector<uint8_t>& b) {
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), b.size());
}

TEST(BlurJob, ThreadsPerRankFromFlagSlurmOmpOrCores) {
  std::string why;
  EXPECT_EQ(threads_per_rank(3, "8", "4", "2", 16, &why), 3);
  EXPECT_EQ(why, "--threads");
  EXPECT_EQ(threads_per_rank(0, "8", "4", "2", 16, &why), 8);
  EXPECT_EQ(why, "SLURM_CPUS_PER_TASK");
  EXPECT_EQ(threads_per_rank(0, nullptr, "4", "2", 16, &why), 4);
  EXPECT_EQ(why, "OMP_NUM_THREADS");
  EXPECT_EQ(threads_per_rank(0, "", "zero", "4", 16, &why), 4);  // 16 cores / 4 ranks
  EXPECT_EQ(why, "16 cores / 4 ranks on this node");
  EXPECT_EQ(threads_per_rank(0, "-2", "0", nullptr, 2), 2);
  EXPECT_EQ(threads_per_rank(0, "3x", nullptr, "3", 2), 1);  // never below 1
  EXPECT_EQ(threads_per_rank(0, nullptr, nullptr, nullptr, 0), 1);
}

TEST(BlurJob, AnyRankCountSameOutputsTargetsCoveredRestUntouched) {
  mpi::Comm comm;
  std::string dir;
  std::optional<geoshard::testing::TempDir> tmp;  // rank 0 makes it and removes it at the end (the other ranks stop after the last collective call)
  if (comm.root()) {
    tmp.emplace();
    dir = tmp->path();
    // A 360° photo with two red targets, one across the seam, textured background.
    const int W = 1024, H = 512;
    cv::Mat pano(H, W, CV_8UC3);
    const projection::Equirect e{W, H};
    for (int j = 0; j < H; ++j)
      for (int i = 0; i < W; ++i) {
        pano.at<cv::Vec3b>(j, i) = cv::Vec3b(static_cast<uint8_t>(60 + (i * 3) % 120), static_cast<uint8_t>(50 + (j * 7) % 150), 20);
        const auto d = projection::equirect_direction(e, i, j);
        for (const auto& [lon, lat] : {std::pair{180.0, 5.0}, std::pair{-40.0, -30.0}})
          if (projection::angle_between(d, projection::direction(projection::rad(lon), projection::rad(lat))) < projection::rad(4))
            pano.at<cv::Vec3b>(j, i) = cv::Vec3b(0, 0, 255);
      }
    const std::string exif = std::string("Exif\0\0", 6) + "MM\0*payload";
    write_bytes(dir + "/in/pano/p1.jpg", encode_jpeg(pano, {exif}));
    cv::Mat planar(300, 400, CV_8UC3, cv::Scalar(40, 160, 90));
    cv::rectangle(planar, cv::Rect(50, 60, 30, 40), cv::Scalar(0, 0, 255), cv::FILLED);
    fs::create_directories(dir + "/in/planar");
    cv::imwrite(dir + "/in/planar/q.png", planar);
    {  // A PNG named .jpg (ingest reads it by content; so must blur)
      std::vector<uint8_t> png;
      cv::imencode(".png", planar, png);
      write_bytes(dir + "/in/planar/png-named.jpg", png);
    }
    write_bytes(dir + "/in/planar/clean.jpg", encode_jpeg(cv::Mat(120, 160, CV_8UC3, cv::Scalar(10, 200, 30)), {}));
    write_bytes(dir + "/in/planar/broken.jpg", std::vector<uint8_t>{0xFF, 0xD8, 0xFF, 0xDB, 0, 5, 1, 2});
    ingest::ImageOptions io;
    io.in = dir + "/in";
    io.out = dir + "/images.h5";
    ingest::ingest_images(io);  // broken.jpg: GDAL opens JPEG headers lazily -- see below
  }
  dir = comm.broadcast(dir);
  engine::Engine eng(comm);
  OracleDetector oracle;
  BlurJobOptions o;
  o.images = dir + "/images.h5";
  o.run_dir = dir + "/run" + std::to_string(comm.size());
  o.out_dir = dir + "/out" + std::to_string(comm.size());
  o.detectors = {&oracle};
  o.progress = false;
  o.anonymise.blur.mode = Mode::kSolid;
  o.anonymise.blur.solid[1] = 255;  // green
  o.plan.partition_precision = 1;
  const auto first = run_blur(eng, o);
  EXPECT_FALSE(first.interrupted);
  const auto audit = write_audit(eng, o.run_dir);
  const auto again = run_blur(eng, o);
  if (!comm.root()) return;
  EXPECT_EQ(again.shards_reused, again.shards_total);
  EXPECT_EQ(again.shards_committed, 0u);
  const ImageTable t = read_image_table(o.images);
  EXPECT_EQ(audit.images, t.rows());
  EXPECT_EQ(audit.written + audit.dead, audit.images);
  EXPECT_GE(audit.detections.at("face"), 3u);  // two caps (one split by the seam may merge) + the square
  // The 360° photo: markers kept, targets green, most blocks untouched.
  const std::string in = dir + "/in/pano/p1.jpg", out = o.out_dir + "/pano/p1.jpg";
  const auto bin = jpeg::read_file(in), bout = jpeg::read_file(out);
  const auto mi = jpeg::read_markers(bin, in), mo = jpeg::read_markers(bout, out);
  ASSERT_EQ(mi.size(), mo.size());
  for (size_t k = 0; k < mi.size(); ++k) EXPECT_EQ(mi[k].data, mo[k].data);
  const auto a = jpeg::decode_memory(bin, in), b = jpeg::decode_memory(bout, out);
  uint64_t red_left = 0;
  for (size_t p = 0; p < b.pixels.size(); p += 3)
    red_left += a.pixels[p] > 200 && a.pixels[p + 1] < 60 && !(b.pixels[p + 1] > 150 && b.pixels[p] < 100);
  EXPECT_EQ(red_left, 0u) << "target pixels not blurred";
  const auto ci = jpeg::read_coefficients(bin, in), co = jpeg::read_coefficients(bout, out);
  uint64_t same = 0, total = 0;
  for (size_t c = 0; c < ci.blocks.size(); ++c)
    for (size_t k = 0; k < ci.blocks[c].size(); k += 64, ++total)
      same += std::equal(ci.blocks[c].begin() + k, ci.blocks[c].begin() + k + 64, co.blocks[c].begin() + k);
  EXPECT_GT(static_cast<double>(same) / total, 0.9);
  EXPECT_LT(same, total);
  // No target: byte for byte.
  EXPECT_EQ(jpeg::read_file(dir + "/in/planar/clean.jpg"), jpeg::read_file(o.out_dir + "/planar/clean.jpg"));
  // The PNG square is green, the rest untouched.
  const cv::Mat q = cv::imread(o.out_dir + "/planar/q.png");
  EXPECT_EQ(q.at<cv::Vec3b>(80, 65), cv::Vec3b(0, 255, 0));
  EXPECT_EQ(q.at<cv::Vec3b>(250, 350), cv::Vec3b(40, 160, 90));
  // The PNG named .jpg: blurred like q.png and still a PNG (lossless) under its name.
  const auto pn = jpeg::read_file(o.out_dir + "/planar/png-named.jpg");
  ASSERT_GE(pn.size(), 4u);
  EXPECT_EQ(pn[0], 0x89);
  EXPECT_EQ(pn[1], 'P');
  const cv::Mat qn = cv::imdecode(pn, cv::IMREAD_COLOR);
  ASSERT_FALSE(qn.empty());
  EXPECT_EQ(qn.at<cv::Vec3b>(80, 65), cv::Vec3b(0, 255, 0));
  EXPECT_EQ(qn.at<cv::Vec3b>(250, 350), cv::Vec3b(40, 160, 90));
  // Sidecars beside the outputs.
  std::ifstream side(out + ".json");
  const auto j = nlohmann::json::parse(side);
  EXPECT_EQ(j["image"], "pano/p1.jpg");
  EXPECT_EQ(j["width"], 1024);
  EXPECT_GE(j["detections"].size(), 2u);
  EXPECT_EQ(j["detections"][0]["class"], "face");
  EXPECT_GE(j["detections"][0]["polygon"].size(), 32u);
  // Stage times: every stage listed, none negative, together within the photo's total.
  double stages = 0;
  for (const char* k : {"decode", "views", "detect", "backproject", "blur", "encode"}) {
    ASSERT_TRUE(j["seconds"].contains(k)) << k;
    EXPECT_GE(j["seconds"][k].get<double>(), 0.0) << k;
    stages += j["seconds"][k].get<double>();
  }
  EXPECT_GT(j["seconds"]["decode"].get<double>(), 0.0);
  EXPECT_GT(j["seconds"]["views"].get<double>(), 0.0);  // an equirect: 47 views rendered
  EXPECT_LE(stages, j["seconds"]["total"].get<double>() * (1 + 1e-9));
  // The corrupt JPEG: a dead letter (at ingest or here), never an output.
  EXPECT_FALSE(fs::exists(o.out_dir + "/planar/broken.jpg"));
  // Same outputs for any rank count: rank 0 alone (MPI_COMM_SELF) writes the same bytes.
  if (comm.size() > 1) {
    engine::Engine self(mpi::Comm(MPI_COMM_SELF));
    BlurJobOptions so = o;
    so.run_dir = dir + "/run-self";
    so.out_dir = dir + "/out-self";
    run_blur(self, so);
    for (const auto& rel : t.path) {
      const std::string x = o.out_dir + "/" + rel, y = so.out_dir + "/" + rel;
      ASSERT_EQ(fs::exists(x), fs::exists(y)) << rel;
      if (fs::exists(x)) {
        EXPECT_EQ(jpeg::read_file(x), jpeg::read_file(y)) << rel;
      }
    }
  }
  // Photos blurred in batches (--batch-mp): one blur_regions call for several photos, the same
  // bytes and the same detections as one photo per call.
  {
    engine::Engine self(mpi::Comm(MPI_COMM_SELF));
    auto blur_calls = [](const std::string& run) {
      const engine::Plan plan = engine::read_plan(run);
      int64_t n = 0;
      for (const engine::Task& task : plan.tasks) {
        h5::File f(engine::shard_path(run, task), h5::File::Mode::kRead);
        n += f.root().open_group("shard").attr_int("blur_calls");
      }
      return n;
    };
    BlurJobOptions bo = o;
    bo.run_dir = dir + "/run-batched";
    bo.out_dir = dir + "/out-batched";
    bo.batch_megapixels = 100;
    bo.plan.partition_precision = 1;
    bo.plan.max_task_fraction = 1;  // one task: all photos in one batch
    run_blur(self, bo);
    const auto batched_audit = write_audit(self, bo.run_dir);
    BlurJobOptions one = bo;
    one.run_dir = dir + "/run-one";
    one.out_dir = dir + "/out-one";
    one.batch_megapixels = 0;
    run_blur(self, one);
    write_audit(self, one.run_dir);
    EXPECT_EQ(blur_calls(one.run_dir), 3) << "the panorama, q.png and png-named.jpg have targets";
    EXPECT_EQ(blur_calls(bo.run_dir), 1);
    EXPECT_EQ(batched_audit.dead, audit.dead);
    for (const auto& rel : t.path) {
      const std::string x = one.out_dir + "/" + rel, y = bo.out_dir + "/" + rel;
      ASSERT_EQ(fs::exists(x), fs::exists(y)) << rel;
      if (!fs::exists(x)) continue;
      EXPECT_EQ(jpeg::read_file(x), jpeg::read_file(y)) << rel;
      EXPECT_EQ(jpeg::read_file(x), jpeg::read_file(o.out_dir + "/" + rel)) << rel;
      std::ifstream sx(x + ".json"), sy(y + ".json");
      EXPECT_EQ(nlohmann::json::parse(sx)["detections"], nlohmann::json::parse(sy)["detections"]) << rel;
    }
  }
  std::ifstream summary(audit.summary_path);
  const auto sj = nlohmann::json::parse(summary);
  EXPECT_EQ(sj["images"], t.rows());
  EXPECT_EQ(sj["stage_seconds_total"].size(), 6u);
  EXPECT_GT(sj["megapixels_written"].get<double>(), 0.5);  // the 1024x512 panorama alone
}

}  // namespace
}  // namespace geoshard::blur

GEOSHARD_MPI_TEST_MAIN()
