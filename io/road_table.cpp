#include "io/road_table.h"

#include <cmath>
#include <stdexcept>

#include "io/hdf5.h"
#include "kernels/geodesic.h"
#include "kernels/geohash.h"

namespace geoshard {

void RoadTable::validate() const {
  const size_t n = rows();
  auto fail = [](const std::string& m) { throw std::runtime_error("road table: " + m); };
  if (part.size() != n || highway.size() != n || oneway.size() != n || name.size() != n ||
      maxspeed_kmh.size() != n || zkey.size() != n)
    fail("per-row columns have different lengths");
  if (!gt_intersection_link.empty() && gt_intersection_link.size() != n) fail("gt_intersection_link length");
  if (!roundabout.empty() && roundabout.size() != n) fail("roundabout length");
  if (vertex_offset.size() != n + 1 || cum_km.size() != n + 1) fail("offset columns must have rows+1 entries");
  if (lon.size() != lat.size()) fail("lon and lat differ in length");
  if (vertex_offset.back() - vertex_offset.front() != lon.size()) fail("vertex_offset does not end at the vertex count");
  for (size_t i = 0; i < n; ++i) {
    const uint64_t a = vertex_offset[i] - vertex_offset[0], b = vertex_offset[i + 1] - vertex_offset[0];
    if (b < a + 2) fail("row " + std::to_string(row_offset + i) + " has fewer than 2 vertices");
    for (uint64_t v = a; v < b; ++v)
      if (!std::isfinite(lon[v]) || !std::isfinite(lat[v]) || std::abs(lon[v]) > 180 || std::abs(lat[v]) > 90)
        fail("row " + std::to_string(row_offset + i) + " has a bad coordinate");
    if (zkey[i] != geohash::zkey(lon[a], lat[a])) fail("row " + std::to_string(row_offset + i) + " zkey mismatch");
    if (i && zkey[i] < zkey[i - 1]) fail("rows are not sorted by zkey at row " + std::to_string(row_offset + i));
    if (highway[i] >= highway_classes.size() && !highway_classes.empty()) fail("highway code out of range");
    const double len = polyline_length_m(lon.data() + a, lat.data() + a, b - a) / 1000.0;
    const double got = cum_km[i + 1] - cum_km[i];
    if (std::abs(got - len) > 1e-9 * std::max(1.0, cum_km[i + 1]))
      fail("cum_km does not match the length of row " + std::to_string(row_offset + i));
  }
}

uint64_t RoadTable::bytes() const {
  auto v = [](const auto& x) { return static_cast<uint64_t>(x.size() * sizeof(x[0])); };
  auto strs = [](const std::vector<std::string>& x) {
    uint64_t b = x.size() * sizeof(std::string);
    for (const auto& s : x) b += s.size() > 15 ? s.size() + 1 : 0;  // beyond the small-string buffer
    return b;
  };
  uint64_t b = v(id) + v(part) + v(highway) + v(oneway) + strs(name) + v(maxspeed_kmh) + v(gt_intersection_link) + v(roundabout) +
               v(zkey) + v(vertex_offset) + v(cum_km) + v(lon) + v(lat) + strs(highway_classes) + v(variant_row) +
               strs(variant_lang) + strs(variant_name) + strs(extra_names);
  for (const auto& e : extra_values) b += strs(e);
  return b;
}

void write_road_table(const RoadTable& t, const std::string& path, const std::string& source) {
  h5::File f(path, h5::File::Mode::kCreate);
  h5::Group g = f.root().create_group("roads");
  g.set_attr("format", std::string("geoshard.roads"));
  g.set_attr("format_version", int64_t{1});
  g.set_attr("rows", static_cast<int64_t>(t.rows()));
  g.set_attr("vertices", static_cast<int64_t>(t.lon.size()));
  g.set_attr("road_km", t.road_km());
  g.set_attr("source", source);
  g.set_attr("crs", std::string("EPSG:4326"));
  g.set_attr("sort_key", std::string("zkey: 64-bit geohash Z-order key of the first vertex"));
  g.set_attr("highway_classes", t.highway_classes);
  g.write_column("id", t.id);
  g.write_column("part", t.part);
  g.write_column("highway", t.highway);
  g.write_column("oneway", t.oneway);
  g.write_strings("name", t.name);
  g.write_column("maxspeed_kmh", t.maxspeed_kmh);
  if (!t.gt_intersection_link.empty()) g.write_column("gt_intersection_link", t.gt_intersection_link);
  if (!t.roundabout.empty()) g.write_column("roundabout", t.roundabout);
  g.write_column("zkey", t.zkey);
  g.write_column("vertex_offset", t.vertex_offset);
  g.write_column("cum_km", t.cum_km);
  g.write_column("lon", t.lon);
  g.write_column("lat", t.lat);
  h5::Group v = g.create_group("name_variants");
  // row_offset (rows+1): the variants of row r are [row_offset[r], row_offset[r+1]), so a row
  // range reads its variants with one hyperslab.
  std::vector<uint64_t> voff(t.rows() + 1, 0);
  for (uint64_t r : t.variant_row) ++voff[r - t.row_offset + 1];
  for (size_t i = 1; i < voff.size(); ++i) voff[i] += voff[i - 1];
  v.write_column("row_offset", voff);
  v.write_column("row", t.variant_row);
  v.write_strings("lang", t.variant_lang);
  v.write_strings("name", t.variant_name);
  h5::Group e = g.create_group("extra");
  e.set_attr("fields", t.extra_names);
  for (size_t k = 0; k < t.extra_names.size(); ++k) e.write_strings(t.extra_names[k], t.extra_values[k]);
  f.close();
}

uint64_t road_table_rows(const std::string& path) {
  h5::File f(path, h5::File::Mode::kRead);
  return f.root().open_group("roads").column("id").size();
}

void check_vertex_offsets(const h5::Group& roads, const std::vector<uint64_t>& off, uint64_t row_begin,
                          const std::string& path) {
  const uint64_t nv = roads.column("lon").size();
  for (size_t i = 0; i + 1 < off.size(); ++i)
    if (off[i + 1] < off[i])
      throw std::runtime_error("'" + path + "': vertex_offset decreases at row " + std::to_string(row_begin + i) +
                               " (not a valid road table)");
  if ((!off.empty() && off.back() > nv) || roads.column("lat").size() != nv)
    throw std::runtime_error("'" + path + "': vertex_offset runs past the " + std::to_string(nv) +
                             " vertices, or lon and lat differ in length (not a valid road table)");
}

void check_highway_classes(const std::vector<uint16_t>& highway, size_t classes, uint64_t row_begin,
                           const std::string& path) {
  for (size_t i = 0; i < highway.size(); ++i)
    if (highway[i] >= classes)
      throw std::runtime_error("'" + path + "': row " + std::to_string(row_begin + i) + " has highway class " +
                               std::to_string(highway[i]) + ", past the " + std::to_string(classes) +
                               " of @highway_classes (not a valid road table)");
}

RoadTable read_road_table(const std::string& path, uint64_t begin, std::optional<uint64_t> end,
                          std::optional<MPI_Comm> comm, RoadColumns columns) {
  h5::File f(path, h5::File::Mode::kRead, comm);
  h5::Group g = f.root().open_group("roads");
  if (!g.has_attr("format") || g.attr_string("format") != "geoshard.roads")
    throw std::runtime_error("'" + path + "' is not a geoshard road table (no /roads@format)");
  const uint64_t n = g.column("id").size();
  const uint64_t e = end.value_or(n);
  if (begin > e || e > n)
    throw std::runtime_error("'" + path + "': row range [" + std::to_string(begin) + ", " + std::to_string(e) +
                             ") outside its " + std::to_string(n) + " rows");
  const uint64_t cnt = e - begin;
  RoadTable t;
  t.row_offset = begin;
  const bool all = columns == RoadColumns::kAll;
  t.id = g.column("id").read<int64_t>(begin, cnt);
  t.part = g.column("part").read<uint16_t>(begin, cnt);
  t.zkey = g.column("zkey").read<uint64_t>(begin, cnt);
  t.vertex_offset = g.column("vertex_offset").read<uint64_t>(begin, cnt + 1);
  t.cum_km = g.column("cum_km").read<double>(begin, cnt + 1);
  // The offsets index everything else: one that decreases or runs past the vertices (a table
  // changed in place, or written by another tool) is an error here, not a wild read later.
  check_vertex_offsets(g, t.vertex_offset, begin, path);
  const uint64_t v0 = t.vertex_offset.front(), v1 = t.vertex_offset.back();
  t.lon = g.column("lon").read<double>(v0, v1 - v0);
  t.lat = g.column("lat").read<double>(v0, v1 - v0);
  if (!all) return t;
  t.highway_classes = g.attr_strings("highway_classes");
  t.highway = g.column("highway").read<uint16_t>(begin, cnt);
  check_highway_classes(t.highway, t.highway_classes.size(), begin, path);
  t.oneway = g.column("oneway").read<int8_t>(begin, cnt);
  t.name = g.column("name").read_strings(begin, cnt);
  t.maxspeed_kmh = g.column("maxspeed_kmh").read<float>(begin, cnt);
  if (g.exists("gt_intersection_link")) t.gt_intersection_link = g.column("gt_intersection_link").read<uint8_t>(begin, cnt);
  if (g.exists("roundabout")) t.roundabout = g.column("roundabout").read<uint8_t>(begin, cnt);
  {
    h5::Group v = g.open_group("name_variants");
    const auto voff = v.column("row_offset").read<uint64_t>(begin, cnt + 1);
    const uint64_t a = voff.front(), b = voff.back();
    t.variant_row = v.column("row").read<uint64_t>(a, b - a);
    t.variant_lang = v.column("lang").read_strings(a, b - a);
    t.variant_name = v.column("name").read_strings(a, b - a);
  }
  if (begin == 0 && e == n) {
    h5::Group x = g.open_group("extra");
    t.extra_names = x.attr_strings("fields");
    for (const auto& name : t.extra_names) t.extra_values.push_back(x.read_strings(name));
  }
  return t;
}

}  // namespace geoshard
