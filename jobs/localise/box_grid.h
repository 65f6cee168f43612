// A uniform grid over a layer's area boxes: which areas' bounding boxes a road's (or a run's)
// box meets, in a few loads. The coverage's Z-order intervals answer "which areas have cells in
// this key range"; for a sparse layer (gated communities) a long road's key range meets
// intervals of areas far from the road itself, and this grid settles such roads as touching
// nothing without walking them (Localiser::localise).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace geoshard::localise {

class BoxGrid {
 public:
  BoxGrid() = default;
  // Boxes i = [min_x[i], max_x[i]] x [min_y[i], max_y[i]] (closed); about two boxes' worth of
  // cells per box, at most 4096 x 4096 cells. Empty (usable() false) when there is no box or a
  // coordinate is not finite or a box is inverted.
  BoxGrid(const std::vector<double>& min_x, const std::vector<double>& min_y, const std::vector<double>& max_x,
          const std::vector<double>& max_y);
  bool usable() const { return !offset_.empty(); }
  // The summed area of the boxes over the area of their extent (0 when unusable or the extent
  // has no area): small for a sparse layer.
  double fill() const { return fill_; }
  // The boxes meeting the closed box [x0, x1] x [y0, y1], each once, in out[0, *count); false
  // when there are more than `max` (out then holds some of them) or a coordinate is not finite.
  bool query(double x0, double y0, double x1, double y1, uint32_t* out, size_t max, size_t* count) const;
  size_t bytes() const { return offset_.size() * 4 + ids_.size() * 4 + box_.size() * sizeof(Box); }
  struct Box {
    double x0, y0, x1, y1;
  };
  const Box& box(uint32_t i) const { return box_[i]; }  // box i as given (usable() only)

 private:
  // The column / row of x / y, clamped to the grid: monotone in x / y, so two closed boxes that
  // meet share a cell.
  int col(double x) const;
  int row(double y) const;
  double ox_ = 0, oy_ = 0, sx_ = 0, sy_ = 0, fill_ = 0;  // origin; cells per unit
  int nx_ = 0, ny_ = 0;
  std::vector<uint32_t> offset_;  // per cell (row-major) + 1: into ids_
  std::vector<uint32_t> ids_;     // the boxes meeting each cell's column and row range
  std::vector<Box> box_;
};

}  // namespace geoshard::localise
