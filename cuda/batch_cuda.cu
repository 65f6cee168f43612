// GPU batch loops (batch_cuda.h).
#include "cuda/batch_cuda.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace geoshard::cuda {

namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("geoshard cuda: ") + what + ": " + cudaGetErrorName(err) + ": " +
                             cudaGetErrorString(err));
}

// A stream of one batch call (non-blocking with respect to the legacy default stream).
// Declared before the call's device buffers, so it is destroyed after their stream-ordered frees.
class Stream {
 public:
  Stream() { check(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreate"); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() {
    if (s_ != nullptr) cudaStreamDestroy(s_);
  }
  cudaStream_t get() const { return s_; }
  void sync() const { check(cudaStreamSynchronize(s_), "cudaStreamSynchronize"); }

 private:
  cudaStream_t s_ = nullptr;
};

// The device memory pool: buffers come from the device's default pool (cudaMallocAsync) and go
// back to it (cudaFreeAsync); with the release threshold raised once per process, the pool keeps
// what a batch freed for the next batch instead of returning it to the driver.
void keep_pool_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    int dev = 0;
    cudaMemPool_t pool;
    if (cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetDefaultMemPool(&pool, dev) == cudaSuccess) {
      uint64_t keep = UINT64_MAX;
      cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
    }
    cudaGetLastError();  // a device without pools: plain behaviour, no sticky error
  });
}

