"""Source adapters: each reads one kind of source and yields plain records (provex.vocab.records)."""
