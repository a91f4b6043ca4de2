"""YAML out: the look of DESIGN §3 (flow style for the small server entries, block style elsewhere)."""
from __future__ import annotations

import yaml


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:
        """Never an anchor or alias: the loader refuses them (an object met twice is written twice)."""
        return True


def _represent_dict(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    flow = set(data) <= {"name", "address", "lim", "role"} and "name" in data
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


_Dumper.add_representer(dict, _represent_dict)


def dump_yaml(data: dict, header: str) -> str:
    return header + yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def number_out(value: float) -> float | int:
    """60.0 is written as 60: the files read as a technician would write them."""
    return int(value) if float(value).is_integer() else value
