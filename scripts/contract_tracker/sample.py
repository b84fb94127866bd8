"""Deterministic, realistic sample data: a whole :class:`~contract_tracker.records.Book`.

``sample_book("small")`` is the bundled demo workbook: our company (乙方) and 24
e-commerce clients (甲方) with 32 contracts from 2024 to 2026, their fee breakdowns,
payment plans, receipts, incidents and monthly availability. Every case the engine
handles is present on purpose, dated relative to :data:`SAMPLE_AS_OF` (2026-11-25):

* receipts on time, late, in two parts, partly paid with the rest open, missing
  altogether (a contract with nothing paid), one naming no installment, and the
  domain notes' worked example (100,000.00 due 2026-03-31, 60,000.00 paid 2026-04-10
  and 40,000.00 paid 2026-05-05: a 1,000.00 late fee);
* late fees settled by receipts of 滞纳金 (a fee received: one naming its installment, one
  naming none, which settles the contract's oldest fee) and 减免滞纳金 (a fee waived);
* per-contract overrides: a late-fee exemption, a 0.0003 rate, 5 grace days, a 10 %
  cap, a working-hours SLA clock, English-language templates;
* incidents that are clean, response / solution / major-fault breaches, exactly on the
  2 h, 4 h and 24 h limits, paused while waiting on the client, and still open;
* availability above, below and exactly at 99.9 % (43.2 minutes in a 30-day month), in
  each service-credit tier, some months with agreed maintenance.

The scenarios are fixed in the tables below; ``seed`` varies only names, phones,
credit codes, routine incidents and availability noise, so every seed has every case.

``sample_book("large")`` is for benchmarks: exactly 5,000 clients, 5,000 contracts,
60,000 installments (12 per contract), 60,000 receipts, 20,000 incidents and the
availability rows of every contract in service in 2026 up to October.

Everything is drawn from ``random.Random`` instances seeded from ``seed``; nothing
depends on the clock or on global random state. Money is Decimal with two decimals,
dates are ``datetime.date``, times naive ``datetime.datetime`` on the minute.
Records keep ``src=NO_SOURCE``; the workbook writer assigns their rows.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from .creditcode import ALPHABET, make_code
from .records import (
    AgeingBucket,
    AvailabilityMonth,
    Book,
    Client,
    Contract,
    CreditTier,
    FeeItem,
    Incident,
    Installment,
    Receipt,
    Settings,
    SlaPenaltyRule,
)
from .schema import (
    DEFAULT_AGEING,
    DEFAULT_CREDIT_TIERS,
    DEFAULT_SLA_PENALTIES,
)

__all__ = [
    "AVAILABILITY_MONTHS",
    "LARGE_CLIENTS",
    "LARGE_CONTRACTS",
    "LARGE_INCIDENTS",
    "LARGE_INSTALLMENTS_PER_CONTRACT",
    "LARGE_RECEIPTS",
    "SAMPLE_AS_OF",
    "SIZES",
    "sample_book",
    "sample_settings",
]

SAMPLE_AS_OF = dt.date(2026, 11, 25)
""""Today" for the sample data: statuses, receipts and incidents are consistent with it."""

SIZES: tuple[str, ...] = ("small", "large")

LARGE_CLIENTS = 5_000
LARGE_CONTRACTS = 5_000
LARGE_INSTALLMENTS_PER_CONTRACT = 12
LARGE_RECEIPTS = 60_000
LARGE_INCIDENTS = 20_000

AVAILABILITY_MONTHS: tuple[dt.date, ...] = tuple(dt.date(2026, m, 1) for m in range(1, 11))
"""Months with availability figures: 2026-01 to 2026-10 (November is not over yet)."""

# Data is known up to the start of the as-of day: nothing happens later than this.
_CUTOFF = dt.datetime.combine(SAMPLE_AS_OF, dt.time(0, 0))

# --- Name parts --------------------------------------------------------------------


class City(NamedTuple):
    """A place clients are registered in, with what its codes and numbers look like."""

    name: str  # as in a company name: 杭州
    prefix: str  # the address up to the district: 浙江省杭州市
    district: str
    region: str  # administrative division code, characters 3-8 of a credit code
    area_code: str  # landline prefix
    local_digits: int  # digits of a local landline number
    streets: tuple[str, ...]


CITIES: tuple[City, ...] = (
    City("杭州", "浙江省杭州市", "西湖区", "330106", "0571", 8,
         ("文三路", "古墩路", "西溪路")),
    City("杭州", "浙江省杭州市", "滨江区", "330108", "0571", 8,
         ("网商路", "江南大道", "长河路")),
    City("杭州", "浙江省杭州市", "余杭区", "330110", "0571", 8,
         ("文一西路", "五常大道", "良睦路")),
    City("上海", "上海市", "浦东新区", "310115", "021", 8,
         ("张江路", "世纪大道", "博云路")),
    City("上海", "上海市", "闵行区", "310112", "021", 8,
         ("申长路", "联航路", "元江路")),
    City("上海", "上海市", "长宁区", "310105", "021", 8,
         ("天山路", "长宁路", "金钟路")),
    City("北京", "北京市", "朝阳区", "110105", "010", 8,
         ("望京街", "酒仙桥路", "建国路")),
    City("北京", "北京市", "海淀区", "110108", "010", 8,
         ("中关村大街", "上地十街", "西二旗大街")),
    City("深圳", "广东省深圳市", "南山区", "440305", "0755", 8,
         ("科技园路", "深南大道", "高新南一道")),
    City("深圳", "广东省深圳市", "龙岗区", "440307", "0755", 8,
         ("雅宝路", "龙翔大道", "布吉路")),
    City("广州", "广东省广州市", "天河区", "440106", "020", 8,
         ("天河路", "黄埔大道西", "珠江东路")),
    City("广州", "广东省广州市", "白云区", "440111", "020", 8,
         ("机场路", "云城西路", "白云大道北")),
    City("南京", "江苏省南京市", "建邺区", "320105", "025", 8,
         ("江东中路", "河西大街", "嘉陵江东街")),
    City("苏州", "江苏省苏州市", "吴中区", "320506", "0512", 8,
         ("东吴北路", "宝带东路", "旺山路")),
    City("成都", "四川省成都市", "武侯区", "510107", "028", 8,
         ("天府大道北段", "人民南路四段", "武侯大道")),
    City("武汉", "湖北省武汉市", "洪山区", "420111", "027", 8,
         ("珞喻路", "光谷大道", "民族大道")),
    City("厦门", "福建省厦门市", "思明区", "350203", "0592", 7,
         ("观日路", "湖滨南路", "厦禾路")),
    City("宁波", "浙江省宁波市", "鄞州区", "330212", "0574", 8,
         ("天童南路", "首南中路", "泰康中路")),
    City("义乌", "浙江省义乌市", "稠江街道", "330782", "0579", 8,
         ("宗泽北路", "春晗路", "贝村路")),
    City("长沙", "湖南省长沙市", "岳麓区", "430104", "0731", 8,
         ("麓谷大道", "岳麓大道", "桐梓坡西路")),
    City("西安", "陕西省西安市", "雁塔区", "610113", "029", 8,
         ("科技路", "高新路", "丈八东路")),
    City("郑州", "河南省郑州市", "金水区", "410105", "0371", 8,
         ("花园路", "农业路", "经三路")),
    City("重庆", "重庆市", "渝北区", "500112", "023", 8,
         ("金开大道", "星光大道", "黄山大道")),
    City("合肥", "安徽省合肥市", "蜀山区", "340104", "0551", 8,
         ("望江西路", "长江西路", "黄山路")),
    City("福州", "福建省福州市", "鼓楼区", "350102", "0591", 8,
         ("五四路", "杨桥中路", "工业路")),
    City("青岛", "山东省青岛市", "崂山区", "370212", "0532", 8,
         ("株洲路", "松岭路", "同安路")),
    City("济南", "山东省济南市", "历下区", "370102", "0531", 8,
         ("经十路", "解放路", "泉城路")),
    City("天津", "天津市", "滨海新区", "120116", "022", 8,
         ("新港二号路", "第三大街", "泰达大街")),
)
CITY_NAMES: tuple[str, ...] = tuple(dict.fromkeys(c.name for c in CITIES))

TRADE_NAMES: tuple[tuple[str, str], ...] = (
    ("优品", "youpin"), ("云购", "yungou"), ("乐淘", "letao"), ("聚鲜", "juxian"),
    ("惠选", "huixuan"), ("麦芽", "maiya"), ("星河", "xinghe"), ("唯尚", "weishang"),
    ("千帆", "qianfan"), ("嘉禾", "jiahe"), ("品臻", "pinzhen"), ("拾光", "shiguang"),
    ("蓝鲸", "lanjing"), ("青橙", "qingcheng"), ("禾木", "hemu"), ("集美", "jimei"),
    ("万象", "wanxiang"), ("鲜达", "xianda"), ("悦享", "yuexiang"), ("橙意", "chengyi"),
    ("森野", "senye"), ("有礼", "youli"), ("好物", "haowu"), ("优选", "youxuan"),
    ("臻享", "zhenxiang"), ("锦程", "jincheng"), ("鹿角", "lujiao"), ("小满", "xiaoman"),
    ("木棉", "mumian"), ("云杉", "yunshan"), ("海贝", "haibei"), ("晨曦", "chenxi"),
    ("百味", "baiwei"), ("乐购", "legou"), ("趣玩", "quwan"), ("初见", "chujian"),
    ("花间", "huajian"), ("暖阳", "nuanyang"), ("鲸选", "jingxuan"), ("果然", "guoran"),
    ("满仓", "mancang"), ("一禾", "yihe"), ("山海", "shanhai"), ("知味", "zhiwei"),
    ("伴山", "banshan"), ("橘子", "juzi"), ("米粒", "mili"), ("微光", "weiguang"),
    ("繁星", "fanxing"), ("丰收", "fengshou"), ("桃源", "taoyuan"), ("雅集", "yaji"),
    ("金穗", "jinsui"), ("稻香", "daoxiang"), ("新禾", "xinhe"), ("奇点", "qidian"),
    ("远航", "yuanhang"), ("悠然", "youran"), ("逸品", "yipin"), ("鲜丰", "xianfeng"),
)
"""Trade names (字号) with the pinyin used in the client's e-mail domain."""

