#include "jobs/localise/map_writer.h"

#include <cpl_conv.h>
#include <gdal_priv.h>
#include <ogrsf_frmts.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "io/ogr_source.h"
#include "io/rules.h"

namespace geoshard::localise {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void add_field(OGRLayer* l, const std::string& name, OGRFieldType type, int width = 0) {
  OGRFieldDefn fd(name.c_str(), type);
  if (width) fd.SetWidth(width);
  if (l->CreateField(&fd) != OGRERR_NONE)
    throw std::runtime_error("cannot create field '" + name + "': " + gdal_last_error());
}

const char* oneway_text(int8_t o) {
  switch (o) {
    case 1: return "yes";
    case -1: return "-1";
    case 0: return "no";
    default: return "other";
  }
}

constexpr uint64_t kTransaction = 100000;

}  // namespace

MapWriter::MapWriter(const std::string& path, const std::vector<AreaLayer>& layers, const MapWriterOptions& opt)
    : path_(path), layers_(layers), opt_(opt) {
  gdal_init();
  rules_ = std::make_unique<RuleTable>(RuleTable::load(opt.rules.empty() ? default_rules_path() : opt.rules));
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (layers_[i].name == opt.country_layer) country_li_ = static_cast<int>(i);
    if (layers_[i].name == opt.urban_layer) urban_li_ = static_cast<int>(i);
  }
  if (country_li_ >= 0) {
    // The country code: a kept ISO field when the layer has one, else the area id.
    const auto& keep = layers_[country_li_].keep_names;
    for (const char* want : {"iso2", "iso_a2", "iso3166-1", "iso3166-1:alpha2", "iso3", "iso_a3", "adm0_a3"}) {
      for (size_t k = 0; k < keep.size() && country_code_field_ < 0; ++k)
        if (lower(keep[k]) == want) country_code_field_ = static_cast<int>(k);
      if (country_code_field_ >= 0) break;
    }
    for (size_t k = 0; k < keep.size(); ++k) {
      const std::string n = lower(keep[k]);
      if (n == "driving_side") side_field_ = static_cast<int>(k);
      if (n == "language" || n == "languages") language_field_ = static_cast<int>(k);
    }
  }
  // Pinned timestamps make the GeoPackage byte-identical for identical content.
  CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", "2000-01-01T00:00:00.000Z");
  GDALDriver* drv = GetGDALDriverManager()->GetDriverByName("GPKG");
  if (!drv) throw std::runtime_error("GDAL has no GPKG driver");
  ds_ = drv->Create(path.c_str(), 0, 0, 0, GDT_Unknown, nullptr);
  if (!ds_) throw std::runtime_error("cannot create '" + path + "': " + gdal_last_error());
  OGRSpatialReference srs;
  srs.importFromEPSG(4326);
  srs.SetAxisMappingStrategy(OAMS_TRADITIONAL_GIS_ORDER);
  char** lco = CSLSetNameValue(nullptr, "FID", "fid");
  roads_layer_ = ds_->CreateLayer("roads", &srs, wkbLineString, lco);
  CSLDestroy(lco);
  if (!roads_layer_) throw std::runtime_error("cannot create layer roads in '" + path + "': " + gdal_last_error());
  add_field(roads_layer_, "road_id", OFTInteger64);
  add_field(roads_layer_, "part", OFTInteger);
  add_field(roads_layer_, "highway", OFTString);
  add_field(roads_layer_, "name", OFTString);
  add_field(roads_layer_, "display_name", OFTString);
  add_field(roads_layer_, "oneway", OFTString);
  add_field(roads_layer_, "maxspeed_kmh", OFTReal);
  add_field(roads_layer_, "length_m", OFTReal);
  for (const auto& l : layers_) {
    add_field(roads_layer_, l.name + "_id", OFTString);
    add_field(roads_layer_, l.name + "_name", OFTString);
    add_field(roads_layer_, l.name + "_share", OFTReal);
  }
  add_field(roads_layer_, "country", OFTString);
  add_field(roads_layer_, "driving_side", OFTString);
  add_field(roads_layer_, "languages", OFTString);
  add_field(roads_layer_, "speed_limit_kmh", OFTReal);
  add_field(roads_layer_, "access_notes", OFTString);
  if (opt_.link_columns) {
    add_field(roads_layer_, "intersection_link", OFTInteger);
    add_field(roads_layer_, "link_carriageways", OFTString);
  }
  areas_layer_ = ds_->CreateLayer("road_areas", nullptr, wkbNone, nullptr);
  if (!areas_layer_) throw std::runtime_error("cannot create table road_areas in '" + path + "': " + gdal_last_error());
  add_field(areas_layer_, "road_id", OFTInteger64);
  add_field(areas_layer_, "part", OFTInteger);
  add_field(areas_layer_, "layer", OFTString);
  add_field(areas_layer_, "area_id", OFTString);
  add_field(areas_layer_, "length_m", OFTReal);
  for (const auto& l : layers_) without_[l.name] = 0;
  if (ds_->StartTransaction() != OGRERR_NONE) throw std::runtime_error("cannot start a transaction in '" + path + "'");
}

