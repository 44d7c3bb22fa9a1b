"""Helpers shared by the eForms and TED XML parsers: code tables, text, dates and finishing.

Everything here is pure and precomputed at import time (the parsers run on every notice of a
bulk import, so nothing is compiled or looked up per call that could be done once).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

from lxml import etree

from monitor.contract import Notice, normalise, validate
from monitor.errors import ContractError, InputError

TED_NOTICE_URL: Final = "https://ted.europa.eu/en/notice/-/detail/{source_id}"

# ISO 3166-1 alpha-3 -> alpha-2 (eForms writes countries in alpha-3, the contract wants alpha-2).
# The eForms "country" code list also has a few EU-specific codes (e.g. "1A" Kosovo in TED XML,
# "XKX" in eForms); those are mapped where they have a conventional alpha-2 user code.
_ALPHA3: Final = (
    "ABW AW AFG AF AGO AO AIA AI ALA AX ALB AL AND AD ARE AE ARG AR ARM AM ASM AS ATA AQ ATF TF "
    "ATG AG AUS AU AUT AT AZE AZ BDI BI BEL BE BEN BJ BES BQ BFA BF BGD BD BGR BG BHR BH BHS BS "
    "BIH BA BLM BL BLR BY BLZ BZ BMU BM BOL BO BRA BR BRB BB BRN BN BTN BT BVT BV BWA BW CAF CF "
    "CAN CA CCK CC CHE CH CHL CL CHN CN CIV CI CMR CM COD CD COG CG COK CK COL CO COM KM CPV CV "
    "CRI CR CUB CU CUW CW CXR CX CYM KY CYP CY CZE CZ DEU DE DJI DJ DMA DM DNK DK DOM DO DZA DZ "
    "ECU EC EGY EG ERI ER ESH EH ESP ES EST EE ETH ET FIN FI FJI FJ FLK FK FRA FR FRO FO FSM FM "
    "GAB GA GBR GB GEO GE GGY GG GHA GH GIB GI GIN GN GLP GP GMB GM GNB GW GNQ GQ GRC GR GRD GD "
    "GRL GL GTM GT GUF GF GUM GU GUY GY HKG HK HMD HM HND HN HRV HR HTI HT HUN HU IDN ID IMN IM "
    "IND IN IOT IO IRL IE IRN IR IRQ IQ ISL IS ISR IL ITA IT JAM JM JEY JE JOR JO JPN JP KAZ KZ "
    "KEN KE KGZ KG KHM KH KIR KI KNA KN KOR KR KWT KW LAO LA LBN LB LBR LR LBY LY LCA LC LIE LI "
    "LKA LK LSO LS LTU LT LUX LU LVA LV MAC MO MAF MF MAR MA MCO MC MDA MD MDG MG MDV MV MEX MX "
    "MHL MH MKD MK MLI ML MLT MT MMR MM MNE ME MNG MN MNP MP MOZ MZ MRT MR MSR MS MTQ MQ MUS MU "
    "MWI MW MYS MY MYT YT NAM NA NCL NC NER NE NFK NF NGA NG NIC NI NIU NU NLD NL NOR NO NPL NP "
    "NRU NR NZL NZ OMN OM PAK PK PAN PA PCN PN PER PE PHL PH PLW PW PNG PG POL PL PRI PR PRK KP "
    "PRT PT PRY PY PSE PS PYF PF QAT QA REU RE ROU RO RUS RU RWA RW SAU SA SDN SD SEN SN SGP SG "
    "SGS GS SHN SH SJM SJ SLB SB SLE SL SLV SV SMR SM SOM SO SPM PM SRB RS SSD SS STP ST SUR SR "
    "SVK SK SVN SI SWE SE SWZ SZ SXM SX SYC SC SYR SY TCA TC TCD TD TGO TG THA TH TJK TJ TKL TK "
    "TKM TM TLS TL TON TO TTO TT TUN TN TUR TR TUV TV TWN TW TZA TZ UGA UG UKR UA UMI UM URY UY "
    "USA US UZB UZ VAT VA VCT VC VEN VE VGB VG VIR VI VNM VN VUT VU WLF WF WSM WS YEM YE ZAF ZA "
    "ZMB ZM ZWE ZW XKX XK"
).split()
COUNTRY_ALPHA3_TO_ALPHA2: Final[dict[str, str]] = dict(zip(_ALPHA3[::2], _ALPHA3[1::2], strict=True))

# TED XML writes alpha-2, but with the EU's own conventions for two countries (and "1A" for
# Kosovo); the contract wants ISO 3166.
TED_COUNTRY_FIXES: Final[dict[str, str]] = {"UK": "GB", "EL": "GR", "1A": "XK"}

# eForms language codes (EU "language" authority table, ISO 639-2/3 in capitals) -> ISO 639-1.
# Both the /T and /B spellings are listed because older SDKs and converters used either.
_LANGUAGES: Final = (
    "BUL bg CES cs CZE cs DAN da DEU de GER de ELL el GRE el ENG en SPA es EST et FIN fi FRA fr "
    "FRE fr GLE ga HRV hr HUN hu ITA it LIT lt LAV lv MLT mt NLD nl DUT nl POL pl POR pt RON ro "
    "RUM ro SLK sk SLO sk SLV sl SWE sv NOR no NOB nb NNO nn ISL is ICE is SQI sq ALB sq MKD mk "
    "MAC mk SRP sr BOS bs CNR sr TUR tr UKR uk RUS ru LTZ lb CAT ca EUS eu BAQ eu GLG gl"
).split()
LANGUAGE_3_TO_1: Final[dict[str, str]] = dict(zip(_LANGUAGES[::2], _LANGUAGES[1::2], strict=True))

# TED XML gives a tender deadline as a local date and time without a zone: the buyer's local
# time. We take the zone of the buyer's country (the capital's zone). Assumption, documented:
# countries spanning several zones (ES with the Canary Islands, PT with the Azores, FR with its
# overseas departments when they report FR) are read in the mainland zone; a country not listed
# here (EU delegations abroad, which set deadlines in Brussels time) falls back to Brussels.
COUNTRY_TIMEZONE: Final[dict[str, str]] = {
    "AT": "Europe/Vienna",
    "BE": "Europe/Brussels",
    "BG": "Europe/Sofia",
    "CH": "Europe/Zurich",
    "CY": "Asia/Nicosia",
    "CZ": "Europe/Prague",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "EE": "Europe/Tallinn",
    "ES": "Europe/Madrid",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "GR": "Europe/Athens",
    "HR": "Europe/Zagreb",
    "HU": "Europe/Budapest",
    "IE": "Europe/Dublin",
    "IS": "Atlantic/Reykjavik",
    "IT": "Europe/Rome",
    "LI": "Europe/Vaduz",
    "LT": "Europe/Vilnius",
    "LU": "Europe/Luxembourg",
    "LV": "Europe/Riga",
    "MT": "Europe/Malta",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "PL": "Europe/Warsaw",
    "PT": "Europe/Lisbon",
    "RO": "Europe/Bucharest",
    "SE": "Europe/Stockholm",
    "SI": "Europe/Ljubljana",
    "SK": "Europe/Bratislava",
    "AL": "Europe/Tirane",
    "BA": "Europe/Sarajevo",
    "ME": "Europe/Podgorica",
    "MK": "Europe/Skopje",
    "RS": "Europe/Belgrade",
    "XK": "Europe/Belgrade",
    "MD": "Europe/Chisinau",
    "UA": "Europe/Kiev",
    "TR": "Europe/Istanbul",
    "GE": "Asia/Tbilisi",
    "AM": "Asia/Yerevan",
    "AD": "Europe/Andorra",
    "MC": "Europe/Monaco",
    "SM": "Europe/San_Marino",
    "VA": "Europe/Vatican",
    "GI": "Europe/Gibraltar",
    "FO": "Atlantic/Faroe",
    "RE": "Indian/Reunion",
    "YT": "Indian/Mayotte",
    "MQ": "America/Martinique",
    "GP": "America/Guadeloupe",
    "GF": "America/Cayenne",
}
DEFAULT_TIMEZONE: Final = "Europe/Brussels"

# A deadline given as a date without a time is taken as the end of that day (the day itself is
# still open for submission), in the buyer's zone.
END_OF_DAY: Final = time(23, 59, 59)

_PUBLICATION_NUMBER = re.compile(r"(\d{4})\s*/\s*S\s*0*\d{1,3}\s*-\s*0*(\d{1,6})")
_TED_ID = re.compile(r"^0*([1-9]\d*)-(\d{4})$")
_SPACE = re.compile(r"\s+")
# C0/C1 control characters (but tab and newline) that some buyers' systems leave in texts
# ("Framework \x8d Market"): they are invisible at best and break CSV/terminal output at worst.
_CONTROLS: Final = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)])
_XS_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})(?::(\d{2}))?(?:\.\d+)?(.*)$")


def country_from_alpha3(code: str | None) -> str | None:
    """An eForms country code ("NLD") as ISO alpha-2 ("NL"); None when unknown."""
    if not code:
        return None
    return COUNTRY_ALPHA3_TO_ALPHA2.get(code.strip().upper())


def country_from_ted(code: str | None) -> str | None:
    """A TED XML country code as ISO alpha-2 ("UK" -> "GB", "EL" -> "GR"); None when malformed."""
    if not code:
        return None
    code = code.strip().upper()
    code = TED_COUNTRY_FIXES.get(code, code)
    return code if len(code) == 2 and code.isalpha() else None


def language_from_alpha3(code: str | None) -> str | None:
    """An eForms language code ("ENG") as ISO 639-1 ("en"); None when unknown."""
    if not code:
        return None
    return LANGUAGE_3_TO_1.get(code.strip().upper())


@lru_cache(maxsize=128)
def zone_for_country(country: str | None) -> tzinfo:
    """The time zone deadlines of a buyer in `country` are read in (see COUNTRY_TIMEZONE)."""
    return ZoneInfo(COUNTRY_TIMEZONE.get(country or "", DEFAULT_TIMEZONE))


def ted_number_from_oj(reference: str | None) -> str | None:
    """An OJ S notice number ("2020/S 063-154324") as a TED publication number ("154324-2020")."""
    if not reference:
        return None
    match = _PUBLICATION_NUMBER.search(reference)
    if match:
        return f"{int(match.group(2))}-{match.group(1)}"
    match = _TED_ID.match(reference.strip())
    return f"{match.group(1)}-{match.group(2)}" if match else None


def ted_notice_url(source_id: str) -> str:
    """The public TED page of a published notice."""
    return TED_NOTICE_URL.format(source_id=source_id)


def plain(text: str | None) -> str | None:
    """`text` without control characters (white space is left to `contract.normalise`)."""
    return text.translate(_CONTROLS) if text else text


def element_text(element: etree._Element | None) -> str | None:
    """The plain text of a TED XML rich-text element: `<P>` paragraphs joined by newlines."""
    if element is None:
        return None
    paragraphs = [p for p in element if isinstance(p.tag, str) and p.tag.endswith("P")]
    if paragraphs:
        parts = (_SPACE.sub(" ", "".join(p.itertext())).strip() for p in paragraphs)
        text = "\n".join(part for part in parts if part)
    else:
        text = _SPACE.sub(" ", "".join(element.itertext())).strip()
    return plain(text) or None


def parse_offset(text: str) -> timezone | None:
    """A UTC offset written after an xs:date or xs:time ("Z", "+02:00"); None when absent."""
    text = text.strip()
    if not text:
        return None
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    hours, _, minutes = text[1:].partition(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


def parse_xs_date(value: str) -> tuple[date, timezone | None]:
    """An xs:date with its optional offset ("2020-02-04+02:00")."""
    value = value.strip()
    return date.fromisoformat(value[:10]), parse_offset(value[10:])


def parse_xs_time(value: str) -> tuple[time, timezone | None]:
    """An xs:time with its optional offset ("10:00:00+02:00", "10:00:00Z", "10:00")."""
    value = value.strip()
    match = _XS_TIME.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a time")
    clock = time(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))
    return clock, parse_offset(match.group(4))


def first(values: Iterable[str | None]) -> str | None:
    """The first non-empty string of `values`."""
    for value in values:
        if value and value.strip():
            return value.strip()
    return None


def to_float(value: str | None) -> float | None:
    """A monetary amount as a float; None when absent or not a non-negative number."""
    if value is None:
        return None
    text = value.strip().replace(" ", "").replace("\u00a0", "")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number >= 0 and number == number and number != float("inf") else None


def aware(moment: datetime) -> datetime:
    """`moment` unchanged; a guard that a parser never hands out a naive datetime."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone")
    return moment


def finish(notice: Notice, origin: str) -> Notice:
    """Normalise and validate a parsed notice; `InputError` listing every problem otherwise."""
    try:
        normalise(notice)
    except ContractError as error:
        raise InputError(origin, f"{error.field}: {error.reason}") from error
    problems = validate(notice)
    if problems:
        raise InputError(origin, "; ".join(problems))
    return notice
