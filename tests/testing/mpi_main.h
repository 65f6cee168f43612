// main() for GoogleTest under MPI: every rank runs every test; only rank 0 prints; the exit
// code is non-zero on every rank when any rank failed.
#pragma once

#include <gtest/gtest.h>
#include <mpi.h>

#define GEOSHARD_MPI_TEST_MAIN()                                                         \
  int main(int argc, char** argv) {                                                      \
    MPI_Init(&argc, &argv);                                                              \
    ::testing::InitGoogleTest(&argc, argv);                                              \
    int rank = 0;                                                                        \
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);                                                \
    if (rank != 0) {                                                                     \
      auto& l = ::testing::UnitTest::GetInstance()->listeners();                         \
      delete l.Release(l.default_result_printer());                                      \
    }                                                                                    \
    int failed = RUN_ALL_TESTS() != 0, any = 0;                                          \
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);                   \
    MPI_Finalize();                                                                      \
    return any;                                                                          \
  }