MapWriter::~MapWriter() {
  if (ds_) GDALClose(ds_);
}

std::string MapWriter::country_code(uint32_t area) const {
  const AreaLayer& l = layers_[country_li_];
  if (country_code_field_ >= 0) {
    const std::string& v = l.keep_values[country_code_field_][area];
    if (!v.empty() && v != "-99") return v;
  }
  return l.id[area];
}

void MapWriter::add(const RoadTable& roads, const std::vector<Hit>& hits, const std::vector<double>& road_length_m,
                    const std::vector<char>& skip, const std::vector<links::LinkResult>* links) {
  if (opt_.link_columns && (!links || links->size() != roads.rows()))
    throw std::runtime_error("map '" + path_ + "': the links results do not match the roads of rows " +
                             std::to_string(roads.row_offset) + "..");
  size_t h = 0;
  std::vector<std::vector<Hit>> per_layer(layers_.size());
  std::vector<std::pair<std::string, std::string>> variants;
  size_t vpos = 0;  // cursor into the slice's name variants (sorted by row)
  for (size_t i = 0; i < roads.rows(); ++i) {
    const uint64_t row = roads.row_offset + i;
    for (auto& v : per_layer) v.clear();
    while (h < hits.size() && hits[h].row < row) ++h;  // (defensive: hits are sorted by row)
    for (; h < hits.size() && hits[h].row == row; ++h) per_layer[hits[h].layer].push_back(hits[h]);
    if (!skip.empty() && skip[i]) continue;

    OGRFeature f(roads_layer_->GetLayerDefn());
    f.SetField("road_id", static_cast<GIntBig>(roads.id[i]));
    f.SetField("part", roads.part[i]);
    const std::string& klass = roads.highway_classes.empty() ? std::string() : roads.highway_classes[roads.highway[i]];
    f.SetField("highway", klass.c_str());
    f.SetField("name", roads.name[i].c_str());
    f.SetField("oneway", oneway_text(roads.oneway[i]));
    if (!std::isnan(roads.maxspeed_kmh[i])) f.SetField("maxspeed_kmh", roads.maxspeed_kmh[i]);
    const double len = road_length_m[i];
    f.SetField("length_m", len);

    std::string country;
    int64_t country_area = -1;
    bool urban = false;
    std::vector<std::pair<std::string, std::string>> finer;
    for (size_t li = 0; li < layers_.size(); ++li) {
      const AreaLayer& l = layers_[li];
      const int64_t p = primary_area(per_layer[li], l);
      if (p < 0) {
        ++without_[l.name];
        f.SetField((l.name + "_id").c_str(), "");
        f.SetField((l.name + "_name").c_str(), "");
        f.SetField((l.name + "_share").c_str(), 0.0);
        continue;
      }
      double plen = 0;
      for (const Hit& x : per_layer[li])
        if (x.area == static_cast<uint32_t>(p)) plen = x.length_m;
      f.SetField((l.name + "_id").c_str(), l.id[p].c_str());
      f.SetField((l.name + "_name").c_str(), l.area_name[p].c_str());
      f.SetField((l.name + "_share").c_str(), len > 0 ? std::min(1.0, plen / len) : 0.0);
      if (static_cast<int>(li) == country_li_) {
        country = country_code(static_cast<uint32_t>(p));
        country_area = p;
      }
      else finer.emplace_back(l.name, l.id[p]);
      if (static_cast<int>(li) == urban_li_) urban = true;
      for (const Hit& x : per_layer[li]) {
        OGRFeature a(areas_layer_->GetLayerDefn());
        a.SetField("road_id", static_cast<GIntBig>(roads.id[i]));
        a.SetField("part", roads.part[i]);
        a.SetField("layer", l.name.c_str());
        a.SetField("area_id", l.id[x.area].c_str());
        a.SetField("length_m", x.length_m);
        if (areas_layer_->CreateFeature(&a) != OGRERR_NONE)
          throw std::runtime_error("cannot write road_areas of road " + std::to_string(roads.id[i]) + ": " + gdal_last_error());
        ++road_areas_;
      }
    }
    // Hyperlocal facts from the rules table.
    variants.clear();
    for (; vpos < roads.variant_row.size() && roads.variant_row[vpos] < row; ++vpos) {}
    for (size_t v = vpos; v < roads.variant_row.size() && roads.variant_row[v] == row; ++v)
      variants.emplace_back(roads.variant_lang[v], roads.variant_name[v]);
    f.SetField("country", country.c_str());
    RoadFacts facts = rules_->facts_for(country, klass, urban, finer);
    if (!facts.country && country_area >= 0) {
      // A country the rules table does not know: its own attributes, when the layer has them.
      const AreaLayer& cl = layers_[country_li_];
      if (side_field_ >= 0) {
        const std::string v = lower(cl.keep_values[side_field_][country_area]);
        facts.driving_side = v == "left" ? DrivingSide::kLeft : v == "right" ? DrivingSide::kRight : DrivingSide::kUnknown;
      }
      if (language_field_ >= 0 && facts.languages.empty()) {
        std::string v = cl.keep_values[language_field_][country_area];
        for (size_t b = 0; b <= v.size();) {
          const size_t e = std::min(v.find_first_of(";,", b), v.size());
          if (e > b) facts.languages.push_back(v.substr(b, e - b));
          b = e + 1;
        }
      }
    }
    const std::string side = facts.driving_side == DrivingSide::kUnknown ? "" : std::string(driving_side_name(facts.driving_side));
    f.SetField("driving_side", side.c_str());
    std::string langs;
    for (const auto& l : facts.languages) langs += (langs.empty() ? "" : ";") + l;
    f.SetField("languages", langs.c_str());
    if (facts.speed_limit_kmh) f.SetField("speed_limit_kmh", static_cast<double>(*facts.speed_limit_kmh));
    f.SetField("access_notes", facts.access_notes.c_str());
    f.SetField("display_name", display_name(roads.name[i], variants, facts.languages).c_str());
    if (opt_.link_columns) {
      const links::LinkResult& lr = (*links)[i];
      f.SetField("intersection_link", lr.link ? 1 : 0);
      f.SetField("link_carriageways", lr.carriageways().c_str());
      links_ += lr.link;
    }

    OGRLineString ls;
    const uint64_t v0 = roads.vertex_offset[0];
    for (uint64_t v = roads.vertex_offset[i] - v0; v < roads.vertex_offset[i + 1] - v0; ++v) ls.addPoint(roads.lon[v], roads.lat[v]);
    f.SetGeometry(&ls);
    if (roads_layer_->CreateFeature(&f) != OGRERR_NONE)
      throw std::runtime_error("cannot write road " + std::to_string(roads.id[i]) + " to '" + path_ + "': " + gdal_last_error());
    ++roads_;
    if (++pending_ >= kTransaction) {
      if (ds_->CommitTransaction() != OGRERR_NONE || ds_->StartTransaction() != OGRERR_NONE)
        throw std::runtime_error("cannot commit to '" + path_ + "': " + gdal_last_error());
      pending_ = 0;
    }
  }
}

void MapWriter::close() {
  if (!ds_) return;
  if (ds_->CommitTransaction() != OGRERR_NONE) throw std::runtime_error("cannot commit to '" + path_ + "': " + gdal_last_error());
  gdal_last_error();
  GDALClose(ds_);  // GDAL 3.6 reports close failures through the error handler only
  ds_ = nullptr;
  CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", nullptr);
  const std::string err = gdal_last_error();
  if (!err.empty()) throw std::runtime_error("cannot finish '" + path_ + "': " + err);
}

}  // namespace geoshard::localise
