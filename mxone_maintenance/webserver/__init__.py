"""webserver_config, the SNM Configuration Tool: PM/SNM redundancy between the Master server (LIM 1's
server) and the cluster's standby (DESIGN §9).

  shared/    what the tool and the servers share: the pair's settings file, the SCRAM verifier
  node/      runs ON a server (over SSH, and from keepalived's notify): PostgreSQL, keepalived, units;
             standard library and core only (no SSH library, no terminal)
  tool/      the program a technician runs: plan, apply over SSH, status, command line, menus
"""
