"""User-facing entry points: the CLI and the Streamlit app."""
