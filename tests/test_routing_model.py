"""The routing model: learned from the directory's examples and from staff corrections, it
routes complaints no rule placed, sends what it is unsure of to triage with suggestions a
person accepts in one click, and never stops intake when it is missing or broken."""

from __future__ import annotations

import io
import logging
import re

import numpy as np
import pytest

from app.cases.queries import closed_for_learning
from app.cases.service import get_case
from app.extensions import db
from app.routing import service as routing
from app.routing.classifier import Classifier, ModelCorrupt, tokens
from app.routing.engine import RoutingInput
from app.routing.models import RoutingModel
from app.routing.training import (
    TrainingRefused,
    directory_examples,
    fit,
    train,
)
from app.staff.models import StaffUser
from tests.routing_support import use_model
from tests.workspace_support import (  # noqa: F401 - _reset_staff is an autouse fixture
    _reset_staff,
    open_test_case,
    sign_in,
    text_of,
)

TRIAGE_WORKER = "triage@usagov.example"
CFPB_WORKER = "caseworker@cfpb.example"

# Complaints in the public's words that are not in the directory's examples.
UNSEEN = [
    ("My bank keeps charging me overdraft fees and froze my checking account.", "CFPB"),
    ("The landlord said he does not rent to people with kids and hung up.", "HUD-FHEO"),
    ("The airline lost my suitcase on the way back from Denver.", "DOT-OACP"),
    ("Mi cheque del seguro social no llegó este mes y no tengo para la renta.", "SSA"),
    ("La aerolínea perdió mi maleta y no me contestan.", "DOT-OACP"),
]


@pytest.fixture
def threshold(app):
    before = app.config["ROUTING_MODEL_THRESHOLD"]
    yield lambda value: app.config.__setitem__("ROUTING_MODEL_THRESHOLD", value)
    app.config["ROUTING_MODEL_THRESHOLD"] = before
    routing.invalidate()


