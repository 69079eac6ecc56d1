"""Checks of the clusters-and-pca lab (TRUSTED: runs outside the sandbox on the probe's facts).

Each ``check_<name>(facts) -> (passed, message)`` reads only plain JSON values and fails with a
message, never an exception, when a fact is missing or of the wrong type.
"""

from __future__ import annotations

import math
import re
from typing import Any

from curriculum.labs.guard import guard_checks
from curriculum.labs.guard import number as _num
from curriculum.labs.guard import probe_error as _probe_error

Verdict = tuple[bool, str]


def _int(facts: dict[str, Any], key: str) -> int | None:
    v = facts.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _num_dict(v: Any) -> dict[str, float] | None:
    if not isinstance(v, dict):
        return None
    out: dict[str, float] = {}
    for k, x in v.items():
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            return None
        out[str(k)] = float(x)
    return out


def check_scale(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    shape = facts.get("shape")
    if shape is None:
        return False, "`X_scaled` is not defined."
    if shape != [178, 13]:
        return False, f"`X_scaled` has shape {shape}; expected (178, 13): all rows, all 13 features."
    mean, lo, hi = _num(facts, "max_abs_mean"), _num(facts, "min_std"), _num(facts, "max_std")
    if mean is None or lo is None or hi is None:
        return False, "`X_scaled` could not be read as a numeric array."
    if mean > 1e-3 or abs(lo - 1) > 1e-3 or abs(hi - 1) > 1e-3:
        return False, (
            f"The columns of `X_scaled` have standard deviations from {lo:.2f} to {hi:.2f} and means up to "
            f"{mean:.2f} away from 0; after standardising every column has mean 0 and standard deviation 1. "
            "Use `StandardScaler().fit_transform(X)`."
        )
    return (
        True,
        "Every feature now has mean 0 and standard deviation 1, so each gets an equal say in a distance.",
    )


def check_kmeans(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("fitted"):
        return False, "`km` is not fitted yet: call `km.fit(X_scaled)`."
    if _int(facts, "n_clusters") != 3:
        return False, f"`km` has {facts.get('n_clusters')} clusters; ask for `n_clusters=3`."
    inertia, on_scaled = _num(facts, "inertia"), _num(facts, "inertia_on_scaled")
    if inertia is None or on_scaled is None or abs(inertia - on_scaled) > 0.01 * max(1.0, on_scaled):
        return False, (
            "`km` was fitted on other data than `X_scaled` (its inertia does not match the scaled data). "
            "Unscaled features let `proline` decide everything."
        )
    if _int(facts, "n_labels") != 178:
        return False, "`labels` should hold one cluster number per wine (178): `labels = km.labels_`."
    if facts.get("labels_match") is False:
        return False, "`labels` differ from `km.labels_`; take the labels of the fitted model."
    sizes = facts.get("sizes")
    return True, f"Three clusters of sizes {sizes}, inertia {inertia:.0f}."


def check_choose_k(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    sil, ref = _num_dict(facts.get("silhouettes")), _num_dict(facts.get("ref_silhouettes"))
    ine, ref_i = _num_dict(facts.get("inertias")), _num_dict(facts.get("ref_inertias"))
    if ref is None or ref_i is None:
        return False, "The check could not recompute the silhouettes; rerun the earlier steps."
    if not sil:
        return (
            False,
            "`silhouettes` is empty: fill it with `{k: silhouette_score(X_scaled, labels_k)}` for k = 2..6.",
        )
    if set(sil) != set(ref):
        return False, f"`silhouettes` has keys {sorted(sil, key=int)}; expected k = 2, 3, 4, 5, 6."
    for k, want in ref.items():
        if abs(sil[k] - want) > 0.005:
            return False, (
                f"For k={k} your silhouette is {sil[k]:.3f} but k-means (n_init=10, random_state=0) on "
                f"`X_scaled` gives {want:.3f}. Score each k with its own labels, on the scaled data."
            )
    if not ine or set(ine) != set(ref_i):
        return False, "`inertias` should hold `{k: km_k.inertia_}` for k = 2..6."
    for k, want in ref_i.items():
        if abs(ine[k] - want) > 0.01 * want:
            return False, f"For k={k} your inertia is {ine[k]:.1f}; k-means gives {want:.1f}."
    best = max(ref, key=lambda k: ref[k])
    if str(facts.get("best_k")) != best:
        return (
            False,
            f"`best_k` is {facts.get('best_k')}, but the highest silhouette ({ref[best]:.3f}) is at k={best}.",
        )
    return True, (
        f"The silhouette peaks at k={best} ({ref[best]:.3f}) while inertia keeps falling "
        f"({ref_i['2']:.0f} at k=2 to {ref_i['6']:.0f} at k=6): inertia alone cannot pick k."
    )


def check_pca(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if _int(facts, "pca_components") is None:
        return False, "`pca` is not fitted: `pca = PCA().fit(X_scaled)`."
    if facts.get("pca_components") != facts.get("n_features"):
        return False, (
            f"`pca` keeps {facts.get('pca_components')} components; fit it with all of them (`PCA()`) "
            "to see the whole explained-variance curve."
        )
    if facts.get("pca_first_two") != facts.get("ref_first_two"):
        return (
            False,
            "`pca` was not fitted on `X_scaled`: its explained variance differs from the scaled data's.",
        )
    if not facts.get("cumulative_ok"):
        return False, (
            "`cumulative` should be `np.cumsum(pca.explained_variance_ratio_)`, 13 values rising to 1."
        )
    ref_n = _int(facts, "ref_n_90")
    if _int(facts, "n_90") != ref_n:
        return False, (
            f"`n_90` is {facts.get('n_90')}; count again: it is the first position where `cumulative` "
            "reaches 0.90 (positions count from 1)."
        )
    if facts.get("x2d_shape") != [178, 2]:
        return False, f"`X_2d` has shape {facts.get('x2d_shape')}; expected (178, 2)."
    if not facts.get("x2d_is_projection"):
        return False, "`X_2d` is not the projection of `X_scaled` on the first two principal components."
    first = facts.get("ref_first_two") or [0.0, 0.0]
    return True, (
        f"PC1 and PC2 explain {first[0]:.0%} and {first[1]:.0%} of the variance; {ref_n} of 13 components "
        "keep 90%. The 2-D picture shows about half the information."
    )


_PC = re.compile(r"pc\s*[12]|component|principal", re.IGNORECASE)
_SHARE = re.compile(r"\d\s*%|0?\.\d+|percent", re.IGNORECASE)  # "36%", "0.36", "36 percent"


def check_plot(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    if not facts.get("has_fig"):
        return False, "No `fig` found: make the plot with `fig, ax = plt.subplots()` and keep `fig`."
    pts = _int(facts, "points") or 0
    if pts != 178:
        return False, f"The axes show {pts} scatter points; plot all 178 rows of `X_2d` with `ax.scatter`."
    groups = _int(facts, "colour_groups") or 0
    if groups < 3:
        return (
            False,
            "All points have the same colour: colour them by cluster (`c=labels`, or one scatter per cluster).",
        )
    xl, yl = str(facts.get("xlabel") or ""), str(facts.get("ylabel") or "")
    if not _PC.search(xl) or not _PC.search(yl):
        return (
            False,
            f"Axis labels are {xl!r} and {yl!r}; name the components (e.g. 'PC1 (36% of variance)').",
        )
    if not all(_SHARE.search(label) for label in (xl, yl)):
        return False, "Add each component's share of the variance to its axis label, e.g. 'PC1 (36%)'."
    if not str(facts.get("title") or "").strip():
        return False, "Give the plot a title (`ax.set_title(...)`)."
    if not facts.get("has_legend") and not facts.get("has_colorbar"):
        return (
            False,
            "Explain the colours with a legend (`ax.legend(...)`) or a colour bar (`fig.colorbar(...)`).",
        )
    return (
        True,
        "A readable plot: 178 points in 3 colours, labelled axes with their variance share, a title and a key.",
    )


def check_compare_labels(facts: dict[str, Any]) -> Verdict:
    if msg := _probe_error(facts):
        return False, msg
    ari, ref = _num(facts, "ari"), _num(facts, "ref_ari")
    if ari is None:
        return False, "`ari` should be a number: `adjusted_rand_score(y, labels)`."
    if ref is None:
        return False, "The check could not recompute the ARI from `labels`; rerun the k-means step."
    if abs(ari - ref) > 1e-3:
        return False, f"`ari` is {ari:.3f} but `adjusted_rand_score(y, labels)` is {ref:.3f}."
    if facts.get("table_shape") != [3, 3] or facts.get("table_sum") != 178:
        return False, (
            f"`table` has shape {facts.get('table_shape')} and holds {facts.get('table_sum')} wines; "
            "`pd.crosstab(y, labels)` gives 3 cultivars x 3 clusters holding all 178."
        )
    if ref < 0.8:
        return False, (
            f"An ARI of {ref:.2f} is low: on standardised features k-means recovers the cultivars well "
            "(ARI near 0.9). Were `labels` computed on `X_scaled`?"
        )
    return True, (
        f"ARI {ref:.2f}: without ever seeing the cultivar, k-means grouped the wines almost exactly by it. "
        "The cross-table shows the few wines it put with another cultivar."
    )


guard_checks(globals())  # every check_* fails with a message instead of raising
