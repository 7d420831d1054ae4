#include "attnlab/core/linalg.hpp"

#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "attnlab/core/error.hpp"

extern "C" void openblas_set_num_threads(int num_threads);
extern "C" int openblas_get_num_threads(void);

namespace attnlab {
namespace {

// Runs the enclosed LAPACK call with one OpenBLAS thread, restoring the previous count.
// dsyevd's tridiagonal reduction is BLAS-2 bound: two threads gain little on an idle 2-core
// machine and lose 5-10x when the cores are shared (measured: n = 2000, 1.5 s on 1 thread vs
// 11.7 s on 2 under load). One thread also makes eigenvalues independent of --threads.
class SingleBlasThread {
 public:
  SingleBlasThread() : previous_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
  ~SingleBlasThread() { openblas_set_num_threads(previous_); }
  SingleBlasThread(const SingleBlasThread&) = delete;
  SingleBlasThread& operator=(const SingleBlasThread&) = delete;

 private:
  int previous_;
};

void check_square_finite(const MatrixD& a, std::string_view what, const char* fn) {
  if (a.rows() != a.cols()) {
    throw Error(
        str_cat(fn, " (", what, "): matrix must be square, got [", a.rows(), ", ", a.cols(), "]"));
  }
  for (Index i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a.data()[i])) {
      throw NumericError(str_cat(fn, " (", what, "): non-finite entry ", a.data()[i],
                                 " at flat index ", i, " of [", a.rows(), ", ", a.cols(), "]"));
    }
  }
}

lapack_int as_lapack_int(Index n, std::string_view what) {
  if (n > static_cast<Index>(std::numeric_limits<lapack_int>::max())) {
    throw Error(str_cat(what, ": dimension ", n, " exceeds the LAPACK integer range"));
  }
  return static_cast<lapack_int>(n);
}

}  // namespace

VectorD symmetric_eigenvalues(const MatrixD& a, std::string_view what) {
  check_square_finite(a, what, "symmetric_eigenvalues");
  const Index n = a.rows();
  VectorD w(n);
  if (n == 0) return w;
  MatrixD work = a;  // dsyevd overwrites its input
  const lapack_int nn = as_lapack_int(n, what);
  const SingleBlasThread one_thread;
  const lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', nn, work.data(), nn, w.data());
  if (info != 0) {
    throw NumericError(str_cat("symmetric_eigenvalues (", what, "): LAPACKE_dsyevd failed on [", n,
                               ", ", n, "] with info=", info));
  }
  return w;
}

SymmetricEigen symmetric_eigen(const MatrixD& a, std::string_view what) {
  check_square_finite(a, what, "symmetric_eigen");
  const Index n = a.rows();
  SymmetricEigen out;
  out.values.resize(n);
  out.vectors = a;
  if (n == 0) return out;
  const lapack_int nn = as_lapack_int(n, what);
  const SingleBlasThread one_thread;
  const lapack_int info =
      LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', nn, out.vectors.data(), nn, out.values.data());
  if (info != 0) {
    throw NumericError(str_cat("symmetric_eigen (", what, "): LAPACKE_dsyevd failed on [", n, ", ",
                               n, "] with info=", info));
  }
  return out;
}

double symmetric_spectral_norm(const MatrixD& a, std::string_view what) {
  const VectorD ev = symmetric_eigenvalues(a, what);
  if (ev.size() == 0) return 0.0;
  return std::max(std::abs(ev(0)), std::abs(ev(ev.size() - 1)));
}

double rank_tolerance(const VectorD& ev, Index rows, Index cols) {
  if (ev.size() == 0) return 0.0;
  const double lmax = std::max(std::abs(ev(ev.size() - 1)), std::abs(ev(0)));
  return static_cast<double>(std::max(rows, cols)) * std::numeric_limits<double>::epsilon() * lmax;
}

Index numerical_rank(const VectorD& ev, double tolerance) {
  Index r = 0;
  for (Index i = 0; i < ev.size(); ++i) r += ev(i) > tolerance ? 1 : 0;
  return r;
}

