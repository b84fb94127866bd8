"""The master workbook's schema, defined once.

Every sheet, table and column of ``workbook/contracts.xlsm`` is declared here. The
workbook builder, the reader, validation and ``docs/schema.md`` are all derived from
these declarations, so a column is added or renamed in exactly one place.

Headers are bilingual in one cell: ``中文标签 (english_key)``. The reader matches a
column by the English key in the trailing parentheses, so users may reword the
Chinese label; a header without a known key is reported as a renamed column.
Clause numbers (``clause``) cite the seed contract a column comes from.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

FIRST_DAY = dt.date(1990, 1, 1)
LAST_DAY = dt.date(2099, 12, 31)
"""Dates outside these are typing slips (9999-12-31 for "no end", 1900-01-00): the
workbook's data validation and the reader both refuse them, so that no date arithmetic
(a notice period back, decades of late days forward) leaves the calendar."""

# Largest plausible values of counts and rates; anything larger is a typing slip that
# would otherwise carry a date out of the calendar or a fee past Decimal's precision.
MAX_DAYS = 3650  # ten years of days: periods, grace, notice, reminders
MAX_YEARS = 100
MAX_HOURS_OF_DAY = 24
MAX_SLA_HOURS = Decimal(8784)  # a leap year of hours
MAX_PAUSED_MINUTES = 527040  # a leap year of minutes
MAX_DAILY_RATE = Decimal("0.1")  # 10 % a day; the contract's 7.2 says 0.05 %
USUAL_DAILY_RATE_MAX = Decimal("0.003")
"""Above 0.3 % a day (千分之三, 109.5 % a year) a daily rate is most likely a percentage
typed as a fraction (0.05 meant as 0.05 %): a warning, the row is kept."""

SCHEMA_VERSION = 1
"""Bumped whenever a sheet or column changes in a way older workbooks cannot satisfy."""


class Kind(str, Enum):
    """How a cell's value is parsed and validated."""

    ID = "id"  # text key; numbers typed into it become text without ".0"
    TEXT = "text"
    DATE = "date"
    DATETIME = "datetime"
    MONTH = "month"  # a date whose day is ignored; 2026-03 accepted as text
    MONEY = "money"  # Decimal, >= 0, two decimals
    DECIMAL = "decimal"  # Decimal, >= 0
    PERCENT = "percent"  # Decimal fraction: 99.9 % is stored as 0.999
    INT = "int"  # whole number >= 0
    BOOL = "bool"
    ENUM = "enum"


@dataclass(frozen=True)
class Choice:
    """One allowed value of an enum column: the key the code uses and the Chinese label."""

    key: str
    zh: str


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    kind: Kind
    required: bool = False
    doc: str = ""
    choices: tuple[Choice, ...] = ()
    ref: str | None = None  # "Clients" means: must be a client_id on the Clients sheet
    unique: bool = False
    width: float | None = None
    clause: str = ""
    maximum: int | Decimal | None = None  # larger values are typing slips: refused

    @property
    def header(self) -> str:
        return f"{self.zh} ({self.key})"


@dataclass(frozen=True)
class Table:
    """An Excel table on a user-owned sheet; ``first_col`` is 0-based."""

    name: str
    sheet: str
    zh: str
    columns: tuple[Column, ...]
    doc: str = ""
    first_col: int = 0

    def column(self, key: str) -> Column:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(key)


@dataclass(frozen=True)
class Setting:
    """One row of the Settings table (key / value); its default is the field's default
    in :class:`contract_tracker.records.Settings`."""

    key: str
    zh: str
    kind: Kind
    doc: str = ""
    required: bool = False
    choices: tuple[Choice, ...] = ()
    clause: str = ""
    maximum: int | Decimal | None = None


@dataclass(frozen=True)
class ToolSheet:
    name: str
    zh: str
    doc: str


HEADER_RE = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9_]*)\s*\)\s*$")


