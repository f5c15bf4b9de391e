# The HL7 driver's unit tests (OBX conversion, routing, units, status): pure, no sockets.
# tests/unit/drivers/CMakeLists.txt includes this file; tests/integration/hl7 includes it too
# when that line is missing, so the target is defined exactly once.
if(NOT TARGET hl7_driver_test)
  vitalsd_test(hl7_driver_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/hl7_convert_test.cpp
                       ${CMAKE_CURRENT_LIST_DIR}/hl7_alarm_test.cpp
               DEPS vitalsd::drivers)
endif()
