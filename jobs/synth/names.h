// Names for the synthetic region: Malay-, Thai-, Vietnamese- and English-looking words built from
// syllable tables, each a pure function of a key. Thai road names are in Thai script and
// Vietnamese ones carry diacritics (UTF-8), so readers meet real-world encodings.
#pragma once

#include <cstdint>
#include <string>

namespace geoshard::synth::detail {

enum class Lang { ms, th, vi, en };
const char* lang_code(Lang l);  // "ms", "th", "vi", "en"

// A road's names: `name`, the value for `name:<lang>` (empty -> field left null) and `name:en`.
struct RoadName {
  std::string name, local, en;
};

std::string country_name(Lang l, uint64_t key);
std::string province_name(Lang l, uint64_t key);
std::string city_name(Lang l, uint64_t key);
std::string gated_name(Lang l, uint64_t key);

RoadName avenue_name(Lang l, uint64_t key);
RoadName street_name(Lang l, uint64_t key, int number);
RoadName route_name(Lang l, int number);
RoadName expressway_name(Lang l, uint64_t key, int number);
RoadName village_road_name(Lang l, uint64_t key);
// Internal road of a gated community, e.g. "Jalan Melati 2" (names may also be left empty).
RoadName compound_road_name(Lang l, const std::string& compound, int number);

}  // namespace geoshard::synth::detail
