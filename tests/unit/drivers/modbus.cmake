# The Modbus driver's unit tests; tests/unit/drivers/CMakeLists.txt includes this file.
vitalsd_test(modbus_profile_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/modbus_profile_test.cpp
             DEPS vitalsd::drivers vitalsd::store)