// Owns one device allocation from the pool, ordered on `stream`; freed on every path, including
// exceptions.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n, cudaStream_t stream = nullptr) : n_(n), stream_(stream) {
    if (n_ > 0) check(cudaMallocAsync(reinterpret_cast<void**>(&ptr_), n_ * sizeof(T), stream_), "cudaMallocAsync");
  }
  DeviceBuffer(DeviceBuffer&& other) noexcept : n_(other.n_), stream_(other.stream_), ptr_(other.ptr_) {
    other.ptr_ = nullptr;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFreeAsync(ptr_, stream_);
  }
  // Copies on the buffer's stream; synchronous ones wait for the stream first.
  void upload(const T* host) {
    if (n_ == 0) return;
    check(cudaMemcpyAsync(ptr_, host, n_ * sizeof(T), cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync to device");
    check(cudaStreamSynchronize(stream_), "cudaMemcpy to device");
  }
  void upload_async(const T* host) {  // host: pinned (or kept alive until the stream has run)
    if (n_ > 0)
      check(cudaMemcpyAsync(ptr_, host, n_ * sizeof(T), cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync to device");
  }
  void download(T* host) const {
    if (n_ == 0) return;
    check(cudaMemcpyAsync(host, ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync to host");
    check(cudaStreamSynchronize(stream_), "cudaMemcpy to host");
  }
  T* get() const { return ptr_; }

 private:
  size_t n_;
  cudaStream_t stream_;
  T* ptr_ = nullptr;
};

template <typename T>
DeviceBuffer<T> to_device(const T* host, size_t n, cudaStream_t stream = nullptr) {
  DeviceBuffer<T> buf(n, stream);
  buf.upload(host);
  return buf;
}

// Page-locked host memory for the staging of photos and views (copies from it run
// asynchronously and at full bus speed). One growing buffer per slot and host thread, kept for
// the next call: pinning is costly.
class Pinned {
 public:
  Pinned() = default;
  Pinned(const Pinned&) = delete;
  Pinned& operator=(const Pinned&) = delete;
  ~Pinned() {
    if (ptr_ != nullptr) cudaFreeHost(ptr_);
  }
  uint8_t* get(size_t bytes) {
    if (bytes > size_) {
      if (ptr_ != nullptr) check(cudaFreeHost(ptr_), "cudaFreeHost");
      ptr_ = nullptr, size_ = 0;
      check(cudaMallocHost(reinterpret_cast<void**>(&ptr_), bytes), "cudaMallocHost");
      size_ = bytes;
    }
    return ptr_;
  }

 private:
  uint8_t* ptr_ = nullptr;
  size_t size_ = 0;
};
uint8_t* pinned(int slot, size_t bytes) {
  thread_local Pinned buffers[2];
  return buffers[slot].get(bytes);
}

// Records an event on `from` and makes `to` wait for it.
void stream_wait(cudaStream_t to, cudaStream_t from) {
  cudaEvent_t e;
  check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
  cudaError_t err = cudaEventRecord(e, from);
  if (err == cudaSuccess) err = cudaStreamWaitEvent(to, e, 0);
  cudaEventDestroy(e);  // released once the wait is satisfied
  check(err, "cudaStreamWaitEvent");
}

constexpr int kBlock = 256;

int grid_for(uint64_t n) {
  // Grid-stride loops below, so the grid can be capped.
  const uint64_t blocks = (n + kBlock - 1) / kBlock;
  return static_cast<int>(blocks < 65535 ? blocks : 65535);
}

void require_device() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("no CUDA device: ") + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
  if (n == 0) throw std::runtime_error("no CUDA device: cudaGetDeviceCount returned 0");
  keep_pool_memory();
}

__global__ void cut_kernel(CutSet set, EdgeCut* out) {
  const uint64_t e = static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e < set.n_edges) out[e] = cut_element(set, e);
}

__global__ void pip_kernel(PolygonSet polys, const double* lon, const double* lat, const uint32_t* poly_of_point,
                           PipResult* out, uint64_t n) {
  for (uint64_t i = blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<uint64_t>(gridDim.x) * blockDim.x)
    out[i] = pip_element(polys, poly_of_point[i], lon[i], lat[i]);
}

__global__ void zkey_kernel(const double* lon, const double* lat, uint64_t* out, uint64_t n) {
  for (uint64_t i = blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<uint64_t>(gridDim.x) * blockDim.x)
    out[i] = geohash::zkey(lon[i], lat[i]);
}

// The batch of render_equirect_views_cuda, flattened for the device.
struct DeviceImage {
  uint64_t offset;  // into the concatenated image buffer
  int width, height, channels;
  int64_t stride;
};
// The photos a batch uses, packed (rows of width * channels bytes, no padding) into the pinned
// staging buffer of slot 0: slot[i] is photo i's index in meta, -1 when no request uses it.
struct PackedImages {
  std::vector<int64_t> slot;
  std::vector<DeviceImage> meta;
  uint64_t bytes = 0;
  uint8_t* host = nullptr;

  explicit PackedImages(size_t n_images) : slot(n_images, -1) {}
  // Photo i is used (once is enough; later calls do nothing).
  template <class Image>
  void use(const Image& im, uint32_t i) {
    if (slot[i] >= 0) return;
    slot[i] = static_cast<int64_t>(meta.size());
    const int64_t row = static_cast<int64_t>(im.width) * im.channels;
    meta.push_back(DeviceImage{bytes, im.width, im.height, im.channels, row});
    bytes += static_cast<uint64_t>(row) * im.height;
  }
  // Copies the used photos into the staging buffer (after every use()).
  template <class Image>
  void pack(std::span<const Image> images) {
    host = pinned(0, bytes);
    for_rows(images, [](uint8_t* packed, const uint8_t* caller, size_t n) { std::memcpy(packed, caller, n); });
  }
  // Copies the staging buffer back into the callers' photos.
  void unpack(std::span<const ImageBuffer> images) const {
    for_rows(images, [](uint8_t* packed, uint8_t* caller, size_t n) { std::memcpy(caller, packed, n); });
  }
  uint32_t operator[](uint32_t i) const { return static_cast<uint32_t>(slot[i]); }

 private:
  template <class Image, class Copy>
  void for_rows(std::span<const Image> images, Copy copy) const {
    for (size_t i = 0; i < images.size(); ++i) {
      if (slot[i] < 0) continue;
      const DeviceImage& m = meta[slot[i]];
      for (int y = 0; y < m.height; ++y)
        copy(host + m.offset + static_cast<uint64_t>(y) * m.stride, images[i].pixels + y * images[i].stride,
             static_cast<size_t>(m.stride));
    }
  }
};

struct DeviceView {
  uint32_t image;
  uint64_t out_offset;  // into the packed output buffer (rows of width * channels bytes)
  int64_t out_stride;
};
struct DeviceTile {
  PlannedTile planned;
  uint32_t view;
};
struct DeviceExact {
  ExactPixel pixel;
  uint32_t view;
};

// One block per tile (grid-stride over tiles); the block's threads cover the tile's pixels.
__global__ void view_tiles_kernel(const uint8_t* images, const DeviceImage* image_meta, const DeviceView* view_meta,
                                  const DeviceTile* tiles, uint64_t n_tiles, uint8_t* out) {
  for (uint64_t t = blockIdx.x; t < n_tiles; t += gridDim.x) {
    const DeviceTile dt = tiles[t];
    const DeviceView vm = view_meta[dt.view];
    const DeviceImage im = image_meta[vm.image];
    const int n = dt.planned.cols * dt.planned.rows;
    for (int p = threadIdx.x; p < n; p += blockDim.x) {
      const int a = p % dt.planned.cols, b = p / dt.planned.cols;
      uint8_t* o = out + vm.out_offset + (dt.planned.tile.y0 + b) * vm.out_stride +
                   static_cast<int64_t>(dt.planned.tile.x0 + a) * im.channels;
      view_tile_pixel_element(images + im.offset, im.width, im.height, im.channels, im.stride, dt.planned.tile, a, b, o);
    }
  }
}

__global__ void view_exact_pixels_kernel(const uint8_t* images, const DeviceImage* image_meta,
                                         const DeviceView* view_meta, const DeviceExact* exact, uint64_t n,
                                         uint8_t* out) {
  for (uint64_t i = blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<uint64_t>(gridDim.x) * blockDim.x) {
    const DeviceExact e = exact[i];
    const DeviceView vm = view_meta[e.view];
    const DeviceImage im = image_meta[vm.image];
    uint8_t* o = out + vm.out_offset + e.pixel.y * vm.out_stride + static_cast<int64_t>(e.pixel.x) * im.channels;
    projection::sample_bilinear_fixed(images + im.offset, im.width, im.height, im.channels, im.stride, e.pixel.qu,
                                      e.pixel.qv, o);
  }
}

// One view of render_camera_views_cuda.
struct DeviceCameraView {
  uint32_t image;
  projection::Camera cam;
  projection::ViewFrame frame;
  int width, height;
  uint64_t out_offset;
  int64_t out_stride;
};

__global__ void camera_views_kernel(const uint8_t* images, const DeviceImage* image_meta, const DeviceCameraView* views,
                                    uint8_t* out) {
  const DeviceCameraView w = views[blockIdx.y];
  const DeviceImage im = image_meta[w.image];
  const uint64_t n = static_cast<uint64_t>(w.width) * w.height;
  for (uint64_t i = blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<uint64_t>(gridDim.x) * blockDim.x) {
    const int x = static_cast<int>(i % w.width), y = static_cast<int>(i / w.width);
    camera_view_pixel_element(images + im.offset, w.cam, im.channels, im.stride, w.frame, x, y,
                              out + w.out_offset + y * w.out_stride + static_cast<int64_t>(x) * im.channels);
  }
}

// One region of a wave of blur_regions_cuda.
struct DeviceRegion {
  uint32_t image;      // slot in the packed image buffer's metadata
  uint32_t first;      // vertices u/v[first, first + n)
  int n;
  RegionPlan plan;
  uint64_t scratch;    // gaussian: offset of its window in the scratch buffers; pixelate: of its cell means
};

// The grids below: blockIdx.y picks the region (regions[base + blockIdx.y]), blockIdx.x and the
// threads stride over that region's elements.
__device__ inline uint64_t region_thread() { return blockIdx.x * static_cast<uint64_t>(blockDim.x) + threadIdx.x; }
__device__ inline uint64_t region_threads() { return static_cast<uint64_t>(gridDim.x) * blockDim.x; }

__global__ void copy_windows_kernel(const uint8_t* images, const DeviceImage* image_meta, const DeviceRegion* regions,
                                    uint32_t base, uint8_t* a) {
  const DeviceRegion r = regions[base + blockIdx.y];
  const DeviceImage im = image_meta[r.image];
  const int ww = r.plan.wx1 - r.plan.wx0 + 1, wh = r.plan.wy1 - r.plan.wy0 + 1;
  const uint64_t row = static_cast<uint64_t>(ww) * im.channels, n = row * wh;
  for (uint64_t i = region_thread(); i < n; i += region_threads()) {
    const uint64_t y = i / row, x = i % row;
    a[r.scratch + i] = images[im.offset + (r.plan.wy0 + y) * im.stride + static_cast<uint64_t>(r.plan.wx0) * im.channels + x];
  }
}

__global__ void box_pass_kernel(const DeviceImage* image_meta, const DeviceRegion* regions, uint32_t base, int axis,
                                int pass, const uint8_t* a, uint8_t* b) {
  const DeviceRegion r = regions[base + blockIdx.y];
  const int channels = image_meta[r.image].channels;
  const int ww = r.plan.wx1 - r.plan.wx0 + 1, wh = r.plan.wy1 - r.plan.wy0 + 1;
  const uint64_t n = static_cast<uint64_t>(ww) * wh * channels;
  for (uint64_t i = region_thread(); i < n; i += region_threads()) {
    const uint64_t px = i / channels;
    const int x = static_cast<int>(px % ww), y = static_cast<int>(px / ww);
    b[r.scratch + i] = axis == 0 ? blur::box_element(a + r.scratch + i, channels, x, r.plan.r[pass], 0, ww - 1)
                                 : blur::box_element(a + r.scratch + i, static_cast<int64_t>(ww) * channels, y,
                                                     r.plan.r[pass], 0, wh - 1);
  }
}

__global__ void cell_means_kernel(const uint8_t* images, const DeviceImage* image_meta, const DeviceRegion* regions,
                                  uint32_t base, uint8_t* means) {
  const DeviceRegion r = regions[base + blockIdx.y];
  const DeviceImage im = image_meta[r.image];
  const int cell = r.plan.cell, ncx = (r.plan.x1 - r.plan.x0) / cell + 1, ncy = (r.plan.y1 - r.plan.y0) / cell + 1;
  const uint64_t n = static_cast<uint64_t>(ncx) * ncy * im.channels;
  for (uint64_t i = region_thread(); i < n; i += region_threads()) {
    const int c = static_cast<int>(i % im.channels), k = static_cast<int>(i / im.channels);
    const int cx = r.plan.x0 + (k % ncx) * cell, cy = r.plan.y0 + (k / ncx) * cell;
    const int ex = cx + cell - 1 < r.plan.x1 ? cx + cell - 1 : r.plan.x1;
    const int ey = cy + cell - 1 < r.plan.y1 ? cy + cell - 1 : r.plan.y1;
    means[r.scratch + i] = blur::cell_mean(images + im.offset, im.stride, im.channels, c, cx, cy, ex, ey);
  }
}

// The covered pixels of each region get their value: solid, the cell mean, or the blurred window.
__global__ void write_regions_kernel(uint8_t* images, const DeviceImage* image_meta, const DeviceRegion* regions,
                                     uint32_t base, const double* u, const double* v, RegionBlurOptions opt,
                                     const uint8_t* values, unsigned long long* written) {
  const DeviceRegion r = regions[base + blockIdx.y];
  const DeviceImage im = image_meta[r.image];
  const RegionPlan& p = r.plan;
  const int bw = p.x1 - p.x0 + 1, bh = p.y1 - p.y0 + 1, ww = p.wx1 - p.wx0 + 1;
  const int ncx = p.cell > 0 ? (p.x1 - p.x0) / p.cell + 1 : 1;
  const uint64_t n = static_cast<uint64_t>(bw) * bh;
  unsigned long long count = 0;
  for (uint64_t i = region_thread(); i < n; i += region_threads()) {
    const int x = p.x0 + static_cast<int>(i % bw), y = p.y0 + static_cast<int>(i / bw);
    if (!blur::covers(u + r.first, v + r.first, r.n, x, y)) continue;
    uint8_t* q = images + im.offset + y * im.stride + static_cast<int64_t>(x) * im.channels;
    for (int c = 0; c < im.channels; ++c) {
      if (opt.mode == blur::Mode::kSolid) {
        q[c] = opt.solid[c];
      } else if (opt.mode == blur::Mode::kPixelate) {
        const int k = ((y - p.y0) / p.cell) * ncx + (x - p.x0) / p.cell;
        q[c] = values[r.scratch + static_cast<uint64_t>(k) * im.channels + c];
      } else {
        q[c] = values[r.scratch + (static_cast<uint64_t>(y - p.wy0) * ww + (x - p.wx0)) * im.channels + c];
      }
    }
    ++count;
  }
  if (count > 0) atomicAdd(written, count);
}

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // reset the runtime's last-error state so later checks start clean
    return 0;
  }
  return n;
}

std::string device_status() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
  }
  return n == 0 ? std::string("cudaGetDeviceCount returned 0 devices") : std::string();
}

