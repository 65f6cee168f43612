// geoshard render: a tiny map.gpkg and areas.h5 made here, rendered, and checked on the pixels
// (colours where the roads project, white where nothing is), plus the pure helpers (Viewport,
// scale bar, legend, colours, ASCII text) and every bad input.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "io/area_table.h"
#include "jobs/render/render.h"
#include "kernels/geodesic.h"
#include "tests/testing/ogr_fixture.h"
#include "tests/testing/temp_dir.h"

namespace geoshard::render {
namespace {

// ---- the fixture map ---------------------------------------------------------------------------
// View 103.85..103.86 x 1.28..1.29 (about 1.1 km square). Areas of layer `city`: "1" (Downtown
// Café) south of lat 1.284, "2" (Marina Bay) north of it. Roads:
//   1  primary, city 1, along lat 1.283
//   10 primary one-way "Raffles Avenue", city 2, along lat 1.2850 (a carriageway)
//   11 primary one-way "Raffles Avenue", city 2, along lat 1.2853 (the other carriageway)
//   20 the link between them at lon 103.8555 (intersection_link = 1, "10;11")
//   4  residential, no area, along lat 1.2887
//   3  primary, city 1, just east of the view (lon 103.8603..103.8620, lat 1.2835)
constexpr double kMinLon = 103.85, kMinLat = 1.28, kMaxLon = 103.86, kMaxLat = 1.29;

struct FixtureRoad {
  int64_t id;
  std::string highway, name, oneway, city_id, city_name;
  int link;
  std::string carriageways;
  std::vector<std::pair<double, double>> pts;
};

std::vector<FixtureRoad> fixture_roads() {
  return {
      {1, "primary", "Orchard Road", "no", "1", "Downtown Café", 0, "", {{103.851, 1.283}, {103.859, 1.283}}},
      {10, "primary", "Raffles Avenue", "yes", "2", "Marina Bay", 0, "", {{103.859, 1.2850}, {103.851, 1.2850}}},
      {11, "primary", "Raffles Avenue", "yes", "2", "Marina Bay", 0, "", {{103.851, 1.2853}, {103.859, 1.2853}}},
      {20, "primary", "", "no", "2", "Marina Bay", 1, "10;11", {{103.8555, 1.2850}, {103.8555, 1.2853}}},
      {4, "residential", "Jalan Besar", "no", "", "", 0, "", {{103.852, 1.2887}, {103.858, 1.2887}}},
      {3, "primary", "East Coast Road", "no", "1", "Downtown Café", 0, "", {{103.8603, 1.2835}, {103.862, 1.2835}}},
  };
}

// Writes map.gpkg as MapWriter would (the fields render reads); with_links = false leaves out
// intersection_link and link_carriageways (a map gathered without a links run).
void write_map(const std::string& path, bool with_links = true, const std::string& layer_name = "roads") {
  using testing::FixtureField;
  std::vector<FixtureField> fields = {{"road_id", OFTInteger64}, {"part", OFTInteger},   {"highway", OFTString},
                                      {"name", OFTString},       {"oneway", OFTString},  {"city_id", OFTString},
                                      {"city_name", OFTString}};
  if (with_links) {
    fields.push_back({"intersection_link", OFTInteger});
    fields.push_back({"link_carriageways", OFTString});
  }
  testing::OgrFixture fx(path, "GPKG", layer_name, wkbLineString, fields);
  for (const FixtureRoad& r : fixture_roads()) {
    fx.add(
        [&](OGRFeature& f) {
          f.SetField("road_id", static_cast<GIntBig>(r.id));
          f.SetField("part", 0);
          f.SetField("highway", r.highway.c_str());
          f.SetField("name", r.name.c_str());
          f.SetField("oneway", r.oneway.c_str());
          f.SetField("city_id", r.city_id.c_str());
          f.SetField("city_name", r.city_name.c_str());
          if (with_links) {
            f.SetField("intersection_link", r.link);
            f.SetField("link_carriageways", r.carriageways.c_str());
          }
        },
        testing::line(r.pts));
  }
  fx.close();
}

// A closed counter-clockwise box ring appended to an area layer as one area.
void add_box_area(AreaLayer& l, const std::string& id, const std::string& name, double x0, double y0, double x1,
                  double y1) {
  if (l.polygon_offset.empty()) {
    l.polygon_offset = {0};
    l.ring_offset = {0};
    l.vertex_offset = {0};
  }
  l.id.push_back(id);
  l.area_name.push_back(name);
  l.repaired.push_back(0);
  for (auto [x, y] : std::vector<std::pair<double, double>>{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}) {
    l.lon.push_back(x);
    l.lat.push_back(y);
  }
  l.vertex_offset.push_back(l.lon.size());
  l.ring_offset.push_back(l.vertex_offset.size() - 1);
  l.polygon_offset.push_back(l.ring_offset.size() - 1);
  l.min_lon.push_back(x0);
  l.min_lat.push_back(y0);
  l.max_lon.push_back(x1);
  l.max_lat.push_back(y1);
}

void write_areas(const std::string& path, const std::string& layer = "city") {
  AreaLayer l;
  l.name = layer;
  l.source = "test";
  add_box_area(l, "1", "Downtown Café", 103.849, 1.279, 103.870, 1.284);
  add_box_area(l, "2", "Marina Bay", 103.849, 1.284, 103.870, 1.291);
  write_area_layers({l}, path);
}

RenderOptions view_options(const testing::TempDir& dir, const std::string& out = "view.png") {
  RenderOptions o;
  o.map = dir.file("map.gpkg");
  o.areas = dir.file("areas.h5");
  o.layer = "city";
  o.out = dir.file(out);
  o.has_bbox = true;
  o.min_lon = kMinLon;
  o.min_lat = kMinLat;
  o.max_lon = kMaxLon;
  o.max_lat = kMaxLat;
  o.width = 1600;
  return o;
}

// The pixel under continuous image point p.
cv::Point pixel(Px p) { return {static_cast<int>(std::floor(p.x)), static_cast<int>(std::floor(p.y))}; }

Rgb at(const cv::Mat& img, cv::Point q) {
  const cv::Vec3b v = img.at<cv::Vec3b>(q.y, q.x);
  return {v[2], v[1], v[0]};
}

bool close(Rgb a, Rgb b, int tol) {
  return std::abs(a.r - b.r) <= tol && std::abs(a.g - b.g) <= tol && std::abs(a.b - b.b) <= tol;
}

// True when a pixel within `radius` of p has colour c (each channel within tol).
bool has_colour_near(const cv::Mat& img, Px p, Rgb c, int radius = 1, int tol = 12) {
  const cv::Point q = pixel(p);
  for (int dy = -radius; dy <= radius; ++dy)
    for (int dx = -radius; dx <= radius; ++dx) {
      const cv::Point r(q.x + dx, q.y + dy);
      if (r.x >= 0 && r.y >= 0 && r.x < img.cols && r.y < img.rows && close(at(img, r), c, tol)) return true;
    }
  return false;
}

std::string str(Rgb c) {
  return "(" + std::to_string(c.r) + "," + std::to_string(c.g) + "," + std::to_string(c.b) + ")";
}

Px mid_px(const Viewport& vp, const FixtureRoad& r) {
  const auto& a = r.pts.front();
  const auto& b = r.pts.back();
  return vp.to_px((a.first + b.first) / 2, (a.second + b.second) / 2);
}

FixtureRoad road(int64_t id) {
  for (const auto& r : fixture_roads())
    if (r.id == id) return r;
  throw std::logic_error("no fixture road " + std::to_string(id));
}

class RenderMap : public ::testing::Test {
 protected:
  void SetUp() override {
    write_map(dir_.file("map.gpkg"));
    write_areas(dir_.file("areas.h5"));
  }
  testing::TempDir dir_;
};

// ---- rendering, checked on pixels -------------------------------------------------------------

TEST_F(RenderMap, ColoursLinksCarriagewaysAndWhiteWhereNothingIs) {
  const RenderOptions o = view_options(dir_);
  const RenderSummary s = render_map(o);
  const Viewport vp = Viewport::fit(kMinLon, kMinLat, kMaxLon, kMaxLat, o.width);
  EXPECT_EQ(s.width, 1600);
  EXPECT_EQ(s.height, vp.height);
  EXPECT_EQ(s.height, static_cast<int>(Viewport::height_for(kMinLon, kMinLat, kMaxLon, kMaxLat, 1600)));
  EXPECT_EQ(s.out, o.out);
  EXPECT_EQ(s.layer, "city");
  EXPECT_EQ(s.roads_drawn, 5u);  // 1, 10, 11, 20, 4; not 3 (outside)
  EXPECT_EQ(s.links_drawn, 1u);
  EXPECT_EQ(s.carriageways_drawn, 2u);
  EXPECT_EQ(s.areas_drawn, 2u);

  // The view is 0.01 deg = 1112 m wide: a fifth is 222 m, the bar 200 m.
  EXPECT_NEAR(vp.metres_per_px() * 1600, 0.01 * std::cos(1.285 * kDegToRad) * kEarthRadiusM * kDegToRad, 1e-6);
  EXPECT_EQ(scale_bar(vp.metres_per_px(), 1600).label, "200 m");

  const cv::Mat img = cv::imread(o.out, cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty()) << o.out << " does not open as an image";
  EXPECT_EQ(img.cols, s.width);
  EXPECT_EQ(img.rows, s.height);

  // The link: magenta at its midpoint.
  const Px link = mid_px(vp, road(20));
  EXPECT_TRUE(has_colour_near(img, link, kLinkColour, 0, 2)) << "at link midpoint " << str(at(img, pixel(link)));

  // Roads in the colour of their primary area; two areas, two colours.
  const Rgb c1 = area_colour("1"), c2 = area_colour("2");
  ASSERT_FALSE(c1 == c2) << "fixture ids share a palette colour: pick other ids";
  const Px r1 = mid_px(vp, road(1));
  EXPECT_TRUE(has_colour_near(img, r1, c1, 0, 8)) << "road 1: " << str(at(img, pixel(r1))) << " want " << str(c1);
  const Px r10 = mid_px(vp, road(10));
  EXPECT_TRUE(has_colour_near(img, r10, c2, 0, 8)) << "road 10: " << str(at(img, pixel(r10))) << " want " << str(c2);
  EXPECT_FALSE(has_colour_near(img, r10, c1, 1, 8));
  // No area: light grey.
  const Px r4 = mid_px(vp, road(4));
  EXPECT_TRUE(has_colour_near(img, r4, kNoAreaColour, 0, 8)) << "road 4: " << str(at(img, pixel(r4)));

  // The carriageway is outlined in dark orange: just beside the road line (primary: 4 px at
  // 1600 px wide), inside the casing (3 px each side).
  const Px beside{r10.x, r10.y + 3.5};
  EXPECT_TRUE(has_colour_near(img, beside, kCarriagewayColour, 0, 12)) << str(at(img, pixel(beside)));
  const Px beside_above{r10.x, r10.y - 3.5};
  EXPECT_TRUE(has_colour_near(img, beside_above, kCarriagewayColour, 0, 12)) << str(at(img, pixel(beside_above)));
  // ...while road 1, no carriageway, has none.
  EXPECT_FALSE(has_colour_near(img, Px{r1.x, r1.y + 3.5}, kCarriagewayColour, 1, 40));

  // An area border (the shared edge at lat 1.284): grey.
  const Px border = vp.to_px(103.8525, 1.284);
  bool grey = false;
  for (int dy = -1; dy <= 1; ++dy) {
    const Rgb c = at(img, pixel(border) + cv::Point(0, dy));
    grey |= c.r < 235 && c.r == c.g && c.g == c.b;
  }
  EXPECT_TRUE(grey) << "no grey border at lat 1.284: " << str(at(img, pixel(border)));

  // Road 3 lies just east of the view: the last columns at its latitude stay white, and away
  // from every road and border the image is white.
  const Px r3 = vp.to_px(kMaxLon, 1.2835);
  for (int dx = 1; dx <= 8; ++dx)
    for (int dy = -8; dy <= 8; ++dy) {
      const cv::Point q(img.cols - dx, static_cast<int>(r3.y) + dy);
      EXPECT_TRUE(at(img, q) == kBackground) << "pixel " << q << " " << str(at(img, q));
    }
  EXPECT_TRUE(at(img, pixel(vp.to_px(103.853, 1.2815))) == kBackground);
  EXPECT_TRUE(at(img, pixel(vp.to_px(103.8555, 1.2870))) == kBackground);
}

TEST_F(RenderMap, AroundARoadIncludesItAndDefaultsWork) {
  // --around 3: the view is road 3's box widened by 150 m, and road 3 shows in its area colour.
  RenderOptions o = view_options(dir_, "around.png");
  o.has_bbox = false;
  o.around_roads = {3};
  o.around_m = 150;
  o.width = 800;
  const RenderSummary s = render_map(o);
  const double dlat = 150 / (kEarthRadiusM * kDegToRad);
  EXPECT_NEAR(s.min_lon, 103.8603 - dlat / std::cos(1.2835 * kDegToRad), 1e-9);
  EXPECT_NEAR(s.max_lon, 103.862 + dlat / std::cos(1.2835 * kDegToRad), 1e-9);
  EXPECT_LE(s.min_lat, 1.2835 - dlat + 1e-12);
  EXPECT_GE(s.max_lat, 1.2835 + dlat - 1e-12);
  EXPECT_GE(s.roads_drawn, 1u);
  const Viewport vp = Viewport::fit(s.min_lon, s.min_lat, s.max_lon, s.max_lat, s.width);
  const cv::Mat img = cv::imread(o.out, cv::IMREAD_COLOR);
  ASSERT_FALSE(img.empty());
  EXPECT_EQ(img.rows, vp.height);
  const Px r3 = mid_px(vp, road(3));
  EXPECT_TRUE(has_colour_near(img, r3, area_colour("1"), 0, 8)) << str(at(img, pixel(r3)));

  // Around the 33 m link with no margin: the box is made drawable (>= 100 m, aspect <= 4).
  o.around_roads = {20};
  o.around_m = 0;
  o.width = 1600;
  o.out = dir_.file("link.png");
  const RenderSummary l = render_map(o);
  EXPECT_EQ(l.links_drawn, 1u);
  EXPECT_EQ(l.carriageways_drawn, 2u);
  EXPECT_LE(l.min_lat, 1.2850);
  EXPECT_GE(l.max_lat, 1.2853);
  EXPECT_GE((l.max_lat - l.min_lat) * kEarthRadiusM * kDegToRad, 100 - 1e-6);
  EXPECT_GE(l.height, 64);
  EXPECT_LE(l.height, 4 * l.width);

  // No bbox, no layer, no areas: the extent of the roads and the map's first area layer.
  RenderOptions d;
  d.map = dir_.file("map.gpkg");
  d.out = dir_.file("extent.png");
  d.width = 400;
  const RenderSummary e = render_map(d);
  EXPECT_EQ(e.layer, "city");
  EXPECT_EQ(e.roads_drawn, 6u);
  EXPECT_LE(e.min_lon, 103.851);
  EXPECT_GE(e.max_lon, 103.862);
  EXPECT_LE(e.min_lat, 1.283);
  EXPECT_GE(e.max_lat, 1.2887);
  EXPECT_EQ(e.areas_drawn, 0u);
  EXPECT_FALSE(cv::imread(d.out).empty());
  // The smallest width still draws (legend and scale bar clipped, not fatal).
  d.width = 64;
  d.out = dir_.file("tiny.png");
  const RenderSummary t = render_map(d);
  EXPECT_EQ(t.width, 64);
  EXPECT_EQ(cv::imread(d.out).cols, 64);
}

TEST_F(RenderMap, WithoutLinkFieldsNoLinksAreDrawn) {
  write_map(dir_.file("nolinks.gpkg"), false);
  RenderOptions o = view_options(dir_, "nolinks.png");
  o.map = dir_.file("nolinks.gpkg");
  const RenderSummary s = render_map(o);
  EXPECT_EQ(s.links_drawn, 0u);
  EXPECT_EQ(s.carriageways_drawn, 0u);
  EXPECT_EQ(s.roads_drawn, 5u);
  const cv::Mat img = cv::imread(o.out, cv::IMREAD_COLOR);
  const Viewport vp = Viewport::fit(kMinLon, kMinLat, kMaxLon, kMaxLat, o.width);
  // Road 20 is drawn as an ordinary road of city 2.
  EXPECT_FALSE(has_colour_near(img, mid_px(vp, road(20)), kLinkColour, 2, 40));
  EXPECT_TRUE(has_colour_near(img, mid_px(vp, road(20)), area_colour("2"), 0, 8));
}

TEST_F(RenderMap, LabelLinksWritesTextNearTheLink) {
  RenderOptions o = view_options(dir_, "plain.png");
  render_map(o);
  o.out = dir_.file("labels.png");
  o.label_links = true;
  const RenderSummary s = render_map(o);
  EXPECT_EQ(s.links_drawn, 1u);
  const cv::Mat plain = cv::imread(dir_.file("plain.png")), labels = cv::imread(o.out);
  ASSERT_EQ(plain.size(), labels.size());
  // The labels change pixels only near the link and its carriageways (the middle band), and
  // some of them are the dark magenta of a link's label.
  const Viewport vp = Viewport::fit(kMinLon, kMinLat, kMaxLon, kMaxLat, o.width);
  const Px link = mid_px(vp, road(20));
  int changed = 0, far = 0, magenta_text = 0;
  for (int y = 0; y < plain.rows; ++y)
    for (int x = 0; x < plain.cols; ++x) {
      if (plain.at<cv::Vec3b>(y, x) == labels.at<cv::Vec3b>(y, x)) continue;
      ++changed;
      if (std::abs(y - link.y) > 120) ++far;
      if (close(at(labels, {x, y}), Rgb{139, 0, 139}, 10)) ++magenta_text;
    }
  EXPECT_GT(changed, 100);
  EXPECT_EQ(far, 0);
  EXPECT_GT(magenta_text, 10);
}

// ---- bad input ---------------------------------------------------------------------------------

// Runs render_map and returns the message of the std::runtime_error it must throw.
std::string error_of(const RenderOptions& o) {
  try {
    render_map(o);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "render_map did not throw";
  return "";
}

#define EXPECT_MENTIONS(msg, what) EXPECT_NE((msg).find(what), std::string::npos) << (msg)

TEST_F(RenderMap, BadInputThrowsNamingTheFile) {
  const std::string map = dir_.file("map.gpkg");
  {
    RenderOptions o = view_options(dir_);
    o.map = dir_.file("missing.gpkg");
    EXPECT_MENTIONS(error_of(o), "missing.gpkg");
  }
  {
    write_map(dir_.file("streets.gpkg"), true, "streets");
    RenderOptions o = view_options(dir_);
    o.map = dir_.file("streets.gpkg");
    const std::string m = error_of(o);
    EXPECT_MENTIONS(m, "streets.gpkg");
    EXPECT_MENTIONS(m, "roads");
  }
  {
    RenderOptions o = view_options(dir_);
    o.layer = "town";
    const std::string m = error_of(o);
    EXPECT_MENTIONS(m, map);
    EXPECT_MENTIONS(m, "town_id");
    EXPECT_MENTIONS(m, "city");  // the layers found
  }
  {
    RenderOptions o = view_options(dir_);
    o.max_lon = o.min_lon;
    EXPECT_MENTIONS(error_of(o), map);
    o = view_options(dir_);
    o.min_lat = 1.3;  // min > max
    EXPECT_MENTIONS(error_of(o), map);
    o = view_options(dir_);
    o.max_lat = std::nan("");
    EXPECT_MENTIONS(error_of(o), map);
  }
  {
    RenderOptions o = view_options(dir_);
    o.has_bbox = false;
    o.around_roads = {3, 999, 1000};
    const std::string m = error_of(o);
    EXPECT_MENTIONS(m, map);
    EXPECT_MENTIONS(m, "999, 1000");
    o.has_bbox = true;  // both: refused
    EXPECT_MENTIONS(error_of(o), map);
  }
  for (int w : {0, 63, 20001, -5}) {
    RenderOptions o = view_options(dir_);
    o.width = w;
    const std::string m = error_of(o);
    EXPECT_MENTIONS(m, map);
    EXPECT_MENTIONS(m, std::to_string(w));
  }
  {
    RenderOptions o = view_options(dir_);
    o.max_lat = 1.2801;  // 1.1 km wide, 11 m high: 16 px at 1600 px wide
    EXPECT_MENTIONS(error_of(o), map);
  }
  {
    RenderOptions o = view_options(dir_);
    o.out = dir_.file("no/such/folder/view.png");
    EXPECT_MENTIONS(error_of(o), o.out);
    o.out = dir_.file("view.unknown-extension");
    EXPECT_MENTIONS(error_of(o), o.out);
    // A folder where the image should go: the writer itself fails.
    std::filesystem::create_directories(dir_.file("taken.png"));
    o.out = dir_.file("taken.png");
    EXPECT_MENTIONS(error_of(o), o.out);
  }
  {
    RenderOptions o = view_options(dir_);
    o.areas = dir_.file("missing-areas.h5");
    EXPECT_MENTIONS(error_of(o), "missing-areas.h5");
    write_areas(dir_.file("districts.h5"), "district");
    o.areas = dir_.file("districts.h5");
    const std::string m = error_of(o);
    EXPECT_MENTIONS(m, "districts.h5");
    EXPECT_MENTIONS(m, "district");
  }
}

// ---- pure helpers --------------------------------------------------------------------------------

TEST(Viewport, CornersAndMonotoneOverRandomBoxes) {
  std::mt19937_64 rng(20240601);
  std::uniform_real_distribution<double> lat0(-70, 70), lon0(-179, 170), span(1e-4, 2), u(0, 1);
  for (int box = 0; box < 20; ++box) {
    const double min_lon = lon0(rng), min_lat = lat0(rng);
    const double max_lon = min_lon + span(rng), max_lat = std::min(85.0, min_lat + span(rng));
    const int width = 64 + static_cast<int>(u(rng) * 3000);
    const Viewport vp = Viewport::fit(min_lon, min_lat, max_lon, max_lat, width);
    ASSERT_GE(vp.height, 1);
    // Corners onto corners, exactly.
    EXPECT_EQ(vp.to_px(min_lon, max_lat).x, 0.0);
    EXPECT_EQ(vp.to_px(min_lon, max_lat).y, 0.0);
    EXPECT_EQ(vp.to_px(max_lon, min_lat).x, width);
    EXPECT_EQ(vp.to_px(max_lon, min_lat).y, vp.height);
    EXPECT_EQ(vp.to_px(max_lon, max_lat).x, width);
    EXPECT_EQ(vp.to_px(min_lon, min_lat).y, vp.height);
    // True shapes at the middle latitude: one pixel is the same ground distance both ways
    // (up to the rounding of the height to whole pixels).
    const double mid = (min_lat + max_lat) / 2;
    const double m_x = (max_lon - min_lon) * std::cos(mid * kDegToRad) / width;
    const double m_y = (max_lat - min_lat) / vp.height;
    EXPECT_NEAR(m_x / m_y, 1.0, 0.5 / vp.height + 1e-12);
    EXPECT_NEAR(vp.metres_per_px(), m_x * kEarthRadiusM * kDegToRad, 1e-9 * vp.metres_per_px());
    // Monotone: east is right, north is up, over 1000 random pairs of points in the box.
    for (int i = 0; i < 1000; ++i) {
      const double a_lon = min_lon + u(rng) * (max_lon - min_lon), b_lon = min_lon + u(rng) * (max_lon - min_lon);
      const double a_lat = min_lat + u(rng) * (max_lat - min_lat), b_lat = min_lat + u(rng) * (max_lat - min_lat);
      const Px a = vp.to_px(a_lon, a_lat), b = vp.to_px(b_lon, b_lat);
      if (a_lon < b_lon) {
        EXPECT_LE(a.x, b.x);
      }
      if (a_lon > b_lon) {
        EXPECT_GE(a.x, b.x);
      }
      if (a_lat < b_lat) {
        EXPECT_GE(a.y, b.y);
      }
      if (a_lat > b_lat) {
        EXPECT_LE(a.y, b.y);
      }
      EXPECT_GE(a.x, 0);
      EXPECT_LE(a.x, width);
      EXPECT_GE(a.y, 0);
      EXPECT_LE(a.y, vp.height);
    }
  }
  EXPECT_THROW(Viewport::fit(1, 1, 1, 2, 100), std::invalid_argument);
  EXPECT_THROW(Viewport::fit(1, 1, 2, std::nan(""), 100), std::invalid_argument);
}

TEST(ScaleBar, RoundLengthsNearAFifthOfTheWidth) {
  // 1600 px over 2 km: a fifth is 400 m -> 500 m (closer on a log scale than 200 m).
  ScaleBar s = scale_bar(2000.0 / 1600, 1600);
  EXPECT_EQ(s.metres, 500);
  EXPECT_DOUBLE_EQ(s.px, 400);
  EXPECT_EQ(s.label, "500 m");
  s = scale_bar(20000.0 / 1600, 1600);  // 20 km: 4 km -> 5 km
  EXPECT_EQ(s.label, "5 km");
  s = scale_bar(1.0, 1000);  // a fifth is 200 m
  EXPECT_EQ(s.label, "200 m");
  s = scale_bar(1.5, 1000);  // 300 m: 200 (x1.5) beats 500 (x1.67)
  EXPECT_EQ(s.label, "200 m");
  s = scale_bar(0.0015, 1000);  // 0.3 m
  EXPECT_EQ(s.label, "0.2 m");
  s = scale_bar(10.0, 1000);  // 2 km
  EXPECT_EQ(s.label, "2 km");
  s = scale_bar(7.5, 1000);  // 1.5 km: 2 km (x1.33) beats 1 km (x1.5)
  EXPECT_EQ(s.label, "2 km");
  // Property: 1, 2 or 5 times a power of ten, within a factor sqrt(2.5) of the fifth.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> e(-3, 3);
  for (int i = 0; i < 1000; ++i) {
    const double mpp = std::pow(10.0, e(rng));
    const int w = 64 + static_cast<int>(rng() % 5000);
    const ScaleBar b = scale_bar(mpp, w);
    const double mant = b.metres / std::pow(10.0, std::floor(std::log10(b.metres) + 1e-12));
    EXPECT_TRUE(std::abs(mant - 1) < 1e-9 || std::abs(mant - 2) < 1e-9 || std::abs(mant - 5) < 1e-9) << b.metres;
    const double ratio = b.px / (w / 5.0);
    EXPECT_LE(ratio, std::sqrt(2.5) + 1e-9);
    EXPECT_GE(ratio, 1 / std::sqrt(2.5) - 1e-9);
    EXPECT_NEAR(b.px * mpp, b.metres, 1e-9 * b.metres);
  }
}

TEST(Legend, AreasByDrawnLengthThenFixedRows) {
  std::vector<AreaLength> areas = {{"1", "Downtown Café", 100}, {"2", "Marina Bay", 300}, {"7", "", 100}};
  auto rows = legend_entries(areas, 50, true);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].text, "Marina Bay (2)");
  EXPECT_EQ(rows[0].colour, area_colour("2"));
  EXPECT_EQ(rows[1].text, "Downtown Cafe (1)");  // tie with "7": lower id first
  EXPECT_EQ(rows[1].id, "1");
  EXPECT_EQ(rows[2].text, "7");
  EXPECT_EQ(rows[3].kind, LegendEntry::Kind::kNoArea);
  EXPECT_EQ(rows[3].text, "no area");
  EXPECT_EQ(rows[3].colour, kNoAreaColour);
  EXPECT_EQ(rows[4].text, "intersection link");
  EXPECT_EQ(rows[4].colour, kLinkColour);
  EXPECT_EQ(rows[5].text, "carriageway of a link");
  EXPECT_EQ(rows[5].colour, kCarriagewayColour);
  // Without links or roads without area: only the areas.
  rows = legend_entries(areas, 0, false);
  EXPECT_EQ(rows.size(), 3u);
  // More areas than rows: the 12 longest, then a count of the rest.
  areas.clear();
  for (int i = 0; i < 20; ++i) areas.push_back({std::to_string(100 + i), "A" + std::to_string(i), double(i)});
  rows = legend_entries(areas, 0, false);
  ASSERT_EQ(rows.size(), 13u);
  EXPECT_EQ(rows[0].id, "119");
  EXPECT_EQ(rows[11].id, "108");
  EXPECT_EQ(rows[12].kind, LegendEntry::Kind::kMore);
  EXPECT_EQ(rows[12].text, "+ 8 more areas");
}

TEST(AreaColour, StableDistinctFromHighlightsAndSpread) {
  EXPECT_EQ(area_colour("Q1234"), area_colour(std::string("Q") + "1234"));
  std::set<std::tuple<int, int, int>> seen;
  for (int i = 0; i < 2000; ++i) {
    const Rgb c = area_colour(std::to_string(i));
    seen.insert({c.r, c.g, c.b});
    // Not a grey (the no-area roads and the borders): some chroma.
    EXPECT_GE(std::max({c.r, c.g, c.b}) - std::min({c.r, c.g, c.b}), 60) << str(c);
    for (Rgb h : {kLinkColour, kCarriagewayColour})
      EXPECT_GT(std::abs(c.r - h.r) + std::abs(c.g - h.g) + std::abs(c.b - h.b), 120) << str(c);
  }
  EXPECT_EQ(seen.size(), 16u);  // every palette colour is used
}

TEST(AsciiText, TransliteratesLatinAndMarksTheRest) {
  EXPECT_EQ(ascii_text("Café"), "Cafe");
  EXPECT_EQ(ascii_text("Straße"), "Strasse");
  EXPECT_EQ(ascii_text("Đường Nguyễn Huệ"), "Duong Nguyen Hue");
  EXPECT_EQ(ascii_text("ŁÓDŹ Œuvre Æble"), "LODZ OEuvre AEble");
  EXPECT_EQ(ascii_text("Cafe\xCC\x81"), "Cafe");  // combining acute
  EXPECT_EQ(ascii_text("ถนน 1"), "??? 1");        // Thai: one '?' per character
  EXPECT_EQ(ascii_text("a\xFF" "b"), "a?b");      // invalid byte
  EXPECT_EQ(ascii_text("\xE2\x80\x9CQuai\xE2\x80\x9D \xE2\x80\x93 Rue"), "\"Quai\" - Rue");
  EXPECT_EQ(ascii_text("tab\there"), "tab here");
  for (unsigned char c : ascii_text("Ÿ ÿ ĳ Ħ ſ ơ Ư ₫ 北京")) EXPECT_TRUE(c >= 0x20 && c < 0x7F);
}

}  // namespace
}  // namespace geoshard::render
