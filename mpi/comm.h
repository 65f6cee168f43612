// The engine's communicator wrapper: MPI start/stop as RAII, and the few collectives the
// engine needs, typed. Jobs never call MPI directly (DESIGN.md); they get a Comm from the engine.
//
// Thread-safety: MPI is initialised with MPI_THREAD_FUNNELED; call from the main thread only.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace geoshard::mpi {

// Initialises MPI on construction (if not yet) and finalises on destruction (if it initialised).
class Environment {
 public:
  Environment(int* argc, char*** argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

 private:
  bool owns_ = false;
};

class Comm {
 public:
  explicit Comm(MPI_Comm c = MPI_COMM_WORLD);
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool root() const { return rank_ == 0; }
  MPI_Comm get() const { return c_; }

  void barrier() const;
  double sum(double v) const;
  uint64_t sum(uint64_t v) const;
  double max(double v) const;
  uint64_t max(uint64_t v) const;
  double min(double v) const;
  // Every rank's value, in rank order (on every rank).
  std::vector<double> all_gather(double v) const;
  std::vector<uint64_t> all_gather(uint64_t v) const;
  // Root's string on every rank.
  std::string broadcast(const std::string& s, int root = 0) const;
  // Every rank's byte buffer (any sizes, also beyond 2 GiB), on rank 0 in rank order; an empty
  // vector on the other ranks. Sent with MPI_Gatherv in rounds of at most `max_chunk` bytes per
  // rank (0 = the largest that keeps MPI's int counts and displacements below 2^31).
  std::vector<std::vector<char>> gather_bytes(const std::vector<char>& mine, uint64_t max_chunk = 0) const;

 private:
  MPI_Comm c_;
  int rank_ = 0, size_ = 1;
};

// Under Slurm (SLURM_NTASKS set), the MPI size must equal SLURM_NTASKS: a job launched
// without the MPI plugin silently runs N independent copies of rank 0. Returns "" when all is
// well, else the message to fail with.
std::string check_slurm_size(int mpi_size);

}  // namespace geoshard::mpi
