// `geoshard render`: a PNG quick-look of a bounding box of a map written by `geoshard gather`
// (map.gpkg, layer `roads`). Roads are coloured by their primary area of one area layer, area
// borders from areas.h5 are drawn in grey underneath, and intersection links (docs/links.md)
// are drawn on top in magenta with their two carriageways outlined in dark orange. A legend,
// a scale bar and a title line make the picture readable on its own. docs/render.md describes
// the picture, the options and the limits.
//
//   geoshard::render::RenderOptions o;
//   o.map = "map.gpkg"; o.areas = "areas.h5"; o.layer = "city"; o.out = "view.png";
//   o.has_bbox = true; o.min_lon = 103.85; o.min_lat = 1.28; o.max_lon = 103.86; o.max_lat = 1.29;
//   geoshard::render::RenderSummary s = geoshard::render::render_map(o);
//
// Projection (Viewport): equirectangular, with longitude scaled by cos(middle latitude) so that
// one pixel is the same ground distance across and down at the middle of the box (shapes are
// true there; away from it the east-west scale drifts by tan(lat) per radian of latitude: at
// 45° a box 1° tall is 0.9% off at its top and bottom edges).
// Pixel (i, j) covers the continuous image coordinates [i, i+1) x [j, j+1); (min_lon, max_lat)
// maps to (0, 0) and (max_lon, min_lat) to (width, height).
//
// Only features whose bounding box meets the view are read (OGR spatial filter on the
// GeoPackage's R-tree), so a small view of a large map is quick. Pure helpers (Viewport,
// scale_bar, legend_entries, area_colour, ascii_text) are exposed for tests.
//
// This header does not include OpenCV: the command line (apps/) also includes s2 headers, which
// cannot share a translation unit with OpenCV's (../shared/TOOLCHAIN.md).
//
// Thread-safety: render_map may run concurrently on different outputs; the helpers are pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace geoshard::render {

struct RenderOptions {
  std::string map;    // map.gpkg written by `geoshard gather` (layer `roads`)
  std::string areas;  // optional areas.h5 (borders of `layer` are drawn); "" = none
  // Area layer whose primary area colours the roads (field `<layer>_id`). "" = the first layer
  // L of the map's columns (a field `<L>_id` next to `<L>_name`); no colouring when there is none.
  std::string layer;
  std::string out;  // output image path (.png; any extension OpenCV can write is accepted)
  // The view. Default: the extent of the roads layer (widened by 2% on each side).
  bool has_bbox = false;
  double min_lon = 0, min_lat = 0, max_lon = 0, max_lat = 0;
  // Alternative to the bbox: the union of these roads' bounding boxes (every part of each id),
  // widened by around_m metres on every side.
  std::vector<int64_t> around_roads;
  double around_m = 150;
  // Image width in pixels, in [64, 20000]; the height follows the box's aspect and must land in
  // the same range (Viewport).
  int width = 1600;
  // Label every intersection link in view and its two carriageways with their OSM tags:
  // "id highway name oneway=...", near the middle of the visible part of the road.
  bool label_links = false;
};

struct RenderSummary {
  uint64_t roads_drawn = 0;         // road features with a segment in view (links included)
  uint64_t links_drawn = 0;         // of which intersection links (0 when the map has no such field)
  uint64_t carriageways_drawn = 0;  // road features in view that are a carriageway of a link in view
  uint64_t areas_drawn = 0;         // areas of areas.h5 with a border segment in view
  int width = 0, height = 0;
  std::string out;
  std::string layer;                                     // the area layer used ("" = none)
  double min_lon = 0, min_lat = 0, max_lon = 0, max_lat = 0;  // the view drawn
};

// Renders the view and writes the image. Throws std::runtime_error naming the file at fault:
// a missing or unreadable map, no `roads` layer or no `road_id` field, a layer whose `<layer>_id`
// field is absent (the message lists the layers found), a layer absent from areas.h5, an empty
// or non-finite bbox (min >= max, NaN, out of lon/lat range), both a bbox and around_roads,
// around_roads ids absent from the map, a width (or the height it gives) outside [64, 20000],
// and an output that cannot be written.
RenderSummary render_map(const RenderOptions& opt);

