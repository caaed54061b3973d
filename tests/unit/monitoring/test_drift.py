"""Drift verdicts follow Evidently's DataDriftPreset rules, statistic by statistic."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from shipline.config.schema import DriftConfig, DriftOverride
from shipline.errors import UsageError
from shipline.monitoring import column_kind, compare_columns

RNG = np.random.default_rng(7)


def _one(reference: np.ndarray, current: np.ndarray):  # type: ignore[no-untyped-def]
    return compare_columns({"x": reference}, {"x": current}).columns[0]


def test_large_numerical_uses_normalised_wasserstein() -> None:
    ref, cur = RNG.normal(0, 2, 5000), RNG.normal(0.5, 2, 4000)
    verdict = _one(ref, cur)
    assert verdict.method == "wasserstein" and verdict.threshold == 0.1
    assert verdict.statistic == pytest.approx(stats.wasserstein_distance(ref, cur) / np.std(ref))
    assert verdict.drifted is True
    assert _one(ref, RNG.normal(0, 2, 4000)).drifted is False


def test_large_few_values_and_categorical_use_jensen_shannon_per_value() -> None:
    ref = RNG.choice([1.0, 2.0, 3.0], 3000, p=[0.5, 0.3, 0.2])
    cur = RNG.choice([1.0, 2.0, 3.0], 2000, p=[0.2, 0.3, 0.5])
    verdict = _one(ref, cur)
    expected = distance.jensenshannon(
        [np.mean(ref == v) for v in (1, 2, 3)], [np.mean(cur == v) for v in (1, 2, 3)]
    )
    assert verdict.method == "jensenshannon" and verdict.statistic == pytest.approx(expected)
    assert verdict.drifted is True
    text_ref = np.asarray(RNG.choice(["a", "b", "c"], 3000), dtype=object)
    text_cur = np.asarray(RNG.choice(["a", "b", "c", "d"], 3000), dtype=object)
    categorical = _one(text_ref, text_cur)
    assert categorical.kind == "categorical" and categorical.method == "jensenshannon"
    assert categorical.unseen == ("d",)


def test_small_reference_uses_ks_chisquare_and_z() -> None:
    ref, cur = RNG.normal(0, 1, 400), RNG.normal(0.3, 1, 300)
    ks = _one(ref, cur)
    assert ks.method == "ks" and ks.statistic == pytest.approx(stats.ks_2samp(ref, cur).pvalue)
    assert ks.drifted == (ks.statistic <= 0.05)
    cats_ref = np.asarray(RNG.choice(["a", "b", "c"], 500, p=[0.5, 0.3, 0.2]), dtype=object)
    cats_cur = np.asarray(RNG.choice(["a", "b", "c"], 400, p=[0.45, 0.35, 0.2]), dtype=object)
    chi = _one(cats_ref, cats_cur)
    ref_counts = np.array([np.sum(cats_ref == k) for k in "abc"], float)
    cur_counts = np.array([np.sum(cats_cur == k) for k in "abc"], float)
    assert chi.method == "chisquare"
    assert chi.statistic == pytest.approx(
        stats.chisquare(cur_counts, ref_counts * 400 / 500).pvalue
    )
    flags_ref, flags_cur = RNG.random(600) < 0.3, RNG.random(500) < 0.45
    z = _one(flags_ref.astype(np.int64), flags_cur.astype(np.int64))
    p1, p2 = flags_ref.mean(), flags_cur.mean()
    pooled = (p1 * 600 + p2 * 500) / 1100
    expected = 2 * (
        1 - stats.norm.cdf(abs(p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1 / 600 + 1 / 500)))
    )
    assert z.method == "z" and z.statistic == pytest.approx(expected) and z.drifted is True


def test_an_unseen_category_in_a_small_reference_is_drift() -> None:
    ref = np.asarray(["a", "b", "c"] * 100, dtype=object)
    cur = np.asarray(["a", "b", "c", "new"] * 50, dtype=object)
    verdict = _one(ref, cur)
    assert verdict.method == "chisquare" and verdict.statistic == 0.0 and verdict.drifted is True
    assert verdict.unseen == ("new",)


def test_column_typing_follows_evidently() -> None:
    assert column_kind(np.array([1.0, 2.0])) == "numerical"
    assert column_kind(np.arange(10) % 10) == "categorical"  # int with <= 10 unique values
    assert column_kind(np.arange(100)) == "numerical"
    assert column_kind(np.array([True, False])) == "categorical"
    assert column_kind(np.asarray([f"id{i}" for i in range(10)], dtype=object)) == "text"
    assert column_kind(np.asarray(["a", "b"] * 5, dtype=object)) == "categorical"


def test_missing_values_are_dropped_and_reported_and_empty_columns_skipped() -> None:
    ref = RNG.normal(0, 1, 2000)
    cur = np.concatenate([RNG.normal(0, 1, 900), [np.nan] * 50, [np.inf] * 50])
    verdict = _one(ref, cur)
    assert verdict.current_rows == 900 and verdict.current_missing_share == pytest.approx(0.1)
    empty = compare_columns(
        {"x": ref, "e": np.full(10, np.nan)}, {"x": ref, "e": np.full(5, np.nan)}
    )
    skipped = empty.columns[1]
    assert skipped.drifted is None and "skipped" in (skipped.note or "")
    assert empty.compared == 1  # the empty column does not count either way


def test_dataset_drift_share() -> None:
    shifted = {f"c{i}": RNG.normal(1, 1, 3000) for i in range(2)}
    stable = {f"s{i}": RNG.normal(0, 1, 3000) for i in range(2)}
    reference = {
        **{f"c{i}": RNG.normal(0, 1, 3000) for i in range(2)},
        **{k: RNG.normal(0, 1, 3000) for k in stable},
    }
    report = compare_columns(reference, {**shifted, **stable})
    assert (report.drifted, report.compared, report.share) == (2, 4, 0.5)
    assert report.dataset_drift is True  # >= 0.5, Evidently's operator
    assert (
        compare_columns(reference, {**shifted, **stable}, DriftConfig(share=0.6)).dataset_drift
        is False
    )


def _with(method: str, threshold: float, strict: bool = False) -> DriftConfig:
    return DriftConfig(
        strict=strict, columns={"x": DriftOverride(method=method, threshold=threshold)}
    )


def test_overrides_psi_and_hellinger_on_sturges_bins() -> None:
    ref, cur = RNG.normal(0, 1, 3000), RNG.normal(0.2, 1, 2500)
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    p, q = np.histogram(ref, edges)[0] / ref.size, np.histogram(cur, edges)[0] / cur.size
    smallest = np.concatenate([p, q])[np.concatenate([p, q]) > 0].min()
    fill = smallest / 1e6 if smallest <= 1e-4 else 1e-4
    pf, qf = np.where(p == 0, fill, p), np.where(q == 0, fill, q)
    psi = compare_columns({"x": ref}, {"x": cur}, _with("psi", 0.2)).columns[0]
    assert psi.method == "psi" and psi.threshold == 0.2
    assert psi.statistic == pytest.approx(np.sum((pf - qf) * np.log(pf / qf)))
    hellinger = compare_columns({"x": ref}, {"x": cur}, _with("hellinger", 0.1)).columns[0]
    assert hellinger.statistic == pytest.approx(
        np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)) / np.sqrt(2)
    )
    ks = compare_columns({"x": ref}, {"x": cur}, _with("ks", 0.01)).columns[0]
    assert ks.method == "ks" and ks.statistic == pytest.approx(stats.ks_2samp(ref, cur).pvalue)


def test_strict_mode_uses_homogeneity_and_a_minimum_effect() -> None:
    ref = np.asarray(RNG.choice(["a", "b", "c"], 600, p=[0.5, 0.3, 0.2]), dtype=object)
    cur = np.asarray(RNG.choice(["a", "b", "c"], 600, p=[0.5, 0.3, 0.2]), dtype=object)
    strict = compare_columns({"x": ref}, {"x": cur}, DriftConfig(strict=True)).columns[0]
    counts = np.array([[np.sum(ref == k) for k in "abc"], [np.sum(cur == k) for k in "abc"]])
    assert strict.method == "chisquare"
    assert strict.statistic == pytest.approx(stats.chi2_contingency(counts).pvalue)
    big_ref, big_cur = RNG.normal(0, 1, 200_000), RNG.normal(0.03, 1, 200_000)
    tiny_shift = _with("ks", 0.05)
    assert compare_columns({"x": big_ref}, {"x": big_cur}, tiny_shift).columns[0].drifted is True
    strict_tiny = _with("ks", 0.05, strict=True)
    assert compare_columns({"x": big_ref}, {"x": big_cur}, strict_tiny).columns[0].drifted is False


def test_bad_overrides_name_the_column() -> None:
    ref = np.asarray(["a", "b"] * 10, dtype=object)
    with pytest.raises(UsageError, match="method 'wasserstein' needs a numerical column"):
        compare_columns({"x": ref}, {"x": ref}, _with("wasserstein", 0.1))
    with pytest.raises(UsageError, match=r"columns\.nope: no such column"):
        compare_columns(
            {"x": ref},
            {"x": ref},
            DriftConfig(columns={"nope": DriftOverride(method="psi", threshold=0.1)}),
        )


def test_arrow_columns_convert_the_same_way_for_every_caller() -> None:
    import pyarrow as pa

    from shipline.data.frame import column_array

    assert column_array(pa.chunked_array([[1, 2, 3]])).dtype.kind == "i"
    with_missing = column_array(pa.chunked_array([[1, None, 3]]))
    assert with_missing.dtype == np.float64 and np.isnan(with_missing[1])
    flags = column_array(pa.chunked_array([[True, False]]))
    assert flags.dtype == np.bool_ and column_kind(flags) == "categorical"
    text = column_array(pa.chunked_array([["a", None]]))
    assert text.dtype == object and text.tolist() == ["a", None]


def test_drift_scores_put_every_method_on_one_scale() -> None:
    from shipline.monitoring.report_html import drift_score

    def column(method: str, statistic: float, threshold: float) -> dict[str, object]:
        return {"method": method, "statistic": statistic, "threshold": threshold}

    assert drift_score(column("wasserstein", 0.05, 0.1)) == pytest.approx(0.5)
    assert drift_score(column("ks", 0.05, 0.05)) == pytest.approx(1.0)
    assert drift_score(column("ks", 0.0025, 0.05)) == pytest.approx(2.0)
    assert (drift_score(column("chisquare", 0.5, 0.05)) or 0.0) < 1
    assert drift_score(column("z", 0.0, 0.05)) == 10.0
    assert drift_score({"method": None, "statistic": None, "threshold": None}) is None
