# The IntelliVue Data Export codec and the observations it yields (drivers/intellivue).
vitalsd_test(intellivue_codec_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/intellivue_codec_test.cpp
             DEPS vitalsd::drivers)
