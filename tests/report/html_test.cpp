#include "attnlab/report/html.hpp"

#include <gtest/gtest.h>

namespace attnlab::report {
namespace {
TEST(Html, Placeholder) {
  EXPECT_EQ(html_escape("<"), "&lt;");
}
}  // namespace
}  // namespace attnlab::report
