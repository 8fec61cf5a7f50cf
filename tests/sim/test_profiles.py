"""Profiles load as data; a user file adds or overrides a profile; errors name the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from wva_ray.sim.model.profiles import get_profile, load_profiles


def test_bundled_profiles_carry_the_reference_table() -> None:
    profiles = load_profiles()
    h100 = profiles["llama-3.1-8b/H100"]
    assert (h100.alpha_ms, h100.beta_ms, h100.gamma_ms_per_1k_kv) == (7.4, 0.015, 0.041)
    assert h100.prefill_tokens_per_s == 35000 and h100.kv_capacity_tokens == 400000
    assert profiles["llama-3.1-70b/H100x4"].gpus == 4
    assert profiles["llama-3.1-8b/L40S"].relative_cost == pytest.approx(0.30)
    # ITL = alpha + beta*N + gamma*KV/1000 (ms)
    assert h100.itl_s(64, 64 * 512) == pytest.approx((7.4 + 0.015 * 64 + 0.041 * 32.768) / 1000)


def test_user_file_adds_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "profiles:\n"
        "  - {id: llama-3.1-8b/H100, model: llama-3.1-8b, accelerator: H100, gpus: 1, alpha_ms: 5, beta_ms: 0.01,\n"
        "     gamma_ms_per_1k_kv: 0.03, prefill_tokens_per_s: 40000, kv_capacity_tokens: 500000, max_num_seqs: 512,\n"
        "     startup_s: 60, relative_cost: 1.0}\n"
        "  - {id: my/MI300X, model: my, accelerator: MI300X, gpus: 1, alpha_ms: 6, beta_ms: 0.01,\n"
        "     gamma_ms_per_1k_kv: 0.03, prefill_tokens_per_s: 30000, kv_capacity_tokens: 900000, max_num_seqs: 512,\n"
        "     startup_s: 60, relative_cost: 0.8}\n",
        encoding="utf-8",
    )
    profiles = load_profiles([path])
    assert profiles["llama-3.1-8b/H100"].alpha_ms == 5
    assert get_profile("my/MI300X", [path]).kv_capacity_tokens == 900000
    assert "llama-3.1-8b/A100" in profiles


def test_invalid_profile_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("profiles:\n  - {id: x, model: m, accelerator: A, gpus: 0}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"(?s)bad\.yaml.*profiles\.0\.gpus"):
        load_profiles([path], bundled=False)


def test_unknown_profile_lists_known_ids() -> None:
    with pytest.raises(KeyError, match=r"llama-3\.1-8b/H100"):
        get_profile("nope/XYZ")
