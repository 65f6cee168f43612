#include "io/image_table.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "io/hdf5.h"
#include "kernels/geohash.h"

namespace geoshard {

std::string field_of_view_problem(const std::string& projection, double hfov_deg) {
  if (std::isnan(hfov_deg)) return "";
  const bool equirect = projection == "equirect", fisheye = projection == "fisheye";
  const double max = equirect || fisheye ? 360.0 : 180.0;  // equirect: up to and including it
  if (hfov_deg > 0 && (equirect ? hfov_deg <= max : hfov_deg < max)) return "";
  char b[160];
  std::snprintf(b, sizeof b, "field of view %g degrees is out of range for a %s photo (above 0, %s %g)", hfov_deg,
                equirect || fisheye ? projection.c_str() : "perspective", equirect ? "at most" : "below", max);
  return b;
}

void ImageTable::validate() const {
  auto fail = [](const std::string& m) { throw std::runtime_error("image table: " + m); };
  const size_t n = rows();
  for (size_t s : {lon.size(), lat.size(), zkey.size(), width.size(), height.size(), megapixels.size(), projection.size(),
                   hfov_deg.size(), heading_deg.size(), captured_at.size(), orientation.size(), location_source.size()})
    if (s != n) fail("columns have different lengths");
  if (cum_mp.size() != n + 1 || cum_mp[0] != 0) fail("cum_mp must have rows+1 entries starting at 0");
  for (size_t i = 0; i < n; ++i) {
    if (width[i] <= 0 || height[i] <= 0) fail("row " + std::to_string(i) + ": non-positive size");
    if (i && zkey[i] < zkey[i - 1]) fail("zkey not sorted at row " + std::to_string(i));
    const bool located = std::isfinite(lon[i]) && std::isfinite(lat[i]);
    if (located ? zkey[i] != geohash::zkey(lon[i], lat[i]) : zkey[i] != kNoLocationKey)
      fail("row " + std::to_string(i) + ": zkey does not match the location");
    if (projection[i] != "equirect" && projection[i] != "perspective" && projection[i] != "fisheye")
      fail("row " + std::to_string(i) + ": unknown projection '" + projection[i] + "'");
    if (std::fabs(cum_mp[i + 1] - cum_mp[i] - megapixels[i]) > 1e-9 * (1 + cum_mp[i + 1]))
      fail("cum_mp does not add up at row " + std::to_string(i));
  }
}

void write_image_table(const ImageTable& t, const std::string& path, const std::string& source) {
  h5::File f(path, h5::File::Mode::kCreate);
  h5::Group g = f.root().create_group("images");
  g.set_attr("format", std::string("geoshard.images"));
  g.set_attr("format_version", int64_t{1});
  g.set_attr("rows", static_cast<int64_t>(t.rows()));
  g.set_attr("root", t.root);
  g.set_attr("source", source);
  g.set_attr("crs", std::string("EPSG:4326"));
  g.set_attr("sort_key", std::string("zkey: 64-bit geohash Z-order key of the capture point; 2^64-1 = no location (last)"));
  g.set_attr("megapixels", t.cum_mp.empty() ? 0.0 : t.cum_mp.back());
  g.write_strings("path", t.path);
  g.write_column("lon", t.lon);
  g.write_column("lat", t.lat);
  g.write_column("zkey", t.zkey);
  g.write_column("width", t.width);
  g.write_column("height", t.height);
  g.write_column("megapixels", t.megapixels);
  g.write_column("cum_mp", t.cum_mp);
  g.write_strings("projection", t.projection);
  g.write_column("hfov_deg", t.hfov_deg);
  g.write_column("heading_deg", t.heading_deg);
  g.write_strings("captured_at", t.captured_at);
  g.write_column("orientation", t.orientation);
  g.write_strings("location_source", t.location_source);
  f.close();
}

uint64_t image_table_rows(const std::string& path) {
  h5::File f(path, h5::File::Mode::kRead);
  return f.root().open_group("images").column("zkey").size();
}

ImageTable read_image_table(const std::string& path, uint64_t begin, std::optional<uint64_t> end) {
  h5::File f(path, h5::File::Mode::kRead);
  h5::Group g = f.root().open_group("images");
  if (!g.has_attr("format") || g.attr_string("format") != "geoshard.images")
    throw std::runtime_error("'" + path + "' is not a geoshard image table (no /images@format)");
  const uint64_t n = g.column("zkey").size(), e = end.value_or(n);
  if (begin > e || e > n)
    throw std::runtime_error("'" + path + "': row range [" + std::to_string(begin) + ", " + std::to_string(e) +
                             ") outside its " + std::to_string(n) + " rows");
  const uint64_t c = e - begin;
  ImageTable t;
  t.root = g.attr_string("root");
  t.path = g.column("path").read_strings(begin, c);
  t.lon = g.column("lon").read<double>(begin, c);
  t.lat = g.column("lat").read<double>(begin, c);
  t.zkey = g.column("zkey").read<uint64_t>(begin, c);
  t.width = g.column("width").read<int32_t>(begin, c);
  t.height = g.column("height").read<int32_t>(begin, c);
  t.megapixels = g.column("megapixels").read<double>(begin, c);
  t.cum_mp = g.column("cum_mp").read<double>(begin, c + 1);
  t.projection = g.column("projection").read_strings(begin, c);
  t.hfov_deg = g.column("hfov_deg").read<double>(begin, c);
  t.heading_deg = g.column("heading_deg").read<double>(begin, c);
  t.captured_at = g.column("captured_at").read_strings(begin, c);
  t.orientation = g.column("orientation").read<uint8_t>(begin, c);
  t.location_source = g.column("location_source").read_strings(begin, c);
  // Sizes drive planning and view geometry before any photo is opened: a size that is not a
  // photo's (a table changed in place or written by another tool) is an error here.
  for (uint64_t i = 0; i < c; ++i) {
    const double w = t.width[i], h = t.height[i];
    if (!(w >= 1 && h >= 1 && w <= kMaxImageSide && h <= kMaxImageSide) ||
        !(std::fabs(t.megapixels[i] - w * h / 1e6) <= 1e-6 * (1 + t.megapixels[i])))
      throw std::runtime_error("'" + path + "': row " + std::to_string(begin + i) + " (" + t.path[i] + ") has size " +
                               std::to_string(t.width[i]) + " x " + std::to_string(t.height[i]) + " and " +
                               std::to_string(t.megapixels[i]) + " MP: not a photo's (1.." +
                               std::to_string(kMaxImageSide) + " pixels a side, MP = width x height / 1e6)");
  }
  return t;
}

}  // namespace geoshard
