// Output files that are complete or absent: checked writable before work starts, written to a
// temporary name, closed, then renamed into place.
#pragma once

#include <functional>
#include <string>

namespace geoshard {

// Throws std::runtime_error naming `path` when its folder is missing or not writable, or when
// `path` exists as a folder. Creates nothing that outlives the call.
void check_output_writable(const std::string& path);

// Calls write(tmp) with tmp = path + ".tmp-<pid>", then renames tmp to path. On an exception
// the temporary is removed and the exception rethrown; `path` is left untouched.
void write_atomically(const std::string& path, const std::function<void(const std::string& tmp)>& write);

}  // namespace geoshard
