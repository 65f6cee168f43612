#include "io/coverage_table.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "io/hdf5.h"
#include "kernels/geohash.h"

namespace geoshard {

int64_t CoverageLayer::find(uint64_t key) const {
  // The last interval with lo <= key is the only one that can hold key (intervals are disjoint).
  const auto it = std::upper_bound(lo.begin(), lo.end(), key);
  if (it == lo.begin()) return -1;
  const size_t i = static_cast<size_t>(it - lo.begin()) - 1;
  return key <= hi[i] ? static_cast<int64_t>(i) : -1;
}

RingSet CoverageLayer::piece_rings(int64_t p) const {
  const uint64_t r0 = piece_ring_offset[static_cast<size_t>(p)];
  const uint64_t r1 = piece_ring_offset[static_cast<size_t>(p) + 1];
  return RingSet{lon.data(), lat.data(), ring_vertex_offset.data() + r0, r1 - r0};
}

void CoverageLayer::validate() const {
  auto fail = [&](const std::string& m) { throw std::runtime_error("coverage layer '" + name + "': " + m); };
  const bool s2 = grid == "s2";
  if (grid != "geohash" && !s2) fail("unknown grid '" + grid + "' (geohash or s2)");
  if (!s2 && (precision < 1 || precision > geohash::kMaxPrecision))
    fail("precision " + std::to_string(precision) + " outside 1.." + std::to_string(geohash::kMaxPrecision));
  if (s2 && (precision < 1 || precision > 30)) fail("S2 level " + std::to_string(precision) + " outside 1..30");
  const size_t n = lo.size();
  if (hi.size() != n) fail("lo and hi differ in length");
  if (entry_offset.size() != n + 1) fail("entry_offset must have intervals+1 entries");
  if (entry_offset[0] != 0) fail("entry_offset[0] must be 0");
  const uint64_t entries = entry_offset[n];
  if (entry_area.size() != entries || entry_kind.size() != entries || entry_piece.size() != entries)
    fail("entry columns must have entry_offset[intervals] entries");
  const size_t np = pieces();
  if (!piece_ring_offset.empty() && piece_ring_offset[0] != 0) fail("piece_ring_offset[0] must be 0");
  const uint64_t rings = piece_ring_offset.empty() ? 0 : piece_ring_offset[np];
  if (ring_vertex_offset.size() != rings + 1 && !(rings == 0 && ring_vertex_offset.empty()))
    fail("ring_vertex_offset must have rings+1 entries");
  if (!ring_vertex_offset.empty() && ring_vertex_offset[0] != 0) fail("ring_vertex_offset[0] must be 0");
  const uint64_t vertices = ring_vertex_offset.empty() ? 0 : ring_vertex_offset[rings];
  if (lon.size() != vertices || lat.size() != vertices) fail("lon/lat must have ring_vertex_offset[rings] entries");
  // Pieces and rings first: the interval checks below index into them.
  for (size_t p = 0; p < np; ++p)
    if (piece_ring_offset[p + 1] < piece_ring_offset[p]) fail("piece_ring_offset decreases at piece " + std::to_string(p));
  for (uint64_t r = 0; r < rings; ++r) {
    const uint64_t a = ring_vertex_offset[r], b = ring_vertex_offset[r + 1];
    if (b < a || b > vertices) fail("ring_vertex_offset decreases at ring " + std::to_string(r));
    if (b - a < 4) fail("ring " + std::to_string(r) + " has fewer than 4 vertices");
    if (lon[a] != lon[b - 1] || lat[a] != lat[b - 1]) fail("ring " + std::to_string(r) + " is not closed");
    for (uint64_t v = a; v < b; ++v)
      if (!std::isfinite(lon[v]) || !std::isfinite(lat[v])) fail("ring " + std::to_string(r) + " has a non-finite vertex");
  }

  // Every interval is a union of whole cells of precision <= `precision`: its ends are aligned
  // to the precision's cell size in key space.
  // S2: keys are leaf ids (odd); halved, a level-k cell is an aligned block of 4^(30-k) keys.
  const int shift = s2 ? 2 * (30 - precision) : 64 - 5 * precision;
  const uint64_t cell_mask = (uint64_t{1} << shift) - 1;  // key bits below a precision-P cell
  for (size_t i = 0; i < n; ++i) {
    const std::string at = "interval " + std::to_string(i) + ": ";
    if (lo[i] > hi[i]) fail(at + "lo > hi");
    if (i + 1 < n && hi[i] >= lo[i + 1]) fail(at + "not sorted and disjoint (hi >= next lo)");
    if (s2 && (!(lo[i] & 1) || !(hi[i] & 1) || (lo[i] >> 61) > 5 || (hi[i] >> 61) > 5))
      fail(at + "S2 interval ends must be leaf ids (odd, face <= 5)");
    const uint64_t klo = s2 ? lo[i] >> 1 : lo[i], khi = s2 ? hi[i] >> 1 : hi[i];
    if ((klo & cell_mask) != 0 || (khi & cell_mask) != cell_mask)
      fail(at + "not a union of whole " + (s2 ? "level-" : "precision-") + std::to_string(precision) + " cells");
    if (entry_offset[i + 1] < entry_offset[i] || entry_offset[i + 1] > entries) fail(at + "entry_offset decreases");
    for (uint64_t e = entry_offset[i]; e < entry_offset[i + 1]; ++e) {
      if (e > entry_offset[i] && entry_area[e] <= entry_area[e - 1])
        fail(at + "entries not sorted by area, one per area");
      const auto kind = static_cast<CoverKind>(entry_kind[e]);
      if (kind == CoverKind::kInterior) {
        if (entry_piece[e] != -1) fail(at + "INTERIOR entry with a piece");
      } else if (kind == CoverKind::kBoundary) {
        if (entry_piece[e] < 0 || static_cast<uint64_t>(entry_piece[e]) >= np)
          fail(at + "BOUNDARY entry without a valid piece");
        // A piece is clipped to one cell of the layer's precision: the interval is that cell,
        // and the piece lies in the closed cell.
        if (khi - klo != cell_mask) fail(at + "BOUNDARY entry on an interval that is not one cell");
        // S2 pieces lie in the cell's expanded rectangle (jobs/cover/s2_grid.h); io/ does not
        // link s2, so that is checked by the S2 tests, not here.
        if (s2) continue;
        const geohash::Bounds b = geohash::Cell::from_key(lo[i], precision).bounds();
        const uint64_t p = static_cast<uint64_t>(entry_piece[e]);
        const uint64_t v0 = ring_vertex_offset[piece_ring_offset[p]];
        const uint64_t v1 = ring_vertex_offset[piece_ring_offset[p + 1]];
        for (uint64_t v = v0; v < v1; ++v)
          if (!(lon[v] >= b.west && lon[v] <= b.east && lat[v] >= b.south && lat[v] <= b.north))
            fail(at + "piece " + std::to_string(p) + " has a vertex outside its closed cell");
      } else {
        fail(at + "unknown entry kind " + std::to_string(entry_kind[e]));
      }
    }
  }
}

namespace {

constexpr const char* kFormat = "geoshard.coverage";

void write_layer(const h5::Group& root, const CoverageLayer& l) {
  h5::Group g = root.create_group(l.name);
  g.set_attr("layer", l.name);
  g.set_attr("grid", l.grid);
  g.set_attr("precision", static_cast<int64_t>(l.precision));
  g.set_attr("intervals", static_cast<int64_t>(l.intervals()));
  g.set_attr("entries", static_cast<int64_t>(l.entry_area.size()));
  g.set_attr("pieces", static_cast<int64_t>(l.pieces()));
  g.write_column("lo", l.lo);
  g.write_column("hi", l.hi);
  // Offsets always carry their leading 0, even when a layer has no interval or piece.
  g.write_column("entry_offset", l.entry_offset.empty() ? std::vector<uint64_t>{0} : l.entry_offset);
  g.write_column("entry_area", l.entry_area);
  g.write_column("entry_kind", l.entry_kind);
  g.write_column("entry_piece", l.entry_piece);
  g.write_column("piece_ring_offset", l.piece_ring_offset.empty() ? std::vector<uint64_t>{0} : l.piece_ring_offset);
  g.write_column("ring_vertex_offset", l.ring_vertex_offset.empty() ? std::vector<uint64_t>{0} : l.ring_vertex_offset);
  g.write_column("lon", l.lon);
  g.write_column("lat", l.lat);
}

h5::Group open_coverage_root(const h5::File& f) {
  if (!f.root().exists("coverage"))
    throw std::runtime_error("'" + f.path() + "' is not a geoshard coverage table (no /coverage)");
  h5::Group g = f.root().open_group("coverage");
  if (!g.has_attr("format") || g.attr_string("format") != kFormat)
    throw std::runtime_error("'" + f.path() + "' is not a geoshard coverage table (no /coverage@format)");
  return g;
}

}  // namespace

void write_coverage(const std::string& path, const std::vector<CoverageLayer>& layers,
                    const std::vector<AreaLayer>& areas) {
  if (layers.size() != areas.size())
    throw std::invalid_argument("write_coverage('" + path + "'): " + std::to_string(layers.size()) +
                                " coverage layers but " + std::to_string(areas.size()) + " area layers");
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].name != areas[i].name)
      throw std::invalid_argument("write_coverage('" + path + "'): coverage layer '" + layers[i].name +
                                  "' paired with area layer '" + areas[i].name + "'");
  h5::File f(path, h5::File::Mode::kCreate);
  h5::Group root = f.root().create_group("coverage");
  root.set_attr("format", std::string(kFormat));
  root.set_attr("format_version", int64_t{1});
  root.set_attr("crs", std::string("EPSG:4326"));
  std::vector<std::string> names;
  for (const auto& l : layers) names.push_back(l.name);
  root.set_attr("layers", names);
  for (const auto& l : layers) write_layer(root, l);
  write_area_layers(areas, f.root());
  f.close();
}

