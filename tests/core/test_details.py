"""eval/details.json through its one declaration: undeclared keys refused, a damaged file is one line."""

from __future__ import annotations

import pytest

from pipeline.core.details import read_details, write_details
from pipeline.core.errors import OutputError


def test_written_details_read_back(tmp_path):
    path = tmp_path / "details.json"
    write_details(path, {"kl_per_dim": [1.0, 0.5], "active": [True, False], "likelihood": "bernoulli"})
    assert read_details(path) == {"kl_per_dim": [1.0, 0.5], "active": [True, False], "likelihood": "bernoulli"}


def test_an_undeclared_key_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="new_array"):
        write_details(tmp_path / "details.json", {"kl_per_dim": [1.0], "new_array": [1]})  # type: ignore[typeddict-unknown-key]
    assert not (tmp_path / "details.json").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "missing"), ('{"kl_per_dim": [1.0, 0.', "damaged"), ('{"foo": 1}', "not an evaluate details file")],
)
def test_a_missing_or_damaged_file_is_one_line_naming_it_and_the_fix(tmp_path, content, message):
    path = tmp_path / "details.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(OutputError) as raised:
        read_details(path)
    text = str(raised.value)
    assert "\n" not in text and str(path) in text and message in text and "dvc repro -f evaluate" in text
