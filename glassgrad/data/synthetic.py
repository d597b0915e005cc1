"""Generated 2-D datasets for classification lessons: XOR, two moons, circles, spirals.

Each function returns ``(X, y)`` as NumPy arrays: ``X`` of shape ``(n, 2)`` and dtype
float64 (the points), ``y`` of shape ``(n,)`` and dtype int64 (the class of each point,
``0 .. n_classes-1``), in shuffled order so that any slice holds every class.
:func:`xor` is the exception: it returns the seed lesson's four points with float targets
of shape ``(4, 1)``, ready for a sigmoid output and ``BCELoss``.

Randomness: ``seed=None`` draws from glassgrad's generator (so ``gg.manual_seed(n)``
fixes it); an int seed uses a private ``np.random.default_rng(seed)``, so the data are the
same whatever else the program draws.
"""

from __future__ import annotations

import numpy as np

from .. import creation

__all__ = ["xor", "two_moons", "circles", "spirals"]


def _rng(seed) -> np.random.Generator:
    if seed is None:
        return creation.default_generator()
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _check_n(fn: str, n, minimum: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{fn}: n must be an int >= {minimum} (the number of points), got {n!r}")
    return int(n)


def _shuffled(rng, X, y):
    order = rng.permutation(len(y))
    return X[order], y[order]


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four corners of the unit square labelled by exclusive or.

    Returns
    -------
    X : ndarray, shape (4, 2), float64
        ``[[0, 0], [0, 1], [1, 0], [1, 1]]``.
    y : ndarray, shape (4, 1), float64
        ``[[0], [1], [1], [0]]``: ``x0 XOR x1``, as a column of targets for a network
        with one sigmoid output (the seed lesson's layout).

    No straight line separates the 1s from the 0s, so a single linear unit cannot learn
    it; one hidden layer can.

    Examples
    --------
    >>> X, y = xor()
    >>> X.shape, y.ravel().tolist()
    ((4, 2), [0.0, 1.0, 1.0, 0.0])
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.logical_xor(X[:, 0], X[:, 1]).astype(np.float64)[:, None]
    return X, y


def two_moons(n: int = 200, noise: float = 0.1, seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles.

    Class 0 lies on the upper half of the unit circle, ``(cos t, sin t)`` for ``t`` in
    ``[0, pi]``; class 1 on a lower half circle shifted right and up,
    ``(1 - cos t, 0.5 - sin t)``. Gaussian noise of standard deviation ``noise`` is added
    to both coordinates.

    Parameters
    ----------
    n : int
        Number of points: ``n // 2`` in class 0 and the rest in class 1.
    noise : float
        Standard deviation of the noise.
    seed : int, numpy.random.Generator or None
        See the module docstring.

    Returns
    -------
    X : ndarray, shape (n, 2), float64
    y : ndarray, shape (n,), int64 (0 or 1)

    Examples
    --------
    >>> X, y = two_moons(100, noise=0.05, seed=0)
    >>> X.shape, y.dtype, int(y.sum())
    ((100, 2), dtype('int64'), 50)
    """
    n = _check_n("two_moons", n, 2)
    rng = _rng(seed)
    n0 = n // 2
    t0 = np.linspace(0.0, np.pi, n0)
    t1 = np.linspace(0.0, np.pi, n - n0)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n - n0, np.int64)])
    return _shuffled(rng, X, y)


def circles(
    n: int = 200, noise: float = 0.05, factor: float = 0.5, seed=None
) -> tuple[np.ndarray, np.ndarray]:
    """A small circle inside a large one.

    Class 0 lies on the unit circle, class 1 on a concentric circle of radius ``factor``,
    each at evenly spaced angles, plus Gaussian noise of standard deviation ``noise``.

    Parameters
    ----------
    n : int
        Number of points: ``n // 2`` on the outer circle, the rest on the inner one.
    noise : float
        Standard deviation of the noise.
    factor : float
        Radius of the inner circle, strictly between 0 and 1.
    seed : int, numpy.random.Generator or None
        See the module docstring.

    Returns
    -------
    X : ndarray, shape (n, 2), float64
    y : ndarray, shape (n,), int64 (0 outer, 1 inner)

    Examples
    --------
    >>> X, y = circles(10, noise=0.0, seed=0)
    >>> bool(np.allclose(np.hypot(*X[y == 1].T), 0.5))
    True
    """
    n = _check_n("circles", n, 2)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"circles: factor (the inner radius) must be in (0, 1), got {factor}")
    rng = _rng(seed)
    n0 = n // 2
    # endpoint=False: angle 2*pi would repeat the point at angle 0
    t0 = np.linspace(0.0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0.0, 2 * np.pi, n - n0, endpoint=False)
    outer = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    inner = factor * np.stack([np.cos(t1), np.sin(t1)], axis=1)
    X = np.concatenate([outer, inner]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n0, np.int64), np.ones(n - n0, np.int64)])
    return _shuffled(rng, X, y)


def spirals(
    n: int = 300, n_classes: int = 3, noise: float = 0.2, turns: float = 0.75, seed=None
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class, winding out from the origin.

    Point ``j`` of arm ``k`` sits at radius ``r = j / (m - 1)`` (``m`` points in the arm)
    and angle ``theta = 2*pi*(k / n_classes + turns * r) + noise * eps`` with
    ``eps ~ N(0, 1)``: ``X = r * (sin theta, cos theta)``. The arms start evenly rotated
    and each winds ``turns`` times around; the angular noise blurs their borders, more so
    near the centre where the arms meet. No linear model separates them.

    Parameters
    ----------
    n : int
        Total number of points, shared as evenly as possible between the arms.
    n_classes : int
        Number of arms (classes), at least 2.
    noise : float
        Standard deviation of the angle noise, in radians.
    turns : float
        How many full turns each arm makes.
    seed : int, numpy.random.Generator or None
        See the module docstring.

    Returns
    -------
    X : ndarray, shape (n, 2), float64, inside the unit disc (up to noise-free radius 1)
    y : ndarray, shape (n,), int64 in ``0 .. n_classes-1``

    Examples
    --------
    >>> X, y = spirals(300, n_classes=3, seed=0)
    >>> X.shape, np.bincount(y).tolist()
    ((300, 2), [100, 100, 100])
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
            or n_classes < 2:
        raise ValueError(f"spirals: n_classes must be an int >= 2, got {n_classes!r}")
    n = _check_n("spirals", n, 2 * n_classes)
    rng = _rng(seed)
    sizes = [n // n_classes + (k < n % n_classes) for k in range(n_classes)]
    points, labels = [], []
    for k, m in enumerate(sizes):
        r = np.linspace(0.0, 1.0, m)
        theta = 2 * np.pi * (k / n_classes + turns * r) + noise * rng.standard_normal(m)
        points.append(r[:, None] * np.stack([np.sin(theta), np.cos(theta)], axis=1))
        labels.append(np.full(m, k, np.int64))
    return _shuffled(rng, np.concatenate(points), np.concatenate(labels))
