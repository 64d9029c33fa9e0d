"""Emulated S/4HANA ``API_COSTCENTER_SRV``: a deterministic cost-center data set behind OData V2.

The shape follows the published EDMX (cpi-facts section 8): entity sets ``A_CostCenter`` and
``A_CostCenterText``, both read-only, joined by ``to_Text``/``to_CostCenter``. The data are made up
but plausible: four controlling areas, eight company codes, 240 cost centers whose ids follow the
SAP Best Practices pattern ``<company code><department><sequence>`` (``10101101``), each with an
English and a German text. The same seed always gives byte-identical answers.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from iflowtest.emulator.odata import EntitySet, Navigation, ODataService, Property, ServiceModel, ServiceResponse

__all__ = ["SERVICE_PATH", "CostCenterService", "ServiceResponse", "cost_center_model"]

SERVICE_PATH = "/sap/opu/odata/sap/API_COSTCENTER_SRV"
NAMESPACE = "API_COSTCENTER_SRV"
END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)


def _text(name: str, max_length: int, label: str, *, upper: bool = True, key: bool = False) -> Property:
    sap = (("display-format", "UpperCase"),) if upper else ()
    return Property(name, "Edm.String", max_length, nullable=not key, sap=(*sap, ("label", label)))


def _date(name: str, label: str, *, key: bool = False) -> Property:
    sap = (("display-format", "Date"), ("label", label))
    return Property(name, "Edm.DateTime", nullable=not key, precision=0, sap=sap)


_BLOCKING_FLAGS = (
    ("IsBlkdForPrimaryCostsPosting", "Actual primary costs"),
    ("IsBlkdForSecondaryCostsPosting", "Actl Sec. Costs"),
    ("IsBlockedForRevenuePosting", "Actual Revenues"),
    ("IsBlockedForCommitmentPosting", "Commitment Update"),
    ("IsBlockedForPlanPrimaryCosts", "Plan primary costs"),
    ("IsBlockedForPlanSecondaryCosts", "Lock Plan Sec Costs"),
    ("IsBlockedForPlanRevenues", "Lock Planning Revn"),
)


def cost_center_model() -> ServiceModel:
    """The schema of ``API_COSTCENTER_SRV`` with the EDMX's names, types, lengths and labels."""
    cost_center = EntitySet(
        name="A_CostCenter",
        entity_type="A_CostCenterType",
        keys=("ControllingArea", "CostCenter", "ValidityEndDate"),
        label="Cost Center",
        properties=(
            _text("ControllingArea", 4, "Controlling Area", key=True),
            _text("CostCenter", 10, "Cost Center", key=True),
            _date("ValidityEndDate", "Valid To", key=True),
            _date("ValidityStartDate", "Valid From"),
            _text("CompanyCode", 4, "Company Code"),
            _text("BusinessArea", 4, "Business Area"),
            _text("CostCtrResponsiblePersonName", 20, "Person Responsible", upper=False),
            _text("CostCtrResponsibleUser", 12, "User Responsible"),
            Property(
                "CostCenterCurrency", "Edm.String", 5, sap=(("label", "Currency"), ("semantics", "currency-code"))
            ),
            _text("ProfitCenter", 10, "Profit Center"),
            _text("Department", 12, "Department", upper=False),
            _text("CostingSheet", 6, "Costing Sheet"),
            _text("FunctionalArea", 16, "Functional Area"),
            _text("Country", 3, "Country Key"),
            _text("Region", 3, "Region"),
            _text("CityName", 35, "City", upper=False),
            _text("CostCenterStandardHierArea", 12, "Hierarchy Area"),
            _text("CostCenterCategory", 1, "Cost Center Category"),
            *(_text(name, 1, label) for name, label in _BLOCKING_FLAGS),
            _text("ConsumptionQtyIsRecorded", 1, "Record Quantity"),
            _text("Language", 2, "Language Key", upper=False),
            _text("CostCenterCreatedByUser", 12, "Created By"),
            _date("CostCenterCreationDate", "Entered On"),
        ),
        navigations=(
            Navigation(
                "to_Text",
                "A_CostCenterText",
                (("ControllingArea", "ControllingArea"), ("CostCenter", "CostCenter")),
            ),
        ),
    )
    text = EntitySet(
        name="A_CostCenterText",
        entity_type="A_CostCenterTextType",
        keys=("CostCenter", "ControllingArea", "Language", "ValidityEndDate"),
        label="Cost Center Text",
        properties=(
            _text("CostCenter", 10, "Cost Center", key=True),
            _text("ControllingArea", 4, "Controlling Area", key=True),
            _text("Language", 2, "Language Key", upper=False, key=True),
            _date("ValidityEndDate", "Valid To", key=True),
            _date("ValidityStartDate", "Valid From"),
            _text("CostCenterName", 20, "Cost Center Name", upper=False),
            _text("CostCenterDescription", 40, "Cost Center Desc.", upper=False),
        ),
        navigations=(
            Navigation(
                "to_CostCenter",
                "A_CostCenter",
                (
                    ("ControllingArea", "ControllingArea"),
                    ("CostCenter", "CostCenter"),
                    ("ValidityEndDate", "ValidityEndDate"),
                ),
                many=False,
            ),
        ),
    )
    return ServiceModel(NAMESPACE, (cost_center, text), container=f"{NAMESPACE}_Entities")


