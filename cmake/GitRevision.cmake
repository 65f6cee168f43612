# Run at build time (not configure time) so that run records name the revision that was built:
#   cmake -DSRC=<source dir> -DOUT=<header> -P GitRevision.cmake
# Writes `#define GEOSHARD_GIT_REV "<git describe --always --dirty>"` into OUT, touching it only
# when the revision changed (so an unchanged tree recompiles nothing).
execute_process(COMMAND git -C ${SRC} describe --always --dirty --abbrev=12
  OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT rev)
  set(rev "unknown")
endif()
set(text "#define GEOSHARD_GIT_REV \"${rev}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE ${OUT} "${text}")
endif()
