#include "jobs/synth/synth.h"

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal_priv.h>
#include <ogrsf_frmts.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>

#include "jobs/synth/roads.h"
#include "jobs/synth/world.h"

namespace geoshard::synth {
namespace {

namespace fs = std::filesystem;
using namespace detail;

void register_gdal() {
  static std::once_flag once;
  std::call_once(once, [] { GDALAllRegister(); });
}

struct FieldSpec {
  const char* name;
  OGRFieldType type;
};

// One area layer: its fields (after area_id and name) and a row writer.
class AreaLayer {
 public:
  AreaLayer(GDALDataset* ds, const std::string& path, const char* name, std::initializer_list<FieldSpec> extra)
      : path_(path), name_(name) {
    OGRSpatialReference srs;
    srs.importFromEPSG(4326);
    srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
    char** opts = nullptr;
    opts = CSLSetNameValue(opts, "FID", "fid");
    opts = CSLSetNameValue(opts, "GEOMETRY_NAME", "geom");
    layer_ = ds->CreateLayer(name, &srs, wkbMultiPolygon, opts);
    CSLDestroy(opts);
    if (!layer_) fail("cannot create layer");
    add({"area_id", OFTString});
    add({"name", OFTString});
    for (const FieldSpec& f : extra) add(f);
  }

  OGRFeature* row(const GeosContext& c, const GEOSGeometry* g, const std::string& id, const std::string& name) {
    feat_.reset(OGRFeature::CreateFeature(layer_->GetLayerDefn()));
    const std::vector<unsigned char> wkb = to_wkb(c, g);
    OGRGeometry* geom = nullptr;
    if (OGRGeometryFactory::createFromWkb(wkb.data(), nullptr, &geom, wkb.size()) != OGRERR_NONE || !geom)
      fail("cannot convert the geometry of " + id);
    feat_->SetGeometryDirectly(OGRGeometryFactory::forceToMultiPolygon(geom));
    feat_->SetField("area_id", id.c_str());
    feat_->SetField("name", name.c_str());
    return feat_.get();
  }

  void commit() {
    if (layer_->CreateFeature(feat_.get()) != OGRERR_NONE) fail("cannot write a feature");
    ++count_;
  }
  uint64_t count() const { return count_; }

 private:
  struct FeatureDeleter {
    void operator()(OGRFeature* f) const { OGRFeature::DestroyFeature(f); }
  };
  void add(const FieldSpec& f) {
    OGRFieldDefn d(f.name, f.type);
    if (layer_->CreateField(&d) != OGRERR_NONE) fail(std::string("cannot create field ") + f.name);
  }
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + " (layer " + name_ + ") in " + path_ + ": " + CPLGetLastErrorMsg());
  }
  std::string path_, name_;
  OGRLayer* layer_ = nullptr;
  std::unique_ptr<OGRFeature, FeatureDeleter> feat_;
  uint64_t count_ = 0;
};

std::map<std::string, uint64_t> write_areas(const World& w, const std::string& path) {
  GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("GPKG");
  if (!drv) throw std::runtime_error("GDAL has no GPKG driver (needed for " + path + ")");
  // A fixed last_change date keeps the GeoPackage reproducible.
  CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", "2000-01-01T00:00:00.000Z");
  CPLErrorReset();
  GDALDataset* ds = drv->Create(path.c_str(), 0, 0, 0, GDT_Unknown, nullptr);
  if (!ds) {
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", nullptr);
    throw std::runtime_error("cannot create " + path + ": " + CPLGetLastErrorMsg());
  }
  std::map<std::string, uint64_t> counts;
  try {
    const GeosContext& c = w.geos;
    ds->StartTransaction();
    {
      AreaLayer L(ds, path, "country",
                  {{"iso2", OFTString}, {"driving_side", OFTString}, {"language", OFTString}, {"speed_default_kmh", OFTInteger}});
      for (const Country& ct : w.countries) {
        OGRFeature* f = L.row(c, ct.geom.get(), ct.id, ct.name);
        f->SetField("iso2", ct.iso2.c_str());
        f->SetField("driving_side", ct.driving_side.c_str());
        f->SetField("language", lang_code(ct.lang));
        f->SetField("speed_default_kmh", ct.speed_kmh);
        L.commit();
      }
      counts["country"] = L.count();
    }
    {
      AreaLayer L(ds, path, "province", {{"country_id", OFTString}});
      for (const Province& p : w.provinces) {
        OGRFeature* f = L.row(c, p.geom.get(), p.id, p.name);
        f->SetField("country_id", w.countries[p.country].id.c_str());
        L.commit();
      }
      counts["province"] = L.count();
    }
    {
      AreaLayer L(ds, path, "city", {{"province_id", OFTString}, {"country_id", OFTString}});
      for (const City& ci : w.cities) {
        const Province& p = w.provinces[ci.province];
        OGRFeature* f = L.row(c, ci.geom.get(), ci.id, ci.name);
        f->SetField("province_id", p.id.c_str());
        f->SetField("country_id", w.countries[p.country].id.c_str());
        L.commit();
      }
      counts["city"] = L.count();
    }
    {
      AreaLayer L(ds, path, "gated", {{"city_id", OFTString}, {"access", OFTString}});
      for (const Gated& g : w.gated) {
        OGRFeature* f = L.row(c, g.geom.get(), g.id, g.name);
        f->SetField("city_id", w.cities[g.city].id.c_str());
        f->SetField("access", g.access.c_str());
        L.commit();
      }
      counts["gated"] = L.count();
    }
    if (ds->CommitTransaction() != OGRERR_NONE) throw std::runtime_error("cannot commit " + path + ": " + CPLGetLastErrorMsg());
  } catch (...) {
    GDALClose(ds);
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", nullptr);
    throw;
  }
  CPLErrorReset();
  GDALClose(ds);
  CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", nullptr);
  if (CPLGetLastErrorType() == CE_Failure) throw std::runtime_error("cannot finish " + path + ": " + CPLGetLastErrorMsg());
  return counts;
}

