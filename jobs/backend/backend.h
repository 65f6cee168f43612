// The compute backend of a job: the CPU batch loops of kernels/batch.h, or their CUDA versions
// (cuda/batch_cuda.h). Every job takes --backend auto|cpu|cuda (apps/geoshard.cpp), resolves it
// once with resolve(), logs the choice, writes it into its run record (key "backend") and runs
// its batches through the dispatchers below.
//
//   auto  the GPU when this binary was built with CUDA (nvcc found at build time) and a device
//         is usable, else the CPU; the reason says which and why (e.g. the CUDA runtime's
//         "cudaErrorNoDevice"), so a CUDA-built binary on a node without a driver runs on the CPU;
//   cpu   always the CPU;
//   cuda  the GPU, or a clear error (std::runtime_error) before any work when there is none.
//
// Results do not depend on the backend: the CUDA kernels call the same GEOSHARD_HD element
// functions and round like the host (--fmad=false), so outputs are identical bit for bit.
//
// Thread-safety: choose() and parse_request() are pure; resolve() queries the CUDA runtime.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "kernels/batch.h"

namespace geoshard::backend {

enum class Kind { cpu, cuda };
enum class Request { automatic, cpu, cuda };

// "auto" | "cpu" | "cuda"; anything else throws std::invalid_argument naming the value.
Request parse_request(std::string_view text);

struct Choice {
  Kind kind = Kind::cpu;
  std::string reason;  // one line for the log and the run record
  const char* name() const { return kind == Kind::cuda ? "cuda" : "cpu"; }
};

// The decision alone, from what the build and the machine offer (devices: usable CUDA devices;
// device_status: the runtime's explanation when there are none). Throws std::runtime_error for
// Request::cuda when the build has no CUDA or there is no device.
Choice choose(Request request, bool built_with_cuda, int devices, const std::string& device_status);

// Whether this binary contains the CUDA backend (nvcc was found when it was built).
bool built_with_cuda();

// choose() on this binary and this machine.
Choice resolve(Request request);

// Batch dispatchers: the kernels/batch.h function on Kind::cpu, its cuda/ version on Kind::cuda
// (same arguments, same results, same argument errors).
void zkey_batch(const Choice& b, std::span<const double> lon, std::span<const double> lat, std::span<uint64_t> out);
void pip_batch(const Choice& b, const PolygonSet& polys, std::span<const double> lon, std::span<const double> lat,
               std::span<const uint32_t> poly_of_point, std::span<PipResult> out);
void cut_batch(const Choice& b, const CutSet& set, std::span<EdgeCut> out);
void render_equirect_views(const Choice& b, std::span<const ImageRef> images, std::span<const ViewRequest> views);
void render_camera_views(const Choice& b, std::span<const ImageRef> images, std::span<const CameraViewRequest> views);
uint64_t blur_regions(const Choice& b, std::span<const ImageBuffer> images, std::span<const double> u,
                      std::span<const double> v, std::span<const RegionRequest> regions, const RegionBlurOptions& opt);

}  // namespace geoshard::backend
