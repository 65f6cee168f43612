// GPU versions of the CPU batch loops of kernels/batch.h: same arguments, same results bit for
// bit (the kernels call the very GEOSHARD_HD element functions, and the CUDA code is built with
// --fmad=false so device arithmetic rounds like the host's).
//
// Each call is synchronous and self-contained: it copies the inputs to device memory, launches,
// copies the outputs back and frees the device memory (RAII), so it can be dropped in wherever
// the CPU function is called. Open MPI here is not CUDA-aware, which is why buffers are host
// memory on both sides of the call. Inside a call: device buffers come from the device's
// default memory pool (cudaMallocAsync; the pool keeps freed memory for the next call), photos
// and views are staged through page-locked host buffers kept per host thread, and the views of
// a batch render on two streams so one chunk's copy back overlaps the next chunk's kernels.
//
// Errors: the same argument validation as the CPU version (validate_pip_batch, throws
// std::invalid_argument / std::out_of_range); any CUDA error, including "no device", throws
// std::runtime_error with the CUDA error string. Check device_count() > 0 first to choose the
// backend. An empty batch returns at once without touching the device.
//
// Thread-safety: calls use the current device and the default stream; concurrent calls from
// several host threads are safe but serialise on the device.
//
// This header is plain C++ (no CUDA headers), so host code compiled by g++ can include it.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "kernels/batch.h"

namespace geoshard::cuda {

// Number of usable CUDA devices; 0 when the runtime reports an error (e.g. no driver:
// cudaErrorInsufficientDriver, or cudaErrorNoDevice). Never throws.
int device_count();

// Why there is no usable device, for logs and skip messages: e.g.
// "cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version";
// "" when device_count() > 0. Never throws.
std::string device_status();

// GPU pip_batch: out[i] = point_in_rings(polygon poly_of_point[i], lon[i], lat[i]).
// `polys` points to HOST memory (the whole CSR set is copied; its sizes come from the offsets).
void pip_batch_cuda(const PolygonSet& polys, std::span<const double> lon, std::span<const double> lat,
                    std::span<const uint32_t> poly_of_point, std::span<PipResult> out);

// GPU cut_batch: out[e] = cut_element(set, e), a thread per edge. `set` points to HOST memory
// (copied whole). Same argument errors as the CPU version (validate_cut_batch).
void cut_batch_cuda(const CutSet& set, std::span<EdgeCut> out);

// GPU zkey_batch: out[i] = geohash::zkey(lon[i], lat[i]).
void zkey_batch_cuda(std::span<const double> lon, std::span<const double> lat, std::span<uint64_t> out);

// GPU render_equirect_views: every view of every image of the batch in two launches -- one
// for all interpolated tiles (a block per tile, view_tile_pixel_element per pixel), one for all
// exact pixels (sample_bilinear_fixed) -- after plan_equirect_view of each view on the host
// (the same tile walk as the CPU, so the same bytes). Each image the requests use is copied to
// the device once; outputs come back into the requests' buffers (their strides respected, bytes
// past view.width * channels in a row untouched). Same argument errors as the CPU version
// (validate_views_batch), raised before any device work.
void render_equirect_views_cuda(std::span<const ImageRef> images, std::span<const ViewRequest> views);

// GPU render_camera_views: every pixel of every view in one launch (blockIdx.y = view),
// camera_view_pixel_element with the view's frame computed on the host (projection::view_frame,
// as the CPU loop does). Same argument errors as the CPU version (validate_camera_views_batch).
void render_camera_views_cuda(std::span<const ImageRef> images, std::span<const CameraViewRequest> views);

// GPU blur_regions: many regions of many images, edited in place, with the bytes and count of
// blurring them in order. The host plans every region (plan_region) and groups them in waves
// (region_waves); per wave, all its regions in a handful of launches: the gaussian copies every
// window, runs six box passes (blur::box_element per element) and writes the covered pixels;
// pixelate computes every cell's mean (blur::cell_mean) and writes; solid writes. Each image
// the regions use is copied to the device once and back at the end. The CPU runs the same
// algorithm in blur_regions_in_waves (tests/kernels/blur_test). Same argument errors as the CPU
// version (validate_regions_batch), before any device work.
uint64_t blur_regions_cuda(std::span<const ImageBuffer> images, std::span<const double> u, std::span<const double> v,
                           std::span<const RegionRequest> regions, const RegionBlurOptions& opt);

}  // namespace geoshard::cuda
