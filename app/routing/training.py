"""Train the routing model: learn from the directory's examples, shipped training text and
the agency's own closed cases; evaluate on a held-back slice; keep it only if it scores at
least as well as the model in use.

scikit-learn is imported here and only here, and this module runs in the CLI and the nightly
job, never in a web request. What it stores is plain data (vocabulary, idf, coefficients,
temperature, category centroids) that app.routing.classifier scores with.

Labels: a closed case's final agency (and its category when that belongs to the agency). A
case a person moved (a transfer, or a triage suggestion accepted) is a correction of where it
first went, the strongest label there is, so it weighs CORRECTION_WEIGHT times a plain case.
Cases closed while still in the triage queue teach nothing (nobody decided an owner) and are
left out, as are cases merged into another.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.common.time import utcnow
from app.directory.models import Agency, Category, Queue
from app.extensions import db
from app.routing import service
from app.routing.classifier import (
    CHAR_NGRAMS,
    FORMAT,
    MAX_TEXT,
    Classifier,
    ModelCorrupt,
    char_features,
    tokens,
    word_features,
)
from app.routing.figures import Figures, figures
from app.routing.models import RoutingModel

log = logging.getLogger(__name__)

CORPORA = {"demo": Path(__file__).parent / "data" / "demo_corpus.csv"}
CORRECTION_WEIGHT = 3.0
# A directory example is written by the agency in the public's voice: a few of them must
# count against thousands of shipped narratives in one style (measured: fewer misroutes).
EXAMPLE_WEIGHT = 3.0
EVALUATE_AT_MOST = 4_000  # held-back examples both models are scored on
HELD_BACK = 5  # one example in five (by a stable hash of its key) is held back to evaluate
KEEP_PAYLOADS = 5  # retired models whose numbers are kept, to go back to
WORD_FEATURES = 30_000
CHAR_FEATURES = 50_000
CENTROID_TERMS = 200
# liblinear stops when its dual gap is this small: 1e-2 fits 3x faster than the default 1e-4
# for the same routing (measured on the held-out narratives).
TOL = 1e-2
JOBS = 2  # the calibration's cross-validation folds, fitted in parallel
FOLDS = 2  # folds to fit the temperature on: 3 cost a quarter more CPU for no fewer misroutes


class TrainingRefused(Exception):
    """There is not enough to learn from, or nothing to train: say why, change nothing."""


@dataclass(frozen=True)
class Example:
    text: str
    agency: str
    category: str | None
    weight: float
    origin: str  # directory, corpus:<name>, case
    key: str  # what decides whether it is held back (stable across trainings)

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.key.encode("utf-8")).digest()

    @property
    def held_back(self) -> bool:
        return int.from_bytes(self.digest[:4], "big") % HELD_BACK == 0


def evaluate(model: Classifier, examples: Sequence[Example], threshold: float) -> Figures:
    """The model alone (no rules) on labelled examples."""
    decided = []
    for e in examples:
        top = model.predict(e.text, top=1, words=0).top
        decided.append(top.agency if top is not None and top.probability >= threshold else None)
    return figures([e.agency for e in examples], decided, threshold)


# --- what it learns from ---------------------------------------------------------------------


def directory_examples() -> list[Example]:
    """Each category's `examples:`, and its name and description in every language: the
    public's own words for what the category takes."""
    rows = db.session.execute(
        select(
            Category.code,
            Category.examples,
            Category.name,
            Category.description,
            Category.translations,
            Agency.code,
        )
        .join(Agency, Category.agency_id == Agency.id)
        .where(Category.active.is_(True))
        .order_by(Category.id)
    )
    out = []
    triage = _triage_queue()
    for category, texts, name, description, translations, agency in rows:
        if (agency, category) in triage:
            continue
        words = [name, description]
        for lang in (translations or {}).values():
            if isinstance(lang, dict):
                words += [lang.get("name"), lang.get("description")]
        for text in [*(texts or ()), *words]:
            if isinstance(text, str) and text.strip():
                out.append(
                    Example(text, agency, category, EXAMPLE_WEIGHT, "directory", f"d:{text}")
                )
    return out


def _triage_queue() -> set[tuple[str, str]]:
    """(agency, category) of categories whose complaints wait in triage ("other"): nothing to
    learn from them, since nobody decided an owner."""
    rows = db.session.execute(
        select(Agency.code, Category.code)
        .join(Agency, Category.agency_id == Agency.id)
        .join(Queue, Category.queue_id == Queue.id)
        .where(Queue.is_triage.is_(True))
    )
    return {(a, c) for a, c in rows}


