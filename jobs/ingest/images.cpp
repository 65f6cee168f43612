// ingest images: a folder of photos or a manifest -> images.h5 (io/image_table.h).
#include <gdal_priv.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>

#include "io/csv.h"
#include "io/dead_letter.h"
#include "io/image_table.h"
#include "io/output.h"
#include "io/ogr_source.h"
#include "jobs/ingest/ingest.h"
#include "jobs/ingest/manifest.h"
#include "kernels/geohash.h"

namespace geoshard::ingest {
namespace fs = std::filesystem;
namespace {

const double kNaN = std::nan("");

struct Bad : std::runtime_error {
  Reason reason;
  Bad(Reason r, const std::string& m) : std::runtime_error(m), reason(r) {}
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A number from manifest text; "" = not given (NaN). Throws Bad on anything else.
double number(const std::string& field, const std::string& text) {
  std::string t = text;
  t.erase(0, t.find_first_not_of(" \t"));
  t.erase(t.find_last_not_of(" \t\r") + 1);
  if (t.empty()) return kNaN;
  double v = 0;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (r.ec != std::errc() || r.ptr != t.data() + t.size())
    throw Bad(Reason::kBadManifestRow, field + " '" + text + "' is not a number");
  if (!std::isfinite(v)) throw Bad(Reason::kNonFiniteCoordinate, field + " is not finite");
  return v;
}

const std::set<std::string> kColumns = {"path", "lat", "lon", "captured_at", "heading", "projection", "hfov"};

void set_field(Candidate& c, const std::string& key, const std::string& value) {
  if (key == "path") c.rel = value;
  else if (key == "lat") c.lat = number("lat", value);
  else if (key == "lon") c.lon = number("lon", value);
  else if (key == "heading") c.heading = number("heading", value);
  else if (key == "hfov") c.hfov = number("hfov", value);
  else if (key == "captured_at") c.captured_at = value;
  else if (key == "projection") c.projection = lower(value);
}

// Fields of one CSV record (io/csv.h); a malformed record is a bad manifest row.
std::vector<std::string> csv_fields(const std::string& line) {
  try {
    return split_csv_line(line);
  } catch (const std::invalid_argument& e) {
    throw Bad(Reason::kBadManifestRow, e.what());
  }
}

}  // namespace

std::vector<Candidate> read_manifest(const std::string& path, DeadLetterWriter& dl, uint64_t& records_in) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read manifest '" + path + "'");
  std::vector<Candidate> out;
  const bool jsonl = lower(fs::path(path).extension().string()) == ".jsonl" || lower(fs::path(path).extension().string()) == ".json";
  std::string line;
  uint64_t lineno = 0;
  std::vector<std::string> header;
  if (!jsonl) {
    if (!std::getline(in, line)) throw std::runtime_error("manifest '" + path + "' is empty (expected a header: path,lat,lon,...)");
    ++lineno;
    if (line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // UTF-8 BOM
    std::vector<std::string> names;
    try {
      names = split_csv_line(line);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error("manifest '" + path + "' line 1 (the header): " + e.what());
    }
    for (auto& h : names) {
      h.erase(0, h.find_first_not_of(" \t"));
      h.erase(h.find_last_not_of(" \t") + 1);
      header.push_back(lower(h));
    }
    std::string unknown;
    for (const auto& h : header)
      if (!kColumns.count(h)) unknown += (unknown.empty() ? "" : ", ") + h;
    std::set<std::string> named;
    for (const auto& h : header)
      if (!named.insert(h).second) throw std::runtime_error("manifest '" + path + "': header names the column '" + h + "' twice");
    if (std::find(header.begin(), header.end(), "path") == header.end() || !unknown.empty())
      throw std::runtime_error("manifest '" + path + "': header must name the column 'path' and only columns of " +
                               "path, lat, lon, captured_at, heading, projection, hfov" +
                               (unknown.empty() ? std::string() : "; unknown: " + unknown));
  }
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line: not a record
    ++records_in;
    Candidate c;
    c.record = "line " + std::to_string(lineno);
    try {
      if (jsonl) {
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(line);
        } catch (const std::exception& e) {
          throw Bad(Reason::kBadManifestRow, std::string("not JSON: ") + e.what());
        }
        if (!j.is_object()) throw Bad(Reason::kBadManifestRow, "not a JSON object");
        for (const auto& [k, v] : j.items()) {
          if (!kColumns.count(k)) throw Bad(Reason::kBadManifestRow, "unknown key '" + k + "'");
          set_field(c, k, v.is_string() ? v.get<std::string>() : v.is_number() ? v.dump() : v.is_null() ? "" : v.dump());
        }
      } else {
        const auto f = csv_fields(line);
        if (f.size() != header.size())
          throw Bad(Reason::kBadManifestRow, std::to_string(f.size()) + " fields, the header has " + std::to_string(header.size()));
        for (size_t k = 0; k < f.size(); ++k) set_field(c, header[k], f[k]);
      }
      if (c.rel.empty()) throw Bad(Reason::kBadManifestRow, "empty path");
      // images.h5 holds UTF-8 text (docs/formats.md): a path or time that is not is a bad record.
      if (!is_valid_utf8(c.rel)) throw Bad(Reason::kInvalidUtf8, "path is not valid UTF-8");
      if (!is_valid_utf8(c.captured_at)) throw Bad(Reason::kInvalidUtf8, "captured_at is not valid UTF-8");
      if (std::isnan(c.lat) != std::isnan(c.lon)) throw Bad(Reason::kBadManifestRow, "lat and lon must be given together");
      if (!std::isnan(c.lat) && (c.lat < -90 || c.lat > 90 || c.lon < -180 || c.lon > 180))
        throw Bad(Reason::kCoordinateOutOfRange, "lat/lon (" + std::to_string(c.lat) + ", " + std::to_string(c.lon) + ") out of range");
      if (!c.projection.empty() && c.projection != "equirect" && c.projection != "perspective" && c.projection != "fisheye")
        throw Bad(Reason::kBadManifestRow, "projection '" + c.projection + "' (expected equirect, perspective or fisheye)");
      // './p/a.jpg', 'p//a.jpg' and 'p/a.jpg' are one photo (duplicates: ingest_images).
      c.rel = fs::path(c.rel).lexically_normal().generic_string();
      out.push_back(std::move(c));
    } catch (const Bad& b) {
      dl.write(path, c.record, b.reason, b.what());
    }
  }
  return out;
}

