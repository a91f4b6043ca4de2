"""The menu tree is data: it loads from the installed package, and every name in it resolves."""
from __future__ import annotations

from importlib import resources

import pytest

from mxone_maintenance.utility.ui.actions import ACTIONS, EXIT
from mxone_maintenance.utility.ui.availability import CHECKS
from mxone_maintenance.utility.ui.menu_tree import MENU_PACKAGE, MenuDataError, load_tree, parse_menu, read_installed

MENUS = ("main", "cluster_handling", "servers", "standby")


def test_menus_load_from_the_installed_package():
    """importlib.resources, as the installed product reads them. Needs setup.cfg to list the package
    mxone_maintenance.menus (find: does not pick up a package_dir mapping) and a fresh `pip install -e .`."""
    for name in MENUS:
        text = resources.files(MENU_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
        assert "items:" in text
        assert read_installed(name) == text


def test_the_tree_has_every_menu_and_every_name_resolves():
    tree = load_tree()
    assert set(tree) == set(MENUS)
    for menu in tree.values():
        for item in menu.items:
            assert item.menu in tree if item.menu else (item.action in ACTIONS or item.action == EXIT)
            assert item.available is None or item.available in CHECKS


def test_main_menu_data():
    assert [i.label for i in load_tree()["main"].items] == [
        "Server in system", "Standby server in system", "Cluster handling", "Pause cluster (maintenance mode)",
        "Resume cluster", "Cluster history", "Exit"]


def test_every_action_is_used_by_some_menu():
    used = {item.action for menu in load_tree().values() for item in menu.items}
    assert set(ACTIONS) <= used


@pytest.mark.parametrize("text", [
    "title: x\nitems: [{label: a}]",
    "title: x\nitems: [{label: a, menu: b, action: c}]",
    "items: []",
    "title: x\nitems: [{label: a, action: b, colour: red}]",
])
def test_broken_menu_data_is_one_line_error(text):
    with pytest.raises(MenuDataError) as caught:
        parse_menu("m", text)
    assert "\n" not in str(caught.value)
