#include "jobs/synth/world.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>
#include <stdexcept>

#include "jobs/synth/rng.h"

namespace geoshard::synth::detail {
namespace {

constexpr Box kBox = kRegionBox;
// Segments per b^2 of urban outline area (core 4, mid ring 2, outer ring 1, plus avenues, dual
// carriageways, compounds and alleys); calibrated so the urban share lands near its plan.
constexpr double kKappa = 2.46;
constexpr double kPi = std::numbers::pi;

// Tags that keep the random streams of different features apart.
enum Tag : int {
  kSite = 101, kBorder, kCoast, kIsland, kEnclave, kProvSeed, kProvBorder, kCountryName, kProvName,
  kUrban, kPlace, kCityName, kGated, kGatedName, kStraddle,
};

int64_t q(double v) { return std::llround(v * 1e7); }

// Midpoint displacement between a and b (b appended, a not): a self-similar ragged line whose
// shape depends only on its key, so the shared border of two countries is computed once.
// The relative displacement h shrinks by `decay` per level down to `floor`: large meanders,
// then a self-similar ragged edge.
struct Roughness {
  double h, decay = 1, floor = 0;
  Roughness next() const { return {std::max(floor, h * decay), decay, floor}; }
};

void fractal_segment(XY a, XY b, Roughness h, double min_len, Rng& r, std::vector<XY>& out) {
  const double dx = b.x - a.x, dy = b.y - a.y, L = std::hypot(dx, dy);
  if (L <= min_len) {
    out.push_back(b);
    return;
  }
  const double d = (2 * r.uniform() - 1) * h.h * L;
  const XY m{(a.x + b.x) / 2 - dy / L * d, (a.y + b.y) / 2 + dx / L * d};
  fractal_segment(a, m, h.next(), min_len, r, out);
  fractal_segment(m, b, h.next(), min_len, r, out);
}

std::vector<XY> fractal_polyline(const std::vector<XY>& base, Roughness h, double min_len, uint64_t key) {
  std::vector<XY> out{base.front()};
  for (size_t k = 0; k + 1 < base.size(); ++k) {
    Rng r(hkey(key, q(base[k].x), q(base[k].y), q(base[k + 1].x), q(base[k + 1].y)));
    fractal_segment(base[k], base[k + 1], h, min_len, r, out);
  }
  return out;
}

// A closed ragged ring around centre (degrees; radius in degrees of latitude).
std::vector<XY> fractal_ring(XY centre, double radius, int base_n, Roughness h, double min_len, uint64_t key) {
  Rng r(key);
  const double lon_scale = 1.0 / std::cos(centre.y * kPi / 180);
  std::vector<XY> base;
  const double t0 = r.uniform(0, 2 * kPi);
  for (int k = 0; k < base_n; ++k) {
    const double t = t0 + 2 * kPi * k / base_n;
    const double rr = radius * r.uniform(0.8, 1.2);
    base.push_back({centre.x + rr * std::cos(t) * lon_scale, centre.y + rr * std::sin(t)});
  }
  base.push_back(base.front());
  return fractal_polyline(base, h, min_len, hkey(key, 1));
}

std::string iso2_for(const std::string& name, std::set<std::string>& used) {
  std::string letters;
  for (char ch : name)
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')) letters += static_cast<char>(std::toupper(ch));
  for (size_t k = 1; k < letters.size(); ++k) {
    std::string code{letters[0], letters[k]};
    if (used.insert(code).second) return code;
  }
  for (char ch = 'A'; ch <= 'Z'; ++ch) {
    std::string code{'X', ch};
    if (used.insert(code).second) return code;
  }
  return "XX";
}

Geom union_of(const GeosContext& c, std::vector<Geom> parts) {
  if (parts.size() == 1) return as_multipolygon(c, parts[0].get());
  Geom coll = make_collection(c, GEOS_GEOMETRYCOLLECTION, std::move(parts));
  Geom u = take(c, GEOSUnaryUnion_r(c.h(), coll.get()), "union");
  return as_multipolygon(c, u.get());
}

Geom checked_valid(const GeosContext& c, Geom g) {
  if (is_valid(c, g.get())) return g;
  Geom v = take(c, GEOSMakeValid_r(c.h(), g.get()), "make valid");
  return as_multipolygon(c, v.get());
}

// Polygonizes noded linework; returns the faces.
std::vector<Geom> faces_of(const GeosContext& c, std::vector<std::vector<XY>> lines) {
  std::vector<Geom> ls;
  for (auto& l : lines)
    if (l.size() >= 2) ls.push_back(make_line(c, l));
  Geom mls = make_collection(c, GEOS_MULTILINESTRING, std::move(ls));
  Geom noded = take(c, GEOSUnaryUnion_r(c.h(), mls.get()), "noding");
  const GEOSGeometry* in[] = {noded.get()};
  Geom polys = take(c, GEOSPolygonize_r(c.h(), in, 1), "polygonize");
  return polygons_of(c, polys.get());
}

// Straight Voronoi edges of `sites`, clipped to the box, then made ragged.
std::vector<std::vector<XY>> fractal_voronoi(const GeosContext& c, const std::vector<XY>& sites, const Envelope& env,
                                             Roughness h, double min_len, uint64_t key) {
  std::vector<Geom> pts;
  for (XY p : sites) pts.push_back(make_point(c, p));
  Geom mp = make_collection(c, GEOS_MULTIPOINT, std::move(pts));
  Geom box = make_box(c, env.x0, env.y0, env.x1, env.y1);
  Geom vor = take(c, GEOSVoronoiDiagram_r(c.h(), mp.get(), box.get(), 0.0, 1), "voronoi");
  Geom clipped = take(c, GEOSIntersection_r(c.h(), vor.get(), box.get()), "voronoi clip");
  std::vector<std::vector<XY>> out;
  for (auto& l : lines_of(c, clipped.get())) {
    std::vector<XY> pts2 = coords(c, l.get());
    for (size_t k = 0; k + 1 < pts2.size(); ++k) out.push_back(fractal_polyline({pts2[k], pts2[k + 1]}, h, min_len, key));
  }
  return out;
}

size_t nearest(const std::vector<XY>& sites, XY p) {
  size_t best = 0;
  double bd = 1e300;
  for (size_t k = 0; k < sites.size(); ++k) {
    const double dx = (sites[k].x - p.x) * std::cos(p.y * kPi / 180), dy = sites[k].y - p.y;
    const double d = dx * dx + dy * dy;
    if (d < bd) {
      bd = d;
      best = k;
    }
  }
  return best;
}

bool polygon_contains(const GeosContext& c, const std::vector<XY>& ring, XY p) {
  Geom poly = make_polygon(c, ring);
  Geom pt = make_point(c, p);
  return GEOSContains_r(c.h(), poly.get(), pt.get()) == 1;
}

double distance(const GeosContext& c, const GEOSPreparedGeometry* a, const GEOSGeometry* b) {
  double d = 0;
  if (!GEOSPreparedDistance_r(c.h(), a, b, &d)) throw std::runtime_error("GEOS distance: " + c.last_error());
  return d;
}

// ---------------------------------------------------------------------------------------------
struct CountryStyle {
  int col, row;
  Lang lang;
  bool left;
  int speed;
};
// Land lattice cells in row-major order (row 0 is the south); (0,0) and (2,0) are sea.
constexpr CountryStyle kStyles[] = {
    {1, 0, Lang::ms, true, 90},  {0, 1, Lang::th, true, 90},   {1, 1, Lang::th, true, 90},
    {2, 1, Lang::vi, false, 80}, {0, 2, Lang::ms, false, 100}, {1, 2, Lang::th, false, 90},
    {2, 2, Lang::vi, false, 80},
};
constexpr int kLandCountries = 7;
constexpr int kHostCountry = 2;    // (1,1): holds the enclave
constexpr int kIslandOwner = 0;    // (1,0): mainland + island -> MultiPolygon
constexpr int kIslandSeaSite = 2;  // lattice site (2,0)

void build_countries(World& w) {
  const GeosContext& c = w.geos;
  const uint64_t S = w.seed;
  const double cw = (kBox.max_lon - kBox.min_lon) / 3, ch = (kBox.max_lat - kBox.min_lat) / 3;
  std::vector<XY> sites;
  std::vector<int> site_country;  // -1 sea
  for (int row = 0; row < 3; ++row)
    for (int col = 0; col < 3; ++col) {
      Rng r(hkey(S, kSite, col, row));
      sites.push_back({kBox.min_lon + (col + 0.5 + r.uniform(-0.28, 0.28)) * cw,
                       kBox.min_lat + (row + 0.5 + r.uniform(-0.28, 0.28)) * ch});
      int country = -1;
      for (int k = 0; k < kLandCountries; ++k)
        if (kStyles[k].col == col && kStyles[k].row == row) country = k;
      site_country.push_back(country);
    }

  std::vector<std::vector<XY>> lines =
      fractal_voronoi(c, sites, {kBox.min_lon, kBox.min_lat, kBox.max_lon, kBox.max_lat}, {0.24, 0.8, 0.12}, 0.005,
                      hkey(S, kBorder));

  // Coast: the box inset by 0.8 degrees, subdivided, jittered and made ragged.
  {
    Rng r(hkey(S, kCoast));
    const double in = 0.8;
    const XY corners[] = {{kBox.min_lon + in, kBox.min_lat + in},
                          {kBox.max_lon - in, kBox.min_lat + in},
                          {kBox.max_lon - in, kBox.max_lat - in},
                          {kBox.min_lon + in, kBox.max_lat - in}};
    std::vector<XY> base;
    for (int s = 0; s < 4; ++s) {
      const XY a = corners[s], b = corners[(s + 1) % 4];
      const double L = std::hypot(b.x - a.x, b.y - a.y);
      const int m = static_cast<int>(std::ceil(L / 1.5));
      for (int k = 0; k < m; ++k) {
        const double t = static_cast<double>(k) / m;
        XY p{a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t};
        if (k > 0) {
          const double off = r.uniform(-0.3, 0.3);
          p.x += -(b.y - a.y) / L * off;
          p.y += (b.x - a.x) / L * off;
        }
        base.push_back(p);
      }
    }
    base.push_back(base.front());
    std::vector<XY> coast = fractal_polyline(base, {0.2, 0.8, 0.11}, 0.005, hkey(S, kCoast, 1));
    for (XY& p : coast) {
      p.x = std::clamp(p.x, kBox.min_lon + 0.02, kBox.max_lon - 0.02);
      p.y = std::clamp(p.y, kBox.min_lat + 0.02, kBox.max_lat - 0.02);
    }
    lines.push_back(std::move(coast));
  }

  // Island and enclave rings must stay clear of every other line.
  std::vector<Geom> others;
  for (auto& l : lines) others.push_back(make_line(c, l));
  Geom other = make_collection(c, GEOS_MULTILINESTRING, std::move(others));
  Prepared other_prep = prepare(c, other.get());
  auto clear_ring = [&](XY centre, double radius, int tag, double min_gap) {
    for (int attempt = 0; attempt < 40; ++attempt) {
      std::vector<XY> ring = fractal_ring(centre, radius, 11, {0.16, 0.8, 0.1}, 0.004, hkey(S, tag, attempt));
      Geom poly = make_polygon(c, ring);
      Geom line = make_line(c, ring);
      if (is_valid(c, poly.get()) && distance(c, other_prep.get(), line.get()) > min_gap) return ring;
      if (attempt % 4 == 3) radius *= 0.85;
    }
    throw std::logic_error("synth: cannot place a ring clear of the borders");
  };
  // Island and enclave go where their host region (the sea around site (2,0), the inside of
  // the host country's cell) is widest: the grid point farthest from every other line.
  auto widest = [&](int site, int wanted_country, double& room) {
    XY best_p = sites[site];
    room = -1;
    for (int a = -8; a <= 8; ++a)
      for (int b = -8; b <= 8; ++b) {
        const XY p{sites[site].x + a * 0.2, sites[site].y + b * 0.2};
        if (site_country[nearest(sites, p)] != wanted_country) continue;
        const double edge = std::min({p.x - kBox.min_lon, kBox.max_lon - p.x, p.y - kBox.min_lat, kBox.max_lat - p.y});
        Geom pt = make_point(c, p);
        const double d = std::min(distance(c, other_prep.get(), pt.get()), edge);
        if (d > room) {
          room = d;
          best_p = p;
        }
      }
    return best_p;
  };
  double room = 0;
  const XY island_centre = widest(kIslandSeaSite, -1, room);
  const std::vector<XY> island = clear_ring(island_centre, std::clamp(room / 1.8, 0.1, 1.0), kIsland, 0.05);
  int host_site = 0;
  for (size_t k = 0; k < sites.size(); ++k)
    if (site_country[k] == kHostCountry) host_site = static_cast<int>(k);
  const XY enclave_centre = widest(host_site, kHostCountry, room);
  const std::vector<XY> enclave = clear_ring(enclave_centre, std::clamp(room / 2.5, 0.05, 0.3), kEnclave, 0.05);
  lines.push_back(island);
  lines.push_back(enclave);

  // Faces of the noded linework -> countries. A face belongs to the enclave or the island when
  // inside that ring, else to the nearest lattice site (sea sites drop it).
  std::vector<Geom> faces = faces_of(c, std::move(lines));
  std::vector<int> owner(faces.size());
  for (size_t k = 0; k < faces.size(); ++k) {
    const XY p = point_on_surface(c, faces[k].get());
    if (polygon_contains(c, enclave, p))
      owner[k] = kLandCountries;
    else if (polygon_contains(c, island, p))
      owner[k] = kIslandOwner;
    else
      owner[k] = site_country[nearest(sites, p)];
  }
  // A small "sea" face is a pocket left where ragged borders cross near a coast: it goes to the
  // land face it shares most border with, so the land has no lakes (gaps between countries).
  for (size_t k = 0; k < faces.size(); ++k) {
    if (owner[k] >= 0 || area(c, faces[k].get()) > 0.5) continue;
    Geom bk = take(c, GEOSBoundary_r(c.h(), faces[k].get()), "boundary");
    double best = 0;
    for (size_t m = 0; m < faces.size(); ++m) {
      if (m == k || owner[m] < 0) continue;
      Geom bm = take(c, GEOSBoundary_r(c.h(), faces[m].get()), "boundary");
      Geom shared = take(c, GEOSIntersection_r(c.h(), bk.get(), bm.get()), "shared border");
      double len = 0;
      GEOSLength_r(c.h(), shared.get(), &len);
      if (len > best) {
        best = len;
        owner[k] = owner[m];
      }
    }
  }
  std::vector<std::vector<Geom>> parts(kLandCountries + 1);
  for (size_t k = 0; k < faces.size(); ++k)
    if (owner[k] >= 0) parts[owner[k]].push_back(std::move(faces[k]));

  std::set<std::string> used_iso;
  for (int k = 0; k <= kLandCountries; ++k) {
    if (parts[k].empty()) throw std::logic_error(fmt::format("synth: country {} got no territory", k));
    Country ct;
    ct.enclave = k == kLandCountries;
    ct.id = fmt::format("C{:02d}", k + 1);
    if (ct.enclave) {
      ct.lang = Lang::en;
      ct.driving_side = "left";
      ct.speed_kmh = 70;
      ct.seed = enclave_centre;
    } else {
      ct.lang = kStyles[k].lang;
      ct.driving_side = kStyles[k].left ? "left" : "right";
      ct.speed_kmh = kStyles[k].speed;
      for (size_t s = 0; s < sites.size(); ++s)
        if (site_country[s] == k) ct.seed = sites[s];
    }
    ct.name = country_name(ct.lang, hkey(S, kCountryName, k));
    ct.iso2 = iso2_for(ct.name, used_iso);
    ct.geom = checked_valid(c, union_of(c, std::move(parts[k])));
    ct.boundary = take(c, GEOSBoundary_r(c.h(), ct.geom.get()), "boundary");
    ct.prep = prepare(c, ct.geom.get());
    ct.boundary_prep = prepare(c, ct.boundary.get());
    w.countries.push_back(std::move(ct));
  }
  w.enclave = kLandCountries;
  w.enclave_host = kHostCountry;

  std::vector<Geom> all;
  for (auto& ct : w.countries) all.push_back(clone(c, ct.geom.get()));
  w.land = union_of(c, std::move(all));
  w.land_prep = prepare(c, w.land.get());
}

// ---------------------------------------------------------------------------------------------
void build_provinces(World& w) {
  const GeosContext& c = w.geos;
  const uint64_t S = w.seed;
  for (int ci = 0; ci < static_cast<int>(w.countries.size()); ++ci) {
    Country& ct = w.countries[ci];
    auto add = [&](Geom g, int number) {
      Province p;
      p.id = fmt::format("{}-P{:02d}", ct.id, number);
      p.name = province_name(ct.lang, hkey(S, kProvName, ci, number));
      p.country = ci;
      p.geom = checked_valid(c, std::move(g));
      p.prep = prepare(c, p.geom.get());
      w.provinces.push_back(std::move(p));
    };
    if (ct.enclave) {  // a city-state: one province
      add(clone(c, ct.geom.get()), 1);
      continue;
    }
    const double a = area(c, ct.geom.get());
    const int k = std::clamp(static_cast<int>(std::lround(a / 3.0)), 3, 12);
    Envelope env = envelope(c, ct.geom.get());
    env = {env.x0 - 0.3, env.y0 - 0.3, env.x1 + 0.3, env.y1 + 0.3};
    Rng r(hkey(S, kProvSeed, ci));
    std::vector<XY> seeds;
    double spacing = 0.5 * std::sqrt(a / k);
    for (int attempt = 0; static_cast<int>(seeds.size()) < k && attempt < 50000; ++attempt) {
      if (attempt % 2000 == 1999) spacing *= 0.85;
      const XY p{r.uniform(env.x0, env.x1), r.uniform(env.y0, env.y1)};
      if (!prepared_contains_point(c, ct.prep.get(), p)) continue;
      bool ok = true;
      for (XY s : seeds) ok = ok && std::hypot(s.x - p.x, s.y - p.y) >= spacing;
      if (ok) seeds.push_back(p);
    }
    std::vector<std::vector<XY>> lines = fractal_voronoi(c, seeds, env, {0.2, 0.8, 0.12}, 0.01, hkey(S, kProvBorder, ci));
    lines.push_back({{env.x0, env.y0}, {env.x1, env.y0}, {env.x1, env.y1}, {env.x0, env.y1}, {env.x0, env.y0}});
    std::vector<std::vector<Geom>> cells(seeds.size());
    for (Geom& f : faces_of(c, std::move(lines))) {
      const XY p = point_on_surface(c, f.get());
      if (p.x < env.x0 || p.x > env.x1 || p.y < env.y0 || p.y > env.y1) continue;
      cells[nearest(seeds, p)].push_back(std::move(f));
    }
    int number = 0;
    for (auto& cell : cells) {
      if (cell.empty()) continue;
      Geom u = union_of(c, std::move(cell));
      Geom inter = take(c, GEOSIntersection_r(c.h(), ct.geom.get(), u.get()), "province clip");
      Geom mp = as_multipolygon(c, inter.get());
      if (is_empty(c, mp.get())) continue;
      add(std::move(mp), ++number);
    }
  }
}

// ---------------------------------------------------------------------------------------------
void init_urban(Urban& u, int rank, uint64_t S_planned, uint64_t key, int n_urbans) {
  Rng r(key);
  u.rank = rank;
  u.key = key;
  u.planned_segments = S_planned;
  u.amp[0] = r.uniform(0, 0.10);
  u.amp[1] = r.uniform(0, 0.08);
  u.amp[2] = r.uniform(0, 0.05);
  for (double& p : u.phase) p = r.uniform(0, 2 * kPi);
  const double S = std::max<double>(1, static_cast<double>(S_planned));
  // Blocks of 72 m in the largest city to 130 m in the smallest, whatever N: city centres stay
  // dense (>= 100x the road-km of a countryside geohash-5 cell) at every scale.
  const double rank_frac = n_urbans > 1 ? static_cast<double>(rank) / (n_urbans - 1) : 0.0;
  u.b = std::clamp(72 + 58 * std::sqrt(rank_frac), 72.0, 130.0);
  const double shape2 = 1 + (u.amp[0] * u.amp[0] + u.amp[1] * u.amp[1] + u.amp[2] * u.amp[2]) / 2;
  u.R = std::max(300.0, u.b * std::sqrt(S / (kKappa * kPi * shape2)));
  u.alpha = r.uniform(0, kPi / 2);
  u.ca = std::cos(u.alpha);
  u.sa = std::sin(u.alpha);
  u.A = 8 + static_cast<int>(r.below(5));
  u.dual_offset = r.uniform(7.5, 15.0);
  u.dual = rank < std::max(2, n_urbans / 10) && u.R >= 1200;
}

void set_centre(Urban& u, XY ll, const Country& ct) {
  u.lon0 = ll.x;
  u.lat0 = ll.y;
  u.kx = 1.0 / (kMetresPerDegLonEquator * std::cos(ll.y * kPi / 180));
  u.ky = 1.0 / kMetresPerDegLat;
  u.lang = ct.lang;
  u.left_hand = ct.driving_side == "left";
}

class Placer {
 public:
  explicit Placer(World& w) : w_(w) {}

