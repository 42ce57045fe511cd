"""Hints for unknown op names: the nearest known op, or where an op the language lacks comes from.

Names other libraries give to ops nascli has (`linear`, `skip_connect`, `zero`) map to nascli's
own; what has no counterpart here (attention, recurrent layers) points to plugins, which is how
an op the language lacks is added (docs/plugins.md).
"""

from __future__ import annotations

import difflib

# Other libraries' names (PyTorch, DARTS, NNI, timm) for ops nascli has under another name.
SYNONYMS = {
    "linear": "dense", "fc": "dense", "fully_connected": "dense", "mlp": "dense",
    "skip_connect": "identity", "skip": "identity", "noop": "identity",
    "zero": "none", "zeros": "none",
    "conv3x3": "conv_3x3", "conv5x5": "conv_5x5", "conv1x1": "conv_1x1",
    "maxpool": "max_pool_3x3", "max_pool_3": "max_pool_3x3", "avgpool": "avg_pool_3x3", "avg_pool": "avg_pool_3x3",
    "inverted_residual": "mbconv", "mb_conv": "mbconv", "mbconv3": "mbconv", "mbconv6": "mbconv",
}
# Ops the language has no counterpart for: the user writes them as a plugin.
MISSING = ("attention", "self_attention", "multihead_attention", "mha", "transformer", "lstm", "gru", "rnn",
           "embedding", "layer_norm", "layernorm", "conv_transpose", "upsample")
PLUGINS_DOC = "docs/plugins.md"


def unknown_op_hint(name: str, known: tuple[str, ...]) -> str:
    """"; did you mean 'dense'?" or a pointer to plugins, to append to an unknown-op message."""
    lowered = name.lower()
    target = SYNONYMS.get(lowered)
    if target in known:
        return f"; did you mean '{target}'?"
    close = difflib.get_close_matches(lowered, known, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    if any(word in lowered for word in MISSING):
        return f"; the language has no '{name}' op: write it as a plugin op ({PLUGINS_DOC}) and load it with --plugin"
    return f"; an op the language lacks can come from a plugin ({PLUGINS_DOC})"
