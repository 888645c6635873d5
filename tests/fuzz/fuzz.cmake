# The libFuzzer targets: the safetensors parser and DeiT loader, and the image decoders (run_fuzz.sh builds
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

# The image target: decoding (libjpeg for JPEG, the structure checks and stb_image for the rest)
# and the evaluation transform. Only the image sources are compiled in, with the sanitizers.
find_package(JPEG REQUIRED)
file(GLOB FUZZ_IMAGE_SOURCES CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/image/image.cpp ${CMAKE_SOURCE_DIR}/image/image_decode.cpp
     ${CMAKE_SOURCE_DIR}/image/image_jpeg.cpp ${CMAKE_SOURCE_DIR}/image/image_preflight.cpp
     ${CMAKE_SOURCE_DIR}/image/resample.cpp)
add_executable(fuzz_image ${CMAKE_CURRENT_LIST_DIR}/fuzz_image.cpp ${FUZZ_IMAGE_SOURCES})
target_include_directories(fuzz_image PRIVATE ${CMAKE_SOURCE_DIR} ${STB_INCLUDE_DIR})
target_link_libraries(fuzz_image PRIVATE JPEG::JPEG)
target_compile_definitions(fuzz_image PRIVATE SPARSIFINER_HAVE_LIBJPEG)
target_compile_options(fuzz_image PRIVATE ${FUZZ_SANITIZERS} -g -O1 -fno-omit-frame-pointer)
target_link_options(fuzz_image PRIVATE ${FUZZ_SANITIZERS})