def header_key(text: object) -> str | None:
    """The English key of a header cell, ``'到期日 (due_date)'`` -> ``'due_date'``."""
    if not isinstance(text, str):
        return None
    match = HEADER_RE.search(text)
    if match:
        return match.group(1)
    bare = text.strip()
    return bare if re.fullmatch(r"[a-z][a-z0-9_]*", bare) else None


def _c(key: str, zh: str, kind: Kind, **kw: object) -> Column:
    return Column(key, zh, kind, **kw)  # type: ignore[arg-type]


STATUS_CHOICES = (
    Choice("draft", "草稿"),
    Choice("sent", "已发送"),
    Choice("signed", "已签署"),
    Choice("active", "履行中"),
    Choice("expired", "已到期"),
    Choice("terminated", "已终止"),
)
DAY_TYPE_CHOICES = (Choice("calendar", "自然日"), Choice("working", "工作日"))
DUE_BASIS_CHOICES = (
    Choice("date", "固定日期"),
    Choice("signing", "签订后"),
    Choice("term_end", "期满后"),
)
INSTALLMENT_KIND_CHOICES = (
    Choice("prepayment", "预付款"),
    Choice("progress", "进度款"),
    Choice("final", "尾款"),
)
SEVERITY_CHOICES = (Choice("normal", "一般"), Choice("major", "重大"))
CLOCK_CHOICES = (Choice("24x7", "7x24小时"), Choice("working_hours", "工作时间"))
LANGUAGE_CHOICES = (Choice("zh", "中文"), Choice("en", "英文"))
HOLIDAY_KIND_CHOICES = (Choice("rest", "放假"), Choice("work", "调休上班"))
PURPOSE_INSTALLMENT, PURPOSE_LATE_FEE, PURPOSE_FEE_WAIVER = "installment", "late_fee", "fee_waiver"
RECEIPT_PURPOSE_CHOICES = (
    Choice(PURPOSE_INSTALLMENT, "分期款"),
    Choice(PURPOSE_LATE_FEE, "滞纳金"),
    Choice(PURPOSE_FEE_WAIVER, "减免滞纳金"),
)
FEE_PURPOSES = frozenset({PURPOSE_LATE_FEE, PURPOSE_FEE_WAIVER})
"""Receipt purposes that settle late fees (clause 7.2) instead of paying an installment."""
PENALTY_MODE_CHOICES = (Choice("fixed", "固定金额"), Choice("percent", "月费比例"))
BREACH_CHOICES = (
    Choice("response", "响应超时"),
    Choice("solution", "方案超时"),
    Choice("major", "重大故障超时"),
)

SERVICE_ITEMS: tuple[str, ...] = (
    "平台技术维护",
    "平台功能开发",
    "平台内容管理",
    "平台数据分析",
    "平台推广支持",
    "客户服务支持",
    "数据备份与恢复",
    "安全防护",
)
"""Clause 1.1's eight service items, numbered 1 to 8 in the Contracts sheet."""

# --- Settings (key / value) -------------------------------------------------------

