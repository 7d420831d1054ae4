"""attnlab.load_model / attnlab.load_tokenizer: trained attention models from the C++ core, with
per-head diagnostics and maps captured in the forward pass.

    import attnlab
    model = attnlab.load_model(".cache/lm/<key>")        # attnlab train's tiny GPT, or GPT-2 files
    tok = attnlab.load_tokenizer(".cache/lm/<key>")
    r = model.forward(tok.encode("In the beginning God created"), capture=("diagnostics", "maps"))
    r["diagnostics"][layer]["norm_entropy"]   # [H, n]: normalized entropy of every query row
    r["maps"][0]["weights"]                   # [n, n] attention weights of (layer 0, head 0)

GPT-2 family (model.safetensors + config.json, gpt2_124M.bin, .safetensors, llm.c .bin; the
models `attnlab train` writes): forward(tokens, capture, maps, attention, logits) runs one
sequence from an empty cache. capture names what comes back besides the logits:
  "diagnostics"  per layer: dict of [H, n] row statistics (entropy, norm_entropy, sink_mass,
                 max_weight, below_1pct_max, wasted_share, wasted_mass, top8_mass, visible,
                 self_weight, prev_weight), streamed out of the kernel (no n x n map stored)
  "maps"         full [n, n] maps (NaN where masked) of the (layer, head) pairs in `maps`
                 (default: every head), as dicts(layer, head, first_position, weights)
  "hidden"       the residual stream [n, C] after every block, and final_hidden (after LN_f)
  "projections"  per layer q, k, v [H, n, d] exactly as attention sees them and its input
logits: "last" ([1, V]), "all" ([n, V]) or "none". attention: a spec (dict or the CLI's
--attention language) that every layer runs instead of the model's own.
BERT (config.json with model_type "bert", e.g. all-MiniLM-L6-v2): forward(tokens, capture)
with capture from "maps" ([L] of [H, n, n]), "hidden" ([L + 1] of [n, C]), "value_norms"
([L] of [H, n]), "projections"; the result always holds last_hidden [n, C].
Tokens are int32 ids; the tokenizers return them. Errors: OSError (missing file), ValueError
(malformed file, bad argument, token outside the vocabulary). Mirrors attnlab/models/*/model.hpp.
"""
import json
import os
from typing import Iterable, Optional, Sequence, Tuple, Union

import numpy as np

from . import _attnlab

__all__ = ["Model", "Tokenizer", "load_model", "load_tokenizer", "random_model"]

_GPT2_CAPTURES = {"diagnostics", "maps", "hidden", "projections"}
_BERT_CAPTURES = {"maps", "hidden", "value_norms", "projections"}


def _ids(tokens):
    a = np.ascontiguousarray(tokens)
    if a.ndim != 1 or not (np.issubdtype(a.dtype, np.integer) or a.size == 0):
        raise ValueError(f"attnlab: tokens must be a 1-D integer array, got {a.dtype} {a.shape}")
    if a.size and (a.min() < 0 or a.max() > np.iinfo(np.int32).max):
        raise ValueError(f"attnlab: token id {int(a.min() if a.min() < 0 else a.max())} is out of "
                         "the int32 range")
    return a.astype(np.int32, copy=False)


def _capture_set(capture, allowed):
    names = {capture} if isinstance(capture, str) else set(capture)
    unknown = sorted(names - allowed)
    if unknown:
        raise ValueError(f"attnlab: unknown capture(s) {unknown}; known: {sorted(allowed)}")
    return names


