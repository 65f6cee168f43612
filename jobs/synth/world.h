// The synthetic region's areas and the plan of its cities, built once before any road is written.
//
// Countries come from one noded linework (fractal Voronoi borders + coast + island + enclave
// rings) that GEOS polygonizes, so neighbours share their border vertices exactly and nothing
// overlaps or leaves a gap. Provinces are a fractal Voronoi partition of each country, intersected
// with it. An Urban is a street grid (the road-generating blob); its intersection with the
// provinces gives one city polygon, or two when it straddles a province border. Gated
// communities are lattice blocks (some rotated) cleared of through streets, inside one city.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "jobs/synth/geos_util.h"
#include "jobs/synth/names.h"
#include "jobs/synth/synth.h"

namespace geoshard::synth::detail {

// The region: every coordinate written lies inside (countries stay >= 0.02 degrees within).
constexpr Box kRegionBox{98.0, 0.0, 116.0, 16.0};
constexpr double kMetresPerDegLat = 110574.0;
constexpr double kMetresPerDegLonEquator = 111320.0;

struct Country {
  std::string id, name, iso2, driving_side;
  Lang lang = Lang::en;
  int speed_kmh = 90;
  bool enclave = false;
  XY seed{0, 0};
  Geom geom;
  Geom boundary;
  Prepared prep, boundary_prep;
};

struct Province {
  std::string id, name;
  int country = -1;
  Geom geom;
  Prepared prep;
};

struct LatticeRange {
  int i0, j0, i1, j1;  // lattice cells [i0, i1) x [j0, j1); lines strictly inside are cleared
};

// A street-grid blob: star-shaped outline r(theta) around (lon0, lat0), grid of block b metres
// rotated by alpha, avenues every A lines (every 2A a dual carriageway when dual).
struct Urban {
  int rank = 0;
  int country = -1;
  uint64_t key = 0;
  double lon0 = 0, lat0 = 0;
  double R = 1000;  // mean radius, metres
  double amp[3] = {0, 0, 0}, phase[3] = {0, 0, 0};
  double b = 100, alpha = 0, ca = 1, sa = 0;
  int A = 10;
  bool dual = false;
  double dual_offset = 10;  // half the distance between carriageways, metres
  double kx = 1e-5, ky = 1e-5;  // degrees per metre
  Lang lang = Lang::en;
  bool left_hand = false;
  uint64_t planned_segments = 0;
  std::vector<int> cities;
  std::vector<int> gated;
  std::vector<LatticeRange> gated_ranges;

  double radius(double theta) const {
    return R * (1 + amp[0] * std::cos(2 * theta + phase[0]) + amp[1] * std::cos(3 * theta + phase[1]) +
                amp[2] * std::cos(5 * theta + phase[2]));
  }
  double rmax() const { return R * (1 + amp[0] + amp[1] + amp[2]); }
  double rho_hat(XY local) const {
    double rho = std::hypot(local.x, local.y);
    return rho == 0 ? 0 : rho / radius(std::atan2(local.y, local.x));
  }
  XY grid_to_local(double u, double v) const { return {u * ca - v * sa, u * sa + v * ca}; }
  XY local_to_grid(XY p) const { return {p.x * ca + p.y * sa, -p.x * sa + p.y * ca}; }
  XY to_lonlat(XY local) const { return {lon0 + local.x * kx, lat0 + local.y * ky}; }
  XY to_local(XY ll) const { return {(ll.x - lon0) / kx, (ll.y - lat0) / ky}; }
  // Jittered lattice point (i, j) in local metres.
  XY lattice(int i, int j) const;
  bool avenue(int k) const { return ((k % A) + A) % A == 0; }
  bool dual_line(int i) const { return dual && ((i % (2 * A)) + 2 * A) % (2 * A) == 0; }
  bool gated_interior(int i, int j) const {
    for (const auto& g : gated_ranges)
      if (g.i0 < i && i < g.i1 && g.j0 < j && j < g.j1) return true;
    return false;
  }
  std::vector<XY> outline_lonlat(int n = 128) const;
};

struct City {
  std::string id, name;
  int province = -1, urban = -1;
  Geom geom;
  Prepared prep;
};

struct Gated {
  std::string id, name, access;
  int city = -1, urban = -1;
  LatticeRange range{};
  double uc = 0, vc = 0, hu = 0, hv = 0, phi = 0;  // rectangle in grid metres, extra rotation
  Geom geom;
  // Point (a, b) of the community's own frame (centred, rotated by phi) in grid metres.
  XY to_grid(double a, double b) const {
    const double cp = std::cos(phi), sp = std::sin(phi);
    return {uc + a * cp - b * sp, vc + a * sp + b * cp};
  }
};

struct World {
  GeosContext geos;  // first member: destroyed last
  uint64_t seed = 1, segments = 0;
  Box bbox{};
  std::vector<Country> countries;
  std::vector<Province> provinces;
  std::vector<Urban> urbans;
  std::vector<City> cities;
  std::vector<Gated> gated;
  Geom land;
  Prepared land_prep;
  // Urbans by 0.5-degree cell (each urban listed in every cell its rmax + 3 km disc touches).
  std::unordered_map<int64_t, std::vector<int>> urban_cells;
  int enclave = -1, enclave_host = -1;
  int special_pairs[2][2] = {{-1, -1}, {-1, -1}};  // (enclave capital, host twin), (border towns)

  static int64_t cell_of(double lon, double lat) {
    return (static_cast<int64_t>(std::floor(lon * 2)) << 32) ^ static_cast<int64_t>(std::floor(lat * 2) + 1000);
  }
  // Index of an urban (other than `except`) whose rmax + margin_m disc holds p, or -1.
  int urban_near(XY lonlat, double margin_m, int except = -1) const;
  int country_at(XY lonlat) const;
};

// Builds countries, provinces, cities and gated communities for `segments` road segments.
std::unique_ptr<World> build_world(uint64_t segments, uint64_t seed);

// Metric distance between lon/lat points (equirectangular, fine below a few hundred km).
double approx_dist_m(XY a, XY b);

}  // namespace geoshard::synth::detail
