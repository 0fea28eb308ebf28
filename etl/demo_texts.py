"""Word lists and text templates (Simplified Chinese and English) used by the demo data generator."""

from __future__ import annotations

from typing import Final

#: Fictional brand (no real company) and its social accounts.
BRAND_ZH: Final = "璐米"
BRAND_EN: Final = "Lumio"

#: Touchpoints (keys of cx/data/default_journey.yaml) that have text templates.
TOUCHPOINTS: Final = (
    "presale_consult",
    "payment",
    "shipping",
    "installation",
    "product_quality",
    "repair",
    "returns",
    "billing",
    "membership",
    "app_usage",
    "service_hotline",
    "campaign",
    "checkout",
    "web_browse",
)
#: Text kinds with templates, in code order (0..3).
TEXT_KINDS: Final = ("inquiry", "complaint", "suggestion", "praise")
#: Languages in code order (0..1).
LANGS: Final = ("zh", "en")

#: (zh name, en name, list price CNY)
PRODUCTS: Final = (
    ("X1 手机", "X1 phone", 3999),
    ("X1 Pro 手机", "X1 Pro phone", 5999),
    ("Aurora 路由器", "Aurora router", 399),
    ("Nova 平板", "Nova tablet", 2499),
    ("Pulse 耳机", "Pulse earbuds", 699),
    ("Orbit 智能手表", "Orbit smartwatch", 1299),
    ("Breeze 空气净化器", "Breeze air purifier", 1899),
    ("Vortex 扫地机器人", "Vortex robot vacuum", 2999),
    ("Lumen 智能灯", "Lumen smart bulb", 129),
    ("Nimbus 空调", "Nimbus air conditioner", 3599),
)
#: Fictional courier companies (zh, en).
COURIERS: Final = (("速达快递", "SpeedEx"), ("云路物流", "CloudRoute"), ("鹏程快运", "Pengcheng Express"))
#: Amounts (CNY) used in billing / refund complaints.
AMOUNTS: Final = ("19.9", "29.9", "45", "99", "128", "199", "299", "399.5", "699", "1299")

#: (zh, en, postcode prefix, weight, districts)
CITIES: Final = (
    ("上海", "Shanghai", "200", 14, ("浦东新区", "徐汇区", "静安区", "闵行区")),
    ("北京", "Beijing", "100", 12, ("朝阳区", "海淀区", "东城区", "丰台区")),
    ("广州", "Guangzhou", "510", 9, ("天河区", "越秀区", "海珠区")),
    ("深圳", "Shenzhen", "518", 9, ("南山区", "福田区", "宝安区")),
    ("杭州", "Hangzhou", "310", 7, ("西湖区", "滨江区", "余杭区")),
    ("成都", "Chengdu", "610", 7, ("武侯区", "锦江区", "高新区")),
    ("南京", "Nanjing", "210", 5, ("鼓楼区", "玄武区", "建邺区")),
    ("武汉", "Wuhan", "430", 5, ("江汉区", "洪山区", "武昌区")),
    ("西安", "Xi'an", "710", 4, ("雁塔区", "碑林区", "未央区")),
    ("重庆", "Chongqing", "400", 5, ("渝中区", "江北区", "南岸区")),
    ("苏州", "Suzhou", "215", 4, ("姑苏区", "工业园区", "吴中区")),
    ("天津", "Tianjin", "300", 4, ("和平区", "南开区", "河西区")),
)
#: (zh, en) road names.
ROADS: Final = (
    ("人民路", "Renmin Rd"),
    ("中山路", "Zhongshan Rd"),
    ("解放路", "Jiefang Rd"),
    ("建设路", "Jianshe Rd"),
    ("和平路", "Heping Rd"),
    ("长江路", "Changjiang Rd"),
    ("新华路", "Xinhua Rd"),
    ("光明路", "Guangming Rd"),
    ("学院路", "Xueyuan Rd"),
    ("滨江大道", "Binjiang Ave"),
    ("世纪大道", "Century Ave"),
    ("科技路", "Keji Rd"),
)

