// Microbenchmarks of the kernels' CPU batch loops and the segment walk (one thread).
//   ./kernels_bench --benchmark_filter=Zkey
// Items/s are points (zkey, pip) or segments (walk); the walk also reports pieces/s.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/batch.h"
#include "kernels/segment_walk.h"
#include "tests/kernels/test_util.h"

namespace geoshard {
namespace {

void BM_ZkeyBatch(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::mt19937_64 rng(1);
  std::vector<double> lon(n), lat(n);
  for (size_t i = 0; i < n; ++i) lon[i] = testing::uniform(rng, -180, 180), lat[i] = testing::uniform(rng, -90, 90);
  std::vector<uint64_t> out(n);
  for (auto _ : state) {
    zkey_batch(lon, lat, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_ZkeyBatch)->Arg(1 << 20);

// Road-like segments (10 m .. 1 km) walked through precision-p cells.
void BM_SegmentWalk(benchmark::State& state) {
  const int p = static_cast<int>(state.range(0));
  std::mt19937_64 rng(2);
  const size_t n = 1 << 16;
  std::vector<double> seg(4 * n);
  for (size_t i = 0; i < n; ++i) {
    const double x = testing::uniform(rng, -170, 170), y = testing::uniform(rng, -60, 60);
    const double len = std::pow(10.0, testing::uniform(rng, -4.0, -2.0)), a = testing::uniform(rng, 0, 2 * M_PI);
    seg[4 * i] = x, seg[4 * i + 1] = y, seg[4 * i + 2] = x + len * std::cos(a), seg[4 * i + 3] = y + len * std::sin(a);
  }
  int64_t pieces = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) {
      SegmentWalker w(seg[4 * i], seg[4 * i + 1], seg[4 * i + 2], seg[4 * i + 3], p);
      for (Piece pc; w.next(pc);) {
        benchmark::DoNotOptimize(pc);
        ++pieces;
      }
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.counters["pieces/s"] = benchmark::Counter(static_cast<double>(pieces), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SegmentWalk)->Arg(6)->Arg(7)->Arg(8);

void BM_PipBatch(benchmark::State& state) {
  const auto pc = testing::make_pip_cases(3, 200, 1000);
  std::vector<PipResult> out(pc.lon.size());
  for (auto _ : state) {
    pip_batch(pc.view(), pc.lon, pc.lat, pc.poly_of_point, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_PipBatch);

}  // namespace
}  // namespace geoshard

BENCHMARK_MAIN();