void pip_batch_cuda(const PolygonSet& polys, std::span<const double> lon, std::span<const double> lat,
                    std::span<const uint32_t> poly_of_point, std::span<PipResult> out) {
  validate_pip_batch(polys, lon, lat, poly_of_point, out);
  const uint64_t n = lon.size();
  if (n == 0) return;
  require_device();

  const uint64_t n_rings = polys.n_rings(), n_vertices = polys.n_vertices();
  auto d_vlon = to_device(polys.lon, n_vertices);
  auto d_vlat = to_device(polys.lat, n_vertices);
  auto d_ring_off = to_device(polys.ring_offsets, n_rings + 1);
  auto d_poly_off = to_device(polys.poly_ring_offsets, polys.n_polys + 1);
  auto d_lon = to_device(lon.data(), n);
  auto d_lat = to_device(lat.data(), n);
  auto d_poly = to_device(poly_of_point.data(), n);
  DeviceBuffer<PipResult> d_out(n);

  const PolygonSet d_polys{d_vlon.get(), d_vlat.get(), d_ring_off.get(), d_poly_off.get(), polys.n_polys};
  pip_kernel<<<grid_for(n), kBlock>>>(d_polys, d_lon.get(), d_lat.get(), d_poly.get(), d_out.get(), n);
  check(cudaGetLastError(), "pip_kernel launch");
  check(cudaDeviceSynchronize(), "pip_kernel");
  d_out.download(out.data());
}

