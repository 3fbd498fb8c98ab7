"""The public surface: ``labkit.__all__``, each name documented (numpydoc) with an example."""

from __future__ import annotations

import doctest
import inspect

import pytest

import labkit

DOCUMENTED = [n for n in labkit.__all__
              if not (inspect.isclass(getattr(labkit, n)) and issubclass(getattr(labkit, n), Exception))]


def test_every_public_name_exists():
    assert sorted(labkit.__all__) == sorted(set(labkit.__all__))
    for name in labkit.__all__:
        assert hasattr(labkit, name), name


@pytest.mark.parametrize("name", DOCUMENTED)
def test_public_names_have_a_numpydoc_example(name):
    obj = getattr(labkit, name)
    doc = inspect.getdoc(obj if not isinstance(obj, labkit.checks._Expect) else type(obj)) or ""
    assert doc.splitlines()[0].strip(), f"{name} has no summary line"
    assert "\nExamples\n--------\n>>> " in doc, f"{name} has no numpydoc Examples section"


@pytest.mark.parametrize("name", [n for n in labkit.__all__ if issubclass(type(getattr(labkit, n)), type)
                                  and issubclass(getattr(labkit, n), Exception)])
def test_errors_say_what_they_mean(name):
    assert inspect.getdoc(getattr(labkit, name))


def test_the_offline_examples_run():
    """Examples not marked +SKIP need no cluster: they must hold."""
    import labkit.checks
    import labkit.client
    import labkit.kubectl_columns
    import labkit.manifests
    import labkit.states
    import labkit.wait

    for module in (labkit.checks, labkit.client, labkit.kubectl_columns, labkit.manifests, labkit.states,
                   labkit.wait):
        result = doctest.testmod(module, extraglobs={"expect": labkit.expect, "any_of": labkit.any_of})
        assert result.failed == 0, module.__name__