  // True when u (centre set) fits inside one country and clears every placed urban.
  bool fits(Urban& u, XY ll) {
    const GeosContext& c = w_.geos;
    if (ll.x < kBox.min_lon || ll.x > kBox.max_lon || ll.y < kBox.min_lat || ll.y > kBox.max_lat) return false;
    const int ci = w_.country_at(ll);
    if (ci < 0) return false;
    set_centre(u, ll, w_.countries[ci]);
    // clearance to placed urbans: gap 2 km between outlines (rmax discs)
    const double reach_deg = (u.rmax() + 40000) / 100000.0;
    for (double lon = std::floor((ll.x - reach_deg) * 2) / 2; lon <= ll.x + reach_deg; lon += 0.5)
      for (double lat = std::floor((ll.y - reach_deg) * 2) / 2; lat <= ll.y + reach_deg; lat += 0.5) {
        auto it = w_.urban_cells.find(World::cell_of(lon + 0.25, lat + 0.25));
        if (it == w_.urban_cells.end()) continue;
        for (int o : it->second) {
          const Urban& v = w_.urbans[o];
          if (approx_dist_m(ll, {v.lon0, v.lat0}) < u.rmax() + v.rmax() + 2000) return false;
        }
      }
    for (const auto& [a, b] : corridors_)
      if (dist_to_segment_m(ll, a, b) < u.rmax() + 3000) return false;
    Geom outline = make_polygon(c, u.outline_lonlat());
    if (GEOSPreparedContains_r(c.h(), w_.countries[ci].prep.get(), outline.get()) != 1) return false;
    u.country = ci;
    return true;
  }

