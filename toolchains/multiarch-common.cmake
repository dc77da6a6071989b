# Shared part of the Debian multiarch toolchain files. The including file sets
# CORDON_TRIPLET, CMAKE_SYSTEM_PROCESSOR and CORDON_QEMU.
set(CMAKE_SYSTEM_NAME Linux)

set(CMAKE_C_COMPILER ${CORDON_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${CORDON_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${CORDON_TRIPLET})

# Multiarch: target libraries live in /usr/lib/<triplet>, headers in /usr/include
# (shared) and /usr/include/<triplet>. No sysroot is needed.
set(CMAKE_FIND_ROOT_PATH / /usr/${CORDON_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Never pick up the build host's libraries.
list(APPEND CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/cmake)

set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${CORDON_TRIPLET}/pkgconfig:/usr/share/pkgconfig)

find_program(CORDON_QEMU_PATH ${CORDON_QEMU} REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${CORDON_QEMU_PATH})
