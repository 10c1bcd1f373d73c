"""The canary's shares and its state read back from git records."""

from __future__ import annotations

import pytest

from mlgate.canary.steps import describe, open_canary, parse_steps, step_of
from mlgate.errors import BadInput
from mlgate.promote.history import Recorded


def rec(sha: str, canary: str | None = None, cid: str | None = "c1", weight: str | None = None,
        rollback_of: tuple[str, ...] = ()) -> Recorded:
    return Recorded(sha=sha, subject=f"commit {sha}", images=(("img:1", "img:2"),), sets=(),
                    registry=None, rollback_of=rollback_of, canary=canary,
                    canary_id=cid if canary else None, canary_weight=weight)


@pytest.mark.parametrize("text,want", [
    ("1,5,25,100", (1, 5, 25, 100)),
    ("100", (100,)),
    (" 10 , 100", (10, 100)),
    ("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,100", tuple(range(1, 20)) + (100,)),
])
def test_steps_read_as_rising_shares_ending_at_100(text, want):
    assert parse_steps(text) == want


@pytest.mark.parametrize("text,says", [
    ("", "whole percentages"),
    ("1,,100", "whole percentages"),
    ("1.5,100", "whole percentages"),
    ("-1,100", "whole percentages"),
    ("1,5,1000", "whole percentages"),
    ("٣,100", "whole percentages"),
    ("0,100", "the first at least 1"),
    ("5,5,100", "each share above the one before"),
    ("25,5,100", "each share above the one before"),
    ("1,5,25", "the last step is 100"),
    ("1,5,101", "the last step is 100"),
    (",".join(str(i) for i in range(1, 21)) + ",100", "at most 20 steps"),
])
def test_bad_steps_are_refused_naming_the_option(text, says):
    with pytest.raises(BadInput) as err:
        parse_steps(text)
    assert str(err.value).startswith("--steps ") and says in str(err.value)


def test_twenty_steps_are_allowed():
    assert len(parse_steps(",".join(str(i) for i in range(1, 20)) + ",100")) == 20


@pytest.mark.parametrize("text,want", [
    ("1/4", (1, 4)), ("4/4", (4, 4)), ("20/20", (20, 20)), ("1/1", (1, 1)),
    ("0/4", None), ("5/4", None), ("1/21", None), ("21/21", None), ("aborted", None),
    ("1/4 ", None), ("x/4", None), ("", None), ("1//4", None), ("123/4", None),
])
def test_a_step_reads_only_as_mlgate_writes_it(text, want):
    assert step_of(rec("a", canary=text)) == want


def test_no_record_or_a_plain_promotion_leaves_no_canary_open():
    assert open_canary([]) is None
    assert open_canary([rec("b"), rec("a", "1/4", weight="1")]) is None


def test_the_newest_step_below_the_last_is_open():
    history = [rec("c", "2/4", weight="5"), rec("b", "1/4", weight="1"), rec("a")]
    found = open_canary(history)
    assert found is not None
    assert (found.id, found.step, found.total, found.weight, found.aborted) == ("c1", 2, 4, 5,
                                                                                   False)
    assert found.commit == "c" and found.first.sha == "b"
    assert [r.sha for r in found.records] == ["c", "b"]
    assert describe(found) == "canary c1 at step 2/4 (5 %), commit c"


def test_the_last_step_closes_the_canary():
    assert open_canary([rec("d", "4/4", weight="100"), rec("c", "3/4", weight="25")]) is None


def test_an_abort_without_its_rollback_is_open_and_aborted():
    history = [rec("d", "aborted", weight="0"), rec("c", "3/4", weight="25"),
               rec("b", "2/4", weight="5"), rec("a", "1/4", weight="1")]
    found = open_canary(history)
    assert found is not None and found.aborted
    assert (found.step, found.total, found.weight) == (3, 4, 0)
    assert [r.sha for r in found.records] == ["d", "c", "b", "a"]
    assert describe(found) == "canary c1 aborted, its rollback not landed, commit d"


def test_a_rollback_closes_the_canary():
    back = Recorded(sha="e", subject="rollback", images=(), sets=(), registry=None,
                    rollback_of=("d", "c"), canary="rolled-back", canary_id="c1")
    assert open_canary([back, rec("d", "aborted", weight="0"), rec("c", "1/4")]) is None


def test_only_the_newest_canarys_records_count():
    history = [rec("d", "1/3", cid="new", weight="1"), rec("c", "2/4", cid="old", weight="5"),
               rec("b", "1/4", cid="old", weight="1")]
    found = open_canary(history)
    assert found is not None and found.id == "new" and [r.sha for r in found.records] == ["d"]
    assert found.total == 3


def test_records_stop_at_a_rollback_of_the_same_id():
    back = rec("b", "1/4", rollback_of=("x",))
    found = open_canary([rec("c", "2/4", weight="5"), back, rec("a", "1/4")])
    assert found is not None and [r.sha for r in found.records] == ["c"]


def test_a_hand_made_canary_value_is_not_a_canary():
    assert open_canary([rec("c", "half", weight="50"), rec("b", "1/4")]) is None
    assert open_canary([rec("c", "aborted", weight="0")]) is None   # no step to abort from


@pytest.mark.parametrize("weight,want", [("5", 5), ("100", 100), ("", 0), (None, 0),
                                         ("5%", 0), ("1000", 0), ("٥", 0)])
def test_the_weight_is_read_strictly(weight, want):
    found = open_canary([rec("c", "2/4", weight=weight)])
    assert found is not None and found.weight == want


def test_an_abort_is_at_zero_whatever_its_weight_trailer_says():
    found = open_canary([rec("d", "aborted", weight="5"), rec("c", "2/4", weight="5")])
    assert found is not None and found.weight == 0


def test_the_description_names_a_short_commit():
    sha = "0123456789abcdef" * 2 + "01234567"
    found = open_canary([rec(sha, "1/4", weight="1")])
    assert found is not None and describe(found).endswith("commit 0123456789ab")


def test_a_long_steps_text_is_cut_in_the_message():
    text = "1," * 100 + "x"
    with pytest.raises(BadInput) as err:
        parse_steps(text)
    assert str(err.value).startswith(f"--steps {text[:60]!r}:")