  // Keeps later cities off the straight line between two special cities, so the road the
  // intercity stage builds between them is not blocked.
  void reserve_corridor(int a, int b) {
    corridors_.push_back({{w_.urbans[a].lon0, w_.urbans[a].lat0}, {w_.urbans[b].lon0, w_.urbans[b].lat0}});
  }

  void commit(Urban u) {
    const int idx = static_cast<int>(w_.urbans.size());
    const double reach_m = u.rmax() + 3000;
    const double dlon = reach_m * u.kx, dlat = reach_m * u.ky;
    for (double lon = std::floor((u.lon0 - dlon) * 2) / 2; lon <= u.lon0 + dlon; lon += 0.5)
      for (double lat = std::floor((u.lat0 - dlat) * 2) / 2; lat <= u.lat0 + dlat; lat += 0.5)
        w_.urban_cells[World::cell_of(lon + 0.25, lat + 0.25)].push_back(idx);
    w_.urbans.push_back(std::move(u));
  }

 private:
  static double dist_to_segment_m(XY p, XY a, XY b) {
    const double cx = kMetresPerDegLonEquator * std::cos(p.y * kPi / 180), cy = kMetresPerDegLat;
    const double bx = (b.x - a.x) * cx, by = (b.y - a.y) * cy, px = (p.x - a.x) * cx, py = (p.y - a.y) * cy;
    const double L2 = bx * bx + by * by;
    const double t = L2 > 0 ? std::clamp((px * bx + py * by) / L2, 0.0, 1.0) : 0.0;
    return std::hypot(px - t * bx, py - t * by);
  }

