#include "jobs/links/links.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <optional>
#include <unordered_map>

#include "kernels/geodesic.h"

namespace geoshard::links {
namespace {

constexpr double kDeg = 0.017453292519943295769;
constexpr double kMetresPerDeg = 6371008.8 * kDeg;

// Base letter of precomposed Latin letters, lower case; 0 = keep the code point.
char fold_latin(uint32_t cp) {
  // U+00C0..U+00FF
  static constexpr char kLatin1[] =
      "aaaaaaaceeeeiiiidnooooo\0ouuuuy\0\0"
      "aaaaaaaceeeeiiiidnooooo\0ouuuuy\0y";
  // U+0100..U+017F
  static constexpr char kExtA[] =
      "aaaaaacccccccc"
      "ddddeeeeeeeeee"
      "gggggggghhhhiiiiiiiiii"
      "iijjkkkllllllllllnnnnnnnnn"
      "oooooooorrrrrrsssssssstttttt"
      "uuuuuuuuuuuuwwyyyzzzzzzs";
  static_assert(sizeof(kLatin1) == 65 && sizeof(kExtA) == 129);
  // U+1EA0..U+1EF9 (Vietnamese)
  if (cp >= 0xC0 && cp <= 0xFF) return kLatin1[cp - 0xC0];
  if (cp >= 0x100 && cp <= 0x17F) return kExtA[cp - 0x100];
  if (cp == 0x1A0 || cp == 0x1A1) return 'o';
  if (cp == 0x1AF || cp == 0x1B0) return 'u';
  if (cp >= 0x1EA0 && cp <= 0x1EF9) {
    const uint32_t k = cp - 0x1EA0;
    return k < 24 ? 'a' : k < 40 ? 'e' : k < 44 ? 'i' : k < 68 ? 'o' : k < 82 ? 'u' : 'y';
  }
  return 0;
}

// Decodes one UTF-8 code point at s[i]; returns its length (1 for an invalid byte, cp = 0xFFFFFFFF).
size_t decode_utf8(std::string_view s, size_t i, uint32_t& cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) { return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80; };
  auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F); };
  if (c < 0x80) { cp = c; return 1; }
  if ((c & 0xE0) == 0xC0 && c >= 0xC2 && cont(1)) { cp = ((c & 0x1Fu) << 6) | b(1); return 2; }
  if ((c & 0xF0) == 0xE0 && cont(1) && cont(2)) { cp = ((c & 0x0Fu) << 12) | (b(1) << 6) | b(2); return 3; }
  if ((c & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
    cp = ((c & 0x07u) << 18) | (b(1) << 12) | (b(2) << 6) | b(3);
    return 4;
  }
  cp = 0xFFFFFFFFu;
  return 1;
}

bool is_space(uint32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v' || cp == 0xA0 ||
         cp == 0x3000 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F;
}

uint64_t node_key(double lon, double lat) {
  // Exact coordinates are the node identity; +0.0 and -0.0 are one node.
  const uint64_t a = std::bit_cast<uint64_t>(lon == 0 ? 0.0 : lon), b = std::bit_cast<uint64_t>(lat == 0 ? 0.0 : lat);
  return a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
}

struct Vec {
  double x = 0, y = 0;
};

// Local metric frame around a reference latitude (equirectangular; links are < 100 m).
struct Frame {
  double lon0, lat0, kx;
  Frame(double lon, double lat) : lon0(lon), lat0(lat), kx(std::cos(lat * kDeg) * kMetresPerDeg) {}
  Vec at(double lon, double lat) const { return {(lon - lon0) * kx, (lat - lat0) * kMetresPerDeg}; }
};

double norm(Vec v) { return std::hypot(v.x, v.y); }

// Angle between two vectors in degrees, [0, 180]; NaN when one is zero.
double angle_deg(Vec a, Vec b) {
  const double na = norm(a), nb = norm(b);
  if (!(na > 0) || !(nb > 0)) return std::numeric_limits<double>::quiet_NaN();
  const double c = std::clamp((a.x * b.x + a.y * b.y) / (na * nb), -1.0, 1.0);
  return std::acos(c) / kDeg;
}

// Angle between the lines of two vectors, [0, 90].
double line_angle_deg(Vec a, Vec b) {
  const double t = angle_deg(a, b);
  return std::min(t, 180 - t);
}

