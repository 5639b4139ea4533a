"""Streamlit UI: renderer, widgets and helpers. The only package that imports Streamlit."""
