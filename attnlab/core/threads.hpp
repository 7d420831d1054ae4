// attnlab/core/threads.hpp — one place that sets the thread count for OpenMP and OpenBLAS.
//
// Determinism contract: for a fixed thread count, every attnlab computation gives bit-identical
// results (static OpenMP schedules, per-item RNG streams, reductions in a fixed order). Different
// thread counts may differ in the last bits where a reduction is split across threads.
//
// Usage:
//   set_num_threads(2);          // 0 means "all hardware threads"
//   int t = num_threads();
#pragma once

namespace attnlab {

// Sets the OpenMP and OpenBLAS thread counts; n <= 0 selects the number of hardware threads.
void set_num_threads(int n);
// The thread count currently in effect.
int num_threads();
// Hardware threads available to this process.
int hardware_threads();

}  // namespace attnlab
