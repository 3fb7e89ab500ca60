"""Search-space primitives with Ray Tune's names: ``uniform``, ``loguniform``, ``randint``,
``choice``, ``grid_search``, ``sample_from`` and the quantized and normal variants.

A primitive returns a :class:`Domain` (``grid_search`` returns Ray's ``{"grid_search": [...]}``
marker). Sampling is a pure function of the domain and an injected
``numpy.random.Generator``; nothing touches global random state. Bounds are checked when the
primitive is called, with a message that names the primitive and the rule.

Ranges follow Ray: ``uniform``/``loguniform``/``randint``/``lograndint`` exclude ``upper``;
quantizing (``q...``) makes ``upper`` inclusive. Log domains need ``lower > 0``.
"""

from __future__ import annotations

import abc
import enum
import inspect
import math
from collections.abc import Callable, Sequence

import numpy as np

GRID_KEY = "grid_search"


class Sampler(enum.Enum):
    UNIFORM = "uniform"
    LOG_UNIFORM = "loguniform"
    NORMAL = "normal"


class Domain(abc.ABC):
    """A set of values to sample a hyperparameter from."""

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator, spec: object = None) -> object:
        """One value. ``spec`` (the partly resolved config) matters only to ``sample_from``."""


def _number(name: str, what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{what}: {name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what}: {name} must be finite, got {value!r}")
    return value


def _check_range(what: str, lower: float, upper: float, log: bool, inclusive: bool) -> None:
    _number("lower", what, lower)
    _number("upper", what, upper)
    if lower > upper or (lower == upper and not inclusive):
        rule = "lower <= upper" if inclusive else "lower < upper"
        raise ValueError(f"{what}: needs {rule}, got lower={lower!r}, upper={upper!r}")
    if log and lower <= 0:
        raise ValueError(
            f"{what}: a log scale needs lower > 0, got lower={lower!r} "
            f"(e.g. {what.split('(')[0]}(1e-4, 1e-1))"
        )


def _check_q(what: str, q: float) -> None:
    _number("q", what, q)
    if q <= 0:
        raise ValueError(f"{what}: q must be > 0, got {q!r}")


def _quantize(value: float, q: float, lower: float, upper: float) -> float:
    """Round to the nearest multiple of ``q`` that lies within ``[lower, upper]``."""
    rounded = round(value / q) * q
    if rounded < lower:
        rounded += q
    if rounded > upper:
        rounded -= q
    return rounded


class Float(Domain):
    """Floats from ``sampler`` over ``[lower, upper)`` (``q`` set: rounded, upper included)."""

    def __init__(
        self,
        lower: float | None,
        upper: float | None,
        sampler: Sampler = Sampler.UNIFORM,
        q: float | None = None,
        mean: float = 0.0,
        sd: float = 1.0,
    ) -> None:
        self.lower, self.upper, self.sampler, self.q = lower, upper, sampler, q
        self.mean, self.sd = mean, sd

    def sample(self, rng: np.random.Generator, spec: object = None) -> float:
        if self.sampler is Sampler.NORMAL:
            value = float(rng.normal(self.mean, self.sd))
            return value if self.q is None else round(value / self.q) * self.q
        if self.sampler is Sampler.LOG_UNIFORM:
            low, high = math.log(self.lower), math.log(self.upper)
            value = math.exp(rng.uniform(low, high))
        else:
            value = float(rng.uniform(self.lower, self.upper))
        if self.q is not None:
            value = _quantize(value, self.q, self.lower, self.upper)
        return float(min(value, self.upper) if self.q is not None else value)

    def __repr__(self) -> str:
        if self.sampler is Sampler.NORMAL:
            return f"Float(normal mean={self.mean}, sd={self.sd}, q={self.q})"
        return f"Float({self.sampler.value} [{self.lower}, {self.upper}), q={self.q})"


class Integer(Domain):
    """Integers over ``[lower, upper)`` (``q`` set: multiples of ``q``, upper included)."""

    def __init__(
        self, lower: int, upper: int, sampler: Sampler = Sampler.UNIFORM, q: int | None = None
    ) -> None:
        self.lower, self.upper, self.sampler, self.q = lower, upper, sampler, q

    def sample(self, rng: np.random.Generator, spec: object = None) -> int:
        if self.sampler is Sampler.LOG_UNIFORM:
            high = self.upper + (1 if self.q is not None else 0)
            value = math.exp(rng.uniform(math.log(self.lower), math.log(high)))
            value = min(int(value), high - 1)
        else:
            high = self.upper + (1 if self.q is not None else 0)
            value = int(rng.integers(self.lower, high))
        if self.q is not None:
            value = int(_quantize(value, self.q, self.lower, self.upper))
        return value

    def __repr__(self) -> str:
        return f"Integer({self.sampler.value} [{self.lower}, {self.upper}), q={self.q})"


class Categorical(Domain):
    """One of ``categories``, uniformly."""

    def __init__(self, categories: Sequence[object]) -> None:
        self.categories = list(categories)

    def sample(self, rng: np.random.Generator, spec: object = None) -> object:
        return self.categories[int(rng.integers(len(self.categories)))]

    def __repr__(self) -> str:
        return f"Categorical({self.categories!r})"


class Function(Domain):
    """``sample_from(fn)``: ``fn(spec)`` where ``spec.config`` is the config resolved so far
    (a function that takes no argument is called without it)."""

    def __init__(self, fn: Callable[..., object]) -> None:
        self.fn = fn
        try:
            params = inspect.signature(fn).parameters.values()
            self.takes_spec = any(
                p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
                for p in params
            )
        except (TypeError, ValueError):  # builtins without a signature
            self.takes_spec = True

    def sample(self, rng: np.random.Generator, spec: object = None) -> object:
        return self.fn(spec) if self.takes_spec else self.fn()

    def __repr__(self) -> str:
        return f"Function({getattr(self.fn, '__qualname__', self.fn)!r})"


def uniform(lower: float, upper: float) -> Float:
    """A float uniformly in ``[lower, upper)``."""
    _check_range("uniform", lower, upper, log=False, inclusive=False)
    return Float(lower, upper)


def quniform(lower: float, upper: float, q: float) -> Float:
    """A float uniformly in ``[lower, upper]``, rounded to a multiple of ``q``."""
    _check_range("quniform", lower, upper, log=False, inclusive=True)
    _check_q("quniform", q)
    return Float(lower, upper, q=q)


def loguniform(lower: float, upper: float, base: float = 10) -> Float:
    """A float in ``[lower, upper)`` whose logarithm is uniform (``base`` changes nothing)."""
    _check_range("loguniform", lower, upper, log=True, inclusive=False)
    return Float(lower, upper, Sampler.LOG_UNIFORM)


def qloguniform(lower: float, upper: float, q: float, base: float = 10) -> Float:
    """A log-uniform float in ``[lower, upper]``, rounded to a multiple of ``q``."""
    _check_range("qloguniform", lower, upper, log=True, inclusive=True)
    _check_q("qloguniform", q)
    return Float(lower, upper, Sampler.LOG_UNIFORM, q=q)


def randn(mean: float = 0.0, sd: float = 1.0) -> Float:
    """A float from the normal distribution ``N(mean, sd**2)``."""
    _number("mean", "randn", mean)
    if _number("sd", "randn", sd) <= 0:
        raise ValueError(f"randn: sd must be > 0, got {sd!r}")
    return Float(None, None, Sampler.NORMAL, mean=mean, sd=sd)


def qrandn(mean: float, sd: float, q: float) -> Float:
    """A normal float rounded to a multiple of ``q``."""
    domain = randn(mean, sd)
    _check_q("qrandn", q)
    domain.q = q
    return domain


def _check_ints(what: str, lower: object, upper: object) -> None:
    for name, value in (("lower", lower), ("upper", upper)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(f"{what}: {name} must be an int, got {type(value).__name__} {value!r}")


def randint(lower: int, upper: int) -> Integer:
    """An int uniformly in ``[lower, upper)``."""
    _check_ints("randint", lower, upper)
    _check_range("randint", lower, upper, log=False, inclusive=False)
    return Integer(int(lower), int(upper))


def qrandint(lower: int, upper: int, q: int = 1) -> Integer:
    """An int in ``[lower, upper]``, a multiple of ``q``."""
    _check_ints("qrandint", lower, upper)
    _check_range("qrandint", lower, upper, log=False, inclusive=True)
    _check_q("qrandint", q)
    return Integer(int(lower), int(upper), q=q)


def lograndint(lower: int, upper: int, base: float = 10) -> Integer:
    """An int in ``[lower, upper)`` whose logarithm is uniform."""
    _check_ints("lograndint", lower, upper)
    _check_range("lograndint", lower, upper, log=True, inclusive=False)
    return Integer(int(lower), int(upper), Sampler.LOG_UNIFORM)


def qlograndint(lower: int, upper: int, q: int, base: float = 10) -> Integer:
    """A log-uniform int in ``[lower, upper]``, a multiple of ``q``."""
    _check_ints("qlograndint", lower, upper)
    _check_range("qlograndint", lower, upper, log=True, inclusive=True)
    _check_q("qlograndint", q)
    return Integer(int(lower), int(upper), Sampler.LOG_UNIFORM, q=q)


def choice(categories: Sequence[object]) -> Categorical:
    """One of ``categories`` (a non-empty list), uniformly."""
    if isinstance(categories, str | bytes | dict) or not isinstance(categories, Sequence):
        raise TypeError(f"choice: categories must be a list, got {type(categories).__name__}")
    if not categories:
        raise ValueError("choice: categories must not be empty")
    return Categorical(categories)


def grid_search(values: Sequence[object]) -> dict[str, list]:
    """Try every one of ``values``: each is crossed with the other grid axes and repeated
    ``num_samples`` times (Ray's ``{"grid_search": [...]}``)."""
    if isinstance(values, str | bytes | dict) or not isinstance(values, Sequence):
        raise TypeError(f"grid_search: values must be a list, got {type(values).__name__}")
    if not values:
        raise ValueError("grid_search: values must not be empty")
    return {GRID_KEY: list(values)}


def sample_from(func: Callable[[object], object]) -> Function:
    """A value computed by ``func(spec)``; ``spec.config`` holds the other resolved values
    (``spec.config.lr`` or ``spec["config"]["lr"]``)."""
    if not callable(func):
        raise TypeError(f"sample_from: needs a callable, got {type(func).__name__}")
    return Function(func)


def is_grid(value: object) -> bool:
    """Whether ``value`` is a ``grid_search`` marker."""
    return type(value) is dict and len(value) == 1 and GRID_KEY in value
