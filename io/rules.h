// Hyperlocal road rules: the facts that follow from the areas a road lies in — driving side,
// official languages (and so the language a road's name is shown in), the default speed limit
// where none is posted, and access notes — read from a small CSV table shipped with geoshard
// (jobs/localise/rules/rules.csv; docs/rules.md documents the columns, the mapping from highway
// class to speed setting, the override semantics and the sources of every value).
//
// A RuleTable holds one row per country, keyed by ISO 3166-1 alpha-2 and alpha-3, and override
// rows for finer area layers (e.g. every area of layer `gated`). facts_for() starts from the
// country row and applies the matching area rows in the order the caller lists the areas
// (coarse to fine): a non-empty value replaces the one before it, access notes accumulate.
//
// Invariants (the parser rejects a table that breaks one, naming file:line and the column):
//  - every country row has an upper-case alpha-2 key and alpha-3 code, each unique in the table,
//    a driving side and at least one language tag;
//  - every speed is a whole number of km/h in [1, 250] or `walk` (walking pace, no figure);
//  - every area row has a key with a `layer=` or `id=` term, and a `country=` term names a
//    country of the table.
//
// Thread-safety: a const RuleTable may be shared by any number of threads.
//
//   const RuleTable rules = RuleTable::load(default_rules_path());
//   RoadFacts f = rules.facts_for("TH", "residential", true, {{"gated", "C03-P07-T0012-G004"}});
//   // f.driving_side == DrivingSide::kLeft, f.display_language == "th",
//   // f.speed_limit_kmh == 20 (the gated override), f.access_notes == "no through traffic ..."
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace geoshard {

enum class DrivingSide : uint8_t { kUnknown = 0, kLeft, kRight };

// "left", "right", or "" for kUnknown.
std::string_view driving_side_name(DrivingSide s);

// The settings a road's default speed limit depends on. Each is one column of the CSV.
enum class SpeedSetting : uint8_t {
  kNone,          // not a road for motor traffic (footway, cycleway, ...): no speed limit
  kUrban,         // inside a built-up area
  kRural,         // outside built-up areas
  kMotorway,      // motorway and motorway_link
  kResidential,   // residential and service; falls back to kUrban when the table has no value
  kLivingStreet,  // living_street; falls back to kResidential, then kUrban
};

// "none", "urban", "rural", "motorway", "residential", "living_street".
std::string_view speed_setting_name(SpeedSetting s);

// Maps an OSM `highway` value and whether the road lies in a built-up area to its setting:
//   motorway, motorway_link                                         -> kMotorway
//   residential, service                                            -> kResidential
//   living_street                                                   -> kLivingStreet
//   pedestrian, footway, cycleway, path, steps, bridleway, corridor,
//   platform, elevator, bus_guideway, escape, raceway, construction,
//   proposed, abandoned, disused                                    -> kNone
//   anything else (trunk, primary, secondary, tertiary, unclassified, their _link forms,
//   road, busway, track, unknown or empty)                          -> urban ? kUrban : kRural
SpeedSetting speed_setting_for(std::string_view highway_class, bool urban);

// A default speed limit: a figure in km/h, or "walking pace" where the law names no figure
// (e.g. an Austrian Wohnstraße).
struct SpeedLimit {
  int kmh = 0;        // in [1, 250] unless walk
  bool walk = false;  // walking pace; kmh is 0
  bool operator==(const SpeedLimit&) const = default;
};

// The values one row of the table sets. In an area row an empty value means "inherit".
struct RuleFields {
  std::string name;  // human-readable (country name, or what the area row is for)
  DrivingSide driving_side = DrivingSide::kUnknown;
  std::vector<std::string> languages;  // BCP-47 tags, in the order names should prefer them
  std::optional<SpeedLimit> speed_urban, speed_rural, speed_motorway, speed_residential,
      speed_living_street;
  std::vector<std::string> access_notes;           // apply to every road
  std::vector<std::string> motorway_access_notes;  // apply to roads in the kMotorway setting
  std::string note;                                // provenance and caveats, free text
  std::string origin;                              // "<file>:<line>" of the row
  int line = 0;                                    // its line number

  // The column for `s` (kNone → always empty). No fallback is applied here.
  const std::optional<SpeedLimit>& speed(SpeedSetting s) const;
};

struct CountryRule : RuleFields {
  std::string iso2;  // ISO 3166-1 alpha-2, upper case
  std::string iso3;  // ISO 3166-1 alpha-3, upper case
};

// An override for areas of a finer layer. The key is a space-separated list of terms that must
// all hold: `layer=<name>` (exact), `id=<glob>` (`*` any run, `?` one character, on the area
// id), `country=<ISO2 or ISO3>` (the road's country). At least one layer= or id= term.
struct AreaRule : RuleFields {
  std::string key;      // as written in the table
  std::string layer;    // "" = any layer
  std::string id_glob;  // "" = any id
  std::string country;  // ISO2, "" = any country

  bool matches(std::string_view area_layer, std::string_view area_id,
               const CountryRule* road_country) const;
};

// What facts_for() returns. Pointers refer into the RuleTable, which must outlive this.
struct RoadFacts {
  const CountryRule* country = nullptr;  // null when the code is not in the table
  DrivingSide driving_side = DrivingSide::kUnknown;
  std::vector<std::string> languages;  // official languages, preferred first
  std::string display_language;        // languages.front(), or "" when none
  SpeedSetting setting = SpeedSetting::kNone;
  std::optional<int> speed_limit_kmh;  // default limit; empty when unknown or walking pace
  bool walking_pace = false;           // the default is walking pace (no figure in law)
  std::string speed_origin;            // origin ("file:line") of the row that gave the speed
  std::string access_notes;            // country notes then area notes, "; "-joined, no repeats
};

// A parse or validation error of a rules CSV. what() reads "<file>:<line>: column '<c>': ...".
class RulesError : public std::runtime_error {
 public:
  RulesError(std::string file, int line, std::string column, const std::string& message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }              // 1-based; 0 when not about one line
  const std::string& column() const { return column_; }  // "" when not about one column

 private:
  std::string file_;
  int line_;
  std::string column_;
};

class RuleTable {
 public:
  // Reads and validates a rules CSV. Throws RulesError (also when the file cannot be read).
  static RuleTable load(const std::string& path);
  // Parses CSV text; `source` names it in errors (a path, or e.g. "<test>").
  static RuleTable parse(std::string_view text, const std::string& source);

  // The country with this ISO 3166-1 alpha-2 or alpha-3 code (any case), or null.
  const CountryRule* country(std::string_view iso2_or_iso3) const;

  const std::vector<CountryRule>& countries() const { return countries_; }
  const std::vector<AreaRule>& areas() const { return areas_; }

  // The facts for a road of class `highway_class` in `country_code` (alpha-2 or alpha-3),
  // inside a built-up area or not, lying in the finer areas `finer_areas` ((layer, area id)
  // pairs, coarse to fine). Area rows apply in the order of finer_areas, and for one area in
  // the order of the table. A code not in the table gives no country values; area rows still
  // apply (those with a country= term do not match).
  RoadFacts facts_for(std::string_view country_code, std::string_view highway_class, bool urban,
                      const std::vector<std::pair<std::string, std::string>>& finer_areas) const;

 private:
  std::vector<CountryRule> countries_;
  std::vector<AreaRule> areas_;
  std::map<std::string, size_t, std::less<>> by_iso2_, by_iso3_;
};

// Path of the rules CSV shipped with geoshard (jobs/localise/rules/rules.csv in the source tree).
std::string default_rules_path();

// The name to show for a road: the variant in the first of `languages` that `variants`
// ((language, name) pairs, e.g. from name:<lang> tags) has, else `name`. A variant matches a
// language exactly or as a subtag extension (variant "zh-Hans" matches language "zh"); an exact
// match in a language wins over an extension in the same language. Empty variant names are
// ignored. Comparison of language tags ignores ASCII case.
std::string display_name(const std::string& name,
                         const std::vector<std::pair<std::string, std::string>>& variants,
                         const std::vector<std::string>& languages);

}  // namespace geoshard
