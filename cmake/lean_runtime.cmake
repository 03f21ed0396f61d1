# LEAKWATCH_LEAN_RUNTIME: a smaller resident footprint for the `leakwatch` daemon (docs/operations.md,
# "Footprint"). Same sources, same behaviour; only how the binary is compiled and linked changes:
#
#   - every target is compiled with -ffunction-sections -fdata-sections and the executable is linked
#     with --gc-sections, so code nothing calls is not in the binary;
#   - OpenSSL (libssl.a, libcrypto.a), yaml-cpp (libyaml-cpp.a), zstd (libzstd.a), libstdc++ and
#     libgcc are linked statically, spdlog and fmt are used header-only: only the parts leakwatch
#     uses end up in the executable, instead of whole shared libraries being mapped, relocated and
#     partly paged in. glibc stays shared (NSS, getaddrinfo).
#   - relative relocations are packed (-z pack-relative-relocs, DT_RELR: binutils >= 2.38, glibc >=
#     2.36): the executable stays position-independent, but the dynamic loader reads a few KiB of
#     relocations at start instead of ~600 KiB of RELA entries.
#
# Included from the top-level CMakeLists.txt after find_package(OpenSSL) (which finds the static
# libraries because OPENSSL_USE_STATIC_LIBS is set before it) and pkg_check_modules(ZSTD), instead of
# find_package(spdlog) and find_package(yaml-cpp). Off by default: tests and sanitizer builds keep
# Debian's shared libraries.

if(LEAKWATCH_SANITIZE)
  message(FATAL_ERROR "LEAKWATCH_LEAN_RUNTIME and LEAKWATCH_SANITIZE are exclusive")
endif()

# spdlog header-only, on fmt header-only. Debian's spdlog package only exports the shared library
# (spdlog::spdlog) and a header-only target bound to the shared libfmt, so spdlog::spdlog is defined
# here as an interface target with the same name the modules link.
find_package(fmt REQUIRED CONFIG)
find_path(LEAKWATCH_SPDLOG_INCLUDE_DIR spdlog/spdlog.h REQUIRED)
add_library(spdlog::spdlog INTERFACE IMPORTED)
set_target_properties(spdlog::spdlog PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${LEAKWATCH_SPDLOG_INCLUDE_DIR}"
  INTERFACE_COMPILE_DEFINITIONS "SPDLOG_FMT_EXTERNAL"
  INTERFACE_LINK_LIBRARIES "fmt::fmt-header-only;Threads::Threads")

# yaml-cpp from its static archive, under the target name the package exports (yaml-cpp).
find_library(LEAKWATCH_YAML_CPP_STATIC NAMES libyaml-cpp.a REQUIRED)
find_path(LEAKWATCH_YAML_CPP_INCLUDE_DIR yaml-cpp/yaml.h REQUIRED)
add_library(yaml-cpp STATIC IMPORTED)
set_target_properties(yaml-cpp PROPERTIES
  IMPORTED_LOCATION "${LEAKWATCH_YAML_CPP_STATIC}"
  INTERFACE_INCLUDE_DIRECTORIES "${LEAKWATCH_YAML_CPP_INCLUDE_DIR}")

# zstd from its static archive (PkgConfig::ZSTD is an interface target: point it at libzstd.a).
find_library(LEAKWATCH_ZSTD_STATIC NAMES libzstd.a HINTS ${ZSTD_LIBRARY_DIRS} REQUIRED)
set_target_properties(PkgConfig::ZSTD PROPERTIES INTERFACE_LINK_LIBRARIES "${LEAKWATCH_ZSTD_STATIC}")

add_compile_options(-ffunction-sections -fdata-sections)

include(CheckLinkerFlag)
check_linker_flag(CXX "-Wl,-z,pack-relative-relocs" LEAKWATCH_HAVE_PACK_RELATIVE_RELOCS)

# leakwatch_lean_executable(TARGET): the link side, for the daemon executable.
function(leakwatch_lean_executable target)
  target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc -Wl,--gc-sections
                      -Wl,--as-needed -Wl,-O1 -s)
  if(LEAKWATCH_HAVE_PACK_RELATIVE_RELOCS)
    target_link_options(${target} PRIVATE -Wl,-z,pack-relative-relocs)
  endif()
endfunction()
