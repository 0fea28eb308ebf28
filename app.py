"""Entry point: settings, sign-in, then the navigation of the pages the signed-in role may use."""

from __future__ import annotations

import streamlit as st

from ui import shell
from ui.i18n import t
from ui.navigation import PAGES_DIR, build_navigation

st.set_page_config(page_title="CX Journey", page_icon=":material/route:", layout="wide")

context = shell.start()
if context.principal is None:
    page = st.navigation(
        [st.Page(str(PAGES_DIR / "sign_in.py"), title=t("nav.sign_in"), default=True)], position="hidden"
    )
else:
    page = st.navigation(build_navigation(context.principal))
    shell.sidebar(context)
page.run()
