"""Ray Tune's ``ray.tune.search.basic_variant`` path for
:class:`caliper.searchers.BasicVariantGenerator`."""

from caliper.searchers.basic_variant import BasicVariantGenerator

__all__ = ["BasicVariantGenerator"]
