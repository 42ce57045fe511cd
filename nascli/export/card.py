"""MODEL.md, the model card beside every export: what the child is, how it was found, how well it did.

The facts come from where nascli keeps them, read as data: the architecture
and its space's sha256; parameters and MACs counted on the built child;
latency measured now (latency.py); the run's config.json, its record of the
child and its `nascli fidelity` study (runs/fidelity.py); `nascli eval`'s
result.json beside the trained weights. An export from an arch.json or a
token string has no run: the card lists what is therefore unknown.
card_md.py writes them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..children import Profile, build_child, profile_child
from ..data.base import Data
from ..errors import RunError
from ..render.output import write_output
from ..runs import ChildRecord, RunStore
from ..runs.fidelity import FidelityResult, load_fidelity
from ..space import parse_space
from .latency import Latency, torch_latency
from .locate import Located

if TYPE_CHECKING:
    from ..search.retrain import RetrainResult
    from . import Exported

CARD_FILE = "MODEL.md"


@dataclass(frozen=True)
class SearchFacts:
    """What the run recorded about the search and this child."""

    run: Path
    child: ChildRecord
    finished: int  # the run's finished children
    options: dict  # config.json's options: the SearchConfig
    plugins: list[str]  # the plugins its space `requires`
    fidelity: FidelityResult | None
    fidelity_problem: str | None = None  # a fidelity.json that cannot be read


@dataclass(frozen=True)
class Card:
    found: Located
    data: Data
    exported: Exported
    profile: Profile
    latency: list[Latency]  # PyTorch's, and onnxruntime's for an ONNX export
    search: SearchFacts | None  # None: not exported from a run
    test: RetrainResult | None  # `nascli eval`'s result for these weights; None: it has not run


def search_facts(run: Path, child_id: int) -> SearchFacts:
    with RunStore.open_readonly(run) as store:
        done = store.children(status="done")
        child = next(c for c in done if c.id == child_id)
        plugins = [o.text for o in parse_space(store.space_text, str(run / "space.space")).requires]
        options = store.config
    try:
        fidelity, problem = load_fidelity(run), None
    except RunError as err:  # a broken study must not stop an export; the card says so
        fidelity, problem = None, str(err)
    return SearchFacts(run, child, len(done), options, plugins, fidelity, problem)


def eval_result(found: Located) -> RetrainResult | None:
    """The result.json that `nascli eval` wrote with these weights, if it did, for this architecture."""
    from ..search.retrain import RetrainResult

    path = found.weights.path.parent / "result.json"
    try:
        result = RetrainResult.model_validate_json(path.read_bytes())
    except (OSError, ValueError):  # not there (eval has not run), or unreadable: no test result to quote
        return None
    return result if result.tokens == found.arch.tokens else None


def gather(found: Located, data: Data, exported: Exported) -> Card:
    model = build_child(found.arch, data.task, found.child)
    latency = [torch_latency(model, data.task)]
    if exported.parity is not None:
        latency.append(exported.parity.latency)
    search = search_facts(found.run, found.child_id) if found.run is not None else None
    return Card(found, data, exported, profile_child(model, data.task), latency, search, eval_result(found))


def write_card(found: Located, data: Data, exported: Exported) -> Path:
    """MODEL.md beside the exported file (an earlier one there is replaced)."""
    from .card_md import card_markdown

    return write_output(exported.path.parent / CARD_FILE, card_markdown(gather(found, data, exported)))
