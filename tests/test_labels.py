"""How a person names and picks a class (oracles/_labels.py)."""

import numpy as np
import pytest

from sklearn_cincer.oracles._labels import LETTERS, Choices, check_class_names


@pytest.mark.parametrize(
    "classes",
    [
        np.arange(10),
        np.array([0, 3, 9]),
        np.array(["0", "5", "9"]),
        np.array([0.0, 1.0, 9.0]),
        [np.int64(2), np.int64(7)],
    ],
)
def test_digit_classes_are_their_own_keys(classes):
    choices = Choices(classes)
    assert choices.digits
    assert choices.keys == [str(int(float(c))) for c in classes]


@pytest.mark.parametrize(
    "classes",
    [
        np.array([1, 10]),
        np.array([-1, 1]),
        np.array([0.5, 1.0]),
        np.array(["cat", "dog"]),
        np.array([False, True]),
        np.array(["00", "1"]),
    ],
)
def test_other_classes_get_letters_that_leave_skip_and_undo_alone(classes):
    choices = Choices(classes)
    assert not choices.digits and choices.keys == ["a", "b"]
    assert "s" not in LETTERS and "u" not in LETTERS
    many = Choices([f"c{i:02d}" for i in range(30)])
    assert many.keys[:24] == list(LETTERS) and many.keys[24:] == [None] * 6


def test_typed_text_is_read_as_the_class_first_then_commands_then_prefixes():
    choices = Choices(np.array(["s", "spam", "sun"]))
    assert choices.resolve("s") == ("class", 0)  # a class named "s" wins
    assert choices.resolve("skip") == ("skip", None)
    assert choices.resolve("sp") == ("class", 1)
    assert choices.resolve("SU") == ("class", 2)
    assert choices.resolve("u") == ("undo", None)
    assert choices.resolve("?") == ("help", None)
    # a command, not the first letter of spam or sun
    assert Choices(np.array(["spam", "sun"])).resolve("S") == ("skip", None)
    assert Choices(np.array(["spam", "sun"])).resolve("x")[0] == "error"
    assert choices.complete("S") == ["s", "spam", "sun"]
    assert choices.complete("sp") == ["spam"]


def test_class_names_by_dict_or_by_position():
    by_dict = Choices(np.array([0, 1]), check_class_names({1: "yes", 0: "no"}))
    by_list = Choices(np.array([0, 1]), check_class_names(["no", "yes"]))
    for choices in (by_dict, by_list):
        assert choices.names == ["no", "yes"] and choices.keys == ["0", "1"]
        assert choices.name(1) == "yes" and choices.name(np.int64(0)) == "no"
        assert choices.resolve("1") == ("class", 1)  # the code
        assert choices.resolve("Ye") == ("class", 1)  # the name, by its start
        assert choices.listing() == "0 no  1 yes"
    assert check_class_names(np.array(["a", "b"])) == ["a", "b"]
    assert check_class_names({np.int64(3): " three "}) == {3: "three"}