SETTINGS: tuple[Setting, ...] = (
    Setting("company_name", "乙方公司全称", Kind.TEXT, required=True, clause="首部"),
    Setting("company_legal_rep", "乙方法定代表人", Kind.TEXT, required=True, clause="首部"),
    Setting("company_address", "乙方注册地址", Kind.TEXT, required=True, clause="首部"),
    Setting("company_phone", "乙方联系电话", Kind.ID, required=True, clause="首部"),
    Setting("company_credit_code", "乙方统一社会信用代码", Kind.ID, required=True, clause="首部"),
    Setting("bank_account_name", "账户名称", Kind.TEXT, required=True, clause="3.3"),
    Setting("bank_name", "开户银行", Kind.TEXT, required=True, clause="3.3"),
    Setting("bank_account_no", "银行账号", Kind.ID, required=True, clause="3.3"),
    Setting(
        "late_fee_rate", "滞纳金日费率", Kind.DECIMAL,
        "Late fee per day on the overdue amount (万分之五).", clause="7.2",
        maximum=MAX_DAILY_RATE,
    ),
    Setting("grace_days", "宽限天数", Kind.INT, "Days after the due date before a fee starts.",
            maximum=MAX_DAYS),
    Setting(
        "late_fee_cap_pct", "滞纳金上限(占分期金额)", Kind.PERCENT,
        "Cap on one installment's total late fee; blank means no cap.",
    ),
    Setting(
        "move_due_off_rest_days", "到期日遇节假日顺延", Kind.BOOL,
        "A due date on a statutory rest day moves to the next working day (民法典第203条).",
    ),
    Setting("sla_response_hours", "响应时限(小时)", Kind.DECIMAL, clause="1.2(1)",
            maximum=MAX_SLA_HOURS),
    Setting("sla_solution_hours", "解决方案时限(小时)", Kind.DECIMAL, clause="1.2(1)",
            maximum=MAX_SLA_HOURS),
    Setting("sla_major_hours", "重大故障解决时限(小时)", Kind.DECIMAL, clause="1.2(2)",
            maximum=MAX_SLA_HOURS),
    Setting("availability_target", "可用性目标", Kind.PERCENT, clause="1.2(3)"),
    Setting(
        "sla_clock", "SLA计时方式", Kind.ENUM,
        "24x7 counts every minute; working_hours counts 09:00-18:00 on Chinese working days.",
        choices=CLOCK_CHOICES, clause="1.2(3)",
    ),
    Setting("work_day_start", "工作时间开始(时)", Kind.INT, maximum=MAX_HOURS_OF_DAY),
    Setting("work_day_end", "工作时间结束(时)", Kind.INT, maximum=MAX_HOURS_OF_DAY),
    Setting(
        "sla_schedule", "默认SLA违约金方案", Kind.ID,
        "Schedule name in the SLA penalty and credit tables below.",
    ),
    Setting(
        "sla_monthly_cap_pct", "SLA违约金月度上限(占月费)", Kind.PERCENT,
        "SLA penalties and credits of one contract-month never exceed this share of its fee.",
    ),
    Setting("due_soon_days", "即将到期提醒天数", Kind.INT, maximum=MAX_DAYS),
    Setting(
        "dunning_final_from", "第几次催款为最后催告", Kind.INT,
        "Items chased in this many weekly reports in a row get a final notice "
        "(最后催款通知函, which says the next step is a lawsuit) from then on; 0 or blank: "
        "never.", maximum=52,
    ),
    Setting("output_folder", "输出文件夹", Kind.TEXT),
    Setting("language", "默认语言", Kind.ENUM, choices=LANGUAGE_CHOICES),
    Setting(
        "lpr_one_year", "一年期LPR", Kind.PERCENT,
        "For the risk flag: a late-fee rate above LPR x 1.5 may be reduced by a court.",
    ),
    Setting("backups_kept", "保留备份份数", Kind.INT, maximum=1000),
)

SETTINGS_TABLE = Table(
    "tblSettings", "Settings", "参数",
    (
        _c("key", "参数", Kind.ID, required=True, unique=True, width=26),
        _c("label", "名称", Kind.TEXT, width=28),
        _c("value", "值", Kind.TEXT, width=34),
        _c("note", "说明", Kind.TEXT, width=40),
    ),
    "Our company and the defaults every contract inherits unless it overrides them.",
)

SLA_PENALTY_TABLE = Table(
    "tblSlaPenalties", "Settings", "SLA违约金方案",
    (
        _c("schedule", "方案", Kind.ID, required=True, width=10),
        _c("breach", "违约类型", Kind.ENUM, required=True, choices=BREACH_CHOICES, width=14),
        _c("mode", "计算方式", Kind.ENUM, required=True, choices=PENALTY_MODE_CHOICES, width=12),
        _c("value", "金额或比例", Kind.DECIMAL, required=True, width=12,
           doc="A sum in yuan (fixed) or a fraction of the monthly fee (percent)."),
    ),
    "What one SLA breach costs us, per schedule.",
    first_col=5,
)

