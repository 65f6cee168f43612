// The `geoshard` command: one binary, one subcommand per job. Parses options (CLI11), runs
// the job, writes the run record, maps failures to documented exit codes. Logs go to stderr,
// results to files.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "apps/cost.h"
#include "apps/submit.h"
#include "io/run_record.h"
#include "jobs/backend/backend.h"
#include "jobs/ingest/ingest.h"
#include "io/area_table.h"
#include "io/coverage_table.h"
#include "io/output.h"
#include "io/road_table.h"
#include "jobs/blur/job.h"
#include "jobs/cover/cover.h"
#include "jobs/links/job.h"
#include "jobs/render/render.h"
#include "jobs/localise/job.h"
#include "jobs/synth/synth.h"
#include "mpi/comm.h"
#include "mpi/engine.h"
#include "mpi/progress.h"

namespace {

namespace fs = std::filesystem;
using geoshard::RunRecord;

enum ExitCode : int {
  kOk = 0,
  kFailed = 1,         // input or output error; the message names the file and record
  kUsage = 2,          // bad command line
  kTooManyBad = 3,     // dead letters exceed --max-bad-fraction; outputs were written
  kInterrupted = 4,    // graceful stop (SIGTERM/SIGUSR1): rerun to resume
  kInternal = 5,       // a bug: an invariant broke (please report)
};

const char* kFooter = R"(Exit codes:
  0  success
  1  failed: an input or output error (the message names the file and record)
  2  usage error (bad or missing options)
  3  too many bad records: the dead-letter fraction passed --max-bad-fraction
     (outputs and dead-letter file are written; the run record says why)
  4  interrupted by SIGTERM/SIGUSR1; rerun the same command to resume
  5  internal error (an invariant broke; please report with the run record)

Every command writes a JSON run record beside its output (<out>.run.json, or
<dir>/run.json for folders) and, with --report FILE, a copy to FILE. Records that
cannot be used go to a dead-letter file (JSON lines with a reason code).
Docs: docs/formats.md (file layouts), docs/run-record.md (record keys).)";

struct Common {
  std::string report;
  double max_bad_fraction = 0.05;
  bool quiet = false;
};

// --backend of every job: one value whichever subcommand runs, resolved once after parsing
// (jobs/backend/backend.h), logged by rank 0 and written into the run record.
std::string g_backend_text = "auto";
std::vector<CLI::App*> g_backend_apps;  // the subcommands that take --backend
std::optional<geoshard::backend::Choice> g_backend;
std::vector<std::string> g_backend_stages;  // the job's stages that run on the chosen backend

// The check of an option taking "auto" or a number in [0, max] (a whole one when `whole`);
// `what` names the number in the error.
std::function<std::string(const std::string&)> auto_or_number(double max, bool whole, std::string what) {
  return [=](const std::string& v) -> std::string {
    if (v == "auto") return {};
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    const bool ok = !v.empty() && *end == '\0' && x >= 0 && x <= max &&
                    (!whole || v.find_first_not_of("0123456789") == std::string::npos);
    return ok ? std::string() : "must be auto or " + what + ", got '" + v + "'";
  };
}

void add_common(CLI::App* c, Common& o, bool bad_fraction = true) {
  c->add_option("--backend", g_backend_text,
                "Compute backend: auto (the GPU when this binary has CUDA and a device is usable,\n"
                "else the CPU; the log and the run record say which and why), cpu, or cuda (an\n"
                "error when there is no GPU). Results are identical on either")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  g_backend_apps.push_back(c);
  c->add_option("--report", o.report, "Also write the JSON run record to this file");
  if (bad_fraction)
    c->add_option("--max-bad-fraction", o.max_bad_fraction,
                  "Fail (exit 3) when dead letters / records read exceeds this fraction")
        ->default_val(0.05)
        ->check(CLI::Range(0.0, 1.0));
  c->add_flag("-q,--quiet", o.quiet, "No progress lines on stderr");
}

std::vector<std::string> g_args;

// The record of the command in progress and where it goes, so that a failure still leaves a
// record (status "failed", the error) beside the intended output.
std::unique_ptr<RunRecord> g_record;
std::string g_record_path, g_report_path;

void record_backend(RunRecord& rec) {
  if (!g_backend) return;
  rec.extra()["backend"] = g_backend->name();
  rec.extra()["backend_reason"] = g_backend->reason;
  rec.extra()["backend_stages"] = g_backend_stages;
}

// This process is rank 0 of an MPI job, or not under MPI (the variables of Open MPI, PMIx, Slurm).
bool launcher_rank0() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (const char* r = std::getenv(v)) return std::string(r) == "0";
  return true;
}

void write_failure_record(const std::string& status, const std::string& error) {
  if (!g_record || g_record_path.empty()) return;
  try {
    record_backend(*g_record);
    g_record->set_status(status, error);
    const nlohmann::json j = g_record->finish();
    RunRecord::write(j, g_record_path);
    if (!g_report_path.empty()) RunRecord::write(j, g_report_path);
  } catch (const std::exception&) {
    // The output location itself may be the problem; the error message already says so.
  }
}

// Finishes a run: status, accounting, record files, bad-fraction verdict. Returns the exit code.
int finish_run(RunRecord& rec, const Common& c, const std::string& record_path, uint64_t in, uint64_t out,
               uint64_t dead, const std::map<std::string, uint64_t>& reasons, bool check_bad = true) {
  rec.set_accounting(in, out, dead, reasons);
  record_backend(rec);
  int code = kOk;
  if (check_bad && in > 0 && static_cast<double>(dead) / static_cast<double>(in) > c.max_bad_fraction) {
    const std::string why = std::to_string(dead) + " of " + std::to_string(in) +
                            " records are dead letters, more than --max-bad-fraction " + std::to_string(c.max_bad_fraction);
    rec.set_status("too_many_bad_records", why);
    std::fprintf(stderr, "geoshard: %s\n", why.c_str());
    code = kTooManyBad;
  }
  const nlohmann::json j = rec.finish();
  RunRecord::write(j, record_path);
  if (!c.report.empty()) RunRecord::write(j, c.report);
  return code;
}

void progress_cb(geoshard::ProgressMeter& m, uint64_t done, uint64_t total) { m.update(done, total); }

}  // namespace