#: (surname, pinyin, weight)
SURNAMES: Final = (
    ("王", "wang", 72),
    ("李", "li", 70),
    ("张", "zhang", 66),
    ("刘", "liu", 53),
    ("陈", "chen", 45),
    ("杨", "yang", 31),
    ("黄", "huang", 22),
    ("赵", "zhao", 20),
    ("吴", "wu", 19),
    ("周", "zhou", 19),
    ("徐", "xu", 14),
    ("孙", "sun", 12),
    ("马", "ma", 12),
    ("朱", "zhu", 12),
    ("胡", "hu", 11),
    ("郭", "guo", 10),
    ("何", "he", 9),
    ("林", "lin", 9),
    ("高", "gao", 9),
    ("罗", "luo", 9),
    ("郑", "zheng", 8),
    ("梁", "liang", 8),
    ("谢", "xie", 7),
    ("宋", "song", 6),
    ("唐", "tang", 6),
    ("许", "xu", 5),
    ("韩", "han", 5),
    ("冯", "feng", 5),
    ("邓", "deng", 5),
    ("曹", "cao", 5),
    ("彭", "peng", 4),
    ("曾", "zeng", 4),
    ("肖", "xiao", 4),
    ("田", "tian", 4),
    ("董", "dong", 4),
    ("潘", "pan", 3),
    ("袁", "yuan", 3),
    ("蔡", "cai", 3),
    ("蒋", "jiang", 3),
    ("余", "yu", 3),
    ("杜", "du", 3),
    ("叶", "ye", 3),
    ("程", "cheng", 3),
    ("魏", "wei", 3),
    ("苏", "su", 3),
    ("吕", "lv", 2),
    ("丁", "ding", 2),
    ("任", "ren", 2),
    ("沈", "shen", 2),
    ("欧阳", "ouyang", 1),
)
#: (character, pinyin) used for given names.
GIVEN: Final = (
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀", "xiu"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("英", "ying"),
    ("华", "hua"),
    ("玉", "yu"),
    ("兰", "lan"),
    ("萍", "ping"),
    ("红", "hong"),
    ("鹏", "peng"),
    ("辉", "hui"),
    ("宇", "yu"),
    ("浩", "hao"),
    ("婷", "ting"),
    ("雪", "xue"),
    ("琳", "lin"),
    ("晨", "chen"),
    ("欣", "xin"),
    ("怡", "yi"),
    ("佳", "jia"),
    ("子", "zi"),
    ("轩", "xuan"),
    ("涵", "han"),
    ("博", "bo"),
    ("文", "wen"),
    ("思", "si"),
    ("雨", "yu"),
    ("梓", "zi"),
    ("嘉", "jia"),
    ("俊", "jun"),
    ("志", "zhi"),
    ("海", "hai"),
    ("建", "jian"),
    ("国", "guo"),
    ("春", "chun"),
    ("燕", "yan"),
    ("丹", "dan"),
    ("颖", "ying"),
    ("峰", "feng"),
    ("斌", "bin"),
    ("倩", "qian"),
    ("凯", "kai"),
)
LATIN_GIVEN: Final = (
    "Emily",
    "James",
    "Olivia",
    "Michael",
    "Sophia",
    "Daniel",
    "Grace",
    "David",
    "Chloe",
    "Kevin",
    "Amy",
    "Jason",
    "Linda",
    "Eric",
    "Jessica",
    "Tony",
    "Vivian",
    "Peter",
    "Cindy",
    "Ryan",
    "Helen",
    "Andy",
    "Lucy",
    "Jack",
    "Sarah",
    "Mark",
    "Anna",
    "Leo",
    "Irene",
    "Alex",
    "Hannah",
    "Lukas",
    "Mia",
    "Noah",
    "Zoe",
)
#: (family name as written, ascii form for e-mail addresses)
LATIN_FAMILY: Final = (
    ("Chen", "chen"),
    ("Wang", "wang"),
    ("Li", "li"),
    ("Zhang", "zhang"),
    ("Liu", "liu"),
    ("Lin", "lin"),
    ("Huang", "huang"),
    ("Wong", "wong"),
    ("Lee", "lee"),
    ("Chan", "chan"),
    ("Smith", "smith"),
    ("Johnson", "johnson"),
    ("Brown", "brown"),
    ("Miller", "miller"),
    ("Garcia", "garcia"),
    ("Müller", "mueller"),
    ("O'Brien", "obrien"),
    ("Nguyen", "nguyen"),
    ("Kim", "kim"),
    ("Park", "park"),
    ("Tanaka", "tanaka"),
    ("Martin", "martin"),
    ("Taylor", "taylor"),
    ("Anderson", "anderson"),
    ("Wilson", "wilson"),
    ("Schmidt", "schmidt"),
    ("Rossi", "rossi"),
    ("Dubois", "dubois"),
)
#: WeChat nicknames (a nickname is not a name: the wechat mapping leaves it in `extra`).
NICKNAMES: Final = (
    "小王同学",
    "快乐每一天",
    "阳光男孩",
    "追风少年",
    "安静的猫",
    "Sunny",
    "小确幸",
    "阿杰",
    "木子",
    "Coco",
    "晴天",
    "一只鱼",
    "momo",
    "大白",
    "橙子",
    "Lemon",
    "老张",
    "路人甲",
    "星星点灯",
    "Jerry",
)
#: Fictional e-mail domains (reserved `.example` style names, so no real mailbox is addressed).
EMAIL_DOMAINS: Final = (
    ("qmail.example.cn", 30),
    ("mail163.example.cn", 20),
    ("inbox.example.com", 14),
    ("example.com", 10),
    ("webmail.example.net", 10),
    ("outlook.example.org", 8),
    ("corp.example.com", 5),
    ("foxmail.example.cn", 3),
)

