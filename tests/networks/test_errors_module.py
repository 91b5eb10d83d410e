"""The public errors module and its backward-compatible private alias."""

from __future__ import annotations

import networks
import networks._errors as old
import networks.errors as new


def test_old_private_module_reexports_the_same_classes():
    assert old.__all__ == new.__all__
    for name in new.__all__:
        assert getattr(old, name) is getattr(new, name)
        assert getattr(networks, name) is getattr(new, name)
    assert issubclass(new.ConfigError, new.EvplanError)
