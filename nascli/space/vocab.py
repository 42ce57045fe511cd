"""What the language knows: ops, activations, combines, and the decisions each block takes.

This is the one table to edit to add an op or a decision name. An op added here
also needs a module in `nascli/children/ops.py` (a test checks both agree).
Kept free of torch so that parsing and `nascli inspect` stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass

# op name -> the layer parameters it reads (all positive ints). `None` means the op's
# size is fixed by its name (the ENAS ops) and the block's `filters` sets its width.
LAYER_OPS: dict[str, tuple[str, ...]] = {
    "conv": ("filter_height", "filter_width", "filters", "stride"),
    "max_pool": ("pool_size", "stride"),
    "conv_3x3": ("filters",),
    "conv_5x5": ("filters",),
    "sep_conv_3x3": ("filters",),
    "sep_conv_5x5": ("filters",),
    "max_pool_3x3": (),
    "avg_pool_3x3": (),
}
# Ops a micro cell node may apply to one of its inputs.
CELL_OPS = ("identity", "sep_conv_3x3", "sep_conv_5x5", "avg_pool_3x3", "max_pool_3x3")
# Defaults for layer parameters an op reads but the space leaves out.
LAYER_DEFAULTS: dict[str, int] = {"stride": 1, "pool_size": 2}

ACTIVATIONS = ("identity", "tanh", "sigmoid", "relu")
COMBINES = ("add", "elem_mult")
TASKS = ("image", "language")
SETTINGS = ("task", "dataset", "epochs", "budget", "batch")


@dataclass(frozen=True)
class Slot:
    """A decision name a block accepts: its kind and, for choices, its value domain."""

    kind: str  # "choice" (also allows fixed), "anchor" or "index"
    domain: str = "any"  # "posint", "posnum", "nonneg", "op", "cell_op", "activation", "combine"


# Training hyper-parameters a `hyper` block may predict: the trainer applies each one.
HYPER_SLOTS = {
    "lr": Slot("choice", "posnum"),
    "weight_decay": Slot("choice", "nonneg"),
    "momentum": Slot("choice", "nonneg"),
    "batch_size": Slot("choice", "posint"),
    "epochs": Slot("choice", "posint"),
    "dropout": Slot("choice", "nonneg"),
}
LAYER_SLOTS = {
    "op": Slot("choice", "op"),
    "skip": Slot("anchor"),
    "filter_height": Slot("choice", "posint"),
    "filter_width": Slot("choice", "posint"),
    "filters": Slot("choice", "posint"),
    "stride": Slot("choice", "posint"),
    "pool_size": Slot("choice", "posint"),
}
NODE_SLOTS = {"combine": Slot("choice", "combine"), "activation": Slot("choice", "activation")}
TREE_SECTIONS = {
    "inject": NODE_SLOTS,
    "cell_index": {"out": Slot("index"), "inject": Slot("index")},
}
DAG_SLOTS = {"prev": Slot("index"), "activation": Slot("choice", "activation")}
CELL_SLOTS = {
    "left": Slot("index"),
    "left_op": Slot("choice", "cell_op"),
    "right": Slot("index"),
    "right_op": Slot("choice", "cell_op"),
}
# Decisions every block of a kind must declare (as a choice or a fixed value).
REQUIRED = {
    "tree": ("combine", "activation"),
    "dag": ("prev", "activation"),
    "cell": ("left", "left_op", "right", "right_op"),
}
# Values allowed by each domain; "posint" and "any" are checked by type instead.
DOMAIN_VALUES: dict[str, tuple[str, ...]] = {
    "op": tuple(LAYER_OPS),
    "cell_op": CELL_OPS,
    "activation": ACTIVATIONS,
    "combine": COMBINES,
}
