#include "jobs/blur/job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "io/dead_letter.h"
#include "io/hdf5.h"
#include "io/image_table.h"
#include "io/jpeg_region.h"
#include "io/output.h"

namespace geoshard::blur {
namespace fs = std::filesystem;
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read '" + path + "': is this a blur run folder?");
  return nlohmann::json::parse(in);
}

// Writes bytes to `path` through a temporary name in the same folder and a rename.
void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  write_atomically(path, [&](const std::string& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw std::runtime_error("cannot write '" + tmp + "'");
  });
}

// A field of view the photo's projection cannot have (io/image_table.h field_of_view_problem):
// images.h5 from this version's ingest never holds one; one written otherwise is dead-lettered.
struct BadFieldOfView : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Seconds per stage of one photo (shard columns image_<stage>_seconds, blur-summary.json).
struct StageSeconds {
  double decode = 0, views = 0, detect = 0, backproject = 0, blur = 0, encode = 0;
};
double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// A photo between its detection and its output: decoded (BGR), its regions found, waiting for
// the blur of its batch (blur_batch) and then finish().
struct Prepared {
  std::string in, out;
  std::vector<uint8_t> bytes;  // the file (JPEG)
  bool jpeg = false;
  std::string encode_ext;      // the format cv::imwrite writes, by extension
  int channels = 3;            // of the decoded JPEG (1 = gray)
  cv::Mat bgr, edited;
  bool seam = false;           // an upright 360° photo: regions across the seam get shifted copies
  std::vector<Region> regions;
};

// A photo's first half: decoded (BGR) and its regions found. A photo without regions is written
// at once (the input, byte for byte) and comes back with no regions. Throws jpeg::JpegError /
// std::runtime_error for an unreadable photo, BadFieldOfView (the caller dead-letters both).
// projection, hfov_deg and orientation come from images.h5: the detectors see the photo upright
// (EXIF orientation), the regions come back in stored pixels, and the output keeps the stored
// orientation and every marker segment (the EXIF orientation tag included).
Prepared prepare(const std::string& in, const std::string& out, const std::string& projection, double hfov_deg,
                 int orientation, std::vector<Detector*>& dets, const AnonymiseOptions& opt, int* width, int* height,
                 StageSeconds* sec) {
  auto t = std::chrono::steady_clock::now();
  Prepared p;
  p.in = in, p.out = out;
  const std::string ext = lower(fs::path(in).extension().string());
  // The name says JPEG, but the content decides (ingest, through GDAL, does the same): a PNG or
  // TIFF named .jpg is decoded by OpenCV and written back in its own format under its own name.
  p.encode_ext = ext;
  p.jpeg = ext == ".jpg" || ext == ".jpeg";
  std::vector<uint8_t>& bytes = p.bytes;
  if (p.jpeg) {
    bytes = jpeg::read_file(in);
    auto starts = [&](std::initializer_list<uint8_t> magic) {
      return bytes.size() >= magic.size() && std::equal(magic.begin(), magic.end(), bytes.begin());
    };
    if (starts({0x89, 'P', 'N', 'G'})) p.jpeg = false, p.encode_ext = ".png";
    else if (starts({'I', 'I', 42, 0}) || starts({'M', 'M', 0, 42})) p.jpeg = false, p.encode_ext = ".tif";
    else if (starts({'B', 'M'})) p.jpeg = false, p.encode_ext = ".bmp";
  }
  cv::Mat& bgr = p.bgr;
  if (p.jpeg) {
    jpeg::Image decoded = jpeg::decode_memory(bytes, in);
    p.channels = decoded.channels;
    cv::Mat m(decoded.height, decoded.width, decoded.channels == 1 ? CV_8UC1 : CV_8UC3, decoded.pixels.data());
    cv::cvtColor(m, bgr, decoded.channels == 1 ? cv::COLOR_GRAY2BGR : cv::COLOR_RGB2BGR);
  } else {
    bgr = cv::imread(in, cv::IMREAD_COLOR);
    if (bgr.empty()) throw std::runtime_error("'" + in + "' is not a readable image");
  }
  *width = bgr.cols;
  *height = bgr.rows;
  sec->decode = since(t);
  if (orientation < 1 || orientation > 8) orientation = 1;  // (images.h5 holds 1..8; 0 = not known)
  const bool turned = orientation >= 5;                    // upright width = stored height
  const int uw = turned ? bgr.rows : bgr.cols, uh = turned ? bgr.cols : bgr.rows;
  const bool equirect = projection == "equirect" && uw == 2 * uh && uw % 2 == 0;
  // An "equirect" photo that is not 2:1 (e.g. a cropped panorama) is searched as it is, as before:
  // its hfov (> 180° possibly) is not a pinhole's.
  if (projection == "equirect" && !equirect) hfov_deg = std::nan("");
  const std::string searched_as = equirect ? "equirect" : projection == "fisheye" ? "fisheye" : "perspective";
  if (const std::string pr = field_of_view_problem(searched_as, hfov_deg); !pr.empty()) throw BadFieldOfView("'" + in + "': " + pr);
  AnonymiseStats st;
  p.regions = find_regions(bgr, searched_as, hfov_deg, orientation, dets, opt, &st);
  sec->views = st.views_seconds, sec->detect = st.detect_seconds, sec->backproject = st.backproject_seconds;
  p.seam = equirect && orientation == 1;  // (other orientations: seam copies made)
  if (p.regions.empty()) {
    // Nothing to blur: the output is the input, byte for byte.
    t = std::chrono::steady_clock::now();
    if (bytes.empty()) bytes = jpeg::read_file(in);
    write_file(out, bytes);
    sec->encode = since(t);
    p = Prepared{};
  }
  return p;
}

