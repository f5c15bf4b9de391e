# Modbus fleet benchmark; tests/bench/CMakeLists.txt includes this file. Not a ctest test:
# run build/tests/bin/modbus_bench (VITALSD_BENCH_SECONDS=10 by default).
find_package(benchmark REQUIRED)
add_executable(modbus_bench ${CMAKE_CURRENT_LIST_DIR}/modbus_bench.cpp)
set_target_properties(modbus_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bin)
target_link_libraries(modbus_bench PRIVATE vitalsd::monitor_sim benchmark::benchmark vitalsd::warnings)
target_compile_definitions(modbus_bench PRIVATE VITALSD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