BUSINESS_LINES: tuple[tuple[str, str], ...] = (
    ("电子商务", "ec"), ("网络科技", "net"), ("电商科技", "tech"), ("商贸", "trade"),
    ("供应链管理", "scm"), ("信息科技", "info"), ("数字科技", "digital"), ("贸易", "trading"),
)
"""Business lines (行业) of a company name, with a tag for the e-mail domain."""

COMPANY_SUFFIXES: tuple[tuple[str, int], ...] = (
    ("有限公司", 16), ("股份有限公司", 2), ("有限责任公司", 2),
)
"""Company forms with their relative frequency."""

TOP_LEVEL_DOMAINS: tuple[str, ...] = ("com", "com", "cn", "com.cn")

SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
    ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
    ("郭", "guo"), ("何", "he"), ("高", "gao"), ("林", "lin"), ("罗", "luo"),
    ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"),
    ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"), ("彭", "peng"),
    ("曾", "zeng"), ("肖", "xiao"), ("田", "tian"), ("董", "dong"), ("袁", "yuan"),
    ("潘", "pan"), ("蒋", "jiang"), ("蔡", "cai"), ("叶", "ye"), ("程", "cheng"),
    ("沈", "shen"), ("陆", "lu"), ("钱", "qian"), ("方", "fang"), ("欧阳", "ouyang"),
)

GIVEN_NAMES: tuple[tuple[str, str], ...] = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("涛", "tao"), ("明", "ming"),
    ("超", "chao"), ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("建华", "jianhua"),
    ("志强", "zhiqiang"), ("晓东", "xiaodong"), ("海燕", "haiyan"), ("婷婷", "tingting"),
    ("雪梅", "xuemei"), ("晨阳", "chenyang"), ("宇航", "yuhang"), ("浩然", "haoran"),
    ("欣怡", "xinyi"), ("子涵", "zihan"), ("思远", "siyuan"), ("国强", "guoqiang"),
    ("立新", "lixin"), ("文博", "wenbo"), ("佳琪", "jiaqi"), ("梓萱", "zixuan"),
    ("俊杰", "junjie"), ("雨桐", "yutong"), ("嘉怡", "jiayi"), ("一鸣", "yiming"),
    ("振华", "zhenhua"), ("春燕", "chunyan"), ("红梅", "hongmei"), ("建军", "jianjun"),
    ("永刚", "yonggang"), ("晓峰", "xiaofeng"), ("丹", "dan"), ("琳", "lin"),
    ("鹏", "peng"), ("斌", "bin"),
)

MOBILE_PREFIXES: tuple[str, ...] = (
    "135", "136", "137", "138", "139", "150", "151", "152", "158", "159",
    "177", "180", "181", "182", "186", "187", "188", "189", "199",
)

ACCOUNT_MANAGERS: tuple[tuple[str, str], ...] = (
    ("陈思远", "chen.siyuan@yunweitech.cn"),
    ("刘佳怡", "liu.jiayi@yunweitech.cn"),
    ("王浩然", "wang.haoran@yunweitech.cn"),
    ("赵雪婷", "zhao.xueting@yunweitech.cn"),
    ("孙立新", "sun.lixin@yunweitech.cn"),
)
"""Our account managers (客户经理) and their e-mail."""

PROVIDER: dict[str, str] = {
    "company_name": "上海云维信息技术有限公司",
    "company_legal_rep": "周振华",
    "company_address": "上海市浦东新区张江路665号3幢5层",
    "company_phone": "021-50807788",
    "bank_account_name": "上海云维信息技术有限公司",
    "bank_name": "招商银行股份有限公司上海张江支行",
    "bank_account_no": "121912345610801",
}
"""Our company (乙方), as on the contract's first page and in clause 3.3."""

_PROVIDER_CREDIT_PREFIX = "91310115MA1FL5HK"  # + the organisation code's check -> 17

FEE_ITEM_NAMES: tuple[tuple[str, int], ...] = (
    ("平台维护费", 1), ("功能开发费", 2), ("内容管理费", 3), ("数据分析费", 4),
    ("推广支持费", 5), ("客户服务费", 6), ("数据备份费", 7), ("安全防护费", 8),
)
"""Fee items of clause 3.2, each with the clause 1.1 service item it pays for."""

SERVICE_ITEM_SETS: tuple[str, ...] = ("1,2,7,8", "1,7,8", "1,2,3,4,7,8", "1,2,4,8")
"""Service-item selections of contracts that do not take all eight."""

NORMAL_PROBLEMS: tuple[str, ...] = (
    "订单同步接口超时", "商品详情页图片加载失败", "后台订单导出失败", "优惠券核销异常",
    "短信验证码发送失败", "物流接口返回错误", "库存同步延迟", "搜索结果排序异常",
    "会员积分未到账", "后台报表数据不一致", "移动端页面样式错乱", "退款回调处理失败",
    "首页加载缓慢", "商品上架审核卡住", "发票开具接口报错", "客服系统消息延迟",
)
MAJOR_PROBLEMS: tuple[str, ...] = (
    "数据库主库宕机", "全站访问返回502", "支付回调大面积丢失", "DDoS攻击导致访问中断",
    "CDN故障导致静态资源不可用", "订单服务雪崩", "存储阵列故障", "机房网络中断",
)

