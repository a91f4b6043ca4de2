"""The menu tree, built from the YAML data shipped as `mxone_maintenance.menus` (importlib.resources).

Only the installed package counts, never a source checkout beside it: a packaging mistake (the menus
left out of the wheel) must show here and in tests/unit/test_packaging.py, not be hidden."""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import yaml

MENU_PACKAGE = "mxone_maintenance.menus"
ROOT_MENU = "main"


class MenuDataError(Exception):
    """The menu data is broken (a packaging or editing mistake); str() is one line."""


@dataclass(frozen=True)
class MenuItem:
    label: str
    menu: str | None = None          # opens this submenu
    action: str | None = None        # or runs this action
    available: str | None = None     # name of the check that says why it cannot be used now


@dataclass(frozen=True)
class Menu:
    name: str
    title: str
    items: tuple[MenuItem, ...]


def read_installed(name: str) -> str:
    """The menu from the installed package `mxone_maintenance.menus` (how the product reads it)."""
    try:
        return resources.files(MENU_PACKAGE).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        raise MenuDataError(f"menu {name!r} is not installed ({MENU_PACKAGE}/{name}.yaml)") from None


def parse_menu(name: str, text: str) -> Menu:
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("items"), list) or not data.get("title"):
        raise MenuDataError(f"menu {name}: needs a title and a list of items")
    items = []
    for number, raw in enumerate(data["items"], 1):
        if not isinstance(raw, dict) or not raw.get("label") or ("menu" in raw) == ("action" in raw):
            raise MenuDataError(f"menu {name}: item {number} needs a label and either menu or action")
        unknown = set(raw) - {"label", "menu", "action", "available"}
        if unknown:
            raise MenuDataError(f"menu {name}: item {number} has unknown keys {sorted(unknown)}")
        items.append(MenuItem(str(raw["label"]), raw.get("menu"), raw.get("action"), raw.get("available")))
    return Menu(name, str(data["title"]), tuple(items))


def load_menu(name: str) -> Menu:
    return parse_menu(name, read_installed(name))


def load_tree(root: str = ROOT_MENU) -> dict[str, Menu]:
    """Every menu reachable from ROOT, by name (a missing submenu is an error here, not at a keypress)."""
    tree: dict[str, Menu] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        if name in tree:
            continue
        tree[name] = load_menu(name)
        todo.extend(item.menu for item in tree[name].items if item.menu)
    return tree
