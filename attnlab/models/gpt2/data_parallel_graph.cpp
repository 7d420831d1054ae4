#include "attnlab/models/gpt2/data_parallel_graph.hpp"

#include <omp.h>

#include <algorithm>

#include "attnlab/core/error.hpp"
#include "attnlab/core/item_errors.hpp"
#include "attnlab/core/threads.hpp"

namespace attnlab::models::gpt2 {
namespace {

// Runs fn(r) for r in [0, R) on R threads at once, each with nested parallelism (OpenMP regions
// and OpenBLAS) limited to its own thread; rethrows the lowest replica's exception.
template <class Fn>
void on_replicas(int R, Fn&& fn) {
  if (R == 1) {
    fn(0);
    return;
  }
  ItemErrors errors(R);
#pragma omp parallel num_threads(R)
  {
    const int r = omp_get_thread_num();
    omp_set_num_threads(1);  // this thread's nested regions (and OpenBLAS calls) run serially
    errors.run(r, [&] { fn(r); });
  }
  errors.rethrow_lowest();
}

}  // namespace

template <class T>
DataParallelTrainGraph<T>::DataParallelTrainGraph(const Gpt2Config& config, Index batch, Index seq,
                                                  int replicas)
    : batch_(batch), seq_(seq) {
  if (batch < 1)
    throw UsageError(str_cat("DataParallelTrainGraph: batch must be >= 1, got ", batch));
  const Index R = std::min<Index>(batch, replicas > 0 ? replicas : num_threads());
  first_row_.resize(static_cast<std::size_t>(R + 1));
  for (Index r = 0; r <= R; ++r) first_row_[static_cast<std::size_t>(r)] = r * batch / R;
  graphs_.reserve(static_cast<std::size_t>(R));
  for (Index r = 0; r < R; ++r) {
    graphs_.emplace_back(
        config,
        first_row_[static_cast<std::size_t>(r + 1)] - first_row_[static_cast<std::size_t>(r)], seq);
  }
  replica_grads_.assign(static_cast<std::size_t>(R - 1), std::vector<T>(graphs_[0].num_params()));
}

template <class T>
std::size_t DataParallelTrainGraph<T>::activation_bytes() const {
  std::size_t b = 0;
  for (const auto& g : graphs_) b += g.activation_bytes();
  return b;
}

template <class T>
GraphLoss DataParallelTrainGraph<T>::forward(const T* params, const std::int32_t* tokens,
                                             const std::int32_t* targets, RowScores* rows) {
  std::vector<GraphLoss> part(graphs_.size());
  std::vector<RowScores> part_rows(rows ? graphs_.size() : 0);
  on_replicas(replicas(), [&](int r) {
    const auto ri = static_cast<std::size_t>(r);
    const Index off = first_row_[ri] * seq_;
    part[ri] =
        graphs_[ri].forward(params, tokens + off, targets + off, rows ? &part_rows[ri] : nullptr);
  });
  GraphLoss total;
  for (const auto& p : part) {
    total.sum_nll += p.sum_nll;
    total.scored += p.scored;
  }
  if (rows) {
    rows->nll.clear();
    rows->hit.clear();
    for (const auto& p : part_rows) {
      rows->nll.insert(rows->nll.end(), p.nll.begin(), p.nll.end());
      rows->hit.insert(rows->hit.end(), p.hit.begin(), p.hit.end());
    }
  }
  return total;
}

template <class T>
GraphLoss DataParallelTrainGraph<T>::forward_backward(const T* params, const std::int32_t* tokens,
                                                      const std::int32_t* targets, T* grads) {
  Index scored = 0;
  for (Index i = 0; i < batch_ * seq_; ++i) scored += targets[i] >= 0 ? 1 : 0;
  std::vector<GraphLoss> part(graphs_.size());
  on_replicas(replicas(), [&](int r) {
    const Index off = first_row_[static_cast<std::size_t>(r)] * seq_;
    T* g = r == 0 ? grads : replica_grads_[static_cast<std::size_t>(r - 1)].data();
    part[static_cast<std::size_t>(r)] = graphs_[static_cast<std::size_t>(r)].forward_backward(
        params, tokens + off, targets + off, g, scored);
  });
  // grads = g_0 + g_1 + ... in replica order, element by element.
  const auto P = static_cast<Index>(graphs_[0].num_params());
  const auto R = static_cast<Index>(graphs_.size());
#pragma omp parallel for schedule(static) if (R > 1)
  for (Index i = 0; i < P; ++i) {
    T s = grads[i];
    for (Index r = 1; r < R; ++r) s += replica_grads_[static_cast<std::size_t>(r - 1)][i];
    grads[i] = s;
  }
  GraphLoss total;
  for (const auto& p : part) {
    total.sum_nll += p.sum_nll;
    total.scored += p.scored;
  }
  return total;
}

template class DataParallelTrainGraph<float>;
template class DataParallelTrainGraph<double>;

}  // namespace attnlab::models::gpt2