// The blur of a batch of photos with regions: one apply_regions call (one backend::blur_regions
// batch) for all of them; each photo's blur seconds are the batch's shared by its regions.
void blur_batch(const std::vector<Prepared*>& photos, const AnonymiseOptions& opt, const std::vector<StageSeconds*>& sec) {
  if (photos.empty()) return;
  const auto t = std::chrono::steady_clock::now();
  std::vector<RegionPhoto> batch;
  size_t regions = 0;
  for (Prepared* p : photos) {
    p->edited = p->bgr.clone();
    batch.push_back(RegionPhoto{&p->edited, p->seam, &p->regions});
    regions += p->regions.size();
  }
  apply_regions(batch, opt);
  const double dt = since(t);
  for (size_t k = 0; k < photos.size(); ++k)
    sec[k]->blur = dt * static_cast<double>(photos[k]->regions.size()) / static_cast<double>(regions);
}

// Writes a blurred photo: JPEG through the lossless block rewrite, other formats re-encoded.
void finish(Prepared& p, StageSeconds* sec) {
  const auto t = std::chrono::steady_clock::now();
  if (p.jpeg) {
    const bool gray = p.channels == 1;
    jpeg::Image e{p.edited.cols, p.edited.rows, p.channels, {}};
    cv::Mat back;
    cv::cvtColor(p.edited, back, gray ? cv::COLOR_BGR2GRAY : cv::COLOR_BGR2RGB);
    e.pixels.assign(back.data, back.data + back.total() * back.elemSize());
    std::vector<uint8_t> changed(static_cast<size_t>(e.width) * e.height, 0);
    for (int y = 0; y < e.height; ++y)
      for (int x = 0; x < e.width; ++x)
        changed[static_cast<size_t>(y) * e.width + x] = p.edited.at<cv::Vec3b>(y, x) != p.bgr.at<cv::Vec3b>(y, x);
    std::vector<uint8_t> out_bytes;
    jpeg::rewrite_blocks(p.bytes, p.in, e, changed, out_bytes);
    write_file(p.out, out_bytes);
  } else {
    fs::create_directories(fs::path(p.out).parent_path());
    // imwrite picks the format by extension: keep it at the end of the temporary name.
    const std::string tmp =
        (fs::path(p.out).parent_path() / (".tmp-" + fs::path(p.out).stem().string() + p.encode_ext)).string();
    if (!cv::imwrite(tmp, p.edited)) throw std::runtime_error("cannot write '" + tmp + "'");
    fs::rename(tmp, p.out);
  }
  sec->encode = since(t);
}

}  // namespace

std::string file_checksum(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path + "'");
  uint64_t h = 1469598103934665603ull;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) h = (h ^ static_cast<uint8_t>(buf[i])) * 1099511628211ull;
    if (!in) break;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