  World& w_;
  std::vector<std::pair<XY, XY>> corridors_;
};

XY offset_ll(XY ll, double dx_m, double dy_m) {
  return {ll.x + dx_m / (kMetresPerDegLonEquator * std::cos(ll.y * kPi / 180)), ll.y + dy_m / kMetresPerDegLat};
}

void build_urbans(World& w) {
  const GeosContext& c = w.geos;
  const uint64_t S = w.seed;
  const double N = static_cast<double>(w.segments);
  const int C = std::max(5, static_cast<int>(std::llround(N / 8000)));
  const double urban_budget = 0.86 * N;
  std::vector<double> wts(C);
  double sum = 0;
  for (int k = 0; k < C; ++k) sum += wts[k] = std::pow(k + 1.0, -0.65);
  Placer placer(w);

  const Country& enclave = w.countries[w.enclave];
  const XY enclave_centre = point_on_surface(c, enclave.geom.get());
  double enclave_maxr = 0;
  for (auto& poly : polygons_of(c, enclave.geom.get())) {
    const GEOSGeometry* ring = GEOSGetExteriorRing_r(c.h(), poly.get());
    for (XY p : coords(c, ring)) enclave_maxr = std::max(enclave_maxr, approx_dist_m(enclave_centre, p));
  }

  int capital = -1;
  for (int k = 0; k < C; ++k) {
    const uint64_t S_k = static_cast<uint64_t>(urban_budget * wts[k] / sum);
    Urban u;
    init_urban(u, k, S_k, hkey(S, kUrban, k), C);
    Rng r(hkey(S, kPlace, k));
    bool placed = false;

    if (k == 0) {  // the largest city straddles a province border
      for (size_t pi = 0; pi < w.provinces.size() && !placed; ++pi) {
        const Province& pv = w.provinces[pi];
        if (w.countries[pv.country].enclave) continue;
        for (auto& poly : polygons_of(c, pv.geom.get())) {
          const std::vector<XY> ring = coords(c, GEOSGetExteriorRing_r(c.h(), poly.get()));
          for (size_t vi = 17; vi < ring.size() && !placed; vi += 41) {
            Geom pt = make_point(c, ring[vi]);
            const double d_m = distance(c, w.countries[pv.country].boundary_prep.get(), pt.get()) * 107000;
            if (d_m < u.rmax() + 5000) continue;
            placed = placer.fits(u, ring[vi]);
          }
          if (placed) break;
        }
      }
    } else if (k == 1) {  // capital of the enclave city-state
      for (int shrink = 0; shrink < 25 && !placed; ++shrink) {
        placed = placer.fits(u, enclave_centre);
        if (!placed) u.R *= 0.88;
      }
    } else if (k == 2 && capital >= 0) {  // twin across the enclave border
      const double t0 = r.uniform(0, 2 * kPi);
      for (int t = 0; t < 48 && !placed; ++t) {
        const double th = t0 + 2 * kPi * t / 48;
        const double d = enclave_maxr + u.rmax() + 2500 + 1500 * (t / 24);
        placed = placer.fits(u, offset_ll(enclave_centre, d * std::cos(th), d * std::sin(th)));
      }
      if (placed) {
        w.special_pairs[0][0] = capital;
        w.special_pairs[0][1] = static_cast<int>(w.urbans.size());
      }
    } else if (k == 3 || k == 4) {  // border towns on either side of a land border
      if (k == 3) {
        Urban v;
        init_urban(v, 4, static_cast<uint64_t>(urban_budget * wts[4] / sum), hkey(S, kUrban, 4), C);
        const Country& A = w.countries[w.enclave_host];
        for (int nb : {3, 5, 1, 4, 0, 6}) {
          const Country& B = w.countries[nb];
          std::set<std::pair<double, double>> bset;
          for (auto& poly : polygons_of(c, B.geom.get()))
            for (XY p : coords(c, GEOSGetExteriorRing_r(c.h(), poly.get()))) bset.insert({p.x, p.y});
          std::vector<XY> ring, shared;
          std::vector<size_t> at;
          for (auto& poly : polygons_of(c, A.geom.get())) {
            ring = coords(c, GEOSGetExteriorRing_r(c.h(), poly.get()));
            for (size_t vi = 0; vi < ring.size(); ++vi)
              if (bset.count({ring[vi].x, ring[vi].y})) at.push_back(vi);
            if (!at.empty()) break;
          }
          for (size_t t = 0; t < 40 && !placed && at.size() > 8; ++t) {
            const size_t m = (at.size() / 2 + t * 37) % at.size();
            const size_t vi = at[m];
            if (vi < 3 || vi + 3 >= ring.size()) continue;
            const XY p = ring[vi];
            const double cosl = std::cos(p.y * kPi / 180);
            double tx = (ring[vi + 3].x - ring[vi - 3].x) * cosl, ty = ring[vi + 3].y - ring[vi - 3].y;
            const double tl = std::hypot(tx, ty);
            if (tl == 0) continue;
            tx /= tl;
            ty /= tl;
            for (int flip : {1, -1}) {
              const double nx = -ty * flip, ny = tx * flip;
              const XY pa = offset_ll(p, nx * (u.rmax() + 2500), ny * (u.rmax() + 2500));
              const XY pb = offset_ll(p, -nx * (v.rmax() + 2500), -ny * (v.rmax() + 2500));
              if (w.country_at(pa) != w.enclave_host || w.country_at(pb) != nb) continue;
              Urban u2 = u, v2 = v;
              if (!placer.fits(u2, pa)) continue;
              if (!placer.fits(v2, pb)) continue;
              if (approx_dist_m(pa, pb) < u2.rmax() + v2.rmax() + 2000) continue;
              w.special_pairs[1][0] = static_cast<int>(w.urbans.size());
              w.special_pairs[1][1] = static_cast<int>(w.urbans.size()) + 1;
              placer.commit(std::move(u2));
              placer.commit(std::move(v2));
              placer.reserve_corridor(w.special_pairs[1][0], w.special_pairs[1][1]);
              placed = true;
              break;
            }
          }
          if (placed) break;
        }
        if (placed) {
          ++k;  // both committed
          continue;
        }
      }
    }

    // Anywhere on land, half of them as satellites of a bigger city; shrink when crowded.
    for (int attempt = 0; attempt < 600 && !placed; ++attempt) {
      if (attempt % 150 == 149) u.R *= 0.85;
      XY ll;
      if (!w.urbans.empty() && r.chance(0.5)) {
        const Urban& p = w.urbans[r.below(std::min<size_t>(w.urbans.size(), 1 + w.urbans.size() / 3))];
        const double th = r.uniform(0, 2 * kPi);
        const double d = p.rmax() + u.rmax() + r.uniform(3000, 50000);
        ll = offset_ll({p.lon0, p.lat0}, d * std::cos(th), d * std::sin(th));
      } else {
        ll = {r.uniform(kBox.min_lon, kBox.max_lon), r.uniform(kBox.min_lat, kBox.max_lat)};
      }
      placed = placer.fits(u, ll);
    }
    if (placed) {
      if (k == 1 && u.country == w.enclave) capital = static_cast<int>(w.urbans.size());
      placer.commit(std::move(u));
      if (k == 2 && w.special_pairs[0][1] >= 0) placer.reserve_corridor(w.special_pairs[0][0], w.special_pairs[0][1]);
    }
  }
  // Ranks are positions in w.urbans from here on.
  for (size_t k = 0; k < w.urbans.size(); ++k) w.urbans[k].rank = static_cast<int>(k);
}

// ---------------------------------------------------------------------------------------------
void build_cities(World& w) {
  const GeosContext& c = w.geos;
  std::vector<int> per_province(w.provinces.size(), 0);
  for (size_t ui = 0; ui < w.urbans.size(); ++ui) {
    Urban& u = w.urbans[ui];
    Geom outline = make_polygon(c, u.outline_lonlat());
    const double outline_area = area(c, outline.get());
    struct Piece {
      int province;
      Geom geom;
      double area;
    };
    std::vector<Piece> pieces;
    for (size_t pi = 0; pi < w.provinces.size(); ++pi) {
      const Province& pv = w.provinces[pi];
      if (pv.country != u.country) continue;
      if (GEOSPreparedContains_r(c.h(), pv.prep.get(), outline.get()) == 1) {
        pieces.clear();
        pieces.push_back({static_cast<int>(pi), as_multipolygon(c, outline.get()), outline_area});
        break;
      }
      if (GEOSPreparedIntersects_r(c.h(), pv.prep.get(), outline.get()) != 1) continue;
      Geom inter = take(c, GEOSIntersection_r(c.h(), outline.get(), pv.geom.get()), "city clip");
      Geom mp = as_multipolygon(c, inter.get());
      const double a = area(c, mp.get());
      if (a > 0) pieces.push_back({static_cast<int>(pi), std::move(mp), a});
    }
    std::stable_sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.area > b.area; });
    for (size_t k = 0; k < pieces.size(); ++k) {
      if (k > 0 && pieces[k].area < 0.12 * outline_area) break;
      City city;
      const Province& pv = w.provinces[pieces[k].province];
      city.id = fmt::format("{}-T{:04d}", pv.id, ++per_province[pieces[k].province]);
      city.name = city_name(u.lang, hkey(w.seed, kCityName, ui, k));
      city.province = pieces[k].province;
      city.urban = static_cast<int>(ui);
      city.geom = checked_valid(c, std::move(pieces[k].geom));
      city.prep = prepare(c, city.geom.get());
      u.cities.push_back(static_cast<int>(w.cities.size()));
      w.cities.push_back(std::move(city));
    }
  }
}

