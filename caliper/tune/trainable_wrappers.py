"""What a trial asks for, and large objects passed to every trial once: Ray Tune's
``PlacementGroupFactory``, ``tune.with_resources`` and ``tune.with_parameters``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence

from caliper.core.placement import Strategy
from caliper.core.placement_groups import parse_bundles

RESOURCES_ATTR = "_caliper_resources"
_KEYS = {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}


class PlacementGroupFactory:
    """The resources of one trial as placement-group bundles: the first bundle is the trial
    itself, the others are for the workers it starts (e.g. a distributed-training trial).

    Args:
        bundles: a non-empty list of dicts such as ``[{"CPU": 1}, {"CPU": 2, "GPU": 1}]``.
        strategy: PACK, SPREAD, STRICT_PACK or STRICT_SPREAD.
    """

    def __init__(self, bundles: Sequence[Mapping[str, float]], strategy: str = "PACK") -> None:
        parsed = parse_bundles(bundles, allow_empty=True)  # the head bundle may be empty
        if all(r.is_empty for r in parsed):
            raise ValueError("bundles ask for nothing at all; give at least one resource")
        self.requests = parsed
        self.bundles = [r.as_dict() for r in parsed]
        self.strategy = Strategy.parse(strategy).value
        total: dict[str, float] = {}
        for bundle in self.bundles:
            for key, amount in bundle.items():
                total[key] = round(total.get(key, 0.0) + amount, 4)
        self._required = total

    @property
    def head_bundle(self) -> dict[str, float]:
        """What the trial's own process holds."""
        return self.bundles[0]

    @property
    def required_resources(self) -> dict[str, float]:
        """The sum over all bundles."""
        return dict(self._required)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PlacementGroupFactory)
            and other.bundles == self.bundles
            and other.strategy == self.strategy
        )

    def __hash__(self) -> int:
        return hash((tuple(tuple(sorted(b.items())) for b in self.bundles), self.strategy))

    def __repr__(self) -> str:
        return f"PlacementGroupFactory({self.bundles}, strategy={self.strategy!r})"


def as_placement_group_factory(resources: object) -> PlacementGroupFactory:
    """A trial's resources in any of Ray's forms: a ``PlacementGroupFactory`` or a dict with
    ``cpu``/``gpu``/``memory`` (either case) and custom resources."""
    if isinstance(resources, PlacementGroupFactory):
        return resources
    if isinstance(resources, Mapping):
        bundle: dict[str, float] = {}
        for key, amount in resources.items():
            if not isinstance(key, str):
                raise TypeError(f"resource names must be str, got {key!r}")
            name = _KEYS.get(key.lower(), key)
            bundle[name] = bundle.get(name, 0) + amount
        if "CPU" not in bundle and not any(bundle.values()):
            bundle["CPU"] = 1
        return PlacementGroupFactory([bundle])
    raise TypeError(
        "resources must be a dict such as {'cpu': 1, 'gpu': 0.5}, a PlacementGroupFactory or "
        f"a function of the config returning one, got {type(resources).__name__}"
    )


def with_resources(trainable: object, resources: object) -> object:
    """``trainable`` marked to run each trial with ``resources``: a dict
    (``{"cpu": 2, "gpu": 0.5, "memory": 2**30, "custom": 1}``), a
    ``PlacementGroupFactory``, or a function ``config -> dict | PlacementGroupFactory``."""
    if not callable(resources):
        as_placement_group_factory(resources)  # bad input fails here, before any trial
    if isinstance(trainable, type):
        marked = type(trainable.__name__, (trainable,), {RESOURCES_ATTR: resources})
        marked.__qualname__ = trainable.__qualname__
        marked.__module__ = trainable.__module__
        return marked

    @functools.wraps(trainable)
    def marked_fn(*args, **kwargs):
        return trainable(*args, **kwargs)

    setattr(marked_fn, RESOURCES_ATTR, resources)
    return marked_fn


def trial_resources(trainable: object, config: Mapping) -> PlacementGroupFactory:
    """The resources one trial of ``trainable`` with ``config`` asks for (1 CPU if unmarked)."""
    return resources_by_config(trainable)(config)


def resources_by_config(trainable: object) -> Callable[[Mapping], PlacementGroupFactory]:
    """What :func:`trial_resources` gives for each config of ``trainable``, as a function;
    worked out once when the resources do not depend on the config (the usual case)."""
    resources = getattr(trainable, RESOURCES_ATTR, None)
    if callable(resources) and not isinstance(resources, PlacementGroupFactory):
        return lambda config: as_placement_group_factory(resources(config))
    fixed = (
        PlacementGroupFactory([{"CPU": 1}])
        if resources is None
        else as_placement_group_factory(resources)
    )
    return lambda config: fixed


def with_parameters(trainable: Callable, **parameters: object) -> Callable:
    """``trainable`` called with ``parameters`` as keyword arguments in every trial. Each
    object is stored once (``caliper.put``) and fetched by the trials that run, instead of
    being copied into every trial's config or params file."""
    from caliper.core.api import get, put

    if not parameters:
        raise ValueError("with_parameters needs at least one keyword argument to pass on")
    refs = {name: put(value) for name, value in parameters.items()}
    if isinstance(trainable, type):

        def setup(self, config, *args, **kwargs):
            values = {name: get(ref) for name, ref in refs.items()}
            return trainable.setup(self, config, **values)

        wrapped = type(trainable.__name__, (trainable,), {"setup": setup})
        wrapped.__qualname__ = trainable.__qualname__
        return wrapped

    @functools.wraps(trainable)
    def with_objects(config, *args, **kwargs):
        values = {name: get(ref) for name, ref in refs.items()}
        return trainable(config, *args, **values, **kwargs)

    try:  # what is left to pass: the config (the objects are bound here)
        signature = inspect.signature(trainable)
        with_objects.__signature__ = signature.replace(
            parameters=[p for name, p in signature.parameters.items() if name not in refs]
        )
    except (TypeError, ValueError):
        pass
    return with_objects
