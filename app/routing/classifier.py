"""The routing model at work: text features, calibrated agency probabilities, and why.

Pure and small on purpose: numpy and the standard library, no scikit-learn. Training
(app.routing.training, in the CLI and the nightly job) fits scikit-learn on exactly these
features and stores the fitted numbers as plain arrays; this module scores with them. So a web
process carries a vocabulary and a coefficient matrix, never an unpickled object, and a
complaint is scored in well under a millisecond.

The features: TF-IDF (sublinear term frequency, L2-normalised per block) of words and word
pairs, and of character 3- and 4-grams inside words (which is what lets "crédito", "credito"
and "créditos" share evidence, and carries Spanish and misspellings). Text is folded first:
accents off, case folded, every number made "0", so a model learns the complaint, not the
typing habits of whoever wrote it.
"""

from __future__ import annotations

import io
import json
import math
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from app.routing.engine import Prediction, Suggestion

FORMAT = 1
# Longer complaints are scored on their beginning: it says what they are about, and it keeps
# the cost of routing bounded whatever arrives (a 1 MB email is scored like a long letter).
MAX_TEXT = 1500
CHAR_NGRAMS = (3, 4)
_TOKEN = re.compile(r"[^\W\d_]+|0")
_DIGITS = re.compile(r"\d+")
_MARKS = re.compile(r"[\u0300-\u036f]")
_TOKEN_CACHE_LIMIT = 50_000


class ModelCorrupt(ValueError):
    """The stored model cannot be used (unreadable, inconsistent or of an unknown format)."""


def tokens(text: str) -> list[str]:
    """The words of a text, folded: no accents, case folded, any number is "0"."""
    if not isinstance(text, str):
        return []
    text = text[:MAX_TEXT]
    if text.isascii():
        folded = text.lower()
    else:
        folded = _MARKS.sub("", unicodedata.normalize("NFKD", text.casefold()))
    return [t for t in _TOKEN.findall(_DIGITS.sub("0", folded)) if len(t) > 1 or t == "0"]


def word_features(words: Sequence[str]) -> list[str]:
    """Words and adjacent word pairs."""
    return [*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))]


@lru_cache(maxsize=65_536)
def word_grams(word: str) -> tuple[str, ...]:
    """The character n-grams of one word, padded with a space on each side."""
    padded = f" {word} "
    low, high = CHAR_NGRAMS
    grams = []
    for n in range(low, high + 1):
        if len(padded) < n:
            break
        grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return tuple(grams)


