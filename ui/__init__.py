"""Shared Streamlit widgets and helpers: shell, guards, filter bar, tiles, charts, formatting, i18n."""
