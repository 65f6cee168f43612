#include "io/rules.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "io/csv.h"

#ifndef GEOSHARD_RULES_CSV
#error "GEOSHARD_RULES_CSV must be defined (io/CMakeLists.txt)"
#endif

namespace geoshard {
namespace {

// The columns a rules CSV may have, in the order the shipped file uses. Columns are found by
// name, so a file may order them differently or leave optional ones out.
constexpr std::array<std::string_view, 14> kColumns = {
    "scope",          "key",
    "iso3",           "name",
    "driving_side",   "languages",
    "speed_urban_kmh", "speed_rural_kmh",
    "speed_motorway_kmh", "speed_residential_kmh",
    "speed_living_street_kmh", "access_notes",
    "motorway_access_notes", "note"};
constexpr std::array<std::string_view, 5> kRequired = {"scope", "key", "iso3", "driving_side",
                                                       "languages"};
constexpr int kMaxSpeedKmh = 250;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }
char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string upper(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = ascii_upper(c);
  return r;
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

bool all_upper_letters(std::string_view s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// BCP-47 shape check, loose on purpose: a 2-3 letter lower-case primary language subtag, then
// subtags of 1-8 letters or digits ("zh", "zh-Hans", "ms-Arab", "pt-TL").
bool looks_like_language_tag(std::string_view t) {
  size_t i = 0;
  while (i < t.size() && t[i] >= 'a' && t[i] <= 'z') ++i;
  if (i < 2 || i > 3) return false;
  while (i < t.size()) {
    if (t[i] != '-') return false;
    size_t j = ++i;
    while (j < t.size() && (std::isalnum(static_cast<unsigned char>(t[j])) != 0)) ++j;
    if (j - i < 1 || j - i > 8) return false;
    i = j;
  }
  return true;
}

// `*` matches any run (also empty), `?` one character; everything else literally.
bool glob_match(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(';', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view item = trim(s.substr(start, end - start));
    if (!item.empty()) out.emplace_back(item);
    start = end + 1;
  }
  return out;
}

// One physical line split into fields (io/csv.h), errors naming the file and line.
struct LineFields {
  std::vector<std::string> fields;
};

LineFields split_csv_line(std::string_view line, const std::string& file, int line_no) {
  try {
    return LineFields{geoshard::split_csv_line(line)};
  } catch (const std::invalid_argument& e) {
    throw RulesError(file, line_no, "", e.what());
  }
}

struct Parser {
  const std::string& file;
  std::vector<std::string> header;  // column name per field index
  std::map<std::string, size_t, std::less<>> index;

  [[noreturn]] void fail(int line, std::string_view column, const std::string& msg) const {
    throw RulesError(file, line, std::string(column), msg);
  }

  void read_header(const LineFields& h, int line) {
    for (size_t k = 0; k < h.fields.size(); ++k) {
      const std::string& name = h.fields[k];
      if (name.empty()) fail(line, "", "header field " + std::to_string(k + 1) + " is empty");
      if (std::find(kColumns.begin(), kColumns.end(), name) == kColumns.end()) {
        std::string known;
        for (auto c : kColumns) known += (known.empty() ? "" : ", ") + std::string(c);
        fail(line, name, "unknown column (known: " + known + ")");
      }
      if (!index.emplace(name, k).second) fail(line, name, "column appears twice in the header");
      header.push_back(name);
    }
    for (auto r : kRequired)
      if (!index.count(r)) fail(line, r, "required column missing from the header");
  }

  std::string_view get(const LineFields& row, std::string_view column) const {
    auto it = index.find(column);
    return it == index.end() ? std::string_view() : std::string_view(row.fields[it->second]);
  }

  std::optional<SpeedLimit> speed(const LineFields& row, std::string_view column, int line) const {
    const std::string_view v = get(row, column);
    if (v.empty()) return std::nullopt;
    if (v == "walk") return SpeedLimit{0, true};
    int kmh = 0;
    const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), kmh);
    if (ec != std::errc() || ptr != v.data() + v.size())
      fail(line, column, "'" + std::string(v) + "' is not a whole number of km/h (or 'walk')");
    if (kmh < 1 || kmh > kMaxSpeedKmh)
      fail(line, column, std::to_string(kmh) + " km/h is outside [1, " + std::to_string(kMaxSpeedKmh) + "]");
    return SpeedLimit{kmh, false};
  }

  void fields(const LineFields& row, int line, RuleFields& r) const {
    r.origin = file + ":" + std::to_string(line);
    r.line = line;
    r.name = std::string(get(row, "name"));
    const std::string_view side = get(row, "driving_side");
    if (side == "left") r.driving_side = DrivingSide::kLeft;
    else if (side == "right") r.driving_side = DrivingSide::kRight;
    else if (!side.empty())
      fail(line, "driving_side", "unknown value '" + std::string(side) + "' (expected left or right)");
    r.languages = split_list(get(row, "languages"));
    for (const std::string& t : r.languages)
      if (!looks_like_language_tag(t))
        fail(line, "languages", "'" + t + "' is not a BCP-47 language tag (e.g. ms, zh-Hans)");
    r.speed_urban = speed(row, "speed_urban_kmh", line);
    r.speed_rural = speed(row, "speed_rural_kmh", line);
    r.speed_motorway = speed(row, "speed_motorway_kmh", line);
    r.speed_residential = speed(row, "speed_residential_kmh", line);
    r.speed_living_street = speed(row, "speed_living_street_kmh", line);
    r.access_notes = split_list(get(row, "access_notes"));
    r.motorway_access_notes = split_list(get(row, "motorway_access_notes"));
    r.note = std::string(get(row, "note"));
  }

  AreaRule area(const LineFields& row, int line) const {
    AreaRule a;
    fields(row, line, a);
    a.key = std::string(get(row, "key"));
    if (!get(row, "iso3").empty())
      fail(line, "iso3", "must be empty in an area row (restrict an area row with key term country=XX)");
    std::istringstream terms(a.key);
    std::string term;
    std::set<std::string> seen;
    while (terms >> term) {
      const size_t eq = term.find('=');
      const std::string name = term.substr(0, eq);
      const std::string value = eq == std::string::npos ? "" : term.substr(eq + 1);
      if (eq == std::string::npos || value.empty())
        fail(line, "key", "term '" + term + "' is not of the form name=value");
      if (!seen.insert(name).second) fail(line, "key", "term '" + name + "' given twice");
      if (name == "layer") a.layer = value;
      else if (name == "id") a.id_glob = value;
      else if (name == "country") a.country = upper(value);
      else fail(line, "key", "unknown term '" + name + "' (expected layer=, id= or country=)");
    }
    if (a.layer.empty() && a.id_glob.empty())
      fail(line, "key", "an area row needs a layer= or id= term (got '" + a.key + "')");
    return a;
  }

  CountryRule country(const LineFields& row, int line) const {
    CountryRule c;
    fields(row, line, c);
    c.iso2 = std::string(get(row, "key"));
    c.iso3 = std::string(get(row, "iso3"));
    if (!all_upper_letters(c.iso2, 2))
      fail(line, "key", "'" + c.iso2 + "' is not an upper-case ISO 3166-1 alpha-2 code");
    if (!all_upper_letters(c.iso3, 3))
      fail(line, "iso3", "'" + c.iso3 + "' is not an upper-case ISO 3166-1 alpha-3 code");
    if (c.driving_side == DrivingSide::kUnknown)
      fail(line, "driving_side", "a country row needs a driving side (left or right)");
    if (c.languages.empty()) fail(line, "languages", "a country row needs at least one language");
    return c;
  }
};

}  // namespace