#: Hotline category (Chinese, as the call centre writes it) -> touchpoint key.
HOTLINE_CATEGORIES: Final = {
    "售前咨询": "presale_consult",
    "支付问题": "payment",
    "物流配送": "shipping",
    "上门安装": "installation",
    "产品质量": "product_quality",
    "维修服务": "repair",
    "退换货": "returns",
    "账单发票": "billing",
    "会员积分": "membership",
    "App问题": "app_usage",
    "其他": "service_hotline",
}
#: Chinese request types -> canonical kind (hotline `request_type`, wechat `session_tag`).
ZH_KINDS: Final = {"咨询": "inquiry", "投诉": "complaint", "建议": "suggestion", "表扬": "praise"}

#: Share of complaints per touchpoint (the rest: suggestion 5 %, praise 5 %, inquiry).
COMPLAINT_SHARE: Final = {
    "presale_consult": 0.05,
    "payment": 0.35,
    "shipping": 0.40,
    "installation": 0.35,
    "product_quality": 0.60,
    "repair": 0.45,
    "returns": 0.45,
    "billing": 0.50,
    "membership": 0.20,
    "app_usage": 0.40,
    "service_hotline": 0.30,
    "campaign": 0.20,
    "checkout": 0.30,
    "web_browse": 0.10,
}