SpectrumSummary summarize_spectrum(const VectorD& ev, Index rows, Index cols, Index k_requested) {
  SpectrumSummary s;
  s.n = ev.size();
  if (s.n == 0) {
    throw Error("summarize_spectrum: no eigenvalues (empty matrix)");
  }
  for (Index i = 1; i < s.n; ++i) {
    if (ev(i) < ev(i - 1)) throw Error("summarize_spectrum: eigenvalues must be ascending");
  }
  const double inf = std::numeric_limits<double>::infinity();
  s.lambda_max = ev(s.n - 1);
  s.lambda_min = ev(0);
  s.tolerance = rank_tolerance(ev, rows, cols);
  s.rank = numerical_rank(ev, s.tolerance);
  s.kappa = s.lambda_min > 0.0 ? s.lambda_max / s.lambda_min : inf;
  s.kappa_error = s.lambda_min > 0.0 ? s.tolerance / s.lambda_min : inf;
  s.resolved = s.lambda_min > s.tolerance && s.kappa <= kKappaResolvable;
  s.k = (k_requested <= 0 || k_requested > s.n) ? s.n : k_requested;
  s.lambda_k = ev(s.n - s.k);
  s.kappa_k = s.lambda_k > 0.0 ? s.lambda_max / s.lambda_k : inf;
  s.kappa_k_error = s.lambda_k > 0.0 ? s.tolerance / s.lambda_k : inf;
  s.kappa_k_resolved = s.lambda_k > s.tolerance && s.kappa_k <= kKappaResolvable;
  s.kappa_rank = s.rank > 0 ? s.lambda_max / ev(s.n - s.rank) : inf;
  return s;
}

Cholesky::Cholesky(const MatrixD& a, double shift, std::string_view what) : what_(what) {
  check_square_finite(a, what, "Cholesky");
  if (!std::isfinite(shift)) {
    throw NumericError(str_cat("Cholesky (", what, "): shift must be finite, got ", shift));
  }
  const Index n = a.rows();
  factor_ = a;
  for (Index i = 0; i < n; ++i) factor_(i, i) += shift;
  if (n == 0) return;
  const lapack_int nn = as_lapack_int(n, what);
  const lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', nn, factor_.data(), nn);
  if (info > 0) {
    throw NumericError(str_cat("Cholesky (", what, "): [", n, ", ", n, "] matrix + ", shift,
                               "·I is not positive definite (leading minor of order ", info,
                               " failed); increase the ridge"));
  }
  if (info < 0) {
    throw Error(str_cat("Cholesky (", what, "): LAPACKE_dpotrf argument error ", info));
  }
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < i; ++j) factor_(i, j) = 0.0;
}

MatrixD Cholesky::solve(const MatrixD& b) const {
  const Index n = size();
  if (b.rows() != n) {
    throw Error(str_cat("Cholesky::solve (", what_, "): right-hand side has ", b.rows(),
                        " rows, factor is [", n, ", ", n, "]"));
  }
  MatrixD x = b;
  if (n == 0 || b.cols() == 0) return x;
  const lapack_int info = LAPACKE_dpotrs(
      LAPACK_ROW_MAJOR, 'U', as_lapack_int(n, what_), as_lapack_int(b.cols(), what_),
      factor_.data(), as_lapack_int(n, what_), x.data(), as_lapack_int(b.cols(), what_));
  if (info != 0) {
    throw Error(str_cat("Cholesky::solve (", what_, "): LAPACKE_dpotrs info=", info));
  }
  return x;
}

VectorD Cholesky::solve(const VectorD& b) const {
  MatrixD m(b.size(), 1);
  m.col(0) = b;
  const MatrixD x = solve(m);
  return x.col(0);
}

MatrixD Cholesky::inverse() const {
  const Index n = size();
  MatrixD inv = factor_;
  if (n == 0) return inv;
  const lapack_int nn = as_lapack_int(n, what_);
  const lapack_int info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'U', nn, inv.data(), nn);
  if (info != 0) {
    throw NumericError(str_cat("Cholesky::inverse (", what_, "): LAPACKE_dpotri info=", info));
  }
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < i; ++j) inv(i, j) = inv(j, i);
  return inv;
}

double Cholesky::log_determinant() const {
  double s = 0.0;
  for (Index i = 0; i < size(); ++i) s += std::log(factor_(i, i));
  return 2.0 * s;
}

MatrixD Cholesky::upper_factor() const {
  return factor_;
}

}  // namespace attnlab
