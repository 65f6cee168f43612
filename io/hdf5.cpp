#include "io/hdf5.h"

#include <cstring>
#include <fstream>

namespace geoshard::h5 {
namespace {

// HDF5 prints its error stack to stderr by default; geoshard reports errors itself.
struct SilenceHdf5 {
  SilenceHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
const SilenceHdf5 kSilence;

// HDF5's error stack as a short reason for error texts: the outermost message (what failed)
// and, when deeper, the innermost one (why), where the file driver puts the system's reason
// ("... error message = 'No space left on device' ..."; only that quoted part is kept).
std::string hdf5_reason() {
  struct Walk {
    std::string outer, inner;
  } w;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
        auto* w = static_cast<Walk*>(data);
        if (!e->desc) return 0;
        if (n == 0) w->outer = e->desc;
        else w->inner = e->desc;
        return 0;
      },
      &w);
  H5Eclear2(H5E_DEFAULT);
  const std::string key = "error message = '";
  if (const size_t at = w.inner.find(key); at != std::string::npos) {
    const size_t end = w.inner.find('\'', at + key.size());
    w.inner = w.inner.substr(at + key.size(), end == std::string::npos ? std::string::npos : end - at - key.size());
  }
  std::string msg = w.outer;
  if (!w.inner.empty() && w.inner != w.outer) msg += (msg.empty() ? "" : ": ") + w.inner;
  return msg.empty() ? std::string() : " (" + msg + ")";
}

[[noreturn]] void fail(const std::string& what) { throw Error(what + hdf5_reason()); }

Handle string_type() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return Handle(t, H5Tclose);
}

hid_t xfer_plist(bool collective, Handle& holder) {
  if (!collective) return H5P_DEFAULT;
  holder = Handle(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  H5Pset_dxpl_mpio(holder.get(), H5FD_MPIO_COLLECTIVE);
  return holder.get();
}

}  // namespace

uint64_t Column::size() const {
  Handle space(H5Dget_space(ds_.get()), H5Sclose);
  if (!space.valid()) fail("cannot read the dataspace of " + where_);
  if (H5Sget_simple_extent_ndims(space.get()) != 1) throw Error(where_ + " is not a 1-D column");
  hsize_t dims[1] = {0};
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  return dims[0];
}

void Column::read_raw(hid_t mem_type, uint64_t offset, uint64_t count, void* out) const {
  const uint64_t n = size();
  if (offset > n || count > n - offset)
    throw Error(where_ + ": rows [" + std::to_string(offset) + ", " + std::to_string(offset + count) +
                ") are past its " + std::to_string(n) + " rows");
  Handle fspace(H5Dget_space(ds_.get()), H5Sclose);
  hsize_t start[1] = {offset}, cnt[1] = {count};
  Handle mspace(H5Screate_simple(1, cnt, nullptr), H5Sclose);
  if (count == 0) {
    H5Sselect_none(fspace.get());
    H5Sselect_none(mspace.get());
  } else if (H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, cnt, nullptr) < 0) {
    fail("cannot select rows of " + where_);
  }
  Handle xfer;
  if (H5Dread(ds_.get(), mem_type, mspace.get(), fspace.get(), xfer_plist(collective_, xfer), out) < 0)
    fail("cannot read " + where_);
}

std::vector<std::string> Column::read_strings(uint64_t offset, uint64_t count) const {
  Handle t = string_type();
  std::vector<char*> ptrs(count, nullptr);
  read_raw(t.get(), offset, count, ptrs.data());
  std::vector<std::string> out(count);
  for (uint64_t i = 0; i < count; ++i)
    if (ptrs[i]) out[i] = ptrs[i];
  if (count) {
    hsize_t cnt[1] = {count};
    Handle mspace(H5Screate_simple(1, cnt, nullptr), H5Sclose);
    H5Dvlen_reclaim(t.get(), mspace.get(), H5P_DEFAULT, ptrs.data());
  }
  return out;
}

bool Group::exists(const std::string& name) const {
  return H5Lexists(h_.get(), name.c_str(), H5P_DEFAULT) > 0;
}

Group Group::create_group(const std::string& name) const {
  hid_t g = H5Gcreate2(h_.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) fail("cannot create group " + where_ + "/" + name);
  return Group(Handle(g, H5Gclose), where_ + "/" + name);
}

Group Group::open_group(const std::string& name) const {
  if (!exists(name)) throw Error(where_ + ": no group '" + name + "'");
  hid_t g = H5Gopen2(h_.get(), name.c_str(), H5P_DEFAULT);
  if (g < 0) fail("cannot open group " + where_ + "/" + name);
  return Group(Handle(g, H5Gclose), where_ + "/" + name);
}