int geoshard_main(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) g_args.emplace_back(argv[i]);
  CLI::App app{"geoshard " + RunRecord::version() + " (" + RunRecord::git_revision() +
               ") - distributed batch engine for hyperlocal maps:\n"
               "tags roads with the areas they lie in (exactly), finds intersection links, and\n"
               "anonymises street-level imagery. Runs as MPI ranks (mpirun / srun --mpi=pmix).\n\n"
               "Pipeline: synth -> ingest roads, ingest areas -> cover -> localise, links -> gather\n"
               "(map.gpkg; gather --links adds the intersection links) -> render (PNG quick-look).\n"
               "MPI commands (cover, localise, links, gather, blur) run under mpirun -np N / srun --mpi=pmix;\n"
               "alone they run as one rank. Under Slurm: the sbatch templates in slurm/, or\n"
               "'geoshard submit job.toml' for the whole pipeline (docs/slurm.md).",
               "geoshard"};
  app.footer(kFooter);
  app.require_subcommand(1);
  app.set_version_flag("--version", "geoshard " + RunRecord::version() + " " + RunRecord::git_revision());

  // ---- ingest ----
  CLI::App* ingest = app.add_subcommand("ingest", "Read OGR sources into geoshard's HDF5 tables");
  ingest->require_subcommand(1);
  ingest->footer(kFooter);

  geoshard::ingest::RoadOptions ro;
  Common rc;
  CLI::App* roads = ingest->add_subcommand(
      "roads",
      "Lines from any OGR source (.osm.pbf, GeoPackage, GeoJSON, FlatGeobuf, Shapefile...) -> roads.h5:\n"
      "columnar, rows sorted by the Z-order key of the first vertex, cumulative road-km.\n"
      "OSM: the 'lines' layer, ways with a highway tag; oneway, maxspeed and name:<lang> from other_tags.\n"
      "Other sources: fields named id, highway, name, oneway, maxspeed are used when present\n"
      "(or the --*-field options); fields 'name:<lang>' become name variants.");
  roads->add_option("--in", ro.in, "Source (any OGR vector source)")->required();
  roads->add_option("--out", ro.out, "Output road table (HDF5)")->required();
  roads->add_option("--layer", ro.layer, "Layer of the source (default: 'lines' for OSM, else the first)");
  roads->add_option("--where", ro.where, "OGR SQL attribute filter (default for OSM: \"highway IS NOT NULL\")");
  roads->add_option("--id-field", ro.id_field,
                    "Integer id field (default: 'id' if present, else the feature id). The field options are for "
                    "non-OSM sources: an .osm.pbf is read from the OSM driver's fixed fields");
  roads->add_option("--class-field", ro.class_field, "Road class field (default: 'highway' if present)");
  roads->add_option("--name-field", ro.name_field, "Name field (default: 'name' if present)");
  roads->add_option("--oneway-field", ro.oneway_field, "Oneway field: yes/no/-1/true/false (default: 'oneway')");
  roads->add_option("--maxspeed-field", ro.maxspeed_field, "Max speed field, OSM syntax (default: 'maxspeed')");
  roads->add_option("--keep", ro.keep, "Extra field to carry as a string column (repeatable)");
  roads->add_option("--dead-letter", ro.dead_letter, "Dead-letter file (default: <out>.dead-letter.jsonl)");
  add_common(roads, rc);
  roads->footer(kFooter);

  geoshard::ingest::AreaOptions ao;
  Common ac;
  std::string spec_path;
  geoshard::ingest::AreaLayerSpec one;
  CLI::App* areas = ingest->add_subcommand(
      "areas",
      "Area polygons -> areas.h5, one group per layer. Invalid polygons are repaired with GEOS\n"
      "make-valid (counted and listed in the run record); rings are closed and oriented.\n"
      "Either --spec areas.toml (several layers) or the one-layer shorthand --in/--layer/--id-field.\n\n"
      "Spec format (sources relative to the spec file; unknown keys are errors):\n"
      "  [[layer]]\n"
      "  name = \"country\"                 # layer name used downstream\n"
      "  source = \"countries.geojson\"     # any OGR source\n"
      "  source_layer = \"\"                # optional: layer inside the source\n"
      "  where = \"\"                       # optional OGR SQL attribute filter\n"
      "  id_field = \"ADM0_A3\"             # stable id of each area\n"
      "  name_field = \"NAME\"\n"
      "  keep = [\"ISO_A2\"]                # optional extra fields\n"
      "OSM boundaries: source_layer = \"multipolygons\", where = \"boundary='administrative' AND admin_level='8'\".");
  auto* spec_opt = areas->add_option("--spec", spec_path, "Area spec (TOML)");
  auto* in_opt = areas->add_option("--in", one.source, "One-layer shorthand: the source");
  areas->add_option("--layer", one.name, "One-layer shorthand: the layer name to give it")->needs(in_opt);
  areas->add_option("--source-layer", one.source_layer, "One-layer shorthand: layer inside the source")->needs(in_opt);
  areas->add_option("--id-field", one.id_field, "One-layer shorthand: id field")->needs(in_opt);
  areas->add_option("--name-field", one.name_field, "One-layer shorthand: name field")->needs(in_opt);
  areas->add_option("--where", one.where, "One-layer shorthand: OGR SQL filter")->needs(in_opt);
  areas->add_option("--keep", one.keep, "One-layer shorthand: extra field (repeatable)")->needs(in_opt);
  spec_opt->excludes(in_opt);
  areas->add_option("--out", ao.out, "Output area table (HDF5)")->required();
  areas->add_option("--dead-letter", ao.dead_letter, "Dead-letter file (default: <out>.dead-letter.jsonl)");
  add_common(areas, ac);
  areas->footer(kFooter);

  geoshard::ingest::ImageOptions io;
  Common ic;
  CLI::App* images = ingest->add_subcommand(
      "images",
      "Photos -> images.h5: one row per photo (path, location, size, megapixels, projection, field of\n"
      "view, heading, capture time, EXIF orientation), sorted by the geohash of the capture point and\n"
      "weighted by megapixels, so the engine plans image tasks by geohash density. Photos without a\n"
      "location sort last and form a task of their own.\n"
      "--in DIR: every .jpg/.jpeg/.png/.tif/.tiff below DIR; location from EXIF GPS, projection from\n"
      "  XMP GPano (ProjectionType=equirectangular, cropped-area fields), else 2:1 = equirect.\n"
      "--manifest FILE: CSV with a header row, or JSON lines (.jsonl), columns/keys\n"
      "  path (required, relative to the manifest), lat, lon, captured_at, heading, projection\n"
      "  (equirect|perspective|fisheye), hfov (degrees); given values win over the photo's metadata.\n"
      "Missing files, unreadable images and bad manifest rows go to the dead letters.");
  auto* img_in = images->add_option("--in", io.in, "Folder of photos (scanned recursively)");
  auto* img_manifest = images->add_option("--manifest", io.manifest, "Manifest (.csv with header, or .jsonl)");
  img_in->excludes(img_manifest);
  images->add_option("--out", io.out, "Output image index (HDF5)")->required();
  images->add_option("--dead-letter", io.dead_letter, "Dead-letter file (default: <out>.dead-letter.jsonl)");
  add_common(images, ic);
  images->footer(kFooter);

  // ---- synth ----
  geoshard::synth::SynthOptions so;
  Common sc;
  CLI::App* synth = app.add_subcommand(
      "synth",
      "Write a deterministic synthetic region that looks like Southeast Asia's data: countries with\n"
      "fractal borders, an enclave, provinces, cities with dense street grids, sparse countryside,\n"
      "gated communities, named roads, one-way streets, dual carriageways with U-turn connectors\n"
      "(flagged gt_intersection_link). Writes DIR/areas.gpkg, DIR/areas.toml (ready for\n"
      "'ingest areas --spec'), DIR/roads.fgb and DIR/run.json.");
  synth->add_option("--segments", so.segments, "Number of road segments (vertex pairs) to write")->default_val(100000)
      ->check(CLI::Range(uint64_t{100}, uint64_t{2000000000}));
  synth->add_option("--seed", so.seed, "Random seed (same seed and size -> same region)")->default_val(1);
  synth->add_option("--out", so.out_dir, "Output folder (created if missing)")->required();
  synth->add_flag("--overwrite", so.overwrite, "Replace existing outputs in the folder");
  add_common(synth, sc, false);
  synth->footer(kFooter);

  // ---- cover ----
  std::string cov_areas, cov_out;
  std::vector<std::string> cov_layers;
  geoshard::cover::CoverOptions cov_opt;
  bool cov_no_merge = false;
  Common cc;
  CLI::App* cover = app.add_subcommand(
      "cover",
      "For every area layer, the grid cells its areas touch (geohash, or S2 with --grid s2):\n"
      "INTERIOR cells (wholly inside an area, decided exactly with GEOS) and BOUNDARY cells carrying\n"
      "the area clipped to the cell, stored as sorted disjoint key intervals (Z-order keys or S2\n"
      "leaf ids; one binary search per lookup).\n"
      "MPI-parallel over areas (balanced by vertex count); rank 0 writes coverage.h5.");
  cover->add_option("--areas", cov_areas, "Area table from 'ingest areas'")->required();
  cover->add_option("--out", cov_out, "Output coverage table (HDF5)")->required();
  cover->add_option("--grid", cov_opt.grid,
                    "Cell grid of the index: geohash (Z-order) or s2 (S2 cells, Hilbert order; used as an\n"
                    "exact, conservative index: results equal geohash's, see docs/localise.md)")
      ->default_val("geohash")->check(CLI::IsMember({"geohash", "s2"}));
  std::optional<int> cov_precision;
  cover->add_option("--precision", cov_precision,
                    "Precision of boundary cells: geohash 1-12 (default 7, ~150 m); s2: the S2 level\n"
                    "1-30 (default 16, ~150 m)")
      ->check(CLI::Range(1, 30));
  cover->add_option("--layer", cov_layers, "Layer to cover (repeatable; default: all)");
  cover->add_flag("--no-merge", cov_no_merge, "Do not merge adjacent interior intervals (for benchmarks)");
  std::string cov_dead;
  cover->add_option("--dead-letter", cov_dead,
                    "Dead-letter file for areas that cannot be covered: invalid polygon, bad coordinates\n"
                    "(default: <out>.dead-letter.jsonl)");
  add_common(cover, cc);
  cover->footer(kFooter);

  // ---- plan ----
  std::string plan_roads, plan_json;
  int plan_ranks = 1;
  size_t plan_rows = 40;
  geoshard::engine::PlanOptions plan_opt;
  CLI::App* plan = app.add_subcommand(
      "plan",
      "Print the plan the engine would run for R ranks without running it: tasks are geohash\n"
      "cells weighted by road-km (hot cells split finer), cut into contiguous runs of the curve,\n"
      "one per rank, minimising the largest load. Shows load per rank and max/mean imbalance.");
  plan->add_option("--roads", plan_roads, "Road table from 'ingest roads'")->required();
  plan->add_option("--ranks", plan_ranks, "Number of ranks (1-100000)")->required()->check(CLI::Range(1, 100000));
  plan->add_option("--partition-precision", plan_opt.partition_precision, "Geohash precision of base tasks")
      ->capture_default_str()->check(CLI::Range(1, 12));
  plan->add_option("--max-task-fraction", plan_opt.max_task_fraction,
                   "Split cells heavier than this fraction of a rank's share")->capture_default_str()->check(CLI::Range(0.001, 1.0));
  plan->add_option("--cost-from", plan_opt.cost_from,
                   "Weigh tasks by the seconds measured in this earlier run folder of the same table\n"
                   "(instead of road-km)");
  plan->add_option("--rows", plan_rows, "Ranks to list in the table (first and last; 0 = all)")->default_val(40);
  plan->add_option("--json", plan_json, "Also write the plan report as JSON to this file");
  plan->footer(kFooter);

  // ---- localise ----
  geoshard::localise::JobOptions lo;
  std::string lo_out;
  Common lc;
  CLI::App* localise = app.add_subcommand(
      "localise",
      "Tag every road with the areas it lies in, per layer, with the geodesic metres inside each,\n"
      "exactly (equal to a GEOS intersection): segments are walked through the coverage cells;\n"
      "interior cells assign at once, boundary cells clip against the area clipped to the cell.\n"
      "Runs on the engine: tasks by road-km, one shard per task in RUN/shards, resumable.\n"
      "With --out, also gathers the map (same as 'geoshard gather').");
  localise->add_option("--roads", lo.roads, "Road table from 'ingest roads'")->required();
  localise->add_option("--coverage", lo.coverage, "Coverage from 'cover'")->required();
  localise->add_option("--run", lo.run_dir, "Run folder (shards, plan, run record); rerun to resume")->required();
  localise->add_option("--rules", lo.rules, "Rules CSV (default: the table shipped with geoshard)");
  localise->add_option("--layer", lo.layers, "Layer to localise against (repeatable; default: all)");
  localise->add_option("--partition-precision", lo.plan.partition_precision, "Geohash precision of base tasks")
      ->capture_default_str()->check(CLI::Range(1, 12));
  localise->add_option("--max-task-fraction", lo.plan.max_task_fraction,
                       "Split cells heavier than this fraction of a rank's share")->capture_default_str()->check(CLI::Range(0.001, 1.0));
  localise->add_option("--cost-from", lo.plan.cost_from,
                       "Weigh tasks by the seconds measured in this earlier localise run folder of the same\n"
                       "roads (balances by time where borders make some road-km costlier)");
  std::string lo_group = "auto";
  localise->add_option("--group-rows", lo_group,
                       "Localise up to this many road rows of consecutive tasks in one call, so that the\n"
                       "boundary cells' GPU batches span tasks (each task keeps its own shard, identical\n"
                       "whatever this is; resuming with another value is fine). 0 = one task per call.\n"
                       "auto = 0 on the CPU (each shard then records its own task's time for --cost-from),\n"
                       "100000 on a GPU (docs/cuda.md: boundary-cell batches of ~56 K cut jobs + edges, not ~12 K)")
      ->capture_default_str()
      ->check(auto_or_number(1e12, true, "a whole number of rows"));
  localise->add_option("--batch", lo.batch,
                       "Boundary-cell batch size: cut jobs + edges queued before the segment cuts and\n"
                       "point-in-polygon tests run as one call (one GPU launch each); 0 = 65536. The\n"
                       "results do not depend on it")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 32));
  localise->add_option("--out", lo_out, "Also write the map (GeoPackage) here");
  std::string lo_fgb;
  localise->add_option("--fgb", lo_fgb, "With --out: also write the roads layer as FlatGeobuf here");
  std::string lo_links;
  localise->add_option("--links", lo_links, "With --out: add the columns of this 'geoshard links' run (see gather)");
  add_common(localise, lc);
  localise->footer(kFooter);

  // ---- gather ----
  geoshard::localise::MapOptions mo;
  Common gc;
  CLI::App* gather = app.add_subcommand(
      "gather",
      "Read the committed shards of a localise run in task order and write map.gpkg: layer\n"
      "'roads' (geometry, road attributes, per layer L the columns L_id, L_name, L_share of the\n"
      "primary area, country, driving_side, languages, speed_limit_kmh, access_notes,\n"
      "display_name) and table 'road_areas' (road_id, part, layer, area_id, length_m).\n"
      "With --links RUN2 (a 'geoshard links' run on the same roads), 'roads' also gets\n"
      "intersection_link (0/1) and link_carriageways (the two road ids, \"a;b\").");
  gather->add_option("--run", mo.run_dir, "Run folder of 'geoshard localise'")->required();
  gather->add_option("--links", mo.links_run, "Run folder of 'geoshard links' on the same roads: adds its columns");
  gather->add_option("--out", mo.out, "Output map (GeoPackage)")->required();
  gather->add_option("--fgb", mo.fgb, "Also write the roads layer as FlatGeobuf (with spatial index) here");
  gather->add_option("--rules", mo.rules, "Rules CSV (default: the one the run used, else the shipped table)");
  gather->add_option("--country-layer", mo.country_layer, "Layer whose primary area is the country")->default_val("country");
  gather->add_option("--urban-layer", mo.urban_layer, "Layer whose areas are urban (speed defaults)")->default_val("city");
  add_common(gather, gc, false);
  gather->footer(kFooter);

  // ---- links ----
  geoshard::links::JobOptions lk;
  std::string lk_out;
  bool lk_links_only = false;
  Common lkc;
  CLI::App* links = app.add_subcommand(
      "links",
      "Find intersection links: short roads joining the two one-way, anti-parallel, same-named\n"
      "carriageways of a dual carriageway (U-turn connectors). Per task, the task's roads plus a\n"
      "halo (rows of the neighbourhood read through the sorted table) form the graph; a task\n"
      "classifies only the roads it owns, so each link is reported once at any rank count.\n"
      "Runs on the engine: shards in RUN/shards (intersection_link, link_carriageways), resumable.\n"
      "With --out, writes a CSV (row,id,part,intersection_link,link_carriageways[,gt_intersection_link])\n"
      "and, when the table has ground truth, precision and recall. Rule and defaults: docs/links.md.");
  links->add_option("--roads", lk.roads, "Road table from 'ingest roads'")->required();
  links->add_option("--run", lk.run_dir, "Run folder (shards, plan, run record); rerun to resume")->required();
  links->add_option("--out", lk_out, "Write the per-road result as CSV here");
  links->add_flag("--links-only", lk_links_only, "With --out: write only the rows that are links");
  links->add_option("--max-link-m", lk.links.max_link_m, "Longest link (geodesic metres)")->capture_default_str();
  links->add_option("--max-gap-m", lk.links.max_gap_m, "Widest gap between the carriageways (metres)")->capture_default_str();
  links->add_option("--min-gap-m", lk.links.min_gap_m, "Narrowest gap between the carriageways (metres)")->capture_default_str();
  links->add_option("--antiparallel-tol-deg", lk.links.antiparallel_tol_deg,
                    "Carriageway directions must be 180 deg apart within this")->capture_default_str()->check(CLI::Range(0.0, 90.0));
  links->add_option("--min-meet-angle-deg", lk.links.min_meet_angle_deg,
                    "Smallest angle between the link and each carriageway")->capture_default_str()->check(CLI::Range(0.0, 90.0));
  links->add_option("--halo-m", lk.halo_m,
                    "Widen each task's cell by this many metres for the halo (default: measured from the\n"
                    "table so that the result is exact; see docs/links.md)");
  links->add_option("--long-reach-m", lk.long_reach_m,
                    "Auto halo: one-way named ways reaching farther than this from their first vertex are\n"
                    "listed once for all tasks instead of widening every task's halo (0 = never)")->capture_default_str();
  links->add_option("--partition-precision", lk.plan.partition_precision, "Geohash precision of base tasks")
      ->capture_default_str()->check(CLI::Range(1, 12));
  links->add_option("--max-task-fraction", lk.plan.max_task_fraction,
                    "Split cells heavier than this fraction of a rank's share")->capture_default_str()->check(CLI::Range(0.001, 1.0));
  add_common(links, lkc, false);
  links->footer(kFooter);

  // ---- render ----
  geoshard::render::RenderOptions rdo;
  std::vector<double> rd_bbox;
  CLI::App* render = app.add_subcommand(
      "render",
      "PNG quick-look of a box of map.gpkg: roads coloured by their primary area of a layer, area\n"
      "borders (with --areas), intersection links in magenta and their carriageways outlined in\n"
      "orange (maps gathered with --links), a legend, a scale bar. Opens in any image viewer.\n"
      "Default view: the whole map. docs/render.md.");
  render->add_option("--map", rdo.map, "map.gpkg from 'geoshard gather'")->required();
  render->add_option("--out", rdo.out, "Output PNG")->required();
  render->add_option("--areas", rdo.areas, "areas.h5: also draw the borders of --layer");
  render->add_option("--layer", rdo.layer, "Area layer colouring the roads (default: the map's first)");
  CLI::Option* rd_bb = render->add_option("--bbox", rd_bbox, "The view: MIN_LON,MIN_LAT,MAX_LON,MAX_LAT")
                           ->delimiter(',')->expected(4);
  CLI::Option* rd_ar = render->add_option("--around", rdo.around_roads, "The view: around these road ids (ID[,ID...])")
                           ->delimiter(',');
  rd_bb->excludes(rd_ar);
  render->add_option("--around-m", rdo.around_m, "Margin around the --around roads (metres)")->capture_default_str();
  render->add_option("--width", rdo.width, "Image width in pixels")->capture_default_str()->check(CLI::Range(64, 20000));
  render->add_flag("--label-links", rdo.label_links, "Label links and their carriageways: id, highway, name, oneway");
  render->footer(kFooter);

  // ---- submit ----
  std::string sub_file, sub_slurm;
  bool sub_dry = false;
  CLI::App* submitc = app.add_subcommand(
      "submit",
      "Submit the whole pipeline from a job file (TOML) as Slurm batch jobs chained with\n"
      "--dependency=afterok: synth (or real inputs) -> ingest roads, ingest areas -> cover ->\n"
      "localise, links -> gather (map.gpkg). Prints each step's job id; a failed step cancels the\n"
      "rest. Example: slurm/examples/synthetic.toml; keys: docs/slurm.md.");
  submitc->add_option("job_file", sub_file, "Job file (TOML); relative paths in it are relative to it")->required();
  submitc->add_option("--slurm-dir", sub_slurm,
                      "Folder of the sbatch templates (default: $GEOSHARD_SLURM, else slurm/ of the source tree\n"
                      "this binary was built in)");
  submitc->add_flag("--dry-run", sub_dry, "Print the sbatch commands, submit nothing");
  submitc->footer(kFooter);

  // ---- cost ----
  std::string cost_points, cost_prices, cost_out, cost_deadline;
  double cost_headroom = 1.25;
  CLI::App* costc = app.add_subcommand(
      "cost",
      "Cost-vs-runtime study: price every measured configuration (bench/cost/run.sh writes them:\n"
      "machine shape, grid and partition precision, wall time, peak memory per rank) on every\n"
      "machine type of a price table that can hold it (cores, memory, GPUs), as node-hours x price.\n"
      "Writes OUT/options.csv, OUT/pareto.csv (runtime vs cost front) and OUT/summary.txt, and\n"
      "prints the cheapest configuration that meets --deadline. docs/cost.md.");
  costc->add_option("--points", cost_points, "Measured configurations (CSV; columns in docs/cost.md)")->required();
  costc->add_option("--prices", cost_prices, "Price table (TOML), e.g. bench/cost/prices-aws-example.toml")->required();
  costc->add_option("--out", cost_out, "Output folder (created)")->required();
  costc->add_option("--deadline", cost_deadline, "Deadline: 90, 90s, 15m, 1.5h, 1h30m or HH:MM:SS");
  costc->add_option("--memory-headroom", cost_headroom, "Machine memory needed = ranks x peak RSS x this")
      ->capture_default_str()->check(CLI::Range(1.0, 100.0));
  costc->footer(kFooter);

  // ---- blur ----
  geoshard::blur::BlurJobOptions bo;
  Common bc;
  std::string blur_mode = "gaussian";
  CLI::App* blurc = app.add_subcommand(
      "blur",
      "Find and blur every face and licence plate in the photos of an image index (from 'ingest\n"
      "images'), on the engine: tasks by geohash cell weighted by megapixels, one shard per task,\n"
      "resumable. 360-degree photos are searched in overlapping perspective views (every object up\n"
      "to --overlap degrees lies wholly in one view; zenith and nadir included); boxes are mapped\n"
      "back densely, grown by --grow, faces blurred as ellipses, plates as quads. Outputs mirror the\n"
      "input tree under --out: JPEGs re-encode only the 8x8 blocks a region touches (every other\n"
      "block and every metadata segment is copied), PNG/TIFF are re-encoded losslessly. Writes\n"
      "NAME.EXT.json beside each output (detections, polygons in original pixels, model and\n"
      "checksum), --out/blur-summary.json and --out/blur.dead-letter.jsonl.");
  blurc->add_option("--images", bo.images, "Image index from 'ingest images'")->required();
  blurc->add_option("--models", bo.models, "Models file (TOML; default: the shipped jobs/blur/models/default.toml)");
  blurc->add_option("--run", bo.run_dir, "Run folder (shards, plan, run record); rerun to resume")->required();
  blurc->add_option("--out", bo.out_dir, "Output folder (mirrors the input tree)")->required();
  blurc->add_option("--mode", blur_mode, "gaussian (irreversible, strength by region size), pixelate or solid")
      ->check(CLI::IsMember({"gaussian", "pixelate", "solid"}))->capture_default_str();
  blurc->add_option("--fov", bo.anonymise.view_fov_deg, "Field of view of the 360-degree views (degrees)")->capture_default_str();
  blurc->add_option("--overlap", bo.anonymise.view_overlap_deg, "Overlap of the views (degrees): the largest object kept whole")->capture_default_str();
  blurc->add_option("--threads", bo.threads,
                    "OpenCV threads per rank (default: SLURM_CPUS_PER_TASK, else OMP_NUM_THREADS, else the\n"
                    "node's cores shared among its ranks)")->check(CLI::Range(1, 100000));
  blurc->add_option("--max-megapixels", bo.max_megapixels,
                    "Photos larger than this are dead letters (IMAGE_TOO_LARGE), not decoded (0 = no cap)")
      ->capture_default_str()->check(CLI::Range(0.0, 1e6));
  std::string blur_batch = "auto";
  blurc->add_option("--batch-mp", blur_batch,
                    "Blur the regions of consecutive photos, up to this many megapixels, in one call (one\n"
                    "GPU launch per wave; outputs do not depend on it). 0 = one photo per call.\n"
                    "auto = 0 on the CPU, 64 on a GPU")
      ->capture_default_str()
      ->check(auto_or_number(1e6, false, "megapixels in [0, 1e6]"));
  blurc->add_option("--grow", bo.anonymise.grow, "Grow every box by this factor per side before blurring")->capture_default_str();
  blurc->add_option("--cost-from", bo.plan.cost_from,
                    "Weigh tasks by the seconds they took in this earlier blur run of the same images.h5\n"
                    "(default: the megapixels the detectors will search per photo)");
  blurc->add_option("--partition-precision", bo.plan.partition_precision, "Geohash precision of base tasks")
      ->capture_default_str()->check(CLI::Range(1, 12));
  add_common(blurc, bc);
  blurc->footer(kFooter);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  for (CLI::App* c : g_backend_apps) {
    if (!c->parsed()) continue;
    try {
      g_backend = geoshard::backend::resolve(geoshard::backend::parse_request(g_backend_text));
    } catch (const std::exception& e) {
      const std::string name = (c->get_parent() && c->get_parent()->get_parent() ? c->get_parent()->get_name() + " " : "") + c->get_name();
      std::fprintf(stderr, "geoshard %s: error: %s\n", name.c_str(), e.what());
      return kFailed;
    }
    if (launcher_rank0()) std::fprintf(stderr, "[geoshard] backend: %s (%s)\n", g_backend->name(), g_backend->reason.c_str());
    break;
  }
  if (cover->parsed()) {
    // --precision is the geohash precision (1-12) or the S2 level (1-30); defaults ~150 m cells.
    if (cov_opt.grid == "geohash" && cov_precision && *cov_precision > 12) {
      std::fprintf(stderr, "geoshard cover: --precision %d is outside 1..12 for --grid geohash\n", *cov_precision);
      return kUsage;
    }
    cov_opt.precision = cov_precision ? *cov_precision : (cov_opt.grid == "s2" ? 16 : 7);
  }

  try {
    if (images->parsed()) {
      if (io.in.empty() == io.manifest.empty()) {
        std::fprintf(stderr, "geoshard ingest images: give --in DIR or --manifest FILE\n");
        return kUsage;
      }
      g_record = std::make_unique<RunRecord>("ingest images", g_args);
      g_record_path = io.out + ".run.json";
      g_report_path = ic.report;
      geoshard::ProgressMeter pm("ingest images", "images", 2.0, !ic.quiet);
      io.progress = [&](uint64_t d, uint64_t t) { progress_cb(pm, d, t); };
      io.backend = *g_backend;
      g_backend_stages = {"sort keys (zkey_batch)"};
      const auto s = geoshard::ingest::ingest_images(io);
      pm.finish(s.acc.records_in);
      g_record->extra()["output"] = io.out;
      g_record->extra()["ingest"] = s.to_json();
      if (!ic.quiet)
        std::fprintf(stderr, "[ingest images] %llu images (%llu located, %llu equirect, %.1f MP) -> %s; %llu dead letters\n",
                     (unsigned long long)s.rows, (unsigned long long)s.located, (unsigned long long)s.equirect, s.megapixels,
                     io.out.c_str(), (unsigned long long)s.acc.dead_letter_total);
      return finish_run(*g_record, ic, g_record_path, s.acc.records_in, s.acc.records_out, s.acc.dead_letter_total,
                        s.acc.dead_letter);
    }
    if (roads->parsed()) {
      g_record = std::make_unique<RunRecord>("ingest roads", g_args);
      RunRecord& rec = *g_record;
      g_record_path = ro.out + ".run.json";
      g_report_path = rc.report;
      geoshard::ProgressMeter pm("ingest roads", "features", 2.0, !rc.quiet);
      ro.progress = [&](uint64_t d, uint64_t t) { progress_cb(pm, d, t); };
      ro.backend = *g_backend;
      g_backend_stages = {"sort keys (zkey_batch)"};
      auto s = geoshard::ingest::ingest_roads(ro);
      pm.finish(s.acc.records_in);
      rec.extra()["input"] = ro.in;
      rec.extra()["output"] = ro.out;
      rec.extra()["ingest"] = s.to_json();
      if (!rc.quiet)
        std::fprintf(stderr, "[ingest roads] %llu roads (%llu rows, %llu segments, %.1f road-km) -> %s; %llu dead letters\n",
                     (unsigned long long)s.acc.records_out, (unsigned long long)s.rows,
                     (unsigned long long)s.segments, s.road_km, ro.out.c_str(),
                     (unsigned long long)s.acc.dead_letter_total);
      return finish_run(rec, rc, ro.out + ".run.json", s.acc.records_in, s.acc.records_out, s.acc.dead_letter_total,
                        s.acc.dead_letter);
    }
    if (areas->parsed()) {
      g_record = std::make_unique<RunRecord>("ingest areas", g_args);
      RunRecord& rec = *g_record;
      g_record_path = ao.out + ".run.json";
      g_report_path = ac.report;
      if (!spec_path.empty()) {
        ao.layers = geoshard::ingest::read_area_spec(spec_path);
      } else if (!one.source.empty()) {
        if (one.name.empty() || one.id_field.empty()) {
          std::fprintf(stderr, "geoshard ingest areas: --in needs --layer and --id-field\n");
          return kUsage;
        }
        ao.layers = {one};
      } else {
        std::fprintf(stderr, "geoshard ingest areas: give --spec FILE or --in SRC --layer NAME --id-field F\n");
        return kUsage;
      }
      geoshard::ProgressMeter pm("ingest areas", "features", 2.0, !ac.quiet);
      ao.progress = [&](uint64_t d, uint64_t t) { progress_cb(pm, d, t); };
      auto s = geoshard::ingest::ingest_areas(ao);
      pm.finish(s.acc.records_in);
      rec.extra()["output"] = ao.out;
      if (!spec_path.empty()) rec.extra()["spec"] = spec_path;
      rec.extra()["ingest"] = s.to_json();
      if (!ac.quiet)
        for (const auto& l : s.layers)
          std::fprintf(stderr, "[ingest areas] layer %s: %llu areas (%llu repaired), %llu dead letters\n", l.name.c_str(),
                       (unsigned long long)l.acc.records_out, (unsigned long long)l.acc.repaired,
                       (unsigned long long)l.acc.dead_letter_total);
      return finish_run(rec, ac, ao.out + ".run.json", s.acc.records_in, s.acc.records_out, s.acc.dead_letter_total,
                        s.acc.dead_letter);
    }
    if (plan->parsed()) {
      const auto p = geoshard::engine::plan_for_roads(plan_roads, plan_ranks, plan_opt);
      std::printf("%s", geoshard::engine::plan_table(p, plan_rows, plan_opt.cost_from.empty() ? "road-km" : "s (measured)").c_str());
      if (!plan_json.empty()) {
        geoshard::write_atomically(plan_json, [&](const std::string& tmp) {
          std::FILE* f = std::fopen(tmp.c_str(), "w");
          if (!f) throw std::runtime_error("cannot write '" + plan_json + "'");
          const std::string j = geoshard::engine::plan_report(p).dump(2) + "\n";
          std::fwrite(j.data(), 1, j.size(), f);
          if (std::fclose(f) != 0) throw std::runtime_error("cannot write '" + plan_json + "'");
        });
      }
      return kOk;
    }
    if (submitc->parsed()) {
      const auto job = geoshard::submit::read_job_file(sub_file);
      const fs::path exe = fs::canonical("/proc/self/exe");
      if (sub_slurm.empty() && std::getenv("GEOSHARD_SLURM")) sub_slurm = std::getenv("GEOSHARD_SLURM");
      if (sub_slurm.empty()) {
        for (const fs::path& c : {exe.parent_path() / "../../slurm", exe.parent_path() / "../share/geoshard/slurm",
                                  fs::path(GEOSHARD_SOURCE_DIR) / "slurm"})
          if (fs::exists(c / "step.sh")) {
            sub_slurm = fs::canonical(c).string();
            break;
          }
      }
      if (sub_slurm.empty() || !fs::exists(fs::path(sub_slurm) / "step.sh"))
        throw std::runtime_error("no sbatch templates found (slurm/step.sh): give --slurm-dir");
      const std::string bin = job.geoshard.empty() ? exe.string() : job.geoshard;
      const auto ids = geoshard::submit::submit(job, fs::absolute(sub_slurm).string(), bin, sub_dry, stderr);
      for (const auto& s : ids) std::printf("%s\t%s\n", s.step.c_str(), s.job_id.c_str());
      return kOk;
    }
    if (costc->parsed()) {
      std::optional<double> deadline;
      if (!cost_deadline.empty()) deadline = geoshard::cost::parse_duration(cost_deadline);
      const auto study = geoshard::cost::evaluate(geoshard::cost::read_points(cost_points),
                                                  geoshard::cost::read_price_table(cost_prices), cost_headroom);
      fs::create_directories(cost_out);
      geoshard::cost::write_outputs(study, cost_out, deadline);
      std::printf("%s", geoshard::cost::summary(study, deadline).c_str());
      std::fprintf(stderr, "[cost] %s/options.csv, pareto.csv, summary.txt\n", cost_out.c_str());
      return kOk;
    }
    if (render->parsed()) {
      if (rd_bbox.size() == 4) {
        rdo.has_bbox = true;
        rdo.min_lon = rd_bbox[0];
        rdo.min_lat = rd_bbox[1];
        rdo.max_lon = rd_bbox[2];
        rdo.max_lat = rd_bbox[3];
      }
      const auto s = geoshard::render::render_map(rdo);
      std::fprintf(stderr, "[render] %llu roads (%llu links, %llu carriageways), %llu areas, layer '%s', view %.6f,%.6f,%.6f,%.6f -> %s (%dx%d)\n",
                   (unsigned long long)s.roads_drawn, (unsigned long long)s.links_drawn,
                   (unsigned long long)s.carriageways_drawn, (unsigned long long)s.areas_drawn, s.layer.c_str(), s.min_lon,
                   s.min_lat, s.max_lon, s.max_lat, s.out.c_str(), s.width, s.height);
      return kOk;
    }
    // SIGUSR1 (Slurm's warning before a time limit) outside the engine's run must not kill a
    // rank: the engine handles it while tasks run (finish, commit, exit 4); before and after,
    // there is nothing to stop.
    if (blurc->parsed() || localise->parsed() || cover->parsed() || gather->parsed()) std::signal(SIGUSR1, SIG_IGN);
    if (blurc->parsed()) {
      geoshard::mpi::Environment env(&argc, &argv);
      geoshard::mpi::Comm comm;
      try {
        const std::string why = geoshard::mpi::check_slurm_size(comm.size());
        if (!why.empty()) throw std::runtime_error(why);
        if (comm.root()) {
          std::filesystem::create_directories(bo.run_dir);
          g_record = std::make_unique<RunRecord>("blur", g_args);
          g_record_path = (std::filesystem::path(bo.run_dir) / "blur.run.json").string();
          g_report_path = bc.report;
          std::filesystem::create_directories(bo.out_dir);
          geoshard::check_output_writable((std::filesystem::path(bo.out_dir) / "blur-summary.json").string());
        }
        bo.anonymise.blur.mode = blur_mode == "solid" ? geoshard::blur::Mode::kSolid
                                 : blur_mode == "pixelate" ? geoshard::blur::Mode::kPixelate
                                                           : geoshard::blur::Mode::kGaussian;
        bo.progress = !bc.quiet;
        bo.anonymise.backend = *g_backend;
        bo.batch_megapixels = blur_batch == "auto" ? geoshard::blur::default_batch_megapixels(*g_backend) : std::stod(blur_batch);
        g_backend_stages = {"view projection (render_equirect_views, render_camera_views)", "region blur (blur_regions)"};
        geoshard::engine::Engine eng(comm);
        const auto res = geoshard::blur::run_blur(eng, bo);
        if (res.interrupted) {
          if (comm.root()) {
            g_record->extra()["engine"] = res.record;
            g_record->set_status("interrupted", "stopped by a signal; rerun the same command to resume");
            finish_run(*g_record, bc, g_record_path, 0, 0, 0, {}, false);
          }
          return kInterrupted;
        }
        const auto a = geoshard::blur::write_audit(eng, bo.run_dir);
        if (!comm.root()) return kOk;
        g_record->extra()["engine"] = res.record;
        g_record->extra()["blur"] = {{"images", a.images}, {"written", a.written}, {"with_detections", a.with_detections},
                                     {"detections", a.detections}, {"summary", a.summary_path},
                                     {"batch_megapixels", bo.batch_megapixels}};
        if (!bc.quiet)
          std::fprintf(stderr, "[blur] %llu photos written (%llu with detections), %llu dead letters -> %s\n",
                       (unsigned long long)a.written, (unsigned long long)a.with_detections, (unsigned long long)a.dead,
                       bo.out_dir.c_str());
        return finish_run(*g_record, bc, g_record_path, a.images, a.written, a.dead, a.dead_reasons);
      } catch (const std::exception& e) {
        const bool internal = dynamic_cast<const std::logic_error*>(&e) != nullptr;
        std::fprintf(stderr, "geoshard: %s(rank %d): %s\n", internal ? "internal error " : "error ", comm.rank(), e.what());
        write_failure_record(internal ? "internal_error" : "failed", e.what());
        if (comm.size() > 1) MPI_Abort(comm.get(), internal ? kInternal : kFailed);
        return internal ? kInternal : kFailed;
      }
    }
    if (links->parsed()) {
      std::signal(SIGUSR1, SIG_IGN);  // as for localise: the engine handles it while tasks run
      geoshard::mpi::Environment env(&argc, &argv);
      geoshard::mpi::Comm comm;
      try {
        const std::string why = geoshard::mpi::check_slurm_size(comm.size());
        if (!why.empty()) throw std::runtime_error(why);
        if (comm.root()) {
          std::filesystem::create_directories(lk.run_dir);
          g_record = std::make_unique<RunRecord>("links", g_args);
          g_record_path = (std::filesystem::path(lk.run_dir) / "links.run.json").string();
          g_report_path = lkc.report;
          if (!lk_out.empty()) geoshard::check_output_writable(lk_out);
        }
        lk.progress = !lkc.quiet;
        geoshard::engine::Engine eng(comm);
        const auto res = geoshard::links::run_job(eng, lk);
        const uint64_t rows = comm.root() ? geoshard::road_table_rows(lk.roads) : 0;
        if (res.run.interrupted) {
          if (comm.root()) {
            g_record->extra()["engine"] = res.run.record;
            g_record->set_status("interrupted", "stopped by a signal; rerun the same command to resume");
            finish_run(*g_record, lkc, g_record_path, rows, 0, 0, {}, false);
          }
          return kInterrupted;
        }
        geoshard::links::GatherOptions go;
        go.run_dir = lk.run_dir;
        go.out = lk_out;
        go.links_only = lk_links_only;
        const auto g = geoshard::links::gather_links(eng, go);
        if (!comm.root()) return kOk;
        g_record->extra()["engine"] = res.run.record;
        g_record->extra()["shards_total"] = res.run.shards_total;
        g_record->extra()["shards_committed"] = res.run.shards_committed;
        g_record->extra()["shards_reused"] = res.run.shards_reused;
        g_record->extra()["links"] = g.to_json();
        g_record->extra()["options"] = lk.links.to_json();
        if (!lkc.quiet) {
          std::fprintf(stderr, "[links] %llu roads, %llu intersection links; halo %.5f x %.5f deg, %llu halo rows for %llu own (%.2fx)\n",
                       (unsigned long long)g.rows, (unsigned long long)g.links, res.halo.lon_deg, res.halo.lat_deg,
                       (unsigned long long)res.halo_rows, (unsigned long long)res.own_rows,
                       res.own_rows ? (double)res.halo_rows / (double)res.own_rows : 0.0);
          if (g.has_ground_truth)
            std::fprintf(stderr, "[links] ground truth: tp %llu fp %llu fn %llu, precision %.4f recall %.4f\n",
                         (unsigned long long)g.tp, (unsigned long long)g.fp, (unsigned long long)g.fn, g.precision(), g.recall());
          std::fprintf(stderr, "[links] %llu shards (%llu committed now, %llu reused) in %s%s%s\n",
                       (unsigned long long)res.run.shards_total, (unsigned long long)res.run.shards_committed,
                       (unsigned long long)res.run.shards_reused, lk.run_dir.c_str(), lk_out.empty() ? "" : " -> ", lk_out.c_str());
        }
        // Every road gets a result (bad geometry is classified "not a link" and counted): no dead letters.
        return finish_run(*g_record, lkc, g_record_path, rows, g.rows, 0, {}, false);
      } catch (const std::exception& e) {
        const bool internal = dynamic_cast<const std::logic_error*>(&e) != nullptr;
        std::fprintf(stderr, "geoshard: %s(rank %d): %s\n", internal ? "internal error " : "error ", comm.rank(), e.what());
        write_failure_record(internal ? "internal_error" : "failed", e.what());
        if (comm.size() > 1) MPI_Abort(comm.get(), internal ? kInternal : kFailed);
        return internal ? kInternal : kFailed;
      }
    }
    if (cover->parsed() || localise->parsed() || gather->parsed()) {
      geoshard::mpi::Environment env(&argc, &argv);
      geoshard::mpi::Comm comm;
      try {
        const std::string why = geoshard::mpi::check_slurm_size(comm.size());
        if (!why.empty()) throw std::runtime_error(why);
        if (cover->parsed()) {
          if (comm.root()) {
            g_record = std::make_unique<RunRecord>("cover", g_args);
            g_record_path = cov_out + ".run.json";
            g_report_path = cc.report;
            geoshard::check_output_writable(cov_out);
          }
          const std::vector<std::string> names = cov_layers.empty() ? geoshard::area_layer_names(cov_areas) : cov_layers;
          std::vector<geoshard::AreaLayer> layers;
          uint64_t areas_in = 0;
          for (const auto& n : names) {
            layers.push_back(geoshard::read_area_layer(cov_areas, n));
            areas_in += layers.back().areas();
          }
          cov_opt.merge = !cov_no_merge;
          geoshard::ProgressMeter pm("cover", "areas", 2.0, comm.root() && !cc.quiet);
          cov_opt.progress = [&](uint64_t d, uint64_t t) { pm.update(d, t); };
          auto res = geoshard::cover::cover_layers(layers, cov_opt, &comm);
          if (comm.root()) {
            geoshard::write_atomically(cov_out, [&](const std::string& tmp) { geoshard::write_coverage(tmp, res.layers, layers); });
            nlohmann::json st = nlohmann::json::array();
            for (const auto& x : res.stats) {
              st.push_back({{"layer", x.name}, {"areas", x.areas}, {"interior_cells", x.interior_cells},
                            {"boundary_cells", x.boundary_cells}, {"intervals", x.intervals}, {"pieces", x.pieces},
                            {"piece_vertices", x.piece_vertices}, {"seconds", x.seconds}});
              if (!cc.quiet)
                std::fprintf(stderr, "[cover] layer %s: %llu areas, %llu interior + %llu boundary cells, %llu intervals, %.2f s\n",
                             x.name.c_str(), (unsigned long long)x.areas, (unsigned long long)x.interior_cells,
                             (unsigned long long)x.boundary_cells, (unsigned long long)x.intervals, x.seconds);
            }
            g_record->extra()["cover"] = {{"areas", cov_areas}, {"output", cov_out}, {"grid", cov_opt.grid},
                                          {"precision", cov_opt.precision}, {"merge", cov_opt.merge}, {"ranks", comm.size()}, {"layers", st}};
            geoshard::DeadLetterWriter dl(cov_dead.empty() ? cov_out + ".dead-letter.jsonl" : cov_dead);
            for (const auto& d : res.dead) {
              const auto& l = layers[d.layer];
              dl.write(cov_areas, l.name + "/" + l.id[d.area], d.reason, d.message);
              if (!cc.quiet) std::fprintf(stderr, "[cover] dead letter: %s\n", d.message.c_str());
            }
            dl.close();
            return finish_run(*g_record, cc, g_record_path, areas_in, areas_in - dl.total(), dl.total(), dl.counts());
          }
          return kOk;
        }
        geoshard::engine::Engine eng(comm);
        if (localise->parsed()) {
          if (comm.root()) {
            std::filesystem::create_directories(lo.run_dir);
            g_record = std::make_unique<RunRecord>("localise", g_args);
            g_record_path = (std::filesystem::path(lo.run_dir) / "localise.run.json").string();
            g_report_path = lc.report;
          }
          lo.progress = !lc.quiet;
          lo.backend = *g_backend;
          lo.group_rows = lo_group == "auto" ? geoshard::localise::default_group_rows(lo.backend) : std::stoull(lo_group);
          g_backend_stages = {"boundary-cell segment cuts (cut_batch)", "boundary-cell point in polygon (pip_batch)"};
          const auto res = geoshard::localise::run_job(eng, lo);
          geoshard::localise::DeadLetterSummary dls;
          if (!res.interrupted) dls = geoshard::localise::write_dead_letters(eng, lo.run_dir);
          int code = kOk;
          if (comm.root()) {
            const uint64_t rows = geoshard::road_table_rows(lo.roads);
            g_record->extra()["engine"] = res.record;
            g_record->extra()["shards_total"] = res.shards_total;
            g_record->extra()["shards_committed"] = res.shards_committed;
            g_record->extra()["shards_reused"] = res.shards_reused;
            if (res.interrupted) g_record->set_status("interrupted", "stopped by a signal; rerun the same command to resume");
            if (!res.interrupted) {
              g_record->extra()["dead_letter_file"] = dls.path;
              for (const auto& [reason, n] : dls.reasons)
                if (!lc.quiet) std::fprintf(stderr, "[localise] %llu roads dead-lettered (%s), see %s\n", (unsigned long long)n, reason.c_str(), dls.path.c_str());
            }
            code = res.interrupted ? finish_run(*g_record, lc, g_record_path, rows, 0, 0, {}, false)
                                   : finish_run(*g_record, lc, g_record_path, rows, rows - dls.total, dls.total, dls.reasons);
            if (!lc.quiet)
              std::fprintf(stderr, "[localise] %llu shards (%llu committed now, %llu reused) in %s%s\n",
                           (unsigned long long)res.shards_total, (unsigned long long)res.shards_committed,
                           (unsigned long long)res.shards_reused, lo.run_dir.c_str(), res.interrupted ? " - interrupted" : "");
          }
          if (res.interrupted) return kInterrupted;
          if (lo_out.empty()) return code;
          mo.run_dir = lo.run_dir;
          mo.out = lo_out;
          mo.rules = lo.rules;
          gc.quiet = lc.quiet;
          mo.fgb = lo_fgb;
          mo.links_run = lo_links;
        }
        // gather (alone, or after localise --out)
        if (comm.root()) {
          g_record = std::make_unique<RunRecord>("gather", g_args);
          g_record_path = mo.out + ".run.json";
          g_report_path = gc.report;
        }
        const auto m = geoshard::localise::write_map(eng, mo);
        if (comm.root()) {
          g_record->extra()["map"] = {{"output", m.out}, {"roads", m.roads}, {"road_areas", m.road_areas}, {"dead_letter_rows", m.dead},
                                      {"roads_without_area", m.roads_without_area}, {"seconds", m.seconds}};
          if (!mo.links_run.empty()) g_record->extra()["map"]["links"] = {{"run", mo.links_run}, {"intersection_links", m.links}};
          if (!gc.quiet)
            std::fprintf(stderr, "[gather] %llu roads, %llu road-area rows%s -> %s\n", (unsigned long long)m.roads,
                         (unsigned long long)m.road_areas,
                         mo.links_run.empty() ? "" : (", " + std::to_string(m.links) + " intersection links").c_str(),
                         m.out.c_str());
          return finish_run(*g_record, gc, g_record_path, m.rows, m.roads, m.dead, m.dead_reasons, false);
        }
        return kOk;
      } catch (const std::exception& e) {
        const bool internal = dynamic_cast<const std::logic_error*>(&e) != nullptr;
        std::fprintf(stderr, "geoshard: %s(rank %d): %s\n", internal ? "internal error " : "error ", comm.rank(), e.what());
        write_failure_record(internal ? "internal_error" : "failed", e.what());
        // Other ranks may be inside a collective: end them all with this code.
        if (comm.size() > 1) MPI_Abort(comm.get(), internal ? kInternal : kFailed);
        return internal ? kInternal : kFailed;
      }
    }
    if (synth->parsed()) {
      g_record = std::make_unique<RunRecord>("synth", g_args);
      RunRecord& rec = *g_record;
      g_record_path = (fs::path(so.out_dir) / "run.json").string();
      g_report_path = sc.report;
      geoshard::ProgressMeter pm("synth", "segments", 2.0, !sc.quiet);
      so.progress = [&](double f) { pm.update(static_cast<uint64_t>(f * so.segments), so.segments); };
      auto s = geoshard::synth::generate(so);
      pm.finish(s.segments);
      nlohmann::json j;
      j["roads"] = s.roads;
      j["segments"] = s.segments;
      j["connectors"] = s.connectors;
      j["areas"] = s.areas;
      j["areas_per_layer"] = s.areas_per_layer;
      j["road_km"] = s.road_km;
      j["roads_path"] = s.roads_path;
      j["areas_path"] = s.areas_path;
      j["spec_path"] = s.spec_path;
      rec.extra()["synth"] = j;
      rec.extra()["output"] = so.out_dir;
      if (!sc.quiet)
        std::fprintf(stderr, "[synth] %llu roads, %llu segments, %.0f road-km, %llu areas -> %s\n",
                     (unsigned long long)s.roads, (unsigned long long)s.segments, s.road_km,
                     (unsigned long long)s.areas, so.out_dir.c_str());
      // Generated records: in = out, nothing can be bad.
      return finish_run(rec, sc, (fs::path(so.out_dir) / "run.json").string(), s.roads + s.areas, s.roads + s.areas, 0, {},
                        false);
    }
  } catch (const std::bad_alloc&) {
    // (Writing the record allocates a little; what was being built is gone by now.)
    std::fprintf(stderr, "geoshard: error: %s\n", geoshard::engine::kOutOfMemory);
    write_failure_record("out_of_memory", geoshard::engine::kOutOfMemory);
    return kFailed;
  } catch (const std::logic_error& e) {
    std::fprintf(stderr, "geoshard: internal error: %s\n", e.what());
    write_failure_record("internal_error", e.what());
    return kInternal;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "geoshard: error: %s\n", e.what());
    write_failure_record("failed", e.what());
    return kFailed;
  }
  return kUsage;
}

int main(int argc, char** argv) {
  const int code = geoshard_main(argc, argv);
  if (code == kFailed || code == kInternal) {
    // A failed write (disk full, say) can leave an HDF5 file that would not close; HDF5's own
    // exit handler then closes it again and crashes (SIGSEGV in H5F__close_cb), turning a
    // clear error into a crash. The error is reported and the record written: leave now,
    // without the libraries' exit handlers.
    std::fflush(nullptr);
    std::_Exit(code);
  }
  return code;
}
