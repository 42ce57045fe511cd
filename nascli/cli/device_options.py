"""The device options shared by `search`, `check`, `eval` and `fidelity`, and the
execution options of `search` (backend, workers, timeouts, Ray)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .numbers import float_option

DEVICE_PANEL, SCALE_PANEL = "Device", "Scale out"

DeviceOpt = Annotated[str, typer.Option(help="auto (CUDA when torch sees a GPU), cpu, cuda or cuda:N.",
                                        rich_help_panel=DEVICE_PANEL)]
AmpOpt = Annotated[bool, typer.Option("--amp", help="Mixed precision: bf16 autocast (fp16 on GPUs without bf16); "
                                                    "allowed on the CPU, where it is usually slower.",
                                      rich_help_panel=DEVICE_PANEL)]
BackendOpt = Annotated[Optional[str], typer.Option(
    help="local (this process), process (--workers N processes here) or ray (Ray tasks; pip install 'nascli\\[ray]') "
         "\\[default: process with --workers > 1, else local].", rich_help_panel=SCALE_PANEL)]
WorkersOpt = Annotated[Optional[int], typer.Option(min=1, help="Children trained at once (worker processes, or Ray tasks in flight); "
                                                            "fewer start, with a note, where more could not be used: at most "
                                                            "--batch (--budget with --async) children are in flight, and "
                                                            "process runs at most one per core, ray as many as the "
                                                            "cluster's CPUs (GPUs) fit. See docs/scaling.md.",
                                                   rich_help_panel=SCALE_PANEL)]
AddressOpt = Annotated[Optional[str], typer.Option(help="--backend ray: the cluster to join (e.g. ray://head:10001, auto); "
                                                        "default: start a local Ray instance. One not reached, and joined, within 15 s "
                                                        "each is an error.", rich_help_panel=SCALE_PANEL)]
ChildTimeoutOpt = Annotated[Optional[float], float_option(help="Seconds a child may train; one still running then is "
                                                               "stopped and recorded failed.", above=0,
                                                          rich_help_panel=SCALE_PANEL)]
ChildTriesOpt = Annotated[Optional[int], typer.Option(min=1, help="Runs of a child whose worker dies (killed, out of memory; "
                                                                  "ray: also its node, raylet or agent) before it is "
                                                                  "recorded failed \\[default: 3].", rich_help_panel=SCALE_PANEL)]
CpusPerChildOpt = Annotated[Optional[int], typer.Option(min=1, help="Torch threads of each child (ray: also the CPUs its "
                                                                    "task declares) \\[default: process: the cores divided "
                                                                    "among the workers; ray: 1].", rich_help_panel=SCALE_PANEL)]
GpusPerChildOpt = Annotated[Optional[float], float_option(help="--backend ray: GPUs each child task declares (0.5: two "
                                                               "children share a GPU) \\[default: 1 on cuda, else 0].",
                                                          at_least=0, rich_help_panel=SCALE_PANEL)]
AsyncOpt = Annotated[Optional[int], typer.Option("--async", min=1, help="Asynchronous: keep every worker busy, update the "
                                                                         "controller after every K finished children "
                                                                         "\\[default: synchronous, one update per batch].",
                                                 rich_help_panel=SCALE_PANEL)]


def device_name(device: str) -> str:
    """`device` checked and resolved (auto -> cpu or cuda); a DeviceError (exit 2) when not here."""
    from ..train.device import resolve_device  # torch loads only for the commands that train

    return resolve_device(device)


def refuse_for_enas(given: dict[str, object]) -> None:
    """ENAS trains one super-network in the search process: the options that say where children train
    (`given`: flag -> value, None when not given) do not apply to it, so they are refused, not ignored."""
    from ..errors import RunError

    named = [flag for flag, value in given.items() if value is not None]
    if named:
        raise RunError(f"{', '.join(named)} {'does' if len(named) == 1 else 'do'} not apply to --strategy enas: it "
                       "trains one shared network in the search process, on --device")
