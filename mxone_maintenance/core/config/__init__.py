"""The YAML files of the product: system.yaml and cluster.yaml (agent.yaml is the agent's own): schemas,
line-numbered errors, atomic writes. Import the names from here; the modules behind them are:

    loader        YAML with line numbers, FileError
    schema        the checks both files share (FILE:LINE: KEY: problem)
    values        the name rule and IPv4 interface parsing (typed-in values follow them too)
    shown         values in messages: escaped, short
    cluster_file  cluster.yaml          system_file  system.yaml
    dumper        YAML out              atomic       write_atomic
"""
from mxone_maintenance.core.config.atomic import write_atomic
from mxone_maintenance.core.config.cluster_file import (
    cluster_from_data,
    cluster_to_data,
    dump_cluster,
    load_cluster,
    parse_cluster,
)
from mxone_maintenance.core.config.loader import FileError
from mxone_maintenance.core.config.schema import SCHEMA_VERSION
from mxone_maintenance.core.config.system_file import (
    dump_system,
    load_system,
    parse_system,
    server_to_data,
    system_from_data,
    system_to_data,
)
from mxone_maintenance.core.config.shown import one_line, shown
from mxone_maintenance.core.config.values import NAME_RULE, is_name, name_problem, parse_interface, \
    parse_server_interface

__all__ = [
    "FileError", "NAME_RULE", "SCHEMA_VERSION", "cluster_from_data", "cluster_to_data", "dump_cluster",
    "dump_system", "is_name", "load_cluster", "load_system", "name_problem", "one_line", "parse_cluster",
    "parse_interface", "parse_server_interface", "parse_system", "server_to_data", "shown", "system_from_data",
    "system_to_data", "write_atomic",
]