CREDIT_TIER_TABLE = Table(
    "tblCreditTiers", "Settings", "可用性服务抵扣",
    (
        _c("schedule", "方案", Kind.ID, required=True, width=10),
        _c("below", "可用性低于", Kind.PERCENT, required=True, width=12),
        _c("credit_pct", "抵扣月费比例", Kind.PERCENT, required=True, width=14),
    ),
    "Service credits by monthly availability: the lowest tier the month falls below applies.",
    first_col=10,
)

AGEING_TABLE = Table(
    "tblAgeing", "Settings", "账龄区间",
    (
        _c("label", "区间", Kind.TEXT, required=True, width=12),
        _c("from_days", "起(天)", Kind.INT, required=True, width=8, maximum=100 * MAX_DAYS),
        _c("to_days", "止(天)", Kind.INT, width=8, doc="Blank for open-ended.",
           maximum=100 * MAX_DAYS),
    ),
    "Ageing buckets of overdue amounts, in days overdue.",
    first_col=14,
)

HOLIDAY_TABLE = Table(
    "tblHolidays", "Settings", "节假日安排",
    (
        _c("day", "日期", Kind.DATE, required=True, width=12,
           doc="The first day of the range (or the one day)."),
        _c("until", "至", Kind.DATE, width=12, doc="The last day of the range; blank: one day."),
        _c("kind", "类型", Kind.ENUM, required=True, choices=HOLIDAY_KIND_CHOICES, width=10,
           doc="放假 (rest): days off, weekdays included; 调休上班 (work): a make-up working "
               "day, usually a Saturday or Sunday."),
        _c("name", "节日", Kind.TEXT, width=10),
    ),
    "Only for a year the installed chinesecalendar package does not cover yet: the State "
    "Council's holiday arrangement for it (国务院办公厅关于部分节假日安排的通知), typed "
    "in whole, every range of days off and every make-up working day. Working days, and "
    "so working-day due dates, due dates moved off rest days and working-hours SLA "
    "clocks, then follow it; once the package is upgraded to cover the year, the package "
    "is used and the rows for that year are only checked against it.",
    first_col=18,
)

# --- Master data ------------------------------------------------------------------

CLIENTS = Table(
    "tblClients", "Clients", "客户",
    (
        _c("client_id", "客户编号", Kind.ID, required=True, unique=True, width=12),
        _c("name", "甲方公司全称", Kind.TEXT, required=True, width=30, clause="首部"),
        _c("legal_rep", "法定代表人", Kind.TEXT, required=True, width=12, clause="首部"),
        _c("address", "注册地址", Kind.TEXT, required=True, width=36, clause="首部"),
        _c("phone", "联系电话", Kind.ID, required=True, width=16, clause="首部"),
        _c("credit_code", "统一社会信用代码", Kind.ID, required=True, width=22, clause="首部",
           doc="18 characters, GB 32100-2015; a wrong check character is a warning."),
        _c("contact", "联系人", Kind.TEXT, width=10),
        _c("email", "联系人邮箱", Kind.TEXT, width=26),
        _c("account_manager", "客户经理", Kind.TEXT, required=True, width=10),
        _c("manager_email", "客户经理邮箱", Kind.TEXT, width=26),
    ),
    "One row per client (甲方).",
)

