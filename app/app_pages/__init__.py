"""The app\x27s pages, run by Streamlit by path (st.navigation)."""
