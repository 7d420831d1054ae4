#include "attnlab/core/tensor.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <utility>
#include <vector>

namespace attnlab {
namespace {

std::vector<float> iota_values(std::size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 0.0f);
  return v;
}

TEST(Tensor3, OwnedTensorIsZeroInitializedAndIndexedInCOrder) {
  Tensor3f t(2, 3, 4);
  EXPECT_TRUE(t.owns_data());
  for (Index i = 0; i < t.size(); ++i) EXPECT_EQ(t.data()[i], 0.0f);
  t(1, 2, 3) = 5.0f;
  EXPECT_EQ(t.data()[(1 * 3 + 2) * 4 + 3], 5.0f);
  EXPECT_EQ(t.slice(1)(2, 3), 5.0f);
}

TEST(Tensor3, BorrowViewsTheMemoryWithoutCopying) {
  std::vector<float> mem = iota_values(24);
  Tensor3f view = Tensor3f::borrow(mem.data() + 0, 2, 3, 4);
  EXPECT_FALSE(view.owns_data());
  EXPECT_EQ(view.data(), mem.data());
  EXPECT_EQ(view(1, 0, 2), 14.0f);
  view(0, 1, 1) = -1.0f;  // writes through
  EXPECT_EQ(mem[5], -1.0f);
  mem[23] = 99.0f;  // and sees the owner's writes
  EXPECT_EQ(view(1, 2, 3), 99.0f);
}

TEST(Tensor3, BorrowTakesUnalignedMemory) {
  std::vector<float> mem = iota_values(25);
  const float* base = mem.data() + 1;  // 4 bytes past whatever alignment the vector has
  const Tensor3f view = Tensor3f::borrow(base, 1, 4, 6);
  EXPECT_EQ(view.data(), base);
  EXPECT_EQ(view.slice(0)(3, 5), 24.0f);
  EXPECT_EQ(view.flat().sum(), 300.0f);  // 1 + 2 + ... + 24
}

TEST(Tensor3, CopyOfAViewOwnsItsValues) {
  std::vector<float> mem = iota_values(6);
  const Tensor3f view = Tensor3f::borrow(mem.data(), 1, 2, 3);
  Tensor3f copy = view;
  EXPECT_TRUE(copy.owns_data());
  EXPECT_NE(copy.data(), mem.data());
  mem[4] = -7.0f;
  EXPECT_EQ(copy(0, 1, 1), 4.0f);  // unaffected by the owner
  Tensor3f assigned(5, 5, 5);
  assigned = view;
  EXPECT_TRUE(assigned.owns_data());
  EXPECT_EQ(assigned.dim0(), 1);
  EXPECT_EQ(assigned(0, 1, 1), -7.0f);
}

TEST(Tensor3, MoveKeepsOwnershipOrBorrowing) {
  Tensor3f owned(1, 2, 2);
  owned(0, 1, 1) = 3.0f;
  const float* buffer = owned.data();
  Tensor3f moved = std::move(owned);
  EXPECT_TRUE(moved.owns_data());
  EXPECT_EQ(moved.data(), buffer);  // the buffer itself moved, no copy
  EXPECT_EQ(moved(0, 1, 1), 3.0f);
  EXPECT_EQ(owned.size(), 0);  // NOLINT(bugprone-use-after-move): moved-from is empty

  std::vector<float> mem = iota_values(4);
  Tensor3f view = Tensor3f::borrow(mem.data(), 1, 2, 2);
  Tensor3f moved_view;
  moved_view = std::move(view);
  EXPECT_FALSE(moved_view.owns_data());
  EXPECT_EQ(moved_view.data(), mem.data());
}

TEST(Tensor3, CopyOfAnOwnedTensorIsDeep) {
  Tensor3d a(2, 2, 2);
  a(1, 1, 1) = 2.0;
  Tensor3d b = a;
  b(1, 1, 1) = 4.0;
  EXPECT_EQ(a(1, 1, 1), 2.0);
  EXPECT_NE(a.data(), b.data());
  const Tensor3d& same = a;
  a = same;  // self-assignment keeps the values
  EXPECT_EQ(a(1, 1, 1), 2.0);
}

}  // namespace
}  // namespace attnlab
