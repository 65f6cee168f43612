// bench/gpu: the GPU batches of the backend -- point-in-polygon, segment x edge cuts, equirect
// view projection, region blur -- on the CPU (one thread) and on the GPU (when the binary has CUDA and a device is
// usable), on the same data in one run, with the outputs compared byte for byte. Without a
// device the GPU column says why and the CPU figures are still measured.
//
//   gpu_bench [--equirect PANO.jpg] [--points N] [--regions N] [--repeat R]
//   srun --gres=gpu:1 build/bench/gpu/gpu_bench --equirect ../shared/data/pano360/overpass-1k-equirect.jpg
//
// Figures: PIP tests/s (anchor: RAPIDS cuSpatial's quadtree PIP, about 1e8 points/s on a large
// GPU), cut edges/s, view megapixels/s (output pixels of all views of the photo), blurred megapixels/s
// (pixels written by the regions). GPU times include the host<->device copies of each call.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "jobs/backend/backend.h"
#include "kernels/batch.h"
#include "tests/kernels/test_util.h"

using namespace geoshard;

namespace {

double best_of(int repeat, const std::function<void()>& f) {
  double best = 1e300;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

struct Row {
  Row(std::string s, std::string u, double w) : stage(std::move(s)), unit(std::move(u)), work(w) {}
  std::string stage, unit;
  double work = 0;  // units of work per call
  double cpu_s = 0;
  std::optional<double> gpu_s;
  bool same = true;
};

void print(const std::vector<Row>& rows, const std::string& gpu_note) {
  std::printf("| stage | CPU, 1 thread | GPU | GPU / CPU | outputs |\n| --- | --- | --- | --- | --- |\n");
  for (const Row& r : rows) {
    const double cpu_rate = r.work / r.cpu_s;
    if (r.gpu_s) {
      const double gpu_rate = r.work / *r.gpu_s;
      std::printf("| %s | %.3g %s | %.3g %s | %.1f× | %s |\n", r.stage.c_str(), cpu_rate, r.unit.c_str(), gpu_rate,
                  r.unit.c_str(), gpu_rate / cpu_rate, r.same ? "identical" : "DIFFER");
    } else {
      std::printf("| %s | %.3g %s | — | — | — |\n", r.stage.c_str(), cpu_rate, r.unit.c_str());
    }
  }
  if (!gpu_note.empty()) std::printf("\nGPU: %s\n", gpu_note.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("gpu_bench: the backend's batches on the CPU and the GPU, same data, one run");
  std::string equirect;
  int64_t points = 4'000'000;
  int regions = 400, repeat = 3;
  app.add_option("--equirect", equirect, "A 2:1 photo (default: a synthetic 5760 x 2880 image)");
  app.add_option("--points", points, "Point-in-polygon tests")->capture_default_str();
  app.add_option("--regions", regions, "Regions blurred on the photo")->capture_default_str();
  app.add_option("--repeat", repeat, "Best of N")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const backend::Choice cpu = backend::resolve(backend::Request::cpu);
  std::optional<backend::Choice> gpu;
  std::string gpu_note;
  try {
    gpu = backend::resolve(backend::Request::cuda);
  } catch (const std::exception& e) {
    gpu_note = std::string("skipped: ") + e.what();
  }
  std::vector<Row> rows;

  // 1. Point-in-polygon: polygons with holes, a third of the points on edges.
  {
    const int polys = 1000;
    const auto pc = testing::make_pip_cases(7, polys, static_cast<int>(std::max<int64_t>(1, points / polys)));
    std::vector<PipResult> a(pc.lon.size()), b(pc.lon.size());
    Row r{"point in polygon", "tests/s", static_cast<double>(pc.lon.size())};
    r.cpu_s = best_of(repeat, [&] { backend::pip_batch(cpu, pc.view(), pc.lon, pc.lat, pc.poly_of_point, a); });
    if (gpu) {
      r.gpu_s = best_of(repeat, [&] { backend::pip_batch(*gpu, pc.view(), pc.lon, pc.lat, pc.poly_of_point, b); });
      r.same = a == b;
    }
    rows.push_back(r);
  }

  // 2. Segment x edge cuts (localise's boundary cells): segments and edges on a coarse grid, so
  // crossings at vertices and collinear overlaps are frequent; as many edges as tests above.
  {
    const auto cc = testing::make_cut_cases(8, static_cast<int>(std::max<int64_t>(1, points / 4)), 7);
    std::vector<EdgeCut> a(cc.ux.size()), b(cc.ux.size());
    Row r{"segment x edge cuts", "edges/s", static_cast<double>(cc.ux.size())};
    r.cpu_s = best_of(repeat, [&] { backend::cut_batch(cpu, cc.view(), a); });
    if (gpu) {
      r.gpu_s = best_of(repeat, [&] { backend::cut_batch(*gpu, cc.view(), b); });
      r.same = a.size() == b.size();
      for (size_t e = 0; r.same && e < a.size(); ++e)
        r.same = a[e].kind == b[e].kind && a[e].ta == b[e].ta && a[e].tb == b[e].tb;
    }
    rows.push_back(r);
  }

  // The photo.
  cv::Mat img;
  if (!equirect.empty()) {
    img = cv::imread(equirect, cv::IMREAD_COLOR);
    if (img.empty() || img.cols != 2 * img.rows || img.cols % 2) {
      std::fprintf(stderr, "gpu_bench: %s: not a readable 2:1 photo\n", equirect.c_str());
      return 1;
    }
  } else {
    img.create(2880, 5760, CV_8UC3);
    cv::randu(img, 0, 256);
  }
  const int W = img.cols, H = img.rows;

  // 2. View projection: the chain's layout (75° views, 15° overlap) at the photo's resolution.
  {
    const projection::Equirect e{W, H};
    const int nv = projection::equirect_views(e, projection::rad(75), projection::rad(15), nullptr, 0);
    std::vector<projection::View> views(nv);
    projection::equirect_views(e, projection::rad(75), projection::rad(15), views.data(), nv);
    const ImageRef src{img.data, W, H, 3, static_cast<int64_t>(img.step)};
    std::vector<std::vector<uint8_t>> a(nv), b(nv);
    std::vector<ViewRequest> ra, rb;
    double pixels = 0;
    for (int k = 0; k < nv; ++k) {
      const int64_t os = static_cast<int64_t>(views[k].width) * 3;
      a[k].resize(static_cast<size_t>(os) * views[k].height);
      b[k].resize(a[k].size());
      ra.push_back(ViewRequest{0, views[k], a[k].data(), os});
      rb.push_back(ViewRequest{0, views[k], b[k].data(), os});
      pixels += static_cast<double>(views[k].width) * views[k].height;
    }
    Row r{"view projection (" + std::to_string(nv) + " views)", "MP/s", pixels / 1e6};
    r.cpu_s = best_of(repeat, [&] { backend::render_equirect_views(cpu, std::span<const ImageRef>(&src, 1), ra); });
    if (gpu) {
      r.gpu_s = best_of(repeat, [&] { backend::render_equirect_views(*gpu, std::span<const ImageRef>(&src, 1), rb); });
      r.same = a == b;
    }
    rows.push_back(r);
  }

  // 3. Region blur: face-sized ellipses (48 .. 320 px) all over the photo, gaussian.
  {
    std::mt19937_64 rng(9);
    std::vector<double> u, v;
    std::vector<RegionRequest> reqs;
    for (int k = 0; k < regions; ++k) {
      const double w = testing::uniform(rng, 48, 320), h = w * testing::uniform(rng, 1.0, 1.4);
      const double x0 = testing::uniform(rng, 0, W - w), y0 = testing::uniform(rng, 0, H - h);
      const uint32_t first = static_cast<uint32_t>(u.size());
      u.resize(first + 32), v.resize(first + 32);
      blur::ellipse_polygon(x0, y0, x0 + w, y0 + h, 32, &u[first], &v[first]);
      reqs.push_back(RegionRequest{0, first, 32});
    }
    cv::Mat a = img.clone(), b = img.clone();
    uint64_t written = 0;
    const RegionBlurOptions opt;
    const ImageBuffer ia{a.data, W, H, 3, static_cast<int64_t>(a.step)}, ib{b.data, W, H, 3, static_cast<int64_t>(b.step)};
    // Each repetition blurs a fresh copy (the regions overlap, so a second pass would differ).
    Row r{"region blur (" + std::to_string(regions) + " regions, gaussian)", "MP/s", 0};
    r.cpu_s = best_of(repeat, [&] {
      img.copyTo(a);
      written = backend::blur_regions(cpu, std::span<const ImageBuffer>(&ia, 1), u, v, reqs, opt);
    });
    r.work = static_cast<double>(written) / 1e6;
    if (gpu) {
      uint64_t gw = 0;
      r.gpu_s = best_of(repeat, [&] {
        img.copyTo(b);
        gw = backend::blur_regions(*gpu, std::span<const ImageBuffer>(&ib, 1), u, v, reqs, opt);
      });
      r.same = gw == written && cv::norm(a, b, cv::NORM_INF) == 0;
    }
    rows.push_back(r);
  }

  std::printf("photo %d x %d (%s), %d repetitions (best)\n\n", W, H, equirect.empty() ? "synthetic" : equirect.c_str(),
              repeat);
  print(rows, gpu_note);
  for (const Row& r : rows)
    if (!r.same) return 2;
  return 0;
}
