"""Routing by category and kecamatan: first match wins, then the category's agency, then triage."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.config import ConfigError, build_router, load_config
from routing.router import Router, Rule

ROOT = Path(__file__).resolve().parents[2]

ROUTER = Router(
    rules=(
        Rule(agency="camat_telanaipura", category="layanan", kecamatan="Telanaipura"),
        Rule(agency="pupr", category="jalan"),
        Rule(agency="camat_kotabaru", kecamatan="Kota Baru"),
    ),
    category_agency={"layanan": "jcoc", "jalan": "dishub", "sampah": "dlh"},
    fallback_agency="jcoc",
)


@pytest.mark.parametrize(
    ("category", "kecamatan", "agency"),
    [
        ("layanan", "Telanaipura", "camat_telanaipura"),
        ("layanan", "telanaipura", "camat_telanaipura"),  # names compare without case
        ("layanan", "Jelutung", "jcoc"),  # no rule: the category's own agency
        ("layanan", None, "jcoc"),  # place unknown: only rules without a kecamatan can match
        ("jalan", "Kota Baru", "pupr"),  # one PUPR group for all roads, whatever the district
        ("sampah", "Kota Baru", "camat_kotabaru"),
        ("unknown", None, "jcoc"),
    ],
)
def test_first_matching_rule_wins(category: str, kecamatan: str | None, agency: str) -> None:
    assert ROUTER.route(category, kecamatan) == agency


def test_the_sample_configuration_routes_public_services_by_district() -> None:
    router = build_router(load_config(ROOT / "config.yaml"))
    assert router.route("layanan", "Telanaipura") == "camat_telanaipura"
    assert router.route("layanan", "Pasar Jambi") == "jcoc"
    assert router.route("jalan", "Telanaipura") == "pupr"


def test_unknown_kecamatan_in_a_rule_is_reported_by_name(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw["routing"]["rules"].append({"category": "layanan", "kecamatan": "Atlantis", "agency": "jcoc"})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "routing.rules.2.kecamatan" in message and "Atlantis" in message and "Telanaipura" in message


def test_a_rule_needs_a_category_or_a_kecamatan(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw["routing"]["rules"].append({"agency": "jcoc"})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"routing\.rules\.2"):
        load_config(path)


def test_a_broken_areas_file_is_reported_with_its_key(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw["geography"]["areas"] = "missing.geojson"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"geography\.areas"):
        load_config(path)
