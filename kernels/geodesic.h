// Geodesic lengths in metres for roads and their pieces.
//
// Model: a sphere of the mean Earth radius R1 = 6371008.8 m (IUGG), haversine formula. Against
// the WGS84 ellipsoid (what GeographicLib / PostGIS geography compute) the spherical distance is
// off by at most about 0.5% (worst along meridians near the poles and the equator, +-0.3% typical);
// geoshard reports lengths as shares of a road and as road-km for load balancing, where that
// bound is ample. The haversine form is well conditioned for short distances (a few mm at 1 m
// scale), unlike the spherical law of cosines; near-antipodal pairs lose accuracy (clamped, never
// NaN).
//
// Geometry vs length. Predicates are planar in lon/lat (as in GEOS): a road segment is a straight
// line in the lon/lat plane, not a great-circle arc. Its length is the haversine of its two
// endpoints. The length of a PIECE of a segment (the part inside a cell or an area,
// parameters [t0, t1] along the segment, segment_walk.h / polygon.h) is DEFINED as
//     piece_length_m = (t1 - t0) * haversine_m(segment endpoints)
// and not as the haversine of the piece endpoints. Reason: a planar lon/lat line is not a great
// circle, so haversine of the pieces does not add up to haversine of the segment. Measured
// (precision-7 cells, random directions, |lat| <= 70): worst relative difference 8e-11 for a
// 100 m segment, 9e-9 at 1 km, 9e-7 at 10 km, 9e-5 at 100 km (it grows as length^2) -- above
// the 1e-9 additivity geoshard promises. With the t-fraction definition the pieces add up to the
// segment length up to rounding of the t sum (measured <= 4e-14 relative for ~100 pieces;
// ~n * 2^-53 in general), so every metre of road is assigned to exactly one cell/area and area
// shares sum to 1. The t-fraction length is the exact share of the planar segment, mapped
// linearly onto its geodesic length.
//
// All functions are GEOSHARD_HD (device-safe). Inputs in degrees, finite; lat in [-90, 90].
#pragma once

#include <cfloat>
#include <cmath>
#include <cstddef>

#include "kernels/hd.h"