std::string_view driving_side_name(DrivingSide s) {
  switch (s) {
    case DrivingSide::kLeft: return "left";
    case DrivingSide::kRight: return "right";
    case DrivingSide::kUnknown: break;
  }
  return "";
}

std::string_view speed_setting_name(SpeedSetting s) {
  switch (s) {
    case SpeedSetting::kNone: return "none";
    case SpeedSetting::kUrban: return "urban";
    case SpeedSetting::kRural: return "rural";
    case SpeedSetting::kMotorway: return "motorway";
    case SpeedSetting::kResidential: return "residential";
    case SpeedSetting::kLivingStreet: return "living_street";
  }
  return "none";
}

SpeedSetting speed_setting_for(std::string_view h, bool urban) {
  if (h == "motorway" || h == "motorway_link") return SpeedSetting::kMotorway;
  if (h == "residential" || h == "service") return SpeedSetting::kResidential;
  if (h == "living_street") return SpeedSetting::kLivingStreet;
  static constexpr std::array<std::string_view, 16> kNotForMotorTraffic = {
      "pedestrian", "footway",  "cycleway",     "path",   "steps",   "bridleway",
      "corridor",   "platform", "elevator",     "bus_guideway", "escape", "raceway",
      "construction", "proposed", "abandoned", "disused"};
  if (std::find(kNotForMotorTraffic.begin(), kNotForMotorTraffic.end(), h) != kNotForMotorTraffic.end())
    return SpeedSetting::kNone;
  return urban ? SpeedSetting::kUrban : SpeedSetting::kRural;
}

