"""Generation keeps its work (rows appended per finished problem, resumed after a crash), records its
sampling settings and refuses bad input with a message; on the embedded tiny model (CPU, seconds)."""

import json

import pytest

from verl_dsdr import generate


@pytest.fixture(scope="module")
def assets():
    from verl_dsdr.assets import build_assets

    return build_assets()  # cached after the first build


def _argv(assets, out, *extra):
    return [
        "--model",
        str(assets.model_dir),
        "--data",
        str(assets.val_parquet),
        "--out",
        str(out),
        "--limit",
        "3",
        "--n",
        "2",
        "--temperature",
        "0.7",
        "--top-p",
        "0.9",
        "--max-tokens",
        "8",
        "--device",
        "cpu",
        "--batch-size",
        "1",
        "--no-progress",
        "--method",
        "tiny",
        *extra,
    ]


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


class Crash(Exception):
    pass


def test_rows_are_appended_per_problem_and_a_crash_resumes(assets, tmp_path, monkeypatch):
    out = tmp_path / "s.jsonl"
    original = generate.SampleWriter.append
    appended = []

    def append_then_crash(self, problem, texts, *rest):
        original(self, problem, texts, *rest)
        appended.append(problem.key)
        assert len(_rows(out)) == 2 * len(appended)  # on disk before the next problem is sampled
        if len(appended) == 1:
            raise Crash

    monkeypatch.setattr(generate.SampleWriter, "append", append_then_crash)
    with pytest.raises(Crash):
        generate.main(_argv(assets, out))
    first = out.read_text()
    assert [r["problem_id"] for r in _rows(out)] == [0, 0]
    # A crash while the next problem's rows were written leaves a cut line: it is dropped and redone.
    out.write_text(first + first.splitlines()[0][:25])
    monkeypatch.setattr(generate.SampleWriter, "append", original)
    asked = []
    real_hf = generate.generate_hf

    def spy(model, prompts, settings, **kwargs):
        asked.append(len(prompts))
        return real_hf(model, prompts, settings, **kwargs)

    monkeypatch.setattr(generate, "generate_hf", spy)
    assert generate.main(_argv(assets, out)) == 0
    assert asked == [2]  # only the two problems not done before
    rows = _rows(out)
    assert out.read_text().startswith(first)  # the finished problem is kept as written
    assert [(r["problem_id"], r["sample_index"]) for r in rows] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    before = out.read_bytes()
    assert generate.main(_argv(assets, out)) == 0  # complete: nothing to do
    assert asked == [2] and out.read_bytes() == before


def test_unfinished_problem_is_redone_and_sampling_is_recorded(assets, tmp_path):
    out = tmp_path / "s.jsonl"
    assert generate.main(_argv(assets, out, "--protocol", "avg16", "--seed", "5")) == 0
    rows = _rows(out)
    sampling = rows[0]["sampling"]
    from verl_dsdr.eval.provenance import file_sha256, weights_sha256

    assert sampling == {
        "protocol": "avg16",
        "n": 2,
        "temperature": 0.7,
        "top_p": 0.9,
        "max_tokens": 8,
        "seed": 5,
        "backend": "hf",
        "model": str(assets.model_dir),
        "model_sha256": weights_sha256(assets.model_dir),
        "data": str(assets.val_parquet),
        "data_sha256": file_sha256(assets.val_parquet),
        "batch_size": 1,
        "device": "cpu",
        "dtype": "float32",
        "raw_prompt": False,
        "chat_template_kwargs": None,
        "top_k": None,
    }
    assert all(r["sampling"] == sampling for r in rows)
    # One row of the last problem lost: that problem is sampled again, the others kept.
    out.write_text("".join(line + "\n" for line in out.read_text().splitlines()[:5]))
    assert generate.main(_argv(assets, out, "--protocol", "avg16", "--seed", "5")) == 0
    again = _rows(out)
    assert again[:4] == rows[:4]
    assert [(r["problem_id"], r["sample_index"]) for r in again[4:]] == [(2, 0), (2, 1)]


