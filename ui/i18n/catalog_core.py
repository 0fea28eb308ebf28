"""Strings of the app shell, sign-in, navigation, roles and departments: key -> (English, 简体中文)."""

STRINGS: dict[str, tuple[str, str]] = {
    "app.name": ("CX Journey", "客户旅程体验"),
    "app.tagline": (
        "One customer across every channel: journeys, KPI boards, the voice of the customer and alerts.",
        "一个客户，全渠道一张画像：客户旅程、KPI 看板、客户之声与预警。",
    ),
    # navigation
    "nav.section.overview": ("Overview", "概览"),
    "nav.section.service": ("Service", "服务"),
    "nav.section.admin": ("Administration", "管理"),
    "nav.home": ("Home", "首页"),
    "nav.board": ("KPI board", "KPI 看板"),
    "nav.journey": ("Journey map", "旅程地图"),
    "nav.voc": ("Voice of the customer", "客户之声"),
    "nav.customers": ("Find a customer", "客户查询"),
    "nav.alerts": ("Alerts", "预警"),
    "nav.team": ("Team workload", "团队负荷"),
    "nav.rules": ("Warning rules", "预警规则"),
    "nav.board_settings": ("Board settings", "看板配置"),
    "nav.data": ("Data sources", "数据源"),
    "nav.users": ("Users & roles", "用户与角色"),
    "nav.audit": ("Audit log", "审计日志"),
    "nav.sign_in": ("Sign in", "登录"),
    # roles and departments
    "role.admin": ("Admin", "管理员"),
    "role.department_head": ("Department head", "部门负责人"),
    "role.cx_owner": ("CX owner", "体验负责人"),
    "role.team_lead": ("Team lead", "组长"),
    "role.agent": ("Agent", "坐席"),
    "dept.service": ("Service", "客服部"),
    "dept.product": ("Product", "产品部"),
    "dept.marketing": ("Marketing", "市场部"),
    "dept.delivery": ("Delivery", "交付部"),
    "dept.it": ("IT", "IT 部"),
    "dept.executive": ("Executive", "管理层"),
    # shell
    "shell.language": ("Language", "语言"),
    "shell.sign_out": ("Sign out", "退出登录"),
    "shell.open_alerts": ("{count} open alerts for you", "{count} 条待处理预警"),
    "shell.store_error": ("The data store cannot be opened.", "无法打开数据存储。"),
    "guard.denied": (
        "Your role may not open this page. Pick a page from the menu on the left, or ask an admin for access.",
        "您的角色无权打开此页面。请从左侧菜单选择页面，或联系管理员开通权限。",
    ),
    "error.unexpected": (
        "Something went wrong and was logged. Try again; if it keeps happening, tell an admin.",
        "出现错误，已记录日志。请重试；如仍出现，请联系管理员。",
    ),
    # sign-in
    "signin.title": ("Sign in", "登录"),
    "signin.username": ("User name", "用户名"),
    "signin.password": ("Password", "密码"),
    "signin.submit": ("Sign in", "登录"),
    "signin.missing": ("Enter your user name and password.", "请输入用户名和密码。"),
    "signin.failed": ("Wrong user name or password.", "用户名或密码错误。"),
    "signin.locked": (
        "Too many failed sign-ins. Try again in {minutes} minutes or ask an admin.",
        "登录失败次数过多。请 {minutes} 分钟后再试，或联系管理员。",
    ),
    "signin.demo_hint": (
        "Demo mode: every demo account uses the password `{password}` — {accounts}. Never use demo mode in production.",
        "演示模式：所有演示账号的密码均为 `{password}` —— {accounts}。生产环境切勿开启演示模式。",
    ),
    "signin.first_admin": (
        "First start: sign in as `admin` with the password printed in the console that started the app "
        "(or the one set in CX_ADMIN_PASSWORD).",
        "首次启动：请使用 `admin` 登录，密码见启动应用的控制台输出（或 CX_ADMIN_PASSWORD 中设置的密码）。",
    ),
    # home / welcome
    "home.welcome": ("Welcome, {name}", "欢迎，{name}"),
    "home.empty_title": ("The store is empty", "数据存储为空"),
    "home.empty_body": (
        "No customer interactions are loaded yet. Load the bundled demo dataset to explore the product, "
        "or import your own channel exports.",
        "尚未加载任何客户交互数据。可加载内置演示数据体验产品，或导入您自己的渠道导出文件。",
    ),
    "home.empty_ask_admin": (
        "No customer data is loaded yet. An admin can load the demo dataset or import channel exports.",
        "尚未加载客户数据。请管理员加载演示数据或导入渠道导出文件。",
    ),
    "home.demo_customers": ("Demo customers", "演示客户数"),
    "home.load_demo": ("Load the demo dataset", "加载演示数据"),
    "home.loading_demo": ("Loading the demo dataset…", "正在加载演示数据…"),
    "home.demo_loaded": (
        "Demo data loaded: {rows} interactions, {profiles} customer profiles, {quarantined} rows quarantined.",
        "演示数据已加载：{rows} 条交互，{profiles} 个客户画像，{quarantined} 行进入隔离区。",
    ),
    "home.demo_accounts_created": (
        "Demo accounts created (password `{password}`): {accounts}",
        "已创建演示账号（密码 `{password}`）：{accounts}",
    ),
    "home.continue": ("Continue", "继续"),
    "home.import_files": ("Import channel exports", "导入渠道导出文件"),
    "home.import_hint": (
        "Use the command line for large files: `python -m etl run PATH --mapping FILE` (see the README).",
        "大文件请使用命令行：`python -m etl run PATH --mapping FILE`（见 README）。",
    ),
    "home.stats.interactions": ("Interactions", "交互数"),
    "home.stats.profiles": ("Customer profiles", "客户画像"),
    "home.stats.open_alerts": ("Open alerts", "待处理预警"),
    "home.stats.last_load": ("Last data load", "最近一次加载"),
    "home.your_pages": ("Your pages", "您的页面"),
    "home.never": ("never", "从未"),
}
