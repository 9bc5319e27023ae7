"""People of the simulated province: Vietnamese names, officers and their system logins."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

FAMILY = (
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    "Hồ", "Ngô", "Dương", "Lý", "Trương", "Lương", "Thái", "Đinh", "Mai", "Tô",
)  # fmt: skip
MIDDLE = (
    "Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hồng", "Xuân", "Thu", "Đức", "Công", "Bảo", "Kim",
    "Mỹ", "Hữu", "Quang", "Thúy", "Anh", "Gia",
)  # fmt: skip
GIVEN = (
    "An", "Bình", "Cường", "Dũng", "Hoa", "Hương", "Lan", "Linh", "Long", "Mai", "Nam", "Ngân",
    "Nhung", "Phúc", "Quý", "Sơn", "Tâm", "Thắng", "Trang", "Tuấn", "Vinh", "Vy", "Yến", "Hạnh",
    "Hùng", "Khoa", "Thảo", "Trung", "Hải", "Duy", "Quỳnh", "Tài", "Hiếu", "Nga", "Phương",
)  # fmt: skip


def person(rng: random.Random) -> str:
    """A full name (family, middle, given); applicants may share one, officers may not."""
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def ascii_fold(text: str) -> str:
    """Vietnamese to plain lower-case ASCII: `Đỗ Đức Vinh` -> `doducvinh`."""
    text = text.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()


@dataclass(frozen=True, slots=True)
class Officer:
    name: str
    title: str  # ChucDanh
    dept: str  # PhongBanXuLy / PhongBanNhan
    login: str  # the land system's officer code, cb.<folded name>


class Roster:
    """Mints the province's officers: each name once, each login once (a trace names one person)."""

    def __init__(self) -> None:
        self._names: set[str] = set()
        self._logins: set[str] = set()

    def officer(self, rng: random.Random, title: str, dept: str) -> Officer:
        name = person(rng)
        while name in self._names:
            name = person(rng)
        self._names.add(name)
        login = "cb." + ascii_fold(name)
        base, n = login, 2
        while login in self._logins:
            login, n = f"{base}{n}", n + 1
        self._logins.add(login)
        return Officer(name, title, dept, login)