int threads_per_rank(int flag, const char* slurm_cpus_per_task, const char* omp_num_threads, const char* local_ranks,
                     int cores, std::string* why) {
  const auto positive = [](const char* s) -> int {
    if (!s || !*s) return 0;
    char* end = nullptr;
    const long v = std::strtol(s, &end, 10);
    return *end == '\0' && v > 0 && v <= 100000 ? static_cast<int>(v) : 0;
  };
  const auto say = [&](const std::string& w) {
    if (why) *why = w;
  };
  if (flag > 0) return say("--threads"), flag;
  if (const int n = positive(slurm_cpus_per_task)) return say("SLURM_CPUS_PER_TASK"), n;
  if (const int n = positive(omp_num_threads)) return say("OMP_NUM_THREADS"), n;
  const int local = std::max(1, positive(local_ranks));
  say(std::to_string(std::max(1, cores)) + " cores / " + std::to_string(local) + " ranks on this node");
  return std::max(1, std::max(1, cores) / local);
}

namespace {
// A photo whose output path would leave --out (an absolute path or one through "..", as a
// symlink's target or a manifest row can give) or be the input file itself: never written.
struct UnsafeOutput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Where photo `rel` (its path in images.h5) is written under out_dir. Throws UnsafeOutput when
// that is not strictly inside out_dir, or when it is the input file `in` (e.g. --out is the
// photos' own folder): the original must never be overwritten.
std::string output_path(const std::string& out_dir, const std::string& rel, const std::string& in) {
  const fs::path r = fs::path(rel).lexically_normal();
  if (rel.empty() || r.is_absolute() || r.has_root_name() || r.has_root_directory() || r.empty() || *r.begin() == ".." ||
      r == ".")
    throw UnsafeOutput("path '" + rel + "' would be written outside --out '" + out_dir +
                       "' (absolute, or through '..'): not written, the original is left as it is");
  const fs::path out = fs::path(out_dir) / r;
  std::error_code ec;
  if (fs::exists(out, ec) && fs::equivalent(out, in, ec))
    throw UnsafeOutput("output '" + out.string() + "' is the input file itself (--out is the photos' folder?): not written");
  return out.string();
}

struct TooLarge : std::runtime_error {
  using std::runtime_error::runtime_error;
};
}  // namespace

double default_batch_megapixels(const backend::Choice& backend) { return backend.kind == backend::Kind::cuda ? 64.0 : 0.0; }