def corpus_examples(name: str) -> list[Example]:
    """A shipped training text (CSV: text, agency, category): rows for agencies and categories
    the directory no longer has lose the part it does not know."""
    path = CORPORA.get(name)
    if path is None:
        raise TrainingRefused(f"No training text named {name!r} (known: {', '.join(CORPORA)}).")
    agencies = set(db.session.scalars(select(Agency.code)))
    owners = dict(
        db.session.execute(
            select(Category.code, Agency.code)
            .join(Agency, Category.agency_id == Agency.id)
            .where(Category.active.is_(True))
        ).all()
    )
    out = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            text, agency = row.get("text") or "", row.get("agency") or ""
            if not text.strip() or agency not in agencies:
                continue
            category = row.get("category") or None
            if category and owners.get(category) != agency:
                category = None
            out.append(Example(text, agency, category, 1.0, f"corpus:{name}", f"c:{text}"))
    return out


class ClosedCase(Protocol):
    """A closed case's final owner (app.cases.queries.closed_for_learning gives them)."""

    id: int
    text: str
    agency: str
    category: str | None
    corrected: bool
    closed_at: datetime


# Where closed cases come from: passed in by the caller (the CLI, the nightly job), because
# cases use routing, not the other way round.
ClosedCases = Callable[[], Sequence[ClosedCase]]


def case_examples(closed: Sequence[ClosedCase]) -> tuple[list[Example], datetime | None]:
    """Examples from closed cases (newest first); and when the newest one closed."""
    out = [
        Example(
            c.text,
            c.agency,
            c.category,
            CORRECTION_WEIGHT if c.corrected else 1.0,
            "case",
            f"case:{c.id}",
        )
        for c in closed
        if c.text and c.text.strip()
    ]
    return out, max((c.closed_at for c in closed), default=None)


# --- fitting ---------------------------------------------------------------------------------


@dataclass
class Fitted:
    model: Classifier
    arrays: dict[str, np.ndarray]
    meta: dict
    left_out: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # The scikit-learn objects (vectorisers, calibrated classifier): what `model` reproduces.
    sklearn: tuple | None = None


def check_enough(examples: Sequence[Example], min_examples: int) -> tuple[set[str], dict[str, int]]:
    """The agencies with enough examples to learn, and those left out (with their counts).
    Refuses when fewer than two agencies have enough: there would be nothing to choose."""
    counts = Counter(e.agency for e in examples)
    enough = {a for a, n in counts.items() if n >= min_examples}
    left_out = {a: n for a, n in sorted(counts.items()) if n < min_examples}
    if len(enough) < 2:
        shown = ", ".join(f"{a} {n}" for a, n in sorted(counts.items())) or "none at all"
        raise TrainingRefused(
            f"Too few examples to train a routing model: at least two agencies need "
            f"{min_examples} examples each (examples per agency: {shown}). Add `examples:` to "
            "the directory's categories, or train again when more cases have closed."
        )
    return enough, left_out


