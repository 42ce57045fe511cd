"""nascli: neural architecture search (NAS and ENAS) from the command line.

The library follows one data flow, one module per step:
space file -> `space.parse_space` (SearchSpace IR) -> `space.compiler` (Decisions,
heads) -> token string -> `arch.decode` (Architecture records, arch.json) ->
`children.build_child` (nn.Module) -> trainer -> reward -> run store.
"""

from .arch import Architecture, decode, load_architecture, save_architecture
from .errors import NasError
from .space import load_space, parse_space
from .space.compiler import CompiledSpace, Decision, compile_space

__version__ = "0.1.0"

__all__ = [
    "Architecture", "CompiledSpace", "Decision", "NasError", "compile_space", "decode",
    "load_architecture", "load_space", "parse_space", "save_architecture",
]