const std::optional<SpeedLimit>& RuleFields::speed(SpeedSetting s) const {
  static const std::optional<SpeedLimit> kEmpty;
  switch (s) {
    case SpeedSetting::kUrban: return speed_urban;
    case SpeedSetting::kRural: return speed_rural;
    case SpeedSetting::kMotorway: return speed_motorway;
    case SpeedSetting::kResidential: return speed_residential;
    case SpeedSetting::kLivingStreet: return speed_living_street;
    case SpeedSetting::kNone: break;
  }
  return kEmpty;
}

bool AreaRule::matches(std::string_view area_layer, std::string_view area_id,
                       const CountryRule* road_country) const {
  if (!layer.empty() && layer != area_layer) return false;
  if (!id_glob.empty() && !glob_match(id_glob, area_id)) return false;
  if (!country.empty() && (road_country == nullptr || road_country->iso2 != country)) return false;
  return true;
}

RulesError::RulesError(std::string file, int line, std::string column, const std::string& message)
    : std::runtime_error(file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " +
                         (column.empty() ? std::string() : "column '" + column + "': ") + message),
      file_(std::move(file)),
      line_(line),
      column_(std::move(column)) {}

RuleTable RuleTable::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RulesError(path, 0, "", "cannot open the rules file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw RulesError(path, 0, "", "cannot read the rules file");
  return parse(text.str(), path);
}

RuleTable RuleTable::parse(std::string_view text, const std::string& source) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 byte order mark
  RuleTable t;
  Parser p{source, {}, {}};
  bool have_header = false;
  int line_no = 0;
  size_t pos = 0;
  std::map<std::string, int> first_line;  // "iso2:XX" / "iso3:XXX" -> line
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string_view content = trim(line);
    if (content.empty() || content.front() == '#') continue;
    const LineFields row = split_csv_line(line, source, line_no);
    if (!have_header) {
      p.read_header(row, line_no);
      have_header = true;
      continue;
    }
    if (row.fields.size() != p.header.size()) {
      const size_t n = row.fields.size(), m = p.header.size();
      const std::string detail =
          n < m ? "column '" + p.header[n] + "' (column " + std::to_string(n + 1) + ") and any after it are missing"
                : "field " + std::to_string(m + 1) + " is past the last column '" + p.header.back() + "'";
      p.fail(line_no, n < m ? p.header[n] : p.header.back(),
             std::to_string(n) + " fields but the header has " + std::to_string(m) + " columns: " + detail);
    }
    const std::string_view scope = p.get(row, "scope");
    if (scope == "country") {
      CountryRule c = p.country(row, line_no);
      for (const auto& [kind, code] : {std::pair{"iso2:", c.iso2}, std::pair{"iso3:", c.iso3}}) {
        auto [it, fresh] = first_line.emplace(kind + code, line_no);
        if (!fresh)
          p.fail(line_no, kind == std::string("iso2:") ? "key" : "iso3",
                 "country code " + code + " already used at line " + std::to_string(it->second));
      }
      t.by_iso2_.emplace(c.iso2, t.countries_.size());
      t.by_iso3_.emplace(c.iso3, t.countries_.size());
      t.countries_.push_back(std::move(c));
    } else if (scope == "area") {
      t.areas_.push_back(p.area(row, line_no));
    } else {
      p.fail(line_no, "scope", "unknown value '" + std::string(scope) + "' (expected country or area)");
    }
  }
  if (!have_header) throw RulesError(source, 0, "", "no header line (the file is empty or all comments)");
  // country= terms may name a country by either code; resolve them once the table is complete.
  for (AreaRule& a : t.areas_) {
    if (a.country.empty()) continue;
    const CountryRule* c = t.country(a.country);
    if (c == nullptr) {
      throw RulesError(source, a.line, "key", "country=" + a.country + " is not a country of this table");
    }
    a.country = c->iso2;
  }
  return t;
}

