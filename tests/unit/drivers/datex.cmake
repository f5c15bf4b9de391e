# The Datex S/5 frame and record codec's unit tests; tests/unit/drivers/CMakeLists.txt includes
# this file.
vitalsd_test(datex_record_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/datex_record_test.cpp
             DEPS vitalsd::drivers)
# Both serial drivers' config keys, through the settings module.
vitalsd_test(serial_config_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/serial_config_test.cpp
             DEPS vitalsd::settings vitalsd::drivers)