# --- Small sample: the scenarios ----------------------------------------------------


class _Deal(NamedTuple):
    """One contract of the small sample, with its payment plan."""

    contract_id: str
    client: int  # 1-based client number
    signing: str
    start: str
    months: int
    total: str
    prepayment: str
    prepay_days: int
    prepay_type: str
    final_days: int
    final_type: str
    renewal_days: int
    confidentiality_years: int
    status: str
    progress: tuple[tuple[str, str], ...] = ()  # (fixed due date, amount)
    service_items: str | None = None
    language: str = "zh"
    end: str | None = None  # the real end of a contract terminated early
    overrides: tuple[tuple[str, Any], ...] = ()
    notes: str | None = None
    signing_place: str | None = None


_C, _W = "calendar", "working"
_D = Decimal

SMALL_DEALS: tuple[_Deal, ...] = (
    _Deal("HT-2024-001", 1, "2024-01-05", "2024-01-15", 12, "240000.00", "72000.00",
          15, _C, 30, _C, 60, 3, "expired"),
    _Deal("HT-2024-002", 2, "2024-02-20", "2024-03-01", 12, "180000.00", "54000.00",
          10, _C, 30, _C, 30, 2, "expired"),
    _Deal("HT-2024-003", 3, "2024-03-18", "2024-04-01", 12, "360000.00", "90000.00",
          15, _C, 30, _C, 90, 5, "expired",
          progress=(("2024-07-31", "90000.00"), ("2024-10-31", "90000.00"))),
    _Deal("HT-2024-004", 4, "2024-05-10", "2024-06-01", 12, "140000.00", "72000.00",
          15, _C, 30, _C, 60, 3, "terminated", end="2024-12-31",
          notes="原约定期限至2025-05-31，双方协商于2024-12-31提前终止，按实际服务月份结算"),
    _Deal("HT-2024-005", 5, "2024-06-20", "2024-07-01", 24, "480000.00", "96000.00",
          30, _C, 30, _C, 90, 3, "expired", progress=(("2025-06-30", "192000.00"),),
          notes="尾款逾期未付，已发催款函"),
    _Deal("HT-2024-006", 6, "2024-08-28", "2024-09-01", 12, "216000.00", "64800.00",
          15, _C, 15, _W, 60, 3, "expired", language="en"),
    _Deal("HT-2024-007", 7, "2024-11-15", "2024-12-01", 24, "576000.00", "115200.00",
          30, _W, 30, _C, 90, 5, "active",
          progress=(("2025-06-30", "144000.00"), ("2025-12-31", "144000.00"))),
    _Deal("HT-2024-008", 8, "2024-12-20", "2025-01-01", 12, "132000.00", "39600.00",
          15, _C, 30, _C, 30, 2, "expired", service_items="1,2,7,8"),
    _Deal("HT-2025-001", 1, "2025-01-10", "2025-01-15", 12, "264000.00", "79200.00",
          15, _C, 30, _C, 60, 3, "expired", notes="续签"),
    _Deal("HT-2025-002", 2, "2025-02-25", "2025-03-01", 12, "198000.00", "59400.00",
          10, _C, 30, _C, 30, 2, "expired", notes="续签"),
    _Deal("HT-2025-003", 3, "2025-03-20", "2025-04-01", 12, "388800.00", "97200.00",
          15, _C, 30, _C, 90, 5, "expired",
          progress=(("2025-09-30", "97200.00"), ("2025-12-31", "97200.00")), notes="续签"),
    _Deal("HT-2025-004", 9, "2025-04-08", "2025-04-15", 12, "126500.50", "37950.15",
          10, _W, 15, _C, 30, 2, "expired", overrides=(("late_fee_exempt", True),),
          notes="战略合作客户，免收滞纳金"),
    _Deal("HT-2025-005", 10, "2025-05-12", "2025-06-01", 12, "300000.00", "90000.00",
          15, _C, 30, _C, 60, 3, "expired", progress=(("2025-12-31", "105000.00"),),
          overrides=(("late_fee_rate", _D("0.0003")),), notes="滞纳金按每日万分之三"),
    _Deal("HT-2025-006", 11, "2025-06-18", "2025-07-01", 12, "168000.00", "50400.00",
          15, _C, 30, _C, 60, 2, "expired", service_items="1,2,7,8",
          overrides=(("grace_days", 5),), notes="付款宽限5天"),
    _Deal("HT-2025-007", 12, "2025-08-15", "2025-09-01", 12, "420000.00", "126000.00",
          30, _C, 30, _C, 90, 5, "expired",
          overrides=(("late_fee_cap_pct", _D("0.1")),), notes="滞纳金以分期金额的10%为上限"),
    _Deal("HT-2025-008", 6, "2025-08-25", "2025-09-01", 12, "228000.00", "68400.00",
          15, _C, 15, _W, 60, 3, "expired", language="en", notes="Renewal"),
    _Deal("HT-2025-009", 13, "2025-10-20", "2025-11-01", 12, "156000.00", "46800.00",
          10, _C, 30, _C, 30, 2, "expired"),
    _Deal("HT-2025-010", 14, "2025-11-20", "2025-12-01", 12, "250000.00", "75000.00",
          15, _W, 30, _W, 30, 3, "active",
          overrides=(("sla_clock", "working_hours"),), notes="SLA按工作时间计时"),
    _Deal("HT-2025-011", 15, "2025-12-10", "2026-01-01", 12, "600000.00", "150000.00",
          15, _C, 30, _C, 90, 5, "active",
          progress=(("2026-03-31", "100000.00"), ("2026-06-30", "120000.00"),
                    ("2026-09-30", "120000.00"))),
    _Deal("HT-2025-012", 16, "2025-12-22", "2026-01-01", 12, "204000.00", "61200.00",
          10, _C, 15, _C, 60, 3, "active"),
    _Deal("HT-2026-001", 17, "2026-01-08", "2026-01-15", 12, "186000.00", "55800.00",
          10, _W, 30, _C, 60, 2, "active"),
    _Deal("HT-2026-002", 1, "2026-01-12", "2026-01-15", 12, "288000.00", "86400.00",
          15, _C, 30, _C, 60, 3, "active", notes="续签"),
    _Deal("HT-2026-003", 18, "2026-02-26", "2026-03-01", 12, "345000.00", "103500.00",
          15, _C, 30, _C, 60, 3, "active", progress=(("2026-08-31", "120000.00"),)),
    _Deal("HT-2026-004", 2, "2026-02-27", "2026-03-01", 12, "210000.00", "63000.00",
          10, _C, 30, _C, 30, 2, "active", notes="续签"),
    _Deal("HT-2026-005", 3, "2026-03-25", "2026-04-01", 12, "399600.00", "99900.00",
          15, _C, 30, _W, 90, 5, "active",
          progress=(("2026-07-31", "99900.00"), ("2026-10-31", "99900.00")), notes="续签"),
    _Deal("HT-2026-006", 19, "2026-04-16", "2026-05-01", 12, "138888.88", "41666.66",
          15, _C, 15, _C, 30, 2, "active", language="en"),
    _Deal("HT-2026-007", 20, "2026-06-10", "2026-07-01", 12, "264000.00", "79200.00",
          30, _C, 30, _C, 60, 3, "active", progress=(("2026-10-31", "90000.00"),),
          service_items="1,7,8"),
    _Deal("HT-2026-008", 21, "2026-08-20", "2026-09-01", 12, "192000.00", "57600.00",
          15, _C, 30, _C, 30, 2, "active", notes="预付款未付，多次催收未果"),
    _Deal("HT-2026-009", 22, "2026-11-10", "2026-12-01", 12, "228000.00", "68400.00",
          30, _C, 30, _C, 60, 3, "signed"),
    _Deal("HT-2026-010", 7, "2026-11-28", "2026-12-01", 12, "600000.00", "180000.00",
          30, _W, 30, _C, 90, 5, "sent", notes="续签合同，已发送甲方审阅"),
    _Deal("HT-2026-011", 23, "2026-12-15", "2027-01-01", 12, "168000.00", "50400.00",
          15, _C, 30, _C, 60, 3, "draft"),
    _Deal("HT-2026-012", 24, "2026-12-20", "2027-01-01", 12, "120000.00", "36000.00",
          10, _C, 15, _C, 30, 2, "draft", service_items="1,2,7,8"),
)

