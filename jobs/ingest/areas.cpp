#include <cmath>
#include <filesystem>
#include <memory>
#include <set>
#include <stdexcept>
#include <unordered_set>

#include "io/area_table.h"
#include "io/dead_letter.h"
#include "io/ogr_source.h"
#include "io/output.h"
#include "io/toml_file.h"
#include "jobs/ingest/ingest.h"

namespace geoshard::ingest {
namespace {

namespace fs = std::filesystem;

// Appends the polygons of g (polygon, multipolygon, or the polygonal members of a collection).
void collect_polygons(const OGRGeometry* g, std::vector<const OGRPolygon*>& out) {
  switch (wkbFlatten(g->getGeometryType())) {
    case wkbPolygon:
      if (!g->IsEmpty()) out.push_back(g->toPolygon());
      break;
    case wkbMultiPolygon:
      for (const OGRPolygon* p : *g->toMultiPolygon())
        if (!p->IsEmpty()) out.push_back(p);
      break;
    case wkbGeometryCollection:
      for (const OGRGeometry* m : *g->toGeometryCollection()) collect_polygons(m, out);
      break;
    default:
      break;
  }
}

double signed_area(const OGRLinearRing* r) {
  double a = 0;
  const int n = r->getNumPoints();
  for (int i = 0; i + 1 < n; ++i) a += r->getX(i) * r->getY(i + 1) - r->getX(i + 1) * r->getY(i);
  return a / 2;
}

// Appends ring r to the layer, counter-clockwise when ccw, else clockwise.
void append_ring(const OGRLinearRing* r, bool ccw, AreaLayer& l) {
  const int n = r->getNumPoints();
  const bool reverse = (signed_area(r) > 0) != ccw;
  for (int k = 0; k < n; ++k) {
    const int i = reverse ? n - 1 - k : k;
    l.lon.push_back(r->getX(i));
    l.lat.push_back(r->getY(i));
  }
  l.vertex_offset.push_back(l.lon.size());
}

bool is_polygonal(OGRwkbGeometryType t) {
  t = wkbFlatten(t);
  return t == wkbPolygon || t == wkbMultiPolygon || t == wkbGeometryCollection;
}

}  // namespace

std::vector<AreaLayerSpec> read_area_spec(const std::string& path) {
  const toml::table doc = parse_toml_file(path, "area spec");
  for (auto&& [k, v] : doc)
    if (k != "layer")
      throw std::runtime_error("area spec " + toml_where(path, v.source()) + ": unknown key '" + std::string(k.str()) +
                               "' (expected [[layer]] tables)");
  const toml::array* layers = doc["layer"].as_array();
  if (!layers || layers->empty()) throw std::runtime_error("area spec '" + path + "' has no [[layer]] table");
  const fs::path base = fs::path(path).parent_path();
  std::vector<AreaLayerSpec> out;
  std::set<std::string> names;
  for (const toml::node& node : *layers) {
    const toml::table* t = node.as_table();
    const std::string at = toml_where(path, node.source());
    if (!t) throw std::runtime_error("area spec " + at + ": [[layer]] must be a table");
    AreaLayerSpec s;
    for (auto&& [k, v] : *t) {
      const std::string key(k.str());
      auto str = [&]() {
        if (!v.is_string()) throw std::runtime_error("area spec " + toml_where(path, v.source()) + ": '" + key + "' must be a string");
        return std::string(*v.value<std::string>());
      };
      if (key == "name") s.name = str();
      else if (key == "source") s.source = str();
      else if (key == "source_layer") s.source_layer = str();
      else if (key == "where") s.where = str();
      else if (key == "id_field") s.id_field = str();
      else if (key == "name_field") s.name_field = str();
      else if (key == "keep") {
        const toml::array* a = v.as_array();
        if (!a) throw std::runtime_error("area spec " + toml_where(path, v.source()) + ": 'keep' must be an array of strings");
        for (const toml::node& e : *a) {
          if (!e.is_string()) throw std::runtime_error("area spec " + toml_where(path, e.source()) + ": 'keep' must hold strings");
          s.keep.push_back(*e.value<std::string>());
        }
      } else {
        throw std::runtime_error("area spec " + toml_where(path, v.source()) + ": unknown key '" + key +
                                 "' (known: name, source, source_layer, where, id_field, name_field, keep)");
      }
    }
    if (s.name.empty()) throw std::runtime_error("area spec " + at + ": layer without 'name'");
    if (s.source.empty()) throw std::runtime_error("area spec " + at + ": layer '" + s.name + "' without 'source'");
    if (s.id_field.empty()) throw std::runtime_error("area spec " + at + ": layer '" + s.name + "' without 'id_field'");
    if (s.name.find('/') != std::string::npos || s.name == "." || s.name == "..")
      throw std::runtime_error("area spec " + at + ": layer name '" + s.name + "' may not contain '/'");
    if (!names.insert(s.name).second) throw std::runtime_error("area spec " + at + ": layer '" + s.name + "' given twice");
    if (fs::path(s.source).is_relative()) s.source = (base / s.source).lexically_normal().string();
    out.push_back(std::move(s));
  }
  return out;
}

nlohmann::json AreaSummary::to_json() const {
  nlohmann::json j;
  j["dead_letter_file"] = dead_letter_path;
  j["repaired"] = acc.repaired;
  j["layers"] = nlohmann::json::array();
  for (const auto& l : layers) {
    nlohmann::json x;
    x["name"] = l.name;
    x["records_in"] = l.acc.records_in;
    x["records_out"] = l.acc.records_out;
    x["dead_letter_total"] = l.acc.dead_letter_total;
    x["dead_letter"] = l.acc.dead_letter;
    x["repaired"] = l.acc.repaired;
    x["repaired_ids"] = l.repaired_ids;
    x["polygons"] = l.polygons;
    x["rings"] = l.rings;
    x["vertices"] = l.vertices;
    j["layers"].push_back(x);
  }
  return j;
}

AreaSummary ingest_areas(const AreaOptions& opt) {
  AreaSummary sum;
  check_output_writable(opt.out);
  sum.dead_letter_path = opt.dead_letter.empty() ? opt.out + ".dead-letter.jsonl" : opt.dead_letter;
  DeadLetterWriter dead(sum.dead_letter_path);
  std::vector<AreaLayer> out;

  for (const AreaLayerSpec& spec : opt.layers) {
    AreaLayerSummary ls;
    ls.name = spec.name;
    const uint64_t dead_before = dead.total();
    const auto counts_before = dead.counts();
    GdalDatasetPtr ds = open_vector(spec.source);
    const bool osm = is_osm(*ds);
    OGRLayer* layer = vector_layer(*ds, spec.source, !spec.source_layer.empty() ? spec.source_layer : (osm ? "multipolygons" : ""));
    if (!spec.where.empty() && layer->SetAttributeFilter(spec.where.c_str()) != OGRERR_NONE)
      throw std::runtime_error("'" + spec.source + "': bad where filter '" + spec.where + "' of layer '" + spec.name +
                               "': " + gdal_last_error());
    OGRFeatureDefn* defn = layer->GetLayerDefn();
    auto field = [&](const std::string& f, const char* key) {
      const int i = defn->GetFieldIndex(f.c_str());
      if (i < 0) {
        std::string have;
        for (int k = 0; k < defn->GetFieldCount(); ++k) have += (k ? ", " : "") + std::string(defn->GetFieldDefn(k)->GetNameRef());
        throw std::runtime_error("'" + spec.source + "' (layer '" + spec.name + "'): no field '" + f + "' given as " + key +
                                 "; fields: " + have);
      }
      return i;
    };
    const int f_id = field(spec.id_field, "id_field");
    const int f_name = spec.name_field.empty() ? -1 : field(spec.name_field, "name_field");
    std::vector<int> f_keep;
    for (const auto& k : spec.keep) f_keep.push_back(field(k, "keep"));

    AreaLayer l;
    l.name = spec.name;
    l.source = spec.source;
    l.source_layer = layer->GetName();
    l.where = spec.where;
    l.id_field = spec.id_field;
    l.name_field = spec.name_field;
    l.keep_names = spec.keep;
    l.keep_values.resize(spec.keep.size());
    l.polygon_offset.push_back(0);
    l.ring_offset.push_back(0);
    l.vertex_offset.push_back(0);
    std::unordered_set<std::string> seen;
    const std::string src = fs::path(spec.source).filename().string() + ":" + spec.name;
    const GIntBig expected = layer->GetFeatureCount(FALSE);

    layer->ResetReading();
    for (;;) {
      std::unique_ptr<OGRFeature> feat(layer->GetNextFeature());
      if (!feat) {
        std::string err = gdal_last_error();
        if (!err.empty()) throw std::runtime_error("'" + spec.source + "': read failed in layer '" + spec.name + "': " + err);
        break;
      }
      ++ls.acc.records_in;
      if (opt.progress && ls.acc.records_in % 1000 == 0) opt.progress(ls.acc.records_in, expected > 0 ? expected : 0);
      const std::string id = feat->IsFieldSetAndNotNull(f_id) ? feat->GetFieldAsString(f_id) : "";
      const std::string rid = id.empty() ? "fid:" + std::to_string(feat->GetFID()) : id;
      auto reject = [&](Reason r, const std::string& m) { dead.write(src, rid, r, m); };
      if (id.empty()) {
        reject(Reason::kMissingId, "id field '" + spec.id_field + "' is empty");
        continue;
      }
      const std::string name = f_name >= 0 && feat->IsFieldSetAndNotNull(f_name) ? feat->GetFieldAsString(f_name) : "";
      std::vector<std::string> kept;
      bool utf8 = is_valid_utf8(id) && is_valid_utf8(name);
      for (int k : f_keep) {
        kept.emplace_back(feat->IsFieldSetAndNotNull(k) ? feat->GetFieldAsString(k) : "");
        utf8 = utf8 && is_valid_utf8(kept.back());
      }
      if (!utf8) {
        reject(Reason::kInvalidUtf8, "a text field is not valid UTF-8");
        continue;
      }
      OGRGeometry* g = feat->GetGeometryRef();
      if (!g) {
        reject(Reason::kNoGeometry, "feature has no geometry");
        continue;
      }
      if (!is_polygonal(g->getGeometryType())) {
        reject(Reason::kUnsupportedGeometry,
               std::string("geometry type ") + OGRGeometryTypeToName(g->getGeometryType()) + " is not a polygon");
        continue;
      }
      if (g->IsEmpty()) {
        reject(Reason::kEmptyGeometry, "geometry is empty");
        continue;
      }
      g->flattenTo2D();
      // Coordinates first: make-valid cannot mend NaN, and out-of-range areas are data errors.
      bool bad = false;
      std::vector<const OGRPolygon*> polys;
      collect_polygons(g, polys);
      for (const OGRPolygon* p : polys) {
        for (const OGRLinearRing* r : *p) {
          for (int i = 0; i < r->getNumPoints() && !bad; ++i) {
            const double x = r->getX(i), y = r->getY(i);
            if (!std::isfinite(x) || !std::isfinite(y)) {
              reject(Reason::kNonFiniteCoordinate, "vertex " + std::to_string(i) + " is not finite");
              bad = true;
            } else if (x < -180 || x > 180 || y < -90 || y > 90) {
              reject(Reason::kCoordinateOutOfRange, "vertex " + std::to_string(i) + " is outside lon/lat range");
              bad = true;
            }
          }
          if (bad) break;
        }
        if (bad) break;
      }
      if (bad) continue;
      if (polys.empty()) {
        reject(Reason::kUnsupportedGeometry, "geometry collection without polygons");
        continue;
      }
      // Unclosed rings are closed (a repair); then GEOS validity, and make-valid when needed.
      std::unique_ptr<OGRGeometry> owned(g->clone());
      bool repaired = false;
      {
        std::unique_ptr<OGRGeometry> before(owned->clone());
        owned->closeRings();
        if (!owned->Equals(before.get())) repaired = true;
      }
      bool valid = false;
      {
        // IsValid on rings with < 4 points makes GEOS fail rather than say "invalid".
        valid = owned->IsValid();
        gdal_last_error();
      }
      if (!valid) {
        std::unique_ptr<OGRGeometry> fixed(owned->MakeValid());
        const std::string why = gdal_last_error();
        polys.clear();
        if (fixed) collect_polygons(fixed.get(), polys);
        if (!fixed || polys.empty()) {
          reject(Reason::kUnrepairablePolygon, "GEOS make-valid left no polygon" + (why.empty() ? "" : ": " + why));
          continue;
        }
        owned = std::move(fixed);
        repaired = true;
      }
      polys.clear();
      collect_polygons(owned.get(), polys);
      if (!seen.insert(id).second) {
        reject(Reason::kDuplicateId, "id '" + id + "' appeared before in layer '" + spec.name + "' (first kept)");
        continue;
      }
      OGREnvelope env;
      owned->getEnvelope(&env);
      for (const OGRPolygon* p : polys) {
        bool shell = true;
        for (const OGRLinearRing* r : *p) {
          if (r->getNumPoints() < 4) continue;  // valid geometry has none; defensive
          append_ring(r, shell, l);
          shell = false;
          ++ls.rings;
        }
        l.ring_offset.push_back(l.vertex_offset.size() - 1);
        ++ls.polygons;
      }
      l.polygon_offset.push_back(l.ring_offset.size() - 1);
      l.id.push_back(id);
      l.area_name.push_back(name);
      l.repaired.push_back(repaired);
      for (size_t k = 0; k < kept.size(); ++k) l.keep_values[k].push_back(kept[k]);
      l.min_lon.push_back(env.MinX);
      l.min_lat.push_back(env.MinY);
      l.max_lon.push_back(env.MaxX);
      l.max_lat.push_back(env.MaxY);
      ++ls.acc.records_out;
      if (repaired) {
        ++ls.acc.repaired;
        ls.repaired_ids.push_back(id);
      }
    }
    ls.vertices = l.lon.size();
    ls.acc.dead_letter_total = dead.total() - dead_before;
    for (const auto& [k, v] : dead.counts()) {
      const auto it = counts_before.find(k);
      const uint64_t d = v - (it == counts_before.end() ? 0 : it->second);
      if (d) ls.acc.dead_letter[k] = d;
    }
    if (ls.acc.records_in != ls.acc.records_out + ls.acc.dead_letter_total)
      throw std::logic_error("ingest areas: accounting broken in layer " + spec.name);
    l.validate();
    sum.acc.records_in += ls.acc.records_in;
    sum.acc.records_out += ls.acc.records_out;
    sum.acc.repaired += ls.acc.repaired;
    sum.layers.push_back(std::move(ls));
    out.push_back(std::move(l));
  }
  dead.close();
  sum.acc.dead_letter_total = dead.total();
  sum.acc.dead_letter = dead.counts();
  write_atomically(opt.out, [&](const std::string& tmp) { write_area_layers(out, tmp); });
  return sum;
}

}  // namespace geoshard::ingest