class Model:
    """A loaded model: .kind ("gpt2" or "bert"), .config (config.json as a dict),
    .forward(tokens, ...) (see the module docstring), .save(dir)."""

    def __init__(self, impl):
        self._impl = impl
        self.kind = "bert" if isinstance(impl, _attnlab.BertModel) else "gpt2"
        self.config = json.loads(impl.config_json())

    def __repr__(self):
        c = self.config
        return (f"attnlab.Model({self.kind}, layers={c.get('n_layer', c.get('num_hidden_layers'))}"
                f", heads={c.get('n_head', c.get('num_attention_heads'))})")

    @property
    def layers(self) -> int:
        """Number of transformer blocks (n_layer / num_hidden_layers)."""
        return int(self.config["n_layer" if self.kind == "gpt2" else "num_hidden_layers"])

    @property
    def heads(self) -> int:
        """Attention heads per block (n_head / num_attention_heads)."""
        return int(self.config["n_head" if self.kind == "gpt2" else "num_attention_heads"])

    def save(self, directory: str) -> None:
        """model.safetensors + config.json in `directory` (created; all or nothing)."""
        os.makedirs(directory, exist_ok=True)
        self._impl.save(str(directory))

    def forward(self, tokens, capture: Union[str, Iterable[str]] = (), *,
                maps: Optional[Sequence[Tuple[int, int]]] = None, attention=None,
                logits: str = "last", projection_layers: Optional[Sequence[int]] = None) -> dict:
        """One sequence through the model with `capture` (see the module docstring)."""
        from . import spec_json
        ids = _ids(tokens)
        text = "" if attention is None else spec_json(attention)
        if self.kind == "bert":
            names = _capture_set(capture, _BERT_CAPTURES)
            return self._impl.forward(ids, "maps" in names, "hidden" in names,
                                      "value_norms" in names, "projections" in names, text)
        names = _capture_set(capture, _GPT2_CAPTURES)
        pairs = []
        if "maps" in names:
            pairs = [(int(l), int(h)) for l, h in maps] if maps is not None else \
                [(l, h) for l in range(self.layers) for h in range(self.heads)]
        elif maps:
            raise ValueError("attnlab: maps=... given without 'maps' in capture")
        layers = []
        if "projections" in names:
            layers = list(range(self.layers)) if projection_layers is None else \
                [int(l) for l in projection_layers]
        return self._impl.forward(ids, "diagnostics" in names, pairs, "hidden" in names, logits,
                                  text, layers)


def load_model(path: str) -> Model:
    """The model in `path`: BERT when its config.json says model_type "bert", else GPT-2."""
    path = os.fspath(path)
    config = os.path.join(path, "config.json")
    if os.path.isdir(path) and os.path.exists(config):
        try:
            with open(config, "rb") as f:
                is_bert = json.loads(f.read().decode("utf-8", "replace")).get("model_type") == "bert"
        except (ValueError, AttributeError):
            is_bert = False  # let the C++ loader name what is wrong with the file
        if is_bert:
            return Model(_attnlab.BertModel.load(path))
    return Model(_attnlab.Gpt2Model.load(path))


def random_model(config: dict, seed: int = 0, kind: str = "gpt2") -> Model:
    """A seeded random model of this config (GPT-2 / BERT initialization), e.g. for tests or
    the random-weights baseline of a study."""
    if kind not in ("gpt2", "bert"):
        raise ValueError(f"attnlab: kind must be 'gpt2' or 'bert', got {kind!r}")
    impl = _attnlab.Gpt2Model if kind == "gpt2" else _attnlab.BertModel
    return Model(impl.random(json.dumps(config), int(seed)))


class Tokenizer:
    """GPT-2 byte-level BPE or BERT WordPiece: encode(text) -> int32 ids, decode(ids) -> str."""

    def __init__(self, impl):
        self._impl = impl
        self.kind = "wordpiece" if isinstance(impl, _attnlab.WordPieceTokenizer) else "bpe"

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        return self._impl.vocab_size()

    def encode(self, text: Union[str, bytes], *, allow_special: bool = False,
               max_length: int = 0) -> np.ndarray:
        """ids of `text` (BPE: exact GPT-2 encoding; WordPiece: [CLS] pieces [SEP], truncated to
        max_length when > 0)."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        if self.kind == "bpe":
            return self._impl.encode(data, bool(allow_special))
        return self._impl.encode(data, int(max_length))

    def decode_bytes(self, ids) -> bytes:
        """The exact bytes of the ids (BPE decodes losslessly)."""
        return self._impl.decode(_ids(ids))

    def decode(self, ids) -> str:
        """Text of the ids (bytes that are not UTF-8 on their own, e.g. half a character, are
        replaced; decode_bytes gives them exactly)."""
        return self.decode_bytes(ids).decode("utf-8", "replace")


def load_tokenizer(path: Optional[str] = None) -> Tokenizer:
    """The tokenizer files in `path`: vocab.txt (WordPiece); vocab.json + merges.txt or
    encoder.json + vocab.bpe (BPE). None: the 256-token byte-level BPE."""
    if path is None:
        return Tokenizer(_attnlab.BpeTokenizer.byte_level())
    path = os.fspath(path)
    if os.path.exists(os.path.join(path, "vocab.txt")) or path.endswith(".txt"):
        return Tokenizer(_attnlab.WordPieceTokenizer.load(path))
    return Tokenizer(_attnlab.BpeTokenizer.load(path))