# Templates: TEMPLATES[touchpoint][kind] = (zh templates, en templates); a template is a string or
# (string, weight). Slots: {product} {order} {city} {days} {amount} {courier} {points}.
# Weighted entries are the frequent, near-identical questions (FAQ grouping material).
Template = str | tuple[str, int]
TEMPLATES: Final[dict[str, dict[str, tuple[tuple[Template, ...], tuple[Template, ...]]]]] = {
    "presale_consult": {
        "inquiry": (
            (
                "{product}现在有货吗？什么时候能发？",
                "请问{product}的Pro版和标准版有什么区别？哪个型号更适合家用？",
                "{product}的价格最近会降吗？",
                "{product}的详细参数在哪里可以看到？",
                "{city}有没有线下门店可以体验{product}？",
                ("{product}有货吗", 3),
            ),
            (
                "Is the {product} in stock? When can it ship?",
                "What is the difference between the {product} and the Pro model?",
                "What is the price of the {product} in {city}?",
                "Where can I find the full specs of the {product}?",
                ("Is the {product} in stock?", 3),
            ),
        ),
        "complaint": (
            ("咨询{product}的价格，两个客服说法完全不一样", "官网显示{product}有货，付完定金才说没货"),
            (
                "Your site said the {product} was in stock but the store in {city} had none.",
                "Two agents quoted me different prices for the {product}.",
            ),
        ),
        "suggestion": (
            ("希望{product}能出更多颜色，型号选择太少了", "建议官网做一个型号参数对比表"),
            ("Please publish a clearer model comparison for the {product}.",),
        ),
        "praise": (
            ("售前客服很耐心地帮我对比了几个型号，推荐的{product}很合适",),
            ("The pre-sales advisor explained every model clearly, thanks!",),
        ),
    },
    "payment": {
        "inquiry": (
            ("支付时提示银行卡不支持怎么办？", "分期付款支持哪些银行？", "订单{order}付款成功了但是显示待支付"),
            (
                "Can I pay for order {order} in instalments?",
                "Which payment methods do you accept?",
                "My payment for order {order} went through but the order still says unpaid.",
            ),
        ),
        "complaint": (
            (
                "订单{order}重复扣款{amount}元，请尽快处理",
                "付款一直失败，换了三张卡都不行",
                "支付成功后订单被取消了，钱还没退回来",
            ),
            (
                "I was charged twice for order {order} ({amount} CNY).",
                "Payment keeps failing at the last step, tried three cards.",
            ),
        ),
        "suggestion": (("希望支付页面支持更多付款方式",), ("Please support more payment options.",)),
        "praise": (("付款流程很顺畅，几秒钟就完成了",), ("Payment was quick and painless.",)),
    },
    "shipping": {
        "inquiry": (
            (
                ("如何修改收货地址", 6),
                ("怎么改收货地址？", 6),
                ("收货地址填错了，怎么修改？", 4),
                "订单{order}什么时候发货？",
                "我的快递到哪了？订单号{order}",
                "{city}可以次日达吗？物流一般几天？",
                "可以指定配送时间吗？",
            ),
            (
                ("How do I change my delivery address?", 6),
                ("how to change delivery address", 4),
                ("Can I change the shipping address after ordering?", 3),
                "Where is my parcel? Order {order}",
                "When will order {order} be shipped?",
                "Do you offer next-day delivery to {city}?",
            ),
        ),
        "complaint": (
            (
                "订单{order}已经{days}天了还没发货",
                "快递显示已签收，但我根本没收到",
                "{courier}配送太慢了，物流信息{days}天没更新",
                "包裹外箱破损，{product}外壳有划痕",
                "快递员不送货，让我自己去驿站取",
                "发往{city}的包裹卡在中转站{days}天了",
            ),
            (
                "Order {order} still hasn't shipped after {days} days.",
                "Tracking says delivered but I never received the parcel.",
                "The courier left my parcel outside in the rain.",
                "Delivery to {city} has been stuck for {days} days with no tracking update.",
                "{courier} delivery is painfully slow.",
            ),
        ),
        "suggestion": (
            ("希望能提供预约配送时间的功能", "建议物流信息能实时推送"),
            ("Please let me choose a delivery time slot.", "Send an SMS when the courier is close."),
        ),
        "praise": (
            ("物流很快，隔天就到了，包装也很好", "配送小哥很负责，准时送达"),
            ("Super fast delivery, arrived next day in {city}.", "The courier was friendly and on time."),
        ),
    },
    "installation": {
        "inquiry": (
            (
                "{product}买了之后可以免费上门安装吗？",
                "安装师傅什么时候能上门？订单{order}",
                "安装需要自己准备哪些材料？",
                ("如何预约安装", 4),
                ("怎么预约上门安装？", 4),
            ),
            (
                ("How do I book an installation?", 4),
                "Is installation free for the {product}?",
                "When will the technician come? Order {order}",
            ),
        ),
        "complaint": (
            (
                "约好的安装师傅没来，也没人通知",
                "安装师傅额外收了{amount}元材料费",
                "安装后{product}有异响，师傅说不是他的问题",
                "预约安装等了{days}天还没排上",
            ),
            (
                "The technician never showed up for the installation appointment.",
                "The installer charged an extra {amount} CNY for parts.",
                "Waited {days} days for an installation slot in {city}.",
            ),
        ),
        "suggestion": (("希望安装师傅能提前半小时电话通知",), ("Please give a narrower installation time window.",)),
        "praise": (
            ("安装师傅很专业，装完还帮忙清理了现场",),
            ("The technician was professional and cleaned up afterwards.",),
        ),
    },
    "product_quality": {
        "inquiry": (
            ("{product}发热严重正常吗？", "{product}用了{days}天就自动重启，是质量问题吗？"),
            ("Is it normal for the {product} to get this hot?", "My {product} restarts by itself, is it a defect?"),
        ),
        "complaint": (
            (
                "{product}刚用{days}天就坏了，质量太差",
                "{product}频繁死机，屏幕闪烁",
                "买的{product}开箱就有故障，无法开机",
                "{product}电池续航严重缩水，质量有问题",
                "{product}做工粗糙，边缘有缝隙",
            ),
            (
                "My {product} broke after only {days} days. Poor quality.",
                "The {product} keeps freezing and the screen flickers.",
                "The {product} was dead on arrival, won't power on.",
                "Battery life on the {product} is terrible, clearly a defect.",
            ),
        ),
        "suggestion": (
            ("建议{product}改进散热设计",),
            ("The {product} build quality should be improved, buttons feel cheap.",),
        ),
        "praise": (("{product}质量很好，用了一年多没出过问题",), ("The {product} is rock solid, great quality.",)),
    },
    "repair": {
        "inquiry": (
            (
                ("保修期多久？", 5),
                ("{product}的保修期是多久", 3),
                "{product}维修需要多长时间？",
                "{city}的维修网点在哪里？",
                "过了保修期维修怎么收费？",
            ),
            (
                ("How long is the warranty?", 5),
                "How long does a repair take for the {product}?",
                "Where is the nearest repair centre in {city}?",
            ),
        ),
        "complaint": (
            (
                "{product}送修{days}天了还没修好",
                "维修后同样的问题又出现了，已经第二次返修",
                "保修期内维修还要收{amount}元",
                "维修网点说要等配件，没有具体时间",
            ),
            (
                "My {product} has been in repair for {days} days.",
                "Same fault came back after the repair, second time now.",
                "I was asked to pay {amount} CNY for a warranty repair.",
            ),
        ),
        "suggestion": (
            ("希望维修期间能提供备用机", "建议维修进度可以在线查询"),
            ("Please offer a loaner device during repairs.",),
        ),
        "praise": (("维修很快，第二天就修好寄回来了",), ("Repair was done in two days, thanks for the quick fix.",)),
    },
    "returns": {
        "inquiry": (
            (
                ("退款多久到账？", 5),
                ("退款什么时候能到账", 3),
                "{product}不想要了，七天无理由退货怎么操作？",
                "换货需要自己出运费吗？",
            ),
            (
                ("When will I get my refund?", 5),
                "How do I return the {product}?",
                "Can I exchange the {product} for a different colour?",
            ),
        ),
        "complaint": (
            (
                "退货申请提交{days}天了还没审核",
                "退款{amount}元到现在还没到账",
                "换货寄回来的还是坏的",
                "客服拒绝我的退货申请，理由不合理",
            ),
            (
                "My refund of {amount} CNY has not arrived after {days} days.",
                "Return request for order {order} was rejected for no reason.",
                "The exchange unit is faulty too.",
            ),
        ),
        "suggestion": (("希望退货流程能简化一些，审核太慢",), ("The return process should be simpler.",)),
        "praise": (("退款很快，当天就到账了",), ("Refund arrived the same day, very smooth.",)),
    },
    "billing": {
        "inquiry": (
            (
                ("发票怎么开？", 5),
                ("如何开具电子发票", 3),
                "订单{order}的发票抬头写错了，能重开吗？",
                "账单里这笔{amount}元是什么费用？",
            ),
            (
                ("How do I get an invoice?", 5),
                "Can you reissue the invoice for order {order} with my company name?",
                "What is this {amount} CNY item on my bill?",
            ),
        ),
        "complaint": (
            ("账单多扣了{amount}元", "发票申请了{days}天还没收到", "取消的服务还在继续扣费，账单不对"),
            (
                "I was overcharged {amount} CNY on my bill.",
                "Still no invoice {days} days after requesting it.",
                "I keep getting billed for a cancelled service plan.",
            ),
        ),
        "suggestion": (("希望账单明细能更清楚一些",), ("Bills should show an itemised breakdown.",)),
        "praise": (("发票开得很快，处理很专业",), ("Got the invoice within minutes, thank you.",)),
    },
    "membership": {
        "inquiry": (
            (("积分怎么用？", 5), ("积分如何兑换", 3), "会员等级怎么升级？", "我的{points}积分什么时候过期？"),
            (
                ("How do I use my points?", 5),
                "How do I upgrade my membership tier?",
                "When do my {points} points expire?",
            ),
        ),
        "complaint": (
            ("买了{product}积分没到账", "会员生日礼没有收到", "积分莫名其妙少了{points}分"),
            (
                "Points for my {product} purchase never showed up.",
                "{points} loyalty points disappeared from my account.",
            ),
        ),
        "suggestion": (("希望会员积分可以抵扣运费",), ("Let members redeem points for accessories.",)),
        "praise": (("金卡会员服务很贴心，积分到账也快",), ("Love the member perks, points add up quickly.",)),
    },
    "app_usage": {
        "inquiry": (
            (
                ("忘记密码怎么办", 5),
                ("密码忘了怎么重置？", 3),
                "App里怎么查看订单{order}？",
                "怎么在App里绑定{product}？",
            ),
            (
                ("How do I reset my password?", 5),
                "How do I find order {order} in the app?",
                "How do I pair my {product} with the app?",
            ),
        ),
        "complaint": (
            ("App一打开就闪退", "更新之后App一直卡顿", "App登录不上，验证码收不到", "App里的{product}总是显示离线"),
            (
                "The app crashes every time I open it.",
                "The app keeps freezing since the last update.",
                "Can't log in to the app, no verification code.",
            ),
        ),
        "suggestion": (
            ("希望App增加深色模式", "App的搜索功能需要优化"),
            ("Please add dark mode to the app.", "App search needs work."),
        ),
        "praise": (("新版App界面很清爽，好用多了",), ("The new app design is clean and easy to use.",)),
    },
    "service_hotline": {
        "inquiry": (
            ("人工客服工作时间是几点到几点？", ("怎么转人工客服？", 3)),
            ("What are your customer service hours?", ("How do I reach a human agent?", 3)),
        ),
        "complaint": (
            (
                "热线等了{days}分钟都没人接",
                "客服态度很差，问题也没解决",
                "同一个问题打了三次电话还没解决",
                "客服一直推脱，让我找别的部门",
            ),
            (
                "Waited {days} minutes on the hotline and nobody answered.",
                "The agent was rude and didn't solve anything.",
                "Third call about the same issue and still not resolved.",
            ),
        ),
        "suggestion": (
            ("建议增加客服人手，高峰期太难打进来",),
            ("Please add a callback option instead of waiting on hold.",),
        ),
        "praise": (
            ("客服很耐心，一次就解决了我的问题", "感谢客服的帮助，服务很专业"),
            ("The agent was very patient and solved my problem in one call.",),
        ),
    },
    "campaign": {
        "inquiry": (
            ("双十一活动什么时候开始？", ("优惠券怎么用", 3), "优惠券怎么领取？"),
            ("When does the Double 11 promotion start?", ("How do I use my coupon?", 3)),
        ),
        "complaint": (
            ("优惠券领了用不了", "活动价和宣传的不一样", "说好的活动赠品没有收到"),
            ("The coupon doesn't work at checkout.", "The promotion price was not what was advertised."),
        ),
        "suggestion": (("希望活动规则写得更清楚一点",), ("Make the campaign rules clearer.",)),
        "praise": (("这次促销力度很大，买得很开心",), ("Great promotion, got the {product} at a good deal.",)),
    },
    "checkout": {
        "inquiry": (
            ("下单后可以修改订单吗？", "怎么取消订单{order}？"),
            ("Can I modify my order after checkout?", "How do I cancel order {order}?"),
        ),
        "complaint": (
            ("下单时页面一直报错", "提交订单后被告知库存不足，订单被取消"),
            ("Checkout page keeps throwing an error.", "My order was cancelled right after checkout."),
        ),
        "suggestion": (("希望下单流程能少几步",), ("Checkout has too many steps.",)),
        "praise": (("下单很方便，一分钟搞定",), ("Ordering was quick and easy.",)),
    },
    "web_browse": {
        "inquiry": (("官网上找不到{product}的说明书",), ("Where can I download the manual for the {product}?",)),
        "complaint": (("官网打开太慢了",), ("Your website is very slow to load.",)),
        "suggestion": (("官网希望增加产品对比功能",), ("The website should have a product comparison page.",)),
        "praise": (("官网页面设计很好看，找东西很方便",), ("Nice website, easy to find things.",)),
    },
}

