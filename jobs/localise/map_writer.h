// Writes map.gpkg from localised roads: layer `roads` (one feature per road row) and the
// attribute table `road_areas`. Opens in ogrinfo and QGIS; docs/formats.md lists the columns.
// Deterministic: features in road-table order; GeoPackage timestamps pinned.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/area_table.h"
#include "io/road_table.h"
#include "jobs/links/links.h"
#include "jobs/localise/localise.h"

class GDALDataset;
class OGRLayer;

namespace geoshard {
class RuleTable;
}

namespace geoshard::localise {

struct MapWriterOptions {
  std::string rules;                      // rules CSV ("" = shipped default)
  std::string country_layer = "country";  // primary area here gives the country code
  std::string urban_layer = "city";       // a primary area here makes the road urban
  // Adds `intersection_link` (0/1) and `link_carriageways` ("a;b" road ids, "" when not a
  // link) to `roads`, from a links run (add() then takes every row's LinkResult).
  bool link_columns = false;
};

class MapWriter {
 public:
  MapWriter(const std::string& path, const std::vector<AreaLayer>& layers, const MapWriterOptions& opt);
  ~MapWriter();
  // Adds the roads of one slice with their hits (global rows, sorted by row). Rows i with
  // skip[i] != 0 (dead letters of the localise run) are left out; skip may be empty. With
  // link_columns, `links` holds one result per row of the slice.
  void add(const RoadTable& roads, const std::vector<Hit>& hits, const std::vector<double>& road_length_m,
           const std::vector<char>& skip = {}, const std::vector<links::LinkResult>* links = nullptr);
  uint64_t links() const { return links_; }
  // Commits and closes; throws when GDAL reports a failure.
  void close();
  uint64_t roads() const { return roads_; }
  uint64_t road_areas() const { return road_areas_; }
  const std::map<std::string, uint64_t>& roads_without_area() const { return without_; }

 private:
  std::string country_code(uint32_t area) const;
  std::string path_;
  const std::vector<AreaLayer>& layers_;
  MapWriterOptions opt_;
  std::unique_ptr<RuleTable> rules_;
  GDALDataset* ds_ = nullptr;
  OGRLayer* roads_layer_ = nullptr;
  OGRLayer* areas_layer_ = nullptr;
  int country_li_ = -1, urban_li_ = -1;
  int country_code_field_ = -1;  // keep field of the country layer holding an ISO code
  // Keep fields of the country layer used when the rules table does not know the country.
  int side_field_ = -1, language_field_ = -1;
  uint64_t roads_ = 0, road_areas_ = 0, links_ = 0, pending_ = 0;
  std::map<std::string, uint64_t> without_;
};

}  // namespace geoshard::localise
