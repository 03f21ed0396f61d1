# leakwatch_module(NAME SOURCES ... DEPS ...) : one static library per module,
# aliased leakwatch::NAME, warnings on, includes rooted at lib/.
function(leakwatch_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS" ${ARGN})
  add_library(leakwatch_${name} STATIC ${M_SOURCES})
  add_library(leakwatch::${name} ALIAS leakwatch_${name})
  target_include_directories(leakwatch_${name} PUBLIC ${LEAKWATCH_SOURCE_DIR}/lib)
  target_link_libraries(leakwatch_${name} PUBLIC ${M_DEPS} PRIVATE leakwatch_warnings)
endfunction()

# leakwatch_test(NAME SOURCES ... DEPS ... LABELS ... [TIMEOUT s]) : a GoogleTest binary.
function(leakwatch_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} leakwatch::test_support GTest::gtest GTest::gmock
                                        GTest::gtest_main leakwatch_warnings)
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(T_TIMEOUT)  # overrides the presets' default per-test timeout
    gtest_discover_tests(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                         DISCOVERY_TIMEOUT 60)
  else()
    gtest_discover_tests(${name} PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 60)
  endif()
endfunction()