void build_gated(World& w) {
  const GeosContext& c = w.geos;
  std::vector<int> per_city(w.cities.size(), 0);
  for (size_t ui = 0; ui < w.urbans.size(); ++ui) {
    Urban& u = w.urbans[ui];
    Rng r(hkey(w.seed, kGated, ui));
    const double expect = static_cast<double>(u.planned_segments) / 2500.0;
    const int target = static_cast<int>(expect * r.uniform(0.6, 1.4) + r.uniform());
    if (target <= 0 || u.cities.empty()) continue;
    const int n = static_cast<int>(std::ceil(u.rmax() / u.b));
    for (int attempt = 0; attempt < 40 * target && static_cast<int>(u.gated_ranges.size()) < target; ++attempt) {
      const int wu = r.chance(0.5) ? 2 : 4, wv = r.chance(0.5) ? 2 : 4;
      const int i0 = 2 * static_cast<int>(std::floor(r.uniform(-n / 2.0, n / 2.0 - wu / 2.0)));
      const int j0 = 2 * static_cast<int>(std::floor(r.uniform(-n / 2.0, n / 2.0 - wv / 2.0)));
      const LatticeRange g{i0, j0, i0 + wu, j0 + wv};
      bool ok = true;
      for (int i : {g.i0, g.i1})
        for (int j : {g.j0, g.j1}) ok = ok && u.rho_hat(u.lattice(i, j)) <= 0.75;
      ok = ok && u.rho_hat(u.grid_to_local((i0 + wu / 2.0) * u.b, (j0 + wv / 2.0) * u.b)) >= 0.12;
      for (int i = g.i0 + 1; i < g.i1 && ok; ++i) ok = !u.avenue(i);
      for (int j = g.j0 + 1; j < g.j1 && ok; ++j) ok = !u.avenue(j);
      for (const auto& o : u.gated_ranges)
        ok = ok && (g.i1 + 1 <= o.i0 || o.i1 + 1 <= g.i0 || g.j1 + 1 <= o.j0 || o.j1 + 1 <= g.j0);
      if (!ok) continue;
      Gated gt;
      gt.urban = static_cast<int>(ui);
      gt.range = g;
      const double d = 0.1 * u.b + 4;
      gt.uc = (g.i0 + g.i1) / 2.0 * u.b;
      gt.vc = (g.j0 + g.j1) / 2.0 * u.b;
      gt.hu = (g.i1 - g.i0) / 2.0 * u.b - d;
      gt.hv = (g.j1 - g.j0) / 2.0 * u.b - d;
      if (r.chance(0.3)) {  // rotated inside its block range
        gt.phi = (r.chance(0.5) ? 1 : -1) * r.uniform(15, 40) * kPi / 180;
        const double W = 2 * gt.hu, H = 2 * gt.hv, cp = std::cos(gt.phi), sp = std::abs(std::sin(gt.phi));
        const double s = 0.95 * std::min(W / (W * cp + H * sp), H / (W * sp + H * cp));
        gt.hu *= s;
        gt.hv *= s;
      }
      std::vector<XY> ring;
      for (XY sv : {XY{-1, -1}, XY{1, -1}, XY{1, 1}, XY{-1, 1}}) {
        const XY g2 = gt.to_grid(sv.x * gt.hu, sv.y * gt.hv);
        ring.push_back(u.to_lonlat(u.grid_to_local(g2.x, g2.y)));
      }
      Geom poly = make_polygon(c, ring);
      int city = -1;
      for (int ci : u.cities)
        if (GEOSPreparedContains_r(c.h(), w.cities[ci].prep.get(), poly.get()) == 1) city = ci;
      if (city < 0) continue;
      gt.city = city;
      gt.id = fmt::format("{}-G{:03d}", w.cities[city].id, ++per_city[city]);
      gt.name = gated_name(u.lang, hkey(w.seed, kGatedName, ui, u.gated_ranges.size()));
      gt.access = r.chance(0.75) ? "private" : "destination";
      gt.geom = as_multipolygon(c, poly.get());
      u.gated_ranges.push_back(g);
      u.gated.push_back(static_cast<int>(w.gated.size()));
      w.gated.push_back(std::move(gt));
    }
  }
}

}  // namespace