def _post(client, description: str, **extra):
    r = client.post("/api/v1/complaints", json={"description": description, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _routed(reference: str) -> dict:
    case = get_case(reference)
    return next(e for e in case.events if e.kind == "routed").after


# --- learning from the directory -----------------------------------------------------------


def test_a_directory_with_examples_trains_a_model_that_routes_unseen_complaints(client, app):
    model = use_model()
    assert model.status == "active" and model.payload
    assert model.figures["examples"]["directory"] == len(directory_examples())
    assert model.figures["held_back"]["right"] > 0.6  # its own held-back slice

    for text, agency in UNSEEN:
        summary = _post(client, text)
        assert summary["agency"]["code"] == agency, text
        case = get_case(summary["reference"])
        assert case.routing_source == "model"
        assert f"version {model.version}" in case.routing_explanation
        after = _routed(summary["reference"])
        assert after["source"] == "model"
        assert after["model"]["version"] == model.version
        assert after["model"]["probability"] >= app.config["ROUTING_MODEL_THRESHOLD"]
        assert after["model"]["words"], "the words that weighed most are kept"
        assert after["suggestions"][0]["agency"] == agency

    # A category the person chose and the urgent rules still come first.
    chosen = _post(client, "My bank keeps charging overdraft fees.", category="scam")
    assert chosen["agency"]["code"] == "FTC"
    assert get_case(chosen["reference"]).routing_source == "category"
    danger = _post(client, "Workers are in a trench collapse right now, no shoring at all.")
    assert danger["agency"]["code"] == "OSHA"
    assert get_case(danger["reference"]).routing_source == "rule"


def test_the_scorer_reproduces_scikit_learns_probabilities(app):
    """The web process scores with numpy from the stored arrays; it must say exactly what the
    fitted scikit-learn objects say (which is what was evaluated)."""
    from scipy import sparse

    fitted = fit(directory_examples(), min_examples=10)
    words, chars, calibrated = fitted.sklearn
    stored = Classifier.from_bytes(Classifier.to_bytes(fitted.arrays), fitted.meta)
    texts = [t for t, _ in UNSEEN] + [
        "",
        "x",
        "Ünïcödé ÀCCENTS and 12345 digits, twice: 12345",
        "collector " * 400,
        "完全に無関係なテキスト",
    ]
    x = sparse.hstack([words.transform(texts), chars.transform(texts)]).tocsr()
    expected = calibrated.predict_proba(x)
    got = np.array([stored.probabilities(t) for t in texts])
    assert list(calibrated.classes_) == stored.classes
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_text_is_folded_so_accents_case_and_numbers_do_not_matter():
    assert tokens("Mi CRÉDITO, crédito y credito: 2023 y 1999") == [
        "mi", "credito", "credito", "credito", "0", "0",
    ]  # fmt: skip
    assert tokens(None) == [] and tokens("") == [] and tokens("\x00\x01 !!") == []


# --- learning from the agency's own work -------------------------------------------------


def test_a_transfer_becomes_a_label_that_changes_the_next_similar_complaint(client, app):
    """Staff keep moving one kind of complaint to the EPA; after the nightly retrain, the next
    one goes there by itself."""
    from tests.helpers import act
    from workers.jobs import retrain_routing_model

    use_model()
    text = "The glimmerboard sign on lot {} flashes into my bedroom window all night long."
    first = _post(client, text.format("12"))
    assert first["agency"]["code"] != "EPA"  # the model has not seen this yet

    token = _token(app, "admin@redress.example")
    for lot in ("1", "7", "3", "9", "2", "4", "8", "5", "6", "11", "13", "20"):
        reference = _post(client, text.format(lot))["reference"]
        case = get_case(reference)
        if case.agency.code != "EPA":
            act(client, token, reference, action="transfer", agency="EPA",
                reason="Light pollution")  # fmt: skip
        act(client, token, reference, action="resolve", resolution="Sent to the airline.")
        act(client, token, reference, action="close")
    app.config["ROUTING_RETRAIN_AFTER"] = 10
    try:
        result = retrain_routing_model()
    finally:
        app.config["ROUTING_RETRAIN_AFTER"] = 200
    assert result["kept"] is True, result
    stored = db.session.scalar(db.select(RoutingModel).where(RoutingModel.version == 2))
    assert stored.status == "active" and stored.figures["examples"]["case"] == 12
    assert db.session.scalar(db.select(RoutingModel.status).where(RoutingModel.version == 1)) == (
        "retired"
    )  # the previous model is kept
    routing.invalidate()
    again = _post(client, text.format("40"))
    assert again["agency"]["code"] == "EPA"
    assert get_case(again["reference"]).routing_source == "model"
    # Not enough new closed cases since: the nightly job leaves the model alone.
    assert "skipped" in retrain_routing_model()


def _token(app, email: str) -> dict:
    from app.staff.tokens import issue_token

    staff = db.session.scalar(db.select(StaffUser).where(StaffUser.email == email))
    return {"Authorization": f"Bearer {issue_token(staff)}"}


def test_a_model_that_scores_worse_is_kept_aside_and_the_current_one_stays(app, fresh_directory):
    from dataclasses import replace

    from app.directory.loader import apply_directory, export_directory

    current = use_model()
    # The directory loses its examples: what is left to learn from is the categories' names.
    spec = export_directory()
    bare = replace(spec, categories=tuple(replace(c, examples=()) for c in spec.categories))
    apply_directory(bare)
    worse = train(closed=closed_for_learning, threshold=0.5)
    assert not worse.kept, worse.message
    assert worse.record.status == "rejected" and worse.record.payload is None
    assert worse.figures.score < worse.current.score
    assert f"version {current.version}, which stays in use" in worse.message
    active = db.session.scalars(
        db.select(RoutingModel).where(RoutingModel.status == "active")
    ).all()
    assert [m.version for m in active] == [current.version]
    forced = train(
        closed=closed_for_learning, threshold=0.5, force=True
    )  # an operator may insist, and it is recorded
    assert forced.kept and forced.record.note == "forced"


# --- triage with suggestions -----------------------------------------------------------------


def test_low_confidence_goes_to_triage_with_suggestions_a_person_accepts_in_one_click(
    client, app, threshold
):
    use_model()
    threshold(0.999)  # nothing is that sure: every complaint waits for a person
    summary = _post(client, "My checking balance is wrong and they charge fees every week.")
    reference = summary["reference"]
    case = get_case(reference)
    assert case.routing_source == "triage" and case.queue.is_triage
    suggestions = _routed(reference)["suggestions"]
    assert len(suggestions) == 3 and suggestions[0]["agency"] == "CFPB"
    assert "not sure enough" in case.routing_explanation

    sign_in(client, TRIAGE_WORKER)
    page = client.get("/staff/queues/triage")
    assert page.status_code == 200
    words = text_of(page)
    assert reference in words and "The routing model suggests" in words
    assert "Send to CFPB" in words
    html = page.get_data(as_text=True)
    assert f'action="/staff/cases/{reference}/suggestions/1"' in html

    detail = client.get(f"/staff/cases/{reference}")
    assert "The routing model suggests" in text_of(detail)
    accepted = client.post(f"/staff/cases/{reference}/suggestions/1", data={"next": "queue"})
    assert accepted.status_code == 302
    db.session.expire_all()
    case = get_case(reference)
    assert case.agency.code == "CFPB" and not case.queue.is_triage
    transfer = [e for e in case.events if e.kind == "transfer"][-1]
    assert transfer.after["suggestion"]["rank"] == 1
    assert transfer.after["suggestion"]["model_version"] == 1
    assert transfer.actor.email == TRIAGE_WORKER
    # Once routed, there is nothing left to accept: a second click changes nothing.
    again = client.post(f"/staff/cases/{reference}/suggestions/2")
    assert again.status_code == 404  # the case left the triage agency: not theirs to see
    assert get_case(reference).agency.code == "CFPB"


def test_a_suggestion_that_is_no_longer_open_is_refused(client, threshold):
    use_model()
    threshold(0.999)
    reference = _post(client, "They lost my suitcase on the way back from Denver.")["reference"]
    sign_in(client, "admin@redress.example")
    missing = client.post(f"/staff/cases/{reference}/suggestions/7")
    assert missing.status_code == 409
    assert "no longer open" in text_of(missing)
    assert client.post(f"/staff/cases/{reference}/suggestions/1").status_code == 302
    refused = client.post(f"/staff/cases/{reference}/suggestions/2")  # routed already
    assert refused.status_code == 409
    db.session.expire_all()
    assert [e.kind for e in get_case(reference).events].count("transfer") == 1


def test_accepting_a_suggestion_needs_the_csrf_token(client, app, threshold):
    use_model()
    threshold(0.999)
    reference = _post(client, "Mi cheque no llegó este mes y no tengo para la renta.")["reference"]
    sign_in(client, TRIAGE_WORKER)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        forged = client.post(f"/staff/cases/{reference}/suggestions/1")
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert forged.status_code == 400
    db.session.expire_all()
    assert get_case(reference).queue.is_triage


def test_other_agencies_staff_cannot_see_or_accept_triage_suggestions(client, threshold):
    use_model()
    threshold(0.999)
    reference = _post(client, "My checking balance is wrong and they charge fees every week.")[
        "reference"
    ]
    sign_in(client, CFPB_WORKER)
    assert client.post(f"/staff/cases/{reference}/suggestions/1").status_code == 404
    assert reference not in text_of(client.get("/staff/queues/triage"))
    db.session.expire_all()
    assert get_case(reference).agency.code == "USAGOV"


# --- fallbacks -------------------------------------------------------------------------------


def test_without_a_model_routing_is_rules_then_triage_and_healthz_says_so(client):
    ruled = get_case(_post(client, "My bank keeps charging me overdraft fees.")["reference"])
    assert (ruled.routing_source, ruled.agency.code) == ("rule", "CFPB")  # a topic-word rule
    summary = _post(client, "My checking balance is wrong and they charge fees every week.")
    assert get_case(summary["reference"]).routing_source == "triage"
    health = client.get("/healthz").get_json()
    assert health["routing_model"] == "none" and health["routing_model_version"] is None
    assert health["status"] == "ok"


class _Trap:
    """Unpickling this would leave a mark: the model loader must never do it."""

    fired = False

    def __reduce__(self):
        return (_fire, ())


def _fire():
    _Trap.fired = True
    return "fired"


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "payload, why",
    [
        (b"not a model at all", "cannot be read"),
        (_npz(coef=np.zeros((3, 2), dtype=np.float32)), "incomplete"),
        (_npz(word_vocab=np.array([_Trap()], dtype=object)), "cannot be read"),
        (None, "not stored"),
    ],
)
def test_a_corrupt_or_missing_model_falls_back_to_rules_then_triage(client, caplog, payload, why):
    db.session.add(
        RoutingModel(version=9, status="active", meta={"format": 1}, figures={}, payload=payload)
    )
    db.session.commit()
    routing.invalidate()
    with caplog.at_level(logging.ERROR, logger="app.routing.service"):
        triaged = _post(client, "My checking balance is wrong and they charge fees every week.")
        ruled = _post(client, "My bank keeps charging me overdraft fees.")
    assert get_case(triaged["reference"]).routing_source == "triage"
    assert get_case(ruled["reference"]).routing_source == "rule"  # after_model rules apply
    assert not _Trap.fired
    health = client.get("/healthz").get_json()
    assert health["routing_model"] == "unusable" and health["routing_model_version"] == 9
    assert health["status"] == "ok"
    logged = [r for r in caplog.records if "routing model unusable" in r.getMessage()]
    assert logged and why in logged[0].reason
    assert "overdraft" not in caplog.text and "checking" not in caplog.text  # no complaint text


def test_a_model_with_inconsistent_numbers_is_refused_when_read():
    fitted = {
        "word_vocab": Classifier.vocab_bytes(["a", "b"]),
        "char_vocab": Classifier.vocab_bytes([" ab"]),
        "idf": np.ones(3, dtype=np.float32),
        "coef": np.ones((3, 2), dtype=np.float32),
        "intercept": np.zeros(2),
        "cat_ptr": np.zeros(1, dtype=np.int32),
        "cat_idx": np.zeros(0, dtype=np.int32),
        "cat_val": np.zeros(0, dtype=np.float32),
    }
    meta = {"format": 1, "classes": ["A", "B"], "categories": [], "beta": 1.0}
    assert Classifier(fitted, meta).probabilities("a b").shape == (2,)
    for key, bad in (
        ("coef", np.ones((4, 2), dtype=np.float32)),
        ("idf", np.full(3, np.nan, dtype=np.float32)),
        ("cat_idx", np.array([99], dtype=np.int32)),
    ):
        with pytest.raises(ModelCorrupt):
            Classifier({**fitted, key: bad}, meta)
    with pytest.raises(ModelCorrupt):
        Classifier(fitted, {**meta, "classes": ["A"]})
    with pytest.raises(ModelCorrupt):
        Classifier(fitted, {**meta, "format": 99})
    with pytest.raises(ModelCorrupt, match="other text features"):
        Classifier(fitted, {**meta, "char_ngrams": [2, 6]})


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t ", None, 12345, "\x00\x01\x02\ufffd" * 50, "🙂" * 300, "a" * 1_000_000,
     "collector " * 100_000],
)  # fmt: skip
def test_empty_huge_or_non_text_complaints_route_by_rules_or_to_triage(app, text):
    use_model()
    decision = routing.router().route(RoutingInput(text))
    assert decision.source in ("rule", "model", "triage")
    if not (isinstance(text, str) and re.search(r"\w\w", text)):
        assert decision.source == "triage"
        assert not (decision.prediction and decision.prediction.suggestions)


