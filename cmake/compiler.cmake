# Warnings, sanitizers and fuzzing flags shared by every target of the project.
add_library(corates_warnings INTERFACE)
target_compile_options(corates_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Woverloaded-virtual -Wimplicit-fallthrough
  $<$<BOOL:${CORATES_WERROR}>:-Werror>
  # GCC 12 reports std::optional/std::variant members as maybe-uninitialized
  # at -O2 (known false positives); clang's checks stay on.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>
  # Tests embed long vectors produced by Yjs as string literals.
  $<$<CXX_COMPILER_ID:Clang>:-Wno-overlength-strings>)

if(CORATES_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

# Adds a GoogleTest executable and registers its cases with CTest.
function(corates_add_test name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE GTest::gtest_main corates_warnings)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
endfunction()
