"""`unicorn demo` stopped while it generates: the next run appends only what the stopped run did not
write, so the firehose holds the generated platform once (console/demo.py `generate_into`)."""

from __future__ import annotations

from pathlib import Path

import pytest

import firehose.sources.generator as generator
from console.demo import generate_into
from firehose.endpoint import Endpoint


def records(data: Path) -> list[bytes]:
    consumer = Endpoint(data).consumer()
    consumer.assign({0: 0})
    out = []
    while batch := consumer.poll(10_000, 0):
        out += [r.payload for r in batch]
    consumer.close()
    return out


@pytest.mark.parametrize("stop_at", [0, 7_000, 30_000])
def test_a_demo_stopped_while_generating_resumes_without_doubling(tmp_path, monkeypatch, stop_at):
    real = generator.generate

    def interrupted(scale, seed):
        for n, event in enumerate(real(scale, seed)):
            if n == stop_at:
                raise KeyboardInterrupt  # what SIGINT raises
            yield event

    stopped, clean = tmp_path / "stopped", tmp_path / "clean"
    for data in (stopped, clean):
        data.mkdir()
    monkeypatch.setattr(generator, "generate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate_into(stopped, "S", 3)
    partial = len(records(stopped)) if Endpoint(stopped).exists() else 0
    assert partial == stop_at  # closing the producer flushed what was sent
    monkeypatch.setattr(generator, "generate", real)
    assert generate_into(stopped, "S", 3) == generate_into(clean, "S", 3)
    assert records(stopped) == records(clean)


def test_the_demo_refuses_to_finish_another_platform(tmp_path, monkeypatch):
    def nothing(scale, seed):
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(generator, "generate", nothing)
    with pytest.raises(KeyboardInterrupt):
        generate_into(tmp_path, "S", 3)
    monkeypatch.undo()
    with pytest.raises(Exception, match="seed 3"):
        generate_into(tmp_path, "S", 4)
