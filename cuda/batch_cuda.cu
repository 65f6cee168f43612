// GPU batch loops (batch_cuda.h).
#include "cuda/batch_cuda.h"

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace geoshard::cuda {

namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("geoshard cuda: ") + what + ": " + cudaGetErrorName(err) + ": " +
                             cudaGetErrorString(err));
}

// Owns one device allocation; freed on every path, including exceptions.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t n) : n_(n) {
    if (n_ > 0) check(cudaMalloc(reinterpret_cast<void**>(&ptr_), n_ * sizeof(T)), "cudaMalloc");
  }
  DeviceBuffer(DeviceBuffer&& other) noexcept : n_(other.n_), ptr_(other.ptr_) { other.ptr_ = nullptr; }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  void upload(const T* host) {
    if (n_ > 0) check(cudaMemcpy(ptr_, host, n_ * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy to device");
  }
  void download(T* host) const {
    if (n_ > 0) check(cudaMemcpy(host, ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy to host");
  }
  T* get() const { return ptr_; }

 private:
  size_t n_;
  T* ptr_ = nullptr;
};

template <typename T>
DeviceBuffer<T> to_device(const T* host, size_t n) {
  DeviceBuffer<T> buf(n);
  buf.upload(host);
  return buf;
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

}  // namespace geoshard::cuda
