// OGR access shared by the ingest jobs: opening any vector source with errors that name the
// file, picking its layer, and parsing OSM's `other_tags` (hstore text written by GDAL's OSM
// driver: "key"=>"value","key2"=>"value2").
#pragma once

#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace geoshard {

struct GdalDatasetCloser {
  void operator()(GDALDataset* d) const { GDALClose(d); }
};
using GdalDatasetPtr = std::unique_ptr<GDALDataset, GdalDatasetCloser>;

// Registers GDAL drivers once and routes GDAL's own messages to nowhere (errors surface as
// exceptions with geoshard's wording).
void gdal_init();

// Opens `path` read-only as a vector source. Throws std::runtime_error naming the path when it
// is missing, unreadable or not a vector format GDAL knows.
GdalDatasetPtr open_vector(const std::string& path);

// The layer `name` of `ds`, or its first layer when name is empty. Throws naming path and layer
// (listing the layers that exist) when absent.
OGRLayer* vector_layer(GDALDataset& ds, const std::string& path, const std::string& name);

// True when ds was opened by GDAL's OSM driver (.osm / .osm.pbf).
bool is_osm(const GDALDataset& ds);

// Parses OSM hstore text. Malformed text yields the pairs before the fault.
std::vector<std::pair<std::string, std::string>> parse_hstore(const std::string& s);

// The last GDAL error message ("" when none), cleared.
std::string gdal_last_error();

}  // namespace geoshard
