#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <set>
#include <stdexcept>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "io/dead_letter.h"
#include "io/ogr_source.h"
#include "io/road_table.h"
#include "jobs/ingest/geometry.h"
#include "jobs/ingest/ingest.h"
#include "io/output.h"
#include "kernels/geodesic.h"
#include "kernels/geohash.h"

namespace geoshard::ingest {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// OSM's oneway tag (and "true"/"false" from other sources). Unknown values become kOther:
// routing must not assume a direction it cannot read.
Oneway parse_oneway(const std::string& raw) {
  const std::string v = lower(raw);
  if (v.empty() || v == "no" || v == "false" || v == "0") return Oneway::kNo;
  if (v == "yes" || v == "true" || v == "1") return Oneway::kForward;
  if (v == "-1" || v == "reverse") return Oneway::kBackward;
  return Oneway::kOther;
}

// "50", "50 km/h", "30 mph", "10 knots", "50;30" (first value). Symbolic values ("none",
// "walk", "RU:urban") are unknown here: country defaults are applied downstream.
float parse_maxspeed(const std::string& raw) {
  const char* b = raw.data();
  const char* e = b + raw.size();
  while (b < e && *b == ' ') ++b;
  double v = 0;
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || !std::isfinite(v) || v <= 0) return std::nanf("");
  std::string unit = lower(std::string(p, e));
  unit = unit.substr(0, unit.find(';'));
  if (unit.find("mph") != std::string::npos) v *= 1.609344;
  else if (unit.find("knot") != std::string::npos) v *= 1.852;
  return static_cast<float>(v);
}

struct Staging {
  std::vector<int64_t> id;
  std::vector<uint16_t> part;
  std::vector<std::string> klass;
  std::vector<int8_t> oneway;
  std::vector<std::string> name;
  std::vector<float> maxspeed;
  std::vector<uint8_t> gt, roundabout;
  std::vector<uint64_t> voff{0};
  std::vector<double> lon, lat;
  std::vector<uint64_t> vrow;
  std::vector<std::string> vlang, vname;
  std::vector<std::vector<std::string>> extra;
};

int field_index(OGRFeatureDefn* d, const std::string& name, const std::string& path, const char* option) {
  const int i = d->GetFieldIndex(name.c_str());
  if (i < 0) {
    std::string have;
    for (int k = 0; k < d->GetFieldCount(); ++k) have += (k ? ", " : "") + std::string(d->GetFieldDefn(k)->GetNameRef());
    throw std::runtime_error("'" + path + "': no field '" + name + "' (given by " + option + "); fields: " + have);
  }
  return i;
}

int auto_field(OGRFeatureDefn* d, const std::string& given, const char* fallback, const std::string& path,
               const char* option) {
  if (!given.empty()) return field_index(d, given, path, option);
  return d->GetFieldIndex(fallback);
}

}  // namespace

nlohmann::json RoadSummary::to_json() const {
  nlohmann::json j;
  j["rows"] = rows;
  j["vertices"] = vertices;
  j["segments"] = segments;
  j["name_variants"] = variants;
  j["road_km"] = road_km;
  j["layer"] = layer;
  j["where"] = where;
  j["repaired"] = acc.repaired;
  j["dead_letter_file"] = dead_letter_path;
  j["seconds"] = {{"read", read_seconds}, {"sort", sort_seconds}, {"write", write_seconds}};
  return j;
}

