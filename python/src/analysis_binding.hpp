// python/src/analysis_binding.hpp — the analysis kernels on arrays: NTKs (analysis/ntk),
// the Gram spectrum row (analysis/spectral), exact LOO influence (analysis/influence) and the
// selectivity study on given heads (analysis/selectivity). Python API: attnlab.ntk,
// attnlab.spectrum, attnlab.influence, attnlab.selectivity (python/attnlab/*.py).
#pragma once

#include <nanobind/nanobind.h>

namespace attnlab::python {

void bind_analysis(nanobind::module_& m);

}  // namespace attnlab::python
