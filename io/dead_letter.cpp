#include "io/dead_letter.h"

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace geoshard {

std::string_view reason_code(Reason r) {
  switch (r) {
    case Reason::kNoGeometry: return "NO_GEOMETRY";
    case Reason::kEmptyGeometry: return "EMPTY_GEOMETRY";
    case Reason::kUnsupportedGeometry: return "UNSUPPORTED_GEOMETRY";
    case Reason::kNonFiniteCoordinate: return "NON_FINITE_COORDINATE";
    case Reason::kCoordinateOutOfRange: return "COORDINATE_OUT_OF_RANGE";
    case Reason::kTooFewPoints: return "TOO_FEW_POINTS";
    case Reason::kUnrepairablePolygon: return "UNREPAIRABLE_POLYGON";
    case Reason::kInvalidUtf8: return "INVALID_UTF8";
    case Reason::kDuplicateId: return "DUPLICATE_ID";
    case Reason::kMissingId: return "MISSING_ID";
    case Reason::kInvalidId: return "INVALID_ID";
    case Reason::kInvalidPolygon: return "INVALID_POLYGON";
    case Reason::kGeometryFailure: return "GEOMETRY_FAILURE";
    case Reason::kFileNotFound: return "FILE_NOT_FOUND";
    case Reason::kUnreadableImage: return "UNREADABLE_IMAGE";
    case Reason::kBadManifestRow: return "BAD_MANIFEST_ROW";
    case Reason::kImageTooLarge: return "IMAGE_TOO_LARGE";
    case Reason::kBadFieldOfView: return "BAD_FIELD_OF_VIEW";
    case Reason::kUnsafeOutputPath: return "UNSAFE_OUTPUT_PATH";
  }
  return "UNKNOWN";
}

std::optional<Reason> reason_from_code(std::string_view code) {
  for (int r = 0; r <= static_cast<int>(Reason::kUnsafeOutputPath); ++r)
    if (reason_code(static_cast<Reason>(r)) == code) return static_cast<Reason>(r);
  return std::nullopt;
}

DeadLetterWriter::DeadLetterWriter(const std::string& path) : path_(path) {
  f_ = std::fopen(path.c_str(), "w");
  if (!f_) throw std::runtime_error("cannot write dead-letter file '" + path + "': " + std::strerror(errno));
}

DeadLetterWriter::~DeadLetterWriter() {
  if (f_) std::fclose(f_);
}

void DeadLetterWriter::write(std::string_view source, std::string_view record, Reason reason,
                             std::string_view message) {
  nlohmann::json j;
  // Invalid UTF-8 in ids or messages must not make the dead-letter file itself invalid JSON.
  auto text = [](std::string_view v) { return sanitize_utf8(v); };
  j["source"] = text(source);
  j["record"] = text(record);
  j["reason"] = std::string(reason_code(reason));
  j["message"] = text(message);
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line.push_back('\n');
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size())
    throw std::runtime_error("cannot write dead-letter file '" + path_ + "': " + std::strerror(errno));
  ++total_;
  ++counts_[std::string(reason_code(reason))];
}

void DeadLetterWriter::close() {
  if (!f_) return;
  const bool ok = std::fflush(f_) == 0;
  const bool closed = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!ok || !closed)
    throw std::runtime_error("cannot finish dead-letter file '" + path_ + "': " + std::strerror(errno));
}

std::string sanitize_utf8(std::string_view s) {
  if (is_valid_utf8(s)) return std::string(s);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    // Byte-wise: keep ASCII, escape everything else so the text stays readable and valid.
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      static const char* kHex = "0123456789ABCDEF";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace geoshard
