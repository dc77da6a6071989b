# Warning and sanitizer flags for Cordon's own targets (never for generated or third-party code).
#
# No -Wnull-dereference: GCC 12 only runs it in optimised builds, after inlining, and there
# it flags FlatBuffers' own accessors (flatbuffers/base.h ReadScalar, vector.h size(), the
# generated *_generated.h getters) and lookups already checked a few lines earlier: over
# 100 false positives in a Release build, which -Werror (CI) turns into a failed build.
#
# -Wrestrict, -Wstringop-overread and -Wstringop-overflow stay warnings, not errors, under GCC 12: at -O3 they
# report `"literal" + std::string` as an overlapping memcpy (GCC bug 105329) and
# std::map<std::vector<uint8_t>, ...> comparisons as a memcmp of 2^63 bytes (bug 105651),
# which broke the cross builds (Release) over code that is correct.
add_library(cordon_warnings INTERFACE)
target_compile_options(cordon_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
  $<$<BOOL:${CORDON_WERROR}>:-Werror>
  "$<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-error=restrict;-Wno-error=stringop-overread;-Wno-error=stringop-overflow>")

if(CORDON_SANITIZE)
  list(JOIN CORDON_SANITIZE "," cordon_sanitizers)
  add_compile_options(-fsanitize=${cordon_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${cordon_sanitizers})
endif()
