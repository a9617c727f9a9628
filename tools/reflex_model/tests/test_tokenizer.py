from reflex_model.network import split_words, tokenize

VOCAB = {"words": ["<pad>", "<unk>", "open", "the", "drawer", "button2", "3"],
         "pad": "<pad>", "unknown": "<unk>"}


def test_lower_cases_and_splits_on_non_alphanumerics():
    assert split_words("Open  the DRAWER!") == ["open", "the", "drawer"]
    assert split_words("push_the-door.handle,now") == ["push", "the", "door", "handle", "now"]
    assert split_words("button2 3x") == ["button2", "3x"]
    assert split_words("") == [] and split_words(" ,.;") == []


def test_lower_casing_is_ascii_only():
    # Non-ASCII letters are separators, never folded into a-z (the Kelvin sign K would be "k").
    assert split_words("Caf\u00e9 \u212a\u00d6ffne") == ["caf", "ffne"]


def test_pads_to_length():
    assert tokenize("open the drawer", VOCAB, 5) == ([2, 3, 4, 0, 0], [])
    assert tokenize("", VOCAB, 3) == ([0, 0, 0], [])


def test_truncates_to_first_words():
    assert tokenize("open the drawer the drawer", VOCAB, 3) == ([2, 3, 4], [])
    assert tokenize("open", VOCAB, 0) == ([], [])


def test_unknown_words_map_to_unk_and_are_reported_once_in_order():
    ids, unknown = tokenize("open the window, the Window and 3", VOCAB, 8)
    assert ids == [2, 3, 1, 3, 1, 1, 6, 0]
    assert unknown == ["window", "and"]


def test_unknown_words_past_the_length_are_reported():
    ids, unknown = tokenize("open the drawer quickly", VOCAB, 3)
    assert ids == [2, 3, 4] and unknown == ["quickly"]


def test_special_words_cannot_be_typed():
    ids, unknown = tokenize("<pad> <unk>", VOCAB, 2)
    assert ids == [1, 1] and unknown == ["pad", "unk"]
