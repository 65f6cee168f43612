/* Preloaded (LD_PRELOAD) into every process of the sanitizer build's tests: dlclose does
 * nothing, so shared objects stay mapped until exit. Open MPI dlcloses its plugins (mca_*.so)
 * at MPI_Finalize; their allocations that Open MPI never frees are then reported by
 * LeakSanitizer with "<unknown module>" frames, which no suppression can name. With the plugins
 * still mapped, lsan.supp names them. Built without sanitizers: it is also loaded into
 * uninstrumented programs (mpirun, ogr2ogr, python3). */
int dlclose(void* handle) {
  (void)handle;
  return 0;
}
