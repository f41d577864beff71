// Boost.JSON is used header-only by the conformance runner: its implementation
// is compiled once, here.
#include <boost/json/src.hpp>