std::vector<std::string> coverage_layer_names(const std::string& path) {
  h5::File f(path, h5::File::Mode::kRead);
  return open_coverage_root(f).attr_strings("layers");
}

CoverageLayer read_coverage_layer(const std::string& path, const std::string& layer) {
  h5::File f(path, h5::File::Mode::kRead);
  h5::Group root = open_coverage_root(f);
  if (!root.exists(layer)) throw std::runtime_error("'" + path + "' has no coverage layer '" + layer + "'");
  h5::Group g = root.open_group(layer);
  CoverageLayer l;
  l.name = layer;
  l.grid = g.attr_string("grid");
  l.precision = static_cast<int>(g.attr_int("precision"));
  l.lo = g.read_column<uint64_t>("lo");
  l.hi = g.read_column<uint64_t>("hi");
  l.entry_offset = g.read_column<uint64_t>("entry_offset");
  l.entry_area = g.read_column<uint32_t>("entry_area");
  l.entry_kind = g.read_column<uint8_t>("entry_kind");
  l.entry_piece = g.read_column<int64_t>("entry_piece");
  l.piece_ring_offset = g.read_column<uint64_t>("piece_ring_offset");
  l.ring_vertex_offset = g.read_column<uint64_t>("ring_vertex_offset");
  l.lon = g.read_column<double>("lon");
  l.lat = g.read_column<double>("lat");
  return l;
}

void check_coverage_layer(const CoverageLayer& c, const AreaLayer& a, const std::string& path) {
  try {
    c.validate();
    a.check_structure();
    const uint64_t n = a.areas();
    for (size_t e = 0; e < c.entry_area.size(); ++e)
      if (c.entry_area[e] >= n)
        throw std::runtime_error("entry " + std::to_string(e) + " names area " + std::to_string(c.entry_area[e]) +
                                 " of " + std::to_string(n));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error("coverage '" + path + "' layer '" + c.name + "' is not valid: " + e.what());
  }
}

AreaLayer read_coverage_areas(const std::string& path, const std::string& layer) {
  h5::File f(path, h5::File::Mode::kRead);
  open_coverage_root(f);
  return read_area_layer(f.root(), layer);
}

}  // namespace geoshard
