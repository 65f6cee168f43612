# Test helpers. Labels: unit, mpi, realdata, (later) slurm, fuzz.
#   geoshard_test(NAME SOURCES a.cpp b.cpp LIBS x y LABELS unit [realdata])
#   geoshard_mpi_test(NAME SOURCES ... LIBS ... RANKS 1 2 3 4)  -> one ctest per rank count
set(GEOSHARD_SHARED_DATA "${CMAKE_SOURCE_DIR}/../shared/data" CACHE PATH "Real data folder (tests skip when absent)")
get_filename_component(GEOSHARD_SHARED_DATA "${GEOSHARD_SHARED_DATA}" ABSOLUTE)

function(geoshard_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE GEOSHARD_SHARED_DATA="${GEOSHARD_SHARED_DATA}"
    GEOSHARD_BINARY_DIR="${CMAKE_BINARY_DIR}")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" SKIP_RETURN_CODE 77)
endfunction()

function(geoshard_mpi_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS;RANKS" ${ARGN})
  if(NOT T_RANKS)
    set(T_RANKS 1 2 3 4)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest MPI::MPI_CXX)
  target_compile_definitions(${name} PRIVATE GEOSHARD_SHARED_DATA="${GEOSHARD_SHARED_DATA}"
    GEOSHARD_BINARY_DIR="${CMAKE_BINARY_DIR}")
  foreach(n IN LISTS T_RANKS)
    add_test(NAME ${name}.np${n}
      COMMAND ${MPIEXEC_EXECUTABLE} --allow-run-as-root --oversubscribe ${MPIEXEC_NUMPROC_FLAG} ${n}
              $<TARGET_FILE:${name}>)
    set_tests_properties(${name}.np${n} PROPERTIES LABELS "mpi;${T_LABELS}" PROCESSORS ${n}
      ENVIRONMENT "OMPI_MCA_rmaps_base_oversubscribe=1;OMPI_MCA_btl_vader_single_copy_mechanism=none")
  endforeach()
endfunction()
