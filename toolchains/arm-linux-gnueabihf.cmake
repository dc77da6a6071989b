# Cross build for 32-bit ARM hard-float gateway units (Cortex-A7/A9 class) with Debian
# multiarch. Libraries come from the :armhf packages (scripts/setup --cross armhf);
# flatc and mosquitto stay the host's. Tests run under plain qemu-arm, without -L.
set(CORDON_TRIPLET arm-linux-gnueabihf)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CORDON_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/multiarch-common.cmake)
# GCC notes that passing e.g. std::span<const double> "changed in GCC 7.1"; everything on
# the unit is built by GCC 12, so these ABI notes never apply and only bury real warnings.
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")
