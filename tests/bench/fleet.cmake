# The fleet benchmark (issue 15): the real vitalsd against N Modbus TCP monitors, a bare
# libmodbus baseline in the same run, the alert path (alert_path_bench) and the HL7 listener's
# throughput; tests/bench/CMakeLists.txt includes this file. The full run is by hand
# (build/tests/bin/fleet_bench, README "Performance"); ctest runs only its quick mode as a smoke
# test (a few seconds a row), which fails when a part yields nothing.
add_executable(fleet_bench ${CMAKE_CURRENT_LIST_DIR}/fleet_bench.cpp)
set_target_properties(fleet_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bin)
target_include_directories(fleet_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(fleet_bench PRIVATE vitalsd::monitor_sim vitalsd::store fmt::fmt
                                          nlohmann_json::nlohmann_json vitalsd::warnings)
target_compile_definitions(fleet_bench PRIVATE
  VITALSD_SOURCE_DIR="${PROJECT_SOURCE_DIR}" VITALSD_BIN_DIR="${CMAKE_BINARY_DIR}/bin"
  VITALSD_TESTS_BIN_DIR="${CMAKE_BINARY_DIR}/tests/bin")
add_dependencies(fleet_bench vitalsd alert_path_bench)
add_test(NAME fleet_bench_smoke
         COMMAND fleet_bench --quick --json ${CMAKE_BINARY_DIR}/tests/fleet_bench_smoke.json)
set_tests_properties(fleet_bench_smoke PROPERTIES TIMEOUT 240 RUN_SERIAL TRUE)