@dataclass(frozen=True)
class _CompanyCode:
    code: str
    controlling_area: str
    country: str
    currency: str
    city: str
    region: str
    language: str
    size: int  # how many cost centers it gets
    surnames: tuple[str, ...]


# Four controlling areas: Europe (EUR), Americas (USD), UK (GBP), Japan (JPY). The first surname of
# each list heads the first department, so every seed has the same awkward names (O'Brien, Müller).
_COMPANY_CODES = (
    _CompanyCode("1010", "A000", "DE", "EUR", "Walldorf", "BW", "DE", 48, ("Müller", "Schmidt", "Weiß", "Becker", "Hoffmann", "Schäfer", "Koch", "Wagner")),
    _CompanyCode("1020", "A000", "DE", "EUR", "Hamburg", "HH", "DE", 32, ("Schulz", "Fischer", "Krüger", "Wolf", "Neumann", "Braun")),
    _CompanyCode("1030", "A000", "DE", "EUR", "München", "BY", "DE", 28, ("Huber", "Bauer", "Maier", "Gruber", "Rößler", "Zimmermann")),
    _CompanyCode("1210", "A000", "FR", "EUR", "Paris", "", "FR", 26, ("Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Roux")),
    _CompanyCode("1710", "B000", "US", "USD", "Palo Alto", "CA", "EN", 36, ("Smith", "Johnson", "Garcia", "Miller", "Davis", "Nguyen")),
    _CompanyCode("1720", "B000", "US", "USD", "New York", "NY", "EN", 24, ("Brown", "Wilson", "Taylor", "Anderson", "Thomas", "Moore")),
    _CompanyCode("1110", "C000", "GB", "GBP", "London", "", "EN", 24, ("O'Brien", "Jones", "Williams", "Evans", "Walker", "Wright")),
    _CompanyCode("1510", "D000", "JP", "JPY", "Tokyo", "13", "JA", 22, ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito")),
)  # fmt: skip

# Department code (3rd-4th digit of the id) → name, short EN/DE texts, category, functional area.
_DEPARTMENTS = (
    ("11", "FINANCE", "Finance & Admin", "Finanzen & Verw.", "H", "YB40"),
    ("12", "PURCHASING", "Purchasing", "Einkauf", "L", "YB30"),
    ("13", "SALES", "Sales & Marketing", "Vertrieb & Mktg", "V", "YB20"),
    ("14", "PRODUCTION", "Production", "Produktion", "F", "YB10"),
    ("15", "R&D", "Research & Dev.", "Forschung & Entw.", "E", "YB50"),
    ("16", "IT", "IT Services", "IT-Services", "H", "YB40"),
    ("17", "HR", "Human Resources", "Personal", "W", "YB40"),
)
_CREATORS = ("CC0000000001", "CC0000000002", "CC0000000007")
_INITIALS = "ABCDEFGHJKLMNPRSTW"
_ASCII = str.maketrans({"ä": "AE", "ö": "OE", "ü": "UE", "ß": "SS", "è": "E", "é": "E", "'": ""})


def _build_rows(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    centers: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []
    for company in _COMPANY_CODES:
        for index in range(company.size):
            dept, department, name_en, name_de, category, functional_area = _DEPARTMENTS[index % len(_DEPARTMENTS)]
            sequence = index // len(_DEPARTMENTS) + 1
            surname = company.surnames[0] if index == 0 else rng.choice(company.surnames)
            initial = rng.choice(_INITIALS)
            start = datetime(rng.randrange(2015, 2024), rng.randrange(1, 13), 1, tzinfo=UTC)
            blocked = rng.random() < 0.06
            center: dict[str, Any] = {
                "ControllingArea": company.controlling_area,
                "CostCenter": f"{company.code}{dept}{sequence:02d}",
                "ValidityEndDate": END_OF_TIME,
                "ValidityStartDate": start,
                "CompanyCode": company.code,
                "BusinessArea": "",
                "CostCtrResponsiblePersonName": f"{initial}. {surname}",
                "CostCtrResponsibleUser": (initial + surname.lower().translate(_ASCII)).upper()[:12],
                "CostCenterCurrency": company.currency,
                "ProfitCenter": f"YB{company.code}{dept}",
                "Department": department,
                "CostingSheet": "PP-PC1" if category == "F" else "",
                "FunctionalArea": functional_area,
                "Country": company.country,
                "Region": company.region,
                "CityName": company.city,
                "CostCenterStandardHierArea": f"YB{company.country}_{company.code}",
                "CostCenterCategory": category,
                **{flag: "X" if blocked and flag.startswith("IsBlkd") else "" for flag, _ in _BLOCKING_FLAGS},
                "ConsumptionQtyIsRecorded": "X" if category == "F" else "",
                "Language": company.language,
                "CostCenterCreatedByUser": rng.choice(_CREATORS),
                "CostCenterCreationDate": start - timedelta(days=rng.randrange(0, 30)),
            }
            centers.append(center)
            suffix = f" {sequence}" if sequence > 1 else ""
            for language, name, description in (
                ("EN", name_en + suffix, f"{name_en}{suffix} {company.city} ({company.code})"),
                ("DE", name_de + suffix, f"{name_de}{suffix} {company.city} ({company.code})"),
            ):
                texts.append(
                    {
                        "CostCenter": center["CostCenter"],
                        "ControllingArea": center["ControllingArea"],
                        "Language": language,
                        "ValidityEndDate": END_OF_TIME,
                        "ValidityStartDate": start,
                        "CostCenterName": name,
                        "CostCenterDescription": description,
                    }
                )
    centers.sort(key=lambda row: (row["ControllingArea"], row["CostCenter"]))
    texts.sort(key=lambda row: (row["CostCenter"], row["ControllingArea"], row["Language"]))
    return centers, texts


class CostCenterService:
    """Read-only ``API_COSTCENTER_SRV`` over a deterministic in-memory data set."""

    def __init__(self, seed: int = 20240101) -> None:
        self.seed = seed
        centers, texts = _build_rows(seed)
        self._odata = ODataService(cost_center_model(), {"A_CostCenter": centers, "A_CostCenterText": texts})

    def handle(
        self,
        method: str,
        subpath: str,
        query: Mapping[str, str],
        *,
        accept: str | None,
        service_root: str,
    ) -> ServiceResponse:
        """Answer one request below the service root (``subpath`` and ``query`` already decoded)."""
        return self._odata.handle(method, subpath, query, accept=accept, service_root=service_root)

    def lookup(self, controlling_area: str, cost_center: str) -> dict[str, Any] | None:
        """A copy of the current row of a cost center, or None."""
        row = self._odata.find("A_CostCenter", (controlling_area, cost_center, END_OF_TIME))
        return None if row is None else dict(row)

    def names(self, controlling_area: str, cost_center: str) -> dict[str, str]:
        """Language → CostCenterName of one cost center (empty if there is no such cost center)."""
        return {
            row["Language"]: row["CostCenterName"]
            for row in self.text_rows
            if row["ControllingArea"] == controlling_area and row["CostCenter"] == cost_center
        }

    def company_codes(self, country: str | None = None) -> list[str]:
        """Sorted company codes, optionally only those in ``country``."""
        return sorted({row["CompanyCode"] for row in self.rows if country is None or row["Country"] == country})

    def controlling_areas(self) -> list[str]:
        """Sorted controlling areas."""
        return sorted({row["ControllingArea"] for row in self.rows})

    @property
    def rows(self) -> Sequence[Mapping[str, Any]]:
        """The ``A_CostCenter`` rows (dates as aware UTC datetimes), in key order."""
        return self._odata.rows("A_CostCenter")

    @property
    def text_rows(self) -> Sequence[Mapping[str, Any]]:
        """The ``A_CostCenterText`` rows: one per cost center and language (EN, DE)."""
        return self._odata.rows("A_CostCenterText")
