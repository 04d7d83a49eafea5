"""Domain enumerations. Columns store their values as plain strings, so adding a member
needs no migration."""

from enum import StrEnum


class AssetClass(StrEnum):
    FX = "fx"
    RATES = "rates"
    EQUITY = "equity"
    COMMODITY = "commodity"
    CREDIT = "credit"
    CRYPTO = "crypto"
    VOLATILITY = "volatility"


class Frequency(StrEnum):
    TICK = "tick"
    MINUTE = "minute"
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"


class Country(StrEnum):
    US = "US"
    EA = "EA"
    GB = "GB"
    JP = "JP"
    CN = "CN"
    DE = "DE"
    FR = "FR"
    IT = "IT"
    CA = "CA"
    AU = "AU"
    CH = "CH"
    BR = "BR"
    MX = "MX"
    IN = "IN"
    GLOBAL = "GLOBAL"


class CurveType(StrEnum):
    NOMINAL = "nominal"
    REAL = "real"
    BREAKEVEN = "breakeven"
    SWAP = "swap"
    OIS = "ois"
    FORWARD = "forward"


class FlowType(StrEnum):
    PORTFOLIO_EQUITY = "portfolio_equity"
    PORTFOLIO_DEBT = "portfolio_debt"
    FDI = "fdi"
    CFTC_POSITIONING = "cftc_positioning"
    ETF = "etf"
    FUND = "fund"


class FiscalMetric(StrEnum):
    DEFICIT = "deficit"
    DEBT = "debt"
    ISSUANCE = "issuance"
    REVENUE = "revenue"
    SPENDING = "spending"
    TGA_BALANCE = "tga_balance"