engine::RunResult run_blur(engine::Engine& eng, const BlurJobOptions& opt) {
  const mpi::Comm& comm = eng.comm();
  {
    std::string why;
    const int threads = threads_per_rank(opt.threads, std::getenv("SLURM_CPUS_PER_TASK"), std::getenv("OMP_NUM_THREADS"),
                                         std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE"), cv::getNumberOfCPUs(), &why);
    cv::setNumThreads(threads);
    if (comm.root() && opt.progress) std::fprintf(stderr, "[blur] %d OpenCV thread(s) per rank (%s)\n", threads, why.c_str());
  }
  // Detectors first: a models file naming a missing model fails before any work.
  std::vector<std::unique_ptr<Detector>> owned;
  std::vector<Detector*> dets = opt.detectors;
  std::map<std::string, std::string> checksum;
  if (dets.empty()) {
    for (const ModelSpec& m : read_models(opt.models.empty() ? default_models_path() : opt.models)) {
      owned.push_back(make_detector(m));
      dets.push_back(owned.back().get());
      checksum[m.name] = file_checksum(m.weights);
    }
  }
  std::vector<uint64_t> zkey;
  std::vector<double> cum_mp;
  std::string root;
  {
    h5::File f(opt.images, h5::File::Mode::kRead);
    const h5::Group g = f.root().open_group("images");
    zkey = g.read_column<uint64_t>("zkey");
    cum_mp = g.read_column<double>("cum_mp");
    root = g.attr_string("root");
  }
  // Tasks weigh what the detectors will search (search_megapixels: an equirect's 47 views are
  // ~5.6x its own pixels), or the seconds an earlier run measured (--cost-from).
  std::vector<double> cum_search{0.0};
  {
    const ImageTable all = read_image_table(opt.images);
    for (size_t i = 0; i < all.rows(); ++i)
      cum_search.push_back(cum_search.back() + search_megapixels(all.width[i], all.height[i], all.projection[i],
                                                                 all.hfov_deg[i], all.orientation[i], opt.anonymise));
  }
  const std::vector<double> cum_weight =
      opt.plan.cost_from.empty() ? cum_search : engine::measured_cum_weight(opt.plan.cost_from, cum_search);
  const engine::Plan plan = engine::plan_for_table(zkey, cum_weight, comm.size(), opt.plan);
  nlohmann::json cfg;
  cfg["job"] = "blur";
  cfg["images"] = fs::absolute(opt.images).lexically_normal().string();
  cfg["models"] = opt.detectors.empty() ? fs::absolute(opt.models.empty() ? default_models_path() : opt.models).string() : "(given)";
  cfg["out_dir"] = fs::absolute(opt.out_dir).lexically_normal().string();
  cfg["cost_from"] = opt.plan.cost_from.empty() ? "" : fs::absolute(opt.plan.cost_from).lexically_normal().string();
  const AnonymiseOptions& a = opt.anonymise;
  cfg["options"] = {{"view_fov_deg", a.view_fov_deg}, {"view_overlap_deg", a.view_overlap_deg}, {"grow", a.grow},
                    {"edge_samples", a.edge_samples}, {"mode", static_cast<int>(a.blur.mode)}, {"strength", a.blur.strength},
                    {"pixel_cells", a.blur.pixel_cells}, {"pole_rotations", a.pole_rotations},
                    {"max_megapixels", opt.max_megapixels}};
  engine::write_run_json(comm, opt.run_dir, "blur.json", cfg);
  engine::RunOptions ro;
  ro.run_dir = opt.run_dir;
  ro.job = "blur";
  ro.inputs = cfg;
  ro.inputs["files"] = {engine::file_fingerprint(opt.images)};  // (an index rewritten in place: a new plan)
  ro.progress = opt.progress;
  ro.weight_unit = opt.plan.cost_from.empty() ? "search MP" : "s (measured)";
  return eng.run(plan, ro, [&](const engine::Task& t, engine::ShardWriter& w) {
    const ImageTable tab = read_image_table(opt.images, t.row_begin, t.row_end);
    std::vector<uint64_t> img_row, reg_row;
    std::vector<int32_t> img_w, img_h, reg_view;
    std::vector<double> img_seconds, reg_score, pu, pv;
    std::vector<double> st_decode, st_views, st_detect, st_backproject, st_blur, st_encode;
    std::vector<std::string> img_status, img_reason, img_message, reg_class, reg_model, reg_checksum;
    std::vector<uint64_t> reg_poly{0}, poly_vertex{0};
    // The photos go in batches of up to batch_megapixels (at least one photo): each is decoded
    // and searched, then the batch's regions are blurred in one call (blur_batch), then each
    // photo is written. A photo that fails at any step is a dead letter; the others go on.
    struct Result {
      int W = 0, H = 0;
      std::string status = "ok", reason, message;
      StageSeconds sec;
      double seconds = 0;
      Prepared photo;
    };
    auto dead = [&](Result& r, const std::string in, std::exception_ptr e) {  // (in: a copy, r.photo is reset)
      r.status = "dead";
      r.photo = Prepared{};
      try {
        std::rethrow_exception(e);
      } catch (const TooLarge& x) {
        r.reason = std::string(reason_code(Reason::kImageTooLarge));
        r.message = x.what();
      } catch (const BadFieldOfView& x) {
        r.reason = std::string(reason_code(Reason::kBadFieldOfView));
        r.message = x.what();
      } catch (const UnsafeOutput& x) {
        r.reason = std::string(reason_code(Reason::kUnsafeOutputPath));
        r.message = x.what();
      } catch (const std::bad_alloc&) {  // this photo needs more memory than the rank has
        r.reason = std::string(reason_code(Reason::kImageTooLarge));
        r.message = engine::kOutOfMemory;
      } catch (const std::exception& x) {
        r.reason = fs::exists(in) ? std::string(reason_code(Reason::kUnreadableImage)) : std::string(reason_code(Reason::kFileNotFound));
        r.message = x.what();
      }
    };
    int64_t blur_calls = 0;  // blur_regions batches (shard attribute blur_calls)
    auto input = [&](size_t i) { return (fs::path(tab.root.empty() ? root : tab.root) / tab.path[i]).string(); };
    for (size_t b = 0; b < tab.rows();) {
      size_t e = b + 1;
      for (double mp = tab.megapixels[b]; e < tab.rows() && mp + tab.megapixels[e] <= opt.batch_megapixels; ++e)
        mp += tab.megapixels[e];
      std::vector<Result> res(e - b);
      for (size_t i = b; i < e; ++i) {
        Result& r = res[i - b];
        const std::string in = input(i);
        const auto t0 = std::chrono::steady_clock::now();
        try {
          if (opt.max_megapixels > 0 && tab.megapixels[i] > opt.max_megapixels) {
            r.W = tab.width[i], r.H = tab.height[i];
            char msg[200];
            std::snprintf(msg, sizeof msg, "%d x %d pixels = %.1f MP, more than --max-megapixels %g: not decoded", r.W,
                          r.H, tab.megapixels[i], opt.max_megapixels);
            throw TooLarge(msg);
          }
          r.photo = prepare(in, output_path(opt.out_dir, tab.path[i], in), tab.projection[i], tab.hfov_deg[i],
                            tab.orientation[i], dets, opt.anonymise, &r.W, &r.H, &r.sec);
        } catch (...) {
          dead(r, in, std::current_exception());
        }
        r.seconds += since(t0);
      }
      std::vector<Prepared*> photos;
      std::vector<StageSeconds*> secs;
      std::vector<Result*> owners;
      for (Result& r : res)
        if (!r.photo.regions.empty()) photos.push_back(&r.photo), secs.push_back(&r.sec), owners.push_back(&r);
      blur_batch(photos, opt.anonymise, secs);  // (argument errors only: they fail the task)
      blur_calls += !photos.empty();
      for (Result* r : owners) {
        r->seconds += r->sec.blur;
        const auto t0 = std::chrono::steady_clock::now();
        try {
          finish(r->photo, &r->sec);
        } catch (...) {
          dead(*r, r->photo.in, std::current_exception());
        }
        r->seconds += since(t0);
      }
      for (size_t i = b; i < e; ++i) {
        const Result& r = res[i - b];
        const uint64_t row = t.row_begin + i;
        img_row.push_back(row), img_w.push_back(r.W), img_h.push_back(r.H);
        img_seconds.push_back(r.seconds);
        st_decode.push_back(r.sec.decode), st_views.push_back(r.sec.views), st_detect.push_back(r.sec.detect);
        st_backproject.push_back(r.sec.backproject), st_blur.push_back(r.sec.blur), st_encode.push_back(r.sec.encode);
        img_status.push_back(r.status), img_reason.push_back(r.reason), img_message.push_back(r.message);
        w.add_bytes_read(static_cast<uint64_t>(tab.megapixels[i] * 1e6 * 3));
        for (const Region& reg : r.photo.regions) {
          reg_row.push_back(row), reg_class.push_back(reg.cls), reg_score.push_back(reg.score), reg_view.push_back(reg.view);
          reg_model.push_back(reg.model);
          reg_checksum.push_back(checksum.count(reg.model) ? checksum[reg.model] : "");
          for (const auto& poly : reg.polygons) {
            for (const auto& [x, y] : poly) pu.push_back(x), pv.push_back(y);
            poly_vertex.push_back(pu.size());
          }
          reg_poly.push_back(poly_vertex.size() - 1);
        }
      }
      b = e;
    }
    h5::Group& g = w.group();
    g.set_attr("blur_calls", blur_calls);
    g.write_column("image_row", img_row);
    g.write_column("image_width", img_w);
    g.write_column("image_height", img_h);
    g.write_column("image_seconds", img_seconds);
    g.write_column("image_decode_seconds", st_decode);
    g.write_column("image_views_seconds", st_views);
    g.write_column("image_detect_seconds", st_detect);
    g.write_column("image_backproject_seconds", st_backproject);
    g.write_column("image_blur_seconds", st_blur);
    g.write_column("image_encode_seconds", st_encode);
    g.write_strings("image_status", img_status);
    g.write_strings("image_reason", img_reason);
    g.write_strings("image_message", img_message);
    g.write_column("region_row", reg_row);
    g.write_strings("region_class", reg_class);
    g.write_column("region_score", reg_score);
    g.write_column("region_view", reg_view);
    g.write_strings("region_model", reg_model);
    g.write_strings("region_model_checksum", reg_checksum);
    g.write_column("region_polygon_offset", reg_poly);
    g.write_column("polygon_vertex_offset", poly_vertex);
    g.write_column("u", pu);
    g.write_column("v", pv);
    w.commit(tab.rows());
  });
}

AuditSummary write_audit(engine::Engine& eng, const std::string& run_dir) {
  const nlohmann::json cfg = read_json((fs::path(run_dir) / "blur.json").string());
  const std::string images = cfg.at("images"), out_dir = cfg.at("out_dir");
  const engine::Plan plan = engine::read_plan(run_dir);
  AuditSummary sum;
  sum.summary_path = (fs::path(out_dir) / "blur-summary.json").string();
  sum.dead_letter_path = (fs::path(out_dir) / "blur.dead-letter.jsonl").string();
  if (!eng.comm().root()) {
    eng.gather(plan, run_dir, [](const engine::Task&, h5::Group&) {});
    return sum;
  }
  fs::create_directories(out_dir);
  DeadLetterWriter dl(sum.dead_letter_path);
  double seconds = 0;
  static const char* kStages[] = {"decode", "views", "detect", "backproject", "blur", "encode"};
  std::map<std::string, double> stage_total;
  double megapixels = 0;
  eng.gather(plan, run_dir, [&](const engine::Task& t, h5::Group& g) {
    const ImageTable tab = read_image_table(images, t.row_begin, t.row_end);
    const auto row = g.read_column<uint64_t>("image_row");
    const auto iw = g.read_column<int32_t>("image_width"), ih = g.read_column<int32_t>("image_height");
    const auto status = g.read_strings("image_status"), reason = g.read_strings("image_reason"), message = g.read_strings("image_message");
    const auto isec = g.read_column<double>("image_seconds");
    std::vector<std::vector<double>> stage;
    for (const char* k : kStages) stage.push_back(g.read_column<double>(std::string("image_") + k + "_seconds"));
    const auto rrow = g.read_column<uint64_t>("region_row");
    const auto rcls = g.read_strings("region_class"), rmodel = g.read_strings("region_model"), rsum = g.read_strings("region_model_checksum");
    const auto rscore = g.read_column<double>("region_score");
    const auto rview = g.read_column<int32_t>("region_view");
    const auto rpoly = g.read_column<uint64_t>("region_polygon_offset"), pvert = g.read_column<uint64_t>("polygon_vertex_offset");
    const auto u = g.read_column<double>("u"), v = g.read_column<double>("v");
    size_t r = 0;
    for (size_t i = 0; i < row.size(); ++i) {
      ++sum.images;
      seconds += isec[i];
      for (size_t k = 0; k < stage.size(); ++k) stage_total[kStages[k]] += stage[k][i];
      const std::string& rel = tab.path[row[i] - t.row_begin];
      if (status[i] != "ok") {
        ++sum.dead;
        ++sum.dead_reasons[reason[i]];
        dl.write(images, rel, reason_from_code(reason[i]).value_or(Reason::kUnreadableImage), message[i]);
        continue;
      }
      ++sum.written;
      nlohmann::json side;
      side["image"] = sanitize_utf8(rel);  // (ingest writes UTF-8 names; tables from elsewhere may not)
      side["width"] = iw[i];
      side["height"] = ih[i];
      megapixels += iw[i] * static_cast<double>(ih[i]) / 1e6;
      side["seconds"] = {{"total", isec[i]}};
      for (size_t k = 0; k < stage.size(); ++k) side["seconds"][kStages[k]] = stage[k][i];
      side["detections"] = nlohmann::json::array();
      for (; r < rrow.size() && rrow[r] == row[i]; ++r) {
        ++sum.detections[rcls[r]];
        for (uint64_t p = rpoly[r]; p < rpoly[r + 1]; ++p) {
          nlohmann::json poly = nlohmann::json::array();
          for (uint64_t k = pvert[p]; k < pvert[p + 1]; ++k) poly.push_back({u[k] + 0.5, v[k] + 0.5});  // pixel-edge coordinates
          side["detections"].push_back({{"class", rcls[r]}, {"score", rscore[r]}, {"polygon", poly}, {"view", rview[r]},
                                        {"model", rmodel[r]}, {"model_checksum", rsum[r]}});
        }
      }
      if (!side["detections"].empty()) ++sum.with_detections;
      const std::string path = (fs::path(out_dir) / rel).string() + ".json";
      write_atomically(path, [&](const std::string& tmp) { std::ofstream(tmp) << side.dump(1) << "\n"; });
    }
  });
  dl.close();
  nlohmann::json s;
  s["images"] = sum.images;
  s["written"] = sum.written;
  s["with_detections"] = sum.with_detections;
  s["without_detections"] = sum.written - sum.with_detections;
  s["detections"] = sum.detections;
  s["dead_letters"] = sum.dead;
  s["dead_letter_reasons"] = sum.dead_reasons;
  s["image_seconds_total"] = seconds;
  // Seconds per stage over all photos (decode, views, detect, back-projection, blur, encode =
  // lossless rewrite / copy / re-encode); the rest of image_seconds_total is bookkeeping.
  s["stage_seconds_total"] = stage_total;
  s["megapixels_written"] = megapixels;
  write_atomically(sum.summary_path, [&](const std::string& tmp) { std::ofstream(tmp) << s.dump(2) << "\n"; });
  return sum;
}

}  // namespace geoshard::blur