def test_training_with_too_few_examples_refuses_with_a_clear_message(app, fresh_directory):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["route", "train", "--min-examples", "5000"])
    assert result.exit_code != 0
    assert "Too few examples to train a routing model" in result.output
    assert "need 5000 examples each" in result.output and "CFPB" in result.output
    assert db.session.scalar(db.select(db.func.count(RoutingModel.id))) == 0

    from app.directory.loader import apply_directory
    from app.directory.spec import parse_directory

    # The demo's own codes, so that putting the demo back leaves nothing of this behind.
    tiny = """
calendars:
  - {code: federal-eastern, name: Eastern, timezone: America/New_York, hours: {mon: "09:00-17:00"}}
agencies:
  - code: USAGOV
    name: USAGov
    calendar: federal-eastern
    queues: [{code: triage, name: Triage, triage: true}, {code: general, name: General}]
  - {code: CFPB, name: CFPB, calendar: federal-eastern, queues: [{code: complaints, name: C}]}
  - {code: FTC, name: FTC, calendar: federal-eastern, queues: [{code: fraud, name: F}]}
categories:
  - {code: credit-report, name: Credit, agency: CFPB, examples: [first one, second one]}
  - {code: scam, name: Scam, agency: FTC, examples: [third one]}
"""
    apply_directory(parse_directory(tiny))
    with pytest.raises(TrainingRefused, match=r"CFPB 3, FTC 2"):
        train(closed=closed_for_learning, threshold=0.5)


