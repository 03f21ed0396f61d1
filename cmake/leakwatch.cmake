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
  # gtest_discover_tests flattens PROPERTIES, so a list of labels would keep only its first one
  # (and turn the rest into bogus properties). The labels and the timeout are set instead by a
  # script that ctest runs after the discovery one, over the test list discovery leaves in
  # ${name}_TESTS.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60)
  set(props "LABELS \"${T_LABELS}\"")
  if(T_TIMEOUT)  # overrides the presets' default per-test timeout
    string(APPEND props " TIMEOUT ${T_TIMEOUT}")
  endif()
  set(script "${CMAKE_CURRENT_BINARY_DIR}/${name}_properties.cmake")
  file(WRITE "${script}" "foreach(t IN LISTS ${name}_TESTS)\n"
                         "  set_tests_properties(\"\${t}\" PROPERTIES ${props})\n"
                         "endforeach()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${script}")
endfunction()
