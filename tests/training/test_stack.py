"""The training stack that make run / make test install: pinned versions, and a tiny model trains offline."""

import importlib.metadata
import os
import tomllib

import pytest

from tests.helpers.processes import REPO


def pinned(extra: str) -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = project["optional-dependencies"][extra] if extra else project["dependencies"]
    out = {}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        out[name.split("[")[0]] = version
    return out


@pytest.mark.parametrize("extra", ["", "train", "dev"])
def test_installed_versions_match_the_pins(extra):
    for name, version in pinned(extra).items():
        installed = importlib.metadata.version(name)
        assert installed.split("+")[0] == version, f"{name}: pinned {version}, installed {installed}"


def test_a_tiny_llama_takes_an_optimizer_step_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    model = LlamaForCausalLM(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    batch = torch.randint(0, 64, (4, 16))
    losses = []
    for _ in range(5):
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert os.environ["HF_HUB_OFFLINE"] == "1"
