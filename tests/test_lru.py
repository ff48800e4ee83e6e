from ltrl_cli.lru import ABSENT, LRU


def test_writing_a_key_again_makes_it_the_most_recent():
    cache = LRU(2)
    cache["a"], cache["b"] = 1, 2
    cache["a"] = 10
    cache["c"] = 3
    assert cache.get("b", ABSENT) is ABSENT
    assert (cache.get("a"), cache.get("c")) == (10, 3)


def test_get_without_a_default_cannot_tell_none_from_absent():
    cache = LRU(1)
    cache["x"] = None
    assert cache.get("x") is None and cache.get("y") is None
    assert cache.get("x", ABSENT) is None and cache.get("y", ABSENT) is ABSENT
