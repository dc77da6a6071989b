# Warning and sanitizer flags for Cordon's own targets (never for generated or third-party code).
#
# No -Wnull-dereference: GCC 12 only runs it in optimised builds, after inlining, and there
# it flags FlatBuffers' own accessors (flatbuffers/base.h ReadScalar, vector.h size(), the
# generated *_generated.h getters) and lookups already checked a few lines earlier: over
# 100 false positives in a Release build, which -Werror (CI) turns into a failed build.
add_library(cordon_warnings INTERFACE)
target_compile_options(cordon_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
  $<$<BOOL:${CORDON_WERROR}>:-Werror>)

if(CORDON_SANITIZE)
  list(JOIN CORDON_SANITIZE "," cordon_sanitizers)
  add_compile_options(-fsanitize=${cordon_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${cordon_sanitizers})
endif()