def fit(
    examples: Sequence[Example], *, min_examples: int = 10, version: int | None = None
) -> Fitted:
    """Fit the model on examples (all of them: the caller holds back what it evaluates on)."""
    from joblib import parallel_backend
    from scipy import sparse
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    started = time.perf_counter()
    enough, left_out = check_enough(examples, min_examples)
    rows = [e for e in examples if e.agency in enough]
    texts = [e.text for e in rows]
    labels = np.array([e.agency for e in rows])
    # The scorer's features (classifier.word_features, char_features); each text is split
    # into words once for both vectorisers.
    split: dict[str, list[str]] = {}

    def words_of(text: str) -> list[str]:
        found = split.get(text)
        if found is None:
            found = split[text] = tokens(text)
        return found

    def word_analyzer(text: str) -> list[str]:
        return word_features(words_of(text))

    def char_analyzer(text: str) -> list[str]:
        return char_features(words_of(text))

    words, chars = (
        TfidfVectorizer(
            analyzer=analyzer, sublinear_tf=True, min_df=2, max_features=limit, dtype=np.float32
        )
        for analyzer, limit in ((word_analyzer, WORD_FEATURES), (char_analyzer, CHAR_FEATURES))
    )
    x = sparse.hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr()
    split.clear()
    # Agencies count equally however many examples each has; corrections count more.
    classes, per_class = np.unique(labels, return_counts=True)
    balance = {c: len(labels) / (len(classes) * n) for c, n in zip(classes, per_class, strict=True)}
    weights = np.array([balance[e.agency] * e.weight for e in rows])
    folds = max(2, min(FOLDS, int(per_class.min())))
    calibrated = CalibratedClassifierCV(
        linear_model(LinearSVC),
        method="temperature",
        cv=folds,
        ensemble=False,
        n_jobs=JOBS,
    )
    # The cross-validation folds fit side by side on threads (liblinear releases the GIL).
    with warnings.catch_warnings(), parallel_backend("threading", n_jobs=JOBS):
        warnings.simplefilter("ignore")  # liblinear's convergence notes: the CV still scores it
        calibrated.fit(x, labels, sample_weight=weights)
    inner = calibrated.calibrated_classifiers_[0]
    estimator, beta = inner.estimator, float(inner.calibrators[0].beta_)
    coef = estimator.coef_.T.astype(np.float32)
    intercept = np.asarray(estimator.intercept_, dtype=np.float64)
    if coef.shape[1] == 1:  # two agencies: one decision value d, logits (-d, d)
        coef, intercept = np.hstack([-coef, coef]), np.array([-intercept[0], intercept[0]])
    cat_ptr, cat_idx, cat_val, categories = _centroids(rows, x, set(classes))
    arrays = {
        "word_vocab": Classifier.vocab_bytes(words.get_feature_names_out()),
        "char_vocab": Classifier.vocab_bytes(chars.get_feature_names_out()),
        "idf": np.concatenate([words.idf_, chars.idf_]).astype(np.float32),
        "coef": coef,
        "intercept": intercept,
        "cat_ptr": cat_ptr,
        "cat_idx": cat_idx,
        "cat_val": cat_val,
    }
    meta = {
        "format": FORMAT,
        "classes": [str(c) for c in calibrated.classes_],
        "categories": categories,
        "beta": beta,
        "sublinear": True,
        "char_ngrams": list(CHAR_NGRAMS),
        "max_text": MAX_TEXT,
        "estimator": "LinearSVC(C=0.5) + temperature scaling",
    }
    model = Classifier(arrays, meta, version)
    seconds = time.perf_counter() - started
    return Fitted(model, arrays, meta, left_out, seconds, (words, chars, calibrated))


def linear_model(linear_svc):
    """The linear model: chosen by measurement (docs/routing.md)."""
    return linear_svc(C=0.5, tol=TOL, max_iter=2000, random_state=0)


def _centroids(rows: Sequence[Example], x, agencies: set[str]):
    """Each category's typical words: the mean of its examples' vectors less the mean of its
    agency's other categories (what sets it apart), the strongest terms kept. The model picks
    the agency; the closest of that agency's categories names the category (and queue)."""
    members: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, e in enumerate(rows):
        if e.category and e.agency in agencies:
            members[(e.agency, e.category)].append(i)
    means = {key: np.asarray(x[at].mean(axis=0)).ravel() for key, at in sorted(members.items())}
    ptr, idx, val, categories = [0], [], [], []
    for (agency, category), mean in means.items():
        others = [m for (a, c), m in means.items() if a == agency and c != category]
        if others:
            mean = np.maximum(mean - np.mean(others, axis=0), 0)
        top = np.argsort(-mean)[:CENTROID_TERMS]
        top = np.sort(top[mean[top] > 0])
        values = mean[top]
        norm = float(np.linalg.norm(values))
        if not len(top) or norm == 0:
            continue
        idx.append(top.astype(np.int32))
        val.append((values / norm).astype(np.float32))
        ptr.append(ptr[-1] + len(top))
        categories.append([agency, category])
    return (
        np.array(ptr, dtype=np.int32),
        np.concatenate(idx) if idx else np.zeros(0, dtype=np.int32),
        np.concatenate(val) if val else np.zeros(0, dtype=np.float32),
        categories,
    )


# --- train, compare, keep --------------------------------------------------------------------


@dataclass
class Outcome:
    record: RoutingModel
    kept: bool
    figures: Figures
    current: Figures | None
    counts: dict[str, int]
    left_out: dict[str, int]
    seconds: float
    message: str


def gather(corpora: Iterable[str], closed: ClosedCases) -> tuple[list[Example], datetime | None]:
    examples = directory_examples()
    for name in corpora:
        examples.extend(corpus_examples(name))
    cases, latest = case_examples(closed())
    examples.extend(cases)
    return examples, latest