void cut_batch_cuda(const CutSet& set, std::span<EdgeCut> out) {
  validate_cut_batch(set, out);
  const uint64_t n = set.n_edges, m = set.n_segments;
  if (n == 0) return;
  require_device();
  auto d_ax = to_device(set.ax, m), d_ay = to_device(set.ay, m), d_bx = to_device(set.bx, m),
       d_by = to_device(set.by, m), d_t0 = to_device(set.t0, m), d_t1 = to_device(set.t1, m);
  auto d_ux = to_device(set.ux, n), d_uy = to_device(set.uy, n), d_vx = to_device(set.vx, n),
       d_vy = to_device(set.vy, n);
  auto d_seg = to_device(set.segment_of_edge, n);
  DeviceBuffer<EdgeCut> d_out(n);
  const CutSet d_set{d_ax.get(), d_ay.get(), d_bx.get(), d_by.get(), d_t0.get(), d_t1.get(), m,
                     d_ux.get(), d_uy.get(), d_vx.get(), d_vy.get(), d_seg.get(), n};
  cut_kernel<<<grid_for(n), kBlock>>>(d_set, d_out.get());
  check(cudaGetLastError(), "cut_kernel launch");
  check(cudaDeviceSynchronize(), "cut_kernel");
  d_out.download(out.data());
}