SMALL_CLIENTS = 24


SMALL_FEE_RECEIPTS: tuple[tuple[str, str | None, str, str, str, str], ...] = (
    # (contract, installment or None, date, amount, purpose, note): after the receipts
    ("HT-2024-002", "HT-2024-002-02", "2025-05-20", "1197.00", "late_fee", "滞纳金已付清"),
    ("HT-2024-004", "HT-2024-004-02", "2025-03-20", "1122.00", "fee_waiver",
     "终止协议约定免收滞纳金"),
    ("HT-2025-005", None, "2026-02-10", "661.50", "late_fee", "支付尾款滞纳金"),
)
"""Late fees received or waived (Receipts 款项 滞纳金 / 减免滞纳金), clause 7.2."""


class _Pay(NamedTuple):
    """One receipt: ``days`` after the installment's nominal due date (negative: early)."""

    days: int
    amount: str | None = None  # None: the rest of the installment
    linked: bool = True  # False: the receipt names no installment
    note: str | None = None


SMALL_PAYMENTS: dict[str, dict[str, tuple[_Pay, ...]]] = {
    "HT-2024-002": {"final": (_Pay(20),)},
    "HT-2024-003": {"progress1": (_Pay(18),)},
    "HT-2024-004": {"final": (_Pay(39, note="终止结算款"),)},
    "HT-2024-005": {"final": ()},
    "HT-2024-007": {"progress2": (_Pay(47),)},
    "HT-2024-008": {"final": (_Pay(16, "46200.00", note="部分付款，余款未付"),)},
    "HT-2025-001": {"final": (_Pay(25),)},
    "HT-2025-002": {"final": (_Pay(-3, linked=False, note="转账附言未注明款项"),)},
    "HT-2025-003": {"final": (_Pay(-2, "50000.00", note="分两笔支付(1/2)"),
                              _Pay(12, note="分两笔支付(2/2)"))},
    "HT-2025-004": {"final": (_Pay(30),)},
    "HT-2025-005": {"progress1": (_Pay(21),), "final": ()},
    "HT-2025-006": {"prepayment": (_Pay(4, note="宽限期内付款"),), "final": (_Pay(8),)},
    "HT-2025-007": {"prepayment": (_Pay(248),), "final": ()},
    # The worked example of the domain notes: 60,000 x 0.0005 x 10 + 40,000 x 0.0005 x 35.
    "HT-2025-011": {"progress1": (_Pay(10, "60000.00", note="分两笔支付(1/2)"),
                                  _Pay(35, note="分两笔支付(2/2)"))},
    "HT-2026-001": {"prepayment": (_Pay(-4, linked=False, note="转账附言未注明款项"),)},
    "HT-2026-003": {"prepayment": (_Pay(33),)},
    "HT-2026-007": {"progress1": (_Pay(5, "45000.00", note="部分付款"),)},
    "HT-2026-008": {"prepayment": ()},
}
"""Receipts that differ from "paid on time", by contract and installment
(``prepayment``, ``progress1`` ..., ``final``); an empty tuple means nothing paid."""


class _Case(NamedTuple):
    """One incident, its stages in minutes after the report (None: not yet)."""

    contract_id: str
    reported: str
    severity: str
    responded: int | None
    solution: int | None
    resolved: int | None
    paused: int | None = None
    description: str | None = None


SMALL_INCIDENTS: tuple[_Case, ...] = (
    _Case("HT-2025-011", "2026-02-03 09:40", "normal", 120, 200, 320, None,
          "订单同步接口超时（响应恰好2小时）"),
    _Case("HT-2026-006", "2026-06-02 14:00", "normal", 120, 180, 400, None,
          "Product feed sync failure (answered at exactly 2 h)"),
    _Case("HT-2026-002", "2026-03-09 14:05", "normal", 45, 240, 400, None,
          "商品详情页图片加载失败（方案恰好4小时）"),
    _Case("HT-2024-007", "2026-03-18 20:30", "normal", 185, 230, 600, None, "后台订单导出失败"),
    _Case("HT-2025-012", "2026-04-22 11:10", "normal", 35, 330, 720, None, "优惠券核销异常"),
    _Case("HT-2026-001", "2026-05-06 16:20", "normal", 150, 380, 900, None, "退款回调处理失败"),
    _Case("HT-2024-007", "2026-06-18 00:40", "major", 25, 150, 31 * 60, None,
          "6·18大促期间数据库主库宕机"),
    # Working-hours clock: Friday evening to Monday morning is within the limits.
    _Case("HT-2025-010", "2026-03-13 17:30", "normal", 3830, 3900, 4170, None,
          "周五下班前报告：会员积分未到账"),
    _Case("HT-2025-010", "2026-07-07 10:00", "normal", 210, 300, 480, None, "支付回调丢失"),
    _Case("HT-2025-010", "2026-09-11 16:45", "major", 30, 120, 3975, None,
          "周五报告的重大故障：订单服务雪崩"),
    _Case("HT-2026-003", "2026-08-12 13:00", "normal", 60, 300, 600, 90,
          "等待甲方提供支付渠道日志"),
    _Case("HT-2025-011", "2026-10-08 09:00", "major", 40, 200, 30 * 60, 420,
          "CDN证书过期导致全站HTTPS访问失败，等待甲方续费证书"),
    _Case("HT-2026-006", "2026-07-21 22:15", "major", 20, 95, 26 * 60 + 30, None,
          "Checkout service outage"),
    _Case("HT-2024-005", "2026-02-14 21:00", "major", 130, 260, 20 * 60, None,
          "春节前DDoS攻击导致访问中断"),
    _Case("HT-2025-007", "2026-05-19 08:30", "major", 35, 210, 23 * 60 + 55, None, "存储阵列故障"),
    _Case("HT-2026-004", "2026-09-02 10:00", "major", 60, 240, 24 * 60, None,
          "机房网络中断（恰好24小时解决）"),
    _Case("HT-2025-009", "2026-01-20 18:45", "normal", 121, 180, 300, None, "短信验证码发送失败"),
    # Still open on the as-of date.
    _Case("HT-2024-007", "2026-11-23 10:00", "major", 30, 180, None, None, "全站访问返回502"),
    _Case("HT-2026-007", "2026-11-24 15:30", "normal", 50, None, None, None, "物流接口返回错误"),
    _Case("HT-2025-012", "2026-11-24 16:00", "normal", None, None, None, None,
          "后台报表数据不一致"),
    _Case("HT-2026-005", "2026-11-24 09:10", "normal", 25, 110, None, None, "搜索结果排序异常"),
    _Case("HT-2026-002", "2026-11-20 11:00", "normal", 30, 150, None, None,
          "移动端页面样式错乱，待甲方验收"),
)
"""Incidents placed on purpose; :data:`SMALL_ROUTINE_INCIDENTS` more are drawn at random."""