// A point in continuous image coordinates (pixels; see the header comment).
struct Px {
  double x = 0, y = 0;
};

// Lon/lat -> image pixels for one view. Invariants (after fit): min < max on both axes,
// width and height >= 1; to_px is affine, increasing in lon (x) and decreasing in lat (y), and
// maps the box's corners exactly onto the image's corners.
struct Viewport {
  double min_lon = 0, min_lat = 0, max_lon = 0, max_lat = 0;
  int width = 0, height = 0;

  // The view of the box at `width` pixels; height = round(width * lat span / (lon span *
  // cos(middle latitude))), at least 1. Throws std::invalid_argument on an empty or non-finite
  // box or width < 1 (render_map checks the ranges first, with file names).
  static Viewport fit(double min_lon, double min_lat, double max_lon, double max_lat, int width);
  // The height fit would choose (no range check beyond finiteness; may be huge).
  static double height_for(double min_lon, double min_lat, double max_lon, double max_lat, int width);

  Px to_px(double lon, double lat) const {
    return {(lon - min_lon) / (max_lon - min_lon) * width, (max_lat - lat) / (max_lat - min_lat) * height};
  }
  // Ground metres per pixel across the image at the middle latitude (haversine sphere,
  // kernels/geodesic.h).
  double metres_per_px() const;
};

// The scale bar: a round length (1, 2 or 5 times a power of ten metres) closest, on a log
// scale, to 1/5 of the image width. E.g. 1600 px over 2 km: 1/5 is 400 m -> a 500 m bar of
// 400 px. Labels: "500 m", "2 km", "0.5 m".
struct ScaleBar {
  double metres = 0;
  double px = 0;
  std::string label;
};
ScaleBar scale_bar(double metres_per_px, int width);

// 8-bit RGB colour.
struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};
inline constexpr Rgb kBackground{255, 255, 255};
inline constexpr Rgb kNoAreaColour{190, 190, 190};       // roads without a primary area
inline constexpr Rgb kBorderColour{150, 150, 150};       // area borders
inline constexpr Rgb kLinkColour{255, 0, 255};           // intersection links (magenta)
inline constexpr Rgb kCarriagewayColour{255, 140, 0};    // outline of a link's carriageways (dark orange)

// The colour of an area id: a hash of the id (FNV-1a, then a bit mixer) into a qualitative
// palette of 16 colours that read well on white and stay clear of the greys, magenta and orange
// above. Stable across runs and views; two ids may share a colour (1 in 16 for a random pair).
Rgb area_colour(std::string_view id);

// Drawn road length of one area in the view (input of the legend).
struct AreaLength {
  std::string id, name;
  double length_m = 0;
};

struct LegendEntry {
  enum class Kind { kArea, kNoArea, kLink, kCarriageway, kMore };
  Kind kind = Kind::kArea;
  std::string id;    // area id (kArea only)
  std::string text;  // as drawn: ASCII (ascii_text)
  Rgb colour;
};

// The legend's rows: the max_areas areas with the longest drawn length (ties: lower id first),
// "Name (id)" or "id" when unnamed; then "+ K more areas" when some were left out; "no area"
// when no_area_m > 0; "intersection link" and "carriageway of a link" when links_known (the map
// has the intersection_link field).
std::vector<LegendEntry> legend_entries(std::vector<AreaLength> areas, double no_area_m, bool links_known,
                                        size_t max_areas = 12);

// ASCII for OpenCV's Hershey fonts: the diacritics of precomposed Latin letters (Latin-1,
// Latin Extended-A, Vietnamese) are dropped (é -> e, Đ -> D), ß -> ss, æ -> ae, œ -> oe, þ -> th,
// combining marks (U+0300-U+036F) are removed, typographic quotes and dashes become ' " -, a
// no-break space a space, and every other non-ASCII code point or invalid byte becomes '?'.
// ASCII control characters become ' '.
std::string ascii_text(std::string_view utf8);

}  // namespace geoshard::render
