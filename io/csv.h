// One CSV record (one physical line) split into fields, for the small CSV files geoshard reads
// (the rules table, image manifests, cost-study points). Header-only.
//
// Quoted fields follow RFC 4180 within the line ("" is a quote); a quoted field cannot span
// lines. Unquoted fields are trimmed of spaces and tabs; a trailing '\r' (CRLF files) is dropped.
// Throws std::invalid_argument naming the field and character on an unclosed quote or text after
// a closing quote; callers add the file and line.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace geoshard {

inline std::vector<std::string> split_csv_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    while (i < line.size() && blank(line[i])) ++i;
    std::string field;
    if (i < line.size() && line[i] == '"') {
      const size_t open = i++;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        field += line[i++];
      }
      const std::string where = "field " + std::to_string(out.size() + 1);
      if (!closed)
        throw std::invalid_argument(where + ": quote opened at character " + std::to_string(open + 1) +
                                    " is not closed on this line (quoted fields cannot span lines)");
      while (i < line.size() && blank(line[i])) ++i;
      if (i < line.size() && line[i] != ',')
        throw std::invalid_argument(where + ": text after the closing quote at character " + std::to_string(i + 1));
    } else {
      size_t end = line.find(',', i);
      if (end == std::string_view::npos) end = line.size();
      size_t b = i, e = end;
      while (e > b && blank(line[e - 1])) --e;
      field.assign(line.substr(b, e - b));
      i = end;
    }
    out.push_back(std::move(field));
    if (i >= line.size()) break;
    ++i;  // the comma
  }
  return out;
}

}  // namespace geoshard
