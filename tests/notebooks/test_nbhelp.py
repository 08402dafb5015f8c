"""The notebook tests read a cell's text as a reader sees it, however the kernel flushed it."""
from __future__ import annotations

import nbformat

import nbhelp


def _cell(*outputs) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell("print('table')")
    cell.outputs = [nbformat.v4.new_output(**o) for o in outputs]
    return cell


def test_a_stream_flushed_in_several_messages_reads_as_one_text() -> None:
    whole = _cell({"output_type": "stream", "name": "stdout", "text": "heading\nheader\nrow 1\nrow 2\n"})
    split = _cell({"output_type": "stream", "name": "stdout", "text": "heading\nheader\n"},
                  {"output_type": "stream", "name": "stdout", "text": "row 1\nrow"},
                  {"output_type": "stream", "name": "stdout", "text": " 2\n"})
    assert nbhelp.text_outputs(split) == nbhelp.text_outputs(whole) == "heading\nheader\nrow 1\nrow 2\n"


def test_other_outputs_still_start_their_own_text() -> None:
    cell = _cell({"output_type": "stream", "name": "stdout", "text": "a\n"},
                 {"output_type": "stream", "name": "stderr", "text": "warning\n"},
                 {"output_type": "stream", "name": "stdout", "text": "b\n"},
                 {"output_type": "execute_result", "data": {"text/plain": "42"}, "execution_count": 1},
                 {"output_type": "error", "ename": "ValueError", "evalue": "bad", "traceback": []})
    assert nbhelp.text_outputs(cell).split("\n") == ["a", "", "warning", "", "b", "", "42", "ValueError: bad"]
