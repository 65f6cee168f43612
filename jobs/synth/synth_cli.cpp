// Developer driver for geoshard::synth::generate (the user-facing command is `geoshard synth`).
//   geoshard_synth_cli --segments N --seed S --out DIR [--overwrite] [--quiet]
// Prints the summary as JSON on stdout, progress on stderr.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "jobs/synth/synth.h"

int main(int argc, char** argv) {
  geoshard::synth::SynthOptions o;
  bool quiet = false;
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    auto value = [&]() -> std::string {
      if (k + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++k];
    };
    if (a == "--segments") o.segments = std::stoull(value());
    else if (a == "--seed") o.seed = std::stoull(value());
    else if (a == "--out") o.out_dir = value();
    else if (a == "--overwrite") o.overwrite = true;
    else if (a == "--quiet") quiet = true;
    else {
      std::fprintf(stderr, "usage: %s --segments N --seed S --out DIR [--overwrite] [--quiet]\n", argv[0]);
      return 2;
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  int last = -1;
  if (!quiet)
    o.progress = [&](double f) {
      const int pct = static_cast<int>(f * 100);
      if (pct != last) {
        last = pct;
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "\rsynth: %3d%% %7.1f s", pct, s);
        if (f >= 1.0) std::fprintf(stderr, "\n");
      }
    };
  try {
    const auto s = geoshard::synth::generate(o);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json j;
    j["seconds"] = secs;
    j["roads"] = s.roads;
    j["segments"] = s.segments;
    j["connectors"] = s.connectors;
    j["areas"] = s.areas;
    j["areas_per_layer"] = s.areas_per_layer;
    j["road_km"] = s.road_km;
    j["urban_segments"] = s.urban_segments;
    j["intercity_segments"] = s.intercity_segments;
    j["countryside_segments"] = s.countryside_segments;
    j["dual_carriageway_roads"] = s.dual_carriageway_roads;
    j["geohash5"] = {{"cells", s.geohash5.cells},   {"min_km", s.geohash5.min_km}, {"p10_km", s.geohash5.p10_km},
                     {"p50_km", s.geohash5.p50_km}, {"p90_km", s.geohash5.p90_km}, {"p99_km", s.geohash5.p99_km},
                     {"max_km", s.geohash5.max_km}};
    j["roads_path"] = s.roads_path;
    j["areas_path"] = s.areas_path;
    j["spec_path"] = s.spec_path;
    std::cout << j.dump(2) << "\n";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nsynth: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
