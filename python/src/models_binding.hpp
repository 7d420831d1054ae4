// python/src/models_binding.hpp — the models and their tokenizers as Python classes:
// Gpt2Model (GPT-2 files and attnlab's trained tiny GPTs), BertModel (all-MiniLM-L6-v2, any
// BERT), BpeTokenizer, WordPieceTokenizer. Each forward() runs one sequence with the requested
// captures (per-layer row diagnostics [H, n], attention maps, hidden states, projections) and
// hands the C++ buffers to numpy without copies. Python API: attnlab.load_model,
// attnlab.load_tokenizer (python/attnlab/models.py).
#pragma once

#include <nanobind/nanobind.h>

namespace attnlab::python {

void bind_models(nanobind::module_& m);

}  // namespace attnlab::python
