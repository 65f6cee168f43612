// The area table (areas.h5): one group per area layer (/areas/<layer>), each a columnar
// multipolygon store. docs/formats.md documents the layout.
//
// Geometry is CSR in three levels: area a owns polygons [polygon_offset[a], polygon_offset[a+1]),
// polygon p owns rings [ring_offset[p], ring_offset[p+1]) (the first is the shell, the rest holes),
// ring r owns vertices [vertex_offset[r], vertex_offset[r+1]) of lon/lat. Rings are closed
// (first vertex == last), have ≥ 4 vertices, shells are counter-clockwise and holes clockwise
// (in lon/lat), and every area is valid in the OGC sense (repaired at ingest with GEOS
// make-valid when it was not; `repaired` says which).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace geoshard {

namespace h5 {
class Group;
}

struct AreaLayer {
  std::string name;
  std::string source, source_layer, where, id_field, name_field;
  std::vector<std::string> id, area_name;
  std::vector<uint8_t> repaired;
  std::vector<std::string> keep_names;                 // extra fields carried along
  std::vector<std::vector<std::string>> keep_values;   // [field][area]
  std::vector<uint64_t> polygon_offset;  // areas+1
  std::vector<uint64_t> ring_offset;     // polygons+1
  std::vector<uint64_t> vertex_offset;   // rings+1
  std::vector<double> lon, lat;
  std::vector<double> min_lon, min_lat, max_lon, max_lat;  // per area bounding box

  size_t areas() const { return id.size(); }
  void validate() const;  // throws std::runtime_error on a broken invariant
  // The structural part of validate(), which every reader checks: column lengths, offsets from 0
  // that increase (every area has a polygon, every polygon a ring) and stay within the vertices.
  // Rings that are too short, unclosed or non-finite are per-area matters (cover dead-letters them).
  void check_structure() const;
};

// Writes all layers as /areas/<name> into a new file (truncating). Throws naming the path.
void write_area_layers(const std::vector<AreaLayer>& layers, const std::string& path);
std::vector<std::string> area_layer_names(const std::string& path);
AreaLayer read_area_layer(const std::string& path, const std::string& layer);

// The same layout inside an already open file: writes the group `areas` (attributes and one
// sub-group per layer) under `parent`, and reads layer `layer` of `parent`/areas. Other files
// that carry a copy of area layers (coverage.h5) use these.
void write_area_layers(const std::vector<AreaLayer>& layers, const h5::Group& parent);
std::vector<std::string> area_layer_names(const h5::Group& parent);
AreaLayer read_area_layer(const h5::Group& parent, const std::string& layer);

}  // namespace geoshard
