# The Datex S/5 frame and record codec's unit tests; tests/unit/drivers/CMakeLists.txt includes
# this file.
vitalsd_test(datex_record_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/datex_record_test.cpp
             DEPS vitalsd::drivers)
