#include "io/ogr_source.h"

#include <cpl_conv.h>
#include <cpl_error.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace geoshard {
namespace {
thread_local std::string g_last_error;
void CPL_STDCALL record_error(CPLErr cls, CPLErrorNum, const char* msg) {
  if (cls >= CE_Failure) g_last_error = msg ? msg : "";
}
}  // namespace

void gdal_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    GDALAllRegister();
    CPLSetErrorHandler(record_error);
    // The OSM driver buffers nodes in a temporary file; keep it in memory up to 1 GB.
    CPLSetConfigOption("OSM_MAX_TMPFILE_SIZE", "1024");
  });
}

std::string gdal_last_error() {
  std::string e = std::move(g_last_error);
  g_last_error.clear();
  return e;
}

GdalDatasetPtr open_vector(const std::string& path) {
  gdal_init();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::runtime_error("cannot open '" + path + "': " + std::strerror(errno));
  if (S_ISDIR(st.st_mode) == 0 && ::access(path.c_str(), R_OK) != 0)
    throw std::runtime_error("cannot read '" + path + "': " + std::strerror(errno));
  gdal_last_error();
  GDALDataset* ds = GDALDataset::Open(path.c_str(), GDAL_OF_VECTOR | GDAL_OF_READONLY);
  if (!ds) {
    std::string why = gdal_last_error();
    throw std::runtime_error("cannot open '" + path + "' as a vector source" + (why.empty() ? "" : ": " + why));
  }
  return GdalDatasetPtr(ds);
}

OGRLayer* vector_layer(GDALDataset& ds, const std::string& path, const std::string& name) {
  if (ds.GetLayerCount() == 0) throw std::runtime_error("'" + path + "' has no vector layer");
  if (name.empty()) return ds.GetLayer(0);
  OGRLayer* l = ds.GetLayerByName(name.c_str());
  if (!l) {
    std::string have;
    for (int i = 0; i < ds.GetLayerCount(); ++i) have += (i ? ", " : "") + std::string(ds.GetLayer(i)->GetName());
    throw std::runtime_error("'" + path + "' has no layer '" + name + "' (it has: " + have + ")");
  }
  return l;
}

bool is_osm(const GDALDataset& ds) {
  auto* drv = const_cast<GDALDataset&>(ds).GetDriver();
  return drv && std::strcmp(drv->GetDescription(), "OSM") == 0;
}

std::vector<std::pair<std::string, std::string>> parse_hstore(const std::string& s) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  auto quoted = [&](std::string& dst) -> bool {
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    dst.clear();
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      dst.push_back(s[i++]);
    }
    if (i >= s.size()) return false;
    ++i;
    return true;
  };
  std::string k, v;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',')) ++i;
    if (i >= s.size()) break;
    if (!quoted(k)) break;
    while (i < s.size() && s[i] == ' ') ++i;
    if (s.compare(i, 2, "=>") != 0) break;
    i += 2;
    while (i < s.size() && s[i] == ' ') ++i;
    if (!quoted(v)) break;
    out.emplace_back(k, v);
  }
  return out;
}

}  // namespace geoshard
