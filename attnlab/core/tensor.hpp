// attnlab/core/tensor.hpp — Eigen aliases and the [H, N, d] tensor every attention operator uses.
//
// Conventions (DESIGN.md): all matrices are row-major; dimension letters are fixed project-wide
// (B batch, H heads, N query positions, M key positions, d head dim, D input dim, n samples,
// m width). Tensor3<T> is a contiguous, 64-byte-aligned [A, R, C] array whose slices along the
// first axis are Eigen row-major maps, so head h of q is `q.slice(h)`, an [N, d] matrix view.
//
// Invariants: data() holds dim0 * dim1 * dim2 values; storage is C order (last index fastest);
// every dimension is >= 0 (an empty tensor is legal).
//
// Ownership: a tensor owns its storage, except one made by Tensor3::borrow, which views memory
// someone else holds (a numpy array, a mapped file) without copying it: no allocation, any
// alignment. The owner keeps that memory alive for the view's lifetime. Copying any tensor copies
// its values into new owned storage; moving keeps what it had (owned or borrowed).
//
// Usage:
//   Tensor3d q(H, N, d);                 // zero-initialized
//   q.slice(0) = MatrixD::Random(N, d);  // head 0 as an Eigen view
//   double x = q(h, i, c);
//   Tensor3f qf = q.cast<float>();
//   const Tensor3f view = Tensor3f::borrow(ptr, H, N, d);  // no copy: ptr must outlive view
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace attnlab {

using Index = Eigen::Index;

template <class T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;
template <class T>
using MatrixMap = Eigen::Map<Matrix<T>, Eigen::Unaligned>;
template <class T>
using ConstMatrixMap = Eigen::Map<const Matrix<T>, Eigen::Unaligned>;

using MatrixF = Matrix<float>;
using MatrixD = Matrix<double>;
using VectorF = Vector<float>;
using VectorD = Vector<double>;

// Allocator returning 64-byte aligned storage (one AVX-512 register, one cache line).
template <class T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  AlignedAllocator() noexcept = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, kAlign); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

// Contiguous [dim0, dim1, dim2] tensor in C order. For attention: [H, N, d].
template <class T>
class Tensor3 {
 public:
  Tensor3() = default;
  Tensor3(Index dim0, Index dim1, Index dim2)
      : dim0_(dim0),
        dim1_(dim1),
        dim2_(dim2),
        owned_(static_cast<std::size_t>(dim0 * dim1 * dim2)),
        data_(owned_.data()) {}
  // Wraps a matrix as a single slice: [1, rows, cols].
  explicit Tensor3(const Matrix<T>& m) : Tensor3(1, m.rows(), m.cols()) { slice(0) = m; }

  // A [dim0, dim1, dim2] view of `data` (C order, dim0 * dim1 * dim2 values), not a copy. The
  // view writes through to `data` when it is not const; callers with read-only memory keep the
  // view const (`const Tensor3f q = Tensor3f::borrow(...)`).
  static Tensor3 borrow(T* data, Index dim0, Index dim1, Index dim2) {
    Tensor3 t;
    t.dim0_ = dim0, t.dim1_ = dim1, t.dim2_ = dim2;
    t.data_ = data;
    return t;
  }
  static const Tensor3 borrow(const T* data, Index dim0, Index dim1, Index dim2) {
    return borrow(const_cast<T*>(data), dim0, dim1, dim2);
  }
  // False for a view made by borrow().
  bool owns_data() const { return data_ == owned_.data(); }

  Tensor3(const Tensor3& o)
      : dim0_(o.dim0_),
        dim1_(o.dim1_),
        dim2_(o.dim2_),
        owned_(o.data_, o.data_ + o.size()),
        data_(owned_.data()) {}
  Tensor3(Tensor3&& o) noexcept { take(std::move(o)); }
  Tensor3& operator=(const Tensor3& o) {
    if (this != &o) *this = Tensor3(o);
    return *this;
  }
  Tensor3& operator=(Tensor3&& o) noexcept {
    if (this != &o) take(std::move(o));
    return *this;
  }
  ~Tensor3() = default;

  Index dim0() const { return dim0_; }
  Index dim1() const { return dim1_; }
  Index dim2() const { return dim2_; }
  Index size() const { return dim0_ * dim1_ * dim2_; }
  bool empty() const { return size() == 0; }

  T* data() { return data_; }
  const T* data() const { return data_; }
  T* slice_data(Index a) { return data_ + a * dim1_ * dim2_; }
  const T* slice_data(Index a) const { return data_ + a * dim1_ * dim2_; }

  T& operator()(Index a, Index r, Index c) { return data_[(a * dim1_ + r) * dim2_ + c]; }
  const T& operator()(Index a, Index r, Index c) const {
    return data_[(a * dim1_ + r) * dim2_ + c];
  }

  // Slice a as a row-major [dim1, dim2] matrix view.
  MatrixMap<T> slice(Index a) { return MatrixMap<T>(slice_data(a), dim1_, dim2_); }
  ConstMatrixMap<T> slice(Index a) const { return ConstMatrixMap<T>(slice_data(a), dim1_, dim2_); }
  // All data as a [dim0 * dim1, dim2] matrix view.
  MatrixMap<T> flat() { return MatrixMap<T>(data(), dim0_ * dim1_, dim2_); }
  ConstMatrixMap<T> flat() const { return ConstMatrixMap<T>(data(), dim0_ * dim1_, dim2_); }

  void set_zero() { std::fill(data_, data_ + size(), T(0)); }

  template <class U>
  Tensor3<U> cast() const {
    Tensor3<U> out(dim0_, dim1_, dim2_);
    for (Index i = 0; i < size(); ++i) out.data()[i] = static_cast<U>(data_[i]);
    return out;
  }

  bool same_shape(const Tensor3& o) const {
    return dim0_ == o.dim0_ && dim1_ == o.dim1_ && dim2_ == o.dim2_;
  }

 private:
  void take(Tensor3&& o) noexcept {
    const bool borrowed = !o.owns_data();
    dim0_ = o.dim0_, dim1_ = o.dim1_, dim2_ = o.dim2_;
    owned_ = std::move(o.owned_);  // a vector's move keeps its buffer, so owned data_ stays valid
    data_ = borrowed ? o.data_ : owned_.data();
    o.dim0_ = o.dim1_ = o.dim2_ = 0;
    o.owned_.clear();
    o.data_ = o.owned_.data();
  }

  Index dim0_ = 0, dim1_ = 0, dim2_ = 0;
  AlignedVector<T> owned_;   // the storage, unless borrowed
  T* data_ = owned_.data();  // owned_.data(), or the borrowed memory
};

using Tensor3f = Tensor3<float>;
using Tensor3d = Tensor3<double>;

}  // namespace attnlab
