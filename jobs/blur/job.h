// The blur job on the engine (DESIGN.md "The imagery chain"; issue: imagery, item 8):
//
//   geoshard blur --images images.h5 --models models.toml --run RUN --out DIR
//
// Tasks are geohash cells of the image index weighted by megapixels (engine::plan_for_table over
// zkey + cum_mp). Each task, for each of its photos: decode, find regions (jobs/blur/anonymise.h),
// blur them, and write the output photo under DIR at the same relative path (JPEG: only the
// touched blocks re-encoded, every marker copied -- io/jpeg_region.h; PNG/TIFF: re-encoded
// losslessly), written to a temporary name and renamed. The task's shard holds every detection
// (image row, class, score, polygon in original pixels, view, model, model checksum) and every
// photo that could not be read (dead letters). Gather (write_audit) writes one JSON sidecar per
// photo beside its output (NAME.EXT.json) and DIR/blur-summary.json.
//
// Resume: a rerun reuses committed shards; their photos were written before the shard was
// committed (so a committed shard implies its outputs exist).
#pragma once

#include <map>
#include <vector>
#include <string>

#include "jobs/backend/backend.h"
#include "jobs/blur/anonymise.h"
#include "mpi/engine.h"

namespace geoshard::blur {

struct BlurJobOptions {
  std::string images, models, run_dir, out_dir;
  // Detectors to use instead of the models file (tests: an oracle detector). Not owned.
  std::vector<Detector*> detectors;
  AnonymiseOptions anonymise;
  engine::PlanOptions plan;
  bool progress = true;
  int threads = 0;  // OpenCV threads per rank; 0 = threads_per_rank(0, environment)
  // Photos of more megapixels are dead letters (IMAGE_TOO_LARGE) instead of being decoded: a
  // decoded photo takes 3 bytes per pixel several times over (1,800 MP would be ~20 GB). 0 = no cap.
  double max_megapixels = 250;
  // Blur the regions of up to this many megapixels of consecutive photos of a task in one
  // backend::blur_regions call (one GPU launch per wave), at least one photo per call; the
  // photos of a batch are held decoded together until it is written. Outputs do not depend on
  // it. 0 = one photo per call.
  double batch_megapixels = 0;
};
// What `geoshard blur --batch-mp auto` takes: 0 on the CPU (nothing to gain, less memory), 64 on
// a GPU (docs/cuda.md).
double default_batch_megapixels(const backend::Choice& backend);

// OpenCV threads per rank (decode, views, DNN): `flag` when > 0; else SLURM_CPUS_PER_TASK (a
// Slurm job's cores per task), else OMP_NUM_THREADS, else the machine's cores shared among the
// ranks of this node (OMPI_COMM_WORLD_LOCAL_SIZE under mpirun), at least 1. Values that are not
// positive integers are ignored. `why` (when not null) says where the count came from.
int threads_per_rank(int flag, const char* slurm_cpus_per_task, const char* omp_num_threads, const char* local_ranks,
                     int cores, std::string* why = nullptr);

// run_blur sets OpenCV's thread count from opt.threads (threads_per_rank with the process's
// environment) and logs it from rank 0.
engine::RunResult run_blur(engine::Engine& eng, const BlurJobOptions& opt);

struct AuditSummary {
  uint64_t images = 0, written = 0, with_detections = 0, dead = 0;
  std::map<std::string, uint64_t> detections;  // per class
  std::map<std::string, uint64_t> dead_reasons;
  std::string summary_path, dead_letter_path;
};

// Collective; rank 0 reads the shards in task order and writes the sidecars, the summary and
// the dead-letter file (DIR/blur.dead-letter.jsonl).
AuditSummary write_audit(engine::Engine& eng, const std::string& run_dir);

// FNV-1a 64 of a file's bytes as 16 hex digits (the model checksum in audits).
std::string file_checksum(const std::string& path);

}  // namespace geoshard::blur
