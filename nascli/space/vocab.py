"""What the language knows: activations, combines, and the decisions each block takes.

Ops and the layer parameters they read are not listed here: they come from
the op registry (`nascli.ops`), so that plugins can add them. Kept free of
torch so that parsing and `nascli inspect` stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIVATIONS = ("identity", "tanh", "sigmoid", "relu")
COMBINES = ("add", "elem_mult")
TASKS = ("image", "language", "tabular")  # tabular: a layers block of dense layers
SETTINGS = ("task", "dataset", "epochs", "budget", "batch")


@dataclass(frozen=True)
class Slot:
    """A decision name a block accepts: its kind and, for choices, its value domain."""

    kind: str  # "choice" (also allows fixed), "anchor" or "index"
    domain: str = "any"  # "posint", "posnum", "nonneg", "op" (a registered op), "activation", "combine"


# Training hyper-parameters a `hyper` block may predict: the trainer applies each one.
HYPER_SLOTS = {
    "lr": Slot("choice", "posnum"),
    "weight_decay": Slot("choice", "nonneg"),
    "momentum": Slot("choice", "nonneg"),
    "batch_size": Slot("choice", "posint"),
    "epochs": Slot("choice", "posint"),
    "dropout": Slot("choice", "nonneg"),
}
# A layer's own decisions; the parameters its ops read come from the op registry.
LAYER_SLOTS = {"op": Slot("choice", "op"), "skip": Slot("anchor"), "merge": Slot("choice", "merge")}
# How a layer combines the layers it reads: concatenated then the op (NAS), or the op on the layer before with
# them added to its output (a ResNet block); nascli/arch/wiring.py.
MERGES = ("concat", "sum")
# A layers block's `stage` section: decided once for the stage. `depth` is how many of its layers it has;
# the other names are layer decisions (not `op` or `skip`, which every layer decides itself).
STAGE_ONLY = {"depth": Slot("choice", "posint")}
# Fixed values of a layer's `skip`: read the layer before (a plain chain), nothing (NAS rule 1: the image),
# or every earlier layer of the stage (the paper's densely connected control); `skip = {1, 3}` is a set of offsets.
FIXED_SKIPS = ("previous", "none", "all")
NODE_SLOTS = {"combine": Slot("choice", "combine"), "activation": Slot("choice", "activation")}
TREE_SECTIONS = {
    "inject": NODE_SLOTS,
    "cell_index": {"out": Slot("index"), "inject": Slot("index")},
}
DAG_SLOTS = {"prev": Slot("index"), "activation": Slot("choice", "activation")}
CELL_SLOTS = {
    "left": Slot("index"),
    "left_op": Slot("choice", "op"),
    "right": Slot("index"),
    "right_op": Slot("choice", "op"),
}
DENSE_SLOTS = {"op": Slot("choice", "op")}
# Decisions every block of a kind must declare (as a choice or a fixed value).
REQUIRED = {
    "tree": ("combine", "activation"),
    "dag": ("prev", "activation"),
    "cell": ("left", "left_op", "right", "right_op"),
    "dense": ("op",),
}
# Values allowed by each named domain; numbers are checked by type, ops against the registry.
DOMAIN_VALUES: dict[str, tuple[str, ...]] = {"activation": ACTIVATIONS, "combine": COMBINES, "merge": MERGES}
