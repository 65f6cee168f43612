# Sourced (through BUILD/sanitize-env.sh, which sets GEOSHARD_KEEP_PLUGINS) before the sanitizer
# build's tests run (docs/reliability.md, "Sanitizers").
# Any ASan, UBSan or LeakSanitizer report ends the process with exit code 86 -- a code no
# geoshard command uses -- so a test that expects a clean error (exit 1) cannot mistake a
# sanitizer report for it. UBSan findings are fatal (the build has -fno-sanitize-recover=all).
# Leaks: lsan.supp names Open MPI's own; keep_plugins.c (preloaded) keeps Open MPI's plugins
# mapped after MPI_Finalize so that their frames have names to match.
_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ASAN_OPTIONS="exitcode=86:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="exitcode=86:halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="exitcode=86:suppressions=$_here/lsan.supp:print_suppressions=0"
if [ -n "${GEOSHARD_KEEP_PLUGINS:-}" ]; then
  export LD_PRELOAD="$GEOSHARD_KEEP_PLUGINS${LD_PRELOAD:+:$LD_PRELOAD}"
fi
unset _here