void zkey_batch_cuda(std::span<const double> lon, std::span<const double> lat, std::span<uint64_t> out) {
  if (lat.size() != lon.size() || out.size() != lon.size())
    throw std::invalid_argument("zkey_batch_cuda: lon, lat and out must have the same size");
  const uint64_t n = lon.size();
  if (n == 0) return;
  require_device();
  auto d_lon = to_device(lon.data(), n);
  auto d_lat = to_device(lat.data(), n);
  DeviceBuffer<uint64_t> d_out(n);
  zkey_kernel<<<grid_for(n), kBlock>>>(d_lon.get(), d_lat.get(), d_out.get(), n);
  check(cudaGetLastError(), "zkey_kernel launch");
  check(cudaDeviceSynchronize(), "zkey_kernel");
  d_out.download(out.data());
}

void render_equirect_views_cuda(std::span<const ImageRef> images, std::span<const ViewRequest> views) {
  validate_views_batch(images, views);
  if (views.empty()) return;
  require_device();

  PackedImages packed(images.size());
  for (const ViewRequest& r : views) packed.use(images[r.image], r.image);
  packed.pack(images);

  // The plans (host: the same tile walk as the CPU renderer), flattened in view order, with the
  // boundaries of each chunk of kChunk views (the unit of the copy/compute overlap).
  constexpr size_t kChunk = 2;
  std::vector<DeviceView> view_meta;
  std::vector<DeviceTile> tiles;
  std::vector<DeviceExact> exact;
  std::vector<size_t> chunk_tiles{0}, chunk_exact{0};
  std::vector<uint64_t> chunk_out{0};
  uint64_t out_bytes = 0;
  for (size_t k = 0; k < views.size(); ++k) {
    const ViewRequest& r = views[k];
    const DeviceImage& m = packed.meta[packed[r.image]];
    const int64_t row = static_cast<int64_t>(r.view.width) * m.channels;
    view_meta.push_back(DeviceView{packed[r.image], out_bytes, row});
    out_bytes += static_cast<uint64_t>(row) * r.view.height;
    const ViewPlan plan = plan_equirect_view(m.width, m.height, r.view);
    for (const PlannedTile& t : plan.tiles) tiles.push_back(DeviceTile{t, static_cast<uint32_t>(k)});
    for (const ExactPixel& e : plan.exact) exact.push_back(DeviceExact{e, static_cast<uint32_t>(k)});
    if ((k + 1) % kChunk == 0 || k + 1 == views.size()) {
      chunk_tiles.push_back(tiles.size());
      chunk_exact.push_back(exact.size());
      chunk_out.push_back(out_bytes);
    }
  }
  uint8_t* host_out = pinned(1, out_bytes);

  // Two streams: the inputs go up on the first; then chunk c renders and comes back on stream
  // c % 2, so one chunk's copy to the host overlaps the next chunk's kernels.
  Stream s0, s1;
  const cudaStream_t streams[2] = {s0.get(), s1.get()};
  DeviceBuffer<uint8_t> d_images(packed.bytes, s0.get());
  DeviceBuffer<DeviceImage> d_image_meta(packed.meta.size(), s0.get());
  DeviceBuffer<DeviceView> d_view_meta(view_meta.size(), s0.get());
  DeviceBuffer<DeviceTile> d_tiles(tiles.size(), s0.get());
  DeviceBuffer<DeviceExact> d_exact(exact.size(), s0.get());
  DeviceBuffer<uint8_t> d_out(out_bytes, s0.get());
  d_images.upload_async(packed.host);
  d_image_meta.upload_async(packed.meta.data());  // (pageable: staged by the driver before returning)
  d_view_meta.upload_async(view_meta.data());
  d_tiles.upload_async(tiles.data());
  d_exact.upload_async(exact.data());
  stream_wait(s1.get(), s0.get());
  for (size_t c = 0; c + 1 < chunk_out.size(); ++c) {
    const cudaStream_t st = streams[c % 2];
    const uint64_t nt = chunk_tiles[c + 1] - chunk_tiles[c], ne = chunk_exact[c + 1] - chunk_exact[c];
    if (nt > 0) {
      view_tiles_kernel<<<static_cast<int>(nt < 65535 ? nt : 65535), kBlock, 0, st>>>(
          d_images.get(), d_image_meta.get(), d_view_meta.get(), d_tiles.get() + chunk_tiles[c], nt, d_out.get());
      check(cudaGetLastError(), "view_tiles_kernel launch");
    }
    if (ne > 0) {
      view_exact_pixels_kernel<<<grid_for(ne), kBlock, 0, st>>>(d_images.get(), d_image_meta.get(), d_view_meta.get(),
                                                                d_exact.get() + chunk_exact[c], ne, d_out.get());
      check(cudaGetLastError(), "view_exact_pixels_kernel launch");
    }
    check(cudaMemcpyAsync(host_out + chunk_out[c], d_out.get() + chunk_out[c], chunk_out[c + 1] - chunk_out[c],
                          cudaMemcpyDeviceToHost, st),
          "cudaMemcpyAsync views to host");
  }
  stream_wait(s0.get(), s1.get());  // the buffers are freed on s0: after s1's work too
  s0.sync();
  for (size_t k = 0; k < views.size(); ++k) {
    const ViewRequest& r = views[k];
    const DeviceView& vm = view_meta[k];
    for (int y = 0; y < r.view.height; ++y)
      std::memcpy(r.out + y * r.out_stride, host_out + vm.out_offset + static_cast<uint64_t>(y) * vm.out_stride,
                  static_cast<size_t>(vm.out_stride));
  }
}