// Perpendicular distance of p from the line through o with direction d (metres).
double perp(Vec o, Vec d, Vec p) {
  const double nd = norm(d);
  return std::fabs(d.x * (p.y - o.y) - d.y * (p.x - o.x)) / nd;
}

bool same_point(const RoadRef& r, uint32_t i, uint32_t j) { return r.lon[i] == r.lon[j] && r.lat[i] == r.lat[j]; }

// Travel direction of road r at its vertex k (metres in frame f): from the previous distinct
// vertex to the next distinct one (one side only at an end), reversed for oneway = -1.
Vec travel_dir(const RoadRef& r, uint32_t k, const Frame& f) {
  int64_t p = static_cast<int64_t>(k) - 1;
  while (p >= 0 && same_point(r, static_cast<uint32_t>(p), k)) --p;
  uint32_t q = k + 1;
  while (q < r.n && same_point(r, q, k)) ++q;
  const Vec a = f.at(r.lon[p >= 0 ? p : k], r.lat[p >= 0 ? p : k]);
  const Vec b = f.at(r.lon[q < r.n ? q : k], r.lat[q < r.n ? q : k]);
  Vec d{b.x - a.x, b.y - a.y};
  if (r.oneway == -1) d = {-d.x, -d.y};
  return d;
}

}  // namespace

nlohmann::json LinkOptions::to_json() const {
  return {{"max_link_m", max_link_m}, {"max_gap_m", max_gap_m}, {"min_gap_m", min_gap_m},
          {"antiparallel_tol_deg", antiparallel_tol_deg}, {"min_meet_angle_deg", min_meet_angle_deg},
          {"not_driven", not_driven}};
}

std::string LinkResult::carriageways() const {
  return link ? std::to_string(a) + ";" + std::to_string(b) : std::string();
}

const std::vector<std::pair<const char*, uint64_t LinkCounts::*>>& LinkCounts::fields() {
  static const std::vector<std::pair<const char*, uint64_t LinkCounts::*>> f = {
      {"roads", &LinkCounts::roads},
      {"links", &LinkCounts::links},
      {"short_roads", &LinkCounts::short_roads},
      {"non_finite", &LinkCounts::non_finite},
      {"too_few_points", &LinkCounts::too_few_points},
      {"zero_length", &LinkCounts::zero_length},
      {"zero_length_segments", &LinkCounts::zero_length_segments},
      {"self_loops", &LinkCounts::self_loops},
      {"repeated_node", &LinkCounts::repeated_node},
      {"unnamed_oneway", &LinkCounts::unnamed_oneway},
      {"oneway_unknown", &LinkCounts::oneway_unknown},
      {"not_driven", &LinkCounts::not_driven},
      {"roundabout", &LinkCounts::roundabout}};
  return f;
}

LinkCounts& LinkCounts::operator+=(const LinkCounts& o) {
  for (const auto& [name, m] : fields()) this->*m += o.*m;
  return *this;
}

nlohmann::json LinkCounts::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, m] : fields()) j[name] = this->*m;
  return j;
}

