// The raw output of covering areas (one entry per cell an area touches) and its flattening into
// a CoverageLayer (io/coverage_table.h): sorted, disjoint elementary intervals, each with the
// sorted list of the areas present there.
//
// Raw entries of ONE area are disjoint cells (the top-down refinement never emits a cell and
// one of its descendants); entries of different areas of a layer may overlap (OSM admin layers
// hold nested areas). Every entry is a whole cell of precision <= P, so every cut the flattening
// makes is a precision-<=P cell boundary: a precision-P cell is never split, and each BOUNDARY
// entry (a precision-P cell) lands in exactly one output interval.
//
// Merge rule (merge = true): after flattening, adjacent intervals (hi + 1 == next lo) whose entry
// lists are identical and hold INTERIOR entries only are joined. BOUNDARY entries are never
// merged (each carries its own cell's piece). With merge = false, every interval holding only
// INTERIOR entries is cut into its precision-P cells instead ("no merging at all"; can be huge).
//
// Determinism: the output depends only on the set of raw entries and their pieces, not on their
// order (entries are sorted by (lo, area); pieces are renumbered in output order). Hence the
// same coverage for any number of ranks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/coverage_table.h"
#include "kernels/geohash.h"

namespace geoshard::cover {

struct RawEntry {
  uint64_t lo = 0, hi = 0;  // the cell's closed key interval
  uint32_t area = 0;        // row of the AreaLayer
  uint8_t kind = 0;         // CoverKind
  int64_t piece = -1;       // BOUNDARY: index into RawLayer pieces; INTERIOR: -1
};

// Raw entries of (part of) a layer with their pieces: piece p owns rings
// [piece_ring_offset[p], piece_ring_offset[p+1]), ring r owns vertices
// [ring_vertex_offset[r], ring_vertex_offset[r+1]) -- closed rings, as in CoverageLayer.
struct RawLayer {
  std::vector<RawEntry> entries;
  std::vector<uint64_t> piece_ring_offset{0};
  std::vector<uint64_t> ring_vertex_offset{0};
  std::vector<double> lon, lat;

  size_t pieces() const { return piece_ring_offset.size() - 1; }
  // Appends `other`, renumbering its pieces.
  void append(const RawLayer& other);
};

struct FlattenOptions {
  int precision = 7;
  bool merge = true;
  // "geohash": keys are Z-order keys, cells of precision p are aligned blocks of 2^(64-5p) keys.
  // "s2": keys are S2 leaf ids (odd), a cell of level k is the range [range_min, range_max] of its
  // leaf ids; halved (id >> 1) these are aligned blocks of 4^(30-k) keys, so the same sweep
  // works on the halved keys and the output is mapped back (2k + 1). Adjacent means no leaf id
  // between (hi + 2 == next lo in leaf ids).
  std::string grid = "geohash";
};

// Builds the layer (name, precision and grid set). Throws std::logic_error when two
// entries of one area overlap (a bug in the producer), std::length_error when merge = false
// would need more than 2^32 intervals.
CoverageLayer flatten(const RawLayer& raw, const std::string& name, const FlattenOptions& opt);

}  // namespace geoshard::cover
