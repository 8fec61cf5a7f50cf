"""Base model for everything on the wire: camelCase keys, unknown keys rejected, values frozen. No I/O."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """A frozen pydantic model with camelCase aliases that rejects unknown keys.

    Python code uses snake_case attribute names; JSON and YAML use camelCase. Both spellings are accepted on
    input (populate_by_name) so tests can build models directly.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        ser_json_inf_nan="constants",
    )


class LenientModel(BaseModel):
    """Like WireModel but keeps unknown keys (for Kubernetes objects whose other fields we pass through)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        frozen=True,
    )
