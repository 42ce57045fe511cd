"""The ASHA promotion rule (search/rungs.py) on scripted sequences of results."""

import pytest
from pydantic import ValidationError

from nascli.search.rungs import Promotion, RungConfig, RungLadder


def ladder(epochs=(1, 3, 9), eta=3, max_children=None):
    return RungLadder(RungConfig(epochs=epochs, eta=eta), max_children)


def drain(rungs: RungLadder) -> list[Promotion]:
    """Every promotion a free worker would take now, each started as it is taken."""
    taken = []
    while (p := rungs.next_promotion()) is not None:
        rungs.start(p)
        taken.append(p)
    return taken


def test_asynchronous_promotes_as_soon_as_a_child_is_in_the_top_third():
    rungs = ladder()
    seen = []
    for child, score in [(1, 0.5), (2, 0.9), (3, 0.1), (4, 0.95), (5, 0.2), (6, 0.3)]:
        rungs.record(child, 0, score)
        seen.append(drain(rungs))
    # 3 results: child 2 is the top third; 4 results: child 4 (the new best) is; 6: the top 2 already went
    assert seen == [[], [], [Promotion(2, 1)], [Promotion(4, 1)], [], []]
    rungs.record(2, 1, 0.6)
    rungs.record(4, 1, 0.7)
    assert drain(rungs) == []  # 2 finished rung 1: floor(2/3) = 0
    rungs.record(7, 0, 0.4)
    rungs.record(8, 0, 0.0)
    rungs.record(9, 0, 0.45)  # 9 at rung 0: top 3 = 4, 2, 1 (0.5); child 1 goes now
    assert drain(rungs) == [Promotion(1, 1)]
    rungs.record(1, 1, 0.8)  # rung 1 has 3: its best (child 1) goes to rung 2 before anything else
    rungs.record(10, 0, 0.99)
    rungs.record(11, 0, 0.0)
    rungs.record(12, 0, 0.0)  # 12 at rung 0: top 4 includes the new child 10
    assert drain(rungs) == [Promotion(1, 2), Promotion(10, 1)]
    assert rungs.reached(1) == 1 and rungs.reached(3) == 0 and rungs.reached(99) is None


def test_synchronous_batches_promote_the_top_of_what_finished():
    """The synchronous loop asks after each result too; a batch finishing in another order gives the same
    promotions once it has all finished (ties go to the earlier child)."""
    results = [(1, 0.3), (2, 0.8), (3, 0.8), (4, 0.1), (5, 0.7), (6, 0.2)]
    one, other = ladder(), ladder()
    for child, score in results:
        one.record(child, 0, score)
    for child, score in reversed(results):
        other.record(child, 0, score)
    assert drain(one) == drain(other) == [Promotion(2, 1), Promotion(3, 1)]


def test_top_rung_failures_and_eta():
    rungs = ladder(epochs=(12, 200), eta=2)
    rungs.record(1, 0, 0.9, ok=False)  # failed: never promoted, whatever its score
    rungs.record(2, 0, 0.5)
    assert drain(rungs) == []
    rungs.record(3, 0, 0.4)
    rungs.record(4, 0, 0.1)  # top half of 4 = children 1 (failed) and 2
    assert drain(rungs) == [Promotion(2, 1)]
    rungs.record(2, 1, 0.99)
    rungs.record(3, 1, 0.98)
    assert rungs.candidates(1) == []  # the top rung promotes nothing


def test_promotable_under_a_children_budget():
    rungs = ladder(max_children=9)  # at most 9 finish rung 0, so at most 3 are ever promoted from it
    for child, score in [(1, 0.1), (2, 0.2), (3, 0.3), (4, 0.4)]:
        rungs.record(child, 0, score)
    assert [rungs.promotable(c, 0) for c in (1, 2, 3, 4)] == [False, True, True, True]
    assert rungs.capacity(1) == 3 and rungs.capacity(2) == 1
    assert not ladder().promotable(1, 2)  # top rung
    unbounded = ladder()
    unbounded.record(1, 0, 0.0)
    assert unbounded.promotable(1, 0)  # without a children budget anything may still rise


@pytest.mark.parametrize("epochs", [(3,), (3, 3), (9, 3), (0, 3)])
def test_rungs_must_increase(epochs):
    with pytest.raises(ValidationError):
        RungConfig(epochs=epochs)
