from collections import Counter

import pytest

from ragmtl.data import (SENTCLF_TASKS, load_banking77, load_clinc150, load_scifact, load_sentclf,
                         load_squad2, load_uci_sentiment, parse_abstract, seeded_split)


def test_parse_abstract_keeps_sentences_apart():
    raw = "['First sentence ends here.'\n 'It\\'s the second.'\n \"A third with 'quotes'.\"]"
    assert parse_abstract(raw) == ["First sentence ends here.", "It's the second.", "A third with 'quotes'."]
    with pytest.raises(ValueError, match="not a list repr"):
        parse_abstract("plain text")


@pytest.fixture(scope="module")
def scifact():
    return load_scifact()


def test_scifact_counts(scifact):
    assert len(scifact.corpus) == 5183
    assert len(scifact.queries) == 300
    assert sum(len(d) for d in scifact.qrels.values()) == 339
    assert set(scifact.qrels) == {q.query_id for q in scifact.queries}
    ids = {d.doc_id for d in scifact.corpus}
    assert all(did in ids for rel in scifact.qrels.values() for did in rel)


def test_scifact_cited_qrels_reproduce_beir_test_qrels(scifact):
    import csv
    import io
    import zipfile

    from ragmtl.data import cited_qrels, fetch

    with zipfile.ZipFile(fetch("scifact") / "scifact.zip") as zf:
        rows = list(csv.DictReader(io.TextIOWrapper(zf.open("claims_validation.csv"), encoding="utf-8")))
    assert cited_qrels(rows) == scifact.qrels  # the rule the train split uses, checked on BEIR's test qrels
    assert cited_qrels([{"id": "7", "cited_doc_ids": "[1, 22]"}]) == {"7": {"1": 1, "22": 1}}
    with pytest.raises(ValueError, match="cited_doc_ids"):
        cited_qrels([{"id": "7"}])


def test_scifact_train_split(scifact):
    train = load_scifact("train")
    assert len(train.queries) == 809 and sum(len(d) for d in train.qrels.values()) == 919  # BEIR's train split
    assert set(train.qrels) == {q.query_id for q in train.queries}
    assert not {q.query_id for q in train.queries} & {q.query_id for q in scifact.queries}
    ids = {d.doc_id for d in train.corpus}
    assert all(did in ids for rel in train.qrels.values() for did in rel)
    with pytest.raises(ValueError, match="split"):
        load_scifact("dev")


def test_scifact_abstract_pitfall(scifact):
    first = scifact.corpus[0]
    assert first.doc_id == "4983" and first.title.startswith("Microstructural development")
    # ast.literal_eval would glue the sentences: "disabilities.A line scan"
    assert "functional disabilities. A line scan" in first.text
    assert not any("['" in d.text or "'\n '" in d.text for d in scifact.corpus)
    assert all(d.text == d.text.strip() for d in scifact.corpus)


def test_squad2_counts_and_offsets():
    squad = load_squad2()
    assert len(squad.articles) == 16 and len(squad.paragraphs) == 646
    assert len(squad.questions) == 6078
    answerable = [q for q in squad.questions if not q.is_impossible]
    assert len(answerable) == 2910
    for q in answerable:
        context = squad.paragraphs[q.paragraph_id].context
        assert q.answers and all(context[a.start:a.start + len(a.text)] == a.text for a in q.answers)
    assert all(not q.answers for q in squad.questions if q.is_impossible)
    assert len(squad.questions_of(["Normans"])) == sum(1 for q in answerable if q.article == "Normans")
    with pytest.raises(ValueError, match="unknown articles"):
        squad.questions_of(["Atlantis"])


def test_clinc150_counts_and_domains():
    clinc = load_clinc150()
    assert (len(clinc.intents.train), len(clinc.intents.dev), len(clinc.intents.test)) == (15000, 3000, 4500)
    assert (len(clinc.oos_train), len(clinc.oos_dev), len(clinc.oos_test)) == (100, 100, 1000)
    assert clinc.intents.num_labels == 150
    assert len(clinc.domains) == 10 and all(len(v) == 15 for v in clinc.domains.values())
    assert set(clinc.intent_domain) == set(clinc.intents.label_names)
    assert Counter(clinc.intents.labels("train").tolist()) == {i: 100 for i in range(150)}
    labels = clinc.labels_of_domains(["banking", "travel"])
    assert len(labels) == 30
    with pytest.raises(ValueError, match="unknown domains"):
        clinc.labels_of_domains(["cooking"])


EXPECTED = {  # (train, dev, test, skipped lines)
    "sst2": (6920, 872, 1821, 0), "trec": (4907, 545, 500, 0), "mr": (8530, 1066, 1066, 0),
    "subj": (8000, 1000, 1000, 0), "cr": (3017, 377, 377, 4), "mpqa": (8482, 1060, 1061, 3),
}


@pytest.mark.parametrize("name", sorted(SENTCLF_TASKS))
def test_sentclf_counts_and_splits(name):
    task = load_sentclf(name)
    assert (len(task.train), len(task.dev), len(task.test), task.skipped) == EXPECTED[name]
    assert all(0 <= ex.label < task.num_labels and ex.text for s in ("train", "dev", "test") for ex in task.split(s))
    again = load_sentclf(name)
    assert again.train == task.train and again.test == task.test  # the seeded split is fixed
    if name in ("mr", "subj", "cr", "mpqa"):
        assert "seed" in task.note


def test_trec_label_names_and_counts():
    trec = load_sentclf("trec")
    counts = Counter(trec.label_names[y] for y in [*trec.labels("train"), *trec.labels("dev")])
    assert counts == {"ENTY": 1250, "HUM": 1223, "DESC": 1162, "NUM": 896, "LOC": 835, "ABBR": 86}
    who = next(ex for ex in trec.test if ex.text.startswith("Who was Galileo"))
    assert trec.label_names[who.label] == "HUM"


def test_latin1_bytes_are_decoded_not_crashed():
    mr = load_sentclf("mr")
    assert any("é" in ex.text for s in ("train", "dev", "test") for ex in mr.split(s))
    with pytest.raises(ValueError, match="known tasks"):
        load_sentclf("imdb")


def test_uci_sentiment_domains():
    uci = load_uci_sentiment()
    assert sorted(uci) == ["amazon", "imdb", "yelp"]
    for task in uci.values():
        labels = [*task.labels("train"), *task.labels("dev"), *task.labels("test")]
        assert Counter(labels) == {0: 500, 1: 500}
        assert (len(task.train), len(task.dev), len(task.test)) == (800, 100, 100)


def test_banking77_counts():
    bank = load_banking77()
    assert len(bank.train) + len(bank.dev) == 10003 and len(bank.test) == 3080
    assert bank.num_labels == 77 and bank.label_names[0] == "card_arrival"


def test_seeded_split_partitions():
    parts = seeded_split(103, (0.8, 0.1, 0.1), seed=3)
    flat = sorted(i for p in parts for i in p.tolist())
    assert flat == list(range(103)) and [len(p) for p in parts] == [82, 10, 11]
    with pytest.raises(ValueError):
        seeded_split(10, (0.8, 0.5))
