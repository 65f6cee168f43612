// RAII for the reentrant GEOS C API, shared by the jobs that call GEOS (synth, cover): one
// context per thread, owning pointers for geometries and prepared geometries that carry the
// context handle (they must not outlive it). Errors reported by GEOS are kept in last_error().
#pragma once

#include <geos_c.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace geoshard::geos {

class Context {
 public:
  Context() : h_(GEOS_init_r()) {
    if (!h_) throw std::runtime_error("GEOS: cannot create a context");
    GEOSContext_setErrorMessageHandler_r(h_, &Context::on_error, this);
  }
  ~Context() { GEOS_finish_r(h_); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  GEOSContextHandle_t h() const { return h_; }
  const std::string& last_error() const { return error_; }

 private:
  static void on_error(const char* message, void* self) {
    static_cast<Context*>(self)->error_ = message ? message : "";
  }
  GEOSContextHandle_t h_;
  std::string error_;
};

struct GeomDeleter {
  GEOSContextHandle_t h = nullptr;
  void operator()(GEOSGeometry* g) const {
    if (g) GEOSGeom_destroy_r(h, g);
  }
};
using Geom = std::unique_ptr<GEOSGeometry, GeomDeleter>;

struct PreparedDeleter {
  GEOSContextHandle_t h = nullptr;
  void operator()(const GEOSPreparedGeometry* p) const {
    if (p) GEOSPreparedGeom_destroy_r(h, p);
  }
};
using Prepared = std::unique_ptr<const GEOSPreparedGeometry, PreparedDeleter>;

}  // namespace geoshard::geos