RoadSummary ingest_roads(const RoadOptions& opt) {
  RoadSummary sum;
  // Outputs are checked before any work: an unwritable destination is an error up front.
  check_output_writable(opt.out);
  sum.dead_letter_path = opt.dead_letter.empty() ? opt.out + ".dead-letter.jsonl" : opt.dead_letter;
  DeadLetterWriter dead(sum.dead_letter_path);

  auto t0 = Clock::now();
  GdalDatasetPtr ds = open_vector(opt.in);
  const bool osm = is_osm(*ds);
  sum.layer = !opt.layer.empty() ? opt.layer : (osm ? "lines" : "");
  OGRLayer* layer = vector_layer(*ds, opt.in, sum.layer);
  sum.layer = layer->GetName();
  sum.where = !opt.where.empty() ? opt.where : (osm ? "highway IS NOT NULL" : "");
  if (!sum.where.empty() && layer->SetAttributeFilter(sum.where.c_str()) != OGRERR_NONE)
    throw std::runtime_error("'" + opt.in + "': bad --where filter '" + sum.where + "': " + gdal_last_error());

  OGRFeatureDefn* defn = layer->GetLayerDefn();
  int f_id, f_class, f_name, f_oneway, f_maxspeed, f_tags = -1, f_gt;
  std::vector<std::pair<int, std::string>> f_variants;  // non-OSM name:<lang> fields
  if (osm) {
    // The OSM driver's fields are fixed: a field option naming anything else would be ignored.
    const std::tuple<const std::string&, const char*, const char*> fixed[] = {
        {opt.id_field, "--id-field", "osm_id"},         {opt.class_field, "--class-field", "highway"},
        {opt.name_field, "--name-field", "name"},       {opt.oneway_field, "--oneway-field", "oneway"},
        {opt.maxspeed_field, "--maxspeed-field", "maxspeed"}};
    for (const auto& [given, option, field] : fixed)
      if (!given.empty() && given != field)
        throw std::runtime_error("'" + opt.in + "': " + option + " '" + given +
                                 "' does not apply to an OSM file: its roads are read from the OSM driver's fixed "
                                 "fields (osm_id, highway, name; oneway and maxspeed from its other tags). The field "
                                 "options are for other formats (GeoPackage, FlatGeobuf, GeoJSON, Shapefile): convert "
                                 "with ogr2ogr first to use other tags");
    f_id = field_index(defn, "osm_id", opt.in, "the OSM driver");
    f_class = defn->GetFieldIndex("highway");
    f_name = defn->GetFieldIndex("name");
    f_tags = defn->GetFieldIndex("other_tags");
    f_oneway = f_maxspeed = -1;
  } else {
    f_id = auto_field(defn, opt.id_field, "id", opt.in, "--id-field");
    f_class = auto_field(defn, opt.class_field, "highway", opt.in, "--class-field");
    f_name = auto_field(defn, opt.name_field, "name", opt.in, "--name-field");
    f_oneway = auto_field(defn, opt.oneway_field, "oneway", opt.in, "--oneway-field");
    f_maxspeed = auto_field(defn, opt.maxspeed_field, "maxspeed", opt.in, "--maxspeed-field");
    for (int k = 0; k < defn->GetFieldCount(); ++k) {
      std::string n = defn->GetFieldDefn(k)->GetNameRef();
      if (n.rfind("name:", 0) == 0 && n.size() > 5) f_variants.emplace_back(k, n.substr(5));
    }
  }
  f_gt = defn->GetFieldIndex("gt_intersection_link");
  const int f_junction = osm ? -1 : defn->GetFieldIndex("junction");
  std::vector<int> f_keep;
  std::set<std::string> kept;
  for (const auto& k : opt.keep)
    if (!kept.insert(k).second) throw std::runtime_error("--keep names the field '" + k + "' twice");
  for (const auto& k : opt.keep) f_keep.push_back(field_index(defn, k, opt.in, "--keep"));

  const GIntBig expected = layer->GetFeatureCount(FALSE);
  Staging st;
  st.extra.resize(f_keep.size());
  std::unordered_set<int64_t> seen;
  Accounting& acc = sum.acc;
  const std::string src = std::filesystem::path(opt.in).filename().string();

  layer->ResetReading();
  for (;;) {
    std::unique_ptr<OGRFeature> feat(layer->GetNextFeature());
    if (!feat) {
      std::string err = gdal_last_error();
      if (!err.empty()) throw std::runtime_error("'" + opt.in + "': read failed after " +
                                                 std::to_string(acc.records_in) + " features: " + err);
      break;
    }
    ++acc.records_in;
    if (opt.progress && acc.records_in % 50000 == 0) opt.progress(acc.records_in, expected > 0 ? expected : 0);
    const std::string rid = f_id >= 0 && feat->IsFieldSetAndNotNull(f_id)
                                ? std::string(feat->GetFieldAsString(f_id))
                                : "fid:" + std::to_string(feat->GetFID());
    auto reject = [&](Reason r, const std::string& msg) { dead.write(src, rid, r, msg); };

    int64_t id;
    if (f_id >= 0) {
      if (!feat->IsFieldSetAndNotNull(f_id) || rid.empty()) {
        reject(Reason::kMissingId, "id field is empty");
        continue;
      }
      const char* b = rid.data();
      auto [p, ec] = std::from_chars(b, b + rid.size(), id);
      if (ec != std::errc() || p != b + rid.size()) {
        reject(Reason::kInvalidId, "id '" + rid + "' is not a 64-bit integer");
        continue;
      }
    } else {
      id = feat->GetFID();
    }

    RoadGeometry geometry;
    Rejection why;
    if (!road_geometry(feat->GetGeometryRef(), geometry, why)) {
      reject(why.reason, why.message);
      continue;
    }
    auto& clean = geometry.parts;

    std::string name = f_name >= 0 && feat->IsFieldSetAndNotNull(f_name) ? feat->GetFieldAsString(f_name) : "";
    std::string klass = f_class >= 0 && feat->IsFieldSetAndNotNull(f_class) ? feat->GetFieldAsString(f_class) : "";
    std::string oneway_raw, maxspeed_raw;
    std::vector<std::pair<std::string, std::string>> variants;
    bool roundabout = false;
    if (osm) {
      if (f_tags >= 0 && feat->IsFieldSetAndNotNull(f_tags)) {
        for (auto& [k, v] : parse_hstore(feat->GetFieldAsString(f_tags))) {
          if (k == "oneway") oneway_raw = v;
          else if (k == "maxspeed") maxspeed_raw = v;
          else if (k == "junction" && (v == "roundabout" || v == "circular")) roundabout = true;
          else if (k.rfind("name:", 0) == 0 && k.size() > 5) variants.emplace_back(k.substr(5), v);
        }
      }
    } else {
      if (f_oneway >= 0 && feat->IsFieldSetAndNotNull(f_oneway)) oneway_raw = feat->GetFieldAsString(f_oneway);
      if (f_maxspeed >= 0 && feat->IsFieldSetAndNotNull(f_maxspeed)) maxspeed_raw = feat->GetFieldAsString(f_maxspeed);
      if (f_junction >= 0 && feat->IsFieldSetAndNotNull(f_junction)) {
        const std::string j = feat->GetFieldAsString(f_junction);
        roundabout = j == "roundabout" || j == "circular";
      }
      for (auto& [k, lang] : f_variants)
        if (feat->IsFieldSetAndNotNull(k)) {
          std::string v = feat->GetFieldAsString(k);
          if (!v.empty()) variants.emplace_back(lang, v);
        }
    }
    bool utf8_ok = is_valid_utf8(name) && is_valid_utf8(klass);
    for (auto& [l, v] : variants) utf8_ok = utf8_ok && is_valid_utf8(l) && is_valid_utf8(v);
    std::vector<std::string> kept;
    for (int k : f_keep) {
      kept.emplace_back(feat->IsFieldSetAndNotNull(k) ? feat->GetFieldAsString(k) : "");
      utf8_ok = utf8_ok && is_valid_utf8(kept.back());
    }
    if (!utf8_ok) {
      reject(Reason::kInvalidUtf8, "a text field is not valid UTF-8");
      continue;
    }
    if (!seen.insert(id).second) {
      reject(Reason::kDuplicateId, "id " + std::to_string(id) + " appeared before (first kept)");
      continue;
    }

    // OSM conventions: roundabouts and motorways are one-way unless tagged otherwise.
    Oneway ow = parse_oneway(oneway_raw);
    if (osm && oneway_raw.empty() && (roundabout || klass == "motorway")) ow = Oneway::kForward;
    const float maxspeed = maxspeed_raw.empty() ? std::nanf("") : parse_maxspeed(maxspeed_raw);
    const uint8_t gt = f_gt >= 0 && feat->IsFieldSetAndNotNull(f_gt) && feat->GetFieldAsInteger(f_gt) != 0;

    for (size_t p = 0; p < clean.size(); ++p) {
      const uint64_t row = st.id.size();
      st.id.push_back(id);
      st.part.push_back(static_cast<uint16_t>(p));
      st.klass.push_back(klass);
      st.oneway.push_back(static_cast<int8_t>(ow));
      st.name.push_back(name);
      st.maxspeed.push_back(maxspeed);
      st.gt.push_back(gt);
      st.roundabout.push_back(roundabout);
      for (auto& [x, y] : clean[p]) {
        st.lon.push_back(x);
        st.lat.push_back(y);
      }
      st.voff.push_back(st.lon.size());
      for (auto& [l, v] : variants) {
        st.vrow.push_back(row);
        st.vlang.push_back(l);
        st.vname.push_back(v);
      }
      for (size_t k = 0; k < kept.size(); ++k) st.extra[k].push_back(kept[k]);
    }
    ++acc.records_out;
    if (geometry.repaired) ++acc.repaired;
  }
  ds.reset();
  st.lon.shrink_to_fit();  // growth slack of the largest columns, before the sorted copy
  st.lat.shrink_to_fit();
  sum.read_seconds = since(t0);

  // Sort rows by the Z-order key of their first vertex (ties: id, part) so that every grid
  // cell's roads are one contiguous row range.
  auto t1 = Clock::now();
  const size_t n = st.id.size();
  std::vector<uint64_t> key(n);
  {  // the keys of the first vertices, one batch on the chosen backend
    std::vector<double> first_lon(n), first_lat(n);
    for (size_t i = 0; i < n; ++i) first_lon[i] = st.lon[st.voff[i]], first_lat[i] = st.lat[st.voff[i]];
    backend::zkey_batch(opt.backend, first_lon, first_lat, key);
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (key[a] != key[b]) return key[a] < key[b];
    if (st.id[a] != st.id[b]) return st.id[a] < st.id[b];
    return st.part[a] < st.part[b];
  });
  const std::set<std::string> class_set(st.klass.begin(), st.klass.end());  // sorted: stable codes
  const std::vector<std::string> classes(class_set.begin(), class_set.end());
  std::unordered_map<std::string, uint16_t> code;
  for (size_t i = 0; i < classes.size(); ++i) code[classes[i]] = static_cast<uint16_t>(i);

  RoadTable t;
  t.highway_classes = classes;
  t.id.resize(n);
  t.part.resize(n);
  t.highway.resize(n);
  t.oneway.resize(n);
  t.name.resize(n);
  t.maxspeed_kmh.resize(n);
  if (f_gt >= 0) t.gt_intersection_link.resize(n);
  t.roundabout.resize(n);
  t.zkey.resize(n);
  t.vertex_offset.resize(n + 1);
  t.cum_km.resize(n + 1);
  t.vertex_offset[0] = 0;
  t.cum_km[0] = 0;
  std::vector<uint64_t> new_row(n);
  for (size_t r = 0; r < n; ++r) {
    const uint32_t s = order[r];
    new_row[s] = r;
    t.id[r] = st.id[s];
    t.part[r] = st.part[s];
    t.highway[r] = code[st.klass[s]];
    t.oneway[r] = st.oneway[s];
    t.name[r] = std::move(st.name[s]);
    t.maxspeed_kmh[r] = st.maxspeed[s];
    if (f_gt >= 0) t.gt_intersection_link[r] = st.gt[s];
    t.roundabout[r] = st.roundabout[s];
    t.zkey[r] = key[s];
    const uint64_t a = st.voff[s], b = st.voff[s + 1];
    t.vertex_offset[r + 1] = t.vertex_offset[r] + (b - a);
    t.cum_km[r + 1] = t.cum_km[r] + polyline_length_m(st.lon.data() + a, st.lat.data() + a, b - a) / 1000.0;
  }
  // Vertex columns are permuted one at a time and each source is freed as soon as it is copied:
  // the peak holds the staging plus one coordinate column, not two copies of everything.
  auto permute_vertices = [&](std::vector<double>& src) {
    std::vector<double> dst;
    dst.reserve(src.size());
    for (size_t r = 0; r < n; ++r)
      dst.insert(dst.end(), src.begin() + st.voff[order[r]], src.begin() + st.voff[order[r] + 1]);
    std::vector<double>().swap(src);
    return dst;
  };
  t.lon = permute_vertices(st.lon);
  t.lat = permute_vertices(st.lat);
  // Variants follow their rows, ordered by new row then language.
  std::vector<size_t> vorder(st.vrow.size());
  std::iota(vorder.begin(), vorder.end(), size_t{0});
  std::sort(vorder.begin(), vorder.end(), [&](size_t a, size_t b) {
    if (new_row[st.vrow[a]] != new_row[st.vrow[b]]) return new_row[st.vrow[a]] < new_row[st.vrow[b]];
    return st.vlang[a] < st.vlang[b];
  });
  for (size_t i : vorder) {
    t.variant_row.push_back(new_row[st.vrow[i]]);
    t.variant_lang.push_back(st.vlang[i]);
    t.variant_name.push_back(st.vname[i]);
  }
  t.extra_names = opt.keep;
  for (auto& col : st.extra) {
    std::vector<std::string> v(n);
    for (size_t r = 0; r < n; ++r) v[r] = std::move(col[order[r]]);
    t.extra_values.push_back(std::move(v));
  }
  st = Staging{};
  sum.sort_seconds = since(t1);

  dead.close();
  acc.dead_letter_total = dead.total();
  acc.dead_letter = dead.counts();
  if (acc.records_in != acc.records_out + acc.dead_letter_total)
    throw std::logic_error("ingest roads: accounting broken (in " + std::to_string(acc.records_in) + ", out " +
                           std::to_string(acc.records_out) + ", dead letters " + std::to_string(acc.dead_letter_total) + ")");

  auto t2 = Clock::now();
  write_atomically(opt.out, [&](const std::string& tmp) { write_road_table(t, tmp, opt.in); });
  sum.write_seconds = since(t2);
  sum.rows = n;
  sum.vertices = t.lon.size();
  sum.segments = t.lon.size() - n;
  sum.variants = t.variant_row.size();
  sum.road_km = t.road_km();
  return sum;
}

}  // namespace geoshard::ingest
