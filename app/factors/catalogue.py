"""The built-in risk factors (contract §4): fixed keys every user's catalogue starts with."""

from typing import Literal

Category = Literal["medication", "footwear", "remedy", "other"]

BUILTIN_FACTORS: dict[str, tuple[str, Category]] = {
    "statin": ("Statin", "medication"),
    "diuretic": ("Diuretic", "medication"),
    "birth_control_pill": ("Birth-control pill", "medication"),
    "high_heels": ("High heels", "footwear"),
    "rigid_shoes": ("Rigid shoes", "footwear"),
    "orthotics": ("Orthotics", "footwear"),
    "mineral_supplement": ("Mineral supplement", "remedy"),
    "electrolyte_drink": ("Electrolyte drink", "remedy"),
    "warm_shower": ("Warm shower", "remedy"),
    "acetaminophen": ("Acetaminophen", "remedy"),
    "stretching": ("Stretching", "remedy"),
}
