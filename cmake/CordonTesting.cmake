# cordon_add_gtest(NAME LABEL label [TIMEOUT s] SOURCES ... LIBS ...)
#
# One GoogleTest executable; each of its tests becomes a ctest test carrying LABEL
# (unit | e2e | fault | fuzz | long) and a timeout, so `ctest -L unit` and
# `ctest -LE long` select tiers. Discovery runs at test time (PRE_TEST) so a
# cross build never runs target binaries while building; under a cross preset
# both discovery and the tests go through CMAKE_CROSSCOMPILING_EMULATOR (qemu-user).
function(cordon_add_gtest name)
  cmake_parse_arguments(arg "" "LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT arg_LABEL)
    message(FATAL_ERROR "cordon_add_gtest(${name}): LABEL is required")
  endif()
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 60)
  endif()
  add_executable(${name} ${arg_SOURCES})
  target_link_libraries(${name} PRIVATE ${arg_LIBS} GTest::gtest GTest::gtest_main cordon_warnings)
  target_compile_definitions(${name} PRIVATE
    CORDON_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    CORDON_MOSQUITTO="${CORDON_MOSQUITTO}")
  # cordon_tests_<label> builds every test executable of a tier: the cross presets build
  # only the programs and cordon_tests_unit, the tests they run under qemu.
  if(NOT TARGET cordon_tests_${arg_LABEL})
    add_custom_target(cordon_tests_${arg_LABEL})
  endif()
  add_dependencies(cordon_tests_${arg_LABEL} ${name})
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 120
    PROPERTIES LABELS ${arg_LABEL} TIMEOUT ${arg_TIMEOUT})
endfunction()
