from reflex_model.network import split_words, tokenize

VOCAB = {"words": ["<pad>", "<unk>", "open", "the", "drawer", "button2", "3"],
         "pad": "<pad>", "unknown": "<unk>"}


def test_lower_cases_and_splits_on_non_alphanumerics():
    assert split_words("Open  the DRAWER!") == ["open", "the", "drawer"]
    assert split_words("push_the-door.handle,now") == ["push", "the", "door", "handle", "now"]
    assert split_words("button2 3x") == ["button2", "3x"]
    assert split_words("") == [] and split_words(" ,.;") == []


def test_unicode_words_are_normalised_lower_cased_and_kept_whole():
    # NFKC: the Kelvin sign is K, full-width letters are ASCII; other scripts are words too.
    assert split_words("Caf\u00e9 \u212a\u00d6ffne") == ["caf\u00e9", "k\u00f6ffne"]
    assert split_words("\uff2f\uff30\uff25\uff2e") == ["open"]
    assert split_words("o\u0308ffne") == ["\u00f6ffne"]          # decomposed = composed
    ids, unknown = tokenize("\u043e\u0442\u043a\u0440\u043e\u0439 \u044f\u0449\u0438\u043a the drawer", VOCAB, 4)
    assert ids == [1, 1, 3, 4] and unknown == ["\u043e\u0442\u043a\u0440\u043e\u0439", "\u044f\u0449\u0438\u043a"]


def test_the_committed_parity_cases_are_what_the_reference_gives():
    """Tests/Fixtures/tokenizer-cases.json is what the Swift tokenizer is checked against."""
    import json
    from pathlib import Path

    from reflex_model.make_fixtures import tokenizer_cases
    committed = Path(__file__).resolve().parents[3] / "Tests" / "Fixtures" / "tokenizer-cases.json"
    assert json.loads(committed.read_text(encoding="utf-8")) == tokenizer_cases()


def test_many_distinct_unknown_words_are_each_listed_once():
    text = " ".join(f"w{i % 15_000}" for i in range(20_000))
    _, unknown = tokenize(text, VOCAB, 8)
    assert unknown == [f"w{i}" for i in range(15_000)]
