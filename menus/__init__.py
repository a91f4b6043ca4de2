"""The menu tree as data (installed as `mxone_maintenance.menus`); read with importlib.resources."""