def test_resume_refuses_other_settings_and_overwrite_restarts(assets, tmp_path, capsys):
    out = tmp_path / "s.jsonl"
    assert generate.main(_argv(assets, out)) == 0
    capsys.readouterr()
    assert generate.main(_argv(assets, out, "--seed", "1")) == 2
    err = capsys.readouterr().err
    assert "Resuming would mix them" in err and "--overwrite" in err and "Traceback" not in err
    # only the setting that differs, not the two whole records
    assert "(seed: 0 -> 1)" in err and "temperature" not in err
    assert generate.main(_argv(assets, out, "--seed", "1", "--overwrite")) == 0
    assert {r["sampling"]["seed"] for r in _rows(out)} == {1}
    out.write_text('{"benchmark": "x", "problem_id": 0\nnot json\n')
    assert generate.main(_argv(assets, out)) == 2
    assert "s.jsonl:1: not valid JSON" in capsys.readouterr().err


def test_method_names():
    assert generate.method_name("/ckpt/dsdr_qwen3/global_step_120/actor/huggingface") == "dsdr_qwen3-step120"
    assert generate.method_name("ckpt/grpo/global_step_20/actor/huggingface/") == "grpo-step20"
    assert generate.method_name("ckpt/grpo/global_step_20") == "grpo-step20"
    assert generate.method_name("/models/merged/dsdr") == "dsdr"
    assert generate.method_name("/x/huggingface") == "huggingface"  # not verl's layout: the folder's name
    assert generate.method_name("Qwen/Qwen3-1.7B") == "Qwen3-1.7B"


def test_default_method_for_verls_checkpoint_layout(assets, tmp_path):
    ckpt = tmp_path / "dsdr_run" / "global_step_3" / "actor"
    ckpt.mkdir(parents=True)
    (ckpt / "huggingface").symlink_to(assets.model_dir, target_is_directory=True)
    out = tmp_path / "s.jsonl"
    argv = [a for a in _argv(assets, out) if a != "tiny"]
    argv[argv.index("--model") + 1] = str(ckpt / "huggingface")
    argv.remove("--method")
    assert generate.main([*argv, "--limit", "1"]) == 0
    assert {r["method"] for r in _rows(out)} == {"dsdr_run-step3"}
    out2 = tmp_path / "p.jsonl"
    argv[argv.index("--out") + 1] = str(out2)
    assert generate.main([*argv, "--limit", "1", "--protocol", "pass1"]) == 0
    assert {r["method"] for r in _rows(out2)} == {"dsdr_run-step3-pass1"}  # the evaluator pairs it by protocol


@pytest.mark.parametrize(
    "change, message",
    [
        ({"--model": "/no/such/ckpt"}, "no such folder"),
        ({"--data": "/no/such/data.parquet"}, "does not exist"),
        ({"--top-p": "1.5"}, "--top-p must be in (0, 1]"),
        ({"--temperature": "-1"}, "--temperature must be >= 0"),
    ],
)
def test_bad_input_is_a_message_and_exit_2(assets, tmp_path, capsys, change, message):
    argv = _argv(assets, tmp_path / "s.jsonl")
    for flag, value in change.items():
        argv[argv.index(flag) + 1] = value
    assert generate.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "s.jsonl").exists()


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--n", "0", "expected an integer >= 1, got 0"),
        ("--batch-size", "two", "expected an integer >= 1, got 'two'"),
        ("--max-tokens", "-5", "expected an integer >= 1, got -5"),
        ("--temperature", "hot", "expected a number, got 'hot'"),
        ("--chat-template-kwargs", "{enable_thinking: false}", "not valid JSON"),
        ("--chat-template-kwargs", "[1]", "expected a JSON object"),
    ],
)
def test_bad_numbers_are_usage_errors(assets, tmp_path, capsys, flag, value, message):
    with pytest.raises(SystemExit) as exit_info:
        generate.main([*_argv(assets, tmp_path / "s.jsonl"), flag, value])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_not_a_hf_checkpoint_folder_says_what_to_pass(assets, tmp_path, capsys):
    actor = tmp_path / "run" / "global_step_2" / "actor"
    actor.mkdir(parents=True)
    (actor / "model_world_size_1_rank_0.pt").write_bytes(b"")
    argv = _argv(assets, tmp_path / "s.jsonl")
    argv[argv.index("--model") + 1] = str(actor)
    assert generate.main(argv) == 2
    assert "verl.model_merger" in capsys.readouterr().err
    (actor / "huggingface").symlink_to(assets.model_dir, target_is_directory=True)
    assert generate.main(argv) == 2
    assert "pass that folder" in capsys.readouterr().err
