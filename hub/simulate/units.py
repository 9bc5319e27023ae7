"""The province's units (land-registry branches, communes) and their officers, made from a seed."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from hub.simulate.people import Officer, Roster
from hub.simulate.systems import VENDORS

DESK_DEPT = "Bộ phận Tiếp nhận và Trả kết quả"
CIVIL_DEPT = "Công chức Tư pháp - Hộ tịch"

# district number, district name, its communes/wards (kind, name)
DISTRICTS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("01", "Tam Kỳ", (("phường", "An Mỹ"), ("phường", "Bàn Thạch"), ("phường", "Hương Trà"),
                      ("xã", "Tam Thanh"), ("xã", "Tam Phú"))),
    ("02", "Hội An", (("phường", "Minh An"), ("phường", "Cẩm Phô"), ("xã", "Cẩm Thanh"),
                      ("xã", "Tân Hiệp"))),
    ("05", "Điện Bàn", (("phường", "Điện Bàn"), ("phường", "Điện An"), ("xã", "Điện Hồng"),
                        ("xã", "Điện Thọ"))),
    ("07", "Đại Lộc", (("xã", "Đại Hiệp"), ("xã", "Đại Lãnh"), ("xã", "Đại Quang"))),
    ("09", "Duy Xuyên", (("xã", "Duy Trung"), ("xã", "Duy Nghĩa"), ("xã", "Nam Phước"))),
    ("12", "Thăng Bình", (("xã", "Thăng Bình"), ("xã", "Bình Minh"), ("xã", "Bình Dương"),
                          ("xã", "Bình Trung"))),
    ("13", "Quế Sơn", (("xã", "Quế Phú"), ("xã", "Quế Xuân"))),
    ("15", "Núi Thành", (("xã", "Núi Thành"), ("xã", "Tam Xuân"), ("xã", "Tam Hải"))),
)  # fmt: skip


@dataclass(slots=True)
class Unit:
    code: str  # 000.SS.DD.H49
    name: str  # DonViXuLy
    vendor: str  # the one-stop product the unit's desk runs
    tax_office: str
    desk: list[Officer] = field(default_factory=list)  # one-stop desk officers
    staff: list[Officer] = field(default_factory=list)  # specialists / civil-status clerks
    leaders: list[Officer] = field(default_factory=list)
    weight: float = 1.0  # its share of the province's dossiers, relative to its peers


class Province:
    """Units and officers of one province (Quảng Nam, H49), made from a seed."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"province/{seed}")
        roster = Roster()
        self.land_units: list[Unit] = []
        self.communes: list[Unit] = []
        # one officer per tax office: two districts share an office, the later one's stays
        self.tax_officers: dict[str, Officer] = {}
        for index, (dnum, dname, communes) in enumerate(DISTRICTS):
            tax_office = f"Thuế cơ sở {index // 2 + 1} tỉnh Quảng Nam"
            branch_name = f"Chi nhánh Văn phòng đăng ký đất đai {dname}"
            branch = Unit(
                f"000.00.{dnum}.H49",
                branch_name,
                rng.choice(VENDORS),
                tax_office,
                weight=rng.uniform(0.6, 1.6),
            )
            branch.desk = [roster.officer(rng, "Công chức một cửa", DESK_DEPT) for _ in range(2)]
            branch.staff = [
                roster.officer(rng, "Chuyên viên", branch_name) for _ in range(rng.randint(4, 6))
            ]
            branch.leaders = [roster.officer(rng, "Phó Giám đốc Chi nhánh", "Lãnh đạo Chi nhánh")]
            self.land_units.append(branch)
            self.tax_officers[tax_office] = roster.officer(rng, "Công chức thuế", tax_office)
            numbers = sorted(rng.sample(range(11, 41), len(communes)))
            for num, (kind, cname) in zip(numbers, communes, strict=True):
                unit = Unit(
                    f"000.{num:02d}.{dnum}.H49",
                    f"UBND {kind} {cname}",
                    rng.choice(VENDORS),
                    tax_office,
                    weight=rng.uniform(0.5, 1.8),
                )
                unit.desk = [
                    roster.officer(rng, "Công chức một cửa", DESK_DEPT)
                    for _ in range(rng.randint(1, 2))
                ]
                unit.staff = [
                    roster.officer(rng, "Công chức Tư pháp - Hộ tịch", CIVIL_DEPT)
                    for _ in range(rng.randint(1, 2))
                ]
                unit.leaders = [roster.officer(rng, f"Chủ tịch UBND {kind}", unit.name)]
                self.communes.append(unit)
        self.land_weights = list(itertools.accumulate(u.weight for u in self.land_units))
        self.commune_weights = list(itertools.accumulate(u.weight for u in self.communes))

    def pick_unit(self, rng: random.Random, land: bool) -> Unit:
        """A land branch or a commune, in proportion to the units' weights."""
        units = self.land_units if land else self.communes
        cum = self.land_weights if land else self.commune_weights
        x = rng.random() * cum[-1]
        for unit, c in zip(units, cum, strict=True):
            if x < c:
                return unit
        return units[-1]