_CONTRACT_COLUMNS: tuple[Column, ...] = (
    _c("contract_id", "合同编号", Kind.ID, required=True, unique=True, width=16),
    _c("client_id", "客户编号", Kind.ID, required=True, ref="Clients", width=12),
    _c("title", "合同名称", Kind.TEXT, width=28, doc="Blank: 电子商务平台运营维护合同."),
    _c("signing_date", "签订日期", Kind.DATE, required=True, width=12),
    _c("signing_place", "签订地点", Kind.TEXT, width=12),
    _c("start_date", "起始日期", Kind.DATE, required=True, width=12, clause="2.1"),
    _c("end_date", "结束日期", Kind.DATE, required=True, width=12, clause="2.1"),
    _c("total_fee", "服务费用总额", Kind.MONEY, required=True, width=16, clause="3.1"),
    _c("prepayment", "预付款金额", Kind.MONEY, width=14, clause="3.4"),
    _c("prepay_days", "预付款期限(天)", Kind.INT, width=10, clause="3.4",
       doc="Due N days after signing.", maximum=MAX_DAYS),
    _c("prepay_day_type", "预付款天数类型", Kind.ENUM, choices=DAY_TYPE_CHOICES, width=10,
       clause="3.4", doc="Blank: calendar days."),
    _c("final_days", "尾款期限(天)", Kind.INT, width=10, clause="3.4",
       doc="The rest is due N days after the term ends.", maximum=MAX_DAYS),
    _c("final_day_type", "尾款天数类型", Kind.ENUM, choices=DAY_TYPE_CHOICES, width=10,
       clause="3.4", doc="Blank: calendar days."),
    _c("renewal_notice_days", "续约通知期(天)", Kind.INT, width=10, clause="2.2",
       maximum=MAX_DAYS),
    _c("confidentiality_years", "保密年限", Kind.INT, width=8, clause="5.2",
       maximum=MAX_YEARS),
    _c("service_items", "服务内容", Kind.TEXT, width=14, clause="1.1",
       doc="Item numbers 1-8 of clause 1.1, e.g. '1,2,7,8'; blank means all eight."),
    _c("late_fee_rate", "滞纳金日费率", Kind.DECIMAL, width=10, clause="7.2",
       doc="Blank: the Settings default.", maximum=MAX_DAILY_RATE),
    _c("grace_days", "宽限天数", Kind.INT, width=8, doc="Blank: the Settings default.",
       maximum=MAX_DAYS),
    _c("late_fee_cap_pct", "滞纳金上限", Kind.PERCENT, width=10, doc="Blank: Settings."),
    _c("late_fee_exempt", "免收滞纳金", Kind.BOOL, width=8, doc="是 waives all late fees."),
    _c("move_due_off_rest_days", "节假日顺延", Kind.BOOL, width=8, doc="Blank: Settings."),
    _c("sla_response_hours", "响应时限(小时)", Kind.DECIMAL, width=10, clause="1.2(1)",
       maximum=MAX_SLA_HOURS),
    _c("sla_solution_hours", "方案时限(小时)", Kind.DECIMAL, width=10, clause="1.2(1)",
       maximum=MAX_SLA_HOURS),
    _c("sla_major_hours", "重大故障时限(小时)", Kind.DECIMAL, width=10, clause="1.2(2)",
       maximum=MAX_SLA_HOURS),
    _c("availability_target", "可用性目标", Kind.PERCENT, width=10, clause="1.2(3)"),
    _c("sla_clock", "SLA计时方式", Kind.ENUM, choices=CLOCK_CHOICES, width=12),
    _c("work_day_start", "工作时间开始(时)", Kind.INT, width=8, maximum=MAX_HOURS_OF_DAY,
       doc="Hour the working-hours clock starts (0-23); blank: Settings."),
    _c("work_day_end", "工作时间结束(时)", Kind.INT, width=8, maximum=MAX_HOURS_OF_DAY,
       doc="Hour it stops (1-24, after the start); blank: Settings."),
    _c("sla_schedule", "SLA违约金方案", Kind.ID, width=10, doc="Blank: Settings."),
    _c("sla_monthly_cap_pct", "SLA违约金月度上限", Kind.PERCENT, width=10,
       doc="Cap on a month's SLA penalties and credits, share of the monthly fee; "
           "blank: Settings."),
    _c("monthly_fee", "月服务费", Kind.MONEY, width=14,
       doc="Base for percentage penalties; blank: total fee / months of the term."),
    _c("language", "模板语言", Kind.ENUM, choices=LANGUAGE_CHOICES, width=8),
    _c("status", "状态", Kind.ENUM, required=True, choices=STATUS_CHOICES, width=10),
    _c("notes", "备注", Kind.TEXT, width=24),
)