const CountryRule* RuleTable::country(std::string_view code) const {
  const std::string u = upper(trim(code));
  if (u.size() == 2) {
    auto it = by_iso2_.find(u);
    return it == by_iso2_.end() ? nullptr : &countries_[it->second];
  }
  if (u.size() == 3) {
    auto it = by_iso3_.find(u);
    return it == by_iso3_.end() ? nullptr : &countries_[it->second];
  }
  return nullptr;
}

RoadFacts RuleTable::facts_for(std::string_view country_code, std::string_view highway_class,
                               bool urban,
                               const std::vector<std::pair<std::string, std::string>>& finer_areas) const {
  RoadFacts f;
  f.setting = speed_setting_for(highway_class, urban);
  f.country = country(country_code);

  // The effective value of each speed column after overrides, and the row it came from; the
  // fallback chain (living_street → residential → urban) is resolved after all rows applied.
  constexpr std::array<SpeedSetting, 5> kSettings = {SpeedSetting::kUrban, SpeedSetting::kRural,
                                                     SpeedSetting::kMotorway, SpeedSetting::kResidential,
                                                     SpeedSetting::kLivingStreet};
  std::array<std::optional<SpeedLimit>, 6> speed;  // indexed by SpeedSetting
  std::array<std::string, 6> origin;
  std::vector<std::string> notes;
  const auto add_notes = [&notes](const std::vector<std::string>& from) {
    for (const std::string& n : from)
      if (std::find(notes.begin(), notes.end(), n) == notes.end()) notes.push_back(n);
  };
  const auto apply = [&](const RuleFields& r) {
    if (r.driving_side != DrivingSide::kUnknown) f.driving_side = r.driving_side;
    if (!r.languages.empty()) f.languages = r.languages;
    for (SpeedSetting s : kSettings)
      if (r.speed(s)) {
        speed[static_cast<size_t>(s)] = r.speed(s);
        origin[static_cast<size_t>(s)] = r.origin;
      }
    add_notes(r.access_notes);
    if (f.setting == SpeedSetting::kMotorway) add_notes(r.motorway_access_notes);
  };

  if (f.country != nullptr) apply(*f.country);
  for (const auto& [layer, id] : finer_areas)
    for (const AreaRule& a : areas_)
      if (a.matches(layer, id, f.country)) apply(a);

  std::vector<SpeedSetting> chain;
  switch (f.setting) {
    case SpeedSetting::kLivingStreet:
      chain = {SpeedSetting::kLivingStreet, SpeedSetting::kResidential, SpeedSetting::kUrban};
      break;
    case SpeedSetting::kResidential: chain = {SpeedSetting::kResidential, SpeedSetting::kUrban}; break;
    case SpeedSetting::kNone: break;
    default: chain = {f.setting}; break;
  }
  for (SpeedSetting s : chain) {
    const auto& v = speed[static_cast<size_t>(s)];
    if (!v) continue;
    if (v->walk) f.walking_pace = true;
    else f.speed_limit_kmh = v->kmh;
    f.speed_origin = origin[static_cast<size_t>(s)];
    break;
  }

  if (!f.languages.empty()) f.display_language = f.languages.front();
  for (const std::string& n : notes) f.access_notes += (f.access_notes.empty() ? "" : "; ") + n;
  return f;
}

std::string default_rules_path() { return GEOSHARD_RULES_CSV; }

std::string display_name(const std::string& name,
                         const std::vector<std::pair<std::string, std::string>>& variants,
                         const std::vector<std::string>& languages) {
  for (const std::string& lang : languages) {
    for (const auto& [vlang, vname] : variants)
      if (!vname.empty() && iequal(vlang, lang)) return vname;
    for (const auto& [vlang, vname] : variants)
      if (!vname.empty() && vlang.size() > lang.size() && vlang[lang.size()] == '-' &&
          iequal(std::string_view(vlang).substr(0, lang.size()), lang))
        return vname;
  }
  return name;
}

}  // namespace geoshard
