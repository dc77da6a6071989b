# Warning and sanitizer flags for Cordon's own targets (never for generated or third-party code).
add_library(cordon_warnings INTERFACE)
target_compile_options(cordon_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
  $<$<BOOL:${CORDON_WERROR}>:-Werror>)

if(CORDON_SANITIZE)
  list(JOIN CORDON_SANITIZE "," cordon_sanitizers)
  add_compile_options(-fsanitize=${cordon_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${cordon_sanitizers})
endif()
