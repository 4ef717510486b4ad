"""The shared JSON-lines reader on hand-made files: what it yields and how each bad line is named."""

import pytest

from verl_dsdr.utils.jsonl import JsonlError, iter_jsonl, split_lines


def _file(tmp_path, data: bytes):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(data)
    return path


def test_good_rows_skip_blank_lines_and_keep_file_line_numbers(tmp_path):
    path = _file(tmp_path, b'\xef\xbb\xbf{"a": 1}\n\n   \n{"b": [2]}\r\n{"c": "\xe2\x80\xa8"}')
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (4, {"b": [2]}), (5, {"c": "\u2028"})]
    assert list(iter_jsonl("named-in-errors", path.read_bytes())) == list(iter_jsonl(path))
    assert list(iter_jsonl(_file(tmp_path, b""))) == []


@pytest.mark.parametrize(
    "line, problem",
    [
        (b'{"a": 1', "not valid JSON (Expecting ',' delimiter at column 8)"),
        (b'[{"a": 1}]', "expected a JSON object, got an array"),
        (b'"text"', "expected a JSON object, got a string"),
        (b"null", "expected a JSON object, got null"),
        (b"1.5", "expected a JSON object, got a number"),
        (b'{"a": "\xff\xfe"}', "not UTF-8 (byte 0xff at byte 8 of the line)"),
    ],
)
def test_a_bad_line_raises_one_error_naming_file_line_problem_and_fix(tmp_path, line, problem):
    path = _file(tmp_path, b'{"ok": 1}\n' + line + b'\n{"ok": 2}\n')
    with pytest.raises(JsonlError) as caught:
        list(iter_jsonl(path))
    err = caught.value
    assert isinstance(err, ValueError) and (err.path, err.line, err.problem, err.torn) == (str(path), 2, problem, False)
    assert str(err) == f"{path}:2: {problem}; fix or remove that line"


def test_undecodable_bytes_can_be_kept_as_surrogates_for_the_callers_row_checks(tmp_path):
    path = _file(tmp_path, b'{"a": "\xff"}\n')
    assert list(iter_jsonl(path, undecodable="escape")) == [(1, {"a": "\udcff"})]


def test_bad_lines_can_be_yielded_in_place_to_report_them_all(tmp_path):
    path = _file(tmp_path, b'{"a": 1}\nnope\n[]\n{"b": 2}\n')
    got = list(iter_jsonl(path, bad_lines="yield"))
    assert [number for number, _ in got] == [1, 2, 3, 4]
    assert got[0][1] == {"a": 1} and got[3][1] == {"b": 2}
    assert [row.problem.split(" (")[0] for _, row in got[1:3] if isinstance(row, JsonlError)] == [
        "not valid JSON",
        "expected a JSON object, got an array",
    ]


@pytest.mark.parametrize("tail", [b'{"a": 2, "b', b'{"a": "\xe2\x80'])
def test_a_torn_last_line_is_marked_so_a_resume_can_drop_it(tmp_path, tail):
    path = _file(tmp_path, b'{"a": 1}\n' + tail)
    rows = []
    with pytest.raises(JsonlError, match="cut mid-write") as caught:
        rows.extend(iter_jsonl(path))
    assert rows == [(1, {"a": 1})] and caught.value.torn and caught.value.line == 2


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1}\n{"a": 2, "b\n',  # the broken line ends: not a cut
        b'{"a": 1}\n[1, 2]',  # a whole value, only of the wrong kind
        b'{"a": 1}\n{"a": "\xff", "b": 2}',  # a bad byte mid-line, not a split character
    ],
)
def test_other_bad_last_lines_are_not_torn(tmp_path, data):
    with pytest.raises(JsonlError) as caught:
        list(iter_jsonl(_file(tmp_path, data)))
    assert not caught.value.torn and "fix or remove that line" in str(caught.value)


def test_split_lines_numbers_lines_as_the_reader_does():
    assert split_lines(b'\xef\xbb\xbf{"a": 1}\n\n{"b": "\xe2\x80\xa8"}') == [
        b'{"a": 1}\n',
        b"\n",
        b'{"b": "\xe2\x80\xa8"}',
    ]
    assert split_lines(b"x\n") == [b"x\n"] and split_lines(b"") == []
