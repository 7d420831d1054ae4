// python/src/arrays.hpp — numpy / DLPack arrays <-> attnlab tensors for the bindings.
//
// In: a C-contiguous CPU array of float32 or float64 (numpy, or a torch tensor through DLPack)
// is viewed in place as a borrowed Tensor3 (no copy; the kernels take any alignment). The
// ndarray argument keeps the Python object alive for the call. Out: the result
// tensor is moved to the heap and handed to numpy without a copy; a capsule frees it when the
// last numpy reference goes.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <utility>
#include <vector>

#include "attnlab/core/tensor.hpp"

namespace attnlab::python {

namespace nb = nanobind;

template <class T>
using InArray3 = nb::ndarray<const T, nb::ndim<3>, nb::c_contig, nb::device::cpu>;
template <class T>
using InArray2 = nb::ndarray<const T, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
template <class T>
using OutArray = nb::ndarray<nb::numpy, T>;

// [dim0, dim1, dim2] view of `a`'s memory, valid while `a` is.
template <class T>
const Tensor3<T> view_of(const InArray3<T>& a) {
  return Tensor3<T>::borrow(a.data(), static_cast<Index>(a.shape(0)),
                            static_cast<Index>(a.shape(1)), static_cast<Index>(a.shape(2)));
}

// A copy of a [rows, cols] array as a row-major matrix (the analysis functions take MatrixD;
// their cost is far above the O(rows·cols) copy).
template <class T>
Matrix<T> matrix_in(const InArray2<T>& a) {
  return ConstMatrixMap<T>(a.data(), static_cast<Index>(a.shape(0)),
                           static_cast<Index>(a.shape(1)));
}

// [dim0, dim1, dim2] array owning `t`'s buffer.
template <class T>
OutArray<T> hand_out(Tensor3<T>&& t) {
  auto* owner = new Tensor3<T>(std::move(t));
  nb::capsule free_it(owner, [](void* p) noexcept { delete static_cast<Tensor3<T>*>(p); });
  const std::size_t shape[3] = {static_cast<std::size_t>(owner->dim0()),
                                static_cast<std::size_t>(owner->dim1()),
                                static_cast<std::size_t>(owner->dim2())};
  return OutArray<T>(owner->data(), 3, shape, free_it);
}

// [rows, cols] array owning a row-major matrix's buffer.
template <class T>
OutArray<T> hand_out(Matrix<T>&& m) {
  auto* owner = new Matrix<T>(std::move(m));
  nb::capsule free_it(owner, [](void* p) noexcept { delete static_cast<Matrix<T>*>(p); });
  const std::size_t shape[2] = {static_cast<std::size_t>(owner->rows()),
                                static_cast<std::size_t>(owner->cols())};
  return OutArray<T>(owner->data(), 2, shape, free_it);
}

// [n] array owning a vector's buffer (token ids).
template <class T>
OutArray<T> hand_out(std::vector<T>&& v) {
  auto* owner = new std::vector<T>(std::move(v));
  nb::capsule free_it(owner, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  const std::size_t shape[1] = {owner->size()};
  return OutArray<T>(owner->data(), 1, shape, free_it);
}

}  // namespace attnlab::python
