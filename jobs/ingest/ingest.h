// ingest: any OGR source → the columnar HDF5 tables the engine plans and runs on.
//
//   roads: line features → roads.h5 (io/road_table.h), rows sorted by the Z-order key of the
//          first vertex, cumulative road-km.
//   areas: polygon layers listed in a TOML spec → areas.h5 (io/area_table.h), repaired with
//          GEOS make-valid when invalid, rings normalised.
//   images: a folder of photos (EXIF GPS, XMP GPano) or a manifest (CSV with a header, or JSON
//          lines: path, lat, lon, captured_at, heading, projection, hfov; paths relative to the
//          manifest) → images.h5 (io/image_table.h), sorted by geohash, weighted by megapixels.
//
// Every feature read ends up either in the output or in the dead-letter file with a reason
// code: records_in == records_out + dead_letter_total (asserted before the output is written).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "jobs/backend/backend.h"

namespace geoshard::ingest {

// Called now and then with (records done, records expected or 0 when unknown).
using Progress = std::function<void(uint64_t done, uint64_t total)>;

struct Accounting {
  uint64_t records_in = 0, records_out = 0, dead_letter_total = 0;
  std::map<std::string, uint64_t> dead_letter;
  uint64_t repaired = 0;  // records kept after a repair (areas: make-valid; roads: duplicate vertices or degenerate parts dropped)
};

struct RoadOptions {
  std::string in, out;
  std::string layer;           // default: "lines" for OSM, else the first layer
  std::string where;           // OGR attribute filter; default for OSM: "highway IS NOT NULL"
  std::string id_field, class_field, name_field, oneway_field, maxspeed_field;  // non-OSM; "" = auto
  std::vector<std::string> keep;  // extra fields carried as string columns
  std::string dead_letter;     // default: <out>.dead-letter.jsonl
  backend::Choice backend;     // computes the sort keys (backend::zkey_batch)
  Progress progress;
};

struct RoadSummary {
  Accounting acc;
  uint64_t rows = 0, vertices = 0, segments = 0, variants = 0;
  double road_km = 0;
  std::string layer, where, dead_letter_path;
  double read_seconds = 0, sort_seconds = 0, write_seconds = 0;
  nlohmann::json to_json() const;
};

RoadSummary ingest_roads(const RoadOptions& opt);

struct AreaLayerSpec {
  std::string name, source, source_layer, where, id_field, name_field;
  std::vector<std::string> keep;
};

// Reads an areas.toml spec ([[layer]] tables); sources are resolved relative to the spec's
// folder. Throws naming the file and the offending key (unknown keys are errors).
std::vector<AreaLayerSpec> read_area_spec(const std::string& path);

struct AreaOptions {
  std::vector<AreaLayerSpec> layers;
  std::string out;
  std::string dead_letter;  // default: <out>.dead-letter.jsonl
  Progress progress;
};

struct AreaLayerSummary {
  std::string name;
  Accounting acc;
  uint64_t polygons = 0, rings = 0, vertices = 0;
  std::vector<std::string> repaired_ids;
};

struct AreaSummary {
  std::vector<AreaLayerSummary> layers;
  Accounting acc;  // totals over layers
  std::string dead_letter_path;
  nlohmann::json to_json() const;
};

AreaSummary ingest_areas(const AreaOptions& opt);

struct ImageOptions {
  std::string in;        // a folder, scanned recursively for .jpg .jpeg .png .tif .tiff
  std::string manifest;  // or a manifest (.csv with header, .jsonl); exactly one of in / manifest
  std::string out;
  std::string dead_letter;  // default: <out>.dead-letter.jsonl
  backend::Choice backend;  // computes the sort keys of located photos (backend::zkey_batch)
  Progress progress;
};

struct ImageSummary {
  Accounting acc;
  uint64_t rows = 0, located = 0, equirect = 0;
  // Photos kept without a location because their EXIF GPS is not a lat/lon (|lat| > 90,
  // |lon| > 180, not finite): repaired by dropping the location, counted here.
  uint64_t exif_location_rejected = 0;
  double megapixels = 0, seconds = 0;
  std::string dead_letter_path;
  nlohmann::json to_json() const;
};

// Manifest values win over the photo's own metadata; projection: manifest, else XMP GPano
// ProjectionType, else equirect for a 2:1 photo, else perspective. A manifest header without
// `path` or with unknown columns is an error naming them; bad rows are dead letters
// (BAD_MANIFEST_ROW, COORDINATE_OUT_OF_RANGE, NON_FINITE_COORDINATE), as are missing files
// (FILE_NOT_FOUND) and files GDAL cannot open (UNREADABLE_IMAGE).
ImageSummary ingest_images(const ImageOptions& opt);

}  // namespace geoshard::ingest