namespace {

// Numbers of a GDAL EXIF value: "(1) (17) (30.5)" or "123.4".
std::vector<double> exif_numbers(const char* v) {
  std::vector<double> out;
  if (!v) return out;
  static const std::regex num(R"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)");
  const std::string s(v);
  for (auto it = std::sregex_iterator(s.begin(), s.end(), num); it != std::sregex_iterator(); ++it) out.push_back(std::stod(it->str()));
  return out;
}
double dms(const std::vector<double>& v) {
  if (v.empty()) return kNaN;
  return v[0] + (v.size() > 1 ? v[1] / 60 : 0) + (v.size() > 2 ? v[2] / 3600 : 0);
}

// A GPano XMP property, as an attribute (GPano:X="v") or an element (<GPano:X>v</GPano:X>).
std::string gpano(const std::string& xmp, const std::string& name) {
  const std::regex attr("GPano:" + name + R"(\s*=\s*["']([^"']*)["'])");
  const std::regex elem("<GPano:" + name + R"(>\s*([^<]*?)\s*</GPano:)" + name + ">");
  std::smatch m;
  if (std::regex_search(xmp, m, attr) || std::regex_search(xmp, m, elem)) return m[1].str();
  return "";
}

struct Row {
  Candidate c;
  bool exif_location_rejected = false;  // EXIF GPS present but not a lat/lon (e.g. latitude 123)
  int width = 0, height = 0;
  uint8_t orientation = 1;
  std::string location_source, projection;
  double hfov = kNaN;
};