CONTRACTS = Table(
    "tblContracts", "Contracts", "合同", _CONTRACT_COLUMNS,
    "One row per service contract. Blank override columns inherit the Settings defaults.",
)

FEE_ITEMS = Table(
    "tblFeeItems", "FeeItems", "费用组成",
    (
        _c("contract_id", "合同编号", Kind.ID, required=True, ref="Contracts", width=16),
        _c("item", "费用项目", Kind.TEXT, required=True, width=20, clause="3.2"),
        _c("amount", "金额", Kind.MONEY, required=True, width=16, clause="3.2"),
        _c("note", "说明", Kind.TEXT, width=30),
    ),
    "The fee breakdown of clause 3.2; items of a contract should add up to its total fee.",
)

INSTALLMENTS = Table(
    "tblInstallments", "Installments", "付款计划",
    (
        _c("installment_id", "分期编号", Kind.ID, required=True, unique=True, width=16),
        _c("contract_id", "合同编号", Kind.ID, required=True, ref="Contracts", width=16),
        _c("kind", "款项类型", Kind.ENUM, required=True, choices=INSTALLMENT_KIND_CHOICES,
           width=10),
        _c("amount", "金额", Kind.MONEY, required=True, width=16, clause="3.4"),
        _c("due_date", "到期日", Kind.DATE, width=12,
           doc="A fixed due date; blank: computed from the contract's rule for this kind."),
        _c("note", "说明", Kind.TEXT, width=24),
    ),
    "The payment schedule. A prepayment or final payment without a due date takes the "
    "contract's rule (N calendar or working days after signing / after the term ends).",
)

RECEIPTS = Table(
    "tblReceipts", "Receipts", "收款",
    (
        _c("receipt_id", "收款编号", Kind.ID, required=True, unique=True, width=16),
        _c("contract_id", "合同编号", Kind.ID, required=True, ref="Contracts", width=16),
        _c("installment_id", "分期编号", Kind.ID, ref="Installments", width=16,
           doc="Blank: pays the oldest open installment of the contract (a receipt of "
               "滞纳金 / 减免滞纳金: settles its oldest fees)."),
        _c("date", "收款日期", Kind.DATE, required=True, width=12),
        _c("amount", "金额", Kind.MONEY, required=True, width=16),
        _c("purpose", "款项", Kind.ENUM, choices=RECEIPT_PURPOSE_CHOICES, width=12, clause="7.2",
           doc="Blank or 分期款: pays an installment. 滞纳金: a late fee received; 减免滞纳金: "
               "a late fee waived (no money). Both settle the fee of the installment named, "
               "else the contract's fees oldest first; a letter then asks only for the rest."),
        _c("note", "说明", Kind.TEXT, width=24),
    ),
    "Money received from clients, and late fees received or waived.",
)

INCIDENTS = Table(
    "tblIncidents", "Incidents", "故障",
    (
        _c("incident_id", "故障编号", Kind.ID, required=True, unique=True, width=14),
        _c("contract_id", "合同编号", Kind.ID, required=True, ref="Contracts", width=16),
        _c("severity", "级别", Kind.ENUM, required=True, choices=SEVERITY_CHOICES, width=8),
        _c("reported_at", "报告时间", Kind.DATETIME, required=True, width=17, clause="1.2"),
        _c("responded_at", "响应时间", Kind.DATETIME, width=17, clause="1.2(1)"),
        _c("solution_at", "提供方案时间", Kind.DATETIME, width=17, clause="1.2(1)"),
        _c("resolved_at", "解决时间", Kind.DATETIME, width=17, clause="1.2(2)"),
        _c("paused_minutes", "等待甲方(分钟)", Kind.INT, width=10, maximum=MAX_PAUSED_MINUTES,
           doc="Minutes the clock was stopped waiting on the client."),
        _c("description", "描述", Kind.TEXT, width=30),
    ),
    "Problems reported by clients, with the SLA clock's stops.",
)

