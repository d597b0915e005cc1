"""gg.data: generated datasets, the shipped digits, the IDX reader and the DataLoader.

Oracles: the defining geometry of each generated set (radii, centres, labels recomputed
from the points), torch.utils.data.DataLoader for batch counts and sizes, NumPy's own
``Generator.permutation`` for the shuffled order, and IDX files written by this test.
"""

import gzip
import struct

import numpy as np
import pytest
import torch

import glassgrad as gg
from glassgrad.data import (
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    circles,
    default_collate,
    load_digits,
    load_mnist,
    read_idx,
    spirals,
    train_test_split,
    two_moons,
    xor,
)

# --- generated datasets ------------------------------------------------------------------


def test_xor_labels_are_the_exclusive_or_of_the_inputs():
    X, y = xor()
    assert X.shape == (4, 2) and y.shape == (4, 1)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert {tuple(r) for r in X.astype(int)} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    np.testing.assert_array_equal(y[:, 0], (X[:, 0] != X[:, 1]).astype(float))


@pytest.mark.parametrize("n", [2, 7, 200])
def test_two_moons_points_lie_on_their_half_circles_without_noise(n):
    X, y = two_moons(n, noise=0.0, seed=1)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.bincount(y, minlength=2).tolist() == [n // 2, n - n // 2]
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    assert (upper[:, 1] >= -1e-12).all()
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert (lower[:, 1] <= 0.5 + 1e-12).all()


def test_circles_radii_and_counts_without_noise():
    X, y = circles(11, noise=0.0, factor=0.3, seed=0)
    assert X.shape == (11, 2) and y.dtype == np.int64
    np.testing.assert_allclose(np.hypot(*X[y == 0].T), 1.0)
    np.testing.assert_allclose(np.hypot(*X[y == 1].T), 0.3)
    assert np.bincount(y).tolist() == [5, 6]
    assert len({tuple(np.round(p, 9)) for p in X}) == 11  # no point repeated
    with pytest.raises(ValueError, match="factor"):
        circles(10, factor=1.5)


def test_spirals_classes_and_radius():
    X, y = spirals(302, n_classes=4, noise=0.3, seed=0)
    assert X.shape == (302, 2) and X.dtype == np.float64 and y.dtype == np.int64
    counts = np.bincount(y)
    assert counts.sum() == 302 and counts.max() - counts.min() <= 1 and len(counts) == 4
    # noise is in the angle only: every radius is in [0, 1], and each arm spans it
    r = np.hypot(*X.T)
    assert r.max() <= 1 + 1e-12
    for k in range(4):
        assert r[y == k].min() < 0.05 and r[y == k].max() > 0.95
    with pytest.raises(ValueError, match="n_classes"):
        spirals(10, n_classes=1)


@pytest.mark.parametrize("make", [two_moons, circles, spirals])
def test_generated_sets_are_reproducible_and_shuffled(make):
    X1, y1 = make(90, seed=3)
    X2, y2 = make(90, seed=3)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = make(90, seed=4)
    assert not np.array_equal(X1, X3)
    assert len(np.unique(y1[:30])) > 1  # classes are mixed, not in blocks
    # seed=None draws from glassgrad's generator, so gg.manual_seed fixes it
    gg.manual_seed(11)
    Xa, _ = make(90)
    gg.manual_seed(11)
    Xb, _ = make(90)
    np.testing.assert_array_equal(Xa, Xb)
    # an int seed is private: other draws in between do not change the data
    gg.manual_seed(0)
    gg.randn(5)
    np.testing.assert_array_equal(make(90, seed=3)[0], X1)


def test_bad_n_is_a_clear_error():
    with pytest.raises(ValueError, match="two_moons: n must be"):
        two_moons(1)
    with pytest.raises(ValueError, match="spirals: n must be"):
        spirals(3, n_classes=3)


# --- the shipped digits ------------------------------------------------------------------


def test_digits_shapes_values_and_class_balance():
    X, y = load_digits()
    assert X.shape == (1797, 8, 8) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == 10 and (np.abs(counts - 1797 / 10) < 10).all()
    raw, y_raw = load_digits(raw=True)
    assert raw.dtype == np.uint8 and raw.min() == 0 and raw.max() == 16
    np.testing.assert_array_equal(y_raw, y)
    np.testing.assert_array_equal(X, raw.astype(np.float32) / 16)
    flat, _ = load_digits(flatten=True)
    np.testing.assert_array_equal(flat, X.reshape(1797, 64))
    # real images, not noise: the mean image of each digit differs from every other one
    means = np.stack([X[y == d].mean(0) for d in range(10)])
    dists = np.linalg.norm((means[:, None] - means[None]).reshape(10, 10, -1), axis=2)
    assert (dists + np.eye(10) * 1e9).min() > 0.5


def test_digits_are_writable_copies():
    X, _ = load_digits()
    X[0, 0, 0] = 5.0  # a caller may normalise in place; the next load is unaffected
    assert load_digits()[0][0, 0, 0] == load_digits(raw=True)[0][0, 0, 0] / 16


# --- train_test_split ---------------------------------------------------------------------


def test_split_partitions_rows_consistently_and_deterministically():
    X = np.arange(100).reshape(50, 2)
    y = np.arange(50)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, seed=5)
    assert len(X_te) == 10 and len(X_tr) == 40
    np.testing.assert_array_equal(X_tr[:, 0] // 2, y_tr)  # same rows in both arrays
    np.testing.assert_array_equal(X_te[:, 0] // 2, y_te)
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == list(range(50))
    again = train_test_split(X, y, test_size=0.2, seed=5)
    np.testing.assert_array_equal(again[3], y_te)
    other = train_test_split(X, y, test_size=0.2, seed=6)
    assert not np.array_equal(other[3], y_te)
    assert len(train_test_split(y, test_size=7)[1]) == 7
    assert len(train_test_split(y, test_size=0.25)[1]) == int(np.ceil(0.25 * 50))


def test_split_without_shuffle_holds_out_the_last_rows():
    y = np.arange(10)
    tr, te = train_test_split(y, test_size=3, shuffle=False)
    assert tr.tolist() == list(range(7)) and te.tolist() == [7, 8, 9]


def test_stratified_split_keeps_class_shares():
    _, y = load_digits()
    y_tr, y_te = train_test_split(y, test_size=0.25, seed=0, stratify=y)
    n_test = int(np.ceil(0.25 * len(y)))
    assert len(y_te) == n_test
    quota = n_test * np.bincount(y) / len(y)
    assert (np.abs(np.bincount(y_te, minlength=10) - quota) < 1).all()
    assert (np.bincount(y_tr) + np.bincount(y_te) == np.bincount(y)).all()


def test_split_accepts_tensors_and_reports_bad_arguments():
    t = gg.tensor(np.arange(12.0).reshape(6, 2))
    tr, te = train_test_split(t, test_size=2)
    assert isinstance(tr, gg.Tensor) and tr.shape == (4, 2) and te.shape == (2, 2)
    with pytest.raises(ValueError, match="same length"):
        train_test_split(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="in \\(0, 1\\)"):
        train_test_split(np.zeros(4), test_size=1.5)
    with pytest.raises(ValueError, match="at least one sample"):
        train_test_split(np.zeros(4), test_size=4)
    with pytest.raises(ValueError, match="one label per sample"):
        train_test_split(np.zeros(4), stratify=np.zeros(3))


# --- datasets and the DataLoader ----------------------------------------------------------


class ListDataset(Dataset):
    """A plain map-style dataset over arrays: exercises the generic (stacking) path."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


def _data(n=23):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, 3)).astype(np.float32), np.arange(n)


def test_tensor_dataset_indexes_all_tensors_together():
    X, y = _data()
    ds = TensorDataset(X, gg.tensor(y))
    assert len(ds) == 23
    xi, yi = ds[5]
    np.testing.assert_array_equal(xi.numpy(), X[5])
    assert yi.item() == 5 and ds.tensors[0].dtype == np.float32
    with pytest.raises(ValueError, match=r"same length along axis 0.*\(23, 3\), \(22,\)"):
        TensorDataset(X, y[:-1])
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    sub = Subset(ds, [4, 0])
    assert len(sub) == 2 and sub[0][1].item() == 4


@pytest.mark.parametrize("n, bs", [(23, 5), (20, 5), (3, 8), (1, 1), (17, 1)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_count_and_sizes_match_torch(n, bs, drop_last):
    X, y = _data(n)
    ours = DataLoader(TensorDataset(X, y), batch_size=bs, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
        batch_size=bs, drop_last=drop_last,
    )
    assert len(ours) == len(theirs)
    got = [(xb.numpy(), yb.numpy()) for xb, yb in ours]
    want = [(xb.numpy(), yb.numpy()) for xb, yb in theirs]
    assert len(got) == len(want)
    for (gx, gy), (wx, wy) in zip(got, want):  # unshuffled: identical batches
        np.testing.assert_array_equal(gx, wx)
        np.testing.assert_array_equal(gy, wy)


def test_shuffle_uses_a_fresh_permutation_each_epoch_from_the_given_generator():
    X, y = _data(23)
    loader = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True,
                        generator=np.random.default_rng(7))
    oracle = np.random.default_rng(7)
    epochs = []
    for _ in range(3):
        order = np.concatenate([yb.numpy() for _, yb in loader])
        np.testing.assert_array_equal(order, oracle.permutation(23))
        epochs.append(order)
    assert not np.array_equal(epochs[0], epochs[1])
    # an int seeds a private generator, the same as passing default_rng(int)
    seeded = DataLoader(TensorDataset(X, y), batch_size=4, shuffle=True, generator=7)
    np.testing.assert_array_equal(np.concatenate([yb.numpy() for _, yb in seeded]), epochs[0])


def test_shuffle_by_default_follows_gg_manual_seed():
    X, y = _data(30)
    loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True)

    def one_epoch():
        return np.concatenate([yb.numpy() for _, yb in loader])

    gg.manual_seed(123)
    first = one_epoch()
    second = one_epoch()
    gg.manual_seed(123)  # replaces the generator: the loader must pick up the new one
    np.testing.assert_array_equal(one_epoch(), first)
    np.testing.assert_array_equal(one_epoch(), second)
    assert sorted(first.tolist()) == list(range(30))


def test_drop_last_with_shuffle_gives_full_batches_of_distinct_samples():
    X, y = _data(23)
    loader = DataLoader(TensorDataset(X, y), batch_size=5, shuffle=True, drop_last=True,
                        generator=0)
    seen = np.concatenate([yb.numpy() for _, yb in loader])
    assert [len(yb) for _, yb in loader] == [5, 5, 5, 5] and len(loader) == 4
    assert len(set(seen.tolist())) == 20


def test_generic_dataset_batches_equal_the_tensor_dataset_fast_path():
    X, y = _data(23)
    fast = DataLoader(TensorDataset(X, y), batch_size=6, shuffle=True, generator=1)
    slow = DataLoader(ListDataset(X, y), batch_size=6, shuffle=True, generator=1)
    for (fx, fy), (sx, sy) in zip(fast, slow, strict=True):
        assert isinstance(sx, gg.Tensor) and sx.dtype == fx.dtype and sy.dtype == fy.dtype
        np.testing.assert_array_equal(fx.numpy(), sx.numpy())
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())


def test_default_collate_kinds():
    xb = default_collate([1.5, 2.5])
    assert xb.dtype == gg.get_default_dtype()  # Python floats -> the default float dtype
    assert default_collate([1, 2]).dtype == np.int64
    batch = default_collate([{"a": np.ones(2), "b": 0}, {"a": np.zeros(2), "b": 1}])
    assert batch["a"].shape == (2, 2) and batch["a"].dtype == np.float64
    assert batch["b"].numpy().tolist() == [0, 1]
    with pytest.raises(ValueError, match="different numbers of fields"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="cannot batch samples of type str"):
        default_collate(["a", "b"])


def test_collating_tensors_that_require_grad_is_differentiable():
    parts = [gg.tensor(np.full(2, float(i)), requires_grad=True) for i in range(3)]
    batch = default_collate(parts)
    (batch * gg.tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    for i, p in enumerate(parts):
        np.testing.assert_array_equal(p.grad.numpy(), [2 * i, 2 * i + 1])


def test_collate_fn_and_argument_errors():
    X, y = _data(6)
    loader = DataLoader(ListDataset(X, y), batch_size=4, collate_fn=lambda s: len(s))
    assert list(loader) == [4, 2]
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(ListDataset(X, y), batch_size=0)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        DataLoader(ListDataset(X, y), generator="seed")


def test_base_dataset_says_what_to_define():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())


# --- IDX / MNIST -----------------------------------------------------------------------

_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
          np.float32: 0x0D, np.float64: 0x0E}


def _write_idx(path, arr, gz=False):
    """The IDX layout, written independently of the reader under test."""
    arr = np.asarray(arr)
    header = bytes([0, 0, _CODES[arr.dtype.type], arr.ndim])
    header += b"".join(struct.pack(">I", s) for s in arr.shape)
    payload = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(payload)


def _fake_mnist(folder, kind, n, gz, dot=False, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    sep = "." if dot else "-"
    ext = ".gz" if gz else ""
    _write_idx(folder / f"{kind}-images{sep}idx3-ubyte{ext}", images, gz)
    _write_idx(folder / f"{kind}-labels{sep}idx1-ubyte{ext}", labels, gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("kind, prefix", [("train", "train"), ("test", "t10k")])
def test_load_mnist_reads_idx_files(tmp_path, gz, kind, prefix):
    images, labels = _fake_mnist(tmp_path, prefix, 5, gz)
    X, y = load_mnist(tmp_path, kind=kind)
    assert X.shape == (5, 28, 28) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(X, images.astype(np.float32) / 255)
    np.testing.assert_array_equal(y, labels)
    Xr, _ = load_mnist(str(tmp_path), kind=kind, raw=True, flatten=True)
    np.testing.assert_array_equal(Xr, images.reshape(5, 784))


def test_load_mnist_finds_the_dotted_spelling(tmp_path):
    images, _ = _fake_mnist(tmp_path, "train", 3, gz=False, dot=True)
    np.testing.assert_array_equal(load_mnist(tmp_path, raw=True)[0], images)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trips_every_element_type(tmp_path, dtype, gz):
    arr = (np.random.default_rng(1).standard_normal((2, 3, 4)) * 50).astype(dtype)
    path = tmp_path / ("a.idx" + (".gz" if gz else ""))
    _write_idx(path, arr, gz)
    got = read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)
    got[0, 0, 0] = 1  # writable


def test_load_mnist_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*does not download"):
        load_mnist(tmp_path)
    _write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(FileNotFoundError, match="missing train-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match=r"\(2, 28, 28\).*\(3,\)"):
        load_mnist(tmp_path)
    with pytest.raises(ValueError, match="kind must be"):
        load_mnist(tmp_path, kind="validation")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_mnist(tmp_path / "nowhere")


def test_read_idx_rejects_damaged_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"PK\x03\x04rest")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(bad)
    short = tmp_path / "short"
    _write_idx(short, np.arange(10, dtype=np.uint8))
    short.write_bytes(short.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"holds 9 bytes.*shape \(10,\)"):
        read_idx(short)
