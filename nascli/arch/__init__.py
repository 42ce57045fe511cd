"""Architectures: token strings, their decoded records (arch.json), and I/O."""

from .build import architecture, decode, load_architecture, save_architecture
from .records import Architecture, Cell, CellNode, DagNode, Layer, TreeCell, TreeNode
from .tokens import Assignment, decode_tokens, encode, space_name

__all__ = [
    "Architecture", "Assignment", "Cell", "CellNode", "DagNode", "Layer", "TreeCell", "TreeNode",
    "architecture", "decode", "decode_tokens", "encode", "load_architecture", "save_architecture", "space_name",
]
