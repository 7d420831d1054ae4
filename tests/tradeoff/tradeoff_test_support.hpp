// tests/tradeoff/tradeoff_test_support.hpp — small helpers shared by the trade-off study tests:
// the message of an expected exception, and a substring predicate for EXPECT_PRED2.
#pragma once

#include <exception>
#include <functional>
#include <string>

namespace attnlab::testing {

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// The message of the E that f throws, or a note that it threw nothing / something else.
template <class E>
std::string thrown_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "nothing thrown";
}

}  // namespace attnlab::testing