# --- the command line ------------------------------------------------------------------------


def test_route_explain_shows_the_models_view(app):
    use_model()
    runner = app.test_cli_runner()
    out = runner.invoke(args=["route", "explain", "The airline lost my suitcase in Denver."])
    assert out.exit_code == 0, out.output
    assert "Decision: DOT-OACP" in out.output and "(model)" in out.output
    assert re.search(r"Model version 1, routes at \d+% or more: DOT-OACP \d+%", out.output)
    assert "words that weighed most:" in out.output


def test_route_evaluate_prints_accuracy_triage_misroutes_and_the_confusion_matrix(app, tmp_path):
    use_model()
    data = tmp_path / "export.csv"
    data.write_text(
        "Complaint,Product\n"
        + "".join(f'"{t}",{a}\n' for t, a in UNSEEN)
        + '"My landlord will not fix the mold in public housing",Housing\n'
        + '"",Housing\n',
        encoding="utf-8",
    )
    labels = tmp_path / "labels.yaml"
    labels.write_text("Housing: HUD-PIH\n", encoding="utf-8")
    runner = app.test_cli_runner()
    args = ["route", "evaluate", str(data), "--text", "Complaint", "--label", "Product"]
    out = runner.invoke(args=[*args, "--label-map", str(labels)])
    assert out.exit_code == 0, out.output
    assert "Routed 7 complaints" in out.output and "model version 1" in out.output
    for words in ("right agency:", "triage:", "wrong agency:", "precision", "recall",
                  "Confusion", "(triage)"):  # fmt: skip
        assert words in out.output
    assert re.search(r"HUD-PIH\s+2\s", out.output)

    # Labels that are no agency: an error that names them, unless left out on purpose.
    refused = runner.invoke(args=args)
    assert refused.exit_code != 0 and "'Housing' (2)" in refused.output
    skipped = runner.invoke(args=[*args, "--skip-unknown"])
    assert skipped.exit_code == 0 and "Left out 2 rows" in skipped.output


