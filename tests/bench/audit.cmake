# verify's rate on a journal of a million events (issue 14); tests/bench/CMakeLists.txt includes
# this file. Not a ctest test: run build/tests/bin/audit_bench.
add_executable(audit_bench ${CMAKE_CURRENT_LIST_DIR}/audit_bench.cpp)
set_target_properties(audit_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/bin)
target_link_libraries(audit_bench PRIVATE vitalsd::store vitalsd::sessions fmt::fmt vitalsd::warnings)
target_compile_definitions(audit_bench PRIVATE VITALSD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_include_directories(audit_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests)
