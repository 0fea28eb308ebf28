"""Team workload (team leads: their team; admins: any team): contacts per agent and day, AHT, after-hours share,
heavy days and runs of them."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from cx import workload
from cx.db import transaction
from cx.errors import CxError
from ui.filters import filter_bar
from ui.guard import page_context
from ui.i18n import t
from ui.safe import md_escape

ctx = page_context("team")
principal = ctx.principal

requested = principal.team
if principal.role.value == "admin":
    with transaction(ctx.engine) as session:
        options = workload.teams(session, principal)
    if not options:
        st.info(t("team.no_teams"), icon=":material/info:")
        st.stop()
    requested = st.sidebar.selectbox(t("team.pick"), options, key="team_pick")
try:
    with transaction(ctx.engine) as session:
        team = workload.authorize_team(session, principal, requested)
except CxError as exc:
    st.error(str(exc))
    st.stop()

st.title(t("team.title", team=md_escape(team)))
filters = filter_bar(ctx.settings.timezone, key="team_filter_bar")
st.caption(t("team.intro"))
with transaction(ctx.engine) as session:
    days = workload.agent_days(session, principal, team, filters)
summary = workload.workload(days)
if summary.height == 0:
    st.info(t("team.empty"), icon=":material/info:")
    st.stop()

st.dataframe(
    summary,
    hide_index=True,
    width="stretch",
    column_config={
        "agent_id": t("team.col.agent"),
        "active_days": t("team.col.active_days"),
        "contacts": st.column_config.NumberColumn(t("team.col.contacts"), format="%d"),
        "contacts_per_day": st.column_config.NumberColumn(t("team.col.contacts_per_day"), format="%.1f"),
        "aht": st.column_config.NumberColumn(t("team.col.aht"), format="%.0f"),
        "after_hours_share": st.column_config.ProgressColumn(
            t("team.col.after_hours_share"), format="%.1f %%", min_value=0, max_value=100
        ),
        "heavy_days": t("team.col.heavy_days"),
        "longest_heavy_streak": t("team.col.longest_heavy_streak"),
    },
)
agents, day_labels, matrix = workload.contacts_matrix(days)
figure = go.Figure(go.Heatmap(z=matrix, x=day_labels, y=agents, colorscale="Blues"))
figure.update_layout(title=t("team.heatmap"), height=max(260, 28 * len(agents) + 120))
st.plotly_chart(figure, config={"displaylogo": False})
