#include "mpi/comm.h"

#include <cstdlib>
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

std::string check_slurm_size(int mpi_size) {
  const char* nt = std::getenv("SLURM_NTASKS");
  if (!nt || !*nt) return "";
  const long n = std::strtol(nt, nullptr, 10);
  if (n == mpi_size) return "";
  return "MPI size " + std::to_string(mpi_size) + " differs from SLURM_NTASKS=" + nt +
         ": launch with 'srun --mpi=pmix' (each task would otherwise run alone as rank 0)";
}

}  // namespace geoshard::mpi