void render_camera_views_cuda(std::span<const ImageRef> images, std::span<const CameraViewRequest> views) {
  validate_camera_views_batch(images, views);
  if (views.empty()) return;
  require_device();
  PackedImages packed(images.size());
  for (const CameraViewRequest& r : views) packed.use(images[r.image], r.image);
  packed.pack(images);
  std::vector<DeviceCameraView> meta;
  uint64_t out_bytes = 0, largest = 0;
  for (const CameraViewRequest& r : views) {
    const int channels = images[r.image].channels;
    const int64_t row = static_cast<int64_t>(r.view.width) * channels;
    meta.push_back(DeviceCameraView{packed[r.image], r.cam, projection::view_frame(r.view), r.view.width,
                                    r.view.height, out_bytes, row});
    out_bytes += static_cast<uint64_t>(row) * r.view.height;
    largest = std::max<uint64_t>(largest, static_cast<uint64_t>(r.view.width) * r.view.height);
  }
  uint8_t* host_out = pinned(1, out_bytes);
  Stream stream;
  const cudaStream_t st = stream.get();
  DeviceBuffer<uint8_t> d_images(packed.bytes, st), d_out(out_bytes, st);
  DeviceBuffer<DeviceImage> d_image_meta(packed.meta.size(), st);
  DeviceBuffer<DeviceCameraView> d_meta(meta.size(), st);
  d_images.upload_async(packed.host);
  d_image_meta.upload_async(packed.meta.data());
  d_meta.upload_async(meta.data());
  const unsigned chunks = static_cast<unsigned>(std::min<uint64_t>((largest + kBlock - 1) / kBlock, 1024));
  for (size_t base = 0; base < meta.size(); base += 65535) {
    const unsigned n = static_cast<unsigned>(std::min<size_t>(meta.size() - base, 65535));
    camera_views_kernel<<<dim3(chunks, n), kBlock, 0, st>>>(d_images.get(), d_image_meta.get(), d_meta.get() + base,
                                                           d_out.get());
    check(cudaGetLastError(), "camera_views_kernel launch");
  }
  check(cudaMemcpyAsync(host_out, d_out.get(), out_bytes, cudaMemcpyDeviceToHost, st), "cudaMemcpyAsync views to host");
  stream.sync();
  for (size_t k = 0; k < views.size(); ++k) {
    const CameraViewRequest& r = views[k];
    for (int y = 0; y < r.view.height; ++y)
      std::memcpy(r.out + y * r.out_stride, host_out + meta[k].out_offset + static_cast<uint64_t>(y) * meta[k].out_stride,
                  static_cast<size_t>(meta[k].out_stride));
  }
}

