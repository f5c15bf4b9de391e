# The Masimo line parser's unit tests; tests/unit/drivers/CMakeLists.txt includes this file.
vitalsd_test(masimo_line_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/masimo_line_test.cpp
             DEPS vitalsd::drivers)