SMALL_ROUTINE_INCIDENTS = 40

SMALL_AVAILABILITY: dict[tuple[str, str], tuple[str, str | None, str | None]] = {
    ("HT-2025-011", "2026-04"): ("43.2", None, "可用性恰好99.9%"),
    ("HT-2024-007", "2026-06"): ("95", None, "6·18数据库主库宕机"),
    ("HT-2026-003", "2026-07"): ("520", None, "存储故障"),
    ("HT-2025-010", "2026-09"): ("2400", None, "机房电力故障"),
    ("HT-2025-012", "2026-08"): ("45", None, "31天月份允许44.6分钟"),
    ("HT-2026-001", "2026-02"): ("40", None, "28天月份允许40.3分钟"),
    ("HT-2025-011", "2026-02"): ("12", "240", "春节前计划维护"),
    ("HT-2026-002", "2026-05"): ("5", "180", "计划维护窗口"),
    ("HT-2024-007", "2026-10"): ("8", "120", "国庆后系统升级"),
}
"""(contract, month) -> (downtime, maintenance minutes, note); other months are random."""

# --- Helpers ----------------------------------------------------------------------


def _rng(seed: int, part: str) -> random.Random:
    """An independent generator per part, so changing one part leaves the others alone."""
    return random.Random(f"contract-tracker-sample:{seed}:{part}")


def _between(rng: random.Random, low: int, high: int) -> int:
    """Like ``rng.randint(low, high)``, at a third of the cost (it is called ~10^5 times)."""
    return low + int(rng.random() * (high - low + 1))


def _fen(fen: int) -> Decimal:
    """An amount in fen as Decimal yuan with two decimals: 12300 -> 123.00."""
    return Decimal(fen).scaleb(-2)


def _to_fen(text: str) -> int:
    return int(Decimal(text) * 100)


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clamped to the month's last day."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    month += 1
    if day.day <= 28:
        return dt.date(year, month, day.day)
    return dt.date(year, month, min(day.day, _month_length(year, month)))


def _month_length(year: int, month: int) -> int:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


def _term_end(start: dt.date, months: int) -> dt.date:
    return _add_months(start, months) - dt.timedelta(days=1)


