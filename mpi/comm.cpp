#include "mpi/comm.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace geoshard::mpi {

Environment::Environment(int* argc, char*** argv) {
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    owns_ = true;
  }
}

Environment::~Environment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_ && !finalized) MPI_Finalize();
}

Comm::Comm(MPI_Comm c) : c_(c) {
  MPI_Comm_rank(c_, &rank_);
  MPI_Comm_size(c_, &size_);
}

void Comm::barrier() const { MPI_Barrier(c_); }

namespace {
template <class T>
T reduce(MPI_Comm c, T v, MPI_Datatype t, MPI_Op op) {
  T out{};
  MPI_Allreduce(&v, &out, 1, t, op, c);
  return out;
}
}  // namespace

double Comm::sum(double v) const { return reduce(c_, v, MPI_DOUBLE, MPI_SUM); }
uint64_t Comm::sum(uint64_t v) const { return reduce(c_, v, MPI_UINT64_T, MPI_SUM); }
double Comm::max(double v) const { return reduce(c_, v, MPI_DOUBLE, MPI_MAX); }
uint64_t Comm::max(uint64_t v) const { return reduce(c_, v, MPI_UINT64_T, MPI_MAX); }
double Comm::min(double v) const { return reduce(c_, v, MPI_DOUBLE, MPI_MIN); }

std::vector<double> Comm::all_gather(double v) const {
  std::vector<double> out(size_);
  MPI_Allgather(&v, 1, MPI_DOUBLE, out.data(), 1, MPI_DOUBLE, c_);
  return out;
}
std::vector<uint64_t> Comm::all_gather(uint64_t v) const {
  std::vector<uint64_t> out(size_);
  MPI_Allgather(&v, 1, MPI_UINT64_T, out.data(), 1, MPI_UINT64_T, c_);
  return out;
}

std::string Comm::broadcast(const std::string& s, int root) const {
  uint64_t n = s.size();
  MPI_Bcast(&n, 1, MPI_UINT64_T, root, c_);
  std::string out = rank_ == root ? s : std::string(n, '\0');
  if (n) MPI_Bcast(out.data(), static_cast<int>(n), MPI_CHAR, root, c_);
  return out;
}

std::vector<std::vector<char>> Comm::gather_bytes(const std::vector<char>& mine, uint64_t max_chunk) const {
  const std::vector<uint64_t> sizes = all_gather(static_cast<uint64_t>(mine.size()));
  uint64_t chunk = std::min<uint64_t>(uint64_t{1} << 29, (static_cast<uint64_t>(INT_MAX) - 4096) / size_);
  if (max_chunk > 0) chunk = std::min(chunk, max_chunk);
  const uint64_t longest = *std::max_element(sizes.begin(), sizes.end());
  const uint64_t rounds = (longest + chunk - 1) / chunk;
  std::vector<std::vector<char>> all;
  if (root()) {
    all.resize(size_);
    for (int r = 0; r < size_; ++r) all[r].resize(sizes[r]);
  }
  std::vector<int> counts(size_), displs(size_);
  std::vector<char> round_buf;
  for (uint64_t k = 0; k < rounds; ++k) {
    const uint64_t begin = k * chunk;
    auto part = [&](uint64_t n) { return n > begin ? std::min(chunk, n - begin) : uint64_t{0}; };
    const int my_count = static_cast<int>(part(mine.size()));
    int total = 0;
    if (root()) {
      for (int r = 0; r < size_; ++r) {
        counts[r] = static_cast<int>(part(sizes[r]));
        displs[r] = total;
        total += counts[r];
      }
      round_buf.resize(static_cast<size_t>(total));
    }
    MPI_Gatherv(my_count ? mine.data() + begin : nullptr, my_count, MPI_BYTE, round_buf.data(), counts.data(),
                displs.data(), MPI_BYTE, 0, c_);
    if (root())
      for (int r = 0; r < size_; ++r)
        if (counts[r]) std::memcpy(all[r].data() + begin, round_buf.data() + displs[r], static_cast<size_t>(counts[r]));
  }
  return all;
}

std::string check_slurm_size(int mpi_size) {
  const char* nt = std::getenv("SLURM_NTASKS");
  if (!nt || !*nt) return "";
  const long n = std::strtol(nt, nullptr, 10);
  if (n == mpi_size) return "";
  return "MPI size " + std::to_string(mpi_size) + " differs from SLURM_NTASKS=" + nt +
         ": launch with 'srun --mpi=pmix' (each task would otherwise run alone as rank 0)";
}

}  // namespace geoshard::mpi