AVAILABILITY = Table(
    "tblAvailability", "Availability", "可用性",
    (
        _c("contract_id", "合同编号", Kind.ID, required=True, ref="Contracts", width=16),
        _c("month", "月份", Kind.MONTH, required=True, width=10),
        _c("downtime_minutes", "停机(分钟)", Kind.DECIMAL, required=True, width=10),
        _c("maintenance_minutes", "计划维护(分钟)", Kind.DECIMAL, width=12,
           doc="Agreed maintenance windows, excluded from the month."),
        _c("note", "说明", Kind.TEXT, width=24),
    ),
    "Monthly downtime per contract (clause 1.2(3): 7x24 at 99.9 %).",
)

SETTINGS_TABLES: tuple[Table, ...] = (
    SETTINGS_TABLE, SLA_PENALTY_TABLE, CREDIT_TIER_TABLE, AGEING_TABLE, HOLIDAY_TABLE,
)
DATA_TABLES: tuple[Table, ...] = (
    CLIENTS, CONTRACTS, FEE_ITEMS, INSTALLMENTS, RECEIPTS, INCIDENTS, AVAILABILITY,
)
USER_TABLES: tuple[Table, ...] = DATA_TABLES + SETTINGS_TABLES

TOOL_SHEETS: tuple[ToolSheet, ...] = (
    ToolSheet("Dashboard", "仪表板", "Payment, SLA and renewal flags per contract."),
    ToolSheet("Workings", "计算过程", "How every late fee and SLA figure was computed."),
    ToolSheet("Problems", "数据问题", "Every problem found in the data, linked to its cell."),
    ToolSheet("Log", "日志", "What the tool did and which files it wrote."),
)
TOOL_SHEET_NAMES = frozenset(s.name for s in TOOL_SHEETS)

USER_SHEETS: tuple[str, ...] = (
    "Clients", "Contracts", "FeeItems", "Installments", "Receipts", "Incidents",
    "Availability", "Settings",
)
SHEET_ORDER: tuple[str, ...] = ("Dashboard", *USER_SHEETS, "Workings", "Problems", "Log")
SHEET_ZH: dict[str, str] = {
    "Clients": "客户", "Contracts": "合同", "FeeItems": "费用组成", "Installments": "付款计划",
    "Receipts": "收款", "Incidents": "故障", "Availability": "可用性", "Settings": "参数",
    **{s.name: s.zh for s in TOOL_SHEETS},
}

DEFAULT_SLA_PENALTIES: tuple[tuple[str, str, str, str], ...] = (
    ("STD", "response", "fixed", "500"),
    ("STD", "solution", "fixed", "1000"),
    ("STD", "major", "percent", "0.05"),
)
DEFAULT_CREDIT_TIERS: tuple[tuple[str, str, str], ...] = (
    ("STD", "0.999", "0.05"),
    ("STD", "0.99", "0.10"),
    ("STD", "0.95", "0.30"),
)
DEFAULT_AGEING: tuple[tuple[str, int, int | None], ...] = (
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("91-180", 91, 180),
    (">180", 181, None),
)


def tables_on(sheet: str) -> tuple[Table, ...]:
    return tuple(t for t in USER_TABLES if t.sheet == sheet)


def setting(key: str) -> Setting:
    for s in SETTINGS:
        if s.key == key:
            return s
    raise KeyError(key)


def col_letter(index: int) -> str:
    """0-based column index to Excel letters: 0 -> A, 27 -> AB."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def choice_key(choices: tuple[Choice, ...], text: str) -> str | None:
    """The key of a choice typed as its key or its Chinese label (case-insensitive)."""
    t = text.strip().casefold()
    for ch in choices:
        if t in (ch.key.casefold(), ch.zh.casefold()):
            return ch.key
    return None
