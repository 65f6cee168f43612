#include "io/area_table.h"

#include <cmath>
#include <stdexcept>

#include "io/hdf5.h"

namespace geoshard {

void AreaLayer::check_structure() const {
  auto fail = [&](const std::string& m) { throw std::runtime_error("area layer '" + name + "': " + m); };
  const size_t n = areas();
  if (area_name.size() != n || repaired.size() != n || polygon_offset.size() != n + 1 || min_lon.size() != n)
    fail("per-area columns have different lengths");
  if (keep_values.size() != keep_names.size()) fail("keep columns");
  for (const auto& k : keep_values)
    if (k.size() != n) fail("keep column length");
  if (polygon_offset[0] != 0) fail("polygon_offset[0] must be 0");
  for (size_t a = 0; a < n; ++a)
    if (polygon_offset[a + 1] <= polygon_offset[a])
      fail("area " + std::to_string(a) + " has no polygon (polygon_offset does not increase)");
  if (ring_offset.size() != polygon_offset.back() + 1) fail("ring_offset length");
  if (ring_offset[0] != 0) fail("ring_offset[0] must be 0");
  for (size_t p = 0; p + 1 < ring_offset.size(); ++p)
    if (ring_offset[p + 1] <= ring_offset[p]) fail("polygon " + std::to_string(p) + " has no ring (ring_offset)");
  if (vertex_offset.size() != ring_offset.back() + 1) fail("vertex_offset length");
  if (vertex_offset[0] != 0) fail("vertex_offset[0] must be 0");
  for (size_t r = 0; r + 1 < vertex_offset.size(); ++r) {
    if (vertex_offset[r + 1] < vertex_offset[r]) fail("vertex_offset decreases at ring " + std::to_string(r));
    if (vertex_offset[r + 1] > lon.size()) fail("ring " + std::to_string(r) + " runs past the vertices (vertex_offset)");
  }
  if (vertex_offset.back() != lon.size() || lon.size() != lat.size()) fail("vertex count");
}

void AreaLayer::validate() const {
  check_structure();
  auto fail = [&](const std::string& m) { throw std::runtime_error("area layer '" + name + "': " + m); };
  for (size_t r = 0; r + 1 < vertex_offset.size(); ++r) {
    const uint64_t a = vertex_offset[r], b = vertex_offset[r + 1];
    if (b < a + 4) fail("ring " + std::to_string(r) + " has fewer than 4 vertices");
    if (lon[a] != lon[b - 1] || lat[a] != lat[b - 1]) fail("ring " + std::to_string(r) + " is not closed");
    for (uint64_t v = a; v < b; ++v)
      if (!std::isfinite(lon[v]) || !std::isfinite(lat[v])) fail("non-finite vertex");
  }
}

void write_area_layers(const std::vector<AreaLayer>& layers, const std::string& path) {
  h5::File f(path, h5::File::Mode::kCreate);
  write_area_layers(layers, f.root());
  f.close();
}

void write_area_layers(const std::vector<AreaLayer>& layers, const h5::Group& parent) {
  h5::Group root = parent.create_group("areas");
  root.set_attr("format", std::string("geoshard.areas"));
  root.set_attr("format_version", int64_t{1});
  root.set_attr("crs", std::string("EPSG:4326"));
  std::vector<std::string> names;
  for (const auto& l : layers) names.push_back(l.name);
  root.set_attr("layers", names);
  for (const auto& l : layers) {
    h5::Group g = root.create_group(l.name);
    g.set_attr("source", l.source);
    g.set_attr("source_layer", l.source_layer);
    g.set_attr("where", l.where);
    g.set_attr("id_field", l.id_field);
    g.set_attr("name_field", l.name_field);
    g.set_attr("areas", static_cast<int64_t>(l.areas()));
    g.set_attr("keep", l.keep_names);
    g.write_strings("id", l.id);
    g.write_strings("name", l.area_name);
    g.write_column("repaired", l.repaired);
    g.write_column("polygon_offset", l.polygon_offset);
    g.write_column("ring_offset", l.ring_offset);
    g.write_column("vertex_offset", l.vertex_offset);
    g.write_column("lon", l.lon);
    g.write_column("lat", l.lat);
    g.write_column("min_lon", l.min_lon);
    g.write_column("min_lat", l.min_lat);
    g.write_column("max_lon", l.max_lon);
    g.write_column("max_lat", l.max_lat);
    h5::Group k = g.create_group("keep");
    for (size_t i = 0; i < l.keep_names.size(); ++i) k.write_strings(l.keep_names[i], l.keep_values[i]);
  }
}

std::vector<std::string> area_layer_names(const std::string& path) {
  h5::File f(path, h5::File::Mode::kRead);
  h5::Group g = f.root().open_group("areas");
  if (!g.has_attr("format") || g.attr_string("format") != "geoshard.areas")
    throw std::runtime_error("'" + path + "' is not a geoshard area table (no /areas@format)");
  return g.attr_strings("layers");
}

std::vector<std::string> area_layer_names(const h5::Group& parent) {
  h5::Group g = parent.open_group("areas");
  if (!g.has_attr("format") || g.attr_string("format") != "geoshard.areas")
    throw std::runtime_error(g.where() + " is not a geoshard area table (no /areas@format)");
  return g.attr_strings("layers");
}

AreaLayer read_area_layer(const std::string& path, const std::string& layer) {
  h5::File f(path, h5::File::Mode::kRead);
  try {
    return read_area_layer(f.root(), layer);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("'" + path + "': " + e.what());
  }
}

AreaLayer read_area_layer(const h5::Group& parent, const std::string& layer) {
  h5::Group root = parent.open_group("areas");
  h5::Group g = root.open_group(layer);
  AreaLayer l;
  l.name = layer;
  l.source = g.attr_string("source");
  l.source_layer = g.attr_string("source_layer");
  l.where = g.attr_string("where");
  l.id_field = g.attr_string("id_field");
  l.name_field = g.attr_string("name_field");
  l.keep_names = g.attr_strings("keep");
  l.id = g.read_strings("id");
  l.area_name = g.read_strings("name");
  l.repaired = g.read_column<uint8_t>("repaired");
  l.polygon_offset = g.read_column<uint64_t>("polygon_offset");
  l.ring_offset = g.read_column<uint64_t>("ring_offset");
  l.vertex_offset = g.read_column<uint64_t>("vertex_offset");
  l.lon = g.read_column<double>("lon");
  l.lat = g.read_column<double>("lat");
  l.min_lon = g.read_column<double>("min_lon");
  l.min_lat = g.read_column<double>("min_lat");
  l.max_lon = g.read_column<double>("max_lon");
  l.max_lat = g.read_column<double>("max_lat");
  h5::Group k = g.open_group("keep");
  for (const auto& n : l.keep_names) l.keep_values.push_back(k.read_strings(n));
  // Every reader gets a table whose offsets can be followed (a table changed in place, or
  // written by another tool, is an error naming the layer, not a wild read later).
  l.check_structure();
  return l;
}

}  // namespace geoshard
