"""The order the suite hands tests to its processes in (tests/testenv.py): it keeps CI's wall time near its CPU
time."""

import pytest

from tests.testenv import longest_first


class _Item:
    def __init__(self, name, seconds=0):
        self.name, self.marks = name, [pytest.mark.long(seconds).mark] if seconds else []

    def get_closest_marker(self, name):
        return next((mark for mark in self.marks if mark.name == name), None)


def test_each_process_starts_on_its_own_long_test_and_the_rest_go_longest_first():
    items = [_Item("a"), _Item("l30", 30), _Item("b"), _Item("l90", 90), _Item("c"), _Item("l50", 50), _Item("d")]
    items += [_Item("l10", 10), _Item("e")]

    order = [item.name for item in longest_first(items, processes=3)]

    # xdist gives process i the tests at 2i and 2i+1 first: each holds one long test and one short one.
    assert order[:6] == ["l90", "a", "l50", "b", "l30", "c"]
    assert order[6:] == ["l10", "d", "e"]
    assert [item.name for item in longest_first(items, processes=1)] == ["l90", "l50", "l30", "l10", *"abcde"]


def test_more_processes_than_short_tests_still_keeps_every_test():
    items = [_Item("l1", 1), _Item("l2", 2), _Item("l3", 3), _Item("s")]

    assert [item.name for item in longest_first(items, processes=4)] == ["l3", "s", "l2", "l1"]