@pytest.mark.parametrize(
    "content, extra, message",
    [
        (b"text,label\n", [], "no labelled complaints"),
        (b"", [], "is empty"),
        (b"body,agency\nx,CFPB\n", [], "no column 'text' or 'label'; its columns are 'body'"),
        ("text,label\ncaf\xe9,CFPB\n".encode("latin-1"), [], "not UTF-8"),
        (b"text,label\nx,CFPB\n", ["--label-map", "MISSING"], "Cannot read the label map"),
        (b"text,label\nx,Banks\n", ["--label-map", "MAP"], "names agencies the directory"),
    ],
)
def test_route_evaluate_refuses_bad_files_with_a_message(app, tmp_path, content, extra, message):
    data = tmp_path / "in.csv"
    data.write_bytes(content)
    (tmp_path / "map.yaml").write_text("Banks: BANKS\n")
    extra = [
        str(tmp_path / "map.yaml") if a == "MAP" else str(tmp_path / "nope") if a == "MISSING"
        else a
        for a in extra
    ]  # fmt: skip
    out = app.test_cli_runner().invoke(
        args=["route", "evaluate", str(data), "--text", "text", "--label", "label", *extra]
    )
    assert out.exit_code != 0
    assert message in out.output


def test_cases_closed_in_triage_or_merged_teach_nothing(client, app):
    from app.routing.training import case_examples

    token = _token(app, "admin@redress.example")
    from tests.helpers import act

    stayed = _post(client, "Something odd happened, not sure who handles it.")["reference"]
    act(client, token, stayed, action="close", reason="Not something we handle.")
    kept = _post(client, "My bank froze my account.", category="bank-account")["reference"]
    duplicate = _post(client, "My bank froze my account!", category="bank-account")["reference"]
    act(client, token, duplicate, action="merge", into=kept)
    act(client, token, kept, action="resolve", resolution="Done.")
    act(client, token, kept, action="close")
    assert get_case(stayed).closed_at and get_case(duplicate).closed_at
    examples, latest = case_examples(closed_for_learning())
    assert [(e.agency, e.category, e.weight, e.key) for e in examples] == [
        ("CFPB", "bank-account", 1.0, f"case:{get_case(kept).id}")
    ]
    assert latest == get_case(kept).closed_at


def test_the_web_process_scores_without_importing_scikit_learn(app, tmp_path):
    """scikit-learn and scipy cost a web worker ~50 MiB: only training may import them."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    model = use_model()
    (tmp_path / "model.npz").write_bytes(model.payload)
    (tmp_path / "meta.json").write_text(json.dumps(model.meta))
    child = f"""
import json, sys
from pathlib import Path
from app import create_app
from app.routing import service
from app.routing.classifier import Classifier
web = create_app("test")
folder = Path({str(tmp_path)!r})
model = Classifier.from_bytes((folder / "model.npz").read_bytes(),
                              json.loads((folder / "meta.json").read_text()))
assert model.predict("My bank froze my checking account").top is not None
with web.test_client() as client:
    client.get("/healthz")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "scipy"))))
"""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", child], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