def _weighted(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _org_check(body: str) -> str:
    """The check character of an organisation code (GB 11714): 8 characters -> 1."""
    total = sum(int(ch, 36) * w for ch, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def _credit_code(rng: random.Random, region: str) -> str:
    """A valid unified social credit code of a company (91) registered in ``region``."""
    if rng.random() < 0.7:  # registered since 2015: the organisation code starts MA
        body = "MA" + "".join(rng.choices(ALPHABET, k=6))
    else:
        body = f"{rng.randrange(10**8):08d}"
    return make_code("91" + region + body + _org_check(body))


def _person(rng: random.Random) -> tuple[str, str, str]:
    """A Chinese name, its surname's and given name's pinyin."""
    surname, s_py = rng.choice(SURNAMES)
    given, g_py = rng.choice(GIVEN_NAMES)
    return surname + given, s_py, g_py


def _phone(rng: random.Random, city: City) -> str:
    if rng.random() < 0.6:
        rest = city.local_digits - 1
        return f"{city.area_code}-{rng.choice('5678')}{rng.randrange(10**rest):0{rest}d}"
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _address(rng: random.Random, city: City) -> str:
    street = rng.choice(city.streets)
    number = _between(rng, 1, 999)
    style = rng.randrange(4)
    if style == 0:
        unit = f"{_between(rng, 1, 12)}幢{_between(rng, 2, 18)}楼"
    elif style == 1:
        unit = f"{_between(rng, 2, 28)}层{_between(rng, 1, 30):02d}室"
    elif style == 2:
        unit = f"{rng.choice('ABCD')}座{_between(rng, 3, 25)}{_between(rng, 1, 20):02d}室"
    else:
        unit = f"{_between(rng, 1, 9)}号楼{_between(rng, 101, 1208)}室"
    return f"{city.prefix}{city.district}{street}{number}号{unit}"


# --- Settings ---------------------------------------------------------------------


def sample_settings() -> Settings:
    """Our company (乙方); every other setting keeps the Settings record's default, and the
    SLA penalty, credit tier and ageing tables are the schema's defaults."""
    values: dict[str, Any] = dict(PROVIDER)
    values["company_credit_code"] = make_code(
        _PROVIDER_CREDIT_PREFIX + _org_check(_PROVIDER_CREDIT_PREFIX[8:]))
    return Settings(
        **values,
        sla_penalties=tuple(
            SlaPenaltyRule(schedule, breach, mode, Decimal(value))
            for schedule, breach, mode, value in DEFAULT_SLA_PENALTIES
        ),
        credit_tiers=tuple(
            CreditTier(schedule, Decimal(below), Decimal(credit))
            for schedule, below, credit in DEFAULT_CREDIT_TIERS
        ),
        ageing=tuple(AgeingBucket(label, lo, hi) for label, lo, hi in DEFAULT_AGEING),
        dunning_final_from=3,  # the sample shows final notices; a new workbook has none
    )


# --- Clients ----------------------------------------------------------------------


def _clients(rng: random.Random, count: int) -> list[Client]:
    """``count`` clients with distinct names (distinct trade names too, while there are
    enough of them); client i gets account manager i mod 5."""
    by_city = {name: [c for c in CITIES if c.name == name] for name in CITY_NAMES}
    n_city, n_trade, n_line = len(CITY_NAMES), len(TRADE_NAMES), len(BUSINESS_LINES)
    picks: list[tuple[int, int, int]]
    if count <= n_trade:
        picks = [(rng.randrange(n_city), trade, rng.randrange(n_line))
                 for trade in rng.sample(range(n_trade), count)]
    else:
        picks = []
        for combo in rng.sample(range(n_city * n_trade * n_line), count):
            rest, line_i = divmod(combo, n_line)
            picks.append((*divmod(rest, n_trade), line_i))
    width = max(4, len(str(count)))
    clients: list[Client] = []
    for i, (city_i, trade_i, line_i) in enumerate(picks):
        city = rng.choice(by_city[CITY_NAMES[city_i]])
        trade, trade_py = TRADE_NAMES[trade_i]
        line, line_tag = BUSINESS_LINES[line_i]
        suffix = _weighted(rng, COMPANY_SUFFIXES)
        if rng.random() < 0.15:
            name = f"{trade}（{city.name}）{line}{suffix}"
        else:
            name = f"{city.name}{trade}{line}{suffix}"
        domain = f"{trade_py}-{line_tag}.{rng.choice(TOP_LEVEL_DOMAINS)}"
        legal_rep = _person(rng)[0]
        contact, s_py, g_py = _person(rng)
        email = f"{s_py}{g_py}@{domain}" if rng.random() < 0.6 else f"{g_py}.{s_py}@{domain}"
        manager, manager_email = ACCOUNT_MANAGERS[i % len(ACCOUNT_MANAGERS)]
        clients.append(Client(
            client_id=f"C{i + 1:0{width}d}",
            name=name,
            legal_rep=legal_rep,
            address=_address(rng, city),
            phone=_phone(rng, city),
            credit_code=_credit_code(rng, city.region),
            contact=contact,
            email=email,
            account_manager=manager,
            manager_email=manager_email,
        ))
    return clients


# --- Fee items --------------------------------------------------------------------


def _fee_items(rng: random.Random, contract_id: str, total_fen: int,
               service_items: str | None) -> list[FeeItem]:
    """2-4 fee items for the contract's service items, adding up to the total exactly."""
    chosen = {int(n) for n in service_items.split(",")} if service_items else set(range(1, 9))
    names = [name for name, item in FEE_ITEM_NAMES if item in chosen]
    picked = [names[0], *rng.sample(names[1:], _between(rng, 1, min(3, len(names) - 1)))]
    picked.sort(key=names.index)
    weights = [rng.uniform(1.0, 3.0) * (2.0 if n == "平台维护费" else 1.0) for n in picked]
    scale = sum(weights)
    amounts = [int(total_fen * w / scale) // 100_000 * 100_000 for w in weights[1:]]
    amounts.insert(0, total_fen - sum(amounts))  # maintenance takes the remainder
    return [FeeItem(contract_id, name, _fen(fen)) for name, fen in zip(picked, amounts,
                                                                     strict=True)]


# --- Incidents ---------------------------------------------------------------------

_INCIDENT_KINDS: tuple[tuple[str, int], ...] = (
    ("clean", 75), ("response", 7), ("solution", 8), ("major", 5), ("paused", 5),
)


def _stages(rng: random.Random, kind: str) -> tuple[str, int, int, int, int | None]:
    """Severity and minutes to response, solution and resolution, and paused minutes."""
    severity = "major" if kind == "major" or (kind == "clean" and rng.random() < 0.1) \
        else "normal"
    paused: int | None = None
    if kind == "response":
        resp = _between(rng, 125, 360)
        sol = resp + _between(rng, 20, 120)
    elif kind == "solution":
        resp = _between(rng, 10, 100)
        sol = _between(rng, 250, 720)
    elif kind == "paused":
        resp = _between(rng, 10, 100)
        paused = _between(rng, 30, 480)
        sol = resp + _between(rng, 30, 230 - resp) + paused
    else:
        resp = _between(rng, 5, 110 if severity == "normal" else 60)
        sol = resp + _between(rng, 10, 235 - resp)
    if kind == "major":
        res = _between(rng, 25 * 60, 72 * 60)
    elif severity == "major":
        res = sol + _between(rng, 60, 23 * 60 - sol)
    else:
        res = sol + _between(rng, 20, 20 * 60)
    return severity, resp, sol, res, paused


def _incident(incident_id: str, contract_id: str, severity: str, reported: dt.datetime,
              resp: int | None, sol: int | None, res: int | None, paused: int | None,
              description: str | None) -> Incident:
    """An incident; a stage after the as-of day began has not happened yet."""
    stages: list[dt.datetime | None] = []
    for minutes in (resp, sol, res):
        at = None if minutes is None else reported + dt.timedelta(minutes=minutes)
        if at is None or at >= _CUTOFF or (stages and stages[-1] is None):
            at = None
        stages.append(at)
    return Incident(incident_id, contract_id, severity, reported, stages[0], stages[1],
                    stages[2], paused if stages[1] is not None else None, description)


def _random_incidents(rng: random.Random, contracts: Sequence[Contract], count: int,
                      earliest: dt.date) -> list[tuple[Any, ...]]:
    """``count`` incidents on contracts in service, reported between ``earliest`` and the
    as-of date, as argument tuples for :func:`_incident` without the id."""
    windows: list[tuple[Contract, dt.datetime, int]] = []
    for c in contracts:
        if c.status not in ("active", "expired", "terminated"):
            continue
        first = dt.datetime.combine(max(c.start_date, earliest), dt.time(0, 0))
        last = min(dt.datetime.combine(c.end_date + dt.timedelta(days=1), dt.time(0, 0)),
                   _CUTOFF)
        minutes = int((last - first).total_seconds()) // 60
        if minutes > 0:
            windows.append((c, first, minutes))
    kinds = [k for k, _ in _INCIDENT_KINDS]
    weights = [w for _, w in _INCIDENT_KINDS]
    out: list[tuple[Any, ...]] = []
    for kind in rng.choices(kinds, weights=weights, k=count):
        contract, first, minutes = rng.choice(windows)
        reported = first + dt.timedelta(minutes=int(rng.random() * minutes))
        if rng.random() < 0.7:  # most problems are reported in the daytime
            daytime = reported.replace(hour=_between(rng, 8, 21))
            if first <= daytime < first + dt.timedelta(minutes=minutes):
                reported = daytime
        severity, resp, sol, res, paused = _stages(rng, kind)
        problems = MAJOR_PROBLEMS if severity == "major" else NORMAL_PROBLEMS
        paused_note = "，等待甲方确认" if paused else ""
        out.append((contract.contract_id, severity, reported, resp, sol, res, paused,
                    rng.choice(problems) + paused_note))
    return out


def _numbered_incidents(rows: list[tuple[Any, ...]]) -> tuple[Incident, ...]:
    rows.sort(key=lambda r: (r[2], r[0]))
    width = max(4, len(str(len(rows))))
    return tuple(
        _incident(f"GZ{i:0{width}d}", *row) for i, row in enumerate(rows, start=1)
    )


# --- Availability ------------------------------------------------------------------


_MONTH_ENDS = tuple(dt.date(m.year, m.month, _month_length(m.year, m.month))
                    for m in AVAILABILITY_MONTHS)


def _in_service_months(contract: Contract) -> list[dt.date]:
    """The months of :data:`AVAILABILITY_MONTHS` in which the contract was in service."""
    if contract.status not in ("active", "expired", "terminated"):
        return []
    start, end = contract.start_date, contract.end_date
    return [m for m, last in zip(AVAILABILITY_MONTHS, _MONTH_ENDS, strict=True)
            if start <= last and end >= m]


def _random_month(rng: random.Random, contract_id: str, month: dt.date,
                  breach_share: float) -> AvailabilityMonth:
    """Mostly 0-20 minutes down, below the 40.3 minutes of the shortest month."""
    r = rng.random()
    if r < breach_share:
        downtime = Decimal(_between(rng, 45, 900))
        note: str | None = "故障停机"
    elif r < 0.45:
        downtime, note = Decimal(0), None
    elif r < 0.92:
        downtime = Decimal(_between(rng, 1, 20)) + (Decimal("0.5") if rng.random() < 0.2 else 0)
        note = None
    else:
        downtime, note = Decimal(_between(rng, 21, 38)), None
    maintenance: Decimal | None = None
    if rng.random() < 0.12:
        maintenance = Decimal(rng.choice((60, 120, 180, 240)))
        note = note or "计划维护窗口"
    return AvailabilityMonth(contract_id, month, downtime, maintenance, note)


# --- Small ------------------------------------------------------------------------


_OUR_PLACE = "上海市浦东新区"


def _district_of(address: str) -> str:
    """``浙江省杭州市西湖区文三路…`` -> ``浙江省杭州市西湖区``, for a signing place."""
    for city in CITIES:
        if address.startswith(city.prefix + city.district):
            return city.prefix + city.district
    return _OUR_PLACE


def _nominal_due(contract: Contract, inst: Installment) -> dt.date:
    """The due date in calendar days, before any working-day or rest-day shift (which
    only ever moves it later)."""
    if inst.due_date is not None:
        return inst.due_date
    if inst.kind == "prepayment":
        return contract.signing_date + dt.timedelta(days=contract.prepay_days or 0)
    return contract.end_date + dt.timedelta(days=contract.final_days or 0)


def _small_book(seed: int) -> Book:
    clients = _clients(_rng(seed, "clients"), SMALL_CLIENTS)
    by_number = {i + 1: c for i, c in enumerate(clients)}
    rng = _rng(seed, "contracts")
    contracts: list[Contract] = []
    fee_items: list[FeeItem] = []
    installments: list[Installment] = []
    plans: list[tuple[Contract, str, Installment]] = []
    for deal in SMALL_DEALS:
        client = by_number[deal.client]
        start = _day(deal.start)
        end = _day(deal.end) if deal.end else _term_end(start, deal.months)
        place = deal.signing_place or (
            _OUR_PLACE if rng.random() < 0.7 else _district_of(client.address))
        contract = Contract(
            contract_id=deal.contract_id,
            client_id=client.client_id,
            signing_date=_day(deal.signing),
            start_date=start,
            end_date=end,
            total_fee=_fen(_to_fen(deal.total)),
            status=deal.status,
            signing_place=place,
            prepayment=_fen(_to_fen(deal.prepayment)),
            prepay_days=deal.prepay_days,
            prepay_day_type=deal.prepay_type,
            final_days=deal.final_days,
            final_day_type=deal.final_type,
            renewal_notice_days=deal.renewal_days,
            confidentiality_years=deal.confidentiality_years,
            service_items=deal.service_items,
            language=deal.language,
            notes=deal.notes,
            **dict(deal.overrides),
        )
        contracts.append(contract)
        fee_items += _fee_items(rng, deal.contract_id, _to_fen(deal.total), deal.service_items)
        rest = _to_fen(deal.total) - _to_fen(deal.prepayment)
        parts: list[tuple[str, str, int, dt.date | None]] = [
            ("prepayment", "prepayment", _to_fen(deal.prepayment), None)]
        for k, (due, amount) in enumerate(deal.progress, start=1):
            parts.append((f"progress{k}", "progress", _to_fen(amount), _day(due)))
            rest -= _to_fen(amount)
        parts.append(("final", "final", rest, None))
        for n, (label, kind, fen, due_date) in enumerate(parts, start=1):
            note = {"prepayment": "预付款", "final": "尾款"}.get(kind) or f"第{n - 1}期进度款"
            inst = Installment(f"{deal.contract_id}-{n:02d}", deal.contract_id, kind,
                               _fen(fen), due_date, note)
            installments.append(inst)
            plans.append((contract, label, inst))

    receipts = _small_receipts(_rng(seed, "receipts"), plans)

    by_id = {c.contract_id: c for c in contracts}
    rows: list[tuple[Any, ...]] = []
    for case in SMALL_INCIDENTS:
        reported = dt.datetime.fromisoformat(case.reported)
        rows.append((case.contract_id, case.severity, reported, case.responded, case.solution,
                     case.resolved, case.paused, case.description))
        assert by_id[case.contract_id].start_date <= reported.date() <= SAMPLE_AS_OF
    rows += _random_incidents(_rng(seed, "incidents"), contracts, SMALL_ROUTINE_INCIDENTS,
                              dt.date(2025, 7, 1))

    arng = _rng(seed, "availability")
    availability: list[AvailabilityMonth] = []
    for c in contracts:
        for month in _in_service_months(c):
            fixed = SMALL_AVAILABILITY.get((c.contract_id, month.isoformat()[:7]))
            if fixed is None:
                availability.append(_random_month(arng, c.contract_id, month, 0.0))
            else:
                down, maint, remark = fixed
                availability.append(AvailabilityMonth(
                    c.contract_id, month, Decimal(down),
                    None if maint is None else Decimal(maint), remark))

    return Book(
        settings=sample_settings(),
        clients=tuple(clients),
        contracts=tuple(contracts),
        fee_items=tuple(fee_items),
        installments=tuple(installments),
        receipts=receipts,
        incidents=_numbered_incidents(rows),
        availability=tuple(availability),
    )


def _small_receipts(rng: random.Random,
                    plans: Sequence[tuple[Contract, str, Installment]]) -> tuple[Receipt, ...]:
    """Receipts: the exceptions of :data:`SMALL_PAYMENTS`, otherwise every installment
    due by the as-of date paid on time."""
    rows: list[tuple[dt.date, str, str | None, int, str | None]] = []
    for contract, label, inst in plans:
        due = _nominal_due(contract, inst)
        pays = SMALL_PAYMENTS.get(contract.contract_id, {}).get(label)
        if pays is None:
            if due > SAMPLE_AS_OF or contract.status in ("draft", "sent", "signed"):
                continue
            earliest = {"prepayment": contract.signing_date,
                        "final": contract.end_date}.get(inst.kind, due - dt.timedelta(days=20))
            day = max(earliest, due - dt.timedelta(days=_between(rng, 0, 6)))
            pays = (_Pay((day - due).days),)
        left = _to_fen(str(inst.amount))
        for pay in pays:
            fen = left if pay.amount is None else _to_fen(pay.amount)
            left -= fen
            day = due + dt.timedelta(days=pay.days)
            assert day <= SAMPLE_AS_OF and left >= 0, (inst.installment_id, day)
            rows.append((day, contract.contract_id,
                         inst.installment_id if pay.linked else None, fen, pay.note))
    rows.sort(key=lambda r: (r[0], r[1]))
    receipts = [Receipt(f"SK{i:04d}", cid, day, _fen(fen), iid, note)
                for i, (day, cid, iid, fen, note) in enumerate(rows, start=1)]
    receipts += [Receipt(f"SK{len(receipts) + i:04d}", cid, dt.date.fromisoformat(day),
                         Decimal(amount), iid, note, purpose)
                 for i, (cid, iid, day, amount, purpose, note) in
                 enumerate(SMALL_FEE_RECEIPTS, start=1)]
    return tuple(receipts)


# --- Large ------------------------------------------------------------------------

_LARGE_FIRST_MONTH = dt.date(2020, 1, 1)
_LARGE_START_MONTHS = 86  # 2020-01 .. 2027-02
_LARGE_TERMS: tuple[tuple[str, int], ...] = (("12", 85), ("24", 12), ("36", 3))


def _large_contracts(rng: random.Random, clients: Sequence[Client]) -> list[Contract]:
    drafts: list[tuple[dt.date, int, dict[str, Any]]] = []
    for i in range(LARGE_CONTRACTS):
        client = clients[i] if rng.random() < 0.9 else rng.choice(clients)
        start = _add_months(_LARGE_FIRST_MONTH, rng.randrange(_LARGE_START_MONTHS))
        months = int(_weighted(rng, _LARGE_TERMS))
        signing = start - dt.timedelta(days=_between(rng, 3, 25))
        end = _term_end(start, months)
        if start > SAMPLE_AS_OF:
            status = "signed" if signing <= SAMPLE_AS_OF else rng.choice(("draft", "sent"))
        elif end < SAMPLE_AS_OF:
            status = "terminated" if rng.random() < 0.04 else "expired"
        else:
            status = "active"
        monthly = _between(rng, 800_000, 5_000_000)  # fen: 8,000.00 - 50,000.00 a month
        if rng.random() < 0.7:
            monthly = monthly // 10_000 * 10_000
        r = rng.random()
        extra: dict[str, Any] = {}
        if r < 0.01:
            extra["late_fee_exempt"] = True
        elif r < 0.03:
            extra["late_fee_rate"] = Decimal("0.0003")
        elif r < 0.06:
            extra["grace_days"] = 5
        elif r < 0.08:
            extra["late_fee_cap_pct"] = Decimal("0.1")
        elif r < 0.11:
            extra["sla_clock"] = "working_hours"
        drafts.append((signing, i, dict(
            client_id=client.client_id,
            signing_date=signing,
            start_date=start,
            end_date=end,
            total_fee=_fen(monthly * months),
            status=status,
            signing_place=_OUR_PLACE if rng.random() < 0.7 else None,
            prepayment=_fen(monthly * months // LARGE_INSTALLMENTS_PER_CONTRACT),
            prepay_days=rng.choice((10, 15, 30)),
            prepay_day_type="working" if rng.random() < 0.2 else "calendar",
            final_days=rng.choice((15, 30)),
            final_day_type="working" if rng.random() < 0.2 else "calendar",
            renewal_notice_days=rng.choice((30, 60, 90)),
            confidentiality_years=rng.choice((2, 3, 5)),
            service_items=rng.choice(SERVICE_ITEM_SETS) if rng.random() < 0.2 else None,
            language="en" if rng.random() < 0.05 else "zh",
            notes="提前终止" if status == "terminated" else None,
            **extra,
        )))
    drafts.sort(key=lambda d: (d[0], d[1]))
    seq: dict[int, int] = {}
    contracts: list[Contract] = []
    for signing, _, fields in drafts:
        seq[signing.year] = seq.get(signing.year, 0) + 1
        contracts.append(Contract(f"HT-{signing.year}-{seq[signing.year]:04d}", **fields))
    return contracts


def _split(rng: random.Random, fen: int, parts: int) -> list[int]:
    """``fen`` in ``parts`` positive amounts, all but the last in whole hundreds of yuan."""
    out: list[int] = []
    left = fen
    for k in range(parts - 1, 0, -1):
        share = int(left * rng.uniform(0.3, 0.7) / (k if k > 1 else 1)) // 10_000 * 10_000
        share = min(max(share, 1), left - k)
        out.append(share)
        left -= share
    out.append(left)
    return out


def _large_receipts(rng: random.Random,
                    plans: Sequence[tuple[Contract, Installment, dt.date]]) -> tuple[Receipt, ...]:
    """Exactly :data:`LARGE_RECEIPTS` receipts over the installments due by the as-of date.

    Each installment gets 0 (missing), 1 or 2 receipts, or one for part of it; then
    whole payments are split (or dropped) until the count is exact.
    """
    due_plans = [p for p in plans if p[2] <= SAMPLE_AS_OF]
    counts: list[int] = []  # receipts per installment; -1: one receipt for part of it
    for _, _, due in due_plans:
        recent = (SAMPLE_AS_OF - due).days <= 365
        r = rng.random()
        if r < (0.05 if recent else 0.004):
            counts.append(0)
        elif recent and r < 0.07:
            counts.append(-1)
        elif r < 0.12:
            counts.append(2)
        else:
            counts.append(1)
    total = sum(abs(n) for n in counts)
    order = list(range(len(counts)))
    rng.shuffle(order)
    for grow_from in (1, 2):  # too few: split whole payments into two, then three
        for i in order:
            if total >= LARGE_RECEIPTS:
                break
            if counts[i] == grow_from:
                counts[i] += 1
                total += 1
    for shrink_from in (3, 2, 1):  # too many: merge split payments, then drop payments
        for i in order:
            if total <= LARGE_RECEIPTS:
                break
            if counts[i] == shrink_from:
                counts[i] -= 1
                total -= 1
    if total != LARGE_RECEIPTS:
        raise RuntimeError(f"cannot place {LARGE_RECEIPTS} receipts on {len(counts)} installments")

    rows: list[tuple[dt.date, str, str | None, int, str | None]] = []
    day1 = dt.timedelta(days=1)
    for (contract, inst, due), n in zip(due_plans, counts, strict=True):
        if n == 0:
            continue
        fen = int(inst.amount * 100)
        cid, iid = contract.contract_id, inst.installment_id
        if n == -1:
            part = _split(rng, fen, 2)[0]
            day = min(due + day1 * _between(rng, 0, 60), SAMPLE_AS_OF)
            rows.append((day, cid, iid, part, "部分付款"))
            continue
        late = rng.random() < 0.18
        if late:
            day = due + day1 * _between(rng, 3, 90)
        else:
            floor = {"prepayment": contract.signing_date,
                     "final": contract.end_date}.get(inst.kind, due - day1 * 20)
            day = max(floor, due - day1 * _between(rng, 0, 7))
        day = min(day, SAMPLE_AS_OF)
        if n == 1:
            linked = inst.kind != "prepayment" or late or rng.random() >= 0.05
            rows.append((day, cid, iid if linked else None, fen, None))
            continue
        for k, part in enumerate(_split(rng, fen, n), start=1):
            rows.append((day, cid, iid, part, f"分{n}笔支付({k}/{n})"))
            day = min(day + day1 * _between(rng, 3, 40), SAMPLE_AS_OF)
    rows.sort(key=lambda r: (r[0], r[1]))
    width = len(str(len(rows)))
    return tuple(
        Receipt(f"SK{i:0{width}d}", cid, day, _fen(fen), iid, note)
        for i, (day, cid, iid, fen, note) in enumerate(rows, start=1)
    )


_NINE_DAYS = dt.timedelta(days=9)  # progress payments fall due on the 10th


def _large_book(seed: int) -> Book:
    clients = _clients(_rng(seed, "clients"), LARGE_CLIENTS)
    rng = _rng(seed, "contracts")
    contracts = _large_contracts(rng, clients)
    fee_items: list[FeeItem] = []
    installments: list[Installment] = []
    plans: list[tuple[Contract, Installment, dt.date]] = []
    last = LARGE_INSTALLMENTS_PER_CONTRACT
    for c in contracts:
        fee_items += _fee_items(rng, c.contract_id, int(c.total_fee * 100), c.service_items)
        total = int(c.total_fee * 100)
        each = total // last
        step = (c.end_date.year * 12 + c.end_date.month - c.start_date.year * 12
                - c.start_date.month + 1) // last
        prepay_due = c.signing_date + dt.timedelta(days=c.prepay_days or 0)
        final_due = c.end_date + dt.timedelta(days=c.final_days or 0)
        signed = c.signing_date <= SAMPLE_AS_OF
        each_yuan = _fen(each)
        for n in range(1, last + 1):
            iid = f"{c.contract_id}-{n:02d}"
            if n == 1:
                inst = Installment(iid, c.contract_id, "prepayment", each_yuan, None, "预付款")
                due = prepay_due
            elif n == last:
                inst = Installment(iid, c.contract_id, "final", _fen(total - each * (last - 1)),
                                   None, "尾款")
                due = final_due
            else:
                due = _add_months(c.start_date, step * (n - 1)) + _NINE_DAYS
                inst = Installment(iid, c.contract_id, "progress", each_yuan, due,
                                   f"第{n - 1}期服务费")
            installments.append(inst)
            if signed:
                plans.append((c, inst, due))
    receipts = _large_receipts(_rng(seed, "receipts"), plans)
    incidents = _numbered_incidents(_random_incidents(
        _rng(seed, "incidents"), contracts, LARGE_INCIDENTS, _LARGE_FIRST_MONTH))
    arng = _rng(seed, "availability")
    availability = tuple(
        _random_month(arng, c.contract_id, month, 0.05)
        for c in contracts for month in _in_service_months(c)
    )
    return Book(
        settings=sample_settings(),
        clients=tuple(clients),
        contracts=tuple(contracts),
        fee_items=tuple(fee_items),
        installments=tuple(installments),
        receipts=receipts,
        incidents=incidents,
        availability=availability,
    )


# --- Entry point -----------------------------------------------------------------


def sample_book(size: str = "small", seed: int = 2026) -> Book:
    """Sample records: ``"small"`` for the bundled workbook, ``"large"`` for benchmarks.

    The same ``size`` and ``seed`` always give an equal Book.
    """
    if size == "small":
        return _small_book(seed)
    if size == "large":
        return _large_book(seed)
    raise ValueError(f"unknown sample size {size!r}; choose one of {', '.join(SIZES)}")