void Group::write_raw(const std::string& name, hid_t type, uint64_t n, const void* data) const {
  hsize_t dims[1] = {n};
  Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
  Handle file_type(H5Tcopy(type), H5Tclose);
  hid_t ds = H5Dcreate2(h_.get(), name.c_str(), file_type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT,
                        H5P_DEFAULT);
  if (ds < 0) fail("cannot create column " + where_ + "/" + name);
  Handle h(ds, H5Dclose);
  if (n && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail("cannot write column " + where_ + "/" + name);
  // The close writes what HDF5 still buffers (the sieve buffer): a failure here (a full disk)
  // means the values never reached the file, which would read back as zeros.
  if (!h.reset()) fail("cannot write column " + where_ + "/" + name);
}

void Group::write_strings(const std::string& name, const std::vector<std::string>& values) const {
  std::vector<const char*> ptrs(values.size());
  for (size_t i = 0; i < values.size(); ++i) ptrs[i] = values[i].c_str();
  Handle t = string_type();
  write_raw(name, t.get(), ptrs.size(), ptrs.data());
}

Column Group::column(const std::string& name) const {
  if (!exists(name)) throw Error(where_ + ": no column '" + name + "'");
  hid_t ds = H5Dopen2(h_.get(), name.c_str(), H5P_DEFAULT);
  if (ds < 0) fail("cannot open column " + where_ + "/" + name);
  return Column(Handle(ds, H5Dclose), where_ + "/" + name);
}

namespace {
void write_attr(hid_t obj, const std::string& where, const std::string& name, hid_t type, hid_t space,
                const void* data) {
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  hid_t a = H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a < 0) fail("cannot create attribute " + where + "@" + name);
  Handle h(a, H5Aclose);
  if (H5Awrite(a, type, data) < 0) fail("cannot write attribute " + where + "@" + name);
}
Handle open_attr(hid_t obj, const std::string& where, const std::string& name) {
  if (H5Aexists(obj, name.c_str()) <= 0) throw Error(where + ": no attribute '" + name + "'");
  hid_t a = H5Aopen(obj, name.c_str(), H5P_DEFAULT);
  if (a < 0) fail("cannot open attribute " + where + "@" + name);
  return Handle(a, H5Aclose);
}
}  // namespace

void Group::set_attr(const std::string& name, const std::string& value) const {
  Handle t = string_type();
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  const char* p = value.c_str();
  write_attr(h_.get(), where_, name, t.get(), space.get(), &p);
}
void Group::set_attr(const std::string& name, int64_t value) const {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  write_attr(h_.get(), where_, name, H5T_NATIVE_INT64, space.get(), &value);
}
void Group::set_attr(const std::string& name, double value) const {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  write_attr(h_.get(), where_, name, H5T_NATIVE_DOUBLE, space.get(), &value);
}
void Group::set_attr(const std::string& name, const std::vector<std::string>& values) const {
  Handle t = string_type();
  if (values.empty()) {
    // An empty list is an attribute with a null dataspace (HDF5 cannot write zero elements).
    if (H5Aexists(h_.get(), name.c_str()) > 0) H5Adelete(h_.get(), name.c_str());
    Handle space(H5Screate(H5S_NULL), H5Sclose);
    hid_t a = H5Acreate2(h_.get(), name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) fail("cannot create attribute " + where_ + "@" + name);
    H5Aclose(a);
    return;
  }
  hsize_t dims[1] = {values.size()};
  Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
  std::vector<const char*> ptrs(values.size());
  for (size_t i = 0; i < values.size(); ++i) ptrs[i] = values[i].c_str();
  write_attr(h_.get(), where_, name, t.get(), space.get(), ptrs.data());
}
bool Group::has_attr(const std::string& name) const { return H5Aexists(h_.get(), name.c_str()) > 0; }

std::string Group::attr_string(const std::string& name) const {
  Handle a = open_attr(h_.get(), where_, name);
  Handle t = string_type();
  char* p = nullptr;
  if (H5Aread(a.get(), t.get(), &p) < 0) fail("cannot read attribute " + where_ + "@" + name);
  std::string s = p ? p : "";
  H5free_memory(p);
  return s;
}
int64_t Group::attr_int(const std::string& name) const {
  Handle a = open_attr(h_.get(), where_, name);
  int64_t v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_INT64, &v) < 0) fail("cannot read attribute " + where_ + "@" + name);
  return v;
}
double Group::attr_double(const std::string& name) const {
  Handle a = open_attr(h_.get(), where_, name);
  double v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0) fail("cannot read attribute " + where_ + "@" + name);
  return v;
}
std::vector<std::string> Group::attr_strings(const std::string& name) const {
  Handle a = open_attr(h_.get(), where_, name);
  Handle space(H5Aget_space(a.get()), H5Sclose);
  hssize_t n = H5Sget_simple_extent_type(space.get()) == H5S_NULL ? 0 : H5Sget_simple_extent_npoints(space.get());
  Handle t = string_type();
  std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
  if (n && H5Aread(a.get(), t.get(), ptrs.data()) < 0) fail("cannot read attribute " + where_ + "@" + name);
  std::vector<std::string> out;
  for (char* p : ptrs) {
    out.emplace_back(p ? p : "");
    H5free_memory(p);
  }
  return out;
}

