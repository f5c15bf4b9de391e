# The alert path's latency benchmark (issue 6); tests/bench/CMakeLists.txt includes this file.
# Not a ctest test: run build/tests/bin/alert_path_bench.
add_executable(alert_path_bench ${CMAKE_CURRENT_LIST_DIR}/alert_path_bench.cpp)
set_target_properties(alert_path_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bin)
target_include_directories(alert_path_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_link_libraries(alert_path_bench PRIVATE vitalsd::app_lib PkgConfig::MOSQUITTO vitalsd::warnings)
target_compile_definitions(alert_path_bench PRIVATE VITALSD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_compile_options(alert_path_bench PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
