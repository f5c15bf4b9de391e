# IntelliVue next to Modbus (issue 24): N monitors of each, polled at 1 Hz on their own
# io_context threads in the same run. Not a ctest test: run build/tests/bin/intellivue_bench
# (VITALSD_BENCH_SECONDS=10 by default; 600 for the closing note's ten minutes).
add_executable(intellivue_bench ${CMAKE_CURRENT_LIST_DIR}/intellivue_bench.cpp)
set_target_properties(intellivue_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bin)
target_link_libraries(intellivue_bench PRIVATE vitalsd::monitor_sim benchmark::benchmark
                                               vitalsd::warnings)
target_compile_definitions(intellivue_bench PRIVATE VITALSD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