File::File(const std::string& path, Mode mode, std::optional<MPI_Comm> comm) : path_(path) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (comm) H5Pset_fapl_mpio(fapl.get(), *comm, MPI_INFO_NULL);
  hid_t f = H5I_INVALID_HID;
  if (mode == Mode::kCreate) {
    f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
    if (f < 0) fail("cannot create HDF5 file '" + path + "'");
  } else {
    if (!comm) {
      std::ifstream probe(path);
      if (!probe) throw Error("cannot open '" + path + "': " + std::strerror(errno));
    }
    f = H5Fopen(path.c_str(), mode == Mode::kRead ? H5F_ACC_RDONLY : H5F_ACC_RDWR, fapl.get());
    if (f < 0) fail("cannot open '" + path + "' as HDF5 (truncated or not an HDF5 file?)");
  }
  h_ = Handle(f, H5Fclose);
}

namespace {
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void add(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  void add_u64(uint64_t v) { add(&v, sizeof v); }
  void add_str(const std::string& s) {
    add_u64(s.size());
    add(s.data(), s.size());
  }
};

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->emplace_back(name);
  return 0;
}

void checksum_group(hid_t gid, const std::string& where, const std::string& prefix, Fnv& f) {
  std::vector<std::string> names;
  hsize_t idx = 0;
  if (H5Literate(gid, H5_INDEX_NAME, H5_ITER_INC, &idx, collect_name, &names) < 0)
    fail("cannot list " + where);
  for (const std::string& name : names) {
    const std::string path = prefix + "/" + name;
    hid_t obj = H5Oopen(gid, name.c_str(), H5P_DEFAULT);
    if (obj < 0) fail("cannot open " + where + "/" + name);
    Handle o(obj, H5Oclose);
    const H5I_type_t kind = H5Iget_type(obj);
    if (kind == H5I_GROUP) {
      f.add_str("g" + path);
      checksum_group(obj, where + "/" + name, path, f);
      continue;
    }
    if (kind != H5I_DATASET) continue;  // named datatypes: not data
    Handle ftype(H5Dget_type(obj), H5Tclose);
    Handle space(H5Dget_space(obj), H5Sclose);
    if (!ftype.valid() || !space.valid()) fail("cannot read the type of " + where + "/" + name);
    const hssize_t n = H5Sget_simple_extent_npoints(space.get());
    if (n < 0) fail("cannot read the size of " + where + "/" + name);
    f.add_str("d" + path);
    f.add_u64(static_cast<uint64_t>(H5Tget_class(ftype.get())));
    f.add_u64(static_cast<uint64_t>(n));
    if (H5Tis_variable_str(ftype.get()) > 0) {
      Column c(Handle(H5Dopen2(gid, name.c_str(), H5P_DEFAULT), H5Dclose), where + "/" + name);
      for (const std::string& v : c.read_all_strings()) f.add_str(v);
      continue;
    }
    Handle mtype(H5Tget_native_type(ftype.get(), H5T_DIR_ASCEND), H5Tclose);
    if (!mtype.valid()) fail("cannot map the type of " + where + "/" + name);
    const size_t size = H5Tget_size(mtype.get());
    f.add_u64(size);
    std::vector<unsigned char> buf(size * static_cast<size_t>(n));
    if (n > 0 && H5Dread(obj, mtype.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
      fail("cannot read " + where + "/" + name);
    f.add(buf.data(), buf.size());
  }
}
}  // namespace

uint64_t Group::content_checksum() const {
  Fnv f;
  checksum_group(h_.get(), where_, "", f);
  return f.h;
}

Group File::root() const {
  hid_t g = H5Gopen2(h_.get(), "/", H5P_DEFAULT);
  if (g < 0) fail("cannot open the root group of '" + path_ + "'");
  return Group(Handle(g, H5Gclose), path_ + ":");
}

void File::close() {
  if (!h_.valid()) return;
  if (H5Fflush(h_.get(), H5F_SCOPE_LOCAL) < 0) fail("cannot flush '" + path_ + "'");
  if (!h_.reset()) fail("cannot close '" + path_ + "'");
}

bool is_hdf5(const std::string& path) { return H5Fis_hdf5(path.c_str()) > 0; }

}  // namespace geoshard::h5
