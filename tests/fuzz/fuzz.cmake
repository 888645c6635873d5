# The libFuzzer target for the safetensors parser and the DeiT loader (tests/fuzz/run_fuzz.sh builds
# and runs it). Only weights/ is compiled in: the fuzzer needs neither oneDNN nor OpenMP.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "SPARSIFINER_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++-14")
endif()

file(GLOB FUZZ_WEIGHTS_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/weights/*.cpp)
add_executable(fuzz_safetensors ${CMAKE_CURRENT_LIST_DIR}/fuzz_safetensors.cpp ${FUZZ_WEIGHTS_SOURCES})
target_include_directories(fuzz_safetensors PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(fuzz_safetensors PRIVATE nlohmann_json::nlohmann_json)
# UBSan findings abort instead of printing and carrying on, so libFuzzer records them as crashes.
set(FUZZ_SANITIZERS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
target_compile_options(fuzz_safetensors PRIVATE ${FUZZ_SANITIZERS} -g -O1 -fno-omit-frame-pointer)
target_link_options(fuzz_safetensors PRIVATE ${FUZZ_SANITIZERS})