namespace geoshard {

// Mean Earth radius R1 (IUGG), metres.
inline constexpr double kEarthRadiusM = 6371008.8;
inline constexpr double kDegToRad = 0.017453292519943295769;  // pi / 180

// Great-circle distance in metres between (lon1, lat1) and (lon2, lat2), degrees.
GEOSHARD_HD_INLINE double haversine_m(double lon1, double lat1, double lon2, double lat2) {
  const double phi1 = lat1 * kDegToRad, phi2 = lat2 * kDegToRad;
  const double s_dphi = sin((lat2 - lat1) * (0.5 * kDegToRad));
  const double s_dlam = sin((lon2 - lon1) * (0.5 * kDegToRad));
  double h = s_dphi * s_dphi + cos(phi1) * cos(phi2) * s_dlam * s_dlam;
  if (h > 1.0) h = 1.0;  // rounding near antipodes; keeps asin's domain
  if (h < 0.0) h = 0.0;
  return 2.0 * kEarthRadiusM * asin(sqrt(h));
}

// haversine_m with the cosines of both latitudes given (c1 = cos(lat1 * kDegToRad), c2 likewise,
// e.g. computed once per vertex of a polyline): the same operations in the same order as
// haversine_m, hence the same result bit for bit (no FMA contraction: -ffp-contract applies alike).
GEOSHARD_HD_INLINE double haversine_m_cos(double lon1, double lat1, double c1, double lon2, double lat2, double c2) {
  const double s_dphi = sin((lat2 - lat1) * (0.5 * kDegToRad));
  const double s_dlam = sin((lon2 - lon1) * (0.5 * kDegToRad));
  double h = s_dphi * s_dphi + c1 * c2 * s_dlam * s_dlam;
  if (h > 1.0) h = 1.0;
  if (h < 0.0) h = 0.0;
  return 2.0 * kEarthRadiusM * asin(sqrt(h));
}

// cos(lat_deg * kDegToRad) for lat_deg in [-90, 90] without libm: the Taylor series of cos to
// the x^22 term (truncation below 1e-19 for |x| <= pi/2), evaluated by Estrin's scheme (short
// dependency chains: the per-vertex cosines of a road pipeline). Absolute error a few 1e-16
// (tests/kernels/geodesic_test: <= 4.5e-16 from std::cos over 10^6 random latitudes); for
// haversine_m_short's c1, c2, where an absolute error of the cosine is a relative error of the
// east-west term only, far below geoshard's 1e-9.
GEOSHARD_HD_FORCEINLINE double cos_lat(double lat_deg) {
  const double x = lat_deg * kDegToRad, z = x * x, z2 = z * z, z4 = z2 * z2, z8 = z4 * z4;
  // a_k = (-1)^k / (2k)!
  const double p01 = 1.0 + z * -0.5;
  const double p23 = 1.0 / 24.0 + z * (-1.0 / 720.0);
  const double p45 = 1.0 / 40320.0 + z * (-1.0 / 3628800.0);
  const double p67 = 1.0 / 479001600.0 + z * (-1.0 / 87178291200.0);
  const double p89 = 1.0 / 20922789888000.0 + z * (-1.0 / 6402373705728000.0);
  const double p1011 = 1.0 / 2432902008176640000.0 + z * (-1.0 / 1124000727777607680000.0);
  return (p01 + z2 * p23) + z4 * (p45 + z2 * p67) + z8 * (p89 + z2 * p1011);
}

// haversine_m_cos for the short segments of roads, without libm's sin and asin: when both
// half-angle differences are below 1e-2 rad (segments shorter than about 127 km), sin and asin
// are their Taylor series (truncation below 1e-20 relative), else haversine_m_cos itself.
// Differs from haversine_m by a few ulps (measured: bench/localise_vs_geos/localise_time
// --check-haversine, max 1.1e-15 relative over 10^7 random segments of 0.1 m - 100 km and
// |lat| <= 80), far below geoshard's 1e-9 promise; it is not bitwise haversine_m.
// The small-angle branch of haversine_m_short: x, y the half-angle differences of latitude
// and longitude in radians (|x|, |y| < 1e-2), c1, c2 the cosines of the two latitudes.
GEOSHARD_HD_FORCEINLINE double haversine_short_series(double x, double y, double c1, double c2) {
  // sin t = t (1 - t^2/6 (1 - t^2/20 (1 - t^2/42 (1 - t^2/72)))), |t| < 1e-2.
  const double x2 = x * x, y2 = y * y;
  const double sx = x * (1.0 - x2 * (1.0 / 6.0) * (1.0 - x2 * (1.0 / 20.0) * (1.0 - x2 * (1.0 / 42.0) * (1.0 - x2 * (1.0 / 72.0)))));
  const double sy = y * (1.0 - y2 * (1.0 / 6.0) * (1.0 - y2 * (1.0 / 20.0) * (1.0 - y2 * (1.0 / 42.0) * (1.0 - y2 * (1.0 / 72.0)))));
  const double h = sx * sx + c1 * c2 * sy * sy;  // <= 2e-4: no clamping needed
  const double r = sqrt(h), r2 = h;
  // asin r = r (1 + r^2/6 + 3 r^4/40 + 5 r^6/112 + 35 r^8/1152), r < 0.015.
  const double as =
      r * (1.0 + r2 * (1.0 / 6.0 + r2 * (3.0 / 40.0 + r2 * (5.0 / 112.0 + r2 * (35.0 / 1152.0)))));
  return 2.0 * kEarthRadiusM * as;
}

GEOSHARD_HD_FORCEINLINE double haversine_m_short(double lon1, double lat1, double c1, double lon2, double lat2, double c2) {
  const double x = (lat2 - lat1) * (0.5 * kDegToRad);
  const double y = (lon2 - lon1) * (0.5 * kDegToRad);
  if (!(fabs(x) < 1e-2 && fabs(y) < 1e-2)) return haversine_m_cos(lon1, lat1, c1, lon2, lat2, c2);
  return haversine_short_series(x, y, c1, c2);
}

// The series part of polyline_segments_m, over a run of vertices that may hold several
// polylines back to back (the pairs across two polylines are computed too, and unused):
// c[v] = cos_lat(lat[v]) (n values), seg_m[v] = haversine_short_series of vertices v and v + 1
// (n - 1 values) where it serves, >= DBL_MAX or NaN where it does not (a half-angle difference
// >= 1e-2 rad, i.e. over about 127 km, or NaN). So a polyline whose segments sum to less than
// kSeriesUnserved has exactly polyline_segments_m's segment values and, summed in vertex order,
// its length. Two branch-free loops over the arrays that the compiler turns into vector
// instructions (GCC at -O2 needs -fvect-cost-model=dynamic and, for sqrt, -fno-math-errno: see
// jobs/localise/CMakeLists.txt); over many short polylines at once they run without
// per-polyline remainders (the localiser's window).
inline constexpr double kSeriesUnserved = 1e300;
GEOSHARD_HD_INLINE void polyline_series_m(const double* lon, const double* lat, size_t n, double* c, double* seg_m) {
  for (size_t v = 0; v < n; ++v) c[v] = cos_lat(lat[v]);
  for (size_t v = 0; v + 1 < n; ++v) {
    const double x = (lat[v + 1] - lat[v]) * (0.5 * kDegToRad);
    const double y = (lon[v + 1] - lon[v]) * (0.5 * kDegToRad);
    // Not served: + DBL_MAX (0 or 1 times it, an addition rather than a select, which GCC does
    // not vectorise here); served: + 0.0, which leaves the value's bits as they are (m >= +0).
    const int long_or_nan = static_cast<int>(!(fabs(x) < 1e-2)) | static_cast<int>(!(fabs(y) < 1e-2));
    seg_m[v] = haversine_short_series(x, y, c[v], c[v + 1]) + static_cast<double>(long_or_nan) * DBL_MAX;
  }
}

// The segments of a polyline of n vertices: seg_m[v] = haversine_m_short of vertices v and v+1
// (v < n - 1), with c[v] = cos_lat(lat[v]) (n values, also an output); returns their sum in
// vertex order (the polyline's length; 0 for n < 2). The same values bit for bit as calling
// cos_lat and haversine_m_short vertex by vertex: polyline_series_m's vector loops, then one
// scalar pass that sums, redoing the segments the series does not serve with haversine_m_cos
// first when there is one.
GEOSHARD_HD_INLINE double polyline_segments_m(const double* lon, const double* lat, size_t n, double* c, double* seg_m) {
  polyline_series_m(lon, lat, n, c, seg_m);
  double len = 0.0;
  for (size_t v = 0; v + 1 < n; ++v) len += seg_m[v];
  if (len < kSeriesUnserved) return len;  // every segment served (0 for n < 2)
  len = 0.0;
  for (size_t v = 0; v + 1 < n; ++v) {
    const double x = (lat[v + 1] - lat[v]) * (0.5 * kDegToRad);
    const double y = (lon[v + 1] - lon[v]) * (0.5 * kDegToRad);
    if (!(fabs(x) < 1e-2 && fabs(y) < 1e-2)) seg_m[v] = haversine_m_cos(lon[v], lat[v], c[v], lon[v + 1], lat[v + 1], c[v + 1]);
    len += seg_m[v];
  }
  return len;
}

// Length in metres of a polyline of n vertices (sum of haversine of consecutive vertices);
// 0 for n < 2.
GEOSHARD_HD_INLINE double polyline_length_m(const double* lon, const double* lat, size_t n) {
  double sum = 0.0;
  for (size_t i = 1; i < n; ++i) sum += haversine_m(lon[i - 1], lat[i - 1], lon[i], lat[i]);
  return sum;
}

// Length of the piece [t0, t1] of a segment whose whole length is segment_length_m (see the
// header comment: lengths of the pieces of one segment are additive by definition).
GEOSHARD_HD_INLINE double piece_length_m(double segment_length_m, double t0, double t1) {
  return (t1 - t0) * segment_length_m;
}

}  // namespace geoshard
