"""The shared vocabulary below both the adapters and the graph layer: records, the graph model (labels, uids, edge kinds) and the error hierarchy."""
