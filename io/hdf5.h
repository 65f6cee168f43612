// Thin RAII wrapper over the HDF5 C API (HighFive is not in Debian 12).
//
// geoshard keeps its tables as plain columns: one 1-D dataset per column, so `h5dump`
// shows them as they are and a row range of any column is one hyperslab read. This header
// gives exactly that and no more: files (serial, or MPI-IO for collective access), groups,
// typed 1-D columns, UTF-8 variable-length string columns, scalar attributes, and row-range
// reads. Every failure throws h5::Error naming the file and the object, never prints
// HDF5's own error stack.
//
// Thread-safety: the Debian HDF5 build is not thread-safe; use one thread per process.
#pragma once

#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
#include "kernels/cpu.h"

namespace geoshard::h5 {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Owns one hid_t and closes it with the matching H5*close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; returns false when HDF5 reports a failure (e.g. a flush that failed).
  bool reset() {
    bool ok = true;
    if (id_ >= 0 && closer_) ok = closer_(id_) >= 0;
    id_ = H5I_INVALID_HID;
    return ok;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

template <class T>
hid_t native_type();

class Group;

// A column read or written in row ranges. Obtained from Group.
class Column {
 public:
  Column(Handle ds, std::string where) : ds_(std::move(ds)), where_(std::move(where)) {}
  uint64_t size() const;
  const std::string& where() const { return where_; }

  template <class T>
  std::vector<T> read(uint64_t offset, uint64_t count) const {
    std::vector<T> out;
    out.reserve(count);
    advise_huge_pages(out.data(), count * sizeof(T));  // before the first touch (resize zero-fills)
    out.resize(count);
    read_raw(native_type<T>(), offset, count, out.data());
    return out;
  }
  template <class T>
  std::vector<T> read_all() const {
    return read<T>(0, size());
  }
  // Strings of rows [offset, offset+count).
  std::vector<std::string> read_strings(uint64_t offset, uint64_t count) const;
  std::vector<std::string> read_all_strings() const { return read_strings(0, size()); }

  // Collective reads when the file was opened with MPI-IO (all ranks call, any counts).
  void set_collective(bool on) { collective_ = on; }

  void read_raw(hid_t mem_type, uint64_t offset, uint64_t count, void* out) const;

 private:
  Handle ds_;
  std::string where_;
  bool collective_ = false;
};

class Group {
 public:
  Group(Handle h, std::string where) : h_(std::move(h)), where_(std::move(where)) {}
  const std::string& where() const { return where_; }
  hid_t id() const { return h_.get(); }

  bool exists(const std::string& name) const;
  Group create_group(const std::string& name) const;
  Group open_group(const std::string& name) const;

  template <class T>
  void write_column(const std::string& name, std::span<const T> values) const {
    write_raw(name, native_type<T>(), values.size(), values.data());
  }
  template <class T>
  void write_column(const std::string& name, const std::vector<T>& values) const {
    write_column<T>(name, std::span<const T>(values.data(), values.size()));
  }
  void write_strings(const std::string& name, const std::vector<std::string>& values) const;

  Column column(const std::string& name) const;
  template <class T>
  std::vector<T> read_column(const std::string& name) const {
    return column(name).read_all<T>();
  }
  std::vector<std::string> read_strings(const std::string& name) const {
    return column(name).read_all_strings();
  }

  // Scalar attributes on this group.
  void set_attr(const std::string& name, const std::string& value) const;
  void set_attr(const std::string& name, int64_t value) const;
  void set_attr(const std::string& name, double value) const;
  void set_attr(const std::string& name, const std::vector<std::string>& values) const;
  std::string attr_string(const std::string& name) const;
  int64_t attr_int(const std::string& name) const;
  double attr_double(const std::string& name) const;
  std::vector<std::string> attr_strings(const std::string& name) const;
  bool has_attr(const std::string& name) const;

  // FNV-1a 64 of everything this group holds but its attributes: every dataset, in name order
  // and recursively through subgroups, by its path, element class and size, element count and
  // values (variable-length strings by their bytes and lengths). Two groups with the same
  // datasets and values have the same checksum whatever the file layout; a changed value, a
  // missing or extra dataset changes it. Throws h5::Error when a dataset cannot be read (which
  // is how a damaged file shows).
  uint64_t content_checksum() const;

 private:
  void write_raw(const std::string& name, hid_t type, uint64_t n, const void* data) const;
  Handle h_;
  std::string where_;
};

class File {
 public:
  enum class Mode { kRead, kReadWrite, kCreate /* truncates */ };
  // Opens or creates `path`. With `comm`, uses the MPI-IO driver (every rank of comm must call).
  File(const std::string& path, Mode mode, std::optional<MPI_Comm> comm = std::nullopt);
  const std::string& path() const { return path_; }
  Group root() const;
  // Flushes and closes; throws when HDF5 reports a failure (so a writer fails before a commit).
  void close();

 private:
  Handle h_;
  std::string path_;
};

// True when `path` is an HDF5 file (quick signature check, no exception).
bool is_hdf5(const std::string& path);

template <> inline hid_t native_type<int8_t>() { return H5T_NATIVE_INT8; }
template <> inline hid_t native_type<uint8_t>() { return H5T_NATIVE_UINT8; }
template <> inline hid_t native_type<int16_t>() { return H5T_NATIVE_INT16; }
template <> inline hid_t native_type<uint16_t>() { return H5T_NATIVE_UINT16; }
template <> inline hid_t native_type<int32_t>() { return H5T_NATIVE_INT32; }
template <> inline hid_t native_type<uint32_t>() { return H5T_NATIVE_UINT32; }
template <> inline hid_t native_type<int64_t>() { return H5T_NATIVE_INT64; }
template <> inline hid_t native_type<uint64_t>() { return H5T_NATIVE_UINT64; }
template <> inline hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> inline hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }

}  // namespace geoshard::h5
