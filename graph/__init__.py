"""The graph side of provex: model, Neo4j connection and server, schema, writer, lineage."""
