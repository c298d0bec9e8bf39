"""Bad input never breaks the CLI: each bad file gets one clear line, the others are still read."""
import json
import time

import pytest

from lenet import cli
from lenet.config import DEFAULT_MODEL_DIR
from tests.badfiles import write_zoo

pytestmark = pytest.mark.skipif(not (DEFAULT_MODEL_DIR / "model.keras").exists(), reason="shipped model missing")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, mnist):
    folder = tmp_path_factory.mktemp("zoo")
    return folder, write_zoo(folder, (mnist.x_test, mnist.y_test))


def test_predict_over_the_whole_zoo(zoo, capsys):
    """A user feeds every odd file at once: errors are one line each, good files are read right."""
    folder, expect = zoo
    files = [str(folder / name) for name in expect]
    t0 = time.perf_counter()
    code = cli.main(["predict", "--json", *files])
    elapsed = time.perf_counter() - t0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [r["file"] for r in rows] == files and code == 1
    err_lines = captured.err.strip().splitlines()
    assert "Traceback" not in captured.err
    for row, (name, want) in zip(rows, expect.items()):
        if want in ("error", "blank"):
            assert "error" in row and "digit" not in row, name
            assert any(line.startswith(f"error: {row['file']}: ") for line in err_lines), name
            if want == "blank":
                assert "blank" in row["error"]
        else:
            assert row.get("digit") == want, (name, row)
    assert len(err_lines) == sum(v in ("error", "blank") for v in expect.values())
    print(f"zoo of {len(files)} files predicted in {elapsed:.2f} s")


def test_bomb_message_is_clear(zoo, capsys):
    folder, _ = zoo
    assert cli.main(["predict", str(folder / "bomb.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pixels" in err.lower()


@pytest.mark.parametrize("name", ["notes.png", "empty.png", "all_white.png"])
def test_read_sheet_on_bad_or_blank(zoo, capsys, name):
    folder, expect = zoo
    code = cli.main(["read-sheet", str(folder / name)])
    out, err = capsys.readouterr()
    if expect[name] == "error":
        assert code == 1 and err.startswith(f"error: {folder / name}: ") and err.count("\n") == 1
    else:
        assert code == 0 and out.strip() == "no digits found"
