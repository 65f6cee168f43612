#include "jobs/localise/box_grid.h"

#include <algorithm>
#include <cmath>

namespace geoshard::localise {

int BoxGrid::col(double x) const {
  const double c = std::floor((x - ox_) * sx_);
  return c <= 0 ? 0 : c >= nx_ - 1 ? nx_ - 1 : static_cast<int>(c);
}

int BoxGrid::row(double y) const {
  const double r = std::floor((y - oy_) * sy_);
  return r <= 0 ? 0 : r >= ny_ - 1 ? ny_ - 1 : static_cast<int>(r);
}

BoxGrid::BoxGrid(const std::vector<double>& min_x, const std::vector<double>& min_y, const std::vector<double>& max_x,
                 const std::vector<double>& max_y) {
  const size_t n = min_x.size();
  if (n == 0 || n >= UINT32_MAX || min_y.size() != n || max_x.size() != n || max_y.size() != n) return;
  double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY, sum = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!(std::isfinite(min_x[i]) && std::isfinite(min_y[i]) && std::isfinite(max_x[i]) && std::isfinite(max_y[i])) ||
        min_x[i] > max_x[i] || min_y[i] > max_y[i])
      return;
    x0 = std::min(x0, min_x[i]);
    y0 = std::min(y0, min_y[i]);
    x1 = std::max(x1, max_x[i]);
    y1 = std::max(y1, max_y[i]);
    sum += (max_x[i] - min_x[i]) * (max_y[i] - min_y[i]);
  }
  const double w = x1 - x0, h = y1 - y0;
  fill_ = w > 0 && h > 0 ? sum / (w * h) : 0;
  // Square cells, about 2n of them over the extent (a line or a point: one row or column).
  const double side = w > 0 && h > 0 ? std::sqrt(w * h / (2.0 * static_cast<double>(n))) : std::max(w, h) / (2.0 * n);
  constexpr int kMaxSide = 4096;
  nx_ = w > 0 && side > 0 ? static_cast<int>(std::min<double>(kMaxSide, std::ceil(w / side))) : 1;
  ny_ = h > 0 && side > 0 ? static_cast<int>(std::min<double>(kMaxSide, std::ceil(h / side))) : 1;
  ox_ = x0;
  oy_ = y0;
  sx_ = w > 0 ? nx_ / w : 0;
  sy_ = h > 0 ? ny_ / h : 0;
  box_.resize(n);
  const size_t cells = static_cast<size_t>(nx_) * static_cast<size_t>(ny_);
  std::vector<uint64_t> count(cells + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    box_[i] = Box{min_x[i], min_y[i], max_x[i], max_y[i]};
    for (int r = row(min_y[i]); r <= row(max_y[i]); ++r)
      for (int c = col(min_x[i]); c <= col(max_x[i]); ++c) ++count[static_cast<size_t>(r) * nx_ + c + 1];
  }
  for (size_t k = 0; k < cells; ++k) count[k + 1] += count[k];
  if (count[cells] >= UINT32_MAX) {  // boxes spanning most of a huge grid: not worth an index
    *this = BoxGrid();
    return;
  }
  offset_.assign(count.begin(), count.end());
  ids_.resize(count[cells]);
  std::vector<uint32_t> at(offset_.begin(), offset_.end() - 1);
  for (size_t i = 0; i < n; ++i)
    for (int r = row(min_y[i]); r <= row(max_y[i]); ++r)
      for (int c = col(min_x[i]); c <= col(max_x[i]); ++c) ids_[at[static_cast<size_t>(r) * nx_ + c]++] = static_cast<uint32_t>(i);
}

bool BoxGrid::query(double x0, double y0, double x1, double y1, uint32_t* out, size_t max, size_t* count) const {
  *count = 0;
  if (!usable() || !(std::isfinite(x0) && std::isfinite(y0) && std::isfinite(x1) && std::isfinite(y1))) return false;
  const int c0 = col(x0), c1 = col(x1), r0 = row(y0), r1 = row(y1);
  for (int r = r0; r <= r1; ++r) {
    for (int c = c0; c <= c1; ++c) {
      const size_t cell = static_cast<size_t>(r) * nx_ + c;
      for (uint32_t k = offset_[cell]; k < offset_[cell + 1]; ++k) {
        const uint32_t i = ids_[k];
        const Box& b = box_[i];
        if (x1 < b.x0 || x0 > b.x1 || y1 < b.y0 || y0 > b.y1) continue;
        // Once: in the first cell of both ranges (the box's cells and the query's).
        if (c != std::max(c0, col(b.x0)) || r != std::max(r0, row(b.y0))) continue;
        if (*count == max) return false;
        out[(*count)++] = i;
      }
    }
  }
  return true;
}

}  // namespace geoshard::localise
