# Cross build for 64-bit ARM gateway units (Cortex-A53/A72 class) with Debian multiarch.
# Libraries come from the :arm64 packages (scripts/setup --cross aarch64); flatc and
# mosquitto stay the host's. Tests run under plain qemu-aarch64, *without* -L
# (BUILD-NOTES.md: with -L Paho's threads hang).
set(CORDON_TRIPLET aarch64-linux-gnu)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CORDON_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/multiarch-common.cmake)
