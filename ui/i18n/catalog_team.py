"""Strings of the team workload page: key -> (English, 简体中文)."""

STRINGS: dict[str, tuple[str, str]] = {
    "team.title": ("Team workload · {team}", "团队负荷 · {team}"),
    "team.pick": ("Team", "团队"),
    "team.no_teams": (
        "No team has handled contacts yet. Load data on the Data sources page first.",
        "还没有团队处理过客户接触。请先在“数据源”页导入数据。",
    ),
    "team.empty": (
        "No contacts handled by this team in this period — widen the date range.",
        "该团队在此时间段内没有处理记录——请扩大日期范围。",
    ),
    "team.intro": (
        "A heavy day: more handled contacts than 1.5 × the team's median agent-day. Long runs of heavy days and a "
        "high after-hours share are early burnout signals.",
        "高负荷日：处理量超过团队坐席日中位数的 1.5 倍。连续多日高负荷、非工作时间占比高是倦怠的早期信号。",
    ),
    "team.col.agent": ("Agent", "坐席"),
    "team.col.active_days": ("Active days", "出勤天数"),
    "team.col.contacts": ("Contacts", "接触量"),
    "team.col.contacts_per_day": ("Contacts per day", "日均接触"),
    "team.col.aht": ("AHT (s)", "平均处理时长（秒）"),
    "team.col.after_hours_share": ("After-hours share", "非工作时间占比"),
    "team.col.heavy_days": ("Heavy days", "高负荷天数"),
    "team.col.longest_heavy_streak": ("Longest heavy run (days)", "最长连续高负荷（天）"),
    "team.heatmap": ("Contacts per agent per day", "每位坐席每日接触量"),
}
