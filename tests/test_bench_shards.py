"""bench.shards end to end at scale S: its own build, and `--deployment` over the same indexes laid out as
`unicorn index --shards` lays them out. No timing is asserted: every class is measured in every mode and
the aggregator answers every item as the one index does."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bench.scenarios import CLASSES
from bench.shards import main
from vocabulary.shards import Layout, write_layout


def measured(report: dict, mode: str) -> None:
    figures = report["modes"][mode]
    assert set(CLASSES) <= set(figures)
    assert all(figures[cls]["n"] == 10 for cls in CLASSES)
    if mode != "one":
        assert figures["mismatches"] == 0


def test_built_and_deployment_modes(tmp_path):
    data, out = tmp_path / "data", tmp_path / "built.json"
    result = CliRunner().invoke(main, ["--scale", "S", "--shards", "2", "--queries", "10", "--modes", "local",
                                       "--data", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    built = json.loads(out.read_text())
    for mode in ("one", "local2"):
        measured(built, mode)
    assert built["dataset"]["users"] > 0 and built["deployment"] is None

    deployment = data / "N2"  # shards as `index --shards 2` lays them out; the documents stage's index beside them
    (deployment / "index").symlink_to(data / "one", target_is_directory=True)
    write_layout(deployment, Layout(2, 1, built["partitions"], "embedded"))
    out = tmp_path / "deployment.json"
    result = CliRunner().invoke(main, ["--deployment", str(deployment), "--queries", "10", "--modes", "local",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["deployment"] == str(deployment) and report["dataset"] == built["dataset"]
    for mode in ("one", "local2"):
        measured(report, mode)


def test_deployment_without_layout_is_refused(tmp_path):
    result = CliRunner().invoke(main, ["--deployment", str(tmp_path), "--queries", "10"])
    assert result.exit_code != 0 and "no sharded deployment" in result.output
