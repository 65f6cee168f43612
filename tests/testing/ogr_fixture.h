// Writes small OGR files for tests: a layer with chosen fields and hand-built geometries,
// including the nasty ones (NaN, out of range, empty, unclosed) that WKT cannot express.
#pragma once

#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/ogr_source.h"

namespace geoshard::testing {

struct FixtureField {
  std::string name;
  OGRFieldType type = OFTString;
};

// Creates `path` with `driver` ("GPKG", "GeoJSON", "FlatGeobuf"...) and one layer; add() writes
// one feature: set(feature) fills fields, geometry may be null.
class OgrFixture {
 public:
  OgrFixture(const std::string& path, const std::string& driver, const std::string& layer,
             OGRwkbGeometryType type, const std::vector<FixtureField>& fields) {
    gdal_init();
    GDALDriver* d = GetGDALDriverManager()->GetDriverByName(driver.c_str());
    if (!d) throw std::runtime_error("no GDAL driver " + driver);
    ds_.reset(d->Create(path.c_str(), 0, 0, 0, GDT_Unknown, nullptr));
    if (!ds_) throw std::runtime_error("cannot create fixture " + path);
    OGRSpatialReference srs;
    srs.importFromEPSG(4326);
    srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    layer_ = ds_->CreateLayer(layer.c_str(), &srs, type, nullptr);
    for (const auto& f : fields) {
      OGRFieldDefn fd(f.name.c_str(), f.type);
      layer_->CreateField(&fd);
    }
  }
  void add(const std::function<void(OGRFeature&)>& set, std::unique_ptr<OGRGeometry> geom) {
    OGRFeature f(layer_->GetLayerDefn());
    set(f);
    if (geom) f.SetGeometryDirectly(geom.release());
    if (layer_->CreateFeature(&f) != OGRERR_NONE) throw std::runtime_error("cannot write fixture feature");
  }
  void close() { ds_.reset(); }

 private:
  GdalDatasetPtr ds_;
  OGRLayer* layer_ = nullptr;
};

inline std::unique_ptr<OGRGeometry> line(const std::vector<std::pair<double, double>>& pts) {
  auto ls = std::make_unique<OGRLineString>();
  for (auto [x, y] : pts) ls->addPoint(x, y);
  return ls;
}

inline std::unique_ptr<OGRLinearRing> ring(const std::vector<std::pair<double, double>>& pts) {
  auto r = std::make_unique<OGRLinearRing>();
  for (auto [x, y] : pts) r->addPoint(x, y);
  return r;
}

inline std::unique_ptr<OGRGeometry> polygon(const std::vector<std::vector<std::pair<double, double>>>& rings) {
  auto p = std::make_unique<OGRPolygon>();
  for (const auto& r : rings) p->addRingDirectly(ring(r).release());
  return p;
}

}  // namespace geoshard::testing
