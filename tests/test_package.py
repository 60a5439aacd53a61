"""bnlib's lazy top-level names all resolve to real objects of the modules they name."""

import importlib

import pytest

import bnlib


@pytest.mark.parametrize("name", bnlib.__all__)
def test_every_exported_name_resolves(name):
    module = importlib.import_module(f"bnlib.{bnlib._EXPORTS[name]}")
    assert getattr(bnlib, name) is getattr(module, name)


def test_unknown_name_is_a_clear_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'batchnorm_fwd'"):
        bnlib.batchnorm_fwd  # noqa: B018
