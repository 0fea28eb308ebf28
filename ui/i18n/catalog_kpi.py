"""KPI names and one-line definitions (cx.kpi.KPIS name_key / help_key): key -> (English, 简体中文)."""

STRINGS: dict[str, tuple[str, str]] = {
    "kpi.nps": ("NPS", "NPS 净推荐值"),
    "kpi.nps.help": (
        "% promoters (9–10) − % detractors (0–6) of answered surveys; −100 to 100.",
        "推荐者（9–10 分）占比 − 贬损者（0–6 分）占比，仅计有效作答；范围 −100 至 100。",
    ),
    "kpi.csat": ("CSAT", "CSAT 满意度"),
    "kpi.csat.help": ("Share of 4 or 5 answers on the 1–5 scale.", "1–5 分量表中 4 分和 5 分的占比。"),
    "kpi.ces": ("CES (mean)", "CES 费力度（均值）"),
    "kpi.ces.help": (
        "Mean agreement with “it was easy” on a 7-point scale (higher = easier).",
        "7 分量表上对“办理很轻松”的平均认同度（越高越省力）。",
    ),
    "kpi.ces_agree_rate": ("CES (% agree)", "CES 认同率"),
    "kpi.ces_agree_rate.help": ("Share of 5–7 answers on the 7-point scale.", "7 分量表中 5–7 分的占比。"),
    "kpi.fcr": ("First-contact resolution", "首次解决率"),
    "kpi.fcr.help": (
        "Cases resolved on the first contact with no repeat contact within 7 days.",
        "首次接触即解决且 7 天内无重复来电/来询的案件占比。",
    ),
    "kpi.frt": ("First response time", "首次响应时长"),
    "kpi.frt.help": ("Mean time to the first agent reply.", "客户发起后到坐席首次回复的平均时长。"),
    "kpi.aht": ("Average handle time", "平均处理时长"),
    "kpi.aht.help": (
        "Talk + hold + after-contact work per handled contact.",
        "每次受理的通话 + 保持 + 事后处理的平均时长。",
    ),
    "kpi.asa": ("Average speed of answer", "平均应答速度"),
    "kpi.asa.help": ("Mean queue wait of answered contacts.", "已接通来电/会话的平均排队等待时长。"),
    "kpi.abandonment": ("Abandonment rate", "放弃率"),
    "kpi.abandonment.help": ("Abandoned ÷ offered queued contacts.", "放弃数 ÷ 进入排队的呼入量。"),
    "kpi.abandonment_adjusted": ("Abandonment (adjusted)", "放弃率（剔除短放弃）"),
    "kpi.abandonment_adjusted.help": (
        "Abandonment without abandons under 5 s (in both counts).",
        "分子分母都剔除 5 秒内放弃的呼入后的放弃率。",
    ),
    "kpi.service_level": ("Service level", "服务水平"),
    "kpi.service_level.help": (
        "Share of offered queued contacts answered within 20 s.",
        "进入排队的呼入中 20 秒内接通的占比。",
    ),
    "kpi.digital_share": ("Digital channel share", "数字渠道占比"),
    "kpi.digital_share.help": (
        "Share of customer contacts on digital channels (chat, e-mail, social, WeChat, app, web, SMS).",
        "客户主动接触中数字渠道（在线、邮件、社媒、微信、App、官网、短信）的占比。",
    ),
    "kpi.complaint_rate": ("Complaint rate", "投诉率"),
    "kpi.complaint_rate.help": ("Complaints ÷ customer contacts.", "投诉数 ÷ 客户主动接触数。"),
    "kpi.repeat_rate": ("Repeat-contact rate", "重复来电率"),
    "kpi.repeat_rate.help": (
        "Contacts repeating one on the same case or reason within 7 days.",
        "7 天内就同一案件或同一问题再次联系的占比。",
    ),
    "kpi.backlog": ("Open cases (backlog)", "积压案件"),
    "kpi.backlog.help": ("Cases still open at the end of the period.", "期末仍未解决的案件数。"),
    "kpi.sla_breach_rate": ("SLA breach rate", "SLA 超时率"),
    "kpi.sla_breach_rate.help": (
        "Cases not resolved within 72 h, of those that could be judged.",
        "可判定的案件中未在 72 小时内解决的占比。",
    ),
    "kpi.retention": ("Customer retention", "客户留存率"),
    "kpi.retention.help": (
        "(Customers at end − new customers) ÷ customers at start; active = in contact within 180 days.",
        "（期末客户数 − 新增客户数）÷ 期初客户数；180 天内有接触视为在册客户。",
    ),
    "kpi.contact_volume": ("Customer contacts", "客户接触量"),
    "kpi.contact_volume.help": (
        "Contacts customers started (no visits, orders or surveys).",
        "客户主动发起的接触（不含浏览、下单、问卷）。",
    ),
    "kpi.complaint_volume": ("Complaints", "投诉量"),
    "kpi.complaint_volume.help": ("Interactions of kind complaint.", "类型为投诉的互动数。"),
}