def char_features(words: Sequence[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        out.extend(word_grams(w))
    return out


@dataclass(frozen=True)
class _Vector:
    ids: np.ndarray  # feature ids, ascending (word features, then character n-grams)
    values: np.ndarray  # TF-IDF, each block L2-normalised
    raw: np.ndarray  # raw counts of each feature in the text
    words: list[str]  # the text's words in order
    unique: list[str]  # its distinct words
    occurrences: np.ndarray  # how often each distinct word occurs
    grams: np.ndarray  # the char-gram ids of each distinct word, one after the other
    sizes: np.ndarray  # how many of them each distinct word has

    @classmethod
    def empty(cls) -> _Vector:
        nothing = np.zeros(0, dtype=np.int64)
        return cls(
            nothing, np.zeros(0, dtype=np.float32), nothing, [], [], nothing, nothing, nothing
        )


def _vocab(data: bytes) -> list[str]:
    return data.decode("utf-8").split("\n") if data else []


class Classifier:
    """A fitted routing model, rebuilt from its stored arrays (see `to_bytes`)."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict, version: int | None = None):
        try:
            self.version = version
            self.meta = meta
            if meta.get("format") != FORMAT:
                raise ModelCorrupt(f"unknown model format {meta.get('format')!r}")
            made = (meta.get("char_ngrams", list(CHAR_NGRAMS)), meta.get("max_text", MAX_TEXT))
            if made != (list(CHAR_NGRAMS), MAX_TEXT):
                raise ModelCorrupt("it was trained on other text features: train it again")
            self.classes: list[str] = [str(c) for c in meta["classes"]]
            self.categories: list[tuple[str, str]] = [
                (str(a), str(c)) for a, c in meta["categories"]
            ]
            self.beta = float(meta["beta"])
            self.sublinear = bool(meta.get("sublinear", True))
            words, chars = (
                _vocab(arrays["word_vocab"].tobytes()),
                _vocab(arrays["char_vocab"].tobytes()),
            )
            self.word_index = {w: i for i, w in enumerate(words)}
            self.char_index = {g: i for i, g in enumerate(chars)}
            self.n_words = len(words)
            self.idf = np.asarray(arrays["idf"], dtype=np.float32)
            self.coef = np.asarray(arrays["coef"], dtype=np.float32)
            self.intercept = np.asarray(arrays["intercept"], dtype=np.float64)
            self.cat_ptr = np.asarray(arrays["cat_ptr"], dtype=np.int64)
            self.cat_idx = np.asarray(arrays["cat_idx"], dtype=np.int64)
            self.cat_val = np.asarray(arrays["cat_val"], dtype=np.float32)
        except ModelCorrupt:
            raise
        except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise ModelCorrupt(f"the stored model is incomplete: {exc}") from None
        n_features, k = len(words) + len(chars), len(self.classes)
        problems = []
        if k < 2 or len(set(self.classes)) != k:
            problems.append("it needs at least two distinct agencies")
        if self.idf.shape != (n_features,):
            problems.append("its idf does not match its vocabulary")
        if self.coef.shape != (n_features, k) or self.intercept.shape != (k,):
            problems.append("its coefficients do not match its vocabulary and agencies")
        if self.cat_ptr.shape != (len(self.categories) + 1,) or (
            len(self.cat_ptr) and (self.cat_ptr[-1] != len(self.cat_idx) or self.cat_ptr[0] != 0)
        ):
            problems.append("its categories are inconsistent")
        if self.cat_idx.shape != self.cat_val.shape or (
            len(self.cat_idx) and (self.cat_idx.min() < 0 or self.cat_idx.max() >= n_features)
        ):
            problems.append("its category centroids point outside the vocabulary")
        if not (np.isfinite(self.coef).all() and np.isfinite(self.idf).all()):
            problems.append("it holds numbers that are not finite")
        if not math.isfinite(self.beta):
            problems.append("its temperature is not finite")
        if problems:
            raise ModelCorrupt("; ".join(problems))
        self._mean_coef = self.coef.mean(axis=1)
        self._grams: dict[str, np.ndarray] = {}
        self._class_of = {c: i for i, c in enumerate(self.classes)}
        grouped: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {}
        for c, (owner, code) in enumerate(self.categories):
            lo, hi = self.cat_ptr[c], self.cat_ptr[c + 1]
            if hi > lo:
                grouped.setdefault(owner, []).append(
                    (code, self.cat_idx[lo:hi], self.cat_val[lo:hi])
                )
        # Per agency, its categories' centroids one after the other, for one vectorised pass.
        self._agency_categories = {
            owner: (
                [code for code, _, _ in items],
                np.concatenate([i for _, i, _ in items]),
                np.concatenate([v for _, _, v in items]),
                np.cumsum([0] + [len(i) for _, i, _ in items[:-1]]),
            )
            for owner, items in grouped.items()
        }

    # --- storage ---------------------------------------------------------------------------

    @classmethod
    def from_bytes(cls, payload: bytes, meta: dict, version: int | None = None) -> Classifier:
        """Read a stored model: a zip of .npy arrays, read with pickling refused."""
        try:
            with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise ModelCorrupt(f"the stored model cannot be read: {exc}") from None
        if isinstance(meta, str | bytes):
            try:
                meta = json.loads(meta)
            except ValueError as exc:
                raise ModelCorrupt(f"the model's description is not JSON: {exc}") from None
        if not isinstance(meta, dict):
            raise ModelCorrupt("the model's description is not a mapping")
        return cls(arrays, meta, version)

    @staticmethod
    def to_bytes(arrays: dict[str, np.ndarray]) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    @staticmethod
    def vocab_bytes(features: Iterable[str]) -> np.ndarray:
        return np.frombuffer("\n".join(features).encode("utf-8"), dtype=np.uint8)

    # --- scoring ---------------------------------------------------------------------------

    def _char_ids(self, word: str) -> np.ndarray:
        ids = self._grams.get(word)
        if ids is None:
            index, offset = self.char_index, self.n_words
            ids = np.fromiter(
                (index[g] + offset for g in word_grams(word) if g in index), dtype=np.int64
            )
            if len(self._grams) >= _TOKEN_CACHE_LIMIT:
                self._grams.clear()
            self._grams[word] = ids
        return ids

    def vector(self, text: str) -> _Vector:
        """The text's features: ids (sorted), TF-IDF values, and what explanations need."""
        words = tokens(text)
        counts = Counter(words)
        if not words or set(counts) == {"0"}:  # nothing but numbers says nothing of the topic
            return _Vector.empty()
        unique = list(counts)
        index = self.word_index
        word_ids = [index[f] for f in word_features(words) if f in index]
        grams = [self._char_ids(w) for w in unique]
        sizes = np.fromiter((len(g) for g in grams), dtype=np.int64, count=len(grams))
        occurrences = np.fromiter(counts.values(), dtype=np.float64, count=len(unique))
        word_block = np.asarray(word_ids, dtype=np.int64)
        char_block = np.concatenate(grams) if grams else np.zeros(0, dtype=np.int64)
        weights = np.concatenate([np.ones(len(word_block)), np.repeat(occurrences, sizes)])
        ids, inverse = np.unique(np.concatenate([word_block, char_block]), return_inverse=True)
        if not len(ids):
            return _Vector.empty()
        raw = np.bincount(inverse, weights=weights, minlength=len(ids))
        tf = 1.0 + np.log(raw) if self.sublinear else raw
        values = (tf * self.idf[ids]).astype(np.float32)
        split = int(np.searchsorted(ids, self.n_words))
        for block in (values[:split], values[split:]):  # each block has unit length
            norm = float(np.sqrt(np.dot(block, block)))
            if norm > 0:
                block /= norm
        return _Vector(
            ids=ids,
            values=values,
            raw=raw,
            words=words,
            unique=unique,
            occurrences=occurrences,
            grams=char_block,
            sizes=sizes,
        )

    def probabilities(self, text: str) -> np.ndarray:
        """Calibrated probability of each agency in `classes` (uniform for an empty text)."""
        v = self.vector(text)
        return self._proba(v.ids, v.values)

    def _proba(self, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
        scores = self.intercept + (values @ self.coef[ids] if len(ids) else 0.0)
        z = self.beta * scores
        z = np.exp(z - z.max())
        return z / z.sum()

    def predict(self, text: str, top: int = 3, words: int = 5) -> Prediction:
        v = self.vector(text)
        if not len(v.ids):
            return Prediction(self.version, (), ())
        proba = self._proba(v.ids, v.values)
        order = np.argsort(-proba)[:top]
        suggestions = tuple(
            Suggestion(self.classes[k], float(proba[k]), self._category(self.classes[k], v))
            for k in order
        )
        explained = self._words(int(order[0]), v, words) if words else ()
        return Prediction(self.version, suggestions, explained)

    def _category(self, agency: str, v: _Vector) -> str | None:
        """The agency's category whose examples look most like this text (cosine)."""
        found = self._agency_categories.get(agency)
        if found is None or not len(v.ids):
            return None
        codes, cidx, cval, starts = found
        pos = np.minimum(np.searchsorted(v.ids, cidx), len(v.ids) - 1)
        matched = np.where(v.ids[pos] == cidx, v.values[pos], 0.0)
        scores = np.add.reduceat(cval * matched, starts)
        best = int(np.argmax(scores))
        return codes[best] if scores[best] > 0.02 else None  # below, nothing worth naming

    def _words(self, k: int, v: _Vector, n: int) -> tuple[str, ...]:
        """The words and word pairs that pushed hardest towards class k, strongest first.

        A feature's push is its value times how much more it weighs for k than on average;
        a character n-gram's push is shared among the occurrences of the words it came from.
        """
        ids = v.ids
        push = v.values * (self.coef[ids, k] - self._mean_coef[ids])
        scores = np.zeros(len(v.unique))
        if len(v.grams):
            owner = np.repeat(np.arange(len(v.unique)), v.sizes)
            at = np.searchsorted(ids, v.grams)
            share = push[at] / v.raw[at] * np.repeat(v.occurrences, v.sizes)
            scores += np.bincount(owner, weights=share, minlength=len(v.unique))
        index = self.word_index
        own = np.fromiter((index.get(w, -1) for w in v.unique), dtype=np.int64, count=len(v.unique))
        at = np.minimum(np.searchsorted(ids, own), len(ids) - 1)
        found = (own >= 0) & (ids[at] == own)
        scores[found] += push[at[found]]
        ranked: dict[str, float] = {}
        best = np.argsort(-scores)[: 2 * n + 2]
        strong = {v.unique[i] for i in best if scores[i] > 0}
        for i in best:
            if scores[i] > 0 and v.unique[i] != "0":
                ranked[v.unique[i]] = float(scores[i])
        # A pair of strong words that is itself a feature reads better than the two apart.
        for a, b in zip(v.words, v.words[1:], strict=False):
            if a in strong and b in strong and a != b:
                f = index.get(f"{a} {b}")
                if f is None:
                    continue
                at = int(np.searchsorted(ids, f))
                if at < len(ids) and ids[at] == f and push[at] > 0:
                    ranked[f"{a} {b}"] = ranked.get(a, 0) + ranked.get(b, 0) + float(push[at])
                    ranked.pop(a, None)
                    ranked.pop(b, None)
        return tuple(w for w, _ in sorted(ranked.items(), key=lambda kv: -kv[1])[:n])

    def agency_index(self, agency: str) -> int | None:
        return self._class_of.get(agency)


def describe(prediction: Prediction, limit: int = 3) -> str:
    """'CFPB 91%, FTC 5%, SSA 2%': the suggestions in a line."""
    return ", ".join(f"{s.agency} {s.probability:.0%}" for s in prediction.suggestions[:limit])
