// The one translation unit that compiles Asio, Beast and Boost.JSON (see
// BOOST_*_SEPARATE_COMPILATION in common/CMakeLists.txt).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
#include <boost/json/src.hpp>
