// Host-only string conveniences of the geohash grid (geohash.h).
#include "kernels/geohash.h"

#include <stdexcept>
#include <string>

namespace geoshard::geohash {

std::string encode(double lon, double lat, int precision) {
  if (precision < 0 || precision > kMaxPrecision)
    throw std::invalid_argument("geohash::encode: precision " + std::to_string(precision) +
                                " outside 0.." + std::to_string(kMaxPrecision));
  return to_string(Cell::from_point(lon, lat, precision));
}

std::string to_string(Cell cell) {
  if (!cell.is_valid()) throw std::invalid_argument("geohash::to_string: invalid cell");
  char buf[kMaxPrecision + 1];
  cell.to_chars(buf);
  return std::string(buf, static_cast<size_t>(cell.precision));
}

Cell decode(std::string_view geohash) {
  Cell cell;
  switch (decode(geohash.data(), geohash.size(), &cell)) {
    case DecodeStatus::kOk:
      return cell;
    case DecodeStatus::kTooLong:
      throw std::invalid_argument("geohash::decode: \"" + std::string(geohash) + "\" has " +
                                  std::to_string(geohash.size()) + " characters, at most " +
                                  std::to_string(kMaxPrecision) + " allowed");
    case DecodeStatus::kInvalidChar:
      break;
  }
  size_t pos = 0;
  while (pos < geohash.size() && detail::base32_value(geohash[pos]) >= 0) ++pos;
  throw std::invalid_argument("geohash::decode: invalid character '" + std::string(1, geohash[pos]) +
                              "' at position " + std::to_string(pos) + " of \"" + std::string(geohash) +
                              "\" (alphabet 0-9 b-z without a, i, l, o)");
}

}  // namespace geoshard::geohash
