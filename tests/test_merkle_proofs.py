"""The RFC 9162 Merkle log in ``tanggap_verify``: known answers from Certificate Transparency's
reference tests, agreement with a naive recursive definition written here from the RFC, and
proofs that verify for the true tree and fail when any one byte, index, size or element changes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow import tanggap_verify as tv

# -- the naive definitions, straight from RFC 9162 2.1.1 - 2.1.4 -----------------------------------


def split(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(data: list[bytes]) -> bytes:
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = split(len(data))
    return hashlib.sha256(b"\x01" + mth(data[:k]) + mth(data[k:])).digest()


def path(m: int, data: list[bytes]) -> list[bytes]:
    if len(data) == 1:
        return []
    k = split(len(data))
    if m < k:
        return path(m, data[:k]) + [mth(data[k:])]
    return path(m - k, data[k:]) + [mth(data[:k])]


def subproof(m: int, data: list[bytes], complete: bool) -> list[bytes]:
    if m == len(data):
        return [] if complete else [mth(data)]
    k = split(len(data))
    if m <= k:
        return subproof(m, data[:k], complete) + [mth(data[k:])]
    return subproof(m - k, data[k:], False) + [mth(data[:k])]


def proof(m: int, data: list[bytes]) -> list[bytes]:
    return subproof(m, data, True) if 0 < m < len(data) else []


def tree(data: list[bytes]) -> tuple[list[bytes], tv.Perfect]:
    hashes = [tv.leaf_hash(d) for d in data]
    return hashes, tv.perfect_from_list(hashes)


def flip(value: bytes, position: int, mask: int = 0x01) -> bytes:
    position %= len(value)
    return value[:position] + bytes([value[position] ^ mask]) + value[position + 1:]


# -- known answers: transparency-dev/merkle (the CT reference) -----------------------------------
# Leaves, roots and proofs of testonly/constants.go and proof/verify_test.go (whose inclusion
# vectors number leaves from 1; here from 0); the hasher vectors of rfc6962/rfc6962_test.go.

CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = {
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
CT_INCLUSION = {  # (index, size): PATH
    (0, 1): [],
    (0, 2): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
    (1, 2): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}
CT_CONSISTENCY = {  # (old size, new size): PROOF
    (1, 1): [],
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
    (6, 7): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def test_leaf_and_node_hashes_are_rfc_6962s():
    assert tv.EMPTY_ROOT.hex() == CT_ROOTS[0]
    assert tv.leaf_hash(b"").hex() == CT_ROOTS[1]
    assert tv.leaf_hash(b"L123456").hex() == \
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert tv.node_hash(b"N123", b"N456").hex() == \
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"


@pytest.mark.parametrize("size", range(9))
def test_roots_of_the_reference_leaves(size):
    hashes, perfect = tree(CT_LEAVES[:size])
    assert tv.merkle_root(hashes).hex() == CT_ROOTS[size]
    assert mth(CT_LEAVES[:size]).hex() == CT_ROOTS[size]
    frontier = tv.Frontier()
    for h in hashes:
        frontier.add(h)
    assert frontier.root().hex() == CT_ROOTS[size]
    assert tv.Frontier.of(size, perfect).root().hex() == CT_ROOTS[size]
    if size:
        assert tv.subtree_hash(0, size, perfect).hex() == CT_ROOTS[size]


def replaced(proof_: list[bytes], k: int, value: bytes) -> list[bytes]:
    return proof_[:k] + [value] + proof_[k + 1:]


@pytest.mark.parametrize(("index", "size"), sorted(CT_INCLUSION))
def test_reference_inclusion_proofs(index, size):
    hashes, perfect = tree(CT_LEAVES[:size])
    want = [bytes.fromhex(h) for h in CT_INCLUSION[index, size]]
    assert tv.inclusion_proof(index, size, perfect) == want
    leaf, root = hashes[index], bytes.fromhex(CT_ROOTS[size])
    assert tv.verify_inclusion(index, size, leaf, want, root)
    # proof/verify_test.go's corruptInclusionProof probes
    probes = [(index - 1, size, leaf, want, root), (index + 1, size, leaf, want, root),
              (index ^ 2, size, leaf, want, root), (index, size * 2, leaf, want, root),
              (index, size // 2, leaf, want, root), (index, size, b"WrongLeaf", want, root),
              (index, size, leaf, want, tv.EMPTY_ROOT), (index, size, leaf, want, SOME_HASH),
              (index, size, leaf, want + [b""], root), (index, size, leaf, want + [root], root),
              (index, size, leaf, [b""] + want, root), (index, size, leaf, [root] + want, root)]
    probes += [(index, size, leaf, replaced(want, k, flip(want[k], 0, 8)), root) for k in range(len(want))]
    if want:
        probes.append((index, size, leaf, want[:-1], root))
    if len(want) > 1:
        probes.append((index, size, leaf, [want[0], SOME_HASH] + want[1:], root))
    for probe in probes:
        assert not tv.verify_inclusion(*probe), probe


@pytest.mark.parametrize(("index", "size"), [(0, 0), (0, 1), (1, 0), (2, 1)])
def test_reference_inclusion_probes_with_empty_proofs(index, size):
    # TestVerifyInclusion: none of these verify
    assert not tv.verify_inclusion(index, size, SOME_HASH, [], b"")
    assert not tv.verify_inclusion(index, size, b"", [], tv.EMPTY_ROOT)
    assert not tv.verify_inclusion(index, size, SOME_HASH, [], tv.EMPTY_ROOT)


def test_a_single_entry_tree_proves_its_leaf_with_an_empty_proof():
    h = tv.leaf_hash(b"data")
    assert tv.verify_inclusion(0, 1, h, [], h)
    assert not tv.verify_inclusion(0, 1, b"", [], h)
    assert not tv.verify_inclusion(0, 1, h, [], b"")


@pytest.mark.parametrize(("old", "new"), sorted(CT_CONSISTENCY))
def test_reference_consistency_proofs(old, new):
    hashes, perfect = tree(CT_LEAVES[:new])
    want = [bytes.fromhex(h) for h in CT_CONSISTENCY[old, new]]
    assert tv.consistency_proof(old, new, perfect) == want
    old_root, new_root = bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new])
    assert tv.verify_consistency(old, new, old_root, new_root, want)
    if not want:
        return
    # proof/verify_test.go's corruptConsistencyProof probes
    probes = [(old - 1, new, want), (old + 1, new, want), (old ^ 2, new, want), (old, new * 2, want),
              (old, new // 2, want)]
    probes = [(o, n, old_root, new_root, p) for o, n, p in probes]
    probes += [(old, new, b"WrongRoot", new_root, want), (old, new, old_root, b"WrongRoot", want),
               (old, new, new_root, old_root, want)]
    probes += [(old, new, old_root, new_root, p) for p in (
        [], want + [b""], want + [old_root], want + [new_root], [b""] + want, [old_root] + want,
        [new_root] + want, [want[0]] + want, want[:-1],
        *(replaced(want, k, flip(want[k], 0, 16)) for k in range(len(want))))]
    for probe in probes:
        assert not tv.verify_consistency(*probe), probe


DONT_CARE_1, DONT_CARE_2 = b"don't care 1", b"don't care 2"


@pytest.mark.parametrize(("old", "new", "old_root", "new_root", "proof_", "valid"), [
    # TestVerifyConsistency's table: an empty log is consistent with every log, as upstream
    (0, 0, DONT_CARE_1, DONT_CARE_2, [], False),
    (1, 1, DONT_CARE_1, DONT_CARE_2, [], False),
    (0, 0, DONT_CARE_1, DONT_CARE_1, [], True),
    (0, 1, DONT_CARE_1, DONT_CARE_2, [], True),
    (1, 1, DONT_CARE_2, DONT_CARE_2, [], True),
    (1, 0, DONT_CARE_1, DONT_CARE_2, [], False),
    (2, 1, DONT_CARE_1, DONT_CARE_2, [], False),
    (1, 2, DONT_CARE_1, DONT_CARE_2, [], False),
    (0, 0, tv.EMPTY_ROOT, DONT_CARE_2, [], False),
    (1, 1, tv.EMPTY_ROOT, DONT_CARE_2, [], False),
    (0, 0, tv.EMPTY_ROOT, tv.EMPTY_ROOT, [tv.EMPTY_ROOT], False),
    (0, 1, tv.EMPTY_ROOT, tv.EMPTY_ROOT, [tv.EMPTY_ROOT], False),
    (1, 1, tv.EMPTY_ROOT, tv.EMPTY_ROOT, [tv.EMPTY_ROOT], False),
])
def test_reference_consistency_edge_cases(old, new, old_root, new_root, proof_, valid):
    assert tv.verify_consistency(old, new, old_root, new_root, proof_) is valid


def test_proofs_refuse_impossible_ranges():
    _, perfect = tree(CT_LEAVES)
    for index, size in [(8, 8), (-1, 8), (0, 0)]:
        with pytest.raises(ValueError):
            tv.inclusion_proof(index, size, perfect)
    for old, new in [(9, 8), (-1, 8)]:
        with pytest.raises(ValueError):
            tv.consistency_proof(old, new, perfect)
    with pytest.raises(ValueError):
        tv.Frontier(3, [tv.EMPTY_ROOT])  # three leaves are two complete subtrees


# -- properties over random trees ---------------------------------------------------------------

def leaves(min_size: int = 1, max_size: int = 300) -> st.SearchStrategy[list[bytes]]:
    """A tree size drawn evenly (lists alone stay short), then that many leaves; short leaves, so
    equal leaves happen too."""
    return st.integers(min_size, max_size).flatmap(
        lambda n: st.lists(st.binary(max_size=6), min_size=n, max_size=n))


leaf_data = leaves()


@settings(max_examples=60, deadline=None)
@given(data=leaves(0))
def test_root_frontier_and_subtrees_agree_with_the_naive_tree(data):
    hashes, perfect = tree(data)
    assert tv.merkle_root(hashes) == mth(data)
    frontier, stored = tv.Frontier(), {}
    for i, h in enumerate(hashes):
        stored[0, i] = h
        for level, index, subtree in frontier.add(h):
            assert subtree == mth(data[index << level:(index + 1) << level])
            stored[level, index] = subtree
    assert frontier.size == len(data) and frontier.root() == mth(data)
    # the subtrees the frontier completed are all a perfect() needs: every range RFC 9162 visits
    from_frontier = lambda level, index: stored[level, index]  # noqa: E731
    ranges = [(0, len(data))] if data else []
    while ranges:
        start, end = ranges.pop()
        assert tv.subtree_hash(start, end, perfect) == tv.subtree_hash(start, end, from_frontier) \
            == mth(data[start:end])
        if end - start > 1:
            k = split(end - start)
            ranges += [(start, start + k), (start + k, end)]


@settings(max_examples=40, deadline=None)
@given(data=leaf_data, more=st.lists(st.binary(max_size=12), max_size=40))
def test_a_frontier_read_from_a_kept_tree_continues_as_the_tree_grows(data, more):
    _, perfect = tree(data)
    frontier = tv.Frontier.of(len(data), perfect)
    assert frontier.root() == mth(data)
    for d in more:
        frontier.add(tv.leaf_hash(d))
    assert frontier.size == len(data) + len(more) and frontier.root() == mth(data + more)


@settings(max_examples=60, deadline=None)
@given(data=leaf_data, choice=st.data())
def test_an_inclusion_proof_verifies_and_every_change_breaks_it(data, choice):
    size = len(data)
    index = choice.draw(st.integers(0, size - 1), label="index")
    hashes, perfect = tree(data)
    root = mth(data)
    p = tv.inclusion_proof(index, size, perfect)
    assert p == path(index, data)
    assert tv.verify_inclusion(index, size, tv.leaf_hash(data[index]), p, root)

    def change(value: bytes) -> bytes:  # one byte, anywhere, to anything else
        return flip(value, choice.draw(st.integers(0, 10 ** 6)), choice.draw(st.integers(1, 255)))

    changed_leaf = change(data[index]) if data[index] else choice.draw(st.binary(min_size=1, max_size=3))
    assert not tv.verify_inclusion(index, size, tv.leaf_hash(changed_leaf), p, root)
    lh = hashes[index]
    assert not tv.verify_inclusion(index, size, lh, p, change(root))
    for k in range(len(p)):
        assert not tv.verify_inclusion(index, size, lh, replaced(p, k, change(p[k])), root)
    for other in range(-1, size + 1):  # every other index (unless it holds the same leaf), and outside
        if other != index:
            same = 0 <= other < size and hashes[other] == lh and path(other, data) == p
            assert tv.verify_inclusion(other, size, lh, p, root) is same
    for wrong_size in {size * 2, size // 2}:  # another height: the path has the wrong length
        if wrong_size != size:
            assert not tv.verify_inclusion(index, wrong_size, lh, p, root)
    extra = choice.draw(st.binary(min_size=32, max_size=32))
    for wrong in [p + [extra], [extra] + p, p[1:], p[:-1]]:
        if wrong != p:
            assert not tv.verify_inclusion(index, size, lh, wrong, root)


@settings(max_examples=40, deadline=None)
@given(data=leaves(1, 200), choice=st.data())
def test_an_inclusion_proof_holds_for_another_tree_size_only_where_the_path_is_the_same(data, choice):
    # The root does not commit to the size (the signed tree head does): a proof for size n also
    # verifies against the real root of size n' when, and only when, the two paths are equal.
    size = len(data)
    index = choice.draw(st.integers(0, size - 1), label="index")
    _, perfect = tree(data)
    p = tv.inclusion_proof(index, size, perfect)
    for other in range(index + 1, size + 1):
        assert tv.verify_inclusion(index, other, tv.leaf_hash(data[index]), p, mth(data[:other])) \
            == (other == size or p == path(index, data[:other]))


@settings(max_examples=60, deadline=None)
@given(data=leaf_data, choice=st.data())
def test_a_consistency_proof_verifies_and_every_change_breaks_it(data, choice):
    new = len(data)
    old = choice.draw(st.integers(0, new), label="old size")
    _, perfect = tree(data)
    old_root, new_root = mth(data[:old]), mth(data)
    p = tv.consistency_proof(old, new, perfect)
    assert p == proof(old, data)
    assert tv.verify_consistency(old, new, old_root, new_root, p)
    def change(value: bytes) -> bytes:  # one byte, anywhere, to anything else
        return flip(value, choice.draw(st.integers(0, 10 ** 6)), choice.draw(st.integers(1, 255)))

    if old == new:  # nothing to prove but that the roots are equal
        assert not tv.verify_consistency(old, new, old_root, change(new_root), p)
        return
    if old == 0:  # an empty log is consistent with every log
        return
    assert not tv.verify_consistency(old, new, change(old_root), new_root, p)
    assert not tv.verify_consistency(old, new, old_root, change(new_root), p)
    for k in range(len(p)):
        assert not tv.verify_consistency(old, new, old_root, new_root, replaced(p, k, change(p[k])))
    for o, n in [(old - 1, new), (old + 1, new), (old ^ 2, new), (old, new * 2), (old, new // 2)]:
        if (o, n) != (old, new):
            assert not tv.verify_consistency(o, n, old_root, new_root, p)
    extra = choice.draw(st.binary(min_size=32, max_size=32))
    for wrong in [p + [extra], [extra] + p, p[1:], p[:-1], [], [p[0]] + p]:
        assert not tv.verify_consistency(old, new, old_root, new_root, wrong)


@settings(max_examples=30, deadline=None)
@given(data=leaves(2, 120), choice=st.data())
def test_a_consistency_proof_holds_for_other_sizes_only_where_the_proof_is_the_same(data, choice):
    new = len(data)
    old = choice.draw(st.integers(1, new - 1), label="old size")
    _, perfect = tree(data)
    p = tv.consistency_proof(old, new, perfect)
    for other_old in range(0, new + 1):
        for other_new in range(max(other_old, new - 2), new + 1):
            if (other_old, other_new) != (old, new):
                roots = mth(data[:other_old]), mth(data[:other_new])
                got = tv.verify_consistency(other_old, other_new, *roots, p)
                assert got == (p == proof(other_old, data[:other_new])), (other_old, other_new)