double approx_dist_m(XY a, XY b) {
  const double dx = (b.x - a.x) * kMetresPerDegLonEquator * std::cos((a.y + b.y) / 2 * kPi / 180);
  const double dy = (b.y - a.y) * kMetresPerDegLat;
  return std::hypot(dx, dy);
}

XY Urban::lattice(int i, int j) const {
  const uint64_t h = hkey(key, 7, i, j);
  const double ju = (unit(h) - 0.5) * 0.12 * b, jv = (unit(splitmix64(h)) - 0.5) * 0.12 * b;
  return grid_to_local(i * b + ju, j * b + jv);
}

std::vector<XY> Urban::outline_lonlat(int n) const {
  std::vector<XY> out;
  for (int k = 0; k < n; ++k) {
    const double t = 2 * kPi * k / n, r = radius(t);
    out.push_back(to_lonlat({r * std::cos(t), r * std::sin(t)}));
  }
  out.push_back(out.front());
  return out;
}

int World::urban_near(XY ll, double margin_m, int except) const {
  auto it = urban_cells.find(cell_of(ll.x, ll.y));
  if (it == urban_cells.end()) return -1;
  for (int o : it->second) {
    if (o == except) continue;
    const Urban& v = urbans[o];
    if (approx_dist_m(ll, {v.lon0, v.lat0}) < v.rmax() + margin_m) return o;
  }
  return -1;
}

int World::country_at(XY ll) const {
  for (size_t k = 0; k < countries.size(); ++k)
    if (countries[k].enclave && prepared_contains_point(geos, countries[k].prep.get(), ll)) return static_cast<int>(k);
  for (size_t k = 0; k < countries.size(); ++k)
    if (!countries[k].enclave && prepared_contains_point(geos, countries[k].prep.get(), ll)) return static_cast<int>(k);
  return -1;
}

std::unique_ptr<World> build_world(uint64_t segments, uint64_t seed) {
  auto w = std::make_unique<World>();
  w->seed = seed;
  w->segments = segments;
  w->bbox = kBox;
  build_countries(*w);
  build_provinces(*w);
  build_urbans(*w);
  build_cities(*w);
  build_gated(*w);
  return w;
}

}  // namespace geoshard::synth::detail
