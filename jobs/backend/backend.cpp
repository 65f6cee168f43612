#include "jobs/backend/backend.h"

#include <stdexcept>

#ifdef GEOSHARD_WITH_CUDA
#include "cuda/batch_cuda.h"
#endif

namespace geoshard::backend {

Request parse_request(std::string_view text) {
  if (text == "auto") return Request::automatic;
  if (text == "cpu") return Request::cpu;
  if (text == "cuda") return Request::cuda;
  throw std::invalid_argument("unknown backend '" + std::string(text) + "' (expected auto, cpu or cuda)");
}

Choice choose(Request request, bool built_with_cuda, int devices, const std::string& device_status) {
  const std::string no_device =
      "no usable CUDA device (" + (device_status.empty() ? std::string("0 devices") : device_status) + ")";
  switch (request) {
    case Request::cpu:
      return {Kind::cpu, "--backend cpu"};
    case Request::cuda:
      if (!built_with_cuda)
        throw std::runtime_error("--backend cuda: this geoshard was built without CUDA (nvcc was not found at build "
                                 "time); rebuild on a machine with the CUDA toolkit, or use --backend auto|cpu");
      if (devices <= 0) throw std::runtime_error("--backend cuda: " + no_device + "; use --backend auto|cpu");
      return {Kind::cuda, "--backend cuda: " + std::to_string(devices) + " CUDA device(s)"};
    case Request::automatic:
      break;
  }
  if (!built_with_cuda) return {Kind::cpu, "auto: built without CUDA"};
  if (devices <= 0) return {Kind::cpu, "auto: built with CUDA but " + no_device};
  return {Kind::cuda, "auto: " + std::to_string(devices) + " CUDA device(s)"};
}

bool built_with_cuda() {
#ifdef GEOSHARD_WITH_CUDA
  return true;
#else
  return false;
#endif
}

Choice resolve(Request request) {
  if (request == Request::cpu) return choose(request, built_with_cuda(), 0, "");
#ifdef GEOSHARD_WITH_CUDA
  const int n = cuda::device_count();
  return choose(request, true, n, n > 0 ? std::string() : cuda::device_status());
#else
  return choose(request, false, 0, "");
#endif
}

#ifndef GEOSHARD_WITH_CUDA
namespace {
[[noreturn]] void no_cuda_in_build() {
  throw std::logic_error("backend: a cuda choice in a build without CUDA (resolve() never makes one)");
}
}  // namespace
#endif

void zkey_batch(const Choice& b, std::span<const double> lon, std::span<const double> lat, std::span<uint64_t> out) {
  if (b.kind == Kind::cpu) return geoshard::zkey_batch(lon, lat, out);
#ifdef GEOSHARD_WITH_CUDA
  cuda::zkey_batch_cuda(lon, lat, out);
#else
  no_cuda_in_build();
#endif
}

void pip_batch(const Choice& b, const PolygonSet& polys, std::span<const double> lon, std::span<const double> lat,
               std::span<const uint32_t> poly_of_point, std::span<PipResult> out) {
  if (b.kind == Kind::cpu) return geoshard::pip_batch(polys, lon, lat, poly_of_point, out);
#ifdef GEOSHARD_WITH_CUDA
  cuda::pip_batch_cuda(polys, lon, lat, poly_of_point, out);
#else
  no_cuda_in_build();
#endif
}

void cut_batch(const Choice& b, const CutSet& set, std::span<EdgeCut> out) {
  if (b.kind == Kind::cpu) return geoshard::cut_batch(set, out);
#ifdef GEOSHARD_WITH_CUDA
  cuda::cut_batch_cuda(set, out);
#else
  no_cuda_in_build();
#endif
}

void render_equirect_views(const Choice& b, std::span<const ImageRef> images, std::span<const ViewRequest> views) {
  if (b.kind == Kind::cpu) return geoshard::render_equirect_views(images, views);
#ifdef GEOSHARD_WITH_CUDA
  cuda::render_equirect_views_cuda(images, views);
#else
  no_cuda_in_build();
#endif
}

void render_camera_views(const Choice& b, std::span<const ImageRef> images, std::span<const CameraViewRequest> views) {
  if (b.kind == Kind::cpu) return geoshard::render_camera_views(images, views);
#ifdef GEOSHARD_WITH_CUDA
  cuda::render_camera_views_cuda(images, views);
#else
  no_cuda_in_build();
#endif
}

uint64_t blur_regions(const Choice& b, std::span<const ImageBuffer> images, std::span<const double> u,
                      std::span<const double> v, std::span<const RegionRequest> regions, const RegionBlurOptions& opt) {
  if (b.kind == Kind::cpu) return geoshard::blur_regions(images, u, v, regions, opt);
#ifdef GEOSHARD_WITH_CUDA
  return cuda::blur_regions_cuda(images, u, v, regions, opt);
#else
  no_cuda_in_build();
#endif
}

}  // namespace geoshard::backend
