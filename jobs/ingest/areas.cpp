#include <algorithm>
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
#include "jobs/ingest/geometry.h"
#include "jobs/ingest/ingest.h"

namespace geoshard::ingest {
namespace {

namespace fs = std::filesystem;

// Appends a ring (already oriented by area_geometry) to the layer.
void append_ring(const std::vector<LonLat>& ring, AreaLayer& l) {
  for (auto& [x, y] : ring) {
    l.lon.push_back(x);
    l.lat.push_back(y);
  }
  l.vertex_offset.push_back(l.lon.size());
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
    for (auto&& [k, value] : *t) {
      const std::string key(k.str());
      const toml::node& v = value;  // lambdas capture a reference, not a structured binding (clang < 16)
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
          const std::string k = *e.value<std::string>();
          if (std::find(s.keep.begin(), s.keep.end(), k) != s.keep.end())
            throw std::runtime_error("area spec " + toml_where(path, e.source()) + ": 'keep' names '" + k + "' twice");
          s.keep.push_back(k);
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
      AreaGeometry geometry;
      Rejection why;
      if (!area_geometry(feat->GetGeometryRef(), geometry, why)) {
        reject(why.reason, why.message);
        continue;
      }
      if (!seen.insert(id).second) {
        reject(Reason::kDuplicateId, "id '" + id + "' appeared before in layer '" + spec.name + "' (first kept)");
        continue;
      }
      for (const auto& rings : geometry.polygons) {
        for (const auto& ring : rings) {
          append_ring(ring, l);
          ++ls.rings;
        }
        l.ring_offset.push_back(l.vertex_offset.size() - 1);
        ++ls.polygons;
      }
      l.polygon_offset.push_back(l.ring_offset.size() - 1);
      l.id.push_back(id);
      l.area_name.push_back(name);
      l.repaired.push_back(geometry.repaired);
      for (size_t k = 0; k < kept.size(); ++k) l.keep_values[k].push_back(kept[k]);
      l.min_lon.push_back(geometry.min_lon);
      l.min_lat.push_back(geometry.min_lat);
      l.max_lon.push_back(geometry.max_lon);
      l.max_lat.push_back(geometry.max_lat);
      ++ls.acc.records_out;
      if (geometry.repaired) {
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