void write_spec(const std::string& path) {
  std::ofstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot write " + path);
  f << "# Area layers of the synthetic region written by geoshard synth (docs/synth.md).\n"
       "# Sources are relative to this file.\n";
  struct L {
    const char* name;
    const char* keep;
  };
  for (const L& l : {L{"country", R"("iso2", "driving_side", "language", "speed_default_kmh")"}, L{"province", R"("country_id")"},
                     L{"city", R"("province_id", "country_id")"}, L{"gated", R"("city_id", "access")"}}) {
    f << "\n[[layer]]\n"
      << "name = \"" << l.name << "\"\n"
      << "source = \"areas.gpkg\"\n"
      << "source_layer = \"" << l.name << "\"\n"
      << "where = \"\"\n"
      << "id_field = \"area_id\"\n"
      << "name_field = \"name\"\n"
      << "keep = [" << l.keep << "]\n";
  }
  f.close();
  if (!f) throw std::runtime_error("cannot write " + path);
}

void remove_file(const fs::path& p) {
  std::error_code ec;
  if (fs::is_directory(p, ec)) {
    fs::remove_all(p, ec);
  } else {
    fs::remove(p, ec);
  }
  if (ec) throw std::runtime_error("cannot remove " + p.string() + ": " + ec.message());
}

void rename_file(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw std::runtime_error("cannot rename " + from.string() + " to " + to.string() + ": " + ec.message());
}

}  // namespace

Box region_bbox() { return kRegionBox; }

SynthSummary generate(const SynthOptions& o) {
  if (o.segments == 0) throw std::invalid_argument("synth: segments must be at least 1");
  if (o.out_dir.empty()) throw std::invalid_argument("synth: out_dir is empty");
  register_gdal();

  const fs::path dir(o.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw std::runtime_error("cannot create output directory " + dir.string() + ": " + (ec ? ec.message() : "not a directory"));
  {
    const fs::path probe = dir / (".synth-probe-" + std::to_string(::getpid()));
    std::ofstream f(probe);
    if (!f) throw std::runtime_error("output directory " + dir.string() + " is not writable");
    f.close();
    fs::remove(probe, ec);
  }
  const fs::path roads = dir / "roads.fgb", areas = dir / "areas.gpkg", spec = dir / "areas.toml";
  const fs::path roads_tmp = dir / "roads.partial.fgb", areas_tmp = dir / "areas.partial.gpkg",
                 spec_tmp = dir / "areas.partial.toml";
  for (const fs::path& p : {roads, areas, spec}) {
    if (!fs::exists(p, ec)) continue;
    if (!o.overwrite) throw std::runtime_error(p.string() + " already exists (set overwrite to replace it)");
    remove_file(p);
  }
  for (const fs::path& p : {roads_tmp, areas_tmp, spec_tmp}) remove_file(p);

  if (o.progress) o.progress(0.0);
  SynthSummary s;
  try {
    std::unique_ptr<World> w = build_world(o.segments, o.seed);
    s.areas_per_layer = write_areas(*w, areas_tmp.string());
    if (o.progress) o.progress(0.02);
    RoadStats rs = write_roads(*w, roads_tmp.string(), o.progress);
    write_spec(spec_tmp.string());
    rename_file(areas_tmp, areas);
    rename_file(roads_tmp, roads);
    rename_file(spec_tmp, spec);
    s.roads = rs.roads;
    s.segments = rs.segments;
    s.connectors = rs.connectors;
    s.road_km = rs.km;
    s.urban_segments = rs.urban;
    s.intercity_segments = rs.intercity;
    s.countryside_segments = rs.countryside;
    s.dual_carriageway_roads = rs.dual;
    s.geohash5 = rs.cells;
  } catch (...) {
    for (const fs::path& p : {roads_tmp, areas_tmp, spec_tmp}) fs::remove(p, ec);
    throw;
  }
  for (auto& [k, n] : s.areas_per_layer) s.areas += n;
  s.roads_path = roads.string();
  s.areas_path = areas.string();
  s.spec_path = spec.string();
  if (o.progress) o.progress(1.0);
  return s;
}

}  // namespace geoshard::synth