// Opens the photo with GDAL: size, EXIF (GPS, time, heading, orientation), XMP GPano.
Row inspect(const fs::path& root, Candidate c) {
  const fs::path file = root / c.rel;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) throw Bad(Reason::kFileNotFound, "no file '" + file.string() + "'");
  CPLErrorReset();
  GDALDataset* ds = static_cast<GDALDataset*>(GDALOpenEx(file.string().c_str(), GDAL_OF_RASTER | GDAL_OF_READONLY, nullptr, nullptr, nullptr));
  if (!ds) {
    const std::string why = CPLGetLastErrorMsg();
    throw Bad(Reason::kUnreadableImage, "'" + file.string() + "' is not a readable image" + (why.empty() ? "" : ": " + why));
  }
  Row r;
  r.width = ds->GetRasterXSize();
  r.height = ds->GetRasterYSize();
  const char* lat = ds->GetMetadataItem("EXIF_GPSLatitude");
  const char* lon = ds->GetMetadataItem("EXIF_GPSLongitude");
  if (std::isnan(c.lat) && lat && lon) {
    double la = dms(exif_numbers(lat)), lo = dms(exif_numbers(lon));
    const char* lar = ds->GetMetadataItem("EXIF_GPSLatitudeRef");
    const char* lor = ds->GetMetadataItem("EXIF_GPSLongitudeRef");
    if (lar && (lar[0] == 'S' || lar[0] == 's')) la = -la;
    if (lor && (lor[0] == 'W' || lor[0] == 'w')) lo = -lo;
    if (std::isfinite(la) && std::isfinite(lo) && std::fabs(la) <= 90 && std::fabs(lo) <= 180) {
      c.lat = la, c.lon = lo;
      r.location_source = "exif";
    } else {
      r.exif_location_rejected = true;  // kept without a location, counted in the summary
    }
  } else if (!std::isnan(c.lat)) {
    r.location_source = "manifest";
  }
  if (c.captured_at.empty())
    if (const char* t = ds->GetMetadataItem("EXIF_DateTimeOriginal")) c.captured_at = sanitize_utf8(t);
  if (std::isnan(c.heading)) {
    const auto h = exif_numbers(ds->GetMetadataItem("EXIF_GPSImgDirection"));
    if (!h.empty()) c.heading = h[0];
  }
  const auto o = exif_numbers(ds->GetMetadataItem("EXIF_Orientation"));
  if (!o.empty() && o[0] >= 1 && o[0] <= 8) r.orientation = static_cast<uint8_t>(o[0]);
  // Projection: manifest, else XMP GPano, else a 2:1 aspect means equirect, else perspective.
  r.projection = c.projection;
  if (r.projection.empty()) {
    std::string xmp;
    if (char** x = ds->GetMetadata("xml:XMP"); x && x[0]) xmp = x[0];
    if (lower(gpano(xmp, "ProjectionType")) == "equirectangular") {
      r.projection = "equirect";
      const auto full = exif_numbers(gpano(xmp, "FullPanoWidthPixels").c_str());
      const auto crop = exif_numbers(gpano(xmp, "CroppedAreaImageWidthPixels").c_str());
      r.hfov = !full.empty() && !crop.empty() && full[0] > 0 ? 360.0 * crop[0] / full[0] : 360.0;
    } else if (r.width == 2 * r.height) {
      r.projection = "equirect";
      r.hfov = 360.0;
    } else {
      r.projection = "perspective";
    }
  } else if (r.projection == "equirect") {
    r.hfov = 360.0;
  }
  if (!std::isnan(c.hfov)) r.hfov = c.hfov;
  GDALClose(ds);
  if (const std::string p = field_of_view_problem(r.projection, r.hfov); !p.empty())
    throw Bad(Reason::kBadFieldOfView, "'" + file.string() + "': " + p + (std::isnan(c.hfov) ? " (from its XMP GPano tags)" : ""));
  if (r.width <= 0 || r.height <= 0) throw Bad(Reason::kUnreadableImage, "'" + file.string() + "' has no pixels");
  r.c = std::move(c);
  return r;
}

bool image_extension(const fs::path& p) {
  const std::string e = lower(p.extension().string());
  return e == ".jpg" || e == ".jpeg" || e == ".png" || e == ".tif" || e == ".tiff";
}

}  // namespace

nlohmann::json ImageSummary::to_json() const {
  nlohmann::json j;
  j["images"] = rows;
  j["located"] = located;
  j["without_location"] = rows - located;
  j["exif_location_rejected"] = exif_location_rejected;
  j["equirect"] = equirect;
  j["megapixels"] = megapixels;
  j["records_in"] = acc.records_in;
  j["records_out"] = acc.records_out;
  j["dead_letter_total"] = acc.dead_letter_total;
  j["dead_letter"] = acc.dead_letter;
  j["dead_letter_file"] = dead_letter_path;
  j["seconds"] = seconds;
  return j;
}

