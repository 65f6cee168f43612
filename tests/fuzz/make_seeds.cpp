// Writes the binary seeds of tests/fuzz/corpus (WKB geometries, JPEGs) into a folder:
//   make_seeds OUT   ->  OUT/geometry/*.bin, OUT/jpeg/*.bin
// The seeds are committed; this program is how they were made (and how to remake them). The
// text seeds (manifests, job files) are written by hand in the corpus folders.
#include <ogr_geometry.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/testing/jpeg_fixture.h"

namespace fs = std::filesystem;
using geoshard::testing::JpegOptions;

namespace {

void write(const fs::path& p, const std::vector<uint8_t>& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

// One geometry from WKT as WKB (little-endian, ISO), behind the selector byte (0 road, 1 area).
void geometry(const fs::path& dir, const std::string& name, uint8_t selector, const char* wkt) {
  OGRGeometry* g = nullptr;
  if (OGRGeometryFactory::createFromWkt(wkt, nullptr, &g) != OGRERR_NONE || !g)
    throw std::runtime_error(std::string("bad WKT seed ") + wkt);
  std::vector<uint8_t> bytes(1 + g->WkbSize());
  bytes[0] = selector;
  g->exportToWkb(wkbNDR, bytes.data() + 1, wkbVariantIso);
  OGRGeometryFactory::destroyGeometry(g);
  write(dir / (name + ".bin"), bytes);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds OUT\n");
    return 2;
  }
  const fs::path out = argv[1];
  const fs::path g = out / "geometry";
  // Roads (selector 0).
  geometry(g, "road-line", 0, "LINESTRING (7.42 43.73, 7.425 43.735, 7.43 43.74)");
  geometry(g, "road-multi", 0, "MULTILINESTRING ((0 0, 1 1), (1 1, 2 1, 2 1, 3 2))");
  geometry(g, "road-duplicates", 0, "LINESTRING (10 10, 10 10, 10 10)");
  geometry(g, "road-3d", 0, "LINESTRING Z (1 2 3, 4 5 6)");
  geometry(g, "road-out-of-range", 0, "LINESTRING (179 0, 181 0)");
  geometry(g, "road-point", 0, "POINT (1 2)");
  geometry(g, "road-empty", 0, "LINESTRING EMPTY");
  // Areas (selector 1).
  geometry(g, "area-square", 1, "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))");
  geometry(g, "area-hole", 1, "POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (2 2, 2 4, 4 4, 4 2, 2 2))");
  geometry(g, "area-bowtie", 1, "POLYGON ((0 0, 2 2, 2 0, 0 2, 0 0))");
  geometry(g, "area-unclosed", 1, "POLYGON ((0 0, 3 0, 3 3, 0 3))");
  geometry(g, "area-short-ring", 1, "POLYGON ((0 0, 1 1, 0 0))");
  geometry(g, "area-hole-outside", 1, "POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0), (5 5, 6 5, 6 6, 5 6, 5 5))");
  geometry(g, "area-multi-overlap", 1,
           "MULTIPOLYGON (((0 0, 2 0, 2 2, 0 2, 0 0)), ((1 1, 3 1, 3 3, 1 3, 1 1)))");
  geometry(g, "area-collection", 1,
           "GEOMETRYCOLLECTION (POLYGON ((0 0, 2 0, 2 2, 0 2, 0 0)), POINT (5 5), POLYGON ((1 1, 3 1, 3 3, 1 3, 1 1)))");
  geometry(g, "area-antimeridian", 1, "POLYGON ((179 -1, 180 -1, 180 1, 179 1, 179 -1))");
  geometry(g, "area-curve", 1, "CURVEPOLYGON (CIRCULARSTRING (0 0, 1 1, 2 0, 1 -1, 0 0))");

  // JPEGs behind 4 rectangle bytes: a textured picture in the layouts the writer handles
  // differently (4:2:0, 4:4:4, 4:2:2, gray, restart intervals, progressive, optimised tables,
  // markers, sizes that are not multiples of the MCU).
  const fs::path j = out / "jpeg";
  auto picture = [](int w, int h, int ch) {
    std::vector<uint8_t> px(static_cast<size_t>(w) * h * ch);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < ch; ++c)
          px[(static_cast<size_t>(y) * w + x) * ch + c] =
              static_cast<uint8_t>(128 + 100 * std::sin(0.3 * x + 0.2 * y + c) * std::cos(0.11 * x * (c + 1) - 0.07 * y));
    return px;
  };
  struct Seed {
    const char* name;
    int w, h, ch;
    JpegOptions o;
  };
  auto options = [](int quality, int h_samp, int v_samp, bool progressive, unsigned restart, bool optimize) {
    JpegOptions o;
    o.quality = quality;
    o.h_samp = h_samp;
    o.v_samp = v_samp;
    o.progressive = progressive;
    o.restart_interval = restart;
    o.optimize = optimize;
    return o;
  };
  std::vector<Seed> seeds;
  seeds.push_back({"420", 37, 21, 3, options(95, 2, 2, false, 0, false)});
  seeds.push_back({"444", 16, 16, 3, options(80, 1, 1, false, 0, false)});
  seeds.push_back({"422-restart", 40, 17, 3, options(90, 2, 1, false, 2, false)});
  seeds.push_back({"gray", 23, 9, 1, options(70, 2, 2, false, 0, false)});
  seeds.push_back({"progressive", 33, 33, 3, options(95, 2, 2, true, 0, false)});
  seeds.push_back({"optimised-markers", 24, 24, 3, options(95, 2, 2, false, 0, true)});
  seeds.back().o.markers = {{JPEG_APP0 + 1, std::string("Exif\0\0MM\0*\0\0\0\x08\0\0", 16)}, {JPEG_COM, "geoshard seed"}};
  const uint8_t rects[][4] = {{0, 0, 128, 128}, {64, 64, 64, 64}, {200, 10, 255, 255}, {0, 0, 0, 0},
                              {0, 0, 255, 255}, {128, 0, 1, 255}};
  for (size_t i = 0; i < seeds.size(); ++i) {
    const Seed& s = seeds[i];
    const auto px = picture(s.w, s.h, s.ch);
    std::vector<uint8_t> bytes(rects[i], rects[i] + 4);
    const auto jpg = geoshard::testing::encode_jpeg(px.data(), s.w, s.h, s.ch, static_cast<size_t>(s.w) * s.ch, s.o);
    bytes.insert(bytes.end(), jpg.begin(), jpg.end());
    write(j / (std::string(s.name) + ".bin"), bytes);
  }
  std::printf("seeds written under %s\n", out.c_str());
  return 0;
}
