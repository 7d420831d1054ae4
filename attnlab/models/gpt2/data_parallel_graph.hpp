// attnlab/models/gpt2/data_parallel_graph.hpp — the training graph split over threads by
// sequences: R replicas of GptTrainGraph, each on a contiguous block of the batch, run at once on
// R threads with everything inside a replica (GEMMs, LayerNorm, attention) single-threaded.
//
// Why: at the tiny model's sizes (C = 128, T = 256) one GEMM or one LayerNorm over B·T rows is a
// few hundred microseconds, and splitting each of them across threads pays a fork/join per
// kernel (hundreds per step) plus OpenBLAS's packing per thread. Measured on 2 cores (AMD EPYC,
// AVX-512, 4L/128/4H, T 256, batch 16): 17.3k tokens/s for the per-kernel threading, 20.5k with
// two replicas of 8 sequences (bench/train/run.sh has the current numbers).
//
// Semantics are GptTrainGraph's: the loss is the mean NLL over the whole batch's scored targets
// and the gradient is its derivative. Replica r's gradient is ∂(Σ its NLL)/∂θ / (scored in the
// whole batch); the R gradients are added in replica order, so results are bit-identical for a
// fixed replica count (= thread count, capped at the batch) and differ from the single-graph
// ones only by float summation order.
//
// Usage:
//   DataParallelTrainGraph<float> g(config, /*batch=*/16, /*seq=*/256);   // num_threads() replicas
//   GraphLoss l = g.forward_backward(params, tokens, targets, grads);
#pragma once

#include <cstdint>
#include <vector>

#include "attnlab/models/gpt2/train_graph.hpp"

namespace attnlab::models::gpt2 {

template <class T>
class DataParallelTrainGraph {
 public:
  // replicas <= 0: num_threads(); always capped at batch. UsageError as GptTrainGraph's.
  DataParallelTrainGraph(const Gpt2Config& config, Index batch, Index seq, int replicas = 0);

  Index batch() const { return batch_; }
  Index seq() const { return seq_; }
  int replicas() const { return static_cast<int>(graphs_.size()); }
  std::size_t activation_bytes() const;

  // As GptTrainGraph::forward / forward_backward on the whole [batch, seq] block.
  // (rows: the replicas' row scores concatenated in row order.)
  GraphLoss forward(const T* params, const std::int32_t* tokens, const std::int32_t* targets,
                    RowScores* rows = nullptr);
  GraphLoss forward_backward(const T* params, const std::int32_t* tokens,
                             const std::int32_t* targets, T* grads);

 private:
  Index batch_ = 0, seq_ = 0;
  std::vector<Index> first_row_;  // [R + 1] replica r holds rows [first_row_[r], first_row_[r+1])
  std::vector<GptTrainGraph<T>> graphs_;       // [R]
  std::vector<std::vector<T>> replica_grads_;  // [R - 1][num_params] (replica 0 writes the output)
};

}  // namespace attnlab::models::gpt2