ImageSummary ingest_images(const ImageOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  gdal_init();
  if (opt.in.empty() == opt.manifest.empty()) throw std::invalid_argument("ingest images: give exactly one of --in DIR or --manifest FILE");
  check_output_writable(opt.out);
  ImageSummary sum;
  sum.dead_letter_path = opt.dead_letter.empty() ? opt.out + ".dead-letter.jsonl" : opt.dead_letter;
  DeadLetterWriter dl(sum.dead_letter_path);
  std::vector<Candidate> cands;
  fs::path root;
  std::string source;
  if (!opt.manifest.empty()) {
    source = opt.manifest;
    root = fs::absolute(opt.manifest).parent_path();
    cands = read_manifest(opt.manifest, dl, sum.acc.records_in);
  } else {
    source = opt.in;
    root = fs::absolute(opt.in);
    if (!fs::is_directory(root)) throw std::runtime_error("'" + opt.in + "' is not a folder (give --manifest for a list)");
    std::vector<std::string> rels, odd;
    // A photo keeps the name it has in the folder (a symlink's own name, not its target's: the
    // output mirrors the folder). Entries with a photo's extension that are not files (a
    // dangling symlink, a FIFO, a device) are records too: dead letters.
    for (const auto& e : fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied)) {
      std::error_code ec;
      if (!image_extension(e.path()) || e.is_directory(ec)) continue;
      (e.is_regular_file(ec) ? rels : odd).push_back(e.path().lexically_relative(root).generic_string());
    }
    std::sort(rels.begin(), rels.end());
    std::sort(odd.begin(), odd.end());
    sum.acc.records_in = rels.size() + odd.size();
    for (const auto& r : odd)
      dl.write(source, r, Reason::kFileNotFound, "'" + (root / r).string() + "' is not a file one can read (a dangling symlink, a FIFO, a device?)");
    for (auto& r : rels) {
      // images.h5 holds UTF-8 paths (docs/formats.md); the dead letter shows the bytes as \xNN.
      if (!is_valid_utf8(r)) {
        dl.write(source, r, Reason::kInvalidUtf8, "file name is not valid UTF-8");
        continue;
      }
      Candidate c;
      c.record = r;
      c.rel = std::move(r);
      cands.push_back(std::move(c));
    }
  }
  root = root.lexically_normal();
  std::vector<Row> rows;
  uint64_t done = 0;
  std::map<std::string, std::string> seen;  // path -> the record of its first good row
  for (Candidate& c : cands) {
    const std::string record = c.record;
    try {
      // One photo, one row (a photo twice would be written twice to one output): the first good
      // row is kept, a later one is a dead letter (a row bad for its own reason says that reason).
      Row row = inspect(root, std::move(c));
      const auto [it, fresh] = seen.emplace(row.c.rel, record);
      if (!fresh) throw Bad(Reason::kDuplicateId, "the photo '" + row.c.rel + "' again (first at " + it->second + "; that row kept)");
      rows.push_back(std::move(row));
    } catch (const Bad& b) {
      dl.write(source, record, b.reason, b.what());
    }
    if (opt.progress && ++done % 64 == 0) opt.progress(done, cands.size());
  }
  // Sort by (zkey, path): located photos in curve order, the unlocated last.
  // The keys of the located photos: one batch on the chosen backend.
  std::vector<double> lon, lat;
  std::vector<size_t> located;
  for (size_t i = 0; i < rows.size(); ++i)
    if (!std::isnan(rows[i].c.lat)) located.push_back(i), lon.push_back(rows[i].c.lon), lat.push_back(rows[i].c.lat);
  std::vector<uint64_t> keys(located.size());
  backend::zkey_batch(opt.backend, lon, lat, keys);
  std::vector<std::pair<uint64_t, size_t>> order(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) order[i] = {kNoLocationKey, i};
  for (size_t j = 0; j < located.size(); ++j) order[located[j]].first = keys[j];
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : rows[a.second].c.rel < rows[b.second].c.rel;
  });
  ImageTable t;
  t.root = root.string();
  t.cum_mp.push_back(0);
  for (const auto& [k, i] : order) {
    const Row& r = rows[i];
    t.path.push_back(r.c.rel);
    t.lon.push_back(r.c.lon);
    t.lat.push_back(r.c.lat);
    t.zkey.push_back(k);
    t.width.push_back(r.width);
    t.height.push_back(r.height);
    const double mp = static_cast<double>(r.width) * r.height / 1e6;
    t.megapixels.push_back(mp);
    t.cum_mp.push_back(t.cum_mp.back() + mp);
    t.projection.push_back(r.projection);
    t.hfov_deg.push_back(r.hfov);
    t.heading_deg.push_back(r.c.heading);
    t.captured_at.push_back(r.c.captured_at);
    t.orientation.push_back(r.orientation);
    t.location_source.push_back(r.location_source);
    sum.located += k != kNoLocationKey;
    sum.exif_location_rejected += r.exif_location_rejected;
    sum.equirect += r.projection == "equirect";
  }
  t.validate();
  dl.close();
  sum.rows = t.rows();
  sum.megapixels = t.cum_mp.back();
  sum.acc.records_out = t.rows();
  sum.acc.dead_letter_total = dl.total();
  sum.acc.dead_letter = dl.counts();
  if (sum.acc.records_in != sum.acc.records_out + sum.acc.dead_letter_total)
    throw std::logic_error("ingest images: accounting does not hold");
  write_atomically(opt.out, [&](const std::string& tmp) { write_image_table(t, tmp, source); });
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace geoshard::ingest