uint64_t blur_regions_cuda(std::span<const ImageBuffer> images, std::span<const double> u, std::span<const double> v,
                           std::span<const RegionRequest> regions, const RegionBlurOptions& opt) {
  validate_regions_batch(images, u, v, regions);
  if (regions.empty()) return 0;
  require_device();

  std::vector<RegionPlan> plans;
  for (const RegionRequest& r : regions) {
    const ImageBuffer& im = images[r.image];
    plans.push_back(plan_region(im.width, im.height, u.data() + r.first, v.data() + r.first, r.n, opt));
  }
  const std::vector<int> wave = region_waves(regions, plans);

  // The photos the regions touch (a region off its photo touches nothing).
  PackedImages packed(images.size());
  for (size_t k = 0; k < regions.size(); ++k)
    if (!plans[k].empty()) packed.use(images[regions[k].image], regions[k].image);
  if (packed.meta.empty()) return 0;
  packed.pack(images);
  // Everything in order on one stream (the waves depend on each other); buffers from the pool.
  Stream stream;
  const cudaStream_t st = stream.get();
  DeviceBuffer<uint8_t> d_images(packed.bytes, st);
  DeviceBuffer<DeviceImage> d_image_meta(packed.meta.size(), st);
  DeviceBuffer<double> d_u(u.size(), st), d_v(v.size(), st);
  DeviceBuffer<unsigned long long> d_written(1, st);
  d_images.upload_async(packed.host);
  d_image_meta.upload_async(packed.meta.data());  // (pageable: staged by the driver before returning)
  d_u.upload_async(u.data());
  d_v.upload_async(v.data());
  check(cudaMemsetAsync(d_written.get(), 0, sizeof(unsigned long long), st), "cudaMemsetAsync");

  const int waves = *std::max_element(wave.begin(), wave.end()) + 1;
  for (int w = 0; w < waves; ++w) {
    std::vector<DeviceRegion> in_wave;
    uint64_t scratch = 0, largest = 0;
    for (size_t k = 0; k < regions.size(); ++k) {
      const RegionPlan& p = plans[k];
      if (wave[k] != w || p.empty()) continue;
      const int channels = images[regions[k].image].channels;
      uint64_t bytes = 0;
      if (opt.mode == blur::Mode::kGaussian)
        bytes = static_cast<uint64_t>(p.wx1 - p.wx0 + 1) * (p.wy1 - p.wy0 + 1) * channels;
      else if (opt.mode == blur::Mode::kPixelate)
        bytes = static_cast<uint64_t>((p.x1 - p.x0) / p.cell + 1) * ((p.y1 - p.y0) / p.cell + 1) * channels;
      in_wave.push_back(DeviceRegion{packed[regions[k].image], regions[k].first, regions[k].n, p, scratch});
      scratch += bytes;
      const uint64_t box = static_cast<uint64_t>(p.wx1 - p.wx0 + 1) * (p.wy1 - p.wy0 + 1) * channels;
      largest = box > largest ? box : largest;
    }
    if (in_wave.empty()) continue;
    DeviceBuffer<DeviceRegion> d_regions(in_wave.size(), st);
    d_regions.upload_async(in_wave.data());
    DeviceBuffer<uint8_t> a(scratch, st), b(opt.mode == blur::Mode::kGaussian ? scratch : 0, st);
    const unsigned chunks = static_cast<unsigned>(std::min<uint64_t>((largest + kBlock - 1) / kBlock, 1024));
    for (size_t base = 0; base < in_wave.size(); base += 65535) {
      const dim3 grid(chunks, static_cast<unsigned>(std::min<size_t>(in_wave.size() - base, 65535)));
      const uint32_t b0 = static_cast<uint32_t>(base);
      const uint8_t* values = a.get();
      if (opt.mode == blur::Mode::kGaussian) {
        copy_windows_kernel<<<grid, kBlock, 0, st>>>(d_images.get(), d_image_meta.get(), d_regions.get(), b0, a.get());
        check(cudaGetLastError(), "copy_windows_kernel launch");
        uint8_t* from = a.get();
        uint8_t* to = b.get();
        for (int axis = 0; axis < 2; ++axis)
          for (int pass = 0; pass < 3; ++pass) {
            box_pass_kernel<<<grid, kBlock, 0, st>>>(d_image_meta.get(), d_regions.get(), b0, axis, pass, from, to);
            check(cudaGetLastError(), "box_pass_kernel launch");
            std::swap(from, to);
          }
        values = from;  // six passes: back in a
      } else if (opt.mode == blur::Mode::kPixelate) {
        cell_means_kernel<<<grid, kBlock, 0, st>>>(d_images.get(), d_image_meta.get(), d_regions.get(), b0, a.get());
        check(cudaGetLastError(), "cell_means_kernel launch");
      }
      write_regions_kernel<<<grid, kBlock, 0, st>>>(d_images.get(), d_image_meta.get(), d_regions.get(), b0, d_u.get(),
                                                    d_v.get(), opt, values, d_written.get());
      check(cudaGetLastError(), "write_regions_kernel launch");
    }
  }
  unsigned long long written = 0;
  d_written.download(&written);  // (waits for the stream: every wave done)
  d_images.download(packed.host);
  packed.unpack(images);
  return written;
}

}  // namespace geoshard::cuda
