// The `geoshard` command: one binary, one subcommand per job. Parses options (CLI11), runs
// the job, writes the run record, maps failures to documented exit codes. Logs go to stderr,
// results to files.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/run_record.h"
#include "jobs/ingest/ingest.h"
#include "jobs/synth/synth.h"
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

void add_common(CLI::App* c, Common& o, bool bad_fraction = true) {
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

void write_failure_record(const std::string& status, const std::string& error) {
  if (!g_record || g_record_path.empty()) return;
  try {
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

int main(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) g_args.emplace_back(argv[i]);
  CLI::App app{"geoshard " + RunRecord::version() + " (" + RunRecord::git_revision() +
               ") - distributed batch engine for hyperlocal maps:\n"
               "tags roads with the areas they lie in (exactly), finds intersection links, and\n"
               "anonymises street-level imagery. Runs as MPI ranks (mpirun / srun --mpi=pmix).\n\n"
               "Pipeline: synth | ingest roads | ingest areas  (more jobs follow: cover, plan, localise, gather)",
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
  roads->add_option("--id-field", ro.id_field, "Integer id field (default: 'id' if present, else the feature id)");
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }

  try {
    if (roads->parsed()) {
      g_record = std::make_unique<RunRecord>("ingest roads", g_args);
      RunRecord& rec = *g_record;
      g_record_path = ro.out + ".run.json";
      g_report_path = rc.report;
      geoshard::ProgressMeter pm("ingest roads", "features", 2.0, !rc.quiet);
      ro.progress = [&](uint64_t d, uint64_t t) { progress_cb(pm, d, t); };
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