def train(
    *,
    closed: ClosedCases,
    threshold: float,
    min_examples: int = 10,
    corpora: Sequence[str] | None = None,
    force: bool = False,
) -> Outcome:
    """Build a model, evaluate it beside the active one on the same held-back slice, store it,
    and make it the active one if it scores at least as well (or with `force`). Commits."""
    active = db.session.scalar(select(RoutingModel).where(RoutingModel.status == "active"))
    if corpora is None:
        corpora = list(active.corpora) if active is not None else []
    examples, latest = gather(corpora, closed)
    if not examples:
        raise TrainingRefused(
            "Nothing to learn from: no category in the directory has `examples:`, no closed "
            "case has a final agency"
            + (f", and no training text ({', '.join(corpora)})" if corpora else "")
            + "."
        )
    enough, left_out = check_enough(examples, min_examples)  # counted before holding back
    train_set = [e for e in examples if not e.held_back and e.agency in enough]
    held = [e for e in examples if e.held_back]
    version = (db.session.scalar(select(db.func.max(RoutingModel.version))) or 0) + 1
    fitted = fit(train_set, min_examples=2, version=version)
    fitted.left_out = {**left_out, **fitted.left_out}
    held = [e for e in held if fitted.model.agency_index(e.agency) is not None]
    # Enough to compare two models on; the same ones every time (ordered by their hash).
    held = sorted(held, key=lambda e: e.digest)[:EVALUATE_AT_MOST]
    new = evaluate(fitted.model, held, threshold)
    current = None
    if active is not None and active.payload:
        try:
            current_model = Classifier.from_bytes(active.payload, active.meta, active.version)
            current = evaluate(current_model, held, threshold)
        except ModelCorrupt as exc:
            log.warning(
                "active routing model unusable",
                extra={"version": active.version, "reason": str(exc)},
            )
    kept = force or current is None or new.score >= current.score
    counts = dict(Counter(e.origin for e in examples))
    now = utcnow()
    record = RoutingModel(
        version=version,
        status="active" if kept else "rejected",
        created_at=now,
        activated_at=now if kept else None,
        cases_until=latest,
        corpora=list(corpora),
        meta=fitted.meta,
        figures={
            "held_back": new.as_dict(),
            "previous": current.as_dict() if current else None,
            "previous_version": active.version if active is not None else None,
            "examples": counts,
            "trained_on": len(train_set),
            "left_out": fitted.left_out,
            "seconds": round(fitted.seconds, 2),
        },
        payload=Classifier.to_bytes(fitted.arrays) if kept else None,
    )
    if kept:
        if active is not None:
            active.status = "retired"
        message = f"Model version {version} is now in use" + (
            f" (it scored {new.score:.3f} against version {active.version}'s {current.score:.3f})."
            if current is not None and active is not None
            else "."
        )
        record.note = (
            "forced" if force and current is not None and new.score < current.score else None
        )
    else:
        message = (
            f"Model version {version} was not kept: it scored {new.score:.3f} on the held-back "
            f"slice against {current.score:.3f} for version {active.version}, which stays in use."
        )
        record.note = message
    db.session.add(record)
    try:
        db.session.flush()
        _prune()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise TrainingRefused("Another training finished at the same time; run it again.") from None
    service.invalidate()
    log.info(
        "routing model trained",
        extra={
            "version": version,
            "kept": kept,
            "score": round(new.score, 4),
            "examples": len(examples),
        },
    )
    return Outcome(record, kept, new, current, counts, fitted.left_out, fitted.seconds, message)


def _prune() -> None:
    """Keep the numbers of the last few retired models; older ones keep only their figures."""
    old = db.session.scalars(
        select(RoutingModel)
        .where(RoutingModel.status == "retired", RoutingModel.payload.is_not(None))
        .order_by(RoutingModel.version.desc())
        .offset(KEEP_PAYLOADS)
    )
    for row in old:
        row.payload = None


def retrain_if_due(
    *,
    closed: ClosedCases,
    closed_since: Callable[[datetime | None], int],
    threshold: float,
    min_examples: int,
    after: int,
) -> dict:
    """The nightly retrain: only when `after` cases or more have closed since the model in use
    learned (or, with no model, at all). Refusals are logged, not raised: the job has done
    its part, and the model in use keeps routing."""
    active = db.session.scalar(select(RoutingModel).where(RoutingModel.status == "active"))
    since = active.cases_until if active is not None else None
    count = closed_since(since)
    if count < after:
        return {"skipped": f"{count} new closed cases, fewer than {after}"}
    try:
        outcome = train(closed=closed, threshold=threshold, min_examples=min_examples)
    except TrainingRefused as exc:
        db.session.rollback()
        log.warning("routing model not retrained", extra={"reason": str(exc)})
        return {"refused": str(exc)}
    return {
        "version": outcome.record.version,
        "kept": outcome.kept,
        "score": round(outcome.figures.score, 4),
        "new_closed_cases": count,
    }