std::string normalise_name(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    const size_t len = decode_utf8(s, i, cp);
    if (cp != 0xFFFFFFFFu && is_space(cp)) {
      pending_space = !out.empty();
      i += len;
      continue;
    }
    if (cp >= 0x300 && cp <= 0x36F) {  // combining diacritical marks
      i += len;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
    } else if (const char c = cp == 0xFFFFFFFFu ? 0 : fold_latin(cp)) {
      out.push_back(c);
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  return out;
}

void Reach::merge(const Reach& o) {
  lon_deg = std::max(lon_deg, o.lon_deg);
  lat_deg = std::max(lat_deg, o.lat_deg);
}

Reach road_reach(const RoadRef& r) {
  Reach re;
  if (r.n == 0) return re;
  for (uint32_t i = 1; i < r.n; ++i) {
    const double dx = std::fabs(r.lon[i] - r.lon[0]), dy = std::fabs(r.lat[i] - r.lat[0]);
    if (dx > re.lon_deg) re.lon_deg = dx;  // NaN compares false: ignored
    if (dy > re.lat_deg) re.lat_deg = dy;
  }
  return re;
}

double road_length_m(const RoadRef& r) {
  double m = 0;
  for (uint32_t i = 0; i + 1 < r.n; ++i) m += haversine_m(r.lon[i], r.lat[i], r.lon[i + 1], r.lat[i + 1]);
  return m;
}

std::vector<LinkResult> classify_links(std::span<const RoadRef> roads, size_t own_begin, size_t own_end,
                                       const LinkOptions& opt, LinkCounts* counts) {
  LinkCounts c;
  std::vector<LinkResult> out(own_end - own_begin);
  auto driven = [&](const RoadRef& r) {
    return r.highway.empty() ||
           std::find(opt.not_driven.begin(), opt.not_driven.end(), r.highway) == opt.not_driven.end();
  };
  // 1. Candidates: owned simple short paths.
  std::vector<size_t> cand;
  for (size_t i = own_begin; i < own_end; ++i) {
    const RoadRef& r = roads[i];
    ++c.roads;
    if (r.oneway < -1 || r.oneway > 2) ++c.oneway_unknown;
    if (is_oneway(r.oneway) && normalise_name(r.name).empty()) ++c.unnamed_oneway;
    if (r.n < 2) {
      ++c.too_few_points;
      continue;
    }
    if (!driven(r)) {
      ++c.not_driven;
      continue;
    }
    if (r.roundabout) {  // an arc of a roundabout joins its entries and exits, not two carriageways
      ++c.roundabout;
      continue;
    }
    bool finite = true, distinct = false, zseg = false;
    for (uint32_t k = 0; k < r.n; ++k) {
      finite = finite && std::isfinite(r.lon[k]) && std::isfinite(r.lat[k]);
      distinct = distinct || !same_point(r, k, 0);
      if (k > 0 && same_point(r, k, k - 1)) zseg = true;
    }
    if (!finite) {
      ++c.non_finite;
      continue;
    }
    if (zseg) ++c.zero_length_segments;
    if (!distinct) {
      ++c.zero_length;
      continue;
    }
    if (same_point(r, 0, r.n - 1)) {
      ++c.self_loops;
      continue;
    }
    // A vertex visited twice (consecutive repeats are zero-length segments, not a revisit).
    std::vector<std::pair<double, double>> pts;
    pts.reserve(r.n);
    for (uint32_t k = 0; k < r.n; ++k)
      if (k == 0 || !same_point(r, k, k - 1)) pts.emplace_back(r.lon[k], r.lat[k]);
    std::sort(pts.begin(), pts.end());
    const bool repeated = std::adjacent_find(pts.begin(), pts.end()) != pts.end();
    if (repeated) {
      ++c.repeated_node;
      continue;
    }
    if (r.approx_length_m > opt.max_link_m + kApproxLengthSlackM || !(road_length_m(r) <= opt.max_link_m)) continue;
    ++c.short_roads;
    cand.push_back(i);
  }
  // 2. Incidences of carriageway-eligible roads at the candidates' end nodes.
  struct Inc {
    uint32_t road, vertex;
  };
  std::unordered_map<uint64_t, std::vector<Inc>> at;
  for (size_t i : cand) {
    const RoadRef& r = roads[i];
    at.try_emplace(node_key(r.lon[0], r.lat[0]));
    at.try_emplace(node_key(r.lon[r.n - 1], r.lat[r.n - 1]));
  }
  std::vector<std::string> norm_name(roads.size());
  std::vector<char> eligible(roads.size(), 0);
  if (!cand.empty()) {
    for (size_t i = 0; i < roads.size(); ++i) {
      const RoadRef& r = roads[i];
      if (!is_oneway(r.oneway) || r.n < 2 || r.name.empty() || r.roundabout || !driven(r)) continue;
      bool any = false;
      for (uint32_t k = 0; k < r.n; ++k) {
        auto it = at.find(node_key(r.lon[k], r.lat[k]));
        if (it == at.end()) continue;
        it->second.push_back({static_cast<uint32_t>(i), k});
        any = true;
      }
      if (any) {
        norm_name[i] = normalise_name(r.name);
        eligible[i] = !norm_name[i].empty();
      }
    }
  }
  // Clause 8. A carriageway passes through a link's node when the node is an inner vertex of its
  // way (a distinct vertex on both sides), or when another carriageway-eligible way of the same
  // normalised name (not the link, not the other carriageway) has a vertex there: the way was
  // split at the node and the carriageway carries on. When a carriageway just ends at the node
  // and the link bears the carriageways' own name, the link is that road going on or turning
  // back (Monaco's Avenue de l'Annonciade: a two-way stretch between two one-way pieces; the
  // turnaround at the end of Bayfront Link's one-way loop), not a connector. A link with another
  // name (the crossing street between the two carriageways at a junction, where they end) is
  // not affected.
  auto passes_through = [&](const std::vector<Inc>& incs, const Inc& x, size_t link, uint32_t other) {
    const RoadRef& r = roads[x.road];
    bool before = false, after = false;
    for (uint32_t k = 0; k < x.vertex && !before; ++k) before = !same_point(r, k, x.vertex);
    for (uint32_t k = x.vertex + 1; k < r.n && !after; ++k) after = !same_point(r, k, x.vertex);
    if (before && after) return true;
    for (const Inc& y : incs)
      if (y.road != x.road && y.road != link && y.road != other && eligible[y.road] &&
          norm_name[y.road] == norm_name[x.road] && roads[y.road].lon[y.vertex] == r.lon[x.vertex] &&
          roads[y.road].lat[y.vertex] == r.lat[x.vertex])
        return true;
    return false;
  };
  // 3. The pair test.
  for (size_t li : cand) {
    const RoadRef& L = roads[li];
    const uint32_t n = L.n;
    const Frame f(L.lon[0], L.lat[0]);
    const Vec ps = f.at(L.lon[0], L.lat[0]), pe = f.at(L.lon[n - 1], L.lat[n - 1]);
    // L's end segments, pointing into L.
    uint32_t s1 = 1;
    while (s1 < n && same_point(L, s1, 0)) ++s1;
    uint32_t e1 = n - 2;
    while (e1 > 0 && same_point(L, e1, n - 1)) --e1;
    const Vec ls = f.at(L.lon[s1], L.lat[s1]), le = f.at(L.lon[e1], L.lat[e1]);
    const Vec dls{ls.x - ps.x, ls.y - ps.y}, dle{le.x - pe.x, le.y - pe.y};
    std::optional<std::string> link_name;  // normalised when a pair gets to clause 8
    const auto& As = at.at(node_key(L.lon[0], L.lat[0]));
    const auto& Be = at.at(node_key(L.lon[n - 1], L.lat[n - 1]));
    LinkResult best;
    for (const Inc& ia : As) {
      if (ia.road == li || !eligible[ia.road]) continue;
      const RoadRef& A = roads[ia.road];
      if (A.lon[ia.vertex] != L.lon[0] || A.lat[ia.vertex] != L.lat[0]) continue;  // hash collision
      const Vec da = travel_dir(A, ia.vertex, f);
      if (!(norm(da) > 0) || line_angle_deg(da, dls) < opt.min_meet_angle_deg) continue;
      for (const Inc& ib : Be) {
        if (ib.road == li || ib.road == ia.road || !eligible[ib.road]) continue;
        const RoadRef& B = roads[ib.road];
        if (B.lon[ib.vertex] != L.lon[n - 1] || B.lat[ib.vertex] != L.lat[n - 1]) continue;
        if (norm_name[ia.road] != norm_name[ib.road]) continue;
        const Vec db = travel_dir(B, ib.vertex, f);
        if (!(norm(db) > 0) || line_angle_deg(db, dle) < opt.min_meet_angle_deg) continue;
        if (!(angle_deg(da, db) >= 180 - opt.antiparallel_tol_deg)) continue;
        const double gap = std::max(perp(ps, da, pe), perp(pe, db, ps));
        if (!(gap >= opt.min_gap_m && gap <= opt.max_gap_m)) continue;
        if (!link_name) link_name = normalise_name(L.name);
        if (*link_name == norm_name[ia.road] &&
            (!passes_through(As, ia, li, ib.road) || !passes_through(Be, ib, li, ia.road)))
          continue;
        const int64_t a = std::min(A.id, B.id), b = std::max(A.id, B.id);
        if (!best.link || std::pair(a, b) < std::pair(best.a, best.b)) best = LinkResult{true, a, b};
      }
    }
    if (best.link) ++c.links;
    out[li - own_begin] = best;
  }
  if (counts) *counts += c;
  return out;
}

}  // namespace geoshard::links