#: E-mail subjects per touchpoint (zh, en); same slots as the body.
SUBJECTS: Final = {
    "presale_consult": ("咨询{product}", "Question about the {product}"),
    "payment": ("订单{order}支付问题", "Payment issue with order {order}"),
    "shipping": ("订单{order}物流问题", "Delivery of order {order}"),
    "installation": ("预约安装", "Installation appointment"),
    "product_quality": ("{product}故障", "Problem with my {product}"),
    "repair": ("维修进度", "Repair status"),
    "returns": ("退货退款", "Return and refund"),
    "billing": ("账单/发票", "Invoice / bill"),
    "membership": ("会员积分", "Membership points"),
    "app_usage": ("App问题", "App problem"),
    "service_hotline": ("客服投诉与建议", "Customer service"),
    "campaign": ("活动咨询", "Promotion"),
    "checkout": ("下单问题", "Order problem"),
    "web_browse": ("官网问题", "Website"),
}
#: Agent replies in chat transcripts: (zh, en) for resolved and unresolved sessions.
CHAT_REPLIES_RESOLVED: Final = (
    ("您好，已为您处理好了，还有其他问题吗？", "Hi, this is sorted now. Anything else I can help with?"),
    ("已经帮您操作完成，请留意短信通知。", "Done on our side, you'll get a text message shortly."),
    ("好的，已为您登记并处理。", "OK, I've logged and handled it for you."),
)
CHAT_REPLIES_OPEN: Final = (
    (
        "已为您提交工单，相关部门会在48小时内联系您。",
        "I've opened a ticket; the team will contact you within 48 hours.",
    ),
    ("抱歉，这个问题需要转交专员处理，请耐心等待。", "Sorry, this needs a specialist, we will get back to you."),
)
#: Hotline note prefixes / suffixes (zh, en).
NOTE_PREFIX: Final = ("客户来电：", "Caller: ")
NOTE_PREFIX_REPEAT: Final = ("客户再次来电：", "Repeat call: ")
NOTE_PREFIX_CALLBACK: Final = ("回访客户：", "Callback: ")
NOTE_RESOLVED: Final = ("（已解决）", " (resolved on call)")
NOTE_OPEN: Final = ("（已升级，待回访）", " (escalated, callback pending)")

#: Teams: (team key, department, number of agents).
TEAMS: Final = (
    ("hotline", "service", 10),
    ("vip-care", "service", 3),
    ("online-care", "service", 8),
    ("email-desk", "service", 4),
    ("logistics-desk", "delivery", 4),
    ("tech-support", "product", 4),
    ("billing-desk", "it", 3),
    ("social-care", "marketing", 2),
    ("escalation-desk", "executive", 2),
)
