# Finds every third-party library the standard way (TOOLCHAIN.md has why each line is so).
find_package(MPI REQUIRED COMPONENTS C CXX)

set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "geoshard needs the parallel (MPI) HDF5 build: apt-get install libhdf5-openmpi-dev")
endif()
add_library(geoshard_hdf5 INTERFACE)
target_include_directories(geoshard_hdf5 INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
target_link_libraries(geoshard_hdf5 INTERFACE ${HDF5_C_LIBRARIES} MPI::MPI_C)
target_compile_definitions(geoshard_hdf5 INTERFACE ${HDF5_C_DEFINITIONS} ${HDF5_DEFINITIONS})

find_package(GDAL CONFIG REQUIRED)
find_package(GEOS CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(tomlplusplus CONFIG REQUIRED)
find_package(GTest CONFIG REQUIRED)
find_package(benchmark CONFIG REQUIRED)
find_package(Threads REQUIRED)
find_package(JPEG REQUIRED)   # libjpeg-turbo (libjpeg-dev): coefficient-level JPEG (io/jpeg_region)
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs dnn objdetect)

# s2geometry ships neither a CMake config nor a .pc file.
find_package(absl CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_path(S2_INCLUDE_DIR s2/s2cell_id.h REQUIRED)
find_library(S2_LIBRARY NAMES s2 REQUIRED)
add_library(s2::s2 UNKNOWN IMPORTED)
set_target_properties(s2::s2 PROPERTIES IMPORTED_LOCATION "${S2_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${S2_INCLUDE_DIR}")
set_property(TARGET s2::s2 APPEND PROPERTY INTERFACE_LINK_LIBRARIES absl::base absl::strings
  absl::str_format absl::synchronization absl::hash absl::raw_hash_set absl::flat_hash_map OpenSSL::Crypto)
