"""The child's details the SEN2 return needs, with the return's code lists.

A caseworker sends them inside ``child`` on ``POST /assessments``; ``ChildDetails`` keeps
every extra key, so they land in ``children.extra`` in the case store. ``Sen2Child``
checks them against the code lists of the SEN2 person-level schema (collection year
2024, ``schema/SEN2_schema_2024.xsd``) when the return is made, and ``problems`` turns a
failure into sentences a manager can act on, naming the field but never echoing the value
(it is personal data).

- ``sex`` (required): Sex, M, F or U.
- ``ethnicity`` (required): Ethnicity, DfE's main codes (``ETHNICITY``).
- ``postcode`` (required): PostCode.
- ``upn``, ``uln`` or ``upn_unknown_reason`` (one of them): UPN, UniqueLearnerNumber,
  UPNunknown (UN1-UN10).
- ``rya`` (optional, true/false): RYA, request made in relevant youth accommodation.
- ``setting`` (required once a plan is issued): SENSetting of the placement named in the
  plan (``SEN_SETTING``); ``setting_urn`` / ``setting_ukprn`` (optional): its URN (6
  digits) or UKPRN (8 digits).
- ``sen_unit``, ``resourced_provision`` (optional, default false): SENunitIndicator,
  ResourcedProvisionIndicator.
- ``sen_type`` (optional, checked if sent): SENtype of the primary need (``SEN_TYPE``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Sex = Literal["M", "F", "U"]
Ethnicity = Literal[
    "WBRI",
    "WIRI",
    "WIRT",
    "WOTH",
    "WROM",
    "MWBC",
    "MWBA",
    "MWAS",
    "MOTH",
    "AIND",
    "APKN",
    "ABAN",
    "AOTH",
    "BCRB",
    "BAFR",
    "BOTH",
    "CHNE",
    "OOTH",
    "REFU",
    "NOBT",
]
UpnUnknown = Literal["UN1", "UN2", "UN3", "UN4", "UN5", "UN6", "UN7", "UN8", "UN9", "UN10"]
SenSetting = Literal["OLA", "EHE", "EYP", "OPA", "OTH", "NEET", "NIEC", "NIEO"]
SenType = Literal[
    "SPLD",
    "MLD",
    "SLD",
    "PMLD",
    "SEMH",
    "SLCN",
    "HI",
    "VI",
    "MSI",
    "PD",
    "ASD",
    "OTH",
]

SEX: dict[str, str] = {"M": "Male", "F": "Female", "U": "Unknown"}
ETHNICITY: dict[str, str] = {
    "WBRI": "White British",
    "WIRI": "White Irish",
    "WIRT": "Traveller of Irish heritage",
    "WOTH": "Any other White background",
    "WROM": "Gypsy/Roma",
    "MWBC": "White and Black Caribbean",
    "MWBA": "White and Black African",
    "MWAS": "White and Asian",
    "MOTH": "Any other mixed background",
    "AIND": "Indian",
    "APKN": "Pakistani",
    "ABAN": "Bangladeshi",
    "AOTH": "Any other Asian background",
    "BCRB": "Caribbean",
    "BAFR": "African",
    "BOTH": "Any other black background",
    "CHNE": "Chinese",
    "OOTH": "Any other ethnic group",
    "REFU": "Refused",
    "NOBT": "Information not yet obtained",
}
SEN_SETTING: dict[str, str] = {
    "OLA": "Other arrangements made by the LA (CFA s.61, education otherwise than at school)",
    "OPA": "Other arrangements made by parents or young person (CFA s.42(5)), not EHE",
    "EHE": "Elective home education",
    "EYP": "Early years provider with no GIAS URN",
    "OTH": "Other",
    "NEET": "Not in education, employment or training (aged 16-25)",
    "NIEC": "Not in education or training - notice to cease issued",
    "NIEO": "Not in education - other (for example awaiting placement)",
}
SEN_TYPE: dict[str, str] = {
    "SPLD": "Specific learning difficulty",
    "MLD": "Moderate learning difficulty",
    "SLD": "Severe learning difficulty",
    "PMLD": "Profound and multiple learning difficulty",
    "SEMH": "Social, emotional and mental health",
    "SLCN": "Speech, language and communication needs",
    "HI": "Hearing impairment",
    "VI": "Vision impairment",
    "MSI": "Multi-sensory impairment",
    "PD": "Physical disability",
    "ASD": "Autistic spectrum disorder",
    "OTH": "Other difficulty",
}
UPN_UNKNOWN: tuple[str, ...] = get_args(UpnUnknown)

UPN_PATTERN = r"^[A-Za-z](\d{12}|\d{11}[A-Za-z])$"
ULN_PATTERN = r"^\d{10}$"
URN_PATTERN = r"^\d{6}$"
UKPRN_PATTERN = r"^\d{8}$"
# A UK postcode: outward code, a space (optional on input), inward code.
POSTCODE_PATTERN = r"^[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}$"

NO_IDENTIFIER = (
    "child has no upn, uln or upn_unknown_reason: send one of them "
    "(upn_unknown_reason UN1-UN10 when the UPN is not known)"
)

_CODE_FIELDS = ("sex", "ethnicity", "upn_unknown_reason", "setting", "sen_type")

# What to tell a manager when a field is wrong (the value itself is never repeated).
_HINTS: dict[str, str] = {
    "sex": "child.sex must be M, F or U",
    "ethnicity": "child.ethnicity must be one of DfE's ethnicity codes ("
    + ", ".join(ETHNICITY)
    + ")",
    "postcode": "child.postcode must be a UK postcode (for example NE8 1HH)",
    "upn": "child.upn must be a UPN: a letter then 12 digits, or a letter, 11 digits and a letter",
    "uln": "child.uln must be 10 digits",
    "upn_unknown_reason": "child.upn_unknown_reason must be one of UN1 to UN10",
    "setting": "child.setting must be one of the SEN2 setting codes ("
    + ", ".join(SEN_SETTING)
    + ")",
    "setting_urn": "child.setting_urn must be a 6-digit URN",
    "setting_ukprn": "child.setting_ukprn must be an 8-digit UKPRN",
    "sen_type": "child.sen_type must be one of the SEN2 need codes (" + ", ".join(SEN_TYPE) + ")",
    "rya": "child.rya must be true or false",
    "sen_unit": "child.sen_unit must be true or false",
    "resourced_provision": "child.resourced_provision must be true or false",
    "given_name": "the child's given name is missing",
    "family_name": "the child's family name is missing",
    "date_of_birth": "the child's date of birth is missing or not a date",
}


class Sen2Child(BaseModel):
    """A child's details checked against the SEN2 code lists."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    date_of_birth: date
    sex: Sex
    ethnicity: Ethnicity
    postcode: str = Field(pattern=POSTCODE_PATTERN)
    upn: str | None = Field(default=None, pattern=UPN_PATTERN)
    uln: str | None = Field(default=None, pattern=ULN_PATTERN)
    upn_unknown_reason: UpnUnknown | None = None
    rya: bool | None = None
    setting: SenSetting | None = None
    setting_urn: str | None = Field(default=None, pattern=URN_PATTERN)
    setting_ukprn: str | None = Field(default=None, pattern=UKPRN_PATTERN)
    sen_unit: bool = False
    resourced_provision: bool = False
    sen_type: SenType | None = None

    @field_validator(*_CODE_FIELDS, mode="before")
    @classmethod
    def _upper_code(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("postcode", "upn", mode="before")
    @classmethod
    def _upper_text(cls, value: Any) -> Any:
        return " ".join(value.split()).upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _identifier(self) -> Sen2Child:
        if not (self.upn or self.uln or self.upn_unknown_reason):
            raise ValueError("no_identifier")
        return self

    @property
    def postcode_formatted(self) -> str:
        """The postcode with its single space before the inward code (``NE81HH`` ->
        ``NE8 1HH``)."""
        compact = self.postcode.replace(" ", "")
        return f"{compact[:-3]} {compact[-3:]}"


def problems(error: ValidationError) -> list[str]:
    """Sentences for each failure in ``error``; none repeats the value that was sent."""
    sentences: list[str] = []
    for err in error.errors():
        loc = [str(p) for p in err.get("loc", ())]
        name = loc[0] if loc else ""
        if not name and "no_identifier" in str(err.get("msg", "")):
            sentence = NO_IDENTIFIER
        elif err.get("type") == "missing" or (loc and err.get("input", "") is None):
            hint = _HINTS.get(name, "")
            sentence = f"child.{name} is missing" + (f" ({hint})" if hint else "")
        else:
            sentence = _HINTS.get(name, f"child.{name} is not valid")
        if sentence not in sentences:
            sentences.append(sentence)
    return sentences


def check_child(data: dict[str, Any]) -> tuple[Sen2Child | None, list[str]]:
    """``data`` as a ``Sen2Child``, or the sentences saying what is wrong with it (all of
    it at once, so one round of corrections is enough)."""
    try:
        return Sen2Child.model_validate(data), []
    except ValidationError as exc:
        found = problems(exc)
    if not any(data.get(key) for key in ("upn", "uln", "upn_unknown_reason")) and (
        NO_IDENTIFIER not in found
    ):
        found.append(NO_IDENTIFIER)
    return None, found
