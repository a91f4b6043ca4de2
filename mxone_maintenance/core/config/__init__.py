"""The YAML files of the product: system.yaml, cluster.yaml, agent.yaml; schemas, line-numbered errors,
atomic writes."""
