# CPack settings of the cordon-gateway .deb (included by packaging/CMakeLists.txt).
# `cpack -G DEB` in build/<preset> makes cordon-gateway_<version>-1_<arch>.deb; the
# architecture is the build's target, so the aarch64 and armhf presets make arm64 and
# armhf packages. scripts/package-test builds and checks them.

# The Debian architecture of the target, never the build host's (CPack's default asks
# dpkg, which says amd64 in a cross build).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(cordon_deb_arch amd64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
  set(cordon_deb_arch arm64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^arm" AND NOT CMAKE_LIBRARY_ARCHITECTURE MATCHES "gnueabi$")
  set(cordon_deb_arch armhf)
else()
  message(STATUS "packaging: no Debian architecture for '${CMAKE_SYSTEM_PROCESSOR}'; no .deb")
  return()
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cordon-gateway)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Cordon developers <cordon@example.com>" CACHE STRING "Maintainer field of the .deb")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "data-export gateway for vehicle telemetry under China's automotive data rules")
set(CPACK_PACKAGE_DESCRIPTION "cordon-gateway tags every telemetry field against China's automotive data
rules, strips or anonymises what each MQTT endpoint may not receive, uploads
over MQTT with TLS, and records every decision in a tamper-evident audit log.
Includes cordon-policy and cordon-audit, the systemd unit, the default policy
sources, example configs and the in-vehicle Mosquitto config.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${cordon_deb_arch})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

# Runtime libraries, listed by hand: dpkg-shlibdeps is not reliable in a cross build.
# One package per NEEDED entry of the three binaries (readelf -d), at the versions of
# Debian 12 they were built against; scripts/package-test fails when a NEEDED library's
# package is missing here. FlatBuffers is header-only in Cordon.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= 2.36), libstdc++6 (>= 12), libgcc-s1 (>= 3.0), \
libssl3 (>= 3.0.0), libsqlite3-0 (>= 3.40.1), libpaho-mqtt1.3 (>= 1.3.12), libpaho-mqttpp3-1 (>= 1.2.0), \
libboost-program-options1.81.0, libboost-json1.81.0")
# The in-vehicle broker runs on the unit; a relay consumes from a remote broker.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "mosquitto")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "mosquitto-clients, openssl")

set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_CURRENT_SOURCE_DIR}/deb/postinst ${CMAKE_CURRENT_SOURCE_DIR}/deb/prerm
  ${CMAKE_CURRENT_SOURCE_DIR}/deb/postrm ${CMAKE_CURRENT_BINARY_DIR}/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# Packages go to build/<preset>/packages/.
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/packages)
include(CPack)
